//! `cnncodec train`: the paper's alternating optimisation with the stock codec elements in
//! the loop (`jpegenc`/`jpegdec`, or the plugin's `j2kenc` and stock `openjpegdec` with
//! `--codec j2k`), checkpointed after every stage and every `--checkpoint-every` steps inside
//! one (default 100); writes a model file with its provenance.
//!
//! ```text
//! cnncodec train --out runs/q50 [--codec jpeg|j2k] [--quality 50] [--split train] [--data DIR]
//!     [--stages 4] [--steps 200] [--batch 16] [--patch 40] [--features 64] [--depth 20] [--seed 1]
//! ```
//! `--quality` is the compact JPEG quality, or with `--codec j2k` the compact image's
//! compression ratio (8 = 1 bpp on the compact image, about 0.25 bpp on the original).
//! Re-running the command resumes from `OUT/checkpoint.*` (the checkpoint's options win, but
//! `--stages` may extend the run). `--stop-after N` stops after N steps, checkpointed, as an
//! interruption would (to try resuming). `--curve-every N` measures the development PSNR on
//! `dev-eval` (never trained on) every N steps and at each stage's end into `OUT/curve.csv`.
//! `--rec-init fold` trains a model's RecCNN in inference form (BatchNorm folded);
//! `--batch-norm no` builds a new RecCNN without BatchNorm. `--com-surrogate jpeg` trains
//! ComCNN through a differentiable JPEG proxy at the model's quality instead of the identity.
//! `--loss-margin M` leaves M pixels at each patch edge out of RecCNN's loss. `--backend cuda`
//! (a build with the `cuda` feature) trains on the first CUDA device with burn's layers.
//!
//! The command's parts: `resume.rs` (a run's checkpoint and what may change on resuming),
//! `start.rs` (a new run's options and first model), `run.rs` (the loop, its log and
//! progress bar, and the model it writes).

mod resume;
mod run;
mod start;

use std::path::PathBuf;

use cnncodec::frame::image::read_png_luma;

use crate::args::{
    BackendArg, CodecArg, ConvBackward, FirstStage, ImageArgs, PatchArgs, RecInit, Surrogate, YesNo,
};

/// Train a model; re-running the same command resumes from the checkpoint in --out.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The run's folder: checkpoint, train.log, curve.csv and model.cnnmodel
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub codec: CodecArg,
    /// The compact image's JPEG quality, J2K compression ratio (--codec j2k), HEVC QP (--codec
    /// hevc), or bits per 1000 original pixels per frame of a recording (--codec h264|h265:
    /// the training images are its frames, in order) [default: 50; 8, 38, 20]
    #[arg(long, value_name = "Q|RATIO")]
    pub quality: Option<u32>,
    /// Train one model over several operating points, cycling image by image
    #[arg(long, value_name = "Q,Q...")]
    pub mix_qualities: Option<String>,
    #[command(flatten)]
    pub images: ImageArgs,
    /// Stages in all, alternating between the networks (resuming may raise it) [default: 4]
    #[arg(long, value_name = "N")]
    pub stages: Option<usize>,
    /// Steps per stage
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub steps: usize,
    /// matconvnet or downsampler initialisation, or a model (file or built-in name) to start
    /// from
    #[arg(
        long,
        value_name = "matconvnet|downsampler|MODEL",
        default_value = "matconvnet"
    )]
    pub init: String,
    /// How RecCNN starts from --init MODEL
    #[arg(long, value_enum)]
    pub rec_init: Option<RecInit>,
    /// With --init MODEL: put this model's ComCNN in MODEL's place (a ladder model's RecCNN
    /// trained on behind a new ComCNN; ComCNN stages, if any, then train that ComCNN on)
    #[arg(long, value_name = "MODEL")]
    pub comcnn_from: Option<String>,
    /// Whether a new RecCNN has BatchNorm (no: trained in inference form) [default: yes]
    #[arg(long, value_enum)]
    pub batch_norm: Option<YesNo>,
    /// Which network the first stage trains
    #[arg(long, value_enum, default_value_t = FirstStage::Rec)]
    pub first_stage: FirstStage,
    /// RecCNN's learning rate over each of its stages, START:END (or one constant rate)
    #[arg(long, value_name = "A:B")]
    pub rec_lr: Option<String>,
    /// ComCNN's learning rate over each of its stages, START:END (or one constant rate)
    #[arg(long, value_name = "A:B")]
    pub com_lr: Option<String>,
    /// The codec's stand-in while ComCNN trains [default: identity]
    #[arg(long, value_enum)]
    pub com_surrogate: Option<Surrogate>,
    /// Stop when a RecCNN stage gains less than this on dev-eval, dB
    #[arg(long, value_name = "DB", allow_negative_numbers = true)]
    pub stop_gain: Option<f64>,
    /// The training images at these scales (0.1-1, 1 = as stored) [default: 1]
    #[arg(long, value_name = "F,F...")]
    pub scales: Option<String>,
    /// RecCNN's convolution backward [default: fast]
    #[arg(long, value_enum)]
    pub conv_backward: Option<ConvBackward>,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Checkpoint every N steps inside a stage (0: after each stage only) [default: 100]
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Measure the dev-eval PSNR every N steps into curve.csv (0: never) [default: 0]
    #[arg(long, value_name = "N")]
    pub curve_every: Option<usize>,
    /// Stop after N steps, checkpointed, as an interruption would
    #[arg(long, value_name = "N")]
    pub stop_after: Option<usize>,
    /// The model's name [default: the ladder's name, such as jpeg-q50]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub patches: PatchArgs,
    /// Pixels at each patch edge left out of RecCNN's loss [default: 0]
    #[arg(long, value_name = "N")]
    pub loss_margin: Option<usize>,
    /// RecCNN patches: the hardest (largest error before RecCNN) of N random windows
    /// (1: uniform, the paper's) [default: 1]
    #[arg(long, value_name = "N")]
    pub patch_candidates: Option<usize>,
    /// RecCNN's feature channels [default: 64, or the --init model's]
    #[arg(long, value_name = "N")]
    pub features: Option<usize>,
    /// ComCNN's feature channels [default: --features]
    #[arg(long, value_name = "N")]
    pub com_features: Option<usize>,
    /// RecCNN's layers [default: 20, or the --init model's]
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
}

