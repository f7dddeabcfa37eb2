//! Weights I/O: the reference layout (a directory with `comcnn.safetensors` and
//! `reccnn.safetensors`) and the project's model file (one safetensors file holding both
//! networks plus metadata: architecture, codec, compact quality, content hash, provenance).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::net::architecture::{ComCnn, ComCnnConfig, RecCnn, RecCnnConfig};

/// File name suffix of the project's model files.
pub const MODEL_FILE_EXTENSION: &str = "cnnmodel";
const FORMAT_KEY: &str = "cnncodec.format";
const META_KEY: &str = "cnncodec.meta";
const FORMAT_VERSION: &str = "1";

/// Why weights could not be loaded; each message says what to fix.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightsError {
    Missing(PathBuf),
    Io(PathBuf, String),
    Corrupt(PathBuf, String),
    Shape(PathBuf, String),
    MismatchedPair(String),
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(p) => write!(
                f,
                "model not found at '{}': give a .{MODEL_FILE_EXTENSION} file or a directory holding comcnn.safetensors and reccnn.safetensors",
                p.display()
            ),
            Self::Io(p, e) => write!(f, "cannot read model '{}': {e}", p.display()),
            Self::Corrupt(p, e) => write!(
                f,
                "model '{}' is not a valid safetensors weights file ({e}); replace it with an intact copy",
                p.display()
            ),
            Self::Shape(p, e) => write!(
                f,
                "model '{}' does not fit the ComCNN/RecCNN architecture: {e}",
                p.display()
            ),
            Self::MismatchedPair(e) => write!(f, "mismatched ComCNN/RecCNN pair: {e}"),
        }
    }
}

impl std::error::Error for WeightsError {}

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

struct ReadFile {
    tensors: TensorMap,
    metadata: HashMap<String, String>,
}

/// Reads and parses one safetensors file under [`crate::net::trust::read_model_file`]'s rules.
fn read_safetensors(path: &Path, follow_links: bool) -> Result<ReadFile, WeightsError> {
    let bytes = crate::net::trust::read_model_file(path, follow_links).map_err(|e| match e {
        crate::net::trust::FileRefusal::NotFound => WeightsError::Missing(path.to_owned()),
        other => WeightsError::Io(path.to_owned(), other.to_string()),
    })?;
    parse_safetensors(&bytes, path)
}

