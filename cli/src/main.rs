//! `cnncodec`: the project's command line.
//!
//! - `cnncodec demo [--model PATH] [--quality Q] [--out DIR] [IMAGE.png ...]`: archives each
//!   image's luma with `comcnnenc ! jpegenc ! matroskamux`, plays it back with
//!   `matroskademux ! jpegdec ! reccnndec` (no settings repeated), and compares bytes, bpp,
//!   PSNR and SSIM with plain JPEG of the full image at about the same size.
//! - `cnncodec eval ...`: rate-distortion of a data split for plain JPEG and the framework,
//!   with BD-rate, JSON results and an RD plot (see `eval.rs`).
//! - `cnncodec recalibrate --model M --out FILE`: the model with its RecCNN's BatchNorm
//!   statistics measured afresh on training patches (see `recalibrate.rs`).
//! - `cnncodec form-loss --model A [--model B]`: RecCNN loss on the same training patches
//!   in inference and training form (see `form_loss.rs`).
//! - `cnncodec frame --at SECONDS --out FILE.png ARCHIVE`: one restored frame of an archive
//!   (a Matroska file or a glob of segments), by an accurate seek (see `frame.rs`).
//! - `cnncodec models [--json]`: the built-in models, their compact quality and measured RD.
//! - `cnncodec bench-encoders ...`: encode speed per frame of `j2kenc`, `jpegenc` and
//!   `openjpegenc` in real pipelines (see `bench_encoders.rs`).
//! - `cnncodec bench [--frames N] [--sizes WxH,...] [--backend cpu|cuda] [--networks ...]`:
//!   ms per frame and GFLOP/s of both networks (paper size) and of the decode step, beside the
//!   machine's peak.
//! - `cnncodec bench-train [--steps N] [--features N --depth N]`: seconds per RecCNN training
//!   step with burn's generic and our convolution backward.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cnncodec::BackendKind;

mod args;
mod bench_encoders;
mod codec;
mod curves;
mod demo;
mod eval;
mod form_loss;
mod frame;
mod models;
mod plot;
mod recalibrate;
mod train;

use args::Args;