pub fn run_train(args: &TrainArgs) -> Result<(), String> {
    let codec = args.codec.name();
    let quality = args.quality.unwrap_or(match codec {
        "jpeg" => 50,
        "hevc" => 38,
        "h264" | "h265" => 20,
        _ => 8,
    });
    if !valid_point(codec, quality) {
        return Err(format!(
            "--quality {quality}: expected one of the {}",
            point_range(codec)
        ));
    }
    let (dataset, files) = crate::eval::image_list_for(&args.images, "train")?;
    let images = files
        .iter()
        .map(|f| read_png_luma(f))
        .collect::<Result<Vec<_>, _>>()?;
    if crate::eval::split_names_dev_eval(&args.images) {
        return Err(
            "dev-eval is for measurements only; train on 'train' (or 'train-video')".into(),
        );
    }
    gstcnncodec::runner::init();
    let trainer = if args.out.join("checkpoint.json").exists() {
        resume::resume(args, codec, quality)?
    } else {
        let start = start::Start {
            args,
            codec,
            quality,
            dataset: &dataset,
            images: &images,
        };
        start.trainer()?
    };
    run::run(args, trainer, &images)
}

/// Whether `q` is an operating point of `codec`: a JPEG quality or a J2K compression ratio.
fn valid_point(codec: &str, q: u32) -> bool {
    match codec {
        "jpeg" => (1..=100).contains(&q),
        "hevc" => (0..=51).contains(&q),
        "h264" | "h265" => (1..=1000).contains(&q),
        _ => (2..=10_000).contains(&q),
    }
}

fn point_range(codec: &str) -> &'static str {
    match codec {
        "jpeg" => "JPEG qualities 1-100 such as 10,30,50",
        "hevc" => "HEVC QPs 0-51 such as 30,38",
        "h264" | "h265" => "bits per 1000 original pixels per frame, 1-1000, such as 20",
        _ => "J2K compression ratios 2-10000 such as 4,8,16",
    }
}

/// `--NAME START:END` (or one value for a constant rate).
fn lr_range(value: Option<&str>, name: &str, default: (f64, f64)) -> Result<(f64, f64), String> {
    let Some(v) = value else {
        return Ok(default);
    };
    let bad = || format!("--{name} {v}: expected START:END learning rates, such as 1e-4:1e-5");
    let parse = |s: &str| s.parse::<f64>().ok().filter(|x| *x > 0.0 && x.is_finite());
    match v.split_once(':') {
        Some((a, b)) => Ok((parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?)),
        None => parse(v).map(|x| (x, x)).ok_or_else(bad),
    }
}

/// `--conv-backward`: `Some(true)` for ours (`fast`), `Some(false)` for burn's generic one.
fn fast_backward(args: &TrainArgs) -> Option<bool> {
    args.conv_backward.map(|c| c == ConvBackward::Fast)
}

/// `--scales F,F...`: the training images at these scales (0.1-1, 1 = as stored).
fn scales_option(args: &TrainArgs) -> Result<Option<Vec<f64>>, String> {
    let Some(v) = &args.scales else {
        return Ok(None);
    };
    let bad = || format!("--scales {v}: expected factors between 0.1 and 1, such as 1,0.5");
    let scales = v
        .split(',')
        .map(|f| {
            f.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| (0.1..=1.0).contains(f))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if scales.is_empty() {
        return Err(bad());
    }
    Ok(Some(scales))
}
