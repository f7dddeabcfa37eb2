//! No frame lost: an archive pipeline whose sink is slower than its live source (1.5 ms a
//! frame against 1 ms), with the CPU taken by a second pipeline, writes every frame in order;
//! `gst-launch-1.0 -e` stopped by SIGINT leaves a finished, playable file; a full disk is an
//! element error that leaves the earlier segments whole.

mod util;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::prelude::*;

/// Every frame of a Matroska file (or of a segment), through the plain demuxer.
fn frame_times(file: &Path) -> Vec<u64> {
    let played = util::run(
        &format!(
            "filesrc location={} ! matroskademux ! appsink name=sink",
            file.display()
        ),
        vec![],
        Duration::from_secs(300),
    )
    .expect_ok();
    played
        .samples
        .iter()
        .map(|s| s.buffer().unwrap().pts().unwrap().nseconds())
        .collect()
}

/// The file restored through `reccnndec`: its frame sizes.
fn restored_sizes(file: &Path, model_dir: &Path) -> Vec<(i32, i32)> {
    util::run(
        &format!(
            "filesrc location={} ! matroskademux ! jpegdec ! reccnndec stream-model-dirs={} \
             ! appsink name=sink",
            file.display(),
            model_dir.display()
        ),
        vec![],
        Duration::from_secs(300),
    )
    .expect_ok()
    .sizes()
}

fn run_to_end(pipeline: &gst::Pipeline, timeout: Duration) -> Result<(), String> {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let result = match bus.timed_pop_filtered(
        gst::ClockTime::from_nseconds(timeout.as_nanos() as u64),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    ) {
        None => Err("TIMEOUT".into()),
        Some(m) => match m.view() {
            gst::MessageView::Error(e) => Err(format!(
                "{}: {} ({})",
                e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                e.error(),
                e.debug().unwrap_or_default()
            )),
            _ => Ok(()),
        },
    };
    pipeline.set_state(gst::State::Null).unwrap();
    result
}

