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
/// J2K compression ratio 8; `hevc-qp38`: HEVC intra at QP 38; `h264-b20`: an H.264 recording at
/// 20 bits per 1000 original pixels per frame): the name's codec part, the point's letter, and whether a larger
/// number means more bits.
fn naming(codec: &str) -> Option<(&'static str, &'static str, bool)> {
    match codec {
        "jpeg" => Some(("jpeg-", "q", true)),
        "jpeg2000" => Some(("j2k-", "r", false)),
        "hevc" => Some(("hevc-", "qp", false)),
        "h264" => Some(("h264-", "b", true)),
        "h265" => Some(("h265-", "b", true)),
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
/// compression ratio or HEVC QP.
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

/// Why a model could not be chosen. Messages name no setting: the elements add their
/// properties, the command line its options.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(
        "no built-in model is called '{name}' (built in: {available}; `cnncodec models` lists \
         them with their bit rates)"
    )]
    Unknown { name: String, available: String },
    #[error(
        "no model given and this build has no built-in model: give a .cnnmodel file or a \
         directory holding comcnn.safetensors and reccnn.safetensors (for example the paper's \
         released model, ../shared/reference/official-qf50)"
    )]
    NoneBuiltIn,
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// The message an element posts when it was given no model and none is built in.
pub fn no_model_message() -> String {
    format!("{}; set model-location to one", ModelError::NoneBuiltIn)
}

/// Loads the built-in model `name`.
pub fn builtin(name: &str) -> Result<ModelWeights, ModelError> {
    let name = full_name(name);
    let model = BUILTIN.iter().find(|m| m.name == name).ok_or_else(|| {
        if BUILTIN.is_empty() {
            ModelError::NoneBuiltIn
        } else {
            ModelError::Unknown {
                name: name.to_owned(),
                available: builtin_names().join(", "),
            }
        }
    })?;
    Ok(ModelWeights::from_model_bytes(
        model.bytes,
        Path::new(&format!("built-in:{}", model.name)),
    )?)
}

/// Earlier versions of built-in models (`models/earlier/`), kept so that the streams they made
/// still play: a ladder trained behind a new ComCNN cannot restore the old one's streams.
/// Each is named by its file (`jpeg-q50-<short hash>`); its model name is the built-in one it
/// was.
pub fn earlier_models() -> &'static [BuiltinModel] {
    EARLIER
}

/// What a stream is matched against, for a built-in model or an earlier version of one.
struct Listed {
    model: &'static BuiltinModel,
    earlier: bool,
    name: String,
    content_hash: String,
    comcnn_hash: String,
}

impl Listed {
    fn load(&self) -> Option<ModelWeights> {
        let label = match self.earlier {
            false => format!("built-in:{}", self.model.name),
            true => format!("built-in:earlier/{}", self.model.name),
        };
        ModelWeights::from_model_bytes(self.model.bytes, Path::new(&label)).ok()
    }
}

/// Every built-in model and earlier version with its hashes, computed once: hashing them all
/// per stream took milliseconds each time a stream named a model.
fn listed() -> &'static [Listed] {
    static LISTED: std::sync::OnceLock<Vec<Listed>> = std::sync::OnceLock::new();
    LISTED.get_or_init(|| {
        let all = BUILTIN.iter().map(|m| (m, false));
        all.chain(EARLIER.iter().map(|m| (m, true)))
            .filter_map(|(model, earlier)| {
                let path = Path::new(model.name);
                let w = ModelWeights::from_model_bytes(model.bytes, path).ok()?;
                Some(Listed {
                    model,
                    earlier,
                    comcnn_hash: w.comcnn_hash(),
                    name: w.meta.name,
                    content_hash: w.meta.content_hash,
                })
            })
            .collect()
    })
}