pub const USAGE: &str = "usage:
  cnncodec demo [--model PATH] [--quality Q] [--out DIR] [IMAGE.png ...]
  cnncodec eval [--data DIR] [--split NAME] [--codec jpeg|j2k] [--model PATH|NAME|builtin[@Q,Q...]]...
                [--jpeg-qualities Q,Q...] [--j2k-bpp B,B...]
                [--colour luma|rgb] [--name NAME] [--also-model SPEC]... [--also-name NAME]
                [--out DIR] [IMAGE.png ...]
  cnncodec train --out DIR [--codec jpeg|j2k] [--quality Q|RATIO] [--mix-qualities Q,Q...] [--split train] [--data DIR] [--stages N] [--steps N]
                 [--init matconvnet|downsampler|MODEL] [--rec-init fresh|grow|fold] [--batch-norm yes|no] [--first-stage rec|com]
                 [--rec-lr A:B] [--com-lr A:B] [--com-surrogate identity|jpeg] [--stop-gain DB] [--scales F,F...] [--conv-backward fast|generic] [--backend cpu|cuda]
                 [--checkpoint-every N] [--curve-every N] [--stop-after N] [--name NAME]
                 [--batch N] [--patch N] [--loss-margin N] [--features N] [--com-features N] [--depth N] [--seed N] [IMAGE.png ...]
  cnncodec recalibrate --model PATH|NAME --out FILE [--split train,train-video] [--scale F] [--batches N]
                      [--batch N] [--patch N] [--seed N] [--name NAME]
  cnncodec form-loss --model PATH|NAME [--model ...] [--split train,train-video] [--scale F] [--patch N]
                     [--batch N] [--batches N] [--seed N]
  cnncodec bench [--frames N] [--sizes WxH[,WxH...]] [--backend cpu|cuda] [--precision fp32|fp16]
                 [--model PATH|NAME | --features N --depth N] [--networks comcnn,reccnn,decode]
  cnncodec bench-train [--steps N] [--model PATH|NAME | --features N --depth N] [--batch 16] [--patch 40]
                       [--generic yes|no]
  cnncodec bench-encoders [--frames N] [--sizes WxH[,WxH...]] [--format I420|GRAY8] [--image PNG]
  cnncodec models [--json]
  cnncodec curves --out FILE.svg [--title T] RUN/curve.csv ...
  cnncodec frame --at SECONDS --out FILE.png [--model-dirs DIRS] ARCHIVE.mkv|'SEGMENT-GLOB'";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty()
        || args
            .iter()
            .any(|a| matches!(a.as_str(), "--help" | "-h" | "help"))
    {
        // A closed pipe (`cnncodec --help | head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{USAGE}");
        return if args.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run_demo(&args[1..]),
        Some("eval") => eval::run_eval(&args[1..]),
        Some("train") => train::run_train(&args[1..]),
        Some("recalibrate") => recalibrate::run_recalibrate(&args[1..]),
        Some("form-loss") => form_loss::run_form_loss(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("bench-train") => bench_train(&args[1..]),
        Some("models") => models::run_models(&args[1..]),
        Some("curves") => curves::run_curves(&args[1..]),
        Some("frame") => frame::run_frame(&args[1..]),
        Some("bench-encoders") => bench_encoders::run_bench_encoders(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnncodec: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (samples, data splits) as seen from this binary's sources.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Training speed: RecCNN steps with burn's and our convolution backward.
fn bench_train(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &[
            "steps", "model", "features", "depth", "batch", "patch", "generic",
        ],
    )?;
    let rec = match args.get("model") {
        Some(m) => codec::ModelRef::parse(m)?.load()?.meta.reccnn,
        None => cnncodec::net::architecture::RecCnnConfig::new()
            .with_features(args.parsed("features", 64)?)
            .with_depth(args.parsed("depth", 20)?),
    };
    print!(
        "{}",
        cnncodec::train::throughput::train_step_report(
            &rec,
            args.parsed("batch", 16)?,
            args.parsed("patch", 40)?,
            args.parsed("steps", 3)?,
            args.get("generic") != Some("no"),
        )
    );
    Ok(())
}

fn bench(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &[
            "frames",
            "sizes",
            "backend",
            "model",
            "features",
            "depth",
            "precision",
            "networks",
        ],
    )?;
    let frames: usize = args.parsed("frames", 3)?;
    let sizes: Vec<(usize, usize)> = args
        .get("sizes")
        .unwrap_or("352x288,1280x720")
        .split(',')
        .map(|s| {
            let (w, h) = s.split_once('x').ok_or(format!("bad size '{s}'"))?;
            Ok((
                w.parse().map_err(|_| format!("bad size '{s}'"))?,
                h.parse().map_err(|_| format!("bad size '{s}'"))?,
            ))
        })
        .collect::<Result<_, String>>()?;
    let backend: BackendKind = args.get("backend").unwrap_or("cpu").parse()?;
    let precision: cnncodec::Precision = args.get("precision").unwrap_or("fp32").parse()?;
    let weights = match args.get("model") {
        Some(m) => codec::ModelRef::parse(m)?.load()?,
        None => cnncodec::ModelWeights::random(
            "paper-size networks",
            cnncodec::net::architecture::ComCnnConfig::new(),
            cnncodec::net::architecture::RecCnnConfig::new()
                .with_features(args.parsed("features", 64)?)
                .with_depth(args.parsed("depth", 20)?),
            1,
        ),
    };
    let timed = match args.get("networks") {
        Some(list) => list
            .split(',')
            .map(cnncodec::eval::bench::Timed::parse)
            .collect::<Result<Vec<_>, _>>()?,
        None => cnncodec::eval::bench::Timed::ALL.to_vec(),
    };
    print!(
        "{}",
        cnncodec::eval::bench::report_for(&weights, frames, &sizes, backend, precision, &timed)?
    );
    Ok(())
}
