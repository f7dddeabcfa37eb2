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

use crate::engine::CpuBackend;
use crate::fastconv::FastTrainLayers;
use crate::image::{GrayImage, Plane};
use crate::jpeg_proxy::JpegProxy;
use crate::model::{ComCnn, LayerOps, RecCnn};
use crate::pipeline::{compress_luma, restore_luma, upscale_compact};
use crate::resample::{imresize_bicubic, resize_matrix};
use crate::weights::ModelWeights;

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

/// The codec between ComCNN and RecCNN during the RecCNN stage.
pub trait CompactCodec {
    /// Encodes and decodes one compact luma image.
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, String>;
    /// What it is, for the model's provenance.
    fn describe(&self) -> String;
    /// Called before each pass over the images, so a codec that varies from image to image
    /// (for example by quality) treats every pass alike, also after a resume.
    fn start_pass(&self) {}
}

/// No codec at all (tests, and the paper's surrogate).
pub struct IdentityCodec;

impl CompactCodec for IdentityCodec {
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, String> {
        Ok(compact.clone())
    }
    fn describe(&self) -> String {
        "identity".into()
    }
}

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
    /// Run RecCNN's layers with [`crate::fastconv`] (the CPU inference path's kernels, forward
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
}

/// The codec's stand-in while ComCNN trains (the real codec is not differentiable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComSurrogate {
    /// The paper's: the compact image reaches RecCNN as it is.
    #[default]
    Identity,
    /// [`crate::jpeg_proxy::JpegProxy`] at the model's JPEG quality.
    Jpeg,
}

impl std::str::FromStr for ComSurrogate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "identity" => Ok(Self::Identity),
            "jpeg" => Ok(Self::Jpeg),
            other => Err(format!(
                "{other}: identity (the paper's surrogate) or jpeg (a differentiable JPEG proxy)"
            )),
        }
    }
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

