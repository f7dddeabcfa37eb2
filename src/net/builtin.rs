//! Built-in models (the project's trained ladder, compiled in from `models/`) and how a model
//! setting is resolved.

use std::path::Path;

use crate::net::weights::{ModelWeights, WeightsError};

/// A model compiled into the library.
pub struct BuiltinModel {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_models.rs"));

/// The built-in model used when none is chosen: the paper's operating point (compact JPEG
/// quality 50), where the framework's gain over plain JPEG is largest per byte saved.
pub const DEFAULT_MODEL: &str = "jpeg-q50";

/// Short names users may type for a built-in model.
pub const ALIASES: &[(&str, &str)] = &[("fast", "jpeg-q50-fast")];

/// Models shipped inside the library, sorted by name.
pub fn builtin_models() -> &'static [BuiltinModel] {
    BUILTIN
}

/// The names of the built-in models, for messages and property docs.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|m| m.name).collect()
}

/// The JPEG ladder: one full-size model per compact quality (`jpeg-qN`), by quality.
pub fn ladder_names() -> Vec<&'static str> {
    ladder_names_for("jpeg")
}

/// How a codec's models name their operating point (`jpeg-q50`: JPEG quality 50; `j2k-r8`:
/// J2K compression ratio 8): the name's codec part, the point's letter, and whether a larger
/// number means more bits.
fn naming(codec: &str) -> Option<(&'static str, &'static str, bool)> {
    match codec {
        "jpeg" => Some(("jpeg-", "q", true)),
        "jpeg2000" => Some(("j2k-", "r", false)),
        _ => None,
    }
}

/// The short label of an operating point, as eval reports write it: `q50` (JPEG quality) or
/// `r8` (J2K compression ratio).
pub fn point_label(codec: &str, quality: u32) -> String {
    let letter = naming(codec).map_or("q", |n| n.1);
    format!("{letter}{quality}")
}

/// The conventional name of `codec`'s ladder model for `quality`: `jpeg-q50`, `j2k-r8`.
pub fn ladder_name(codec: &str, quality: u32) -> String {
    let prefix = naming(codec).map_or("", |n| n.0);
    format!("{prefix}{}", point_label(codec, quality))
}

/// A key that sorts `codec`'s operating points by bit rate: rising JPEG quality, falling J2K
/// compression ratio.
pub fn bitrate_rank(codec: &str, quality: u32) -> i64 {
    match naming(codec) {
        Some((_, _, false)) => -(quality as i64),
        _ => quality as i64,
    }
}

/// A codec's ladder in bit-rate order: `jpeg-qN` (`jpeg`) or `j2k-rN` (`jpeg2000`).
pub fn ladder_names_for(codec: &str) -> Vec<&'static str> {
    let Some((prefix, letter, _)) = naming(codec) else {
        return vec![];
    };
    let point = |n: &str| {
        n.strip_prefix(prefix)
            .and_then(|n| n.strip_prefix(letter))
            .and_then(|q| q.parse::<u32>().ok())
    };
    let mut v: Vec<&'static str> = BUILTIN
        .iter()
        .map(|m| m.name)
        .filter(|n| point(n).is_some())
        .collect();
    v.sort_by_key(|n| point(n).map(|q| bitrate_rank(codec, q)));
    v
}

/// The default model's name, when this build has it.
pub fn default_model() -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|m| m.name == DEFAULT_MODEL)
        .or(BUILTIN.first())
        .map(|m| m.name)
}

/// The message an element posts when it was given no model and none is built in.
pub fn no_model_message() -> String {
    "no model given and this build has no built-in model: set model-location to a .cnnmodel \
     file or to a directory holding comcnn.safetensors and reccnn.safetensors (for example the \
     paper's released model, ../shared/reference/official-qf50)"
        .to_owned()
}

/// Loads the built-in model `name`.
pub fn builtin(name: &str) -> Result<ModelWeights, String> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, full)| full);
    let model = BUILTIN.iter().find(|m| m.name == name).ok_or_else(|| {
        if BUILTIN.is_empty() {
            format!("model '{name}': {}", no_model_message())
        } else {
            format!(
                "no built-in model is called '{name}'; choose one of {} (`cnncodec models` lists them with their bit rates), or set model-location to a model file",
                builtin_names().join(", ")
            )
        }
    })?;
    ModelWeights::from_model_bytes(model.bytes, Path::new(&format!("built-in:{}", model.name)))
        .map_err(|e| e.to_string())
}

/// The built-in model whose content hash starts with `short_hash` (what a stream names).
pub fn builtin_with_hash(short_hash: &str) -> Option<ModelWeights> {
    if short_hash.len() < 8 {
        return None;
    }
    // Every built-in model's hash, computed once: hashing them all per stream took
    // milliseconds each time a stream named a model.
    static HASHES: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        BUILTIN
            .iter()
            .filter_map(|m| builtin(m.name).ok().map(|w| (m.name, w.meta.content_hash)))
            .collect()
    });
    let (name, _) = hashes.iter().find(|(_, h)| h.starts_with(short_hash))?;
    builtin(name).ok()
}

/// Loads `location` when given, else the built-in `name` (else the default built-in model).
pub fn resolve(location: Option<&Path>, name: Option<&str>) -> Result<ModelWeights, String> {
    match (location, name) {
        (Some(path), _) => ModelWeights::load(path).map_err(|e: WeightsError| e.to_string()),
        (None, Some(name)) => builtin(name),
        (None, None) => builtin(default_model().ok_or_else(no_model_message)?),
    }
}

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
/// `models/dev-eval-paper/rd.json` (`jpeg-q50-paper`).
pub fn measured(name: &str, codec: &str, quality: u32) -> Option<Measured> {
    let label = format!("{name} {}", point_label(codec, quality));
    MEASURED_RDS
        .iter()
        .filter_map(|text| serde_json::from_str::<crate::eval::rd::RdReport>(text).ok())
        .find_map(|report| measured_in(&report, &label))
}

fn measured_in(report: &crate::eval::rd::RdReport, label: &str) -> Option<Measured> {
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
    fn every_builtin_model_loads_and_names_its_operating_point() {
        for m in builtin_models() {
            let w = builtin(m.name).unwrap();
            assert_eq!(w.meta.name, m.name, "file name and model name differ");
            assert!(
                m.name.contains(&point_label(&w.meta.codec, w.meta.quality)),
                "{}: trained for quality {}",
                m.name,
                w.meta.quality
            );
            assert!(builtin_with_hash(w.meta.short_hash()).is_some());
        }
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

    #[test]
    fn unknown_names_say_what_exists() {
        let e = builtin("no-such-model").unwrap_err();
        assert!(e.contains("no-such-model"), "{e}");
        assert!(resolve(None, Some("no-such-model")).is_err());
    }
}
