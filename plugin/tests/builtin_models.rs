//! The built-in ladder: the elements work with no model setting, a stream names its built-in
//! model, the decoder follows it, and a contradicting choice is an error, not a silent
//! mismatch.

mod util;

use std::time::Duration;

fn decode_with(decoder_props: &str, encoder_model: &str, quality: u32) -> util::RunResult {
    let launch = format!(
        "appsrc name=src ! comcnnenc {encoder_model} ! jpegenc quality={quality} idct-method=islow \
         ! jpegdec idct-method=islow ! reccnndec {decoder_props} ! appsink name=sink"
    );
    util::run(
        &launch,
        vec![util::test_frame("I420", 67, 45, 3)],
        Duration::from_secs(300),
    )
}

#[test]
fn the_ladder_is_built_in_and_the_default_is_part_of_it() {
    let names = cnncodec::net::builtin::builtin_names();
    assert!(names.len() >= 3, "models/ ships a ladder, found {names:?}");
    assert_eq!(
        cnncodec::net::builtin::default_model(),
        Some(cnncodec::net::builtin::DEFAULT_MODEL)
    );
}

#[test]
fn with_no_model_setting_the_default_model_archives_and_restores() {
    let res = decode_with("", "", 50).expect_ok();
    assert_eq!(res.sizes(), vec![(67, 45)]);
}

#[test]
fn the_decoder_follows_the_builtin_model_the_stream_names() {
    // Another model of the default's ladder (same ComCNN; the J2K ladder has its own).
    let default = cnncodec::net::builtin::builtin(cnncodec::net::builtin::DEFAULT_MODEL).unwrap();
    let other = cnncodec::net::builtin::builtin_names()
        .into_iter()
        .find(|n| {
            *n != cnncodec::net::builtin::DEFAULT_MODEL
                && cnncodec::net::builtin::builtin(n).unwrap().comcnn_hash()
                    == default.comcnn_hash()
        })
        .expect("a second built-in model behind the default's ComCNN");
    let quality = cnncodec::net::builtin::builtin(other).unwrap().meta.quality;
    let enc = format!("model={other}");
    let followed = decode_with("", &enc, quality).expect_ok();
    let explicit = decode_with(&enc, &enc, quality).expect_ok();
    let (a, b) = (
        util::luma_of(&followed.samples[0]),
        util::luma_of(&explicit.samples[0]),
    );
    assert_eq!(a.data, b.data, "following the stream = choosing its model");
    // The ladder shares one ComCNN, so the user may choose another ladder model's RecCNN:
    // it is used (the output differs), not refused. Foreign ComCNNs are refused (below).
    let chosen = decode_with(
        &format!("model={}", cnncodec::net::builtin::DEFAULT_MODEL),
        &enc,
        quality,
    )
    .expect_ok();
    assert_ne!(util::luma_of(&chosen.samples[0]).data, a.data);
}

#[test]
fn the_fast_model_decodes_streams_of_the_default_encoder_only() {
    // `fast` is a smaller RecCNN trained behind the default model's ComCNN.
    let fast = cnncodec::net::builtin::builtin("fast").expect("the CPU-class model is built in");
    let default = cnncodec::net::builtin::builtin(cnncodec::net::builtin::DEFAULT_MODEL).unwrap();
    assert_eq!(fast.comcnn_hash(), default.comcnn_hash());
    assert!(fast.meta.reccnn.depth < default.meta.reccnn.depth);
    let res = decode_with("model=fast", "", fast.meta.quality).expect_ok();
    assert_eq!(res.sizes(), vec![(67, 45)]);
    // A stream from another ComCNN is refused.
    let dir = util::tmp_dir("fast");
    let tiny = util::tiny_model(&dir, 50);
    let e = decode_with(
        "model=fast",
        &format!("model-location={}", tiny.display()),
        50,
    )
    .error
    .expect("a RecCNN behind another ComCNN must not run");
    assert!(e.contains("tiny-50") && e.contains("model"), "{e}");
}

#[test]
fn the_larger_q50_models_decode_streams_of_the_default_encoder() {
    // `jpeg-q50-paper` (64 x 20) and `jpeg-q50-wide` (48 x 12) are RecCNNs grown from and
    // trained behind the default's ComCNN.
    let default = cnncodec::net::builtin::builtin(cnncodec::net::builtin::DEFAULT_MODEL).unwrap();
    let default_out = decode_with("", "", default.meta.quality).expect_ok();
    for (name, features, depth) in [("jpeg-q50-paper", 64, 20), ("jpeg-q50-wide", 48, 12)] {
        let larger = cnncodec::net::builtin::builtin(name).expect("the model is built in");
        assert_eq!(larger.comcnn_hash(), default.comcnn_hash(), "{name}");
        assert_eq!(
            (larger.meta.reccnn.features, larger.meta.reccnn.depth),
            (features, depth),
            "{name}"
        );
        let res = decode_with(&format!("model={name}"), "", larger.meta.quality).expect_ok();
        assert_eq!(res.sizes(), vec![(67, 45)], "{name}");
        assert_ne!(
            util::luma_of(&res.samples[0]).data,
            util::luma_of(&default_out.samples[0]).data,
            "{name}: the chosen RecCNN is used"
        );
    }
}

