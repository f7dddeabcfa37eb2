//! Seeking in an archive: flushing seeks (accurate and key-unit) and frame stepping restore
//! exactly the frames a linear playback restores at the same times, and the position and
//! duration queries answer through both elements.

mod util;

use std::time::Duration;

use gst::prelude::*;

const FRAMES: u64 = 30;
const FRAME_MS: u64 = 100;

/// A 3-second archive (30 frames of 100 ms) made through the real elements.
fn archive() -> std::path::PathBuf {
    let dir = util::tmp_dir("seeking");
    let model = util::tiny_model(&dir, 3);
    let file = dir.join("archive.mkv");
    let frames = (0..FRAMES as u32)
        .map(|i| util::test_frame("I420", 177, 145, i))
        .collect();
    util::run(
        &format!(
            "appsrc name=src ! cnnjpegenc model-location={} ! matroskamux ! filesink location={}",
            model.display(),
            file.display()
        ),
        frames,
        Duration::from_secs(120),
    )
    .expect_ok();
    file
}

/// `cnnjpegdec` allowed to load the archive's model from beside it.
fn trusting_decoder(file: &std::path::Path) -> String {
    format!(
        "cnnjpegdec stream-model-dirs={}",
        file.parent().unwrap().display()
    )
}

struct Player {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
}

impl Player {
    /// The archive played through `cnnjpegdec`, prerolled (PAUSED).
    fn paused(file: &std::path::Path) -> Self {
        Self::paused_through(file, &trusting_decoder(file))
    }

    /// The archive through `elements` (a launch fragment), prerolled.
    fn paused_through(file: &std::path::Path, elements: &str) -> Self {
        util::init();
        let pipeline = gst::parse::launch(&format!(
            "filesrc location={} ! matroskademux ! {elements} ! appsink name=sink sync=false",
            file.display()
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let sink = pipeline
            .by_name("sink")
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap();
        let player = Self { pipeline, sink };
        player.pipeline.set_state(gst::State::Paused).unwrap();
        player.settle();
        player
    }

    fn settle(&self) {
        let (result, _, _) = self.pipeline.state(gst::ClockTime::from_seconds(60));
        result.expect("the pipeline prerolls");
    }

    fn seek(&self, ms: u64, flags: gst::SeekFlags) {
        self.pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | flags,
                gst::ClockTime::from_mseconds(ms),
            )
            .unwrap();
        self.settle();
    }

    /// Plays to the end: each frame's time (ms) and luma.
    fn play_out(&self) -> Vec<(u64, cnncodec::GrayImage)> {
        self.pipeline.set_state(gst::State::Playing).unwrap();
        let mut out = vec![];
        while let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_seconds(60)) {
            out.push(frame_of(&sample));
        }
        assert!(self.sink.is_eos(), "playback ends with EOS");
        out
    }

    fn preroll(&self) -> (u64, cnncodec::GrayImage) {
        frame_of(&self.sink.pull_preroll().unwrap())
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn frame_of(sample: &gst::Sample) -> (u64, cnncodec::GrayImage) {
    let pts = sample.buffer().unwrap().pts().unwrap().mseconds();
    (pts, util::luma_of(sample))
}

#[test]
fn seeks_and_steps_restore_the_frames_linear_playback_restores() {
    let file = archive();
    let linear = Player::paused(&file).play_out();
    assert_eq!(
        linear.iter().map(|f| f.0).collect::<Vec<_>>(),
        (0..FRAMES).map(|i| i * FRAME_MS).collect::<Vec<_>>()
    );
    assert!(linear.iter().all(|f| (f.1.width, f.1.height) == (177, 145)));

    let player = Player::paused(&file);
    // Duration and position through both elements of the bin, in time and in frames' terms.
    assert_eq!(
        player.pipeline.query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_mseconds(FRAMES * FRAME_MS))
    );
    for (target, flags) in [
        (1200, gst::SeekFlags::ACCURATE),
        (2550, gst::SeekFlags::ACCURATE),
        (700, gst::SeekFlags::KEY_UNIT),
        (0, gst::SeekFlags::ACCURATE),
    ] {
        player.seek(target, flags);
        let (pts, luma) = player.preroll();
        // The frame shown is linear playback's frame at that time; an accurate seek lands on
        // the target (into the middle of a frame: that frame, from the target on), a key-unit
        // seek on the index entry at or before it.
        let frame = (pts / FRAME_MS) as usize;
        assert!(
            luma == linear[frame].1,
            "seek to {target} ms ({flags:?}): another picture"
        );
        if flags.contains(gst::SeekFlags::ACCURATE) {
            assert_eq!(pts, target, "seek to {target} ms");
        } else {
            assert!(
                pts <= target && pts % FRAME_MS == 0,
                "key-unit seek to {target} ms gave {pts}"
            );
        }
        assert_eq!(
            player.pipeline.query_position::<gst::ClockTime>(),
            Some(gst::ClockTime::from_mseconds(pts)),
            "position after seeking to {target} ms"
        );
    }

    // Stepping frame by frame from frame 10.
    player.seek(1000, gst::SeekFlags::ACCURATE);
    for (next, expected) in linear.iter().enumerate().take(14).skip(11) {
        assert!(player.pipeline.send_event(gst::event::Step::new(
            gst::format::Buffers::ONE,
            1.0,
            true,
            false
        )));
        player.settle();
        let bus = player.pipeline.bus().unwrap();
        bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::StepDone],
        )
        .expect("the step completes");
        assert!(player.preroll() == *expected, "step to frame {next}");
    }

    // Playing on from a seek gives the rest of the linear playback.
    player.seek(2000, gst::SeekFlags::ACCURATE);
    assert!(player.play_out() == linear[20..]);

    // Through the encoder too (a transcode: restore, then archive again): queries and seeks
    // pass both elements, and the segment query answers from the seek.
    let transcode =
        Player::paused_through(&file, &format!("{} ! cnnjpegenc", trusting_decoder(&file)));
    assert_eq!(
        transcode.pipeline.query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_mseconds(FRAMES * FRAME_MS))
    );
    transcode.seek(1500, gst::SeekFlags::ACCURATE);
    assert_eq!(
        transcode.pipeline.query_position::<gst::ClockTime>(),
        Some(gst::ClockTime::from_mseconds(1500))
    );
    let mut q = gst::query::Segment::new(gst::Format::Time);
    assert!(
        transcode.pipeline.query(&mut q),
        "the segment query is answered"
    );
    let (rate, start, _) = q.result();
    assert_eq!(rate, 1.0);
    assert_eq!(
        start,
        gst::GenericFormattedValue::from(gst::ClockTime::from_mseconds(1500))
    );
}
