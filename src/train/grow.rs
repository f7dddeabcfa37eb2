//! Growing a trained RecCNN into a wider and deeper one that computes the same function
//! (Net2Net, Chen et al. 2016), so a larger network starts where a smaller trained one ended
//! instead of from scratch: training time is the scarce resource on a 2-core CPU.
//!
//! - Wider: each new hidden channel copies a randomly chosen old one (its filters, bias and
//!   BatchNorm); the next layer's weights from the copies of one channel are split at random
//!   ratios that sum to 1, so the sum is unchanged and the copies still learn apart.
//! - Deeper: each new hidden layer is a 3x3 identity convolution whose BatchNorm undoes its
//!   own normalisation (`gamma = std`, `beta = mean` of the layer's input, measured on
//!   sample images); its input is a ReLU output, so the ReLU after it changes nothing.
//!
//! The grown network is the same function in inference form (tested). While training,
//! BatchNorm normalises by each batch's statistics instead, so the new layers start as
//! near-identities, as close as a batch's statistics are to the samples'.

use crate::train::TrainError;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::frame::image::Plane;
use crate::net::architecture::RecCnnConfig;
use crate::net::backend::CpuBackend;
use crate::net::weights::{StoredTensor, TensorMap};
use crate::rng::Rng;

/// Smallest variance given to a new layer's BatchNorm (a channel that is always 0 has none).
const MIN_VAR: f32 = 1e-4;

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> StoredTensor {
    StoredTensor { shape, data }
}

/// `rec` (architecture `from`) widened to `features` hidden channels.
fn widen(rec: &TensorMap, from: &RecCnnConfig, features: usize, rng: &mut Rng) -> TensorMap {
    let (f, d, c) = (from.features, from.depth, from.channels);
    // For each layer's output: which old channel every new channel copies.
    let sources: Vec<Vec<usize>> = (1..d)
        .map(|_| {
            (0..features)
                .map(|j| if j < f { j } else { rng.below(f) })
                .collect()
        })
        .collect();
    // How the next layer shares each old channel's weight among its copies.
    let shares: Vec<Vec<f32>> = sources
        .iter()
        .map(|src| {
            let raw: Vec<f32> = src
                .iter()
                .map(|_| 0.5 + (rng.next_u64() % 1000) as f32 / 1000.0)
                .collect();
            let mut total = vec![0f32; f];
            for (j, &s) in src.iter().enumerate() {
                total[s] += raw[j];
            }
            src.iter()
                .enumerate()
                .map(|(j, &s)| raw[j] / total[s])
                .collect()
        })
        .collect();
    let mut out = TensorMap::new();
    for n in 1..=d {
        let w = &rec[&format!("conv{n}.weight")];
        let cin_old = w.shape[1];
        let cin = if n == 1 { c } else { features };
        let cout = if n == d { c } else { features };
        let out_src = |o: usize| if n == d { o } else { sources[n - 1][o] };
        let mut data = Vec::with_capacity(cout * cin * 9);
        for o in 0..cout {
            let so = out_src(o);
            for i in 0..cin {
                let (si, share) = if n == 1 {
                    (i, 1.0)
                } else {
                    (sources[n - 2][i], shares[n - 2][i])
                };
                let base = (so * cin_old + si) * 9;
                data.extend(w.data[base..base + 9].iter().map(|v| v * share));
            }
        }
        out.insert(
            format!("conv{n}.weight"),
            tensor(vec![cout, cin, 3, 3], data),
        );
        let b = &rec[&format!("conv{n}.bias")];
        out.insert(
            format!("conv{n}.bias"),
            tensor(vec![cout], (0..cout).map(|o| b.data[out_src(o)]).collect()),
        );
        if n > 1 && n < d && from.batch_norm {
            for p in ["gamma", "beta", "running_mean", "running_var"] {
                let t = &rec[&format!("bn{n}.{p}")];
                out.insert(
                    format!("bn{n}.{p}"),
                    tensor(vec![cout], (0..cout).map(|o| t.data[out_src(o)]).collect()),
                );
            }
        }
    }
    out
}