#[test]
fn archives_of_a_ladder_behind_an_earlier_comcnn_are_restored_by_its_kept_models() {
    // A ladder trained behind a new ComCNN cannot restore the previous ladder's recordings;
    // the previous ladder stays built in (models/earlier) for them.
    let dir = util::tmp_dir("earlier-comcnn");
    let default = cnncodec::net::builtin::DEFAULT_MODEL;
    // The default followed from the stream or chosen by name; `fast` chosen by its alias.
    restored_by_kept_version(&dir, default, &["", &format!("model={default}")]);
    restored_by_kept_version(&dir, "jpeg-q50-fast", &["model=fast"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Archives made behind the ComCNN of the kept earlier version of the built-in `name` (by
/// that version, and by an even earlier one with a hash no longer known) restore, with
/// each of `props`, exactly as with that version's file.
fn restored_by_kept_version(dir: &std::path::Path, name: &str, props: &[&str]) {
    use cnncodec::net::builtin::{builtin, earlier_models};
    let today = builtin(name).unwrap();
    let kept = earlier_models()
        .iter()
        .find(|m| {
            m.name
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .unwrap_or_else(|| panic!("an earlier version of {name} is kept"));
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/earlier")
        .join(format!("{}.cnnmodel", kept.name));
    let earlier = cnncodec::ModelWeights::load(&file).unwrap();
    assert_ne!(earlier.comcnn_hash(), today.comcnn_hash(), "{name}");
    // (archive_naming names its file by model and ComCNN: move the first one aside.)
    let older = dir.join(format!("{name}-older.mkv"));
    std::fs::rename(
        archive_naming(dir, name, "00000000feedf00d", &earlier.comcnn_hash()),
        &older,
    )
    .unwrap();
    let by_hash = archive_naming(dir, name, earlier.meta.short_hash(), &earlier.comcnn_hash());
    let with_file = format!("model-location={}", file.display());
    let expected = util::play_archive(&by_hash, &with_file).expect_ok();
    for archive in [&by_hash, &older] {
        for props in props {
            let res = util::play_archive(archive, props).expect_ok();
            assert_eq!(res.sizes(), vec![(64, 48)]);
            assert_eq!(
                util::luma_of(&res.samples[0]).data,
                util::luma_of(&expected.samples[0]).data,
                "{} with '{props}': restored by the kept {}",
                archive.display(),
                kept.name
            );
        }
    }
}

/// A one-frame archive whose tag says it was made by a model called `name` with content hash
/// `hash` behind the ComCNN `comcnn`, with no file location: what an earlier build's built-in
/// model wrote.
fn archive_naming(
    dir: &std::path::Path,
    name: &str,
    hash: &str,
    comcnn: &str,
) -> std::path::PathBuf {
    let file = dir.join(format!("{name}-{comcnn}.mkv"));
    let info = gstcnncodec::StreamInfo {
        width: 64,
        height: 48,
        model_name: name.into(),
        model_hash: hash.into(),
        comcnn_hash: comcnn.into(),
        model_location: None,
    };
    util::archive_with_info(&file, &info);
    file
}

#[test]
fn archives_of_an_earlier_version_of_a_builtin_model_are_restored_by_todays() {
    // A new ladder retrains the RecCNNs behind the same ComCNN: the recordings of the
    // previous one must still play, with today's model of the same name.
    let name = cnncodec::net::builtin::DEFAULT_MODEL;
    let today = cnncodec::net::builtin::builtin(name).unwrap();
    let earlier_hash = "00000000feedf00d";
    assert!(cnncodec::net::builtin::builtin_with_hash(earlier_hash).is_none());
    let dir = util::tmp_dir("earlier-version");
    let archive = archive_naming(&dir, name, earlier_hash, &today.comcnn_hash());
    let followed = util::play_archive(&archive, "").expect_ok();
    assert_eq!(followed.sizes(), vec![(64, 48)]);
    let chosen = util::play_archive(&archive, &format!("model={name}")).expect_ok();
    assert_eq!(
        util::luma_of(&followed.samples[0]).data,
        util::luma_of(&chosen.samples[0]).data,
        "restored by today's {name}"
    );

    // Another ComCNN, or another name, is not an earlier version: refused as before.
    for (other_name, comcnn) in [
        (name, "fedcba9876543210"),
        ("jpeg-q45", today.comcnn_hash().as_str()),
    ] {
        let archive = archive_naming(&dir, other_name, earlier_hash, comcnn);
        let e = util::play_archive(&archive, "")
            .error
            .expect("not a version of a built-in model");
        assert!(
            e.contains("not built in") && e.contains(earlier_hash),
            "{e}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
