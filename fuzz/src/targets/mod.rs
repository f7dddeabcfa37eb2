//! The fuzz targets, one per kind of input a user's files or streams can hand the project.

pub mod frame_info;
pub mod frames;
pub mod j2k;
pub mod model;
pub mod tag;

use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::ModelWeights;

/// The small random model the element targets run (sizes and paths under test, not quality).
pub fn tiny_model(seed: u64) -> ModelWeights {
    ModelWeights::random(
        &format!("fuzz-tiny-{seed}"),
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(3),
        seed,
    )
}

/// A scratch directory for this process.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cnncodec-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::canonicalize(dir).expect("a scratch directory")
}

/// The first words of an error, numbers and quoted values blanked: its kind, for the
/// outcome histogram.
pub fn kind(error: &str) -> String {
    let words: Vec<String> = error
        .split_whitespace()
        .take(5)
        .map(|w| match w.find('=') {
            Some(i) => format!("{}=..", &w[..i]),
            None if w.chars().any(|c| c.is_ascii_digit()) || w.starts_with('\'') => "..".into(),
            None => w.to_owned(),
        })
        .collect();
    format!("error: {}", words.join(" "))
}
