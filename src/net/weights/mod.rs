//! Weights I/O: the reference layout (a directory with `comcnn.safetensors` and
//! `reccnn.safetensors`) and the project's model file (one safetensors file holding both
//! networks plus metadata: architecture, codec, compact quality, content hash, provenance).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::net::architecture::{ComCnn, ComCnnConfig, RecCnn, RecCnnConfig};

mod file;
mod networks;

pub use networks::{build_reccnn, fold_batch_norm};

/// File name suffix of the project's model files.
pub const MODEL_FILE_EXTENSION: &str = "cnnmodel";
pub(super) const FORMAT_KEY: &str = "cnncodec.format";
pub(super) const META_KEY: &str = "cnncodec.meta";
pub(super) const FORMAT_VERSION: &str = "1";

/// Why weights could not be loaded; each message says what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error(
        "model not found at '{}': give a .{MODEL_FILE_EXTENSION} file or a directory holding comcnn.safetensors and reccnn.safetensors",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("cannot read model '{path}': {1}", path = .0.display())]
    Io(PathBuf, String),
    #[error(
        "model '{path}' is not a valid safetensors weights file ({1}); replace it with an intact copy",
        path = .0.display()
    )]
    Corrupt(PathBuf, String),
    #[error("model '{path}' does not fit the ComCNN/RecCNN architecture: {1}", path = .0.display())]
    Shape(PathBuf, String),
    #[error("mismatched ComCNN/RecCNN pair: {0}")]
    MismatchedPair(String),
}

/// One f32 tensor as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Tensors of one network keyed by the reference names (`conv1.weight`, `bn2.gamma`, ...).
pub type TensorMap = BTreeMap<String, StoredTensor>;

/// What a model file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Short human name, e.g. `jpeg-q50`.
    pub name: String,
    pub comcnn: ComCnnConfig,
    pub reccnn: RecCnnConfig,
    /// Codec of the compact image: `jpeg` or `jpeg2000`.
    pub codec: String,
    /// Compact-image quality the pair was trained for.
    pub quality: u32,
    /// SHA-256 over both networks' tensors ([`content_hash`]).
    pub content_hash: String,
    /// Where the weights come from: data, command, seed, commit.
    pub provenance: String,
}

impl ModelMeta {
    /// The first 16 hex digits of the content hash: enough to tell models apart in a stream.
    pub fn short_hash(&self) -> &str {
        &self.content_hash[..16.min(self.content_hash.len())]
    }
}

/// A ComCNN/RecCNN pair with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelWeights {
    pub meta: ModelMeta,
    pub comcnn: TensorMap,
    pub reccnn: TensorMap,
}

