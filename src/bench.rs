//! Forward-pass benchmark of both networks: ms per frame and achieved GFLOP/s. Used by
//! `cargo bench` and the CLI's `bench` command; never by tests.

use std::time::Instant;

use crate::engine::Engine;
use crate::image::Plane;
use crate::model::{ComCnnConfig, RecCnnConfig};

/// FLOPs (2 per multiply-add) of one 3x3 convolution layer producing `pixels` outputs.
fn conv_flops(cin: usize, cout: usize, pixels: usize) -> f64 {
    2.0 * 9.0 * (cin * cout) as f64 * pixels as f64
}

/// ComCNN FLOPs for a `w` x `h` input.
pub fn comcnn_flops(cfg: &ComCnnConfig, w: usize, h: usize) -> f64 {
    let full = w * h;
    let half = w.div_ceil(2) * h.div_ceil(2);
    conv_flops(cfg.channels, cfg.features, full)
        + conv_flops(cfg.features, cfg.features, half)
        + conv_flops(cfg.features, cfg.channels, half)
}

/// RecCNN FLOPs for a `w` x `h` frame (about 1.33 MFLOP per pixel for the paper's net).
pub fn reccnn_flops(cfg: &RecCnnConfig, w: usize, h: usize) -> f64 {
    let px = w * h;
    conv_flops(cfg.channels, cfg.features, px)
        + (cfg.depth - 2) as f64 * conv_flops(cfg.features, cfg.features, px)
        + conv_flops(cfg.features, cfg.channels, px)
}

/// One benchmark line.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub network: &'static str,
    pub width: usize,
    pub height: usize,
    pub ms_per_frame: f64,
    pub gflop_per_frame: f64,
    pub gflops: f64,
}

impl BenchResult {
    pub fn row(&self) -> String {
        format!(
            "| {} | {}x{} | {:.1} | {:.2} | {:.1} | {:.1} |",
            self.network,
            self.width,
            self.height,
            self.ms_per_frame,
            1000.0 / self.ms_per_frame,
            self.gflop_per_frame,
            self.gflops
        )
    }
}

pub const TABLE_HEADER: &str = "| network | frame | ms/frame | frames/s | GFLOP/frame | GFLOP/s |\n| --- | --- | --- | --- | --- | --- |";

/// Times `frames` forwards of each network (after one warm-up) at `w` x `h`.
pub fn bench_size(
    engine: &dyn Engine,
    com: &ComCnnConfig,
    rec: &RecCnnConfig,
    w: usize,
    h: usize,
    frames: usize,
) -> [BenchResult; 3] {
    let input = Plane::new(
        w,
        h,
        (0..w * h)
            .map(|i| ((i * 31) % 255) as f32 / 255.0)
            .collect(),
    );
    let time = |f: &dyn Fn()| {
        f(); // warm-up: allocation, caches
        let t = Instant::now();
        for _ in 0..frames {
            f();
        }
        t.elapsed().as_secs_f64() * 1000.0 / frames as f64
    };
    let com_ms = time(&|| {
        std::hint::black_box(engine.compact(&input));
    });
    let rec_ms = time(&|| {
        std::hint::black_box(engine.residual(&input));
    });
    // The whole decode step as reccnndec runs it: bicubic x2 of an 8-bit compact frame, then
    // RecCNN, then rounding.
    let compact = crate::image::GrayImage::new(
        w.div_ceil(2),
        h.div_ceil(2),
        (0..w.div_ceil(2) * h.div_ceil(2))
            .map(|i| ((i * 31) % 255) as u8)
            .collect(),
    );
    let decode_ms = time(&|| {
        std::hint::black_box(crate::pipeline::restore_luma(engine, &compact, w, h));
    });
    let mk = |network, ms: f64, flops: f64| BenchResult {
        network,
        width: w,
        height: h,
        ms_per_frame: ms,
        gflop_per_frame: flops / 1e9,
        gflops: flops / 1e9 / (ms / 1000.0),
    };
    [
        mk("ComCNN", com_ms, comcnn_flops(com, w, h)),
        mk("RecCNN", rec_ms, reccnn_flops(rec, w, h)),
        mk(
            "decode (bicubic + RecCNN)",
            decode_ms,
            reccnn_flops(rec, w, h),
        ),
    ]
}

