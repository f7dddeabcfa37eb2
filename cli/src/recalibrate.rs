//! `cnncodec recalibrate`: a trained model with its RecCNN's BatchNorm statistics measured
//! afresh on training patches (the model's own ComCNN and codec in the loop), in place of the
//! running averages training left (see `cnncodec::train::bnstats`). `--scale` measures them on the
//! training images resized by that factor: how much of a model's result comes from the data
//! its statistics were taken on.
//!
//! ```text
//! cnncodec recalibrate --model jpeg-q50 --out runs/jpeg-q50-stats.cnnmodel
//!     [--split train,train-video] [--data DIR] [--scale 1] [--batches 200] [--batch 16]
//!     [--patch 40] [--seed 1] [--name NAME]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use cnncodec::codec::CompactCodec;
use cnncodec::frame::image::read_png_luma;
use cnncodec::{ModelWeights, Plane};

use crate::args::{ImageArgs, PatchArgs};
use crate::codec::{ModelRef, Stock, StockCodec};

/// The model with its RecCNN's BatchNorm statistics measured afresh on training patches.
#[derive(clap::Args, Debug)]
pub struct RecalibrateArgs {
    /// The model: a file or folder, or a built-in model's name
    #[arg(long, value_name = "PATH|NAME")]
    pub model: String,
    /// The model file to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The new model's name [default: the model's]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub images: ImageArgs,
    /// The factor the training images are resized by (0.1-1)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub scale: f64,
    /// Batches of patches to measure over
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub batches: usize,
    #[command(flatten)]
    pub patches: PatchArgs,
}

pub fn run_recalibrate(args: &RecalibrateArgs) -> Result<(), String> {
    let spec = &args.model;
    let out = &args.out;
    let scale = parse_scale(args.scale)?;
    let PatchArgs { patch, batch, seed } = args.patches;
    let batches = args.batches;
    check_patches(&args.patches, batches)?;
    let model = ModelRef::parse(spec)?.load()?;
    if !model.meta.reccnn.batch_norm {
        return Err(format!(
            "--model {spec}: its RecCNN has no BatchNorm, so there are no statistics to measure"
        ));
    }
    let started = Instant::now();
    let training = TrainingPairs::load(&args.images, &model, scale)?;
    let inputs: Vec<_> = training.pairs.iter().map(|(up, _)| up).collect();
    let mut new = cnncodec::train::bnstats::with_batch_statistics(
        &model,
        &inputs,
        (patch, batch, batches),
        seed,
    )?;
    if let Some(name) = &args.name {
        new.meta.name = name.clone();
    }
    new.meta.provenance = format!(
        "{}; then BatchNorm statistics measured over {} ({} images at scale {scale}, {batches} batches of {batch} patches of {patch} px, seed {seed}) through its ComCNN and {}: command `cnncodec recalibrate {}`, commit {}",
        model.meta.provenance,
        training.dataset,
        training.pairs.len(),
        training.codec,
        crate::command_arguments(),
        option_env!("COMMIT_ID").unwrap_or("unknown")
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    new.save(out).map_err(|e| e.to_string())?;
    println!(
        "recalibrated '{}' on {} images in {:.0} s; written to {}",
        model.meta.name,
        training.pairs.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// `--patch`, `--batch` and `--batches`: something to measure.
pub fn check_patches(patches: &PatchArgs, batches: usize) -> Result<(), String> {
    if patches.patch < 4 || patches.batch == 0 || batches == 0 {
        return Err("--patch must be at least 4, --batch and --batches at least 1".into());
    }
    Ok(())
}

/// `--scale`: the factor training images are resized by (0.1-1).
pub fn parse_scale(scale: f64) -> Result<f64, String> {
    if !(0.1..=1.0).contains(&scale) {
        return Err(format!("--scale {scale}: use a factor between 0.1 and 1"));
    }
    Ok(scale)
}

/// RecCNN's training pairs (input, original) for a model, from the training images chosen by
/// `--split`/`--data`/image arguments at `scale`, through the model's ComCNN and stock codec.
pub struct TrainingPairs {
    pub dataset: String,
    pub codec: String,
    pub pairs: Vec<(Plane, Plane)>,
}

impl TrainingPairs {
    pub fn load(args: &ImageArgs, model: &ModelWeights, scale: f64) -> Result<Self, String> {
        if crate::eval::split_names_dev_eval(args) {
            return Err(
                "dev-eval is for measurements only; use 'train' (or 'train-video') images".into(),
            );
        }
        let (dataset, files) = crate::eval::image_list_for(args, "train,train-video")?;
        let images = files
            .iter()
            .map(|f| read_png_luma(f))
            .collect::<Result<Vec<_>, _>>()?;
        let images = cnncodec::train::scaled_images(&images, &[scale]);
        gstcnncodec::runner::init();
        let codec = StockCodec(Stock::for_model(&model.meta.codec, model.meta.quality)?);
        let refs: Vec<_> = images.iter().collect();
        let pairs = cnncodec::train::reccnn_inputs(model, &refs, &codec)?;
        Ok(Self {
            dataset,
            codec: codec.describe(),
            pairs,
        })
    }
}
