//! Helpers shared by the plugin's integration tests: plugin registration, tiny models, and
//! running real pipelines with appsrc/appsink under a timeout.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::net::weights::ModelWeights;
use gst_video::prelude::*;

pub use gstcnncodec::runner::*;

pub fn tmp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnncodec-plugin-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small random ComCNN/RecCNN pair saved as a model file (sizes, not quality, under test).
pub fn tiny_model(dir: &Path, seed: u64) -> PathBuf {
    let m = ModelWeights::random(
        &format!("tiny-{seed}"),
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(3),
        seed,
    );
    let path = dir.join(format!("tiny-{seed}.cnnmodel"));
    m.save(&path).unwrap();
    path
}

pub fn reference_model() -> Option<PathBuf> {
    cnncodec::eval::reference::require_reference("plugin reference test")
        .map(|r| r.join("official-qf50"))
}

/// A deterministic test frame of `format` with some structure in every plane.
pub fn test_frame(format: &str, width: u32, height: u32, seed: u32) -> (gst::Caps, gst::Buffer) {
    init(); // parsing a format name needs GStreamer
    let fmt: gst_video::VideoFormat = format.parse().unwrap();
    new_frame(fmt, width, height, 10, |frame| {
        let info = frame.info().clone();
        for p in 0..frame.n_planes() {
            let (w, h) = (info.comp_width(p as u8), info.comp_height(p as u8));
            let stride = frame.plane_stride()[p as usize] as usize;
            let data = frame.plane_data_mut(p).unwrap();
            for y in 0..h {
                for x in 0..w {
                    let v = (x * 7 + y * 13 + p * 50 + seed * 3 + (x * y) % 17) % 256;
                    data[y as usize * stride + x as usize] = v as u8;
                }
            }
        }
    })
}

/// The `format` field of a sample's caps.
pub fn format_of(sample: &gst::Sample) -> String {
    sample
        .caps()
        .unwrap()
        .structure(0)
        .unwrap()
        .get::<String>("format")
        .unwrap()
}

/// A one-frame Matroska archive at `file` whose stream tag is `info`: what `comcnnenc` would
/// have written with that model (a crafted or an earlier build's stream).
pub fn archive_with_info(file: &Path, info: &gstcnncodec::StreamInfo) {
    init();
    let mut tags = gst::TagList::new();
    tags.get_mut()
        .unwrap()
        .add::<gst::tags::Comment>(&info.to_comment().as_str(), gst::TagMergeMode::Append);
    run_hooked(
        &format!(
            "appsrc name=src ! jpegenc ! matroskamux ! filesink location={}",
            file.display()
        ),
        vec![test_frame("GRAY8", 32, 24, 1)],
        std::time::Duration::from_secs(60),
        |p| {
            let src = p.by_name("src").unwrap();
            assert!(src.send_event(gst::event::Tag::new(tags)));
        },
    )
    .expect_ok();
}

/// Plays a JPEG Matroska archive through `reccnndec {props}`.
pub fn play_archive(file: &Path, props: &str) -> RunResult {
    run(
        &format!(
            "filesrc location={} ! matroskademux ! jpegdec ! reccnndec {props} ! appsink name=sink",
            file.display()
        ),
        vec![],
        std::time::Duration::from_secs(60),
    )
}
