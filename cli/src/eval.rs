//! `cnncodec eval`: rate-distortion of a set of images, luma, through the same stock
//! GStreamer elements the pipelines use.
//!
//! Curves: plain `jpegenc` on the full image at a quality ladder (the baseline), and the
//! framework: each `--model PATH[@Q,Q...]` at its compact qualities (default: the quality the
//! model was trained for); all framework points form one curve. bpp comes from the real
//! encoded bytes over the original size. Per image and mean: PSNR (Y), SSIM (reference
//! protocol), MS-SSIM. BD-rate / BD-PSNR (PCHIP) of the framework against plain JPEG, over
//! the whole overlap and over the points inside 0.1-0.4 bpp. Writes `rd.json`
//! (CompressAI-style `{"name", "description", "results": {metric: [...]}}` per curve),
//! `rd.svg`, and `rd.png` when `rsvg-convert` is installed.
//!
//! `--codec j2k` evaluates JPEG 2000 instead: the anchor is plain J2K (the plugin's `j2kenc`
//! at a bpp ladder, stock `openjpegdec`), plain JPEG is measured too (BD of J2K against it),
//! and framework models must be J2K models (`--model builtin` takes the `j2k-rN` ladder).
//!
//! `--colour rgb` codes the RGB picture instead: full-range BT.601 I420 through the codec
//! (the CNNs on luma, chroma resampled plainly by the elements), RGB out; adds PSNR over RGB
//! and its BD figures. bpp then counts the chroma bytes too.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use cnncodec::eval::metrics::{ms_ssim, psnr, ssim};
use cnncodec::eval::rd::{bd_quality, bd_rate, Interpolation, RdPoint};
use cnncodec::frame::image::{read_png_luma, read_png_rgb, RgbImage};
use cnncodec::GrayImage;
use serde_json::{json, Value};

use crate::args::Args;
use crate::codec::{
    codec_option, framework, framework_rgb, plain, plain_rgb, Coded, CodedRgb, ModelRef, Stock,
};
use crate::plot::{write_plot, Series};

const DEFAULT_JPEG_QUALITIES: &str = "3,5,8,10,15,20,30,40,50,75";
const DEFAULT_J2K_BPP: &str = "0.05,0.075,0.1,0.15,0.2,0.25,0.3,0.4,0.5,0.75";
/// The bit-rate window the framework is meant for.
const WINDOW_BPP: (f64, f64) = (0.1, 0.4);

/// One operating point of a curve: how to code an image.
#[derive(Clone)]
enum Operating {
    Plain(Stock),
    Framework { model: ModelRef, codec: Stock },
}

/// Measurements of one image at one operating point.
#[derive(Clone, Copy, Default)]
struct Measure {
    bpp: f64,
    /// PSNR of luma (Y, BT.601 as Pillow).
    psnr: f64,
    ssim: f64,
    ms_ssim: f64,
    /// PSNR over the three RGB channels (colour runs only; NaN otherwise).
    psnr_rgb: f64,
}

struct Curve {
    name: String,
    description: String,
    points: Vec<(String, Operating)>,
    /// `per_image[i][p]`: image i at point p.
    per_image: Vec<Vec<Measure>>,
}

/// PSNR of an exact copy is infinite; capped so that means stay over the same images.
const PSNR_CAP: f64 = 100.0;

fn measure(original: &GrayImage, coded: &Coded) -> Result<Measure, String> {
    if (coded.image.width, coded.image.height) != (original.width, original.height) {
        return Err(format!(
            "decoded {}x{} instead of {}x{}",
            coded.image.width, coded.image.height, original.width, original.height
        ));
    }
    let pixels = (original.width * original.height) as f64;
    Ok(Measure {
        bpp: coded.bytes as f64 * 8.0 / pixels,
        psnr: psnr(original, &coded.image).min(PSNR_CAP),
        ssim: ssim(original, &coded.image).unwrap_or(f64::NAN),
        ms_ssim: ms_ssim(original, &coded.image).unwrap_or(f64::NAN),
        psnr_rgb: f64::NAN,
    })
}

