//! `cnncodec form-loss`: the training loss of RecCNNs on the same batches of training
//! patches, in inference form (stored BatchNorm statistics, as the elements run it) and in
//! training form (each batch normalised by its own statistics): whether what training lowers
//! carries over to inference, and how two models compare on patches of a given size and scale
//! (see `cnncodec::train::bnstats::form_losses`). The patches come through the first model's ComCNN
//! and codec, so models compared this way should share their ComCNN.
//!
//! ```text
//! cnncodec form-loss --model A --model B [--split train,train-video] [--data DIR]
//!     [--scale 1] [--patch 40] [--batch 16] [--batches 20] [--seed 1]
//! ```

use cnncodec::train::bnstats::{form_losses, sample_batches};

use crate::args::{ImageArgs, PatchArgs};
use crate::codec::ModelRef;
use crate::recalibrate::{check_patches, parse_scale, TrainingPairs};

/// RecCNN loss of models on the same training patches in inference and training form.
#[derive(clap::Args, Debug)]
pub struct FormLossArgs {
    /// A model: a file or folder, or a built-in model's name; repeat it to compare models
    #[arg(long = "model", value_name = "PATH|NAME", required = true)]
    pub models: Vec<String>,
    #[command(flatten)]
    pub images: ImageArgs,
    /// The factor the training images are resized by (0.1-1)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub scale: f64,
    /// Batches of patches
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub batches: usize,
    #[command(flatten)]
    pub patches: PatchArgs,
}

pub fn run_form_loss(args: &FormLossArgs) -> Result<(), String> {
    let specs = &args.models;
    let scale = parse_scale(args.scale)?;
    let PatchArgs { patch, batch, seed } = args.patches;
    let batches = args.batches;
    check_patches(&args.patches, batches)?;
    let models = specs
        .iter()
        .map(|s| ModelRef::parse(s)?.load())
        .collect::<Result<Vec<_>, _>>()?;
    let training = TrainingPairs::load(&args.images, &models[0], scale)?;
    let (inputs, originals): (Vec<_>, Vec<_>) = training.pairs.iter().map(|(u, o)| (u, o)).unzip();
    // The same seed and sizes draw the same windows from both lists.
    let x = sample_batches(&inputs, patch, batch, batches, seed);
    let o = sample_batches(&originals, patch, batch, batches, seed);
    println!(
        "{batches} batches of {batch} {patch}x{patch} patches of {} ({} images at scale {scale}) through {}'s ComCNN and {}",
        training.dataset,
        training.pairs.len(),
        specs[0],
        training.codec
    );
    println!("| model | inference-form loss | training-form loss |");
    println!("| --- | --- | --- |");
    for (spec, model) in specs.iter().zip(&models) {
        let l = form_losses(model, &x, &o).map_err(|e| format!("--model {spec}: {e}"))?;
        println!("| {spec} | {:.4e} | {:.4e} |", l.inference, l.training);
    }
    Ok(())
}
