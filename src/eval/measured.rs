//! What `cnncodec eval` measured for the built-in models at their operating points (the
//! eval reports shipped in `models/`), and the ladder point for a target bit rate.

use crate::eval::rd::RdReport;
use crate::net::builtin::{builtin, ladder_names_for, point_label};

include!(concat!(env!("OUT_DIR"), "/measured_rds.rs"));

/// What `cnncodec eval` measured for a built-in model at its own compact quality.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The images it was measured on.
    pub dataset: String,
    pub bpp: f64,
    pub psnr_y: f64,
    pub ssim: f64,
    pub ms_ssim: f64,
}

/// The measured point of built-in `name` at its operating point `quality` (JPEG quality, or
/// J2K compression ratio for a `jpeg2000` model), from the eval reports shipped in
/// `models/dev-eval/rd.json` (JPEG), `models/dev-eval-j2k/rd.json` (JPEG 2000) and
/// `models/dev-eval-paper/rd.json` (`jpeg-q50-paper`) and `models/dev-eval-wide/rd.json`
/// (`jpeg-q50-wide`).
pub fn measured(name: &str, codec: &str, quality: u32) -> Option<Measured> {
    let label = format!("{name} {}", point_label(codec, quality));
    MEASURED_RDS
        .iter()
        .filter_map(|text| serde_json::from_str::<RdReport>(text).ok())
        .find_map(|report| measured_in(&report, &label))
}

fn measured_in(report: &RdReport, label: &str) -> Option<Measured> {
    let (curve, at) = report
        .curves
        .iter()
        .find_map(|c| c.point_index(label).map(|at| (c, at)))?;
    let results = &curve.results;
    // A value the report lacks, or `null` (NaN), means no measurement.
    let value = |v: &[f64]| v.get(at).copied().filter(|x| !x.is_nan());
    // Where the measuring machine kept the data says nothing to anyone else.
    let dataset = if report.dataset.is_empty() {
        "?"
    } else {
        &report.dataset
    };
    let dataset = dataset
        .split_once(" of /")
        .map_or(dataset, |(split, _)| split);
    Some(Measured {
        dataset: format!("{dataset} ({} images)", report.images),
        bpp: value(&results.bpp)?,
        psnr_y: value(&results.psnr_y)?,
        ssim: value(&results.ssim)?,
        ms_ssim: value(&results.ms_ssim)?,
    })
}

/// The built-in ladder model of `codec` for a target bit rate: the highest-rate point whose
/// measured `dev-eval` bits per pixel do not exceed `bpp`, else the lowest-rate point. The
/// measurement is over photographs; a scene's own rate may differ.
pub fn ladder_point_for_bpp(codec: &str, bpp: f64) -> Option<&'static str> {
    let ladder = ladder_names_for(codec);
    let rate = |name: &str| {
        let quality = builtin(name).ok()?.meta.quality;
        measured(name, codec, quality).map(|m| m.bpp)
    };
    ladder
        .iter()
        .rev()
        .find(|n| rate(n).is_some_and(|r| r <= bpp))
        .or(ladder.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::builtin::{builtin_models, ladder_names};

    #[test]
    fn a_target_rate_picks_the_ladder_point_below_it() {
        let ladder = ladder_names();
        if ladder.len() < 2 {
            return; // a build without the ladder
        }
        let bpp = |n: &str| {
            measured(n, "jpeg", builtin(n).unwrap().meta.quality)
                .unwrap()
                .bpp
        };
        for (i, name) in ladder.iter().enumerate() {
            assert_eq!(ladder_point_for_bpp("jpeg", bpp(name)), Some(*name));
            if let Some(next) = ladder.get(i + 1) {
                let between = (bpp(name) + bpp(next)) / 2.0;
                assert_eq!(ladder_point_for_bpp("jpeg", between), Some(*name));
            }
        }
        assert_eq!(ladder_point_for_bpp("jpeg", 0.0), Some(ladder[0]));
        assert_eq!(ladder_point_for_bpp("jpeg", 100.0), ladder.last().copied());
        assert_eq!(ladder_point_for_bpp("no-codec", 1.0), None);
        let m = measured(ladder[0], "jpeg", builtin(ladder[0]).unwrap().meta.quality).unwrap();
        assert!(!m.dataset.contains('/'), "a machine's path: {}", m.dataset);
    }

    #[test]
    fn every_builtin_model_has_its_measured_rd() {
        for m in builtin_models() {
            let w = builtin(m.name).unwrap();
            let got = measured(m.name, &w.meta.codec, w.meta.quality);
            assert!(
                got.as_ref().is_some_and(|x| x.bpp > 0.0 && x.psnr_y > 10.0),
                "{}: no measurement in models/dev-eval*/rd.json; run scripts/measure-models.sh",
                m.name
            );
        }
    }
}