/// The benchmark table for the paper-size networks (random weights: speed does not depend on
/// the values) on `engine_for`'s backend, one header line first.
pub fn report(
    frames: usize,
    sizes: &[(usize, usize)],
    backend: crate::BackendKind,
) -> Result<String, String> {
    let (com, rec) = (ComCnnConfig::new(), RecCnnConfig::new());
    let weights = crate::ModelWeights::random("paper-size networks", com, rec, 1);
    report_for(&weights, frames, sizes, backend, crate::Precision::Fp32)
}

/// [`report`] for the architecture of `weights` (a built-in or trained model).
pub fn report_for(
    weights: &crate::ModelWeights,
    frames: usize,
    sizes: &[(usize, usize)],
    backend: crate::BackendKind,
    precision: crate::Precision,
) -> Result<String, String> {
    let (com, rec) = (weights.meta.comcnn.clone(), weights.meta.reccnn.clone());
    let engine = crate::load_engine_with(weights, backend, 0, precision)?;
    let mut out = format!(
        "{} backend ({precision}), {} cores, {} (RecCNN {} features x {} layers), {frames} frames each after a warm-up\n\n{TABLE_HEADER}\n",
        engine.describe(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        weights.meta.name,
        rec.features,
        rec.depth
    );
    for &(w, h) in sizes {
        for r in bench_size(engine.as_ref(), &com, &rec, w, h, frames) {
            out += &r.row();
            out.push('\n');
        }
    }
    Ok(out)
}

/// Seconds per RecCNN training step (forward, backward, Adam) of a `batch` of
/// `patch` x `patch` patches, with burn's generic convolution backward and with
/// [`crate::fastconv`]'s, after one warm-up step each; as a table with GFLOP/s counted as
/// three forwards.
pub fn train_step_report(rec: &RecCnnConfig, batch: usize, patch: usize, steps: usize) -> String {
    use crate::fastconv::FastTrainLayers;
    use crate::train::TrainBackend;
    use burn::module::AutodiffModule;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use burn::prelude::*;

    let device = Default::default();
    let input = Tensor::<TrainBackend, 4>::from_data(
        TensorData::new(
            (0..batch * patch * patch)
                .map(|i| ((i * 31) % 255) as f32 / 255.0)
                .collect::<Vec<f32>>(),
            [batch, 1, patch, patch],
        ),
        &device,
    );
    let flops = 3.0 * reccnn_flops(rec, patch, patch) * batch as f64;
    let mut out = format!(
        "RecCNN {} features x {} layers, batch {batch} of {patch}x{patch}, {steps} steps each after a warm-up, {} cores\n\n| backward | s/step | GFLOP/s (3 forwards) |\n| --- | --- | --- |\n",
        rec.features,
        rec.depth,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    for fast in [false, true] {
        let mut net = rec.init::<TrainBackend>(&device);
        crate::train::use_training_epsilon(&mut net); // as the trainer does
        let mut optim = AdamConfig::new().init();
        let mut step = |net: crate::model::RecCnn<TrainBackend>| {
            let residual = if fast {
                net.forward_with(input.clone(), &FastTrainLayers)
            } else {
                net.forward(input.clone())
            };
            let loss = (residual.clone() * residual).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            optim.step(1e-4, net, grads)
        };
        net = step(net); // warm-up: allocation, caches
        let t = Instant::now();
        for _ in 0..steps {
            net = step(net);
        }
        let s = t.elapsed().as_secs_f64() / steps.max(1) as f64;
        std::hint::black_box(net.valid());
        let name = if fast {
            "cnncodec (im2col)"
        } else {
            "burn generic"
        };
        out += &format!("| {name} | {s:.3} | {:.1} |\n", flops / s / 1e9);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reccnn_costs_1_33_mflop_per_pixel() {
        let per_px = reccnn_flops(&RecCnnConfig::new(), 1, 1) / 1e6;
        assert!((per_px - 1.329408).abs() < 1e-9, "{per_px}");
    }
}
