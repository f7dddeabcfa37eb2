//! What `eval` reports: `rd.json` (the typed [`RdReport`] that `cnncodec models` and the
//! built-in measured table read), the table and BD lines on stdout, and the RD plot.

use std::path::{Path, PathBuf};

use cnncodec::eval::rd::{
    bd_quality, bd_rate, BdEntry, BdFigure, Interpolation, RdCurve, RdPoint, RdReport, RdResults,
    RdSeries,
};

use super::images::file_name;
use super::measure::{Curve, Measure, Metric, METRICS};
use crate::plot::{write_plot, Series};

/// The bit-rate window the framework is meant for.
pub const WINDOW_BPP: (f64, f64) = (0.1, 0.4);

/// A run's curves over its images, all measured.
pub struct Results<'a> {
    pub dataset: &'a str,
    pub codec: &'static str,
    pub colour: bool,
    pub images: &'a [PathBuf],
    pub curves: &'a [Curve],
    /// How many of the first curves are plain codecs (anchors).
    pub anchors: usize,
}

/// One series of values per metric, from one value per point.
fn series(m: &[Measure]) -> RdSeries {
    let of = |f: Metric| m.iter().map(f).collect();
    RdSeries {
        bpp: of(|x| x.bpp),
        ms_ssim: of(|x| x.ms_ssim),
        psnr_rgb: of(|x| x.psnr_rgb),
        psnr_y: of(|x| x.psnr),
        ssim: of(|x| x.ssim),
    }
}

fn rd_curve(curve: &Curve, images: &[PathBuf]) -> RdCurve {
    RdCurve {
        description: curve.description.clone(),
        name: curve.name.clone(),
        per_image: images
            .iter()
            .zip(&curve.per_image)
            .map(|(path, m)| (file_name(path), series(m)))
            .collect(),
        results: RdResults {
            bpp: curve.means(|m| m.bpp),
            ms_ssim: curve.means(|m| m.ms_ssim),
            point: curve.points.iter().map(|(l, _)| l.clone()).collect(),
            psnr_rgb: curve.means(|m| m.psnr_rgb),
            psnr_y: curve.means(|m| m.psnr),
            ssim: curve.means(|m| m.ssim),
        },
    }
}

/// BD figures of `test` against `anchor` for one metric, whole overlap and inside the window.
fn bd_entry(anchor: &Curve, test: &Curve, metric: &str, f: Metric) -> BdEntry {
    let (a, t) = (anchor.rd(f), test.rd(f));
    let in_window = |c: &[RdPoint]| -> Vec<RdPoint> {
        c.iter()
            .copied()
            .filter(|p| p.rate >= WINDOW_BPP.0 && p.rate <= WINDOW_BPP.1)
            .collect()
    };
    let (aw, tw) = (in_window(&a), in_window(&t));
    let method = Interpolation::Pchip;
    BdEntry {
        anchor: anchor.name.clone(),
        bd_quality: bd_quality(&a, &t, method).into(),
        bd_quality_in_window: bd_quality(&aw, &tw, method).into(),
        bd_rate_percent: bd_rate(&a, &t, method).into(),
        bd_rate_percent_in_window: bd_rate(&aw, &tw, method).into(),
        interpolation: method,
        metric: metric.into(),
        test: test.name.clone(),
        window_bpp: [WINDOW_BPP.0, WINDOW_BPP.1],
    }
}

/// The BD figures: per metric, plain J2K against plain JPEG (J2K runs), each framework curve
/// against the plain codec, and the second framework curve against the first.
fn bd_entries(r: &Results) -> Vec<BdEntry> {
    let (curves, anchors) = (r.curves, r.anchors);
    let mut bd = vec![];
    if curves.len() <= 1 {
        return bd;
    }
    for (metric, f) in METRICS {
        if metric == "psnr-rgb" && !r.colour {
            continue;
        }
        if anchors == 2 {
            bd.push(bd_entry(&curves[1], &curves[0], metric, f));
        }
        for test in &curves[anchors..] {
            bd.push(bd_entry(&curves[0], test, metric, f));
        }
        if curves.len() == anchors + 2 {
            bd.push(bd_entry(&curves[anchors], &curves[anchors + 1], metric, f));
        }
    }
    bd
}

