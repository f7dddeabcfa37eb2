//! BatchNorm statistics of a trained RecCNN measured afresh: the average, over many batches of
//! training patches, of the statistics training normalises each batch with, computed with the
//! final weights ("precise BatchNorm", Wu & Johnson 2021), in place of the exponential average
//! that training keeps while the weights move. `cnncodec recalibrate` runs it, optionally on
//! training images at another scale, to see how much a model's statistics (a part of it that
//! comes from the data alone) change its results.
//!
//! What it showed (docs/experiments.md, "Where the gap to the released model lies"): for jpeg-q50-paper it
//! changes nothing measurable (its running averages are already this), while the released
//! RecCNN, whose statistics came from the authors' data, loses 0.6 dB on the paper's images
//! with statistics of our training images at their stored scale and gets 0.37 dB of it back with
//! statistics of the same images at half size.

use crate::train::TrainError;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::frame::image::Plane;
use crate::net::architecture::{RecCnn, RecCnnConfig};
use crate::net::backend::CpuBackend;
use crate::net::weights::{build_reccnn, content_hash, TensorMap};
use crate::train::{Rng, TRAIN_BN_EPSILON};
use crate::ModelWeights;

/// A batch of equally sized patches, `[n, 1, h, w]` row-major.
pub struct PatchBatch {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl PatchBatch {
    fn tensor(&self, device: &burn::tensor::Device<CpuBackend>) -> Tensor<CpuBackend, 4> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), [self.n, 1, self.h, self.w]),
            device,
        )
    }
}

/// `count` batches of `batch` random `patch` x `patch` windows, drawn as training draws them
/// (a random input, a random position).
pub fn sample_batches(
    inputs: &[&Plane],
    patch: usize,
    batch: usize,
    count: usize,
    seed: u64,
) -> Vec<PatchBatch> {
    let mut rng = Rng(seed ^ 0x626e_7374);
    let usable: Vec<&&Plane> = inputs
        .iter()
        .filter(|p| p.width >= patch && p.height >= patch)
        .collect();
    (0..count)
        .map(|_| {
            let mut data = Vec::with_capacity(batch * patch * patch);
            for _ in 0..batch {
                let p = usable[rng.below(usable.len())];
                let (x0, y0) = (
                    rng.below(p.width - patch + 1),
                    rng.below(p.height - patch + 1),
                );
                for y in y0..y0 + patch {
                    data.extend_from_slice(&p.data[y * p.width + x0..y * p.width + x0 + patch]);
                }
            }
            PatchBatch {
                n: batch,
                h: patch,
                w: patch,
                data,
            }
        })
        .collect()
}

/// RecCNN's residual for a batch in training form: every BatchNorm normalises with the
/// batch's own statistics (variance plus `epsilon`), which `per_layer` receives (hidden layer
/// index, per-channel mean, per-channel variance).
fn training_form_residual(
    net: &RecCnn<CpuBackend>,
    rec: &TensorMap,
    features: usize,
    batch: &PatchBatch,
    epsilon: f64,
    mut per_layer: impl FnMut(usize, &[f64], &[f64]),
) -> Tensor<CpuBackend, 4> {
    let device = Default::default();
    let f = features;
    // [f] -> [1, f, 1, 1], to broadcast over a batch of feature maps.
    let per_channel = |v: Vec<f32>| {
        Tensor::<CpuBackend, 1>::from_data(TensorData::new(v, [f]), &device).reshape([1, f, 1, 1])
    };
    // [n, 1, h, w] -> [n, f, h, w]
    let mut a = relu(net.first.forward(batch.tensor(&device)));
    for (i, layer) in net.hidden.iter().enumerate() {
        let y = layer.conv.forward(a);
        let v = y
            .clone()
            .into_data()
            .into_vec::<f32>()
            .expect("f32 activations");
        let hw = batch.h * batch.w;
        let (mut s, mut q) = (vec![0f64; f], vec![0f64; f]);
        for (k, plane) in v.chunks_exact(hw).enumerate() {
            let c = k % f;
            for &a in plane {
                s[c] += a as f64;
                q[c] += (a as f64) * (a as f64);
            }
        }
        let count = (batch.n * hw) as f64;
        let mean: Vec<f64> = s.iter().map(|s| s / count).collect();
        let var: Vec<f64> = q
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / count - m * m).max(0.0))
            .collect();
        let n = i + 2;
        let gamma = &rec[&format!("bn{n}.gamma")].data;
        let beta = &rec[&format!("bn{n}.beta")].data;
        let scale: Vec<f32> = (0..f)
            .map(|c| (gamma[c] as f64 / (var[c] + epsilon).sqrt()) as f32)
            .collect();
        let shift: Vec<f32> = (0..f)
            .map(|c| (beta[c] as f64 - mean[c] * scale[c] as f64) as f32)
            .collect();
        a = relu(y * per_channel(scale) + per_channel(shift));
        per_layer(i, &mean, &var);
    }
    // -> [n, 1, h, w]
    net.last.forward(a)
}

