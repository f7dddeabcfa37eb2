//! Training: the paper's alternating optimisation of RecCNN and ComCNN.
//!
//! - RecCNN stage: the frozen ComCNN's compact images go through the real codec (a
//!   [`CompactCodec`]: the CLI passes the stock `jpegenc`/`jpegdec` elements the pipelines
//!   use), are bicubic up-scaled (MATLAB-exact), and RecCNN learns the residual with MSE.
//! - ComCNN stage: through the frozen RecCNN (BatchNorm folded, inference form) with the codec
//!   treated as identity (the paper's surrogate); loss MSE(RecCNN(up(ComCNN(x))), x).
//!
//! Stages alternate; each starts a fresh Adam whose learning rate decays log-linearly over
//! the stage. Patches are square, with the 8 flips/rotations; everything is seeded. A
//! checkpoint (model file + JSON state) is written after every stage and, with
//! `checkpoint_every`, every that many steps inside a stage (then with Adam's moments too), so
//! an interrupted run resumes where it was saved, with the same random stream and optimiser
//! state.

pub mod bnstats;
mod checkpoint;
pub mod fastconv;
pub mod grow;
mod init;
pub mod jpeg_proxy;
pub mod throughput;
mod trainer;

pub use checkpoint::*;
pub use init::*;
pub use trainer::*;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::codec::CompactCodec;

/// Why training could not start, go on or save. Messages name no command-line option.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// Options, data or a model that cannot train as asked.
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {1}", path = .0.display())]
    Io(std::path::PathBuf, String),
    #[error(transparent)]
    Weights(#[from] crate::WeightsError),
    #[error(transparent)]
    Codec(#[from] crate::codec::CodecError),
}
use crate::frame::image::{GrayImage, Plane};
use crate::frame::resample::{imresize_bicubic, resize_matrix};
use crate::net::architecture::{ComCnn, LayerOps, RecCnn};
use crate::net::backend::CpuBackend;
use crate::net::weights::ModelWeights;
use crate::pipeline::{compress_luma, restore_luma, upscale_compact};
use crate::rng::Rng;
use crate::train::fastconv::FastTrainLayers;
use crate::train::jpeg_proxy::JpegProxy;

/// The training backend: autodiff over the CPU backend.
pub type TrainBackend = Autodiff<CpuBackend>;

/// A backend training runs on: [`TrainBackend`] (the CPU, the default) or, with the `cuda`
/// feature, autodiff over burn-cuda.
pub trait TrainOn: AutodiffBackend {
    /// RecCNN's layers when the fast convolution backward is asked for; `None`: burn's own.
    fn fast_layers() -> Option<&'static dyn LayerOps<Self>> {
        None
    }
}

impl TrainOn for TrainBackend {
    fn fast_layers() -> Option<&'static dyn LayerOps<Self>> {
        Some(&FastTrainLayers)
    }
}

/// Training on one CUDA device (burn-cuda, f32).
#[cfg(feature = "cuda")]
pub type CudaTrainBackend = Autodiff<burn_cuda::Cuda>;

#[cfg(feature = "cuda")]
impl TrainOn for CudaTrainBackend {}

