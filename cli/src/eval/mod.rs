//! `cnncodec eval`: rate-distortion of a set of images, luma, through the same stock
//! GStreamer elements the pipelines use.
//!
//! Curves: plain `jpegenc` on the full image at a quality ladder (the baseline), and the
//! framework: each `--model PATH[@Q,Q...]` at its compact qualities (default: the quality the
//! model was trained for); all framework points form one curve. bpp comes from the real
//! encoded bytes over the original size. Per image and mean: PSNR (Y), SSIM (reference
//! protocol), MS-SSIM. BD-rate / BD-PSNR (PCHIP) of the framework against plain JPEG, over
//! the whole overlap and over the points inside 0.1-0.4 bpp. Writes `rd.json`
//! (CompressAI-style `{"name", "description", "results": {metric: [...]}}` per curve: the
//! typed `cnncodec::eval::rd::RdReport`), `rd.svg`, and `rd.png` when `rsvg-convert` is
//! installed.
//!
//! `--codec j2k` evaluates JPEG 2000 instead: the anchor is plain J2K (the plugin's `j2kenc`
//! at a bpp ladder, stock `openjpegdec`), plain JPEG is measured too (BD of J2K against it),
//! and framework models must be J2K models (`--model builtin` takes the `j2k-rN` ladder).
//!
//! `--colour rgb` codes the RGB picture instead: full-range BT.601 I420 through the codec
//! (the CNNs on luma, chroma resampled plainly by the elements), RGB out; adds PSNR over RGB
//! and its BD figures. bpp then counts the chroma bytes too.

mod images;
mod measure;
mod report;
mod video;

use std::path::PathBuf;

use cnncodec::frame::image::{read_png_luma, read_png_rgb};

pub use images::{image_list_for, pngs_in, split_names_dev_eval};
use measure::{code_and_measure, Curve, Operating, Original};
use report::Results;

use crate::args::{CodecArg, Colour, ImageArgs};
use crate::codec::{ModelRef, SelfEnsembleMode, Stock};

const DEFAULT_JPEG_QUALITIES: &str = "3,5,8,10,15,20,30,40,50,75";
const DEFAULT_J2K_BPP: &str = "0.05,0.075,0.1,0.15,0.2,0.25,0.3,0.4,0.5,0.75";
const DEFAULT_HEVC_QPS: &str = "27,30,33,35,37,39,41,43,45,48";

/// Rate-distortion of the plain codec and the framework over a set of images.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub images: ImageArgs,
    #[command(flatten)]
    pub codec: CodecArg,
    /// The framework's points: a model file or folder, a built-in model's name, or `builtin`
    /// (the built-in ladder of --codec), optionally at compact qualities @Q,Q... (default:
    /// the quality each model was trained for); repeat for more models
    #[arg(long = "model", value_name = "SPEC[@Q,Q...]")]
    pub models: Vec<String>,
    /// The framework curve's name
    #[arg(long, value_name = "NAME", default_value = "framework")]
    pub name: String,
    /// A second framework curve to compare with the first (same syntax as --model)
    #[arg(long = "also-model", value_name = "SPEC[@Q,Q...]")]
    pub also_models: Vec<String>,
    /// The second framework curve's name
    #[arg(long, value_name = "NAME", default_value = "second framework curve")]
    pub also_name: String,
    /// reccnndec's self-ensemble for the --model curve: RecCNN on the mirrored (mirror,
    /// mirrors) or also transposed (full) frame, averaged: 2, 4 or 8 RecCNN passes per image
    #[arg(long, value_enum, default_value_t = SelfEnsembleMode::Off)]
    pub self_ensemble: SelfEnsembleMode,
    /// reccnndec's self-ensemble for the --also-model curve (needs --also-model)
    #[arg(long, value_enum, default_value_t = SelfEnsembleMode::Off)]
    pub also_self_ensemble: SelfEnsembleMode,
    /// Plain JPEG's qualities
    #[arg(long, value_name = "Q,Q...", default_value = DEFAULT_JPEG_QUALITIES)]
    pub jpeg_qualities: String,
    /// Plain J2K's bit rates, bits per pixel (--codec j2k)
    #[arg(long, value_name = "B,B...", default_value = DEFAULT_J2K_BPP)]
    pub j2k_bpp: String,
    /// Plain HEVC intra's QPs (--codec hevc)
    #[arg(long, value_name = "QP,QP...", default_value = DEFAULT_HEVC_QPS)]
    pub hevc_qps: String,
    /// A video clip to evaluate instead of images, optionally frames START.. START+COUNT-1
    /// of it (repeat for more clips; with --codec h264 or h265)
    #[arg(long = "clip", value_name = "PATH[@START:COUNT]")]
    pub clips: Vec<String>,
    /// The clips' target bit rates in kbit/s [default: 0.005 to 0.08 bits per pixel per
    /// frame at the clip's size and rate: 115 kbit/s to 1.8 Mbit/s for 720p at 25 frames/s]
    #[arg(long, value_name = "K,K...")]
    pub kbps: Option<String>,
    /// Seconds between the clips' key frames
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub gop: f64,
    /// Code and measure the luma, or the RGB picture
    #[arg(long, value_enum, default_value_t = Colour::Luma)]
    pub colour: Colour,
    /// Where rd.json, rd.svg and rd.png go
    #[arg(long, value_name = "DIR", default_value = "eval-out")]
    pub out: PathBuf,
}

