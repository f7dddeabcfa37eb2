//! `cnncodec frame --at SECONDS --out FILE.png ARCHIVE`: one restored frame of an archive,
//! found by a flushing accurate seek (what an operator does to look at the minute something
//! happened). ARCHIVE is a Matroska file or a quoted glob of segment files (`splitmuxsrc`).
//! `--model-dirs DIRS` lets it load a model file the archive names from those directories;
//! `--self-ensemble` trades decoding time for a slightly better picture.

use gst::prelude::*;

use crate::codec::SelfEnsembleMode;

/// One restored frame of an archive, by an accurate seek.
#[derive(clap::Args, Debug)]
pub struct FrameArgs {
    /// The frame shown this many seconds from the start
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub at: f64,
    /// The PNG file to write
    #[arg(long, value_name = "FILE.png")]
    pub out: String,
    /// Directories a model file the archive names may be loaded from (built-in models need
    /// none)
    #[arg(long, value_name = "DIRS")]
    pub model_dirs: Option<String>,
    /// RecCNN on the frame's mirrors (mirror, mirrors) or also its transposes (full),
    /// averaged: a picture a little closer to the original for 2, 4 or 8 RecCNN passes
    #[arg(long, value_enum, default_value_t = SelfEnsembleMode::Off)]
    pub self_ensemble: SelfEnsembleMode,
    /// A Matroska file, or a quoted glob of segment files
    #[arg(value_name = "ARCHIVE.mkv|'SEGMENT-GLOB'")]
    pub archive: String,
}

pub fn run_frame(args: &FrameArgs) -> Result<(), String> {
    let (at, out, archive) = (args.at, &args.out, &args.archive);
    if !(at.is_finite() && at >= 0.0) {
        return Err(format!("--at {at}: seconds from the start, 0 or more"));
    }
    let png = restored_frame_at(
        archive,
        gst::ClockTime::from_nseconds((at * 1e9) as u64),
        args.model_dirs.as_deref().unwrap_or(""),
        args.self_ensemble,
    )?;
    std::fs::write(out, png).map_err(|e| format!("cannot write {out}: {e}"))?;
    println!("{out}: the frame at {at} s of {archive}");
    Ok(())
}

/// The PNG of the frame shown at `at` in `archive`.
/// `model_dirs`: where a model file the archive names may be loaded from (built-in models
/// need none).
fn restored_frame_at(
    archive: &str,
    at: gst::ClockTime,
    model_dirs: &str,
    ensemble: SelfEnsembleMode,
) -> Result<Vec<u8>, String> {
    gstcnncodec::runner::init();
    let quoted = archive.replace('"', "\\\"");
    let source = if archive.contains(['*', '?', '[']) {
        format!("splitmuxsrc location=\"{quoted}\"")
    } else if std::path::Path::new(archive).is_file() {
        format!("filesrc location=\"{quoted}\" ! matroskademux")
    } else {
        return Err(format!("{archive}: no such file"));
    };
    let pipeline = gst::parse::launch(&format!(
        "{source} ! cnnjpegdec stream-model-dirs=\"{}\" {} ! videoconvert ! pngenc \
         ! appsink name=sink sync=false",
        model_dirs.replace('"', "\\\""),
        ensemble.decoder_property()
    ))
    .map_err(|e| format!("cannot build the pipeline: {e}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    let result = (|| {
        let settle = |what: &str| -> Result<(), String> {
            let ok = pipeline.set_state(gst::State::Paused).is_ok()
                && pipeline.state(gst::ClockTime::from_seconds(120)).0.is_ok();
            if ok {
                Ok(())
            } else {
                Err(pipeline
                    .bus()
                    .and_then(|bus| gstcnncodec::runner::first_error(&bus))
                    .unwrap_or_else(|| format!("{archive}: cannot {what}")))
            }
        };
        settle("open it")?;
        let duration = pipeline.query_duration::<gst::ClockTime>();
        if duration.is_some_and(|d| at >= d) {
            return Err(format!(
                "{archive} is {} long: choose --at below that",
                duration.unwrap().display()
            ));
        }
        pipeline
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, at)
            .map_err(|_| format!("{archive}: cannot seek to {at}"))?;
        settle("seek in it")?;
        let sample = sink
            .pull_preroll()
            .map_err(|_| format!("{archive}: no frame at {at}"))?;
        let buffer = sample.buffer().ok_or("an empty sample")?;
        let map = buffer.map_readable().map_err(|_| "an unreadable frame")?;
        Ok(map.to_vec())
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