/// The built-in model, or earlier version of one, whose content hash starts with
/// `short_hash` (what a stream names).
pub fn builtin_with_hash(short_hash: &str) -> Option<ModelWeights> {
    if short_hash.len() < 8 {
        return None;
    }
    listed()
        .iter()
        .find(|l| l.content_hash.starts_with(short_hash))?
        .load()
}

/// The built-in model called `name` when it was trained behind the ComCNN with hash
/// `comcnn_hash`: what decodes a stream made by an earlier version of that built-in model
/// (a newer ladder that keeps the ComCNN retrains only the RecCNN).
pub fn builtin_successor(name: &str, comcnn_hash: &str) -> Option<ModelWeights> {
    // The name check keeps aliases (`fast`) out: a stream names the model's own name.
    listed()
        .iter()
        .find(|l| !l.earlier && l.model.name == name && l.comcnn_hash == comcnn_hash)?
        .load()
}

/// The kept earlier version of the built-in model called `name` that was trained behind the
/// ComCNN with hash `comcnn_hash`: what decodes the streams of a ladder that a ladder with a
/// new ComCNN replaced.
pub fn earlier_version(name: &str, comcnn_hash: &str) -> Option<ModelWeights> {
    listed()
        .iter()
        .find(|l| l.earlier && l.name == name && l.comcnn_hash == comcnn_hash)?
        .load()
}

/// The full name of a built-in model given by name or alias (`fast`).
pub fn full_name(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, full)| full)
}

/// Loads `location` when given, else the built-in `name` (else the default built-in model).
pub fn resolve(location: Option<&Path>, name: Option<&str>) -> Result<ModelWeights, ModelError> {
    match (location, name) {
        (Some(path), _) => Ok(ModelWeights::load(path)?),
        (None, Some(name)) => builtin(name),
        (None, None) => builtin(default_model().ok_or(ModelError::NoneBuiltIn)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_successor_is_the_same_name_behind_the_same_comcnn() {
        let name = default_model().unwrap();
        let comcnn = builtin(name).unwrap().comcnn_hash();
        assert!(builtin_successor(name, &comcnn).is_some());
        assert!(builtin_successor(name, "fedcba9876543210").is_none());
        assert!(builtin_successor(name, "").is_none());
        assert!(builtin_successor("no-such-model", &comcnn).is_none());
    }

    #[test]
    fn earlier_versions_are_found_by_hash_and_by_name_behind_their_comcnn() {
        let mut seen = std::collections::HashSet::new();
        for l in listed().iter().filter(|l| l.earlier) {
            let w = l.load().unwrap();
            let today = builtin(&w.meta.name).unwrap_or_else(|_| {
                panic!("{}: not an earlier version of a built-in", l.model.name)
            });
            assert_eq!(
                l.model.name,
                format!("{}-{}", w.meta.name, w.meta.short_hash()),
                "file name"
            );
            assert_ne!(
                w.meta.content_hash, today.meta.content_hash,
                "{}",
                l.model.name
            );
            // One kept version per name and ComCNN, so that a stream finds one answer.
            assert!(
                seen.insert((l.name.clone(), l.comcnn_hash.clone())),
                "{}",
                l.model.name
            );
            let found = builtin_with_hash(w.meta.short_hash()).unwrap();
            assert_eq!(
                found.meta.content_hash, w.meta.content_hash,
                "{}",
                l.model.name
            );
            let by_name = earlier_version(&w.meta.name, &w.comcnn_hash()).unwrap();
            assert_eq!(
                by_name.meta.content_hash, w.meta.content_hash,
                "{}",
                l.model.name
            );
            assert!(earlier_version(&w.meta.name, "fedcba9876543210").is_none());
        }
        assert_eq!(seen.len(), earlier_models().len(), "every kept file loads");
    }

    #[test]
    fn unknown_names_say_what_exists() {
        let e = builtin("no-such-model").unwrap_err();
        assert!(e.to_string().contains("no-such-model"), "{e}");
        assert!(resolve(None, Some("no-such-model")).is_err());
    }
}
