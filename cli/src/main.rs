//! `cnncodec`: the project's command line.
//!
//! - `cnncodec demo [--model PATH] [--quality Q] [--out DIR] [IMAGE.png ...]`: archives each
//!   image's luma with `comcnnenc ! jpegenc ! matroskamux`, plays it back with
//!   `matroskademux ! jpegdec ! reccnndec` (no settings repeated), and compares bytes, bpp,
//!   PSNR and SSIM with plain JPEG of the full image at about the same size.
//! - `cnncodec eval ...`: rate-distortion of a data split for plain JPEG and the framework,
//!   with BD-rate, JSON results and an RD plot (see `eval/`).
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
//!   machine's peak (see `bench.rs`).
//! - `cnncodec train --out DIR ...`: trains a model with the stock codec elements in the loop,
//!   resumably (see `train/`).
//! - `cnncodec curves --out FILE.svg RUN/curve.csv ...`: training runs' learning curves in one
//!   plot (see `curves.rs`).
//! - `cnncodec bench-train [--steps N] [--features N --depth N]`: seconds per RecCNN training
//!   step with burn's generic and our convolution backward.
//!
//! The grammar is in `args.rs` (clap derive); `cnncodec COMMAND --help` lists a command's
//! options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod args;
mod bench;
mod bench_encoders;
mod codec;
mod curves;
mod demo;
mod eval;
mod form_loss;
mod frame;
mod models;
mod plot;
mod progress;
mod recalibrate;
mod train;
mod video_codec;

use args::{Cli, Command};

fn main() -> ExitCode {
    // Help and version go to stdout with status 0; bad command lines to stderr, non-zero.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run_demo(&a),
        Command::Eval(a) => eval::run_eval(&a),
        Command::Train(a) => train::run_train(&a),
        Command::Recalibrate(a) => recalibrate::run_recalibrate(&a),
        Command::FormLoss(a) => form_loss::run_form_loss(&a),
        Command::Bench(a) => bench::run_bench(&a),
        Command::BenchTrain(a) => bench::run_bench_train(&a),
        Command::Models(a) => models::run_models(&a),
        Command::Curves(a) => curves::run_curves(&a),
        Command::Frame(a) => frame::run_frame(&a),
        Command::BenchEncoders(a) => bench_encoders::run_bench_encoders(&a),
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

/// The command's arguments after the subcommand's name, as typed (for the provenance written
/// into models).
pub fn command_arguments() -> String {
    std::env::args().skip(2).collect::<Vec<_>>().join(" ")
}
