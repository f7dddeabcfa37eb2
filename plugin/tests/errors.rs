//! Bad input ends in a clear element error, never a panic or a hang.

mod util;

use std::time::Duration;

fn error_of(launch: &str) -> String {
    let frames = vec![util::test_frame("GRAY8", 32, 24, 0)];
    let result = util::run(launch, frames, Duration::from_secs(60));
    let err = result.error.expect("the pipeline must fail");
    assert_ne!(err, "TIMEOUT", "hung instead of failing: {launch}");
    err
}

#[test]
fn missing_model_is_an_element_error() {
    let e =
        error_of("appsrc name=src ! comcnnenc model-location=/nonexistent/m.cnnmodel ! fakesink");
    assert!(
        e.contains("model not found") && e.contains("comcnn.safetensors"),
        "{e}"
    );
    let e =
        error_of("appsrc name=src ! reccnndec model-location=/nonexistent/m.cnnmodel ! fakesink");
    assert!(e.contains("model not found"), "{e}");
}

#[test]
fn an_unknown_builtin_model_names_the_ones_there_are() {
    for element in ["comcnnenc", "reccnndec"] {
        let e = error_of(&format!(
            "appsrc name=src ! {element} model=jpeg-q0 ! fakesink"
        ));
        assert!(
            e.contains("jpeg-q0") && e.contains(cnncodec::net::builtin::DEFAULT_MODEL),
            "{e}"
        );
    }
}

#[test]
fn corrupt_model_is_an_element_error() {
    let dir = util::tmp_dir("errors");
    let path = dir.join("corrupt.cnnmodel");
    std::fs::write(&path, b"garbage garbage garbage").unwrap();
    let e = error_of(&format!(
        "appsrc name=src ! comcnnenc model-location={} ! fakesink",
        path.display()
    ));
    assert!(e.contains("not a valid safetensors"), "{e}");
}

#[test]
fn wrong_shape_is_an_element_error() {
    let dir = util::tmp_dir("shape");
    let path = util::tiny_model(&dir, 30);
    let mut m = cnncodec::ModelWeights::load(&path).unwrap();
    m.reccnn.insert(
        "conv2.weight".into(),
        cnncodec::net::weights::StoredTensor {
            shape: vec![4, 2, 3, 3],
            data: vec![0.0; 72],
        },
    );
    let bad = dir.join("bad-shape.cnnmodel");
    m.save(&bad).unwrap();
    let e = error_of(&format!(
        "appsrc name=src ! reccnndec model-location={} ! fakesink",
        bad.display()
    ));
    assert!(
        e.contains("does not fit") && e.contains("conv2.weight"),
        "{e}"
    );
}

#[test]
fn mismatched_pair_is_an_element_error() {
    let Some(reference) = util::reference_model() else {
        return;
    };
    let dir = util::tmp_dir("swap").join("model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        reference.join("reccnn.safetensors"),
        dir.join("comcnn.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        reference.join("comcnn.safetensors"),
        dir.join("reccnn.safetensors"),
    )
    .unwrap();
    let e = error_of(&format!(
        "appsrc name=src ! reccnndec model-location={} ! fakesink",
        dir.display()
    ));
    assert!(e.contains("mismatched"), "{e}");
}

#[test]
fn stream_made_with_another_model_is_an_element_error() {
    let dir = util::tmp_dir("streammodel");
    let a = util::tiny_model(&dir, 21);
    let b = util::tiny_model(&dir, 22);
    let e = error_of(&format!(
        "appsrc name=src ! comcnnenc model-location={} ! jpegenc ! jpegdec ! reccnndec model-location={} ! fakesink",
        a.display(),
        b.display()
    ));
    assert!(e.contains("encoded with model 'tiny-21'"), "{e}");
}

#[test]
fn unknown_or_missing_backend_is_an_element_error() {
    let dir = util::tmp_dir("backend");
    let m = util::tiny_model(&dir, 23);
    // An enum property: a typo is refused where the pipeline is described.
    let e = error_of(&format!(
        "appsrc name=src ! comcnnenc model-location={} backend=tpu ! fakesink",
        m.display()
    ));
    assert!(e.contains("backend") && e.contains("tpu"), "{e}");
    let e = error_of(&format!(
        "appsrc name=src ! comcnnenc model-location={} device-index=3 ! fakesink",
        m.display()
    ));
    assert!(e.contains("device-index"), "{e}");
    if !cfg!(feature = "cuda") {
        let e = error_of(&format!(
            "appsrc name=src ! reccnndec model-location={} backend=cuda ! fakesink",
            m.display()
        ));
        assert!(e.contains("--features cuda"), "{e}");
        // With no model set and a stream that names none, the cause is still the backend.
        let e = error_of("appsrc name=src ! reccnndec backend=cuda ! fakesink");
        assert!(e.contains("--features cuda"), "{e}");
    }
    let e = error_of("appsrc name=src ! reccnndec device-index=2 ! fakesink");
    assert!(e.contains("device-index=2"), "{e}");
}

#[test]
fn unknown_or_unsupported_precision_is_an_element_error() {
    let dir = util::tmp_dir("precision");
    let m = util::tiny_model(&dir, 24);
    for element in ["comcnnenc", "reccnndec"] {
        let e = error_of(&format!(
            "appsrc name=src ! {element} model-location={} precision=fp8 ! fakesink",
            m.display()
        ));
        assert!(e.contains("precision") && e.contains("fp8"), "{e}");
        let e = error_of(&format!(
            "appsrc name=src ! {element} model-location={} precision=fp16 ! fakesink",
            m.display()
        ));
        assert!(e.contains("precision=fp16 needs backend=cuda"), "{e}");
    }
}

#[test]
fn pair_trained_for_different_qualities_is_an_element_error() {
    let Some(reference) = util::reference_model() else {
        return;
    };
    let dir = util::tmp_dir("qualities").join("model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        reference.join("comcnn.safetensors"),
        dir.join("comcnn.safetensors"),
    )
    .unwrap();
    let mut bytes = std::fs::read(reference.join("reccnn.safetensors")).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"QF50")
        .expect("source metadata");
    bytes[at..at + 4].copy_from_slice(b"QF10");
    std::fs::write(dir.join("reccnn.safetensors"), bytes).unwrap();
    let e = error_of(&format!(
        "appsrc name=src ! comcnnenc model-location={} ! fakesink",
        dir.display()
    ));
    assert!(e.contains("quality 50") && e.contains("quality 10"), "{e}");
}

