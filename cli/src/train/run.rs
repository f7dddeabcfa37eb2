//! Running a trainer: the stock codec in the loop, the development images, the step log
//! (`OUT/train.log`, a line per step) and progress bar, the backend, and the model written at
//! the end.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cnncodec::codec::CompactCodec;
use cnncodec::frame::image::read_png_luma;
use cnncodec::train::{RunEnd, StepReport, Trainer};
use cnncodec::GrayImage;
use indicatif::ProgressBar;

use super::{point_range, valid_point, TrainArgs};
use crate::args::Backend;
use crate::codec::{MixedCodec, Stock, StockCodec};
use crate::video_codec::{StreamingCodec, VideoKind};

/// Runs `trainer` on `images` to the end of its stages (or `--stop-after`), then writes
/// `OUT/model.cnnmodel`.
pub fn run(args: &TrainArgs, mut trainer: Trainer, images: &[GrayImage]) -> Result<(), String> {
    // The codec of the model being trained, also when resuming.
    let model_codec = trainer.weights.meta.codec.clone();
    let quality = trainer.weights.meta.quality;
    let single: Box<dyn CompactCodec> = match VideoKind::from_codec(&model_codec) {
        Some(kind) => Box::new(StreamingCodec::new(kind, quality)),
        None => Box::new(StockCodec(Stock::for_model(&model_codec, quality)?)),
    };
    let mixed = mixed_codec(args.mix_qualities.as_deref(), &model_codec)?;
    let codec: &dyn CompactCodec = match &mixed {
        Some(m) => m,
        None => single.as_ref(),
    };
    let out = args.out.as_path();
    let state = &trainer.state;
    let total_steps = state.options.steps_per_stage * (state.options.stages - state.stages_done)
        - state.stage_step;
    let mut steps = StepLog::open(out, total_steps)?;
    trainer.stop_after = args.stop_after.filter(|n| *n > 0);
    let dev = dev_images(args, &trainer)?;
    let mut report = |r: &StepReport| steps.step(r);
    let end = match args.backend.backend {
        Backend::Cpu => trainer.run(images, &dev, codec, Some(out), &mut report)?,
        Backend::Cuda => {
            let (cuda_trainer, end) =
                train_on_cuda(trainer, images, &dev, codec, out, &mut report)?;
            trainer = cuda_trainer;
            end
        }
    };
    crate::progress::finish(&steps.bar);
    if end == RunEnd::Stopped {
        println!(
            "stopped after {} steps as asked (--stop-after), checkpointed at step {} of stage {}; run the same command again to resume",
            steps.done, trainer.state.stage_step, trainer.state.stages_done
        );
        return Ok(());
    }
    finish(&trainer, out, &mut steps.log)
}

/// `--mix-qualities Q,Q...`: a codec cycling over those operating points image by image.
fn mixed_codec(list: Option<&str>, codec: &str) -> Result<Option<MixedCodec>, String> {
    let Some(list) = list else {
        return Ok(None);
    };
    let points = list
        .split(',')
        .map(|q| {
            q.trim()
                .parse::<u32>()
                .ok()
                .filter(|q| valid_point(codec, *q))
        })
        .map(|q| q.and_then(|q| Stock::for_model(codec, q).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or(format!(
            "--mix-qualities {list}: expected {}",
            point_range(codec)
        ))?;
    Ok(Some(MixedCodec {
        points,
        next: Default::default(),
    }))
}

/// The development images (`dev-eval`, never trained on) when the run measures them: to
/// decide when to stop, or for the learning curve.
fn dev_images(args: &TrainArgs, trainer: &Trainer) -> Result<Vec<GrayImage>, String> {
    let options = &trainer.state.options;
    if options.min_dev_gain_db.is_none() && options.curve_every == 0 {
        return Ok(vec![]);
    }
    let (_, files) = crate::eval::image_list_for(&args.images.with_split("dev-eval"), "dev-eval")?;
    Ok(files
        .iter()
        .map(|f| read_png_luma(f))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The record of the steps: a line per step in `train.log`, and a progress bar on stderr.
struct StepLog {
    log: File,
    started: Instant,
    /// Steps done in this process.
    done: usize,
    bar: ProgressBar,
}

impl StepLog {
    fn open(out: &Path, total_steps: usize) -> Result<Self, String> {
        let log_path = out.join("train.log");
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        Ok(Self {
            log,
            started: Instant::now(),
            done: 0,
            bar: crate::progress::bar(total_steps as u64, "{msg} ETA {eta}"),
        })
    }

    fn step(&mut self, r: &StepReport) {
        self.done += 1;
        self.bar.set_message(format!(
            "stage {} {} step {}/{} loss {:.6} lr {:.2e}",
            r.stage,
            r.network,
            r.step + 1,
            r.steps,
            r.loss,
            r.lr
        ));
        self.bar.inc(1);
        let _ = writeln!(
            self.log,
            "stage={} net={} step={} loss={:.8} lr={:.3e} t={:.1}s",
            r.stage,
            r.network,
            r.step,
            r.loss,
            r.lr,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The end of a run: the development PSNR of each stage, and `OUT/model.cnnmodel` (the best
/// stage's model when the run measured them, else the last).
fn finish(trainer: &Trainer, out: &Path, log: &mut File) -> Result<(), String> {
    for (stage, db) in &trainer.state.dev_psnr {
        let _ = writeln!(log, "stage={stage} dev_psnr={db:.4}");
        eprintln!("after stage {stage}: development PSNR {db:.3} dB");
    }
    let model = out.join("model.cnnmodel");
    let best = out.join("best.cnnmodel");
    let chosen = if trainer.state.dev_psnr.is_empty() || !best.exists() {
        cnncodec::train::checkpoint_model(out)
    } else {
        best
    };
    std::fs::copy(&chosen, &model).map_err(|e| format!("{}: {e}", model.display()))?;
    println!(
        "trained {} stages (mean losses {:?}); model written to {}",
        trainer.state.stages_done,
        trainer.state.stage_losses,
        model.display()
    );
    Ok(())
}

/// Runs `trainer` on the first CUDA device (burn's own layers; the `cuda` feature).
#[cfg(feature = "cuda")]
fn train_on_cuda(
    trainer: Trainer,
    images: &[GrayImage],
    dev: &[GrayImage],
    codec: &dyn CompactCodec,
    out: &Path,
    report: &mut dyn FnMut(&StepReport),
) -> Result<(Trainer, RunEnd), String> {
    if !cnncodec::net::engine::cuda_driver_present() {
        return Err(
            "--backend cuda needs the NVIDIA driver (libcuda.so.1), which was not found".into(),
        );
    }
    let mut on_gpu = trainer.on::<cnncodec::train::CudaTrainBackend>();
    let end = on_gpu.run(images, dev, codec, Some(out), report)?;
    Ok((on_gpu.on(), end))
}

#[cfg(not(feature = "cuda"))]
fn train_on_cuda(
    _: Trainer,
    _: &[GrayImage],
    _: &[GrayImage],
    _: &dyn CompactCodec,
    _: &Path,
    _: &mut dyn FnMut(&StepReport),
) -> Result<(Trainer, RunEnd), String> {
    Err(
        "--backend cuda is not compiled into this build: build the CLI with `--features cuda`"
            .into(),
    )
}