/// [`measure`] for a colour run: the luma figures of the decoded picture's luma, plus RGB PSNR.
fn measure_rgb(original: &RgbImage, coded: &CodedRgb) -> Result<Measure, String> {
    let luma = Coded {
        bytes: coded.bytes,
        image: coded.image.luma(),
    };
    let mut m = measure(&original.luma(), &luma)?;
    // PSNR is a mean over samples: the interleaved channels as one wide gray image.
    let flat = |i: &RgbImage| GrayImage::new(i.width * 3, i.height, i.data.clone());
    m.psnr_rgb = psnr(&flat(original), &flat(&coded.image)).min(PSNR_CAP);
    Ok(m)
}

/// The PNG files of a folder, sorted by name.
pub fn pngs_in(dir: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    Ok(v)
}

/// Image list: positional paths (files or folders), else `<data>/splits/<split>.txt`.
fn image_list(args: &Args) -> Result<(String, Vec<PathBuf>), String> {
    image_list_for(args, "dev-eval")
}

/// Whether `--split` names `dev-eval`, which is for measurements only (never trained on).
pub fn split_names_dev_eval(args: &Args) -> bool {
    args.get("split")
        .is_some_and(|s| s.split(',').any(|n| n.trim().starts_with("dev-eval")))
}

/// [`image_list`] with another default split.
pub fn image_list_for(args: &Args, default_split: &str) -> Result<(String, Vec<PathBuf>), String> {
    if !args.positional.is_empty() {
        let mut v = vec![];
        for p in &args.positional {
            let p = PathBuf::from(p);
            if p.is_dir() {
                v.extend(pngs_in(&p)?);
            } else {
                v.push(p);
            }
        }
        return Ok(("images given on the command line".into(), v));
    }
    let split = args.get("split").unwrap_or(default_split);
    let data = match args.get("data") {
        Some(d) => PathBuf::from(d),
        None => [
            crate::repo_root().join("data"),
            crate::repo_root().join("../shared/data"),
        ]
        .into_iter()
        .find(|d| d.join("splits").is_dir())
        .ok_or("no data folder: run scripts/fetch-data.sh, or pass --data DIR or image paths")?,
    };
    // Several splits may be joined with commas (for example `train,train-video`).
    let mut files = vec![];
    for name in split.split(',').map(str::trim) {
        let list = data.join("splits").join(format!("{name}.txt"));
        let text =
            std::fs::read_to_string(&list).map_err(|e| format!("{}: {e}", list.display()))?;
        files.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| data.join(l)),
        );
    }
    let shown = std::fs::canonicalize(&data).unwrap_or(data);
    Ok((format!("split '{split}' of {}", shown.display()), files))
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

/// The framework's points from `--model SPEC[@Q,Q...]` options; SPEC is a model file or
/// folder, a built-in model's name, or `builtin` for the built-in JPEG ladder.
fn framework_points(
    args: &Args,
    option: &str,
    codec: &str,
) -> Result<Vec<(String, Operating)>, String> {
    let mut points = vec![];
    for spec in args.all(option) {
        let (spec, qualities) = match spec.rsplit_once('@') {
            Some((p, q)) => (p, Some(parse_qualities(q)?)),
            None => (spec, None),
        };
        let models = if spec == "builtin" {
            let names = cnncodec::net::builtin::ladder_names_for(codec);
            if names.is_empty() {
                return Err(format!(
                    "--model builtin: this build has no built-in {codec} model"
                ));
            }
            names
                .into_iter()
                .map(|n| ModelRef::Builtin(n.to_owned()))
                .collect()
        } else {
            vec![ModelRef::parse(spec)?]
        };
        let mut loaded = models
            .into_iter()
            .map(|m| m.load().map(|w| (m, w)))
            .collect::<Result<Vec<_>, _>>()?;
        // A ladder's points in bit-rate order.
        loaded.sort_by_key(|(_, w)| cnncodec::net::builtin::bitrate_rank(codec, w.meta.quality));
        for (model, weights) in loaded {
            if weights.meta.codec != codec {
                return Err(format!(
                    "--{option} {spec}: '{}' is a {} model; this run evaluates {codec} (--codec)",
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
                    },
                ));
            }
        }
    }
    Ok(points)
}