/// splitmix64: small, seedable, and its state is one `u64` to checkpoint.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// RecCNN's training pairs: each image through `weights`' ComCNN and the real codec, decoded
/// and bicubic up-scaled (the network's input), with the image itself (unit range).
pub fn reccnn_inputs(
    weights: &ModelWeights,
    images: &[&GrayImage],
    codec: &dyn CompactCodec,
) -> Result<Vec<(Plane, Plane)>, String> {
    // The elements' engine, so that training sees the compact images a pipeline codes.
    let engine = crate::cpu::CpuEngine::new(weights);
    codec.start_pass();
    let mut pairs = Vec::with_capacity(images.len());
    for img in images {
        let decoded = codec.code(&compress_luma(&engine, img))?;
        let up = upscale_compact(&decoded.to_unit(), img.width, img.height);
        pairs.push((up, img.to_unit()));
    }
    Ok(pairs)
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

/// What a stage loop does after a step.
enum AfterStep {
    Continue,
    Save,
    SaveAndStop,
}

impl<B: TrainOn> Trainer<B> {
    /// Starts from `weights` (for example [`ModelWeights::random`]).
    pub fn new(weights: ModelWeights, options: TrainOptions) -> Result<Self, String> {
        if options.patch < 4 || !options.patch.is_multiple_of(2) {
            return Err(format!(
                "patch {} must be even and at least 4",
                options.patch
            ));
        }
        if 2 * options.loss_margin >= options.patch {
            return Err(format!(
                "loss margin {} leaves nothing of a {}-pixel patch",
                options.loss_margin, options.patch
            ));
        }
        if options.batch == 0 || options.steps_per_stage == 0 {
            return Err("batch and steps per stage must be positive".into());
        }
        let rng = options.seed;
        Ok(Self {
            weights,
            state: TrainState {
                options,
                stages_done: 0,
                rng,
                stage_losses: vec![],
                model_hash: String::new(),
                dev_psnr: vec![],
                stage_step: 0,
                stage_loss_sum: 0.0,
                curve: vec![],
            },
            stop_after: None,
            saved_moments: None,
            steps_this_run: 0,
            backend: std::marker::PhantomData,
        })
    }

    /// The same run on another backend (its weights, state and optimiser moments move).
    pub fn on<C: TrainOn>(self) -> Trainer<C> {
        Trainer {
            weights: self.weights,
            state: self.state,
            stop_after: self.stop_after,
            saved_moments: self.saved_moments,
            steps_this_run: self.steps_this_run,
            backend: std::marker::PhantomData,
        }
    }

    /// Resumes from a checkpoint written by [`Trainer::save_checkpoint`] (inside a stage too).
    pub fn resume(dir: &Path) -> Result<Self, String> {
        let weights = ModelWeights::load(&checkpoint_model(dir)).map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(dir.join("checkpoint.json"))
            .map_err(|e| format!("{}: {e}", dir.join("checkpoint.json").display()))?;
        let state: TrainState = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if state.model_hash != weights.meta.content_hash {
            return Err(format!(
                "{}: the checkpoint model and its state do not belong together (interrupted while saving?); restart the run or restore both files",
                dir.display()
            ));
        }
        let saved_moments = if state.stage_step > 0 {
            Some(read_moments(
                &checkpoint_moments(dir),
                &weights.meta.content_hash,
            )?)
        } else {
            None
        };
        Ok(Self {
            weights,
            state,
            stop_after: None,
            saved_moments,
            steps_this_run: 0,
            backend: std::marker::PhantomData,
        })
    }

    /// Writes `checkpoint.cnnmodel` and `checkpoint.json` into `dir` (each atomically).
    pub fn save_checkpoint(&mut self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.state.model_hash = self.weights.meta.content_hash.clone();
        self.weights
            .save(&checkpoint_model(dir))
            .map_err(|e| e.to_string())?;
        let json = dir.join("checkpoint.json");
        let tmp = json.with_extension("partial");
        std::fs::write(&tmp, serde_json::to_string_pretty(&self.state).unwrap())
            .and_then(|_| std::fs::rename(&tmp, &json))
            .map_err(|e| format!("{}: {e}", json.display()))
    }

    /// Runs the remaining stages, checkpointing into `dir` after each (and inside each, with
    /// `checkpoint_every`). With `dev` images and `min_dev_gain_db`, each RecCNN stage is
    /// followed by a measurement on `dev` (never trained on); the run stops once a stage gains
    /// less than that, and the best model so far is kept as `best.cnnmodel` in `dir`.
    pub fn run(
        &mut self,
        images: &[GrayImage],
        dev: &[GrayImage],
        codec: &dyn CompactCodec,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<RunEnd, String> {
        let p = self.state.options.patch;
        let scaled = scaled_images(images, &self.state.options.scales);
        let usable: Vec<&GrayImage> = scaled
            .iter()
            .filter(|i| i.width >= p && i.height >= p)
            .collect();
        if usable.is_empty() {
            return Err(format!("no training image is at least {p}x{p}"));
        }
        self.steps_this_run = 0;
        let fresh = self.state.stages_done == 0 && self.state.stage_step == 0;
        if fresh && self.state.options.curve_every > 0 && !dev.is_empty() {
            // The curve's first point: where the run starts.
            let start = self.weights.clone();
            self.add_curve_point(&start, dev, codec, 0, "start", 0, dir)?;
        }
        while self.state.stages_done < self.state.options.stages {
            let stage = self.state.stages_done;
            let rec_turn = stage.is_multiple_of(2) != self.state.options.comcnn_first;
            let loss = if rec_turn {
                self.rec_stage(&usable, codec, dev, stage, dir, report)?
            } else {
                self.com_stage(&usable, codec, dev, stage, dir, report)?
            };
            let Some(loss) = loss else {
                return Ok(RunEnd::Stopped);
            };
            self.state.stage_losses.push(loss);
            self.state.stages_done += 1;
            self.state.stage_step = 0;
            self.state.stage_loss_sum = 0.0;
            if let (Some(min_gain), false, true) =
                (self.state.options.min_dev_gain_db, dev.is_empty(), rec_turn)
            {
                let best = self
                    .state
                    .dev_psnr
                    .iter()
                    .map(|d| d.1)
                    .fold(f64::MIN, f64::max);
                // With a learning curve, these weights were measured at the stage's last step.
                let stage_end = self.state.stages_done * self.state.options.steps_per_stage;
                let now = match self.state.curve.last() {
                    Some(p) if p.step == stage_end => p.dev_psnr,
                    _ => dev_psnr(&self.weights, dev, codec)?,
                };
                self.state.dev_psnr.push((stage, now));
                if now > best {
                    if let Some(dir) = dir {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("{}: {e}", dir.display()))?;
                        self.weights
                            .save(&dir.join("best.cnnmodel"))
                            .map_err(|e| e.to_string())?;
                    }
                }
                if best > f64::MIN && now - best < min_gain {
                    // The RD stopped improving: this is the last stage.
                    self.state.options.stages = self.state.stages_done;
                }
            }
            if let Some(dir) = dir {
                self.save_checkpoint(dir)?;
                // Moments belong to a checkpoint inside a stage; this one is at a boundary.
                let _ = std::fs::remove_file(checkpoint_moments(dir));
            }
            let more = self.state.stages_done < self.state.options.stages;
            if more && self.stop_after.is_some_and(|n| self.steps_this_run >= n) {
                return Ok(RunEnd::Stopped);
            }
        }
        Ok(RunEnd::Finished)
    }

    /// Whether a learning-curve point is due after `done` steps of the current stage.
    fn curve_due(&self, done: usize, dev: &[GrayImage]) -> bool {
        let every = self.state.options.curve_every;
        !dev.is_empty()
            && every > 0
            && (done.is_multiple_of(every) || done == self.state.options.steps_per_stage)
    }

    /// Measures `weights` on `dev` and records it as the curve's point after `done` steps of
    /// `stage` (replacing a point of the same step, left by an interrupted run), writing
    /// `curve.csv` into `dir`.
    #[allow(clippy::too_many_arguments)]
    fn add_curve_point(
        &mut self,
        weights: &ModelWeights,
        dev: &[GrayImage],
        codec: &dyn CompactCodec,
        stage: usize,
        network: &str,
        done: usize,
        dir: Option<&Path>,
    ) -> Result<(), String> {
        let step = stage * self.state.options.steps_per_stage + done;
        let dev_psnr = dev_psnr(weights, dev, codec)?;
        self.state.curve.retain(|p| p.step < step);
        self.state.curve.push(CurvePoint {
            step,
            stage,
            network: network.into(),
            dev_psnr,
        });
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join("curve.csv");
            std::fs::write(&path, curve_csv(&self.state.curve))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Counts a step and says whether to checkpoint (or stop) after `done` of `steps`.
    fn after_step(&mut self, done: usize, steps: usize) -> AfterStep {
        self.steps_this_run += 1;
        if done >= steps {
            return AfterStep::Continue; // the stage's end saves
        }
        let every = self.state.options.checkpoint_every;
        if self.stop_after.is_some_and(|n| self.steps_this_run >= n) {
            AfterStep::SaveAndStop
        } else if every > 0 && done.is_multiple_of(every) {
            AfterStep::Save
        } else {
            AfterStep::Continue
        }
    }

    /// Records a point inside a stage (`weights` now, `done` steps, their `loss_sum`, the
    /// random stream) and writes it with Adam's moments when there is a `dir`.
    #[allow(clippy::too_many_arguments)]
    fn save_inside_stage<M: AutodiffModule<B>>(
        &mut self,
        dir: Option<&Path>,
        weights: ModelWeights,
        module: &M,
        optim: &OptimizerAdaptor<Adam, M, B>,
        done: usize,
        loss_sum: f64,
        rng: &Rng,
    ) -> Result<(), String> {
        self.weights = weights;
        self.state.stage_step = done;
        self.state.stage_loss_sum = loss_sum;
        self.state.rng = rng.0;
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            write_moments(
                &checkpoint_moments(dir),
                &self.weights.meta.content_hash,
                &collect_moments(module, optim),
            )?;
            self.save_checkpoint(dir)?;
        }
        Ok(())
    }

    /// The model with `rec` (training form) as its RecCNN, in the stored (inference) form.
    fn with_reccnn(&self, rec: &RecCnn<B>) -> ModelWeights {
        let com = self.weights.comcnn::<B::InnerBackend>(&Default::default());
        let mut trained =
            ModelWeights::from_networks(self.weights.meta.clone(), &com, &rec.valid());
        shift_running_var(&mut trained, TRAIN_BN_EPSILON as f32);
        trained.meta.content_hash = crate::weights::content_hash(&trained.comcnn, &trained.reccnn);
        trained
    }

    /// The model with `com` as its ComCNN.
    fn with_comcnn(&self, com: &ComCnn<B>) -> ModelWeights {
        let rec_kept = self.weights.reccnn::<B::InnerBackend>(&Default::default());
        ModelWeights::from_networks(self.weights.meta.clone(), &com.valid(), &rec_kept)
    }

    /// A fresh Adam, or the one saved inside this stage.
    fn stage_optimizer<M: AutodiffModule<B>>(
        &mut self,
        module: &M,
    ) -> Result<OptimizerAdaptor<Adam, M, B>, String> {
        let optim = AdamConfig::new().init();
        match self.saved_moments.take() {
            Some(saved) if self.state.stage_step > 0 => restore_moments(module, optim, saved),
            _ => Ok(optim),
        }
    }

    /// One RecCNN stage; `None` when stopped inside it.
    #[allow(clippy::too_many_arguments)]
    fn rec_stage(
        &mut self,
        images: &[&GrayImage],
        codec: &dyn CompactCodec,
        dev: &[GrayImage],
        stage: usize,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<Option<f64>, String> {
        let opts = self.state.options.clone();
        // Inputs through the frozen ComCNN and the real codec, once per stage (again on a
        // resume inside the stage: ComCNN has not changed, so neither have they).
        let pairs = reccnn_inputs(&self.weights, images, codec)?;
        let device: B::Device = Default::default();
        let mut for_training = self.weights.clone();
        shift_running_var(&mut for_training, -(TRAIN_BN_EPSILON as f32));
        let mut rec: RecCnn<B> = for_training.reccnn(&device);
        use_training_epsilon(&mut rec);
        let mut optim = self.stage_optimizer(&rec)?;
        let mut rng = Rng(self.state.rng);
        let mut total = self.state.stage_loss_sum;
        for step in self.state.stage_step..opts.steps_per_stage {
            let (mut inp, mut tgt) = (vec![], vec![]);
            for _ in 0..opts.batch {
                let (up, orig) = &pairs[rng.below(pairs.len())];
                let (x, y) = (
                    rng.below(up.width - opts.patch + 1),
                    rng.below(up.height - opts.patch + 1),
                );
                let aug = rng.below(8);
                let u = patch_of(up, x, y, opts.patch, aug);
                let o = patch_of(orig, x, y, opts.patch, aug);
                tgt.extend(u.iter().zip(&o).map(|(a, b)| a - b));
                inp.extend(u);
            }
            let shape = [opts.batch, 1, opts.patch, opts.patch];
            let input = Tensor::<B, 4>::from_data(TensorData::new(inp, shape), &device);
            let target = Tensor::<B, 4>::from_data(TensorData::new(tgt, shape), &device);
            let residual = rec_forward(&rec, input, opts.fast_conv_backward);
            let loss = match opts.loss_margin {
                0 => mse(residual, target),
                m => {
                    // Only pixels whose receptive field stays inside the patch (as almost all
                    // of a whole image's do) count.
                    let inner = [0..opts.batch, 0..1, m..opts.patch - m, m..opts.patch - m];
                    mse(residual.slice(inner.clone()), target.slice(inner))
                }
            };
            let at = StepReport {
                stage,
                network: "RecCNN",
                step,
                steps: opts.steps_per_stage,
                loss: 0.0,
                lr: lr_at(opts.rec_lr, step, opts.steps_per_stage),
            };
            let value;
            (rec, value) = descend(rec, &mut optim, loss, at, report);
            total += value;
            if self.curve_due(step + 1, dev) {
                let now = self.with_reccnn(&rec);
                self.add_curve_point(&now, dev, codec, stage, "RecCNN", step + 1, dir)?;
            }
            match self.after_step(step + 1, opts.steps_per_stage) {
                AfterStep::Continue => {}
                then => {
                    let now = self.with_reccnn(&rec);
                    self.save_inside_stage(dir, now, &rec, &optim, step + 1, total, &rng)?;
                    if let AfterStep::SaveAndStop = then {
                        return Ok(None);
                    }
                }
            }
        }
        self.state.rng = rng.0;
        self.weights = self.with_reccnn(&rec);
        Ok(Some(total / opts.steps_per_stage as f64))
    }

    /// One ComCNN stage; `None` when stopped inside it.
    #[allow(clippy::too_many_arguments)]
    fn com_stage(
        &mut self,
        images: &[&GrayImage],
        codec: &dyn CompactCodec,
        dev: &[GrayImage],
        stage: usize,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<Option<f64>, String> {
        let opts = self.state.options.clone();
        let device: B::Device = Default::default();
        let mut com: ComCnn<B> = self.weights.comcnn(&device);
        // RecCNN frozen in inference form; only ComCNN's parameters are stepped.
        let rec: RecCnn<B> = self.weights.reccnn_folded(&device).no_grad();
        let (p, h) = (opts.patch, opts.patch / 2);
        let up_matrix =
            Tensor::<B, 2>::from_data(TensorData::new(resize_matrix(h, p), [p, h]), &device);
        let up_rows = up_matrix
            .clone()
            .reshape([1, 1, p, h])
            .repeat_dim(0, opts.batch);
        let up_cols = up_matrix
            .transpose()
            .reshape([1, 1, h, p])
            .repeat_dim(0, opts.batch);
        let proxy =
            match opts.com_surrogate {
                ComSurrogate::Identity => None,
                ComSurrogate::Jpeg if self.weights.meta.codec == "jpeg" => Some(
                    JpegProxy::<B>::new(h, h, self.weights.meta.quality, &device),
                ),
                ComSurrogate::Jpeg => {
                    return Err(format!(
                        "the JPEG proxy stands in for JPEG; this model's codec is {}",
                        self.weights.meta.codec
                    ))
                }
            };
        let originals: Vec<Plane> = images.iter().map(|i| i.to_unit()).collect();
        let mut optim = self.stage_optimizer(&com)?;
        let mut rng = Rng(self.state.rng);
        let mut total = self.state.stage_loss_sum;
        for step in self.state.stage_step..opts.steps_per_stage {
            let mut inp = vec![];
            for _ in 0..opts.batch {
                let orig = &originals[rng.below(originals.len())];
                let (x, y) = (
                    rng.below(orig.width - p + 1),
                    rng.below(orig.height - p + 1),
                );
                inp.extend(patch_of(orig, x, y, p, rng.below(8)));
            }
            let x = Tensor::<B, 4>::from_data(TensorData::new(inp, [opts.batch, 1, p, p]), &device);
            // [b, 1, p, p] -> [b, 1, p/2, p/2] -> bicubic x2 -> [b, 1, p, p]
            let compact = com.forward(x.clone());
            let compact = match &proxy {
                Some(proxy) => proxy.forward(compact),
                None => compact,
            };
            let up = up_rows.clone().matmul(compact).matmul(up_cols.clone());
            let restored = up.clone() - rec_forward(&rec, up, opts.fast_conv_backward);
            let loss = mse(restored, x);
            let at = StepReport {
                stage,
                network: "ComCNN",
                step,
                steps: opts.steps_per_stage,
                loss: 0.0,
                lr: lr_at(opts.com_lr, step, opts.steps_per_stage),
            };
            let value;
            (com, value) = descend(com, &mut optim, loss, at, report);
            total += value;
            if self.curve_due(step + 1, dev) {
                let now = self.with_comcnn(&com);
                self.add_curve_point(&now, dev, codec, stage, "ComCNN", step + 1, dir)?;
            }
            match self.after_step(step + 1, opts.steps_per_stage) {
                AfterStep::Continue => {}
                then => {
                    let now = self.with_comcnn(&com);
                    self.save_inside_stage(dir, now, &com, &optim, step + 1, total, &rng)?;
                    if let AfterStep::SaveAndStop = then {
                        return Ok(None);
                    }
                }
            }
        }
        self.state.rng = rng.0;
        self.weights = self.with_comcnn(&com);
        Ok(Some(total / opts.steps_per_stage as f64))
    }
}

/// One parameter's Adam moments, saved with a checkpoint taken inside a stage.
#[derive(Clone, Debug, PartialEq)]
struct Moments {
    time: usize,
    shape: Vec<usize>,
    first: Vec<f32>,
    second: Vec<f32>,
}

/// Collects each parameter's Adam moments in the module's visiting order (parameter ids are
/// not stable across runs; the order is).
struct CollectMoments<'a, B: AutodiffBackend> {
    lookup: &'a dyn Fn(&ParamId) -> Option<AdaptorRecord<Adam, B>>,
    out: Vec<Option<Moments>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for CollectMoments<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let moments = (self.lookup)(&param.id).map(|record| {
            let state: AdamState<B::InnerBackend, D> = record.into_state();
            let m = state.momentum;
            Moments {
                time: m.time,
                shape: m.moment_1.dims().to_vec(),
                first: m.moment_1.into_data().to_vec::<f32>().unwrap_or_default(),
                second: m.moment_2.into_data().to_vec::<f32>().unwrap_or_default(),
            }
        });
        self.out.push(moments);
    }
}

/// Rebuilds Adam's records for a freshly built module from moments saved in visiting order.
struct RestoreMoments<B: AutodiffBackend> {
    saved: VecDeque<Option<Moments>>,
    records: Vec<(ParamId, AdaptorRecord<Adam, B>)>,
    error: Option<String>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for RestoreMoments<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some(saved) = self.saved.pop_front() else {
            self.error =
                Some("the saved optimiser state has fewer parameters than the network".into());
            return;
        };
        let Some(m) = saved else { return };
        let dims = param.val().dims().to_vec();
        if m.shape != dims || m.first.len() != m.second.len() {
            self.error = Some(format!(
                "the saved optimiser state has shape {:?} where the network has {dims:?}",
                m.shape
            ));
            return;
        }
        let device = param.val().device();
        let tensor = |v: Vec<f32>| {
            Tensor::<B::InnerBackend, D>::from_data(TensorData::new(v, m.shape.clone()), &device)
        };
        let state = AdamState::new(AdaptiveMomentumState::new(
            m.time,
            tensor(m.first.clone()),
            tensor(m.second.clone()),
        ));
        self.records
            .push((param.id, AdaptorRecord::from_state(state)));
    }
}