/// Parses safetensors `bytes`; `path` names them in errors.
fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<ReadFile, WeightsError> {
    let corrupt = |e: String| WeightsError::Corrupt(path.to_owned(), e);
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| corrupt(format!("{e:?}")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| corrupt(format!("{e:?}")))?;
    let mut tensors = TensorMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(corrupt(format!(
                "tensor '{name}' is {:?}, expected F32",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(
            name,
            StoredTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(ReadFile { tensors, metadata })
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

fn check_shapes(
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
fn infer_configs(
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
fn check_architecture(
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

/// The compact quality a reference file was converted from (`..._QF50.mat`).
fn quality_from_source(meta: &HashMap<String, String>) -> Option<u32> {
    let src = meta.get("source")?;
    let at = src.rfind("QF")?;
    let digits: String = src[at + 2..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

impl ModelWeights {
    /// Loads a model file, or a reference-layout directory.
    pub fn load(path: &Path) -> Result<Self, WeightsError> {
        if path.is_dir() {
            Self::load_reference_dir(path)
        } else if path.exists() {
            Self::load_model_file(path)
        } else {
            Err(WeightsError::Missing(path.to_owned()))
        }
    }

    /// The paper authors' layout: `comcnn.safetensors` + `reccnn.safetensors`.
    pub fn load_reference_dir(dir: &Path) -> Result<Self, WeightsError> {
        let com_path = dir.join("comcnn.safetensors");
        let rec_path = dir.join("reccnn.safetensors");
        let com = read_safetensors(&com_path, true)?;
        let rec = read_safetensors(&rec_path, true)?;
        for (file, want) in [(&com, "comcnn"), (&rec, "reccnn")] {
            if let Some(model) = file.metadata.get("model") {
                if model != want {
                    return Err(WeightsError::MismatchedPair(format!(
                        "'{}' holds a {model}, expected a {want}: the two files were swapped",
                        dir.join(format!("{want}.safetensors")).display()
                    )));
                }
            }
        }
        let (qc, qr) = (
            quality_from_source(&com.metadata),
            quality_from_source(&rec.metadata),
        );
        if let (Some(a), Some(b)) = (qc, qr) {
            if a != b {
                return Err(WeightsError::MismatchedPair(format!(
                    "in '{}' the ComCNN was trained for quality {a} but the RecCNN for quality {b}; put the two files of one model together",
                    dir.display()
                )));
            }
        }
        let (ccfg, rcfg) = infer_configs(dir, &com.tensors, &rec.tensors)?;
        check_architecture(dir, &ccfg, &rcfg)?;
        check_shapes(&com_path, "comcnn", &com.tensors, &expected_comcnn(&ccfg))?;
        check_shapes(&rec_path, "reccnn", &rec.tensors, &expected_reccnn(&rcfg))?;
        let quality = qc.or(qr).unwrap_or(50);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "reference".into());
        let provenance = format!(
            "reference layout from '{}' (comcnn: {}; reccnn: {})",
            dir.display(),
            com.metadata.get("source").map_or("unknown", |s| s.as_str()),
            rec.metadata.get("source").map_or("unknown", |s| s.as_str())
        );
        Ok(Self {
            meta: ModelMeta {
                name,
                comcnn: ccfg,
                reccnn: rcfg,
                codec: "jpeg".into(),
                quality,
                content_hash: content_hash(&com.tensors, &rec.tensors),
                provenance,
            },
            comcnn: com.tensors,
            reccnn: rec.tensors,
        })
    }

    /// The project's one-file format (see [`ModelWeights::save`]).
    pub fn load_model_file(path: &Path) -> Result<Self, WeightsError> {
        Self::from_model_file(read_safetensors(path, true)?, path)
    }

    /// A model file a stream named, at a path [`crate::net::trust::stream_model_path`] allowed:
    /// a symbolic link put there since is refused, not followed.
    pub fn load_stream_model_file(path: &Path) -> Result<Self, WeightsError> {
        Self::from_model_file(read_safetensors(path, false)?, path)
    }

    /// A model file's bytes (a built-in model); `origin` names it in errors.
    pub fn from_model_bytes(bytes: &[u8], origin: &Path) -> Result<Self, WeightsError> {
        Self::from_model_file(parse_safetensors(bytes, origin)?, origin)
    }

    fn from_model_file(file: ReadFile, path: &Path) -> Result<Self, WeightsError> {
        let corrupt = |e: String| WeightsError::Corrupt(path.to_owned(), e);
        if file.metadata.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_VERSION) {
            return Err(corrupt(format!(
                "no '{FORMAT_KEY}={FORMAT_VERSION}' metadata: not a cnncodec model file (a reference-layout model is a directory)"
            )));
        }
        let meta: ModelMeta = serde_json::from_str(
            file.metadata
                .get(META_KEY)
                .ok_or_else(|| corrupt(format!("no '{META_KEY}' metadata")))?,
        )
        .map_err(|e| corrupt(format!("unreadable '{META_KEY}' metadata: {e}")))?;
        check_architecture(path, &meta.comcnn, &meta.reccnn)?;
        let (mut comcnn, mut reccnn) = (TensorMap::new(), TensorMap::new());
        for (key, t) in file.tensors {
            if let Some(k) = key.strip_prefix("comcnn.") {
                comcnn.insert(k.to_owned(), t);
            } else if let Some(k) = key.strip_prefix("reccnn.") {
                reccnn.insert(k.to_owned(), t);
            } else {
                return Err(WeightsError::Shape(
                    path.to_owned(),
                    format!("tensor '{key}' belongs to neither network"),
                ));
            }
        }
        check_shapes(path, "comcnn", &comcnn, &expected_comcnn(&meta.comcnn))?;
        check_shapes(path, "reccnn", &reccnn, &expected_reccnn(&meta.reccnn))?;
        let actual = content_hash(&comcnn, &reccnn);
        if actual != meta.content_hash {
            return Err(WeightsError::MismatchedPair(format!(
                "the networks in '{}' do not match the content hash recorded with them ({} vs {}): the file was altered or its ComCNN and RecCNN come from different models; use the file as it was written",
                path.display(),
                &actual[..16],
                meta.short_hash()
            )));
        }
        Ok(Self {
            meta,
            comcnn,
            reccnn,
        })
    }

    /// Writes the one-file format ([`ModelWeights::to_bytes`]).
    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        let out = self
            .to_bytes()
            .map_err(|e| WeightsError::Io(path.to_owned(), e))?;
        // Write beside and rename, so an interrupted save never leaves a half file.
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, out)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| WeightsError::Io(path.to_owned(), e.to_string()))
    }

    /// The one-file format: safetensors with keys `comcnn.*` / `reccnn.*` and the metadata as
    /// JSON. The content hash is recomputed so it always matches.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut meta = self.meta.clone();
        meta.content_hash = content_hash(&self.comcnn, &self.reccnn);
        let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (net, map) in [("comcnn", &self.comcnn), ("reccnn", &self.reccnn)] {
            for (k, t) in map {
                let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                bytes.push((format!("{net}.{k}"), t.shape.clone(), raw));
            }
        }
        let views = bytes
            .iter()
            .map(|(k, s, b)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|view| (k.clone(), view))
                    .map_err(|e| format!("tensor '{k}': {e:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut header = HashMap::new();
        header.insert(FORMAT_KEY.to_owned(), FORMAT_VERSION.to_owned());
        header.insert(
            META_KEY.to_owned(),
            serde_json::to_string(&meta).expect("metadata serialises"),
        );
        safetensors::serialize(views, &Some(header)).map_err(|e| format!("{e:?}"))
    }

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

    /// Builds the ComCNN on `device`.
    pub fn comcnn<B: Backend>(&self, device: &B::Device) -> ComCnn<B> {
        let mut net = self.meta.comcnn.init::<B>(device);
        load_conv(&mut net.conv1, &self.comcnn, "conv1", device);
        load_conv(&mut net.conv2, &self.comcnn, "conv2", device);
        load_conv(&mut net.conv3, &self.comcnn, "conv3", device);
        net
    }

    /// Builds the RecCNN on `device`.
    pub fn reccnn<B: Backend>(&self, device: &B::Device) -> RecCnn<B> {
        build_reccnn(&self.reccnn, &self.meta.reccnn, device)
    }

    /// The RecCNN with BatchNorm folded into the convolutions ([`fold_batch_norm`]).
    pub fn reccnn_folded<B: Backend>(&self, device: &B::Device) -> RecCnn<B> {
        let (map, cfg) = fold_batch_norm(&self.reccnn, &self.meta.reccnn);
        build_reccnn(&map, &cfg, device)
    }

    /// Captures trained networks (the inverse of [`ModelWeights::comcnn`]/[`ModelWeights::reccnn`]).
    pub fn from_networks<B: Backend>(
        mut meta: ModelMeta,
        comcnn: &ComCnn<B>,
        reccnn: &RecCnn<B>,
    ) -> Self {
        let mut com = TensorMap::new();
        store_conv(&mut com, "conv1", &comcnn.conv1);
        store_conv(&mut com, "conv2", &comcnn.conv2);
        store_conv(&mut com, "conv3", &comcnn.conv3);
        let mut rec = TensorMap::new();
        store_conv(&mut rec, "conv1", &reccnn.first);
        for (i, layer) in reccnn.hidden.iter().enumerate() {
            let n = i + 2;
            store_conv(&mut rec, &format!("conv{n}"), &layer.conv);
            if let Some(bn) = &layer.bn {
                store(&mut rec, &format!("bn{n}.gamma"), bn.gamma.val());
                store(&mut rec, &format!("bn{n}.beta"), bn.beta.val());
                store(
                    &mut rec,
                    &format!("bn{n}.running_mean"),
                    bn.running_mean.value(),
                );
                store(
                    &mut rec,
                    &format!("bn{n}.running_var"),
                    bn.running_var.value(),
                );
            }
        }
        store_conv(
            &mut rec,
            &format!("conv{}", reccnn.hidden.len() + 2),
            &reccnn.last,
        );
        meta.content_hash = content_hash(&com, &rec);
        Self {
            meta,
            comcnn: com,
            reccnn: rec,
        }
    }
}

/// The RecCNN with every BatchNorm folded into its convolution (inference form: the same
/// function, no BatchNorm layers). Training freezes RecCNN this way while it trains ComCNN,
/// since a BatchNorm inside an autodiff graph would use batch statistics.
pub fn fold_batch_norm(rec: &TensorMap, cfg: &RecCnnConfig) -> (TensorMap, RecCnnConfig) {
    let mut out = rec.clone();
    let folded_cfg = cfg.clone().with_batch_norm(false);
    if !cfg.batch_norm {
        return (out, folded_cfg);
    }
    for n in 2..cfg.depth {
        let get = |k: &str| &rec[&format!("bn{n}.{k}")].data;
        let (gamma, beta, mean, var) = (
            get("gamma"),
            get("beta"),
            get("running_mean"),
            get("running_var"),
        );
        // Inference BatchNorm has epsilon 0 here; a zero variance would divide by zero.
        let eps = 1e-12f32;
        let w = out.get_mut(&format!("conv{n}.weight")).unwrap();
        let per_out = w.data.len() / gamma.len();
        for (o, chunk) in w.data.chunks_mut(per_out).enumerate() {
            let scale = gamma[o] / (var[o] + eps).sqrt();
            chunk.iter_mut().for_each(|v| *v *= scale);
        }
        let b = out.get_mut(&format!("conv{n}.bias")).unwrap();
        for (o, v) in b.data.iter_mut().enumerate() {
            let scale = gamma[o] / (var[o] + eps).sqrt();
            *v = (*v - mean[o]) * scale + beta[o];
        }
        for k in ["gamma", "beta", "running_mean", "running_var"] {
            out.remove(&format!("bn{n}.{k}"));
        }
    }
    (out, folded_cfg)
}

pub fn build_reccnn<B: Backend>(
    map: &TensorMap,
    cfg: &RecCnnConfig,
    device: &B::Device,
) -> RecCnn<B> {
    let mut net = cfg.init::<B>(device);
    load_conv(&mut net.first, map, "conv1", device);
    for (i, layer) in net.hidden.iter_mut().enumerate() {
        let n = i + 2;
        load_conv(&mut layer.conv, map, &format!("conv{n}"), device);
        if let Some(bn) = &mut layer.bn {
            bn.gamma = Param::from_tensor(tensor1(map, &format!("bn{n}.gamma"), device));
            bn.beta = Param::from_tensor(tensor1(map, &format!("bn{n}.beta"), device));
            bn.running_mean =
                RunningState::new(tensor1(map, &format!("bn{n}.running_mean"), device));
            bn.running_var = RunningState::new(tensor1(map, &format!("bn{n}.running_var"), device));
        }
    }
    load_conv(&mut net.last, map, &format!("conv{}", cfg.depth), device);
    net
}

fn tensor1<B: Backend>(map: &TensorMap, key: &str, device: &B::Device) -> Tensor<B, 1> {
    let t = &map[key];
    Tensor::from_data(TensorData::new(t.data.clone(), [t.data.len()]), device)
}

fn load_conv<B: Backend>(conv: &mut Conv2d<B>, map: &TensorMap, name: &str, device: &B::Device) {
    let w = &map[&format!("{name}.weight")];
    let s = &w.shape;
    conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w.data.clone(), [s[0], s[1], s[2], s[3]]),
        device,
    ));
    conv.bias = Some(Param::from_tensor(tensor1(
        map,
        &format!("{name}.bias"),
        device,
    )));
}

fn store<B: Backend, const D: usize>(map: &mut TensorMap, key: &str, t: Tensor<B, D>) {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 tensor data");
    map.insert(key.to_owned(), StoredTensor { shape, data });
}

fn store_conv<B: Backend>(map: &mut TensorMap, name: &str, conv: &Conv2d<B>) {
    store(map, &format!("{name}.weight"), conv.weight.val());
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([conv.weight.dims()[0]], &conv.weight.device()),
    };
    store(map, &format!("{name}.bias"), bias);
}
