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

use crate::args::Args;
use crate::codec::ModelRef;
use crate::recalibrate::{parse_scale, TrainingPairs};

pub fn run_form_loss(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &[
            "model", "split", "data", "scale", "patch", "batch", "batches", "seed",
        ],
    )?;
    let specs = args.all("model");
    if specs.is_empty() {
        return Err("--model MODEL is required (repeat it to compare models)".into());
    }
    let scale = parse_scale(&args)?;
    let (patch, batch, batches): (usize, usize, usize) = (
        args.parsed("patch", 40)?,
        args.parsed("batch", 16)?,
        args.parsed("batches", 20)?,
    );
    if patch < 4 || batch == 0 || batches == 0 {
        return Err("--patch must be at least 4, --batch and --batches at least 1".into());
    }
    let seed: u64 = args.parsed("seed", 1)?;
    let models = specs
        .iter()
        .map(|s| ModelRef::parse(s)?.load())
        .collect::<Result<Vec<_>, _>>()?;
    let training = TrainingPairs::load(&args, &models[0], scale)?;
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
