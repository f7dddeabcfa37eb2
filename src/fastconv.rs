//! Training-only layers for the CPU backend with backward passes that run through fast
//! kernels:
//! - a 3x3 convolution (stride 1, zero padding 1) whose weight gradient is one batched matrix
//!   multiply of the output gradient with the input's 3x3 neighbourhoods (im2col), and whose
//!   input gradient is a forward convolution with the flipped, transposed kernel;
//! - BatchNorm in training mode, its statistics and gradients as loops over contiguous
//!   per-channel planes.
//!
//! Why: burn 0.21 computes a convolution's weight gradient as a convolution with the batch as
//! channels and the whole output gradient as kernel, and its BatchNorm reshapes through
//! transposed views that burn-flex walks element by element; together about 4x slower per
//! training step here (`cnncodec bench-train` measures both). The convolution's forward is
//! burn-flex's own; BatchNorm's forward computes its statistics in f64, so values and gradients
//! agree with burn's to rounding, not bit for bit.

use burn::backend::Autodiff;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::TensorPrimitive;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::NodeId;

use crate::engine::CpuBackend as Inner;
use crate::model::LayerOps;

type Outer = Autodiff<Inner>;

fn same_padding() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], 1)
}

fn wrap<const D: usize>(
    p: <Inner as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive,
) -> Tensor<Inner, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// The 3x3 neighbourhoods of `x` [n, c, h, w] as [n, 9c, h*w]: row `ci*9 + ky*3 + kx` holds
/// x[ci] shifted by (ky-1, kx-1) with zeros outside, so that `weight.reshape([co, 9c])`
/// multiplies it.
pub fn im2col_3x3(x: &[f32], n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let hw = h * w;
    let mut cols = vec![0.0f32; n * 9 * c * hw];
    for (plane_in, rows) in x.chunks_exact(hw).zip(cols.chunks_exact_mut(9 * hw)) {
        for (k, row) in rows.chunks_exact_mut(hw).enumerate() {
            let (dy, dx) = (k / 3, k % 3); // source offset + 1
            let xs = dx.saturating_sub(1)..(w + dx).min(w + 1) - 1; // source columns
            let x0 = (1usize).saturating_sub(dx); // first destination column
            for y in 0..h {
                let sy = y + dy;
                if sy == 0 || sy > h {
                    continue; // a row of zero padding
                }
                let src = &plane_in[(sy - 1) * w..sy * w];
                let dst = &mut row[y * w + x0..y * w + x0 + xs.len()];
                dst.copy_from_slice(&src[xs.clone()]);
            }
        }
    }
    cols
}

#[derive(Debug)]
struct Conv3x3Backward;

impl Backward<Inner, 3> for Conv3x3Backward {
    /// The input's and the weight's node, to fetch their values.
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad: Tensor<Inner, 4> = wrap(grads.consume::<Inner>(&ops.node));
        let (x_state, weight_state) = ops.state;
        let weight: Tensor<Inner, 4> = wrap(checkpointer.retrieve_node_output(weight_state));
        let [co, c, _, _] = weight.dims();
        let [n, _, h, w] = grad.dims();