/// Schedule and batch shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Square patch side (even; the paper: 40).
    pub patch: usize,
    pub batch: usize,
    /// Adam steps in each stage.
    pub steps_per_stage: usize,
    /// Stages in all, alternating, RecCNN first (unless `comcnn_first`).
    pub stages: usize,
    /// RecCNN learning rate at the start and end of each of its stages (paper: 1e-3 -> 1e-5).
    pub rec_lr: (f64, f64),
    /// ComCNN learning rate likewise (paper: 1e-4 -> 1e-5).
    pub com_lr: (f64, f64),
    pub seed: u64,
    /// Stop when a RecCNN stage improves the development PSNR by less than this many dB
    /// (the paper's "until the RD stops improving"); `None`: run all `stages`.
    #[serde(default)]
    pub min_dev_gain_db: Option<f64>,
    /// Also checkpoint every this many steps inside a stage (0: after each stage only).
    #[serde(default)]
    pub checkpoint_every: usize,
    /// Alternate starting with a ComCNN stage (to refine a trained pair's ComCNN first).
    #[serde(default)]
    pub comcnn_first: bool,
    /// Run RecCNN's layers with [`crate::train::fastconv`] (the CPU inference path's kernels, forward
    /// and backward) instead of burn's generic ones. Same maths, different rounding, several
    /// times faster on the CPU; runs recorded before it existed used the generic one.
    #[serde(default)]
    pub fast_conv_backward: bool,
    /// The training images at these scales (each image once per factor, bicubic with
    /// antialiasing; 1 = as stored). Shrunk images put more texture in each patch.
    #[serde(default = "original_scale")]
    pub scales: Vec<f64>,
    /// Measure the development PSNR every this many steps inside a stage and at each stage's
    /// end (the learning curve, [`TrainState::curve`]); 0: never.
    #[serde(default)]
    pub curve_every: usize,
    /// What stands for the codec between ComCNN and RecCNN in a ComCNN stage.
    #[serde(default)]
    pub com_surrogate: ComSurrogate,
    /// RecCNN's loss leaves out this many pixels at each patch edge (0: the paper's loss over
    /// the whole patch, zero padding included).
    #[serde(default)]
    pub loss_margin: usize,
    /// In a RecCNN stage each patch is the one, of this many random candidates, whose upscaled
    /// input is furthest from the original (1: uniform sampling, the paper's). Larger puts more
    /// of each batch on edges and texture, where RecCNN has most to restore.
    #[serde(default = "one_candidate")]
    pub patch_candidates: usize,
}

/// The codec's stand-in while ComCNN trains (the real codec is not differentiable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComSurrogate {
    /// The paper's: the compact image reaches RecCNN as it is.
    #[default]
    Identity,
    /// [`crate::train::jpeg_proxy::JpegProxy`] at the model's JPEG quality.
    Jpeg,
}

impl std::str::FromStr for ComSurrogate {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "identity" => Ok(Self::Identity),
            "jpeg" => Ok(Self::Jpeg),
            other => Err(TrainError::Invalid(format!(
                "{other}: identity (the paper's surrogate) or jpeg (a differentiable JPEG proxy)"
            ))),
        }
    }
}

fn one_candidate() -> usize {
    1
}

fn original_scale() -> Vec<f64> {
    vec![1.0]
}

/// `images` at each of `scales` (a factor of 1 keeps the image as it is).
pub fn scaled_images(images: &[GrayImage], scales: &[f64]) -> Vec<GrayImage> {
    scales
        .iter()
        .flat_map(|&s| {
            images.iter().map(move |i| {
                if s == 1.0 {
                    return i.clone();
                }
                let size = |n: usize| ((n as f64 * s).round() as usize).max(1);
                imresize_bicubic(&i.to_unit(), size(i.width), size(i.height)).to_u8()
            })
        })
        .collect()
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            patch: 40,
            batch: 16,
            steps_per_stage: 200,
            stages: 4,
            rec_lr: (1e-3, 1e-5),
            com_lr: (1e-4, 1e-5),
            seed: 1,
            min_dev_gain_db: None,
            checkpoint_every: 0,
            comcnn_first: false,
            fast_conv_backward: true,
            scales: original_scale(),
            curve_every: 0,
            com_surrogate: ComSurrogate::Identity,
            loss_margin: 0,
            patch_candidates: one_candidate(),
        }
    }
}

