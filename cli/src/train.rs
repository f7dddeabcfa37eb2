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

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use cnncodec::codec::CompactCodec;
use cnncodec::frame::image::read_png_luma;
use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::train::{initialise, InitScheme, RunEnd, StepReport, TrainOptions, Trainer};
use cnncodec::ModelWeights;

use crate::args::Args;
use crate::codec::{codec_option, MixedCodec, ModelRef, Stock, StockCodec};

pub fn run_train(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &[
            "out",
            "quality",
            "split",
            "data",
            "stages",
            "steps",
            "batch",
            "patch",
            "features",
            "depth",
            "seed",
            "name",
            "init",
            "rec-lr",
            "com-lr",
            "stop-gain",
            "mix-qualities",
            "com-features",
            "codec",
            "checkpoint-every",
            "stop-after",
            "first-stage",
            "conv-backward",
            "rec-init",
            "scales",
            "batch-norm",
            "curve-every",
            "com-surrogate",
            "loss-margin",
            "backend",
        ],
    )?;
    let out = PathBuf::from(args.get("out").ok_or("--out DIR is required")?);
    let codec = codec_option(&args)?;
    let quality: u32 = args.parsed("quality", if codec == "jpeg" { 50 } else { 8 })?;
    if !valid_point(codec, quality) {
        return Err(format!(
            "--quality {quality}: expected one of the {}",
            point_range(codec)
        ));
    }
    let (dataset, files) = crate::eval::image_list_for(&args, "train")?;
    let images = files
        .iter()
        .map(|f| read_png_luma(f))
        .collect::<Result<Vec<_>, _>>()?;
    if crate::eval::split_names_dev_eval(&args) {
        return Err(
            "dev-eval is for measurements only; train on 'train' (or 'train-video')".into(),
        );
    }
    gstcnncodec::runner::init();

    let mut trainer = if out.join("checkpoint.json").exists() {
        let mut t = Trainer::resume(&out)?;
        // Only the number of stages may change on resume (to extend a run).
        let stages = args.parsed("stages", t.state.options.stages)?;
        if stages < t.state.stages_done {
            return Err(format!(
                "--stages {stages}: the run in '{}' has already done {} stages",
                out.display(),
                t.state.stages_done
            ));
        }
        t.state.options.stages = stages;
        t.state.options.checkpoint_every =
            args.parsed("checkpoint-every", t.state.options.checkpoint_every)?;
        t.state.options.curve_every = args.parsed("curve-every", t.state.options.curve_every)?;
        if t.weights.meta.codec != codec && args.get("codec").is_some() {
            return Err(format!(
                "--codec: the run in '{}' trains for {}; resume without --codec or start a new run",
                out.display(),
                t.weights.meta.codec
            ));
        }
        if args.get("quality").is_some() && quality != t.weights.meta.quality {
            return Err(format!(
                "--quality {quality}: the run in '{}' trains for quality {}; resume without --quality or start a new run",
                out.display(),
                t.weights.meta.quality
            ));
        }
        if let Some(fast) = fast_backward_option(&args)? {
            if fast != t.state.options.fast_conv_backward {
                return Err(format!(
                    "--conv-backward: the run in '{}' trains with the {} backward; resume without --conv-backward or start a new run",
                    out.display(),
                    if t.state.options.fast_conv_backward { "fast" } else { "generic" }
                ));
            }
        }
        if scales_option(&args)?.is_some_and(|s| s != t.state.options.scales) {
            return Err(format!(
                "--scales: the run in '{}' trains on scales {:?}; resume without --scales or start a new run",
                out.display(),
                t.state.options.scales
            ));
        }
        if let Some(flag) = ["rec-init", "batch-norm", "com-surrogate", "loss-margin"]
            .into_iter()
            .find(|f| args.get(f).is_some())
        {
            return Err(format!(
                "--{flag}: the run in '{}' has started; resume without --{flag} or start a new run",
                out.display()
            ));
        }
        if t.state.stage_step > 0 {
            eprintln!(
                "train: resuming '{}' at step {} of stage {} ({} stages)",
                out.display(),
                t.state.stage_step,
                t.state.stages_done,
                t.state.options.stages
            );
        } else {
            eprintln!(
                "train: resuming '{}' after stage {} of {}",
                out.display(),
                t.state.stages_done,
                t.state.options.stages
            );
        }
        t
    } else {
        let defaults = TrainOptions::default();
        let options = TrainOptions {
            patch: args.parsed("patch", 40)?,
            batch: args.parsed("batch", 16)?,
            steps_per_stage: args.parsed("steps", 200)?,
            stages: args.parsed("stages", 4)?,
            seed: args.parsed("seed", 1)?,
            rec_lr: lr_range(&args, "rec-lr", defaults.rec_lr)?,
            com_lr: lr_range(&args, "com-lr", defaults.com_lr)?,
            min_dev_gain_db: args
                .get("stop-gain")
                .map(|_| args.parsed("stop-gain", 0.0))
                .transpose()?,
            checkpoint_every: args.parsed("checkpoint-every", 100)?,
            comcnn_first: match args.get("first-stage").unwrap_or("rec") {
                "rec" | "reccnn" => false,
                "com" | "comcnn" => true,
                other => {
                    return Err(format!(
                        "--first-stage {other}: use rec (the paper's order) or com"
                    ))
                }
            },
            fast_conv_backward: fast_backward_option(&args)?.unwrap_or(true),
            scales: scales_option(&args)?.unwrap_or_else(|| defaults.scales.clone()),
            curve_every: args.parsed("curve-every", 0)?,
            loss_margin: args.parsed("loss-margin", 0)?,
            com_surrogate: args
                .get("com-surrogate")
                .unwrap_or("identity")
                .parse()
                .map_err(|e| format!("--com-surrogate {e}"))?,
        };
        let name = args
            .get("name")
            .map(str::to_owned)
            .unwrap_or_else(|| cnncodec::net::builtin::ladder_name(codec, quality));
        let init = args.get("init").unwrap_or("matconvnet");
        let batch_norm = match args.get("batch-norm").unwrap_or("yes") {
            "yes" => true,
            "no" => false,
            other => {
                return Err(format!(
                    "--batch-norm {other}: yes (the paper's RecCNN) or no (a new RecCNN trained in inference form)"
                ))
            }
        };
        let (mut start, origin) = match init.parse::<InitScheme>() {
            Ok(_) if args.get("rec-init").is_some() => {
                return Err(format!(
                    "--rec-init: only with --init MODEL (a trained model to start from), not --init {init}"
                ))
            }
            Ok(scheme) => {
                let com_features = args.parsed("com-features", args.parsed("features", 64)?)?;
                let mut w = ModelWeights::random(
                    &name,
                    ComCnnConfig::new().with_features(com_features),
                    RecCnnConfig::new()
                        .with_features(args.parsed("features", 64)?)
                        .with_depth(args.parsed("depth", 20)?)
                        .with_batch_norm(batch_norm),
                    options.seed,
                );
                initialise(&mut w, scheme, options.seed);
                (w, format!("{init} initialisation, seed {}", options.seed))
            }
            Err(_) => {
                let from = ModelRef::parse(init).and_then(|m| m.load()).map_err(|e| {
                    format!("--init {init}: not matconvnet, downsampler or a model ({e})")
                })?;
                let origin = format!(
                    "initialised from '{}' (content hash {}; {})",
                    from.meta.name, from.meta.content_hash, from.meta.provenance
                );
                let rec_init = args.get("rec-init").unwrap_or("fresh");
                let (grow, fold) = match rec_init {
                    "fresh" => (false, false),
                    "grow" => (true, false),
                    "fold" => (false, true),
                    other => {
                        return Err(format!(
                            "--rec-init {other}: use fresh (matconvnet), grow (the model's \
                             RecCNN widened and deepened, computing the same function) or fold \
                             (the model's RecCNN with BatchNorm folded: trained in inference form)"
                        ))
                    }
                };
                let resized = args.get("features").is_some() || args.get("depth").is_some();
                if fold {
                    if resized {
                        return Err("--rec-init fold keeps the model's RecCNN size; drop --features and --depth".into());
                    }
                    let mut w = from.clone();
                    let (rec, cfg) =
                        cnncodec::net::weights::fold_batch_norm(&from.reccnn, &from.meta.reccnn);
                    w.reccnn = rec;
                    w.meta.reccnn = cfg;
                    w.meta.content_hash = cnncodec::net::weights::content_hash(&w.comcnn, &w.reccnn);
                    (
                        w,
                        format!("{origin}; RecCNN BatchNorm folded (trained in inference form)"),
                    )
                } else if !resized {
                    if grow {
                        return Err("--rec-init grow: say how big with --features and/or --depth".into());
                    }
                    (from, origin)
                } else if grow {
                    let to = RecCnnConfig::new()
                        .with_features(args.parsed("features", from.meta.reccnn.features)?)
                        .with_depth(args.parsed("depth", from.meta.reccnn.depth)?);
                    // BatchNorm statistics of the new layers: the first images, up to
                    // 128x128 each (their top-left corner).
                    let samples: Vec<_> = images
                        .iter()
                        .take(16)
                        .map(|i| i.to_unit().cropped(i.width.min(128), i.height.min(128)))
                        .collect();
                    let rec = cnncodec::train::grow::grow_reccnn(
                        &from.reccnn,
                        &from.meta.reccnn,
                        &to,
                        &samples,
                        options.seed,
                    )?;
                    let mut w = from.clone();
                    w.reccnn = rec;
                    w.meta.reccnn = to.clone();
                    w.meta.content_hash = cnncodec::net::weights::content_hash(&w.comcnn, &w.reccnn);
                    let grown = format!(
                        "RecCNN grown from {} x {} to {} x {} (Net2Net: channels copied with random \
                         splits, identity layers; the same function), seed {}",
                        from.meta.reccnn.features,
                        from.meta.reccnn.depth,
                        to.features,
                        to.depth,
                        options.seed
                    );
                    (w, format!("{origin}; {grown}"))
                } else {
                    // A new RecCNN (for example a smaller, faster one) behind that ComCNN.
                    let rec = RecCnnConfig::new()
                        .with_features(args.parsed("features", from.meta.reccnn.features)?)
                        .with_depth(args.parsed("depth", from.meta.reccnn.depth)?)
                        .with_batch_norm(batch_norm);
                    let mut w = ModelWeights::random(
                        &name,
                        from.meta.comcnn.clone(),
                        rec.clone(),
                        options.seed,
                    );
                    initialise(&mut w, InitScheme::MatConvNet, options.seed);
                    w.comcnn = from.comcnn.clone();
                    w.meta.content_hash = cnncodec::net::weights::content_hash(&w.comcnn, &w.reccnn);
                    (
                        w,
                        format!(
                            "ComCNN {origin}; RecCNN of {} features x {} layers, matconvnet initialisation, seed {}",
                            rec.features, rec.depth, options.seed
                        ),
                    )
                }
            }
        };
        start.meta.name = name;
        start.meta.quality = quality;
        start.meta.codec = codec.into();
        start.meta.provenance = format!(
            "cnncodec train on {dataset} ({} images), codec {}, options {options:?}, {origin}; command `cnncodec train {}`, commit {}",
            images.len(),
            match args.get("mix-qualities") {
                Some(list) => format!("{codec} with the quality (JPEG) or ratio (J2K) cycling over {list} image by image"),
                None => StockCodec(Stock::for_model(codec, quality)?).describe(),
            },
            raw.join(" "),
            option_env!("COMMIT_ID").unwrap_or("unknown")
        );
        Trainer::new(start, options)?
    };
    // The codec of the model being trained, also when resuming.
    let model_codec = trainer.weights.meta.codec.clone();
    let single = StockCodec(Stock::for_model(
        &model_codec,
        trainer.weights.meta.quality,
    )?);
    let mixed = match args.get("mix-qualities") {
        Some(list) => Some(MixedCodec {
            points: list
                .split(',')
                .map(|q| {
                    q.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|q| valid_point(&model_codec, *q))
                })
                .map(|q| q.and_then(|q| Stock::for_model(&model_codec, q).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or(format!(
                    "--mix-qualities {list}: expected {}",
                    point_range(&model_codec)
                ))?,
            next: Default::default(),
        }),
        None => None,
    };
    let codec: &dyn CompactCodec = match &mixed {
        Some(m) => m,
        None => &single,
    };

    let log_path = out.join("train.log");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let started = Instant::now();
    let total_steps = trainer.state.options.steps_per_stage
        * (trainer.state.options.stages - trainer.state.stages_done)
        - trainer.state.stage_step;
    trainer.stop_after = args
        .get("stop-after")
        .map(|_| args.parsed::<usize>("stop-after", 0))
        .transpose()?
        .filter(|n| *n > 0);
    let mut done = 0usize;
    // Development images only measure (when to stop, the learning curve); never trained on.
    let measures =
        trainer.state.options.min_dev_gain_db.is_some() || trainer.state.options.curve_every > 0;
    let dev = match measures {
        false => vec![],
        true => {
            let mut dev_args = args.clone_with_split("dev-eval");
            dev_args.positional.clear();
            let (_, files) = crate::eval::image_list_for(&dev_args, "dev-eval")?;
            files
                .iter()
                .map(|f| read_png_luma(f))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let backend = args.get("backend").unwrap_or("cpu");
    let mut report = |r: &StepReport| {
        done += 1;
        let eta =
            started.elapsed().as_secs_f64() / done as f64 * total_steps.saturating_sub(done) as f64;
        eprint!(
            "\rstage {} {} step {}/{} loss {:.6} lr {:.2e} ETA {:.0}s   ",
            r.stage,
            r.network,
            r.step + 1,
            r.steps,
            r.loss,
            r.lr,
            eta
        );
        let _ = writeln!(
            log,
            "stage={} net={} step={} loss={:.8} lr={:.3e} t={:.1}s",
            r.stage,
            r.network,
            r.step,
            r.loss,
            r.lr,
            started.elapsed().as_secs_f64()
        );
    };
    let end = match backend {
        "cpu" => trainer.run(&images, &dev, codec, Some(&out), &mut report)?,
        "cuda" => {
            let (cuda_trainer, end) =
                train_on_cuda(trainer, &images, &dev, codec, &out, &mut report)?;
            trainer = cuda_trainer;
            end
        }
        other => return Err(format!("--backend {other}: cpu or cuda")),
    };
    eprintln!();
    if end == RunEnd::Stopped {
        println!(
            "stopped after {done} steps as asked (--stop-after), checkpointed at step {} of stage {}; run the same command again to resume",
            trainer.state.stage_step, trainer.state.stages_done
        );
        return Ok(());
    }
    for (stage, db) in &trainer.state.dev_psnr {
        let _ = writeln!(log, "stage={stage} dev_psnr={db:.4}");
        eprintln!("after stage {stage}: development PSNR {db:.3} dB");
    }
    let model = out.join("model.cnnmodel");
    let best = out.join("best.cnnmodel");
    let chosen = if trainer.state.dev_psnr.is_empty() || !best.exists() {
        cnncodec::train::checkpoint_model(&out)
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
    images: &[cnncodec::GrayImage],
    dev: &[cnncodec::GrayImage],
    codec: &dyn CompactCodec,
    out: &std::path::Path,
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
    _: &[cnncodec::GrayImage],
    _: &[cnncodec::GrayImage],
    _: &dyn CompactCodec,
    _: &std::path::Path,
    _: &mut dyn FnMut(&StepReport),
) -> Result<(Trainer, RunEnd), String> {
    Err(
        "--backend cuda is not compiled into this build: build the CLI with `--features cuda`"
            .into(),
    )
}

/// Whether `q` is an operating point of `codec`: a JPEG quality or a J2K compression ratio.
fn valid_point(codec: &str, q: u32) -> bool {
    if codec == "jpeg" {
        (1..=100).contains(&q)
    } else {
        (2..=10_000).contains(&q)
    }
}

fn point_range(codec: &str) -> &'static str {
    if codec == "jpeg" {
        "JPEG qualities 1-100 such as 10,30,50"
    } else {
        "J2K compression ratios 2-10000 such as 4,8,16"
    }
}

/// `--NAME START:END` (or one value for a constant rate).
fn lr_range(args: &Args, name: &str, default: (f64, f64)) -> Result<(f64, f64), String> {
    let Some(v) = args.get(name) else {
        return Ok(default);
    };
    let bad = || format!("--{name} {v}: expected START:END learning rates, such as 1e-4:1e-5");
    let parse = |s: &str| s.parse::<f64>().ok().filter(|x| *x > 0.0 && x.is_finite());
    match v.split_once(':') {
        Some((a, b)) => Ok((parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?)),
        None => parse(v).map(|x| (x, x)).ok_or_else(bad),
    }
}

/// `--conv-backward`: `Some(true)` for ours (`fast`; `im2col` is its earlier name),
/// `Some(false)` for burn's generic one.
fn fast_backward_option(args: &Args) -> Result<Option<bool>, String> {
    match args.get("conv-backward") {
        None => Ok(None),
        Some("fast" | "im2col") => Ok(Some(true)),
        Some("generic") => Ok(Some(false)),
        Some(other) => Err(format!(
            "--conv-backward {other}: use fast (the CPU kernels) or generic (burn's own, as runs before it were made)"
        )),
    }
}

/// `--scales F,F...`: the training images at these scales (0.1-1, 1 = as stored).
fn scales_option(args: &Args) -> Result<Option<Vec<f64>>, String> {
    let Some(v) = args.get("scales") else {
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