#[test]
fn a_starved_archive_keeps_every_frame_in_order() {
    util::init();
    const FRAMES: u64 = 10_000;
    let dir = util::tmp_dir("starved");
    let model = util::tiny_model(&dir, 71);
    let file = dir.join("starved.mkv");
    let archive = gst::parse::launch(&format!(
        "videotestsrc is-live=true pattern=ball num-buffers={FRAMES} \
         ! video/x-raw,format=I420,width=32,height=24,framerate=1000/1 \
         ! comcnnenc model-location={} ! jpegenc \
         ! queue name=bounded max-size-buffers=4 max-size-bytes=0 max-size-time=0 \
         ! identity sleep-time=1500 ! matroskamux ! filesink location={}",
        model.display(),
        file.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let overruns = Arc::new(AtomicU64::new(0));
    let o = overruns.clone();
    archive
        .by_name("bounded")
        .unwrap()
        .connect("overrun", false, move |_| {
            o.fetch_add(1, Ordering::Relaxed);
            None
        });
    // The CPU hog: the default model on larger frames, as fast as it can, until the archive ends.
    let hog = gst::parse::launch(
        "videotestsrc pattern=snow ! video/x-raw,format=GRAY8,width=320,height=240 \
         ! comcnnenc ! fakesink name=hogsink sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let hogged = Arc::new(AtomicU64::new(0));
    let h = hogged.clone();
    hog.by_name("hogsink")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            h.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    hog.set_state(gst::State::Playing).unwrap();
    let started = Instant::now();
    let result = run_to_end(&archive, Duration::from_secs(600));
    hog.set_state(gst::State::Null).unwrap();
    result.unwrap();
    let times = frame_times(&file);
    eprintln!(
        "starved archive: {} of {FRAMES} frames written in {:.1} s, the bounded queue full {} times, the hog coded {} frames meanwhile",
        times.len(),
        started.elapsed().as_secs_f64(),
        overruns.load(Ordering::Relaxed),
        hogged.load(Ordering::Relaxed)
    );
    assert!(
        overruns.load(Ordering::Relaxed) > 0,
        "the sink never fell behind: not a starved archive"
    );
    assert!(hogged.load(Ordering::Relaxed) > 0, "the hog never ran");
    assert_eq!(times.len() as u64, FRAMES, "frames in = frames written");
    // A live source stamps running time: the first frame starts wherever the clock was.
    for (i, t) in times.iter().enumerate() {
        assert_eq!(
            t - times[0],
            i as u64 * 1_000_000,
            "frame {i} out of order or moved"
        );
    }
}

/// The directory holding this build's plugin library, for `gst-launch-1.0`.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("libgstcnncodec.so").exists())
        .expect("libgstcnncodec.so beside the test binary")
        .to_owned()
}

#[test]
fn gst_launch_stopped_by_sigint_finishes_a_playable_file() {
    util::init();
    let dir = util::tmp_dir("sigint");
    let model = util::tiny_model(&dir, 72);
    let file = dir.join("interrupted.mkv");
    let mut child = std::process::Command::new("gst-launch-1.0")
        .arg("-e")
        .args(
            format!(
                "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 \
                 ! comcnnenc model-location={} ! jpegenc ! matroskamux ! filesink location={}",
                model.display(),
                file.display()
            )
            .split_whitespace(),
        )
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env("GST_REGISTRY", dir.join("registry.bin"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gst-launch-1.0 runs");
    // Recording for a while: the file grows.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 20_000 {
        assert!(Instant::now() < deadline, "the recording never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: signals a child process we started.
    assert_eq!(unsafe { libc_kill(child.id() as i32, 2) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gst-launch-1.0 -e did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "gst-launch-1.0 exited with {status}");
    let times = frame_times(&file);
    assert!(times.len() > 10, "only {} frames", times.len());
    // Finished: the muxer wrote the duration (it does so only at EOS).
    let probe = gst::parse::launch(&format!(
        "filesrc location={} ! matroskademux ! fakesink",
        file.display()
    ))
    .unwrap();
    probe.set_state(gst::State::Paused).unwrap();
    let _ = probe.state(gst::ClockTime::from_seconds(10));
    let known = probe.query_duration::<gst::ClockTime>();
    probe.set_state(gst::State::Null).unwrap();
    let last = *times.last().unwrap();
    let known = known
        .expect("the finished file states its duration")
        .nseconds();
    assert!(
        known >= last && known - last < 200_000_000,
        "duration {known} ns against a last frame at {last} ns"
    );
    let sizes = restored_sizes(&file, &dir);
    assert_eq!(sizes, vec![(64, 48); times.len()]);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

#[test]
fn a_full_disk_is_an_element_error_and_earlier_segments_stay_whole() {
    util::init();
    let dir = util::tmp_dir("fulldisk");
    let model = util::tiny_model(&dir, 73);
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=ball num-buffers=100 ! video/x-raw,format=I420,width=64,height=48,framerate=10/1 \
         ! comcnnenc model-location={} ! jpegenc \
         ! splitmuxsink name=split muxer=matroskamux max-size-time=2000000000",
        model.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    // The third segment goes to a device that is always full.
    let seg_dir = dir.clone();
    let reached_full = Arc::new(AtomicBool::new(false));
    let r = reached_full.clone();
    pipeline
        .by_name("split")
        .unwrap()
        .connect("format-location", false, move |args| {
            let id = args[1].get::<u32>().unwrap();
            let location = if id < 2 {
                seg_dir
                    .join(format!("segment{id}.mkv"))
                    .display()
                    .to_string()
            } else {
                r.store(true, Ordering::SeqCst);
                "/dev/full".to_owned()
            };
            Some(location.to_value())
        });
    let e = run_to_end(&pipeline, Duration::from_secs(120)).expect_err("the full disk is an error");
    assert!(reached_full.load(Ordering::SeqCst));
    assert!(e.contains("No space left"), "{e}");
    for id in 0..2u64 {
        let segment = dir.join(format!("segment{id}.mkv"));
        let times = frame_times(&segment);
        let expected: Vec<u64> = (0..20).map(|i| (20 * id + i) * 100_000_000).collect();
        assert_eq!(times, expected, "segment {id}");
        assert_eq!(restored_sizes(&segment, &dir), vec![(64, 48); 20]);
    }
}