fn collect_moments<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    optim: &OptimizerAdaptor<Adam, M, B>,
) -> Vec<Option<Moments>> {
    let records = optim.to_record();
    let lookup = |id: &ParamId| records.get(id).cloned();
    let mut visitor = CollectMoments {
        lookup: &lookup,
        out: vec![],
    };
    module.visit(&mut visitor);
    visitor.out
}

fn restore_moments<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    optim: OptimizerAdaptor<Adam, M, B>,
    saved: Vec<Option<Moments>>,
) -> Result<OptimizerAdaptor<Adam, M, B>, String> {
    let mut visitor = RestoreMoments {
        saved: saved.into(),
        records: vec![],
        error: None,
    };
    module.visit(&mut visitor);
    if let Some(e) = visitor.error {
        return Err(e);
    }
    if !visitor.saved.is_empty() {
        return Err("the saved optimiser state has more parameters than the network".into());
    }
    let mut records = optim.to_record();
    records.extend(visitor.records);
    Ok(optim.load_record(records))
}

const MOMENTS_MAGIC: &[u8; 8] = b"CNNADAM1";

/// Writes moments (tied to the model with content hash `model_hash`) atomically:
/// magic, hash, count, then per parameter a presence byte, time, shape and both moments (LE).
fn write_moments(path: &Path, model_hash: &str, moments: &[Option<Moments>]) -> Result<(), String> {
    let mut out = Vec::new();
    out.extend_from_slice(MOMENTS_MAGIC);
    out.extend_from_slice(&(model_hash.len() as u32).to_le_bytes());
    out.extend_from_slice(model_hash.as_bytes());
    out.extend_from_slice(&(moments.len() as u32).to_le_bytes());
    for m in moments {
        let Some(m) = m else {
            out.push(0);
            continue;
        };
        out.push(1);
        out.extend_from_slice(&(m.time as u64).to_le_bytes());
        out.extend_from_slice(&(m.shape.len() as u32).to_le_bytes());
        for d in &m.shape {
            out.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        for v in m.first.iter().chain(&m.second) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let tmp = path.with_extension("partial-adam");
    std::fs::write(&tmp, out)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads what [`write_moments`] wrote, checking it belongs to the model `model_hash`.
fn read_moments(path: &Path, model_hash: &str) -> Result<Vec<Option<Moments>>, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e} (a checkpoint inside a stage needs the optimiser state saved with it)",
            path.display()
        )
    })?;
    let bad = || {
        format!(
            "{}: not an optimiser state of this checkpoint; restart the run or restore the checkpoint's files",
            path.display()
        )
    };
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let s = bytes.get(at..at + n).ok_or_else(bad)?;
        at += n;
        Ok(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap()) as usize;
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap()) as usize;
    if take(8)? != MOMENTS_MAGIC {
        return Err(bad());
    }
    let hash_len = u32_of(take(4)?);
    if take(hash_len)? != model_hash.as_bytes() {
        return Err(bad());
    }
    let count = u32_of(take(4)?);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if take(1)?[0] == 0 {
            out.push(None);
            continue;
        }
        let time = u64_of(take(8)?);
        let dims = u32_of(take(4)?);
        let shape = (0..dims)
            .map(|_| take(8).map(u64_of))
            .collect::<Result<Vec<_>, _>>()?;
        let n: usize = shape.iter().product();
        let floats = |b: &[u8]| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<_>>()
        };
        let first = floats(take(n * 4)?);
        let second = floats(take(n * 4)?);
        out.push(Some(Moments {
            time,
            shape,
            first,
            second,
        }));
    }
    Ok(out)
}