        if let Some(node) = node_bias {
            // [n, co, h, w] -> [co], one pass over contiguous planes (burn's sum over dims
            // 0, 2, 3 walks strided views)
            let mut gb = vec![0f64; co];
            for (i, plane) in values(grad.clone()).chunks_exact(h * w).enumerate() {
                gb[i % co] += plane.iter().map(|&v| v as f64).sum::<f64>();
            }
            let gb: Vec<f32> = gb.into_iter().map(|v| v as f32).collect();
            let gb = Tensor::<Inner, 1>::from_data(TensorData::new(gb, [co]), &grad.device());
            grads.register::<Inner>(node.id, gb.into_primitive().tensor());
        }
        if let Some(node) = node_weight {
            let x: Tensor<Inner, 4> = wrap(checkpointer.retrieve_node_output(x_state));
            let data = x.into_data();
            let xs = data.as_slice::<f32>().expect("training runs in f32");
            let cols = im2col_3x3(xs, n, c, h, w);
            let device = grad.device();
            // [n, 9c, hw]
            let cols =
                Tensor::<Inner, 3>::from_data(TensorData::new(cols, [n, 9 * c, h * w]), &device);
            // [n, co, hw] x [n, hw, 9c] -> [n, co, 9c] -> [co, c, 3, 3]
            let gw = grad
                .clone()
                .reshape([n, co, h * w])
                .matmul(cols.swap_dims(1, 2))
                .sum_dim(0)
                .reshape([co, c, 3, 3]);
            grads.register::<Inner>(node.id, gw.into_primitive().tensor());
        }
        if let Some(node) = node_x {
            // The adjoint of a same-padded 3x3 convolution: the kernel flipped in space, with
            // its input and output channels exchanged. [n, co, h, w] -> [n, c, h, w]
            let adjoint = weight.swap_dims(0, 1).flip([2, 3]);
            let gx = conv2d(grad, adjoint, None, same_padding());
            grads.register::<Inner>(node.id, gx.into_primitive().tensor());
        }
    }
}