pub fn run_eval(args: &EvalArgs) -> Result<(), String> {
    if args.also_self_ensemble != SelfEnsembleMode::Off && args.also_models.is_empty() {
        return Err("--also-self-ensemble applies to the --also-model curve: name one".into());
    }
    let codec = args.codec.name();
    if !args.clips.is_empty() || matches!(codec, "h264" | "h265") {
        return run_clip_eval(args);
    }
    let colour = args.colour == Colour::Rgb;
    let (dataset, images) = image_list_for(&args.images, "dev-eval")?;
    if images.is_empty() {
        return Err("no images to evaluate".into());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let (mut curves, anchors) = build_curves(args, codec)?;
    gstcnncodec::runner::init();
    measure_all(&images, colour, &mut curves, &dataset)?;

    let results = Results {
        dataset: &dataset,
        codec,
        colour,
        images: &images,
        curves: &curves,
        anchors,
    };
    let rd = report::rd_report(&results);
    let json_path = report::write_rd_json(&args.out, &rd)?;
    report::print_table(&results);
    report::print_bd(&rd.bd);
    let (svg, png) = report::write_rd_plot(&args.out, &results)?;
    println!(
        "wrote {}, {}{}",
        json_path.display(),
        svg.display(),
        png.map(|p| format!(", {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// `eval --clip`: each clip plain and through the framework (see [`video`]).
fn run_clip_eval(args: &EvalArgs) -> Result<(), String> {
    let codec = match args.codec.name() {
        "h264" => video::VideoCodec::H264,
        "h265" => video::VideoCodec::H265,
        other => {
            return Err(format!(
                "--clip evaluates the video codecs h264 and h265 (--codec), not {other}"
            ))
        }
    };
    if args.clips.is_empty() {
        return Err(format!(
            "--codec {}: give the clips (--clip PATH)",
            codec.name()
        ));
    }
    let model = match args.models.as_slice() {
        [] => ModelRef::Builtin(cnncodec::net::builtin::DEFAULT_MODEL.into()),
        [one] if !one.contains('@') => ModelRef::parse(one)?,
        _ => return Err("--clip takes one --model (a file or built-in name, no @)".into()),
    };
    if !(args.gop > 0.0 && args.gop.is_finite()) {
        return Err(format!("--gop {}: seconds above zero", args.gop));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    gstcnncodec::runner::init();
    let mut results = vec![];
    for spec in &args.clips {
        let (path, start, count) = video::parse_clip_spec(spec)?;
        let clip = video::load_clip(&path, start, count)?;
        let rates = match &args.kbps {
            Some(list) => parse_qualities(list)?,
            None => video::default_rates(&clip),
        };
        let r = video::evaluate_clip(&clip, codec, &rates, args.gop, &model)?;
        print!("{}", video::report(&r));
        video::plot(&args.out, &r)?;
        results.push(r);
    }
    let path = args.out.join("video-rd.json");
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {} and the plots beside it", path.display());
    Ok(())
}

/// The run's curves, and how many of the first are plain anchors: plain J2K and plain JPEG
/// (J2K runs) or plain JPEG, then the framework curve and the `--also-model` curve.
fn build_curves(args: &EvalArgs, codec: &'static str) -> Result<(Vec<Curve>, usize), String> {
    let jpeg_q = parse_qualities(&args.jpeg_qualities)?;
    let jpeg_curve = Curve::plain(
        "jpeg",
        "plain jpegenc on the full image, idct-method=islow both ways",
        jpeg_q.iter().map(|&q| Stock::Jpeg(q)).collect(),
    );
    // The first curve is the anchor of the framework's BD figures.
    let mut curves = if codec == "jpeg2000" {
        let bpp = parse_bpp_list(&args.j2k_bpp)?;
        vec![
            Curve::plain(
                "j2k",
                "plain JPEG 2000 on the full image: the plugin's j2kenc (OpenJPEG, 9/7 wavelet, one layer) at a bpp target, stock openjpegdec",
                bpp.into_iter().map(Stock::J2kBpp).collect(),
            ),
            jpeg_curve,
        ]
    } else if codec == "hevc" {
        let qps = parse_qualities(&args.hevc_qps)?;
        vec![
            Curve::plain(
                "hevc",
                "plain HEVC intra on the full image: x265enc (medium preset) at a constant QP, every frame a key frame, 4:2:0 with neutral chroma, avdec_h265",
                qps.into_iter().map(Stock::Hevc).collect(),
            ),
            jpeg_curve,
        ]
    } else {
        vec![jpeg_curve]
    };
    let anchors = curves.len();
    // The framework curve, and optionally a second one (`--also-model`) to compare with it.
    for (specs, option, name, ensemble) in [
        (&args.models, "model", &args.name, args.self_ensemble),
        (
            &args.also_models,
            "also-model",
            &args.also_name,
            args.also_self_ensemble,
        ),
    ] {
        let fw = framework_points(specs, option, codec, ensemble)?;
        if !fw.is_empty() {
            curves.push(Curve {
                name: name.clone(),
                description: format!(
                    "{} {}",
                    if codec == "jpeg2000" {
                        "comcnnenc ! j2kenc compression-ratio=R ! openjpegdec ! reccnndec"
                    } else if codec == "hevc" {
                        "comcnnenc ! x265enc qp=QP key-int-max=1 ! h265parse ! avdec_h265 ! reccnndec"
                    } else {
                        "comcnnenc ! jpegenc (islow) ! jpegdec (islow) ! reccnndec"
                    },
                    ensemble.decoder_property()
                )
                .trim_end()
                .to_owned(),
                points: fw,
                per_image: vec![],
            });
        }
    }
    Ok((curves, anchors))
}

/// Codes every image at every point of every curve, with a progress bar.
fn measure_all(
    images: &[PathBuf],
    colour: bool,
    curves: &mut [Curve],
    dataset: &str,
) -> Result<(), String> {
    let total = images.len() * curves.iter().map(|c| c.points.len()).sum::<usize>();
    eprintln!("eval: {} images ({dataset}), {total} codings", images.len());
    let progress = crate::progress::bar(
        total as u64,
        "[{bar:30}] {pos}/{len} ETA {eta:>4} {wide_msg}",
    );
    for path in images {
        let img = Original {
            luma: read_png_luma(path)?,
            rgb: if colour {
                Some(read_png_rgb(path)?)
            } else {
                None
            },
        };
        let name = images::file_name(path);
        for curve in curves.iter_mut() {
            let mut row = vec![];
            for (label, op) in &curve.points {
                let measured = code_and_measure(&img, op);
                row.push(measured.map_err(|e| format!("{}: {e}", path.display()))?);
                progress.set_message(format!("{name} {} {label}", curve.name));
                progress.inc(1);
            }
            curve.per_image.push(row);
        }
    }
    crate::progress::finish(&progress);
    Ok(())
}

fn parse_qualities(s: &str) -> Result<Vec<u32>, String> {
    s.split(',')
        .map(|q| {
            q.trim()
                .parse::<u32>()
                .ok()
                .filter(|q| (1..=10_000).contains(q))
                .ok_or_else(|| {
                    format!("'{q}' is not a JPEG quality (1-100) or J2K compression ratio")
                })
        })
        .collect()
}

fn parse_bpp_list(s: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|b| {
            b.trim()
                .parse::<f64>()
                .ok()
                .filter(|b| *b > 0.0 && *b < 8.0)
                .ok_or_else(|| format!("'{b}' is not a bit rate in bits per pixel (0-8)"))
        })
        .collect()
}

/// The models one `--model SPEC` names: a model file or folder, a built-in model's name, or
/// `builtin` for `codec`'s built-in ladder.
fn models_of(spec: &str, codec: &str) -> Result<Vec<ModelRef>, String> {
    if spec != "builtin" {
        return Ok(vec![ModelRef::parse(spec)?]);
    }
    let names = cnncodec::net::builtin::ladder_names_for(codec);
    if names.is_empty() {
        return Err(format!(
            "--model builtin: this build has no built-in {codec} model"
        ));
    }
    Ok(names
        .into_iter()
        .map(|n| ModelRef::Builtin(n.to_owned()))
        .collect())
}

/// The framework's points from `--OPTION SPEC[@Q,Q...]` options (see [`models_of`]).
fn framework_points(
    specs: &[String],
    option: &str,
    codec: &str,
    ensemble: SelfEnsembleMode,
) -> Result<Vec<(String, Operating)>, String> {
    let mut points = vec![];
    for spec in specs {
        let (spec, qualities) = match spec.rsplit_once('@') {
            Some((p, q)) => (p, Some(parse_qualities(q)?)),
            None => (spec.as_str(), None),
        };
        let mut loaded = models_of(spec, codec)?
            .into_iter()
            .map(|m| m.load().map(|w| (m, w)))
            .collect::<Result<Vec<_>, _>>()?;
        // A ladder's points in bit-rate order.
        loaded.sort_by_key(|(_, w)| cnncodec::net::builtin::bitrate_rank(codec, w.meta.quality));
        for (model, weights) in loaded {
            // A model of another codec runs only at points the command names (@QP,...).
            if weights.meta.codec != codec && (qualities.is_none() || codec != "hevc") {
                return Err(format!(
                    "--{option} {spec}: '{}' is a {} model; this run evaluates {codec} (--codec; with --codec hevc a model of another codec runs at the QPs given as {spec}@QP,QP...)",
                    weights.meta.name, weights.meta.codec
                ));
            }
            for &quality in qualities.as_deref().unwrap_or(&[weights.meta.quality]) {
                let stock = Stock::for_model(codec, quality)?;
                points.push((
                    format!("{} {}", weights.meta.name, stock.label()),
                    Operating::Framework {
                        model: model.clone(),
                        codec: stock,
                        ensemble,
                    },
                ));
            }
        }
    }
    Ok(points)
}