/// Mean PSNR (dB) of the framework with `weights` over `images`, through `codec`.
pub fn dev_psnr(
    weights: &ModelWeights,
    images: &[GrayImage],
    codec: &dyn CompactCodec,
) -> Result<f64, String> {
    let engine = crate::cpu::CpuEngine::new(weights);
    codec.start_pass();
    let mut total = 0.0;
    for img in images {
        let decoded = codec.code(&compress_luma(&engine, img))?;
        let restored = restore_luma(&engine, &decoded, img.width, img.height);
        total += crate::metrics::psnr(img, &restored).min(100.0);
    }
    Ok(total / images.len().max(1) as f64)
}

/// How a run from nothing starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitScheme {
    /// MatConvNet-style, as the paper's DnCNN-derived code: every conv weight drawn from
    /// N(0, 2 / fan_in) (He), biases 0; BatchNorm gamma 1, beta 0, mean 0, variance 1.
    MatConvNet,
    /// [`InitScheme::MatConvNet`], then shaped so the untrained pair is a plain codec:
    /// ComCNN starts as a 2x2 mean down-sampler (one channel carries the image) and RecCNN's
    /// last layer at zero (output = bicubic up-sample). Training then starts from the
    /// down-sample/up-sample baseline instead of noise.
    Downsampler,
}

