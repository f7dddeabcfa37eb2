//! The files: safetensors read under the trust rules, the one-file format and the paper's
//! reference layout.

use super::*;

pub(super) struct ReadFile {
    tensors: TensorMap,
    metadata: HashMap<String, String>,
}

/// Reads and parses one safetensors file under [`crate::net::trust::read_model_file`]'s rules.
pub(super) fn read_safetensors(path: &Path, follow_links: bool) -> Result<ReadFile, WeightsError> {
    let bytes = crate::net::trust::read_model_file(path, follow_links).map_err(|e| match e {
        crate::net::trust::FileRefusal::NotFound => WeightsError::Missing(path.to_owned()),
        other => WeightsError::Io(path.to_owned(), other.to_string()),
    })?;
    parse_safetensors(&bytes, path)
}

/// Parses safetensors `bytes`; `path` names them in errors.
pub(super) fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<ReadFile, WeightsError> {
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
        let out = self.to_bytes()?;
        // Write beside and rename, so an interrupted save never leaves a half file.
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, out)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| WeightsError::Io(path.to_owned(), e.to_string()))
    }

    /// The one-file format: safetensors with keys `comcnn.*` / `reccnn.*` and the metadata as
    /// JSON. The content hash is recomputed so it always matches.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WeightsError> {
        let unwritable = |e: String| WeightsError::Shape(PathBuf::from(&self.meta.name), e);
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
                    .map_err(|e| unwritable(format!("tensor '{k}': {e:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut header = HashMap::new();
        header.insert(FORMAT_KEY.to_owned(), FORMAT_VERSION.to_owned());
        header.insert(
            META_KEY.to_owned(),
            serde_json::to_string(&meta).expect("metadata serialises"),
        );
        safetensors::serialize(views, &Some(header)).map_err(|e| unwritable(format!("{e:?}")))
    }
}