/// `conv2d(x, weight, bias)` with 3x3 kernels, stride 1 and zero padding 1, for training.
/// x: [n, c, h, w], weight: [co, c, 3, 3], bias: [co] -> [n, co, h, w].
pub fn conv3x3_same(
    x: Tensor<Outer, 4>,
    weight: Tensor<Outer, 4>,
    bias: Tensor<Outer, 1>,
) -> Tensor<Outer, 4> {
    let [_, _, kh, kw] = weight.dims();
    assert_eq!((kh, kw), (3, 3), "conv3x3_same takes 3x3 kernels");
    let x = x.into_primitive().tensor();
    let weight = weight.into_primitive().tensor();
    let bias = bias.into_primitive().tensor();
    let forward = |x, weight, bias| {
        conv2d(
            wrap::<4>(x),
            wrap::<4>(weight),
            Some(wrap::<1>(bias)),
            same_padding(),
        )
        .into_primitive()
        .tensor()
    };
    let out = match Conv3x3Backward
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            prep.finish(
                (x_state, weight_state),
                forward(x.primitive, weight.primitive, bias.primitive),
            )
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(forward(x.primitive, weight.primitive, bias.primitive))
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// RecCNN's layers for training on the CPU backend: 3x3, stride-1, padding-1 convolutions
/// with a bias (every RecCNN layer) through [`conv3x3_same`], BatchNorm through
/// [`train_batch_norm`]; anything else through burn.
pub struct FastTrainLayers;

impl LayerOps<Outer> for FastTrainLayers {
    fn conv(&self, conv: &Conv2d<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
        let same = conv.kernel_size == [3, 3]
            && conv.stride == [1, 1]
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && matches!(conv.padding, PaddingConfig2d::Explicit(1, 1, 1, 1));
        match (&conv.bias, same) {
            (Some(bias), true) => conv3x3_same(x, conv.weight.val(), bias.val()),
            _ => conv.forward(x),
        }
    }

    fn batch_norm(&self, bn: &BatchNorm<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
        train_batch_norm(bn, x)
    }
}

/// The values of a contiguous f32 tensor.
fn values<const D: usize>(t: Tensor<Inner, D>) -> Vec<f32> {
    t.into_data()
        .into_vec::<f32>()
        .expect("training runs in f32")
}

#[derive(Debug)]
struct BatchNormBackward;

/// What BatchNorm's backward needs besides the input: per channel gamma, mean, 1/std.
#[derive(Clone, Debug)]
struct BatchNormState {
    x: NodeId,
    gamma: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Backward<Inner, 3> for BatchNormBackward {
    type State = BatchNormState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad: Tensor<Inner, 4> = wrap(grads.consume::<Inner>(&ops.node));
        let device = grad.device();
        let [n, c, h, w] = grad.dims();
        let hw = h * w;
        let st = ops.state;
        let x: Tensor<Inner, 4> = wrap(checkpointer.retrieve_node_output(st.x));
        let (xs, dy) = (values(x), values(grad));
        // Per channel: sum of dy and of dy * x_hat.
        let (mut dbeta, mut dgamma) = (vec![0f64; c], vec![0f64; c]);
        for (i, (xp, gp)) in xs.chunks_exact(hw).zip(dy.chunks_exact(hw)).enumerate() {
            let ch = i % c;
            let (m, s) = (st.mean[ch], st.inv_std[ch]);
            let (mut sb, mut sg) = (0f64, 0f64);
            for (&xv, &g) in xp.iter().zip(gp) {
                sb += g as f64;
                sg += (g * (xv - m) * s) as f64;
            }
            dbeta[ch] += sb;
            dgamma[ch] += sg;
        }
        if let Some(node) = node_x {
            let count = (n * hw) as f64;
            let mut dx = vec![0f32; xs.len()];
            for (i, ((xp, gp), dp)) in xs
                .chunks_exact(hw)
                .zip(dy.chunks_exact(hw))
                .zip(dx.chunks_exact_mut(hw))
                .enumerate()
            {
                let ch = i % c;
                let (m, s) = (st.mean[ch], st.inv_std[ch]);
                let scale = st.gamma[ch] * s;
                let mb = (dbeta[ch] / count) as f32;
                let mg = (dgamma[ch] / count) as f32;
                for ((&xv, &g), d) in xp.iter().zip(gp).zip(dp.iter_mut()) {
                    *d = scale * (g - mb - (xv - m) * s * mg);
                }
            }
            let dx = Tensor::<Inner, 4>::from_data(TensorData::new(dx, [n, c, h, w]), &device);
            grads.register::<Inner>(node.id, dx.into_primitive().tensor());
        }
        let per_channel = |v: Vec<f64>| {
            let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            Tensor::<Inner, 1>::from_data(TensorData::new(v, [c]), &device)
                .into_primitive()
                .tensor()
        };
        if let Some(node) = node_gamma {
            grads.register::<Inner>(node.id, per_channel(dgamma));
        }
        if let Some(node) = node_beta {
            grads.register::<Inner>(node.id, per_channel(dbeta));
        }
    }
}

/// `bn.forward(x)` in training mode (batch statistics; running statistics updated as burn's
/// BatchNorm does), computed on contiguous buffers: burn's version reshapes through
/// transposed views that burn-flex walks element by element.
/// x: [n, c, h, w] -> [n, c, h, w].
pub fn train_batch_norm(bn: &BatchNorm<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let hw = h * w;
    let count = (n * hw) as f64;
    let xs = values(x.clone().inner());
    let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
    for (i, p) in xs.chunks_exact(hw).enumerate() {
        sum[i % c] += p.iter().map(|&v| v as f64).sum::<f64>();
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    for (i, p) in xs.chunks_exact(hw).enumerate() {
        let m = mean[i % c];
        sq[i % c] += p.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>();
    }
    let var: Vec<f64> = sq.iter().map(|s| s / count).collect();
    let mean32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let var32: Vec<f32> = var.iter().map(|&v| v as f32).collect();
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v + bn.epsilon).sqrt()) as f32)
        .collect();

    // Running statistics, as burn's BatchNorm updates them.
    let momentum = bn.momentum;
    let stat = |v: Vec<f32>| Tensor::<Outer, 1>::from_data(TensorData::new(v, [c]), &device);
    bn.running_mean.update(
        bn.running_mean
            .value_sync()
            .mul_scalar(1.0 - momentum)
            .add(stat(mean32.clone()).mul_scalar(momentum))
            .detach(),
    );
    bn.running_var.update(
        bn.running_var
            .value_sync()
            .mul_scalar(1.0 - momentum)
            .add(stat(var32).mul_scalar(momentum))
            .detach(),
    );

    let gamma = bn.gamma.val();
    let beta = bn.beta.val();
    let gamma_values = values(gamma.clone().inner());
    let beta_values = values(beta.clone().inner());
    let mut y = vec![0f32; xs.len()];
    for (i, (xp, yp)) in xs.chunks_exact(hw).zip(y.chunks_exact_mut(hw)).enumerate() {
        let ch = i % c;
        let (m, s, g, b) = (mean32[ch], inv_std[ch], gamma_values[ch], beta_values[ch]);
        for (&xv, yv) in xp.iter().zip(yp.iter_mut()) {
            *yv = g * ((xv - m) * s) + b;
        }
    }
    let y = Tensor::<Inner, 4>::from_data(TensorData::new(y, [n, c, h, w]), &device)
        .into_primitive()
        .tensor();
    let x = x.into_primitive().tensor();
    let gamma = gamma.into_primitive().tensor();
    let beta = beta.into_primitive().tensor();
    let out = match BatchNormBackward
        .prepare::<NoCheckpointing>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = BatchNormState {
                x: prep.checkpoint(&x),
                gamma: gamma_values,
                mean: mean32,
                inv_std,
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;

    /// Output and gradients of a squared error through one convolution; `tracked` says which
    /// of input, weight and bias require gradients (untracked ones give empty gradients).
    fn grads_of(
        fast: bool,
        tracked: [bool; 3],
        n: usize,
        c: usize,
        co: usize,
        h: usize,
        w: usize,
    ) -> [Vec<f32>; 4] {
        let device = Default::default();
        let seeded = |shape: Vec<usize>, seed: u64| {
            let mut s = seed;
            let len = shape.iter().product::<usize>();
            let v: Vec<f32> = (0..len)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
                })
                .collect();
            TensorData::new(v, shape)
        };
        let track = |t: Tensor<Outer, 4>, on: bool| if on { t.require_grad() } else { t };
        let x = track(
            Tensor::from_data(seeded(vec![n, c, h, w], 1), &device),
            tracked[0],
        );
        let weight = track(
            Tensor::from_data(seeded(vec![co, c, 3, 3], 2), &device),
            tracked[1],
        );
        let bias = Tensor::<Outer, 1>::from_data(seeded(vec![co], 4), &device);
        let bias = if tracked[2] {
            bias.require_grad()
        } else {
            bias
        };
        let target = Tensor::<Outer, 4>::from_data(seeded(vec![n, co, h, w], 3), &device);
        let y = if fast {
            conv3x3_same(x.clone(), weight.clone(), bias.clone())
        } else {
            conv2d(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                same_padding(),
            )
        };
        let d = y.clone() - target;
        let grads = (d.clone() * d).sum().backward();
        let vec = |t: Option<Tensor<Inner, 4>>| {
            t.map_or(vec![], |t| t.into_data().to_vec::<f32>().unwrap())
        };
        [
            y.into_data().to_vec().unwrap(),
            vec(x.grad(&grads)),
            vec(weight.grad(&grads)),
            bias.grad(&grads)
                .map_or(vec![], |b| b.into_data().to_vec().unwrap()),
        ]
    }

    #[test]
    fn gradients_equal_burns_generic_convolution() {
        // Odd and even sides, one and several channels, a batch; all parameters tracked, and
        // the input untracked (RecCNN's first layer) or the weights frozen (ComCNN stage).
        let all = [true; 3];
        for (tracked, (n, c, co, h, w)) in [
            (all, (1, 1, 3, 5, 4)),
            (all, (3, 4, 2, 6, 7)),
            (all, (2, 5, 1, 1, 3)),
            ([false, true, true], (2, 3, 4, 5, 5)),
            ([true, false, false], (2, 3, 4, 5, 5)),
        ] {
            let fast = grads_of(true, tracked, n, c, co, h, w);
            let generic = grads_of(false, tracked, n, c, co, h, w);
            for (grad, on) in fast[1..].iter().zip(tracked) {
                assert_eq!(grad.is_empty(), !on, "a gradient exactly where asked for");
            }
            for (what, (a, b)) in ["output", "input grad", "weight grad", "bias grad"]
                .iter()
                .zip(fast.iter().zip(generic.iter()))
            {
                assert_eq!(a.len(), b.len(), "{what}");
                let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (i, (p, q)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (p - q).abs() <= 1e-5 * scale,
                        "{what}[{i}] {p} vs {q} for n={n} c={c} co={co} {h}x{w}"
                    );
                }
            }
        }
    }

    #[test]
    fn batch_norm_matches_burns_training_forward_backward_and_statistics() {
        let device = Default::default();
        let (n, c, h, w) = (3, 4, 5, 6);
        let x_values: Vec<f32> = (0..n * c * h * w)
            .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * (1.0 + (i % c) as f32))
            .collect();
        let run = |fast: bool| {
            let mut bn = BatchNormConfig::new(c)
                .with_epsilon(1e-5)
                .init::<Outer>(&device);
            let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.25).collect();
            let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.2).collect();
            bn.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(gamma, [c]), &device));
            bn.beta = Param::from_tensor(Tensor::from_data(TensorData::new(beta, [c]), &device));
            let x = Tensor::<Outer, 4>::from_data(
                TensorData::new(x_values.clone(), [n, c, h, w]),
                &device,
            )
            .require_grad();
            // A second call checks the running statistics' update is cumulative.
            let first = if fast {
                train_batch_norm(&bn, x.clone() * 0.5)
            } else {
                bn.forward(x.clone() * 0.5)
            };
            let y = if fast {
                train_batch_norm(&bn, x.clone())
            } else {
                bn.forward(x.clone())
            };
            let weights = Tensor::<Outer, 4>::from_data(
                TensorData::new(
                    (0..n * c * h * w)
                        .map(|i| (i % 7) as f32 - 3.0)
                        .collect::<Vec<f32>>(),
                    [n, c, h, w],
                ),
                &device,
            );
            let grads = ((y.clone() * weights).sum() + first.sum()).backward();
            let v1 = |t: Tensor<Inner, 1>| t.into_data().to_vec::<f32>().unwrap();
            [
                y.into_data().to_vec::<f32>().unwrap(),
                x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap(),
                v1(bn.gamma.grad(&grads).unwrap()),
                v1(bn.beta.grad(&grads).unwrap()),
                bn.running_mean.value().into_data().to_vec::<f32>().unwrap(),
                bn.running_var.value().into_data().to_vec::<f32>().unwrap(),
            ]
        };
        let (fast, burn) = (run(true), run(false));
        for (what, (a, b)) in [
            "output",
            "x grad",
            "gamma grad",
            "beta grad",
            "running mean",
            "running var",
        ]
        .iter()
        .zip(fast.iter().zip(burn.iter()))
        {
            assert_eq!(a.len(), b.len(), "{what}");
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!((p - q).abs() <= 2e-5 * scale, "{what}[{i}] {p} vs {q}");
            }
        }
    }

    #[test]
    fn im2col_rows_are_channel_major_per_image() {
        // 2 images x 2 channels of 1x2: row (image i, channel c, tap k) = i*18 + c*9 + k.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let cols = im2col_3x3(&x, 2, 2, 1, 2);
        let centre = |i: usize, c: usize| &cols[(i * 18 + c * 9 + 4) * 2..(i * 18 + c * 9 + 5) * 2];
        assert_eq!(centre(0, 0), &[1.0, 2.0]);
        assert_eq!(centre(0, 1), &[3.0, 4.0]);
        assert_eq!(centre(1, 0), &[5.0, 6.0]);
        assert_eq!(centre(1, 1), &[7.0, 8.0]);
    }

    #[test]
    fn im2col_places_each_neighbour() {
        // 1 image, 1 channel, 2x3: values 1..6.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let cols = im2col_3x3(&x, 1, 1, 2, 3);
        // centre tap (k = 4) is the image itself
        assert_eq!(&cols[4 * 6..5 * 6], &x);
        // top-left tap (k = 0): x[y-1][x-1]
        assert_eq!(&cols[0..6], &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0]);
        // bottom-right tap (k = 8): x[y+1][x+1]
        assert_eq!(&cols[8 * 6..9 * 6], &[5.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