impl std::str::FromStr for InitScheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "matconvnet" => Ok(Self::MatConvNet),
            "downsampler" => Ok(Self::Downsampler),
            other => Err(format!(
                "unknown initialisation '{other}': use matconvnet or downsampler (or a model file to start from)"
            )),
        }
    }
}

/// A normal deviate (Box-Muller) from the run's generator.
fn normal(rng: &mut Rng) -> f32 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Re-initialises every tensor of `weights` by `scheme`, reproducibly from `seed`.
pub fn initialise(weights: &mut ModelWeights, scheme: InitScheme, seed: u64) {
    let mut rng = Rng(seed ^ 0x1417_5EED);
    for map in [&mut weights.comcnn, &mut weights.reccnn] {
        for (key, t) in map.iter_mut() {
            let fill = |t: &mut crate::weights::StoredTensor, v: f32| t.data.fill(v);
            if key.ends_with(".weight") {
                let fan_in: usize = t.shape[1..].iter().product();
                let sd = (2.0 / fan_in as f64).sqrt() as f32;
                t.data.iter_mut().for_each(|w| *w = normal(&mut rng) * sd);
            } else if key.ends_with(".gamma") || key.ends_with(".running_var") {
                fill(t, 1.0);
            } else {
                fill(t, 0.0); // biases, beta, running_mean
            }
        }
    }
    if scheme == InitScheme::Downsampler {
        // Weight [out, in, 3, 3] at (o, i, r, c).
        let set = |t: &mut crate::weights::StoredTensor,
                   o: usize,
                   i: usize,
                   r: usize,
                   c: usize,
                   v: f32| {
            let [_, ci, kh, kw] = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
            t.data[((o * ci + i) * kh + r) * kw + c] = v;
        };
        let com = &mut weights.comcnn;
        // conv1: channel 0 copies the image (non-negative, so ReLU keeps it).
        let c1 = com.get_mut("conv1.weight").unwrap();
        let per_out = c1.data.len() / c1.shape[0];
        c1.data[..per_out].fill(0.0);
        set(c1, 0, 0, 1, 1, 1.0);
        // conv2 (stride 2, padding 1): output (i, j) sees inputs 2i-1..2i+1; taps (1..=2,
        // 1..=2) average the 2x2 block at (2i, 2j).
        let c2 = com.get_mut("conv2.weight").unwrap();
        let per_out = c2.data.len() / c2.shape[0];
        c2.data[..per_out].fill(0.0);
        for (r, c) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            set(c2, 0, 0, r, c, 0.25);
        }
        // conv3: the output is channel 0 alone.
        let c3 = com.get_mut("conv3.weight").unwrap();
        c3.data.fill(0.0);
        set(c3, 0, 0, 1, 1, 1.0);
        let last = format!("conv{}.weight", weights.meta.reccnn.depth);
        weights.reccnn.get_mut(&last).unwrap().data.fill(0.0);
    }
    weights.meta.content_hash = crate::weights::content_hash(&weights.comcnn, &weights.reccnn);
}