/// A progress line on stderr: count, current item, ETA.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
}

impl Progress {
    fn step(&mut self, label: &str) {
        self.done += 1;
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = elapsed / self.done as f64 * (self.total - self.done) as f64;
        let width = 30;
        let filled = width * self.done / self.total.max(1);
        eprint!(
            "\r[{}{}] {}/{} ETA {:>4.0}s {:<56.56}",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total,
            eta,
            label
        );
        let _ = std::io::stderr().flush();
        if self.done == self.total {
            eprintln!();
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl Curve {
    fn mean_at(&self, p: usize, f: impl Fn(&Measure) -> f64) -> f64 {
        mean(self.per_image.iter().map(|m| f(&m[p])))
    }

    fn rd(&self, f: impl Fn(&Measure) -> f64 + Copy) -> Vec<RdPoint> {
        (0..self.points.len())
            .map(|p| RdPoint {
                rate: self.mean_at(p, |m| m.bpp),
                quality: self.mean_at(p, f),
            })
            .collect()
    }

    fn to_json(&self, images: &[PathBuf]) -> Value {
        let n = self.points.len();
        let series =
            |f: fn(&Measure) -> f64| -> Vec<f64> { (0..n).map(|p| self.mean_at(p, f)).collect() };
        let per_image: serde_json::Map<String, Value> = images
            .iter()
            .zip(&self.per_image)
            .map(|(path, m)| {
                (
                    // The file name: results stay comparable between machines.
                    path.file_name().map_or_else(
                        || path.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    ),
                    json!({
                        "bpp": m.iter().map(|x| x.bpp).collect::<Vec<_>>(),
                        "psnr-y": m.iter().map(|x| x.psnr).collect::<Vec<_>>(),
                        "ssim": m.iter().map(|x| x.ssim).collect::<Vec<_>>(),
                        "ms-ssim": m.iter().map(|x| x.ms_ssim).collect::<Vec<_>>(),
                        "psnr-rgb": m.iter().map(|x| x.psnr_rgb).collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        json!({
            "name": self.name,
            "description": self.description,
            "results": {
                "point": self.points.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
                "bpp": series(|m| m.bpp),
                "psnr-y": series(|m| m.psnr),
                "ssim": series(|m| m.ssim),
                "ms-ssim": series(|m| m.ms_ssim),
                "psnr-rgb": series(|m| m.psnr_rgb),
            },
            "per_image": per_image,
        })
    }
}

/// BD figures of `test` against `anchor` for one metric, whole overlap and inside the window.
fn bd_entry(anchor: &Curve, test: &Curve, metric: &str, f: fn(&Measure) -> f64) -> Value {
    let (a, t) = (anchor.rd(f), test.rd(f));
    let in_window = |c: &[RdPoint]| -> Vec<RdPoint> {
        c.iter()
            .copied()
            .filter(|p| p.rate >= WINDOW_BPP.0 && p.rate <= WINDOW_BPP.1)
            .collect()
    };
    let val = |r: Result<f64, cnncodec::eval::rd::BdError>| match r {
        Ok(v) => json!(v),
        Err(e) => json!(format!("undefined: {e}")),
    };
    json!({
        "anchor": anchor.name,
        "test": test.name,
        "metric": metric,
        "interpolation": "pchip",
        "bd_rate_percent": val(bd_rate(&a, &t, Interpolation::Pchip)),
        "bd_quality": val(bd_quality(&a, &t, Interpolation::Pchip)),
        "window_bpp": [WINDOW_BPP.0, WINDOW_BPP.1],
        "bd_rate_percent_in_window": val(bd_rate(&in_window(&a), &in_window(&t), Interpolation::Pchip)),
        "bd_quality_in_window": val(bd_quality(&in_window(&a), &in_window(&t), Interpolation::Pchip)),
    })
}

pub fn run_eval(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(
        raw,
        &[
            "data",
            "split",
            "model",
            "jpeg-qualities",
            "out",
            "name",
            "colour",
            "also-model",
            "also-name",
            "codec",
            "j2k-bpp",
        ],
    )?;
    let codec = codec_option(&args)?;
    let colour = match args.get("colour").unwrap_or("luma") {
        "luma" => false,
        "rgb" => true,
        other => return Err(format!("--colour {other}: use luma or rgb")),
    };
    let (dataset, images) = image_list(&args)?;
    if images.is_empty() {
        return Err("no images to evaluate".into());
    }
    let out_dir = PathBuf::from(args.get("out").unwrap_or("eval-out"));
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let jpeg_q = parse_qualities(args.get("jpeg-qualities").unwrap_or(DEFAULT_JPEG_QUALITIES))?;
    let plain_curve = |name: &str, description: &str, points: Vec<Stock>| Curve {
        name: name.into(),
        description: description.into(),
        points: points
            .into_iter()
            .map(|p| (p.label(), Operating::Plain(p)))
            .collect(),
        per_image: vec![],
    };
    let jpeg_curve = plain_curve(
        "jpeg",
        "plain jpegenc on the full image, idct-method=islow both ways",
        jpeg_q.iter().map(|&q| Stock::Jpeg(q)).collect(),
    );
    // The first curve is the anchor of the framework's BD figures.
    let mut curves = if codec == "jpeg2000" {
        let bpp = parse_bpp_list(args.get("j2k-bpp").unwrap_or(DEFAULT_J2K_BPP))?;
        vec![
            plain_curve(
                "j2k",
                "plain JPEG 2000 on the full image: the plugin's j2kenc (OpenJPEG, 9/7 wavelet, one layer) at a bpp target, stock openjpegdec",
                bpp.into_iter().map(Stock::J2kBpp).collect(),
            ),
            jpeg_curve,
        ]
    } else {
        vec![jpeg_curve]
    };
    let anchor_count = curves.len();
    // The framework curve, and optionally a second one (`--also-model`) to compare with it.
    for (option, name_option, default_name) in [
        ("model", "name", "framework"),
        ("also-model", "also-name", "second framework curve"),
    ] {
        let fw = framework_points(&args, option, codec)?;
        if !fw.is_empty() {
            curves.push(Curve {
                name: args.get(name_option).unwrap_or(default_name).to_owned(),
                description: if codec == "jpeg2000" {
                    "comcnnenc ! j2kenc compression-ratio=R ! openjpegdec ! reccnndec"
                } else {
                    "comcnnenc ! jpegenc (islow) ! jpegdec (islow) ! reccnndec"
                }
                .into(),
                points: fw,
                per_image: vec![],
            });
        }
    }
    gstcnncodec::runner::init();
    let total = images.len() * curves.iter().map(|c| c.points.len()).sum::<usize>();
    eprintln!("eval: {} images ({dataset}), {total} codings", images.len());
    let mut progress = Progress {
        total,
        done: 0,
        started: Instant::now(),
    };
    for path in &images {
        let img = read_png_luma(path)?;
        let rgb = if colour {
            Some(read_png_rgb(path)?)
        } else {
            None
        };
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for curve in &mut curves {
            let mut row = vec![];
            for (label, op) in &curve.points {
                let measured = match (&rgb, op) {
                    (None, Operating::Plain(c)) => measure(&img, &plain(&img, *c)?),
                    (None, Operating::Framework { model, codec }) => {
                        measure(&img, &framework(&img, Some(model), *codec)?)
                    }
                    (Some(rgb), Operating::Plain(c)) => measure_rgb(rgb, &plain_rgb(rgb, *c)?),
                    (Some(rgb), Operating::Framework { model, codec }) => {
                        measure_rgb(rgb, &framework_rgb(rgb, Some(model), *codec)?)
                    }
                };
                row.push(measured.map_err(|e| format!("{}: {e}", path.display()))?);
                progress.step(&format!("{name} {} {label}", curve.name));
            }
            curve.per_image.push(row);
        }
    }

    let mut bd = vec![];
    if curves.len() > 1 {
        for (metric, f) in [
            ("psnr-y", (|m: &Measure| m.psnr) as fn(&Measure) -> f64),
            ("ssim", |m: &Measure| m.ssim),
            ("ms-ssim", |m: &Measure| m.ms_ssim),
            ("psnr-rgb", |m: &Measure| m.psnr_rgb),
        ] {
            if metric == "psnr-rgb" && !colour {
                continue;
            }
            // J2K runs: plain J2K against plain JPEG. Then each framework curve against the
            // plain codec, and the second framework curve against the first.
            if anchor_count == 2 {
                bd.push(bd_entry(&curves[1], &curves[0], metric, f));
            }
            for test in &curves[anchor_count..] {
                bd.push(bd_entry(&curves[0], test, metric, f));
            }
            if curves.len() == anchor_count + 2 {
                bd.push(bd_entry(
                    &curves[anchor_count],
                    &curves[anchor_count + 1],
                    metric,
                    f,
                ));
            }
        }
    }
    let report = json!({
        "dataset": dataset,
        "codec": codec,
        "images": images.len(),
        "colour": if colour {
            "RGB in, full-range BT.601 I420 through the codec (CNNs on luma, chroma resampled plainly), RGB out; PSNR-Y on BT.601 luma as Pillow's convert('L')"
        } else {
            "luma (BT.601 as Pillow's convert('L'))"
        },
        "curves": curves.iter().map(|c| c.to_json(&images)).collect::<Vec<_>>(),
        "bd": bd,
    });
    let json_path = out_dir.join("rd.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report).unwrap())
        .map_err(|e| format!("{}: {e}", json_path.display()))?;

    println!("| curve | point | bpp | PSNR-Y dB | SSIM | MS-SSIM | PSNR-RGB dB |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for c in &curves {
        for (p, (label, _)) in c.points.iter().enumerate() {
            println!(
                "| {} | {label} | {:.4} | {:.2} | {:.4} | {:.4} | {} |",
                c.name,
                c.mean_at(p, |m| m.bpp),
                c.mean_at(p, |m| m.psnr),
                c.mean_at(p, |m| m.ssim),
                c.mean_at(p, |m| m.ms_ssim),
                if colour {
                    format!("{:.2}", c.mean_at(p, |m| m.psnr_rgb))
                } else {
                    "-".into()
                }
            );
        }
    }
    let num = |v: &Value, digits: usize| match v.as_f64() {
        Some(x) => format!("{x:+.digits$}"),
        None => v.as_str().unwrap_or("?").to_owned(),
    };
    for b in &bd {
        let part =
            |rate: &Value, quality: &Value, over: &str| match (rate.as_f64(), quality.as_f64()) {
                (Some(_), Some(_)) => format!(
                    "rate {} %, quality {} over {over}",
                    num(rate, 2),
                    num(quality, 4)
                ),
                _ => format!("{} over {over}", rate.as_str().unwrap_or("undefined")),
            };
        println!(
            "BD {} vs {} ({}): {}; {}",
            b["test"].as_str().unwrap_or("?"),
            b["anchor"].as_str().unwrap_or("?"),
            b["metric"].as_str().unwrap_or("?"),
            part(&b["bd_rate_percent"], &b["bd_quality"], "the whole overlap"),
            part(
                &b["bd_rate_percent_in_window"],
                &b["bd_quality_in_window"],
                &format!("the points in {}-{} bpp", WINDOW_BPP.0, WINDOW_BPP.1)
            ),
        );
    }
    let series: Vec<Series> = curves
        .iter()
        .map(|c| Series {
            name: c.name.clone(),
            points: c
                .rd(if colour {
                    |m: &Measure| m.psnr_rgb
                } else {
                    |m: &Measure| m.psnr
                })
                .iter()
                .map(|p| (p.rate, p.quality))
                .collect(),
        })
        .collect();
    let svg = out_dir.join("rd.svg");
    let png = write_plot(
        &svg,
        &format!(
            "{} RD, {}",
            if colour { "Colour" } else { "Luma" },
            dataset_title(&dataset, images.len())
        ),
        "bits per pixel",
        if colour {
            "PSNR-RGB (dB)"
        } else {
            "PSNR-Y (dB)"
        },
        &series,
    )?;
    println!(
        "wrote {}, {}{}",
        json_path.display(),
        svg.display(),
        png.map(|p| format!(", {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

fn dataset_title(dataset: &str, n: usize) -> String {
    format!("{n} images ({dataset})")
}