/// Where a run stands; saved beside the checkpoint model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainState {
    pub options: TrainOptions,
    pub stages_done: usize,
    pub rng: u64,
    /// Mean loss of each finished stage, in order.
    pub stage_losses: Vec<f64>,
    /// Content hash of the checkpoint model written with this state (resume checks it).
    #[serde(default)]
    pub model_hash: String,
    /// Mean development PSNR (dB) after each measured RecCNN stage, as (stage, dB).
    #[serde(default)]
    pub dev_psnr: Vec<(usize, f64)>,
    /// Steps of the current stage done when the checkpoint was taken (0: at a stage boundary).
    #[serde(default)]
    pub stage_step: usize,
    /// Sum of the current stage's step losses up to `stage_step`.
    #[serde(default)]
    pub stage_loss_sum: f64,
    /// The learning curve: development PSNR after so many steps of the run.
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
}

/// One point of a run's learning curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Steps of the whole run done (all stages).
    pub step: usize,
    pub stage: usize,
    pub network: String,
    /// Mean PSNR (dB) over the development images through the run's codec.
    pub dev_psnr: f64,
}

/// The header line of a learning curve's CSV.
pub const CURVE_CSV_HEADER: &str = "step,stage,network,dev_psnr";

/// `curve` as CSV ([`CURVE_CSV_HEADER`], then one line per point).
pub fn curve_csv(curve: &[CurvePoint]) -> String {
    let mut out = format!("{CURVE_CSV_HEADER}\n");
    for p in curve {
        out += &format!("{},{},{},{:.4}\n", p.step, p.stage, p.network, p.dev_psnr);
    }
    out
}

/// BatchNorm epsilon while training (batch variances can be 0). The stored running variance
/// has it added, so the inference form (epsilon 0) computes the same function.
pub const TRAIN_BN_EPSILON: f64 = 1e-5;

/// Gives RecCNN's BatchNorm layers the training epsilon (batch variances can be 0).
pub fn use_training_epsilon<B: Backend>(rec: &mut RecCnn<B>) {
    for layer in &mut rec.hidden {
        if let Some(bn) = &mut layer.bn {
            bn.epsilon = TRAIN_BN_EPSILON;
        }
    }
}

/// Moves `eps` into (`+`) or out of (`-`) the stored BatchNorm variances.
fn shift_running_var(weights: &mut ModelWeights, eps: f32) {
    for (k, t) in weights.reccnn.iter_mut() {
        if k.ends_with(".running_var") {
            t.data.iter_mut().for_each(|v| *v = (*v + eps).max(0.0));
        }
    }
}

/// One step's report to the caller (progress bars, logs).
pub struct StepReport {
    pub stage: usize,
    pub network: &'static str,
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
    pub lr: f64,
}

/// RecCNN's training pairs: each image through `weights`' ComCNN and the real codec, decoded
/// and bicubic up-scaled (the network's input), with the image itself (unit range).
pub fn reccnn_inputs(
    weights: &ModelWeights,
    images: &[&GrayImage],
    codec: &dyn CompactCodec,
) -> Result<Vec<(Plane, Plane)>, TrainError> {
    // The elements' engine, so that training sees the compact images a pipeline codes.
    let engine = crate::net::cpu::CpuEngine::new(weights);
    codec.start_pass();
    let mut pairs = Vec::with_capacity(images.len());
    for img in images {
        let decoded = codec.code(&compress_luma(&engine, img))?;
        let up = upscale_compact(&decoded.to_unit(), img.width, img.height);
        pairs.push((up, img.to_unit()));
    }
    Ok(pairs)
}

/// A training pair and a `patch` x `patch` window in it: of `candidates` uniformly drawn
/// windows, the one whose input is furthest (squared error) from the original. One candidate
/// draws exactly what uniform sampling draws.
fn hardest_of_candidates<'a>(
    pairs: &'a [(Plane, Plane)],
    patch: usize,
    candidates: usize,
    rng: &mut Rng,
) -> (&'a Plane, &'a Plane, usize, usize) {
    let mut best: Option<(f64, &Plane, &Plane, usize, usize)> = None;
    for _ in 0..candidates {
        let (up, orig) = &pairs[rng.below(pairs.len())];
        let (x, y) = (
            rng.below(up.width - patch + 1),
            rng.below(up.height - patch + 1),
        );
        if candidates == 1 {
            return (up, orig, x, y);
        }
        let error = window_error(up, orig, x, y, patch);
        if best.as_ref().is_none_or(|(e, ..)| error > *e) {
            best = Some((error, up, orig, x, y));
        }
    }
    let (_, up, orig, x, y) = best.expect("at least one candidate");
    (up, orig, x, y)
}