/// Per-channel mean and variance of each layer's output (after its ReLU), layers 1..depth-1,
/// over `samples` (unit-range luma planes).
fn activation_stats(
    rec: &TensorMap,
    cfg: &RecCnnConfig,
    samples: &[Plane],
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let device = Default::default();
    let net = crate::net::weights::build_reccnn::<CpuBackend>(rec, cfg, &device);
    let f = cfg.features;
    let mut sums = vec![(vec![0f64; f], vec![0f64; f]); cfg.depth - 1];
    let mut count = 0f64;
    for p in samples {
        let x = Tensor::<CpuBackend, 4>::from_data(
            TensorData::new(p.data.clone(), [1, 1, p.height, p.width]),
            &device,
        );
        let mut outputs = vec![relu(net.first.forward(x))];
        for layer in &net.hidden {
            let mut h = layer.conv.forward(outputs.last().unwrap().clone());
            if let Some(bn) = &layer.bn {
                h = bn.forward(h);
            }
            outputs.push(relu(h));
        }
        let hw = p.width * p.height;
        count += hw as f64;
        for (k, o) in outputs.into_iter().enumerate() {
            let v = o.into_data().into_vec::<f32>().expect("f32");
            for (ch, plane) in v.chunks_exact(hw).enumerate() {
                sums[k].0[ch] += plane.iter().map(|&a| a as f64).sum::<f64>();
                sums[k].1[ch] += plane.iter().map(|&a| (a as f64).powi(2)).sum::<f64>();
            }
        }
    }
    sums.into_iter()
        .map(|(s, q)| {
            let mean: Vec<f64> = s.iter().map(|v| v / count).collect();
            let var = q
                .iter()
                .zip(&mean)
                .map(|(v, m)| (v / count - m * m).max(0.0))
                .collect();
            (mean, var)
        })
        .collect()
}