/// `rec` with every BatchNorm's running mean and variance replaced by the average over
/// `batches` of the batch statistics training normalises with: each batch goes through the
/// network in training form (every layer normalised by that batch's own statistics), with the
/// final weights, instead of the exponential average taken while the weights moved.
pub fn batch_statistics(
    rec: &TensorMap,
    cfg: &RecCnnConfig,
    batches: &[PatchBatch],
    epsilon: f64,
) -> Result<TensorMap, TrainError> {
    if !cfg.batch_norm {
        return Err(TrainError::Invalid(
            "this RecCNN has no BatchNorm: there are no statistics to measure".into(),
        ));
    }
    if batches.is_empty() {
        return Err(TrainError::Invalid(
            "no batches to measure BatchNorm statistics on".into(),
        ));
    }
    let net = build_reccnn::<CpuBackend>(rec, cfg, &Default::default());
    let f = cfg.features;
    let layers = net.hidden.len();
    let (mut mean_sum, mut var_sum) = (vec![vec![0f64; f]; layers], vec![vec![0f64; f]; layers]);
    for b in batches {
        training_form_residual(&net, rec, f, b, epsilon, |i, mean: &[f64], var: &[f64]| {
            for c in 0..f {
                mean_sum[i][c] += mean[c];
                var_sum[i][c] += var[c];
            }
        });
    }
    let count = batches.len() as f64;
    let mut out = rec.clone();
    for i in 0..layers {
        let n = i + 2;
        let (km, kv) = (format!("bn{n}.running_mean"), format!("bn{n}.running_var"));
        let mut m = rec[&km].clone();
        m.data = mean_sum[i].iter().map(|s| (s / count) as f32).collect();
        let mut v = rec[&kv].clone();
        v.data = var_sum[i]
            .iter()
            .map(|s| (s / count + epsilon) as f32)
            .collect();
        out.insert(km, m);
        out.insert(kv, v);
    }
    Ok(out)
}

/// Mean loss of a RecCNN over the same batches in both of its forms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FormLosses {
    /// With the stored statistics, as the elements run it (on patches, not whole images).
    pub inference: f64,
    /// Each batch normalised by its own statistics, as training sees it.
    pub training: f64,
}

/// The training loss (MSE of the predicted residual against `inputs - originals`) of
/// `weights`' RecCNN over `inputs` and the matching windows of the original images, in
/// inference and in training form: whether what training lowers carries over to inference.
pub fn form_losses(
    weights: &ModelWeights,
    inputs: &[PatchBatch],
    originals: &[PatchBatch],
) -> Result<FormLosses, TrainError> {
    let cfg = &weights.meta.reccnn;
    if !cfg.batch_norm {
        return Err(TrainError::Invalid(
            "this RecCNN has no BatchNorm: both forms are the same".into(),
        ));
    }
    if inputs.is_empty() || inputs.len() != originals.len() {
        return Err(TrainError::Invalid(
            "form_losses needs as many batches of originals as of inputs".into(),
        ));
    }
    let device = Default::default();
    let net = build_reccnn::<CpuBackend>(&weights.reccnn, cfg, &device);
    let mse = |residual: Tensor<CpuBackend, 4>, target: &Tensor<CpuBackend, 4>| {
        let d = residual - target.clone();
        (d.clone() * d).mean().into_scalar().elem::<f64>()
    };
    let mut sums = FormLosses {
        inference: 0.0,
        training: 0.0,
    };
    for (x, o) in inputs.iter().zip(originals) {
        if (x.n, x.h, x.w) != (o.n, o.h, o.w) {
            return Err(TrainError::Invalid(
                "an input batch and its originals differ in shape".into(),
            ));
        }
        let target = PatchBatch {
            data: x.data.iter().zip(&o.data).map(|(u, o)| u - o).collect(),
            ..*x
        }
        .tensor(&device);
        sums.inference += mse(net.forward(x.tensor(&device)), &target);
        let residual = training_form_residual(
            &net,
            &weights.reccnn,
            cfg.features,
            x,
            TRAIN_BN_EPSILON,
            |_, _: &[f64], _: &[f64]| {},
        );
        sums.training += mse(residual, &target);
    }
    let n = inputs.len() as f64;
    Ok(FormLosses {
        inference: sums.inference / n,
        training: sums.training / n,
    })
}