/// SHA-256 over both networks: for each, its name, then every tensor in key order as
/// name, shape (u64 LE) and f32 LE data. Independent of the file layout.
pub fn content_hash(comcnn: &TensorMap, reccnn: &TensorMap) -> String {
    let mut h = Sha256::new();
    for (net, map) in [("comcnn", comcnn), ("reccnn", reccnn)] {
        h.update(net.as_bytes());
        h.update([0]);
        for (key, t) in map {
            h.update(key.as_bytes());
            h.update([0]);
            for d in &t.shape {
                h.update((*d as u64).to_le_bytes());
            }
            for v in &t.data {
                h.update(v.to_le_bytes());
            }
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Tensor names and shapes each network of an architecture must have.
pub fn expected_comcnn(cfg: &ComCnnConfig) -> Vec<(String, Vec<usize>)> {
    let (c, f) = (cfg.channels, cfg.features);
    vec![
        ("conv1.weight".into(), vec![f, c, 3, 3]),
        ("conv1.bias".into(), vec![f]),
        ("conv2.weight".into(), vec![f, f, 3, 3]),
        ("conv2.bias".into(), vec![f]),
        ("conv3.weight".into(), vec![c, f, 3, 3]),
        ("conv3.bias".into(), vec![c]),
    ]
}

/// See [`expected_comcnn`]. Every convolution has a bias (zero before BatchNorm in the
/// released model).
pub fn expected_reccnn(cfg: &RecCnnConfig) -> Vec<(String, Vec<usize>)> {
    let (c, f, d) = (cfg.channels, cfg.features, cfg.depth);
    let mut v = vec![
        ("conv1.weight".into(), vec![f, c, 3, 3]),
        ("conv1.bias".into(), vec![f]),
    ];
    for i in 2..d {
        v.push((format!("conv{i}.weight"), vec![f, f, 3, 3]));
        v.push((format!("conv{i}.bias"), vec![f]));
        if cfg.batch_norm {
            for p in ["gamma", "beta", "running_mean", "running_var"] {
                v.push((format!("bn{i}.{p}"), vec![f]));
            }
        }
    }
    v.push((format!("conv{d}.weight"), vec![c, f, 3, 3]));
    v.push((format!("conv{d}.bias"), vec![c]));
    v
}

pub(super) fn check_shapes(
    path: &Path,
    net: &str,
    map: &TensorMap,
    expected: &[(String, Vec<usize>)],
) -> Result<(), WeightsError> {
    let shape_err = |e: String| WeightsError::Shape(path.to_owned(), e);
    for (key, shape) in expected {
        match map.get(key) {
            None => return Err(shape_err(format!("{net} tensor '{key}' is missing"))),
            Some(t) if &t.shape != shape => {
                return Err(shape_err(format!(
                    "{net} tensor '{key}' has shape {:?}, expected {shape:?}",
                    t.shape
                )))
            }
            Some(t) if t.data.iter().any(|v| !v.is_finite()) => {
                return Err(shape_err(format!(
                    "{net} tensor '{key}' holds NaN or infinity"
                )))
            }
            _ => {}
        }
    }
    if let Some(extra) = map.keys().find(|k| !expected.iter().any(|(e, _)| e == *k)) {
        return Err(shape_err(format!(
            "{net} has an unexpected tensor '{extra}' (a different architecture?)"
        )));
    }
    Ok(())
}

/// Architecture of a reference-layout pair, read off the tensor shapes.
pub(super) fn infer_configs(
    path: &Path,
    com: &TensorMap,
    rec: &TensorMap,
) -> Result<(ComCnnConfig, RecCnnConfig), WeightsError> {
    let first = |net: &str, map: &TensorMap| {
        map.get("conv1.weight")
            .filter(|t| t.shape.len() == 4)
            .map(|t| (t.shape[1], t.shape[0]))
            .ok_or_else(|| {
                WeightsError::Shape(
                    path.to_owned(),
                    format!("{net} has no 4-D 'conv1.weight' tensor"),
                )
            })
    };
    let (cc, cf) = first("comcnn", com)?;
    let (rc, rf) = first("reccnn", rec)?;
    let depth = rec
        .keys()
        .filter_map(|k| {
            k.strip_prefix("conv")?
                .strip_suffix(".weight")?
                .parse::<usize>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    if depth < 2 {
        return Err(WeightsError::Shape(
            path.to_owned(),
            "reccnn needs at least conv1 and conv2".into(),
        ));
    }
    let batch_norm = rec.contains_key("bn2.gamma");
    Ok((
        ComCnnConfig::new().with_channels(cc).with_features(cf),
        RecCnnConfig::new()
            .with_channels(rc)
            .with_features(rf)
            .with_depth(depth)
            .with_batch_norm(batch_norm),
    ))
}

/// Bounds on what a model file may declare, checked before anything is sized from it (the
/// paper's networks have 64 feature maps and 20 layers).
pub const MAX_FEATURES: usize = 512;
pub const MAX_DEPTH: usize = 128;

/// Architectures this build can run: luma networks (one channel), at least one feature map,
/// a RecCNN of at least two layers.
pub(super) fn check_architecture(
    path: &Path,
    com: &ComCnnConfig,
    rec: &RecCnnConfig,
) -> Result<(), WeightsError> {
    let err = |e: String| Err(WeightsError::Shape(path.to_owned(), e));
    if com.channels != 1 || rec.channels != 1 {
        return err(format!(
            "the networks have {} / {} image channels; cnncodec runs luma models (1 channel)",
            com.channels, rec.channels
        ));
    }
    if com.features == 0 || rec.features == 0 {
        return err("a network has 0 feature maps".into());
    }
    if com.features > MAX_FEATURES || rec.features > MAX_FEATURES {
        return err(format!(
            "a network has {} feature maps; this build runs at most {MAX_FEATURES}",
            com.features.max(rec.features)
        ));
    }
    if rec.depth > MAX_DEPTH {
        return err(format!(
            "RecCNN depth {} is above the maximum of {MAX_DEPTH}",
            rec.depth
        ));
    }
    if rec.depth < 2 {
        return err(format!(
            "RecCNN depth {} is below the minimum of 2",
            rec.depth
        ));
    }
    Ok(())
}

impl ModelWeights {
    /// A freshly initialised pair (burn's default initialisation, seeded): for tests,
    /// benchmarks and the start of training.
    pub fn random(name: &str, comcnn: ComCnnConfig, reccnn: RecCnnConfig, seed: u64) -> Self {
        use crate::net::backend::CpuBackend;
        let device = Default::default();
        CpuBackend::seed(&device, seed);
        let com = comcnn.init::<CpuBackend>(&device);
        let rec = reccnn.init::<CpuBackend>(&device);
        let meta = ModelMeta {
            name: name.to_owned(),
            comcnn,
            reccnn,
            codec: "jpeg".into(),
            quality: 50,
            content_hash: String::new(),
            provenance: format!("random initialisation, seed {seed}"),
        };
        Self::from_networks(meta, &com, &rec)
    }

    /// A short hash of the ComCNN alone: streams it made decode with any RecCNN trained
    /// behind the same ComCNN (for example a faster one).
    pub fn comcnn_hash(&self) -> String {
        content_hash(&self.comcnn, &TensorMap::new())[..16].to_owned()
    }
}
