//! Model files (`.cnnmodel`, safetensors): raw byte mutations, mutations of the safetensors
//! header (dtypes, shapes, offsets, lengths, metadata JSON) and of the model itself re-written
//! with a matching content hash (architecture fields, NaN / infinite / huge weights), so that
//! cases reach every check of the loader and, when they load, the networks.

use std::path::Path;

use cnncodec::pipeline::{compress_luma_checked, restore_luma_checked};
use cnncodec::{BackendKind, GrayImage, ModelWeights, Precision, WeightsError};
use serde_json::Value;

use crate::mutate;
use crate::rng::Rng;
use crate::Target;

pub struct ModelFile {
    seeds: Vec<ModelWeights>,
    seed_bytes: Vec<Vec<u8>>,
}

impl ModelFile {
    pub fn new() -> Self {
        let mut seeds = vec![super::tiny_model(1)];
        let fast =
            cnncodec::net::builtin::builtin("jpeg-q50-fast").expect("the built-in fast model");
        seeds.push(fast);
        let seed_bytes = seeds.iter().map(|m| m.to_bytes().unwrap()).collect();
        Self { seeds, seed_bytes }
    }
}

#[derive(Debug)]
pub enum How {
    Bytes,
    Header,
    Model,
}

pub struct Input {
    how: How,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(4096)]);
        write!(
            f,
            "{:?} mutation, {} bytes; first 4096 as text:\n{head}",
            self.how,
            self.bytes.len()
        )
    }
}

/// Splits safetensors bytes into the header JSON and the data.
fn split(bytes: &[u8]) -> Option<(Value, &[u8])> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header = serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    Some((header, &bytes[8 + n..]))
}

fn join(header: &Value, data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let text = header.to_string().into_bytes();
    let mut len = text.len() as u64;
    if rng.one_in(10) {
        len = rng.interesting() as u64;
    }
    [&len.to_le_bytes()[..], &text, data].concat()
}

fn edge_json(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::from(rng.interesting() as i64),
        1 => Value::from(rng.interesting() as u64),
        2 => Value::from(-(rng.below(10) as i64)),
        3 => Value::from("x".repeat(rng.below(300) as usize)),
        4 => Value::Null,
        _ => Value::from(1e300f64 * if rng.one_in(2) { 1.0 } else { -1.0 }),
    }
}

fn mutate_header(rng: &mut Rng, header: &mut Value) {
    let Some(map) = header.as_object_mut() else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    let key = rng.pick(&keys).clone();
    if key == "__metadata__" {
        let Some(meta) = map.get_mut(&key).and_then(Value::as_object_mut) else {
            return;
        };
        if let Some(Value::String(json)) = meta.get_mut("cnncodec.meta") {
            if let Ok(mut v) = serde_json::from_str::<Value>(json) {
                mutate_meta_json(rng, &mut v);
                *json = v.to_string();
            } else if rng.one_in(2) {
                json.truncate(rng.below(json.len() as u64 + 1) as usize);
            }
        }
        if rng.one_in(8) {
            meta.insert(
                "cnncodec.format".into(),
                Value::from(rng.pick(&["0", "2", "", "1"]).to_string()),
            );
        }
        return;
    }
    let Some(entry) = map.get_mut(&key).and_then(Value::as_object_mut) else {
        return;
    };
    match rng.below(6) {
        0 => {
            let dtypes = [
                "F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "F8_E4M3", "Q", "",
            ];
            entry.insert("dtype".into(), Value::from(*rng.pick(&dtypes)));
        }
        1 | 2 => {
            if let Some(Value::Array(shape)) = entry.get_mut("shape") {
                match rng.below(4) {
                    0 if !shape.is_empty() => {
                        let i = rng.below(shape.len() as u64) as usize;
                        shape[i] = edge_json(rng);
                    }
                    1 => shape.push(Value::from(rng.interesting() as u64)),
                    2 if !shape.is_empty() => {
                        shape.pop();
                    }
                    _ => shape.reverse(),
                }
            }
        }
        3 => {
            if let Some(Value::Array(offsets)) = entry.get_mut("data_offsets") {
                if !offsets.is_empty() {
                    let i = rng.below(offsets.len() as u64) as usize;
                    offsets[i] = edge_json(rng);
                }
            }
        }
        4 => {
            map.remove(&key);
        }
        _ => {
            let dup = map.get(&key).cloned().unwrap_or(Value::Null);
            map.insert(format!("{key}.copy"), dup);
        }
    }
}

/// Mutates the model's metadata (architecture, codec, quality, hash).
fn mutate_meta_json(rng: &mut Rng, meta: &mut Value) {
    let paths: [&[&str]; 9] = [
        &["comcnn", "channels"],
        &["comcnn", "features"],
        &["reccnn", "channels"],
        &["reccnn", "features"],
        &["reccnn", "depth"],
        &["reccnn", "batch_norm"],
        &["quality"],
        &["content_hash"],
        &["codec"],
    ];
    let path = rng.pick(&paths);
    let mut v = &mut *meta;
    for (i, p) in path.iter().enumerate() {
        let Some(next) = v.get_mut(*p) else { return };
        if i + 1 == path.len() {
            *next = edge_json(rng);
            return;
        }
        v = next;
    }
}

