//! Training-only layers for the CPU backend whose forward and backward passes run on the CPU
//! inference path's kernels ([`crate::net::cpu::layers`]):
//! - a 3x3 convolution (stride 1, zero padding 1) on channels-last tensors `[n, h, w, c]`:
//!   forward and input gradient on the direct kernels (the input gradient is the convolution
//!   with the flipped kernel, its channels exchanged), weight gradient on a kernel that
//!   accumulates input x output-gradient outer products row by row;
//! - BatchNorm in training mode on channels-last tensors, its statistics and gradients as
//!   loops with the channels innermost.
//!
//! [`FastTrainLayers`] carries RecCNN's activations channels-last from its first layer to its
//! last: a one-channel tensor (the network's input and output) is the same in both layouts,
//! so the network's interface stays `[n, 1, h, w]`.
//!
//! Why: burn 0.21 computes a convolution's weight gradient as a convolution with the batch as
//! channels and the whole output gradient as kernel, and its BatchNorm reshapes through
//! transposed views that burn-flex walks element by element; `cnncodec bench-train` measures
//! both routes. BatchNorm's forward computes its statistics in f64, so values and gradients
//! agree with burn's to rounding, not bit for bit.

use burn::backend::Autodiff;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_autodiff::NodeId;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::net::architecture::LayerOps;
use crate::net::backend::CpuBackend as Inner;
use crate::net::cpu::batchnorm;
use crate::net::cpu::layers::{conv3x3, conv3x3_input_grad, conv3x3_weight_grad, Batch};
use crate::net::cpu::Isa;

type Outer = Autodiff<Inner>;

fn wrap<const D: usize>(
    p: <Inner as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive,
) -> Tensor<Inner, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// A tensor's storage, contiguous (copied only when it is a strided view).
fn storage<const D: usize>(t: Tensor<Inner, D>) -> FlexTensor {
    contiguous(t.into_primitive().tensor())
}

fn contiguous(p: FlexTensor) -> FlexTensor {
    if p.as_slice::<f32>().is_some() {
        p
    } else {
        p.to_contiguous()
    }
}

/// The values of contiguous f32 storage, borrowed.
fn f32s(p: &FlexTensor) -> &[f32] {
    p.as_slice::<f32>().expect("training runs in f32")
}

/// The values of a small tensor (parameters).
fn values<const D: usize>(t: Tensor<Inner, D>) -> Vec<f32> {
    f32s(&storage(t)).to_vec()
}

fn tensor<const D: usize>(
    v: Vec<f32>,
    shape: [usize; D],
    device: &<Inner as burn::tensor::backend::BackendTypes>::Device,
) -> Tensor<Inner, D> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

#[derive(Debug)]
struct Conv3x3Backward;

/// The input's and the weight's node, to fetch their values.
#[derive(Clone, Debug)]
struct ConvState {
    x: NodeId,
    weight: NodeId,
}

impl Backward<Inner, 3> for Conv3x3Backward {
    type State = ConvState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad: Tensor<Inner, 4> = wrap(grads.consume::<Inner>(&ops.node));
        let device = grad.device();
        let [n, h, w, co] = grad.dims();
        let shape = Batch { n, h, w };
        let weight: Tensor<Inner, 4> = wrap(checkpointer.retrieve_node_output(ops.state.weight));
        let c = weight.dims()[1];
        let grad = storage(grad);
        let dy = f32s(&grad);
        let isa = Isa::detect();
        if let Some(node) = node_x {
            let dx = conv3x3_input_grad(isa, dy, shape, co, &values(weight), c);
            grads.register::<Inner>(
                node.id,
                tensor(dx, [n, h, w, c], &device).into_primitive().tensor(),
            );
        }
        if let Some(node) = node_weight {
            let x = contiguous(checkpointer.retrieve_node_output(ops.state.x));
            let (gw, gb) = conv3x3_weight_grad(isa, f32s(&x), dy, shape, c, co);
            grads.register::<Inner>(
                node.id,
                tensor(gw, [co, c, 3, 3], &device).into_primitive().tensor(),
            );
            if let Some(node) = node_bias {
                grads.register::<Inner>(
                    node.id,
                    tensor(gb, [co], &device).into_primitive().tensor(),
                );
            }
        } else if let Some(node) = node_bias {
            let mut gb = vec![0f64; co];
            for px in dy.chunks_exact(co) {
                gb.iter_mut().zip(px).for_each(|(b, &g)| *b += g as f64);
            }
            let gb = gb.into_iter().map(|v| v as f32).collect();
            grads.register::<Inner>(node.id, tensor(gb, [co], &device).into_primitive().tensor());
        }
    }
}