#[test]
fn stream_model_that_is_gone_is_an_element_error() {
    let dir = util::tmp_dir("gone");
    let model = util::tiny_model(&dir, 31);
    let file = dir.join("archive.mkv");
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc model-location={} ! jpegenc ! matroskamux ! filesink location={}",
            model.display(),
            file.display()
        ),
        vec![util::test_frame("GRAY8", 32, 24, 0)],
        Duration::from_secs(60),
    )
    .expect_ok();
    std::fs::remove_file(&model).unwrap();
    let e = util::run(
        &format!(
            "filesrc location={} ! matroskademux ! jpegdec ! reccnndec stream-model-dirs={} ! fakesink",
            file.display(),
            dir.display()
        ),
        vec![],
        Duration::from_secs(60),
    )
    .error
    .expect("must fail");
    assert!(
        e.contains("cannot be loaded here") && e.contains("tiny-31"),
        "{e}"
    );
}

#[test]
fn impossible_size_setting_is_an_element_error() {
    let dir = util::tmp_dir("size");
    let m = util::tiny_model(&dir, 32);
    // 32x24 compact frames (a compact side may have been extended by up to 63 columns or
    // rows) come from 1..64 wide and 1..48 high originals.
    let e = error_of(&format!(
        "appsrc name=src ! reccnndec model-location={} width=100 ! fakesink",
        m.display()
    ));
    assert!(e.contains("width=100") && e.contains("use 1 to 64"), "{e}");
    let e = error_of(&format!(
        "appsrc name=src ! reccnndec model-location={} height=100 ! fakesink",
        m.display()
    ));
    assert!(e.contains("height=100") && e.contains("use 1 to 48"), "{e}");
}

/// Plane offsets and strides for a video meta.
type Layout<'a> = Option<(&'a [usize], &'a [i32])>;

/// A frame of `caps` in a buffer of `bytes` bytes, with a video meta when given.
fn raw_frame(caps: &str, bytes: usize, meta: Layout) -> (gst::Caps, gst::Buffer) {
    util::init();
    let caps: gst::Caps = caps.parse().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let mut buffer = gst::Buffer::from_mut_slice(vec![128u8; bytes]);
    if let Some((offsets, strides)) = meta {
        gst_video::VideoMeta::add_full(
            buffer.get_mut().unwrap(),
            gst_video::VideoFrameFlags::empty(),
            info.format(),
            info.width(),
            info.height(),
            offsets,
            strides,
        )
        .unwrap();
    }
    (caps, buffer)
}

// Found by `cnncodec-fuzz frames`: GStreamer's video filter only warns about a buffer it cannot
// map and pushes its output buffer unwritten; a meta's planes were checked only where they start.
#[test]
fn short_or_malformed_buffers_are_element_errors_and_no_frame() {
    let dir = util::tmp_dir("short");
    let m = util::tiny_model(&dir, 33);
    let caps = "video/x-raw,format=I420,width=32,height=24,framerate=10/1";
    // I420 32x24: 768 + 2 x 192 bytes.
    let cases: [(usize, Layout); 3] = [
        (1000, None),
        (1152, Some((&[0, 768, 960], &[32, 16, 16]))),
        (1152, Some((&[0, 768, 1000], &[32, 16, 16]))),
    ];
    for element in ["comcnnenc", "reccnndec"] {
        for (i, (bytes, meta)) in cases.iter().enumerate() {
            let result = util::run(
                &format!(
                    "appsrc name=src ! {element} model-location={} ! appsink name=sink",
                    m.display()
                ),
                vec![raw_frame(caps, *bytes, *meta)],
                Duration::from_secs(60),
            );
            if i == 1 {
                assert_eq!(result.samples.len(), 1, "{element}: a well-formed frame");
                continue;
            }
            let e = result.error.expect("refused");
            assert!(
                e.contains("cannot hold a 32x24 I420 frame")
                    && e.contains(&format!("{bytes}-byte")),
                "{element}: {e}"
            );
            assert!(result.samples.is_empty(), "{element}: a frame came out");
        }
    }
}

#[test]
fn frames_too_large_are_refused_before_allocating() {
    let dir = util::tmp_dir("huge");
    let m = util::tiny_model(&dir, 34);
    let result = util::run(
        &format!(
            "appsrc name=src ! comcnnenc model-location={} ! appsink name=sink",
            m.display()
        ),
        vec![raw_frame(
            "video/x-raw,format=GRAY8,width=40000,height=1000,framerate=10/1",
            4096,
            None,
        )],
        Duration::from_secs(60),
    );
    let e = result.error.expect("refused");
    assert!(
        e.contains("40000x1000 frames") && e.contains("scale them down"),
        "{e}"
    );
}