/// The model file of a run's checkpoint (the latest finished stage, or a point inside one).
pub fn checkpoint_model(dir: &Path) -> PathBuf {
    dir.join("checkpoint.cnnmodel")
}

/// Adam's moments of a checkpoint taken inside a stage.
pub fn checkpoint_moments(dir: &Path) -> PathBuf {
    dir.join("checkpoint.adam")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::model::{ComCnnConfig, RecCnnConfig};

    #[test]
    fn scaled_images_keep_the_originals_and_add_smaller_copies() {
        let img = GrayImage::new(
            30,
            21,
            (0..30 * 21)
                .map(|i| (i % 7 * 30) as u8)
                .collect::<Vec<u8>>(),
        );
        let flat = GrayImage::new(10, 10, vec![77; 100]);
        let out = scaled_images(&[img.clone(), flat], &[1.0, 0.5]);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].data, img.data);
        assert_eq!((out[2].width, out[2].height), (15, 11));
        assert_eq!((out[3].width, out[3].height), (5, 5));
        // Resampling keeps a flat image flat (weights sum to 1).
        assert!(out[3].data.iter().all(|&v| v == 77), "{:?}", out[3].data);
    }

    #[test]
    fn patches_cover_the_eight_dihedral_transforms() {
        let p = Plane::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let mut seen: Vec<Vec<f32>> = (0..8).map(|a| patch_of(&p, 0, 0, 2, a)).collect();
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        seen.dedup();
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn downsampler_start_is_a_plain_down_and_up_sample() {
        let mut m = ModelWeights::random(
            "init",
            ComCnnConfig::new().with_features(5),
            RecCnnConfig::new().with_features(5).with_depth(4),
            3,
        );
        initialise(&mut m, InitScheme::Downsampler, 9);
        let engine = crate::engine::BurnEngine::<CpuBackend>::new(&m, Default::default());
        let (w, h) = (7, 6);
        let img = Plane::new(
            w,
            h,
            (0..w * h).map(|i| (i * 37 % 101) as f32 / 100.0).collect(),
        );
        let compact = engine.compact(&img);
        assert_eq!((compact.width, compact.height), (4, 3));
        for y in 0..3 {
            for x in 0..3 {
                let at = |r: usize, c: usize| img.data[r * w + c];
                let mean = (at(2 * y, 2 * x)
                    + at(2 * y, 2 * x + 1)
                    + at(2 * y + 1, 2 * x)
                    + at(2 * y + 1, 2 * x + 1))
                    / 4.0;
                let got = compact.data[y * 4 + x];
                assert!((got - mean).abs() < 1e-6, "({x},{y}): {got} vs {mean}");
            }
        }
        let residual = engine.residual(&img);
        assert!(residual.data.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn matconvnet_start_has_he_scaled_weights_and_zero_biases() {
        let mut m = ModelWeights::random(
            "init",
            ComCnnConfig::new().with_features(16),
            RecCnnConfig::new().with_features(16).with_depth(3),
            3,
        );
        initialise(&mut m, InitScheme::MatConvNet, 1);
        let w = &m.reccnn["conv2.weight"].data;
        let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        let want = 2.0 / (16.0 * 9.0);
        assert!((var / want - 1.0).abs() < 0.15, "variance {var} vs {want}");
        assert!(m.reccnn["conv2.bias"].data.iter().all(|b| *b == 0.0));
        assert!(m.reccnn["bn2.gamma"].data.iter().all(|g| *g == 1.0));
    }

    #[test]
    fn learning_rate_decays_log_linearly() {
        assert!((lr_at((1e-3, 1e-5), 0, 11) - 1e-3).abs() < 1e-15);
        assert!((lr_at((1e-3, 1e-5), 5, 11) - 1e-4).abs() < 1e-12);
        assert!((lr_at((1e-3, 1e-5), 10, 11) - 1e-5).abs() < 1e-15);
    }

    #[test]
    fn folded_reccnn_computes_what_the_batchnorm_one_does() {
        let mut m = ModelWeights::random(
            "bn",
            ComCnnConfig::new().with_features(3),
            RecCnnConfig::new().with_features(3).with_depth(4),
            5,
        );
        // Non-trivial statistics and scales.
        for (k, t) in m.reccnn.iter_mut() {
            if k.ends_with("gamma") {
                t.data
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.7 + 0.4 * i as f32);
            }
            if k.ends_with("running_var") {
                t.data
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.5 + i as f32);
            }
            if k.ends_with("running_mean") || k.ends_with("beta") {
                t.data
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = 0.1 * i as f32 - 0.05);
            }
        }
        let device = Default::default();
        let x = Tensor::<CpuBackend, 4>::from_data(
            TensorData::new(
                (0..35).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
                [1, 1, 5, 7],
            ),
            &device,
        );
        let a = m
            .reccnn::<CpuBackend>(&device)
            .forward(x.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let b = m
            .reccnn_folded::<CpuBackend>(&device)
            .forward(x)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
    }

    #[test]
    fn the_run_stops_when_the_development_psnr_stops_improving() {
        let images: Vec<GrayImage> = (0..2)
            .map(|s| {
                GrayImage::new(
                    24,
                    20,
                    (0..24 * 20)
                        .map(|i| ((i * 7 + s * 50) % 256) as u8)
                        .collect(),
                )
            })
            .collect();
        let start = ModelWeights::random(
            "stop",
            ComCnnConfig::new().with_features(4),
            RecCnnConfig::new().with_features(4).with_depth(3),
            2,
        );
        let options = TrainOptions {
            patch: 8,
            batch: 2,
            steps_per_stage: 2,
            stages: 9,
            // No stage of two steps gains this much: stop at the second measurement.
            min_dev_gain_db: Some(1000.0),
            ..Default::default()
        };
        let dir = std::env::temp_dir().join(format!("cnncodec-stop-{}", std::process::id()));
        let mut t = Trainer::<TrainBackend>::new(start, options).unwrap();
        t.run(
            &images[..1],
            &images[1..],
            &IdentityCodec,
            Some(&dir),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(t.state.stages_done, 3, "R, C, R, then stop");
        assert_eq!(
            t.state.dev_psnr.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert!(dir.join("best.cnnmodel").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Three small textured images for the training tests.
    /// A 6-feature ComCNN and a 6 x 4 RecCNN, with or without BatchNorm.
    fn tiny_model(batch_norm: bool) -> ModelWeights {
        ModelWeights::random(
            "tiny",
            ComCnnConfig::new().with_features(6),
            RecCnnConfig::new()
                .with_features(6)
                .with_depth(4)
                .with_batch_norm(batch_norm),
            5,
        )
    }

    fn tiny_images() -> Vec<GrayImage> {
        (0..3)
            .map(|s| {
                GrayImage::new(
                    48,
                    40,
                    (0..48 * 40)
                        .map(|i| {
                            let (x, y) = ((i % 48) as f32, (i / 48) as f32);
                            (128.0 + 90.0 * ((x * 0.3 + s as f32).sin() * (y * 0.2).cos())) as u8
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_learning_curve_has_a_point_every_n_steps_and_survives_a_resume() {
        let images = tiny_images();
        let start = tiny_model(true);
        let options = TrainOptions {
            patch: 16,
            batch: 4,
            steps_per_stage: 10,
            stages: 2,
            curve_every: 4,
            ..Default::default()
        };
        let mut whole = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
        whole
            .run(&images, &images, &IdentityCodec, None, &mut |_| {})
            .unwrap();
        let steps: Vec<_> = whole.state.curve.iter().map(|p| p.step).collect();
        assert_eq!(steps, [0, 4, 8, 10, 14, 18, 20]);
        assert_eq!(whole.state.curve[0].network, "start");
        assert_eq!(whole.state.curve[4].network, "ComCNN");
        assert!(whole.state.curve.iter().all(|p| p.dev_psnr.is_finite()));
        // The final point measures the final weights.
        let last = dev_psnr(&whole.weights, &images, &IdentityCodec).unwrap();
        assert!((whole.state.curve[6].dev_psnr - last).abs() < 1e-9);
        let first = dev_psnr(&start, &images, &IdentityCodec).unwrap();
        assert!((whole.state.curve[0].dev_psnr - first).abs() < 1e-9);

        let dir = std::env::temp_dir().join(format!("cnncodec-curve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut trainer = Trainer::<TrainBackend>::new(start, options).unwrap();
        trainer.stop_after = Some(7);
        trainer
            .run(&images, &images, &IdentityCodec, Some(&dir), &mut |_| {})
            .unwrap();
        let mut trainer = Trainer::<TrainBackend>::resume(&dir).unwrap();
        trainer
            .run(&images, &images, &IdentityCodec, Some(&dir), &mut |_| {})
            .unwrap();
        assert_eq!(trainer.state.curve, whole.state.curve);
        let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
        assert_eq!(csv, curve_csv(&whole.state.curve));
        assert!(csv.starts_with("step,stage,network,dev_psnr\n0,0,start,"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loss_margin_proxy_surrogate_and_a_reccnn_without_batch_norm_train() {
        let images = tiny_images();
        let start = tiny_model(false);
        assert!(!start.reccnn.contains_key("bn2.gamma"));
        let options = TrainOptions {
            patch: 16,
            batch: 4,
            steps_per_stage: 6,
            stages: 2,
            loss_margin: 3,
            com_surrogate: ComSurrogate::Jpeg,
            ..Default::default()
        };
        let mut with = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
        with.run(&images, &[], &IdentityCodec, None, &mut |_| {})
            .unwrap();
        let plain = TrainOptions {
            loss_margin: 0,
            com_surrogate: ComSurrogate::Identity,
            ..options.clone()
        };
        let mut without = Trainer::<TrainBackend>::new(start.clone(), plain).unwrap();
        without
            .run(&images, &[], &IdentityCodec, None, &mut |_| {})
            .unwrap();
        // Both options change what is learnt (same seed, same patches).
        assert_ne!(with.state.stage_losses[0], without.state.stage_losses[0]);
        assert_ne!(with.weights.comcnn, without.weights.comcnn);
        assert!(with.state.stage_losses.iter().all(|l| l.is_finite()));
        // A margin that leaves nothing is refused.
        let too_wide = TrainOptions {
            loss_margin: 8,
            ..options.clone()
        };
        assert!(Trainer::<TrainBackend>::new(start.clone(), too_wide).is_err());
        // The proxy stands in for JPEG only.
        let mut j2k = start;
        j2k.meta.codec = "jpeg2000".into();
        let mut t = Trainer::<TrainBackend>::new(
            j2k,
            TrainOptions {
                comcnn_first: true,
                ..options
            },
        )
        .unwrap();
        let err = t
            .run(&images, &[], &IdentityCodec, None, &mut |_| {})
            .unwrap_err();
        assert!(err.contains("JPEG proxy"), "{err}");
    }

    #[test]
    fn interrupted_inside_stages_the_run_resumes_with_the_same_losses_and_weights() {
        let images = tiny_images();
        let start = tiny_model(true);
        let options = TrainOptions {
            patch: 16,
            batch: 4,
            steps_per_stage: 12,
            stages: 2,
            ..Default::default()
        };
        let mut whole = vec![];
        let mut uninterrupted =
            Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
        let end = uninterrupted
            .run(&images, &[], &IdentityCodec, None, &mut |r| {
                whole.push((r.stage, r.step, r.loss))
            })
            .unwrap();
        assert_eq!(end, RunEnd::Finished);

        // Stopped every 5 steps (inside the RecCNN stage, inside the ComCNN stage, and once
        // at the boundary between them), resumed from the files each time.
        let dir = std::env::temp_dir().join(format!("cnncodec-inside-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut pieces = vec![];
        let mut trainer = Trainer::<TrainBackend>::new(start, options).unwrap();
        let mut calls = 0;
        loop {
            trainer.stop_after = Some(5);
            let end = trainer
                .run(&images, &[], &IdentityCodec, Some(&dir), &mut |r| {
                    pieces.push((r.stage, r.step, r.loss))
                })
                .unwrap();
            calls += 1;
            if end == RunEnd::Finished {
                break;
            }
            assert!(calls < 10, "the run never finishes");
            trainer = Trainer::<TrainBackend>::resume(&dir).unwrap();
        }
        assert_eq!(calls, 5, "12 + 12 steps in pieces of at most 5");
        assert_eq!(pieces, whole, "the resumed run's losses differ");
        for (net, a, b) in [
            (
                "comcnn",
                &trainer.weights.comcnn,
                &uninterrupted.weights.comcnn,
            ),
            (
                "reccnn",
                &trainer.weights.reccnn,
                &uninterrupted.weights.reccnn,
            ),
        ] {
            for (k, t) in a.iter() {
                for (u, v) in t.data.iter().zip(&b[k].data) {
                    // Exact but for rounding in the stored BatchNorm variance's epsilon.
                    assert!(
                        (u - v).abs() <= 1e-6 * (1.0 + v.abs()),
                        "{net} {k}: {u} vs {v}"
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_checkpoint_inside_a_stage_needs_its_own_optimiser_state() {
        let images = tiny_images();
        let start = ModelWeights::random(
            "tiny",
            ComCnnConfig::new().with_features(4),
            RecCnnConfig::new().with_features(4).with_depth(3),
            6,
        );
        let options = TrainOptions {
            patch: 16,
            batch: 2,
            steps_per_stage: 6,
            stages: 1,
            checkpoint_every: 2,
            ..Default::default()
        };
        let dir = std::env::temp_dir().join(format!("cnncodec-adam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = Trainer::<TrainBackend>::new(start, options).unwrap();
        t.stop_after = Some(3);
        assert_eq!(
            t.run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
                .unwrap(),
            RunEnd::Stopped
        );
        assert_eq!(
            Trainer::<TrainBackend>::resume(&dir)
                .unwrap()
                .state
                .stage_step,
            3
        );
        std::fs::write(checkpoint_moments(&dir), b"CNNADAM1 truncated").unwrap();
        let err = Trainer::<TrainBackend>::resume(&dir).err().unwrap();
        assert!(
            err.contains("not an optimiser state of this checkpoint"),
            "{err}"
        );
        std::fs::remove_file(checkpoint_moments(&dir)).unwrap();
        let err = Trainer::<TrainBackend>::resume(&dir).err().unwrap();
        assert!(err.contains("needs the optimiser state"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_few_steps_lower_the_loss_and_resume_continues_the_same_run() {
        let images = tiny_images();
        let start = ModelWeights::random(
            "tiny",
            ComCnnConfig::new().with_features(8),
            RecCnnConfig::new().with_features(8).with_depth(4),
            11,
        );
        let options = TrainOptions {
            patch: 16,
            batch: 8,
            steps_per_stage: 30,
            stages: 2,
            ..Default::default()
        };
        let mut losses = vec![];
        let mut trainer = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
        trainer
            .run(&images, &[], &IdentityCodec, None, &mut |r| {
                if r.network == "RecCNN" {
                    losses.push(r.loss)
                }
            })
            .unwrap();
        let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
        assert!(last < first * 0.8, "RecCNN loss {first} -> {last}");
        assert_eq!(trainer.state.stage_losses.len(), 2);

        // Interrupted after one stage, resumed: the same weights as the uninterrupted run.
        let dir = std::env::temp_dir().join(format!("cnncodec-train-{}", std::process::id()));
        let mut first_half = Trainer::<TrainBackend>::new(
            start,
            TrainOptions {
                stages: 1,
                ..options
            },
        )
        .unwrap();
        first_half
            .run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
            .unwrap();
        let mut resumed = Trainer::<TrainBackend>::resume(&dir).unwrap();
        resumed.state.options.stages = 2;
        resumed
            .run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
            .unwrap();
        assert_eq!(
            resumed.weights.meta.content_hash,
            trainer.weights.meta.content_hash
        );
    }
}