/// A 3x3 convolution with stride 1 and zero padding 1 on channels-last tensors, for training:
/// x `[n, h, w, c]`, weight `[co, c, 3, 3]`, bias `[co]` -> `[n, h, w, co]`.
pub fn conv3x3_channels_last(
    x: Tensor<Outer, 4>,
    weight: Tensor<Outer, 4>,
    bias: Tensor<Outer, 1>,
) -> Tensor<Outer, 4> {
    let [co, c, kh, kw] = weight.dims();
    assert_eq!((kh, kw), (3, 3), "conv3x3_channels_last takes 3x3 kernels");
    let [n, h, w, xc] = x.dims();
    assert_eq!(xc, c, "input channels");
    let device = x.device();
    let y = conv3x3(
        Isa::detect(),
        f32s(&storage(x.clone().inner())),
        Batch { n, h, w },
        c,
        &values(weight.clone().inner()),
        Some(&values(bias.clone().inner())),
        co,
    );
    let y = tensor(y, [n, h, w, co], &device).into_primitive().tensor();
    let x = x.into_primitive().tensor();
    let weight = weight.into_primitive().tensor();
    let bias = bias.into_primitive().tensor();
    let out = match Conv3x3Backward
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = ConvState {
                x: prep.checkpoint(&x),
                weight: prep.checkpoint(&weight),
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// RecCNN's layers for training on the CPU backend, carrying activations channels-last: its
/// 3x3, stride-1, padding-1 convolutions through [`conv3x3_channels_last`], BatchNorm through
/// [`train_batch_norm`]. The network's input and output (one channel) are `[n, 1, h, w]` as
/// usual.
pub struct FastTrainLayers;

impl LayerOps<Outer> for FastTrainLayers {
    fn conv(&self, conv: &Conv2d<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
        assert!(
            conv.kernel_size == [3, 3]
                && conv.stride == [1, 1]
                && conv.dilation == [1, 1]
                && conv.groups == 1
                && matches!(conv.padding, PaddingConfig2d::Explicit(1, 1, 1, 1)),
            "FastTrainLayers runs RecCNN's 3x3 same-padded convolutions only"
        );
        let [co, c, _, _] = conv.weight.dims();
        let [n, d1, d2, d3] = x.dims();
        let x = if c == 1 && d1 == 1 {
            x.reshape([n, d2, d3, 1])
        } else {
            x
        };
        let bias = match &conv.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([co], &x.device()),
        };
        let y = conv3x3_channels_last(x, conv.weight.val(), bias);
        if co == 1 {
            let [n, h, w, _] = y.dims();
            y.reshape([n, 1, h, w])
        } else {
            y
        }
    }

    fn batch_norm(&self, bn: &BatchNorm<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
        train_batch_norm(bn, x, false)
    }

    fn batch_norm_relu(&self, bn: &BatchNorm<Outer>, x: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
        train_batch_norm(bn, x, true)
    }
}

/// Per channel of two channels-last tensors of rows of `w` pixels, two sums that `add`
/// accumulates row by row (`add(sums0, sums1, a_row, b_row)`): in f32 within a row, in f64
/// across rows, rows across the threads.
fn channel_sums2<F: Fn(&mut [f32], &mut [f32], &[f32], &[f32]) + Sync>(
    a: &[f32],
    b: &[f32],
    c: usize,
    w: usize,
    add: F,
) -> (Vec<f64>, Vec<f64>) {
    let row = c * w;
    let zero = || (vec![0f64; c], vec![0f64; c]);
    a.par_chunks(row)
        .zip(b.par_chunks(row))
        .fold(zero, |mut total, (ar, br)| {
            let (mut s0, mut s1) = (vec![0f32; c], vec![0f32; c]);
            add(&mut s0, &mut s1, ar, br);
            total.0.iter_mut().zip(s0).for_each(|(t, v)| *t += v as f64);
            total.1.iter_mut().zip(s1).for_each(|(t, v)| *t += v as f64);
            total
        })
        .reduce(zero, |mut x, y| {
            x.0.iter_mut().zip(y.0).for_each(|(p, q)| *p += q);
            x.1.iter_mut().zip(y.1).for_each(|(p, q)| *p += q);
            x
        })
}

#[derive(Debug)]
struct BatchNormBackward;

/// What BatchNorm's backward needs besides the input: per channel gamma, mean, 1/std.
#[derive(Clone, Debug)]
struct BatchNormState {
    x: NodeId,
    /// Per channel scale and shift when a ReLU is fused: where `x * scale + shift` is not
    /// positive (recomputed exactly as the forward did), the gradient is zero.
    relu: Option<(Vec<f32>, Vec<f32>)>,
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
        let [n, h, w, c] = grad.dims();
        let st = ops.state;
        let x = contiguous(checkpointer.retrieve_node_output(st.x));
        let grad = storage(grad);
        let (xs, dy) = (f32s(&x), f32s(&grad));
        // A fused ReLU passes the gradient where `x * k + b` is positive (recomputed as the
        // forward computed it); without one, k = 0 and b = 1 pass it everywhere.
        let pass_all = (vec![0.0; c], vec![1.0; c]);
        let (k, b) = st.relu.as_ref().unwrap_or(&pass_all);
        let (mean, inv_std) = (&st.mean[..c], &st.inv_std[..c]);
        let (k, b) = (&k[..c], &b[..c]);
        // Per channel: sum of dy and of dy * x_hat.
        let (dbeta, dgamma) = channel_sums2(xs, dy, c, w, |sb, sg, xr, gr| {
            batchnorm::add_grad_sums_row(xr, gr, c, mean, inv_std, k, b, sb, sg)
        });
        if let Some(node) = node_x {
            let count = (n * h * w) as f64;
            let scale: Vec<f32> = (0..c).map(|ch| st.gamma[ch] * st.inv_std[ch]).collect();
            let mb: Vec<f32> = dbeta.iter().map(|v| (v / count) as f32).collect();
            let mg: Vec<f32> = dgamma.iter().map(|v| (v / count) as f32).collect();
            let (scale, mb, mg) = (&scale[..c], &mb[..c], &mg[..c]);
            let mut dx = vec![0f32; xs.len()];
            dx.par_chunks_mut(c * w)
                .zip(xs.par_chunks(c * w).zip(dy.par_chunks(c * w)))
                .for_each(|(dr, (xr, gr))| {
                    batchnorm::input_grad_row(xr, gr, dr, c, mean, inv_std, k, b, scale, mb, mg)
                });
            grads.register::<Inner>(
                node.id,
                tensor(dx, [n, h, w, c], &device).into_primitive().tensor(),
            );
        }
        let per_channel = |v: Vec<f64>| {
            let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            tensor(v, [c], &device).into_primitive().tensor()
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
/// BatchNorm does) on a channels-last tensor, followed by a ReLU when `relu`.
/// x: `[n, h, w, c]` -> `[n, h, w, c]`.
pub fn train_batch_norm(
    bn: &BatchNorm<Outer>,
    x: Tensor<Outer, 4>,
    relu: bool,
) -> Tensor<Outer, 4> {
    let device = x.device();
    let [n, h, w, c] = x.dims();
    let count = (n * h * w) as f64;
    let x_storage = storage(x.clone().inner());
    let xs = f32s(&x_storage);
    let sums = channel_sums2(xs, xs, c, w, |s, _, row, _| batchnorm::add_row(row, c, s));
    let mean: Vec<f64> = sums.0.iter().map(|s| s / count).collect();
    let mean32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let squares = channel_sums2(xs, xs, c, w, |s, _, row, _| {
        batchnorm::add_squared_deviations_row(row, c, &mean32, s)
    });
    let var: Vec<f64> = squares.0.iter().map(|s| s / count).collect();
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
    let scale: Vec<f32> = (0..c).map(|ch| gamma_values[ch] * inv_std[ch]).collect();
    let shift: Vec<f32> = (0..c)
        .map(|ch| beta_values[ch] - mean32[ch] * scale[ch])
        .collect();
    let mut y = vec![0f32; xs.len()];
    y.par_chunks_mut(c * w)
        .zip(xs.par_chunks(c * w))
        .for_each(|(yr, xr)| batchnorm::affine_row(xr, yr, c, &scale, &shift, relu));
    let y = tensor(y, [n, h, w, c], &device).into_primitive().tensor();
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
                relu: relu.then_some((scale, shift)),
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
mod tests;