fn mutate_model(rng: &mut Rng, m: &mut ModelWeights) {
    match rng.below(5) {
        0 => {
            let f = rng.interesting().clamp(0, 1 << 20) as usize;
            match rng.below(4) {
                0 => m.meta.comcnn.features = f,
                1 => m.meta.reccnn.features = f,
                2 => m.meta.reccnn.depth = f,
                _ => m.meta.comcnn.channels = f,
            }
        }
        1 | 2 => {
            // Weights a hostile or broken model holds: NaN, infinities, values that overflow.
            let nets = [&mut m.comcnn, &mut m.reccnn];
            let [a, b] = nets;
            let net = if rng.one_in(2) { a } else { b };
            let keys: Vec<String> = net.keys().cloned().collect();
            let t = net.get_mut(rng.pick(&keys)).unwrap();
            let values = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                1e30,
                -1e30,
                3e38,
                1e-40,
                0.0,
            ];
            let n = if t.data.is_empty() {
                0
            } else {
                rng.range(1, t.data.len() as u64)
            };
            for _ in 0..n {
                let i = rng.below(t.data.len() as u64) as usize;
                t.data[i] = *rng.pick(&values);
            }
        }
        3 => {
            let nets = [&mut m.comcnn, &mut m.reccnn];
            let [a, b] = nets;
            let net = if rng.one_in(2) { a } else { b };
            let keys: Vec<String> = net.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            let t = net.get_mut(&key).unwrap();
            match rng.below(3) {
                0 => {
                    net.remove(&key);
                }
                1 => {
                    t.shape.push(1);
                }
                _ => {
                    t.data.truncate(t.data.len() / 2);
                    if let Some(d) = t.shape.first_mut() {
                        *d /= 2;
                    }
                }
            }
        }
        _ => {
            m.meta.quality = rng.interesting() as u32;
            m.meta.codec = rng.pick(&["jpeg", "jpeg2000", "", "hevc"]).to_string();
            m.meta.name = "n".repeat(rng.below(2000) as usize);
        }
    }
}

fn error_kind(e: &WeightsError) -> &'static str {
    match e {
        WeightsError::Missing(_) => "missing",
        WeightsError::Io(..) => "io",
        WeightsError::Corrupt(..) => "corrupt",
        WeightsError::Shape(..) => "shape",
        WeightsError::MismatchedPair(_) => "mismatched-pair",
    }
}

impl Target for ModelFile {
    type Input = Input;
    const NAME: &'static str = "model";
    /// A model file is at most 64 MiB; parsing holds it about three times.
    const ALLOCATION_BOUND: usize = 256 << 20;

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let which = rng.below(self.seeds.len() as u64) as usize;
        let how = match rng.below(3) {
            0 => How::Bytes,
            1 => How::Header,
            _ => How::Model,
        };
        let bytes = match how {
            How::Bytes => {
                let mut b = self.seed_bytes[which].clone();
                let max = b.len() * 2;
                mutate::bytes(rng, &mut b, max);
                b
            }
            How::Header => {
                let (mut header, data) = split(&self.seed_bytes[which]).expect("a valid seed");
                for _ in 0..rng.range(1, 3) {
                    mutate_header(rng, &mut header);
                }
                join(&header, data, rng)
            }
            How::Model => {
                let mut m = self.seeds[which].clone();
                for _ in 0..rng.range(1, 2) {
                    mutate_model(rng, &mut m);
                }
                let mut b = m.to_bytes().unwrap_or_default();
                if rng.one_in(8) {
                    let max = b.len() + 64;
                    mutate::bytes(rng, &mut b, max);
                }
                b
            }
        };
        Input { how, bytes }
    }

    fn run(&mut self, input: &Input) -> Result<String, String> {
        let weights = match ModelWeights::from_model_bytes(&input.bytes, Path::new("fuzz.cnnmodel"))
        {
            Ok(w) => w,
            Err(e) => return Ok(format!("refused: {}", error_kind(&e))),
        };
        // Whatever loads must hold finite weights and run, or say why not.
        let finite = |m: &cnncodec::net::weights::TensorMap| {
            m.values().all(|t| t.data.iter().all(|v| v.is_finite()))
        };
        if !finite(&weights.comcnn) || !finite(&weights.reccnn) {
            return Err("a model with NaN or infinite weights loaded".into());
        }
        let engine =
            match cnncodec::load_engine_with(&weights, BackendKind::Cpu, 0, Precision::Fp32) {
                Ok(e) => e,
                Err(_) => return Ok("loaded; engine refused".into()),
            };
        let img = GrayImage::new(9, 7, (0..63).map(|i| (i * 37 % 256) as u8).collect());
        let compact = match compress_luma_checked(engine.as_ref(), &img) {
            Ok(c) => c,
            Err(_) => return Ok("loaded; ComCNN output not finite (refused)".into()),
        };
        if (compact.width, compact.height) != (5, 4) {
            return Err(format!(
                "compact frame {}x{}",
                compact.width, compact.height
            ));
        }
        match restore_luma_checked(engine.as_ref(), &compact, 9, 7) {
            Ok(r) if (r.width, r.height) == (9, 7) => Ok("loaded and ran".into()),
            Ok(r) => Err(format!("restored frame {}x{}", r.width, r.height)),
            Err(_) => Ok("loaded; RecCNN output not finite (refused)".into()),
        }
    }
}