/// `weights` with its RecCNN's BatchNorm statistics measured on `count` batches of `batch`
/// patches of `patch` pixels drawn from `inputs` (RecCNN inputs, see
/// [`crate::train::reccnn_inputs`]).
pub fn with_batch_statistics(
    weights: &ModelWeights,
    inputs: &[&Plane],
    (patch, batch, count): (usize, usize, usize),
    seed: u64,
) -> Result<ModelWeights, TrainError> {
    if inputs.iter().all(|p| p.width < patch || p.height < patch) {
        return Err(TrainError::Invalid(format!(
            "no input is at least {patch}x{patch}"
        )));
    }
    let batches = sample_batches(inputs, patch, batch, count, seed);
    let mut out = weights.clone();
    out.reccnn = batch_statistics(
        &weights.reccnn,
        &weights.meta.reccnn,
        &batches,
        TRAIN_BN_EPSILON,
    )?;
    out.meta.content_hash = content_hash(&out.comcnn, &out.reccnn);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::architecture::ComCnnConfig;
    use crate::train::{use_training_epsilon, TrainBackend};

    fn plane(w: usize, h: usize, seed: u64) -> Plane {
        let mut rng = Rng(seed);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                0.5 + 0.3 * (x * 0.21 + y * 0.13).sin() + 0.1 * (rng.below(100) as f32 / 100.0)
            })
            .collect();
        Plane::new(w, h, data)
    }

    #[test]
    fn statistics_are_the_average_of_the_batch_statistics_burn_trains_with() {
        let cfg = RecCnnConfig::new().with_features(5).with_depth(6);
        let w = ModelWeights::random("t", ComCnnConfig::new().with_features(2), cfg.clone(), 3);
        let inputs = [plane(40, 33, 1), plane(17, 12, 2)];
        let refs: Vec<&Plane> = inputs.iter().collect();
        let batches = sample_batches(&refs, 8, 3, 4, 7);
        let eps = crate::train::TRAIN_BN_EPSILON;
        let got = batch_statistics(&w.reccnn, &cfg, &batches, eps).unwrap();
        // Reference: burn's own training-form BatchNorm, one batch at a time; with momentum 1
        // its running statistics after a forward pass are that batch's statistics.
        let device = Default::default();
        let layers = cfg.depth - 2;
        let mut want = vec![(vec![0f64; cfg.features], vec![0f64; cfg.features]); layers];
        for b in &batches {
            let mut rec = build_reccnn::<TrainBackend>(&w.reccnn, &cfg, &device);
            use_training_epsilon(&mut rec);
            for l in &mut rec.hidden {
                l.bn.as_mut().unwrap().momentum = 1.0;
            }
            let x = Tensor::<TrainBackend, 4>::from_data(
                TensorData::new(b.data.clone(), [b.n, 1, b.h, b.w]),
                &device,
            );
            let _ = rec.forward(x);
            for (i, l) in rec.hidden.iter().enumerate() {
                let bn = l.bn.as_ref().unwrap();
                let m = bn
                    .running_mean
                    .value_sync()
                    .into_data()
                    .into_vec::<f32>()
                    .unwrap();
                let v = bn
                    .running_var
                    .value_sync()
                    .into_data()
                    .into_vec::<f32>()
                    .unwrap();
                for c in 0..cfg.features {
                    want[i].0[c] += m[c] as f64 / batches.len() as f64;
                    want[i].1[c] += v[c] as f64 / batches.len() as f64;
                }
            }
        }
        for (i, (mean, var)) in want.iter().enumerate() {
            let n = i + 2;
            let gm = &got[&format!("bn{n}.running_mean")].data;
            let gv = &got[&format!("bn{n}.running_var")].data;
            for c in 0..cfg.features {
                assert!(
                    (gm[c] as f64 - mean[c]).abs() < 1e-4 * (1.0 + mean[c].abs()),
                    "layer {n} channel {c}: mean {} vs {}",
                    gm[c],
                    mean[c]
                );
                let v = var[c] + eps;
                assert!(
                    (gv[c] as f64 - v).abs() < 1e-3 * v + 1e-7,
                    "layer {n} channel {c}: variance {} vs {v}",
                    gv[c]
                );
            }
        }
        // Everything but the statistics is kept.
        for (k, t) in &w.reccnn {
            if !k.contains("running_") {
                assert_eq!(t.data, got[k].data, "{k}");
            }
        }
    }

    #[test]
    fn the_two_forms_agree_only_with_the_batch_own_statistics() {
        let cfg = RecCnnConfig::new().with_features(4).with_depth(5);
        let mut w = ModelWeights::random("t", ComCnnConfig::new().with_features(2), cfg.clone(), 5);
        let input = plane(24, 20, 1);
        let original = Plane::new(24, 20, input.data.iter().map(|v| 0.8 * v).collect());
        let x = sample_batches(&[&input], 8, 4, 1, 3);
        let o = sample_batches(&[&original], 8, 4, 1, 3);
        // Same seed, same sizes: the same windows of both planes.
        assert!(x[0].data.iter().zip(&o[0].data).all(|(a, b)| *b == 0.8 * a));
        let before = form_losses(&w, &x, &o).unwrap();
        w.reccnn = batch_statistics(&w.reccnn, &cfg, &x, TRAIN_BN_EPSILON).unwrap();
        let after = form_losses(&w, &x, &o).unwrap();
        // The training form does not read the stored statistics.
        assert!((before.training - after.training).abs() <= 1e-6 * after.training);
        assert!(after.training > 0.0);
        // Stored statistics of this very batch: inference computes what training does.
        assert!(
            (after.inference - after.training).abs() <= 1e-3 * after.training,
            "{after:?}"
        );
        // The initial statistics (mean 0, variance 1) are not this batch's.
        assert!(
            (before.inference - before.training).abs() > 1e-2 * before.training,
            "{before:?}"
        );
    }

    #[test]
    fn batches_are_windows_of_the_inputs_large_enough() {
        let big = plane(30, 20, 4);
        let small = plane(6, 6, 5);
        let batches = sample_batches(&[&big, &small], 8, 2, 3, 9);
        assert_eq!(batches.len(), 3);
        for b in &batches {
            assert_eq!((b.n, b.h, b.w, b.data.len()), (2, 8, 8, 128));
            for patch in b.data.chunks_exact(64) {
                let found = (0..=big.height - 8).any(|y0| {
                    (0..=big.width - 8).any(|x0| {
                        (0..8).all(|r| {
                            big.data[(y0 + r) * big.width + x0..(y0 + r) * big.width + x0 + 8]
                                == patch[r * 8..r * 8 + 8]
                        })
                    })
                });
                assert!(found, "a patch that is no window of the large input");
            }
        }
    }

    #[test]
    fn a_reccnn_without_batch_norm_or_batches_is_refused() {
        let cfg = RecCnnConfig::new().with_features(3).with_depth(4);
        let w = ModelWeights::random("t", ComCnnConfig::new().with_features(2), cfg.clone(), 1);
        assert!(batch_statistics(&w.reccnn, &cfg, &[], 1e-5).is_err());
        let plain = cfg.clone().with_batch_norm(false);
        let b = sample_batches(&[&plane(9, 9, 1)], 8, 1, 1, 1);
        assert!(batch_statistics(&w.reccnn, &plain, &b, 1e-5).is_err());
        let small = plane(6, 6, 1);
        assert!(with_batch_statistics(&w, &[&small], (8, 2, 2), 1).is_err());
    }
}