/// Squared error between two planes over the `size` x `size` window at (x, y).
fn window_error(a: &Plane, b: &Plane, x: usize, y: usize, size: usize) -> f64 {
    (y..y + size)
        .map(|r| {
            let row = r * a.width + x..r * a.width + x + size;
            a.data[row.clone()]
                .iter()
                .zip(&b.data[row])
                .map(|(p, q)| f64::from(p - q).powi(2))
                .sum::<f64>()
        })
        .sum()
}

/// A `patch` x `patch` window of `p` at (x, y), transformed by dihedral element `aug` (0..8).
fn patch_of(p: &Plane, x: usize, y: usize, size: usize, aug: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(size * size);
    for r in 0..size {
        for c in 0..size {
            let (mut rr, mut cc) = (r, c);
            if aug & 1 != 0 {
                cc = size - 1 - cc; // mirror
            }
            if aug & 2 != 0 {
                rr = size - 1 - rr; // flip
            }
            if aug & 4 != 0 {
                std::mem::swap(&mut rr, &mut cc); // transpose
            }
            out.push(p.data[(y + rr) * p.width + x + cc]);
        }
    }
    out
}

/// Learning rate at `step` of `steps`, log-linear from `lr.0` to `lr.1`.
fn lr_at(lr: (f64, f64), step: usize, steps: usize) -> f64 {
    let t = if steps > 1 {
        step as f64 / (steps - 1) as f64
    } else {
        0.0
    };
    (lr.0.ln() * (1.0 - t) + lr.1.ln() * t).exp()
}

/// RecCNN's residual for training, with the chosen convolution backward.
fn rec_forward<B: TrainOn>(rec: &RecCnn<B>, x: Tensor<B, 4>, fast: bool) -> Tensor<B, 4> {
    match B::fast_layers().filter(|_| fast) {
        Some(layers) => rec.forward_with(x, layers),
        None => rec.forward(x),
    }
}

/// Mean squared error of two same-shape tensors.
fn mse<B: Backend>(a: Tensor<B, 4>, b: Tensor<B, 4>) -> Tensor<B, 1> {
    let d = a - b;
    (d.clone() * d).mean()
}

/// One optimiser step of `module` on `loss` at `at.lr`, reported with the loss filled in.
fn descend<B: TrainOn, M: AutodiffModule<B>>(
    module: M,
    optim: &mut impl Optimizer<M, B>,
    loss: Tensor<B, 1>,
    mut at: StepReport,
    report: &mut dyn FnMut(&StepReport),
) -> (M, f64) {
    at.loss = loss.clone().into_scalar().elem::<f64>();
    let grads = GradientsParams::from_grads(loss.backward(), &module);
    let module = optim.step(at.lr, module, grads);
    report(&at);
    (module, at.loss)
}

/// How a call to [`Trainer::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every stage is done.
    Finished,
    /// Stopped after [`Trainer::stop_after`] steps, checkpointed; running again resumes.
    Stopped,
}

/// The alternating trainer, on the CPU unless another [`TrainOn`] backend is named.
pub struct Trainer<B: TrainOn = TrainBackend> {
    pub weights: ModelWeights,
    pub state: TrainState,
    /// Stop after this many steps of one call to [`Trainer::run`], checkpointed as an
    /// interruption would leave it (demonstrations and tests of resuming).
    pub stop_after: Option<usize>,
    /// Adam's moments from a checkpoint taken inside a stage, for that stage to go on with.
    saved_moments: Option<Vec<Option<Moments>>>,
    steps_this_run: usize,
    backend: std::marker::PhantomData<B>,
}

#[cfg(test)]
mod tests;