/// The `rd.json` report of a run.
pub fn rd_report(r: &Results) -> RdReport {
    RdReport {
        bd: bd_entries(r),
        codec: r.codec.into(),
        colour: if r.colour {
            "RGB in, full-range BT.601 I420 through the codec (CNNs on luma, chroma resampled plainly), RGB out; PSNR-Y on BT.601 luma as Pillow's convert('L')"
        } else {
            "luma (BT.601 as Pillow's convert('L'))"
        }
        .into(),
        curves: r.curves.iter().map(|c| rd_curve(c, r.images)).collect(),
        dataset: r.dataset.into(),
        images: r.images.len(),
    }
}

/// Writes `report` as `dir/rd.json`.
pub fn write_rd_json(dir: &Path, report: &RdReport) -> Result<PathBuf, String> {
    let path = dir.join("rd.json");
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The mean values of every curve's points, as a Markdown table.
pub fn print_table(r: &Results) {
    println!("| curve | point | bpp | PSNR-Y dB | SSIM | MS-SSIM | PSNR-RGB dB |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for c in r.curves {
        for (p, (label, _)) in c.points.iter().enumerate() {
            println!(
                "| {} | {label} | {:.4} | {:.2} | {:.4} | {:.4} | {} |",
                c.name,
                c.mean_at(p, |m| m.bpp),
                c.mean_at(p, |m| m.psnr),
                c.mean_at(p, |m| m.ssim),
                c.mean_at(p, |m| m.ms_ssim),
                if r.colour {
                    format!("{:.2}", c.mean_at(p, |m| m.psnr_rgb))
                } else {
                    "-".into()
                }
            );
        }
    }
}

/// A BD figure with a sign and `digits` decimals, else why it is undefined.
fn figure(v: &BdFigure, digits: usize) -> String {
    match v.value() {
        Some(x) => format!("{x:+.digits$}"),
        None => v.undefined().unwrap_or("?").to_owned(),
    }
}

/// Rate and quality figures over a range, or why they are undefined.
fn figures(rate: &BdFigure, quality: &BdFigure, over: &str) -> String {
    match (rate.value(), quality.value()) {
        (Some(_), Some(_)) => format!(
            "rate {} %, quality {} over {over}",
            figure(rate, 2),
            figure(quality, 4)
        ),
        _ => format!("{} over {over}", rate.undefined().unwrap_or("undefined")),
    }
}

/// One line per BD entry.
pub fn print_bd(bd: &[BdEntry]) {
    for b in bd {
        println!(
            "BD {} vs {} ({}): {}; {}",
            b.test,
            b.anchor,
            b.metric,
            figures(&b.bd_rate_percent, &b.bd_quality, "the whole overlap"),
            figures(
                &b.bd_rate_percent_in_window,
                &b.bd_quality_in_window,
                &format!("the points in {}-{} bpp", b.window_bpp[0], b.window_bpp[1])
            ),
        );
    }
}

/// `dir/rd.svg` (and a PNG beside it when `rsvg-convert` runs): PSNR (RGB for colour runs)
/// against bpp. Returns the files written.
pub fn write_rd_plot(dir: &Path, r: &Results) -> Result<(PathBuf, Option<PathBuf>), String> {
    let f: Metric = if r.colour { |m| m.psnr_rgb } else { |m| m.psnr };
    let series: Vec<Series> = r
        .curves
        .iter()
        .map(|c| Series {
            name: c.name.clone(),
            points: c.rd(f).iter().map(|p| (p.rate, p.quality)).collect(),
        })
        .collect();
    let svg = dir.join("rd.svg");
    let png = write_plot(
        &svg,
        &format!(
            "{} RD, {} images ({})",
            if r.colour { "Colour" } else { "Luma" },
            r.images.len(),
            r.dataset
        ),
        "bits per pixel",
        if r.colour {
            "PSNR-RGB (dB)"
        } else {
            "PSNR-Y (dB)"
        },
        &series,
    )?;
    Ok((svg, png))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped reports (what `cnncodec models` reports) read as typed reports and write
    /// back to the same JSON: every key and value (`null` included) survives.
    #[test]
    fn shipped_reports_round_trip() {
        let mut read = 0;
        for dir in ["dev-eval", "dev-eval-j2k", "dev-eval-paper"] {
            let path = crate::repo_root().join("models").join(dir).join("rd.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let report: RdReport = serde_json::from_str(&text).unwrap();
            assert!(!report.curves.is_empty(), "{}", path.display());
            let as_read: serde_json::Value = serde_json::from_str(&text).unwrap();
            let written = serde_json::to_value(&report).unwrap();
            assert!(written == as_read, "{} changed", path.display());
            read += 1;
        }
        assert!(read > 0, "no shipped rd.json in models/");
    }
}
