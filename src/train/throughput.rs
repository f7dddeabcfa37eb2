//! Training throughput: seconds per RecCNN step with burn's generic backward and with the
//! project's fast layers (`cnncodec bench-train`).

use std::time::Instant;

use crate::eval::bench::reccnn_flops;
use crate::net::architecture::RecCnnConfig;

/// Seconds per RecCNN training step (forward, backward, Adam) of a `batch` of
/// `patch` x `patch` patches, with burn's generic convolution backward and with
/// [`crate::train::fastconv`]'s, after one warm-up step each; as a table with GFLOP/s counted as
/// three forwards.
pub fn train_step_report(
    rec: &RecCnnConfig,
    batch: usize,
    patch: usize,
    steps: usize,
    generic_too: bool,
) -> String {
    use crate::train::fastconv::FastTrainLayers;
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
    let routes: &[bool] = if generic_too { &[false, true] } else { &[true] };
    for &fast in routes {
        let mut net = rec.init::<TrainBackend>(&device);
        crate::train::use_training_epsilon(&mut net); // as the trainer does
        let mut optim = AdamConfig::new().init();
        let mut step = |net: crate::net::architecture::RecCnn<TrainBackend>| {
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
            "cnncodec (fast)"
        } else {
            "burn generic"
        };
        out += &format!("| {name} | {s:.3} | {:.1} |\n", flops / s / 1e9);
    }
    out
}