/// `rec` (architecture `from`, with BatchNorm) grown to `to` (at least as wide and deep)
/// computing the same function; the new layers' BatchNorm statistics come from `samples`.
pub fn grow_reccnn(
    rec: &TensorMap,
    from: &RecCnnConfig,
    to: &RecCnnConfig,
    samples: &[Plane],
    seed: u64,
) -> Result<TensorMap, TrainError> {
    if to.features < from.features || to.depth < from.depth || to.channels != from.channels {
        return Err(TrainError::Invalid(format!(
            "cannot grow a RecCNN of {} features x {} layers into {} x {}: only wider and deeper",
            from.features, from.depth, to.features, to.depth
        )));
    }
    if !from.batch_norm || !to.batch_norm {
        return Err(TrainError::Invalid(
            "growing needs RecCNNs with BatchNorm".into(),
        ));
    }
    if samples.is_empty() {
        return Err(TrainError::Invalid(
            "growing needs sample images for the new layers' statistics".into(),
        ));
    }
    let mut rng = Rng(seed ^ 0x6772_6f77);
    let wide = widen(rec, from, to.features, &mut rng);
    let wide_cfg = from.clone().with_features(to.features);
    let stats = activation_stats(&wide, &wide_cfg, samples);
    // Where the new layers go: after layer `k` (1 = the first convolution), spread evenly.
    let old_positions = from.depth - 1; // outputs of layers 1..depth-1
    let new_layers = to.depth - from.depth;
    let after: Vec<usize> = (0..new_layers)
        .map(|i| 1 + i * old_positions / new_layers)
        .collect();
    let (f, d) = (to.features, from.depth);
    let mut out = TensorMap::new();
    let mut next = 1; // index of the next layer in the grown network
    let copy_layer = |out: &mut TensorMap, old: usize, new: usize| {
        for (k, t) in &wide {
            let (prefix, rest) = k.split_once('.').unwrap();
            let num: usize = prefix
                .trim_start_matches(|ch: char| ch.is_alphabetic())
                .parse()
                .unwrap();
            if num == old {
                let kind = prefix.trim_end_matches(|ch: char| ch.is_ascii_digit());
                out.insert(format!("{kind}{new}.{rest}"), t.clone());
            }
        }
    };
    for old in 1..=d {
        copy_layer(&mut out, old, next);
        next += 1;
        for _ in after.iter().filter(|&&a| a == old) {
            let (mean, var) = &stats[old - 1];
            let mut w = vec![0f32; f * f * 9];
            for i in 0..f {
                w[(i * f + i) * 9 + 4] = 1.0;
            }
            let var: Vec<f32> = var.iter().map(|&v| (v as f32).max(MIN_VAR)).collect();
            let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
            out.insert(format!("conv{next}.weight"), tensor(vec![f, f, 3, 3], w));
            out.insert(format!("conv{next}.bias"), tensor(vec![f], vec![0.0; f]));
            out.insert(
                format!("bn{next}.gamma"),
                tensor(vec![f], var.iter().map(|v| v.sqrt()).collect()),
            );
            out.insert(format!("bn{next}.beta"), tensor(vec![f], mean.clone()));
            out.insert(format!("bn{next}.running_mean"), tensor(vec![f], mean));
            out.insert(format!("bn{next}.running_var"), tensor(vec![f], var));
            next += 1;
        }
    }
    debug_assert_eq!(next - 1, to.depth);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::weights::{expected_reccnn, ModelWeights};

    fn sample(w: usize, h: usize, seed: usize) -> Plane {
        Plane::new(
            w,
            h,
            (0..w * h)
                .map(|i| (((i + seed) * 37 % 251) as f32 / 251.0 + (i % w) as f32 / w as f32) / 2.0)
                .collect(),
        )
    }

    fn residual(map: &TensorMap, cfg: &RecCnnConfig, p: &Plane) -> Vec<f32> {
        let device = Default::default();
        let net = crate::net::weights::build_reccnn::<CpuBackend>(map, cfg, &device);
        let x = Tensor::<CpuBackend, 4>::from_data(
            TensorData::new(p.data.clone(), [1, 1, p.height, p.width]),
            &device,
        );
        net.forward(x).into_data().into_vec().unwrap()
    }

    #[test]
    fn a_grown_reccnn_computes_what_the_small_one_did() {
        let small = RecCnnConfig::new().with_features(6).with_depth(4);
        let mut w = ModelWeights::random(
            "small",
            crate::net::architecture::ComCnnConfig::new().with_features(2),
            small.clone(),
            3,
        );
        // Non-trivial BatchNorm statistics, as a trained model has.
        for (k, t) in w.reccnn.iter_mut() {
            if k.ends_with("running_var") {
                t.data
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.5 + i as f32 * 0.1);
            } else if k.ends_with("running_mean") || k.ends_with("beta") {
                t.data
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.05 * i as f32 - 0.1);
            }
        }
        let big = RecCnnConfig::new().with_features(11).with_depth(9);
        let samples = vec![sample(24, 20, 1), sample(17, 13, 2)];
        let grown = grow_reccnn(&w.reccnn, &small, &big, &samples, 7).unwrap();
        let keys: Vec<_> = grown
            .iter()
            .map(|(k, t)| (k.clone(), t.shape.clone()))
            .collect();
        let mut expected = expected_reccnn(&big);
        expected.sort();
        assert_eq!(keys, expected);
        for p in [sample(30, 22, 5), samples[0].clone()] {
            let (a, b) = (residual(&w.reccnn, &small, &p), residual(&grown, &big, &p));
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(scale > 1e-3, "a residual to compare ({scale})");
            assert!(
                worst <= 1e-5 * scale,
                "grown differs by {worst} (scale {scale})"
            );
        }
        // Layers 2 and 3 of the grown net are new identities (the layers go after old layers
        // 1, 1, 2, 2, 3), so grown conv4 is old conv2 with its input widened. Which old
        // channel each new one copies shows in conv1 (copied filters, whole).
        let (f_small, f_big) = (small.features, big.features);
        let filter =
            |map: &TensorMap, key: &str, o: usize| map[key].data[o * 9..o * 9 + 9].to_vec();
        let source: Vec<usize> = (0..f_big)
            .map(|j| {
                (0..f_small)
                    .find(|&s| {
                        filter(&grown, "conv1.weight", j) == filter(&w.reccnn, "conv1.weight", s)
                    })
                    .expect("every new channel copies an old one")
            })
            .collect();
        assert!(source.len() > f_small && (0..f_small).all(|j| source[j] == j));
        let (old_w, new_w) = (&w.reccnn["conv2.weight"].data, &grown["conv4.weight"].data);
        let mut unequal_shares = false;
        for o in 0..f_small {
            for s in 0..f_small {
                let copies: Vec<usize> = (0..f_big).filter(|&i| source[i] == s).collect();
                for t in 0..9 {
                    let sum: f32 = copies.iter().map(|&i| new_w[(o * f_big + i) * 9 + t]).sum();
                    let old = old_w[(o * f_small + s) * 9 + t];
                    assert!(
                        (sum - old).abs() <= 1e-6 * old.abs().max(1.0),
                        "shares of channel {s} add up"
                    );
                }
                let first_tap = |i: usize| new_w[(o * f_big + i) * 9];
                unequal_shares |= copies
                    .windows(2)
                    .any(|p| (first_tap(p[0]) - first_tap(p[1])).abs() > 1e-6);
            }
        }
        assert!(
            unequal_shares,
            "copies carry different shares, so they learn apart"
        );
        assert!(
            grow_reccnn(&grown, &big, &big, &[], 7).is_err(),
            "no samples, no statistics"
        );
        assert!(grow_reccnn(&w.reccnn, &big, &small, &samples, 7).is_err());
    }
}
