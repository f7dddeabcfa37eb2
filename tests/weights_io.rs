//! Weights I/O: round trips and every failure a user can hit, each with a useful message.

use std::path::Path;

use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::net::backend::CpuBackend;
use cnncodec::net::weights::{ModelWeights, StoredTensor, WeightsError};

fn small_model(seed: u64) -> ModelWeights {
    ModelWeights::random(
        &format!("tiny-{seed}"),
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(4),
        seed,
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cnncodec-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn model_file_round_trips_with_metadata() {
    let m = small_model(1);
    let path = tmp("a.cnnmodel");
    m.save(&path).unwrap();
    let back = ModelWeights::load(&path).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.meta.content_hash.len(), 64);
    // Networks rebuilt from the file compute what the originals compute.
    let device = Default::default();
    let x = burn::tensor::Tensor::<CpuBackend, 4>::ones([1, 1, 5, 3], &device);
    let a = m
        .reccnn::<CpuBackend>(&device)
        .forward(x.clone())
        .into_data();
    let b = back.reccnn::<CpuBackend>(&device).forward(x).into_data();
    assert_eq!(a, b);
}

#[test]
fn different_models_hash_differently() {
    assert_ne!(
        small_model(1).meta.content_hash,
        small_model(2).meta.content_hash
    );
}

#[test]
fn missing_path_says_what_to_give() {
    let err = ModelWeights::load(Path::new("/nonexistent/model.cnnmodel")).unwrap_err();
    assert!(matches!(err, WeightsError::Missing(_)));
    assert!(err.to_string().contains("comcnn.safetensors"), "{err}");
}

#[test]
fn corrupt_file_is_reported() {
    let path = tmp("corrupt.cnnmodel");
    std::fs::write(&path, b"this is not a safetensors file at all").unwrap();
    let err = ModelWeights::load(&path).unwrap_err();
    assert!(matches!(err, WeightsError::Corrupt(..)), "{err}");
    // A truncated real file too.
    let good = tmp("good.cnnmodel");
    small_model(3).save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        ModelWeights::load(&path).unwrap_err(),
        WeightsError::Corrupt(..)
    ));
}

#[test]
fn wrong_shape_is_reported() {
    let mut m = small_model(4);
    m.reccnn.insert(
        "conv2.weight".into(),
        StoredTensor {
            shape: vec![4, 3, 3, 3],
            data: vec![0.0; 108],
        },
    );
    let path = tmp("shape.cnnmodel");
    m.save(&path).unwrap();
    let err = ModelWeights::load(&path).unwrap_err();
    assert!(matches!(err, WeightsError::Shape(..)), "{err}");
    assert!(err.to_string().contains("conv2.weight"), "{err}");
}

#[test]
fn networks_from_different_files_are_detected() {
    // Splice the RecCNN of one model file into another's, keeping the first's metadata.
    let a = small_model(5);
    let b = small_model(6);
    let mut mixed = a.clone();
    mixed.reccnn = b.reccnn.clone();
    let path = tmp("mixed.cnnmodel");
    mixed.save(&path).unwrap();
    // save() recomputes the hash, so patch the recorded one back to a's as a splice would.
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let recorded = mixed_hash(&mixed);
    assert!(text.contains(&recorded));
    let patched = replace_bytes(&bytes, recorded.as_bytes(), a.meta.content_hash.as_bytes());
    std::fs::write(&path, patched).unwrap();
    let err = ModelWeights::load(&path).unwrap_err();
    assert!(matches!(err, WeightsError::MismatchedPair(_)), "{err}");
}

fn mixed_hash(m: &ModelWeights) -> String {
    cnncodec::net::weights::content_hash(&m.comcnn, &m.reccnn)
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = hay.to_vec();
    let at = hay.windows(from.len()).position(|w| w == from).unwrap();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn reference_layout_pairs_are_checked() {
    let Some(reference) = cnncodec::eval::reference::require_reference("reference layout pairing")
    else {
        return;
    };
    let official = reference.join("official-qf50");
    let m = ModelWeights::load(&official).unwrap();
    assert_eq!(m.meta.quality, 50);
    assert_eq!(m.meta.reccnn.depth, 20);
    assert_eq!(m.meta.comcnn.features, 64);
    assert!(m.meta.reccnn.batch_norm);

    // Swapped files.
    let dir = tmp("swapped");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        official.join("reccnn.safetensors"),
        dir.join("comcnn.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        official.join("comcnn.safetensors"),
        dir.join("reccnn.safetensors"),
    )
    .unwrap();
    let err = ModelWeights::load(&dir).unwrap_err();
    assert!(matches!(err, WeightsError::MismatchedPair(_)), "{err}");

    // A directory missing one network.
    let half = tmp("half");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::copy(
        official.join("comcnn.safetensors"),
        half.join("comcnn.safetensors"),
    )
    .unwrap();
    let err = ModelWeights::load(&half).unwrap_err();
    assert!(matches!(err, WeightsError::Missing(_)), "{err}");

    // Converting to a model file keeps the identity.
    let path = tmp("official.cnnmodel");
    m.save(&path).unwrap();
    assert_eq!(
        ModelWeights::load(&path).unwrap().meta.content_hash,
        m.meta.content_hash
    );
}

#[test]
fn architectures_this_build_cannot_run_are_refused() {
    let colour = ModelWeights::random(
        "rgb",
        ComCnnConfig::new().with_channels(3).with_features(4),
        RecCnnConfig::new()
            .with_channels(3)
            .with_features(4)
            .with_depth(3),
        7,
    );
    let path = tmp("rgb.cnnmodel");
    colour.save(&path).unwrap();
    let err = ModelWeights::load(&path).unwrap_err();
    assert!(
        matches!(err, WeightsError::Shape(..)) && err.to_string().contains("luma"),
        "{err}"
    );

    // A file whose metadata claims a one-layer RecCNN (which cannot be built).
    let mut shallow = small_model(8);
    shallow.meta.reccnn.depth = 1;
    let path = tmp("shallow.cnnmodel");
    shallow.save(&path).unwrap();
    let err = ModelWeights::load(&path).unwrap_err();
    assert!(err.to_string().contains("depth 1"), "{err}");
}

#[test]
fn non_files_are_refused_without_reading() {
    // A stream's tag could name a device that reads forever.
    let err = ModelWeights::load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("virtual file system"), "{err}");
    // Declared sizes beyond any real network are refused before anything is sized from them.
    for (features, depth, says) in [
        (100_000, 10, "at most 512"),
        (8, 1_000_000, "maximum of 128"),
    ] {
        let mut huge = small_model(8);
        huge.meta.reccnn.features = features;
        huge.meta.reccnn.depth = depth;
        let path = tmp(&format!("huge-{features}-{depth}.cnnmodel"));
        huge.save(&path).unwrap();
        let err = ModelWeights::load(&path).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
}
