//! `cnncodec models [--json]`: the built-in models with their codec, compact quality and
//! measured bit rate and quality, so a user (or a script) picks an operating point. The
//! measurements are the `rd.json` reports of `cnncodec eval` shipped in `models/dev-eval*/`,
//! read as typed `cnncodec::eval::rd::RdReport`s by `cnncodec::eval::measured::measured`.

use serde::Serialize;

use crate::codec::Stock;

/// The built-in models and their measured rate and quality.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// One built-in model as `--json` prints it (fields in the order the JSON lists them).
#[derive(Serialize)]
struct ModelRow {
    architecture: Architecture,
    codec: String,
    /// JPEG quality, or J2K compression ratio, of the compact image.
    compact_quality: u32,
    content_hash: String,
    default: bool,
    encoder_setting: String,
    measured: Option<MeasuredPoint>,
    name: String,
    pipeline: String,
    provenance: String,
}

#[derive(Serialize)]
struct Architecture {
    comcnn_features: usize,
    reccnn_depth: usize,
    reccnn_features: usize,
}

/// What `cnncodec eval` measured at the model's own operating point.
#[derive(Serialize)]
struct MeasuredPoint {
    bpp: f64,
    dataset: String,
    ms_ssim: f64,
    psnr_y: f64,
    ssim: f64,
}

impl From<cnncodec::eval::measured::Measured> for MeasuredPoint {
    fn from(m: cnncodec::eval::measured::Measured) -> Self {
        Self {
            bpp: m.bpp,
            dataset: m.dataset,
            ms_ssim: m.ms_ssim,
            psnr_y: m.psnr_y,
            ssim: m.ssim,
        }
    }
}

pub fn run_models(args: &ModelsArgs) -> Result<(), String> {
    let rows = model_rows()?;
    if args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}", cnncodec::net::builtin::no_model_message());
        return Ok(());
    }
    print_table(&rows);
    Ok(())
}

/// Every built-in model, each codec's in bit-rate order (JPEG: rising quality; J2K: falling
/// ratio).
fn model_rows() -> Result<Vec<ModelRow>, String> {
    let default = cnncodec::net::builtin::default_model();
    let mut rows = vec![];
    for m in cnncodec::net::builtin::builtin_models() {
        let w = cnncodec::net::builtin::builtin(m.name)?;
        let measured = cnncodec::eval::measured::measured(m.name, &w.meta.codec, w.meta.quality);
        let stock = Stock::for_model(&w.meta.codec, w.meta.quality)?;
        rows.push(ModelRow {
            architecture: Architecture {
                comcnn_features: w.meta.comcnn.features,
                reccnn_depth: w.meta.reccnn.depth,
                reccnn_features: w.meta.reccnn.features,
            },
            codec: w.meta.codec.clone(),
            compact_quality: w.meta.quality,
            content_hash: w.meta.content_hash.clone(),
            default: Some(m.name) == default,
            encoder_setting: stock.setting(),
            measured: measured.map(Into::into),
            name: m.name.to_owned(),
            pipeline: format!(
                "comcnnenc model={}{} ! {}",
                m.name,
                match stock.compact_setting() {
                    "" => String::new(),
                    extra => format!(" {extra}"),
                },
                stock.element()
            ),
            provenance: w.meta.provenance.clone(),
        });
    }
    rows.sort_by_key(|r| {
        let rank = cnncodec::net::builtin::bitrate_rank(&r.codec, r.compact_quality);
        (r.codec != "jpeg", r.codec.clone(), rank, r.name.clone())
    });
    Ok(rows)
}

fn print_table(rows: &[ModelRow]) {
    println!("| model | codec | encoder setting | bpp | PSNR-Y dB | SSIM | |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let num = |f: fn(&MeasuredPoint) -> f64, d: usize| {
            r.measured
                .as_ref()
                .map_or("-".to_owned(), |m| format!("{:.d$}", f(m)))
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.codec,
            r.encoder_setting,
            num(|m| m.bpp, 3),
            num(|m| m.psnr_y, 2),
            num(|m| m.ssim, 4),
            if r.default { "default" } else { "" }
        );
    }
    if let Some(m) = rows.iter().find_map(|r| r.measured.as_ref()) {
        println!(
            "\nMeasured by `cnncodec eval` on {}, luma, mean per image.",
            m.dataset
        );
    }
    let earlier = cnncodec::net::builtin::earlier_models();
    if !earlier.is_empty() {
        println!(
            "\nAlso built in, only to play the streams they made: {} earlier versions, trained \
             behind an earlier ComCNN ({}). reccnndec picks them by the stream's tag, or for \
             model=NAME the earlier version of NAME; these file names are not model names.",
            earlier.len(),
            earlier
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("{VIDEO_NOTE}");
}

/// The recordings: no model of their own (none trained for recordings beat the default on
/// the whole), and where the framework stops paying is in docs/video.md.
const VIDEO_NOTE: &str =
    "\nH.264 / H.265 recordings: `comcnnenc ! x264enc bitrate=K` (or x265enc) with the \
default model (RecCNNs trained on recordings were not better on the whole); it is ahead of the \
plain encoder only at low rates (docs/video.md: where, per clip). HEVC intra \
(x265enc key-int-max=1): use the plain encoder.";
