//! A live camera archived and previewed in one pipeline: the archive branch keeps every frame
//! (`qos=false`, the elements' default) while the preview branch, too slow for the camera on
//! purpose, drops late frames (`qos=true` and a leaky queue) without holding the archive back;
//! the pipeline's latency includes the network's measured time.

mod util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;

const FRAMES: u64 = 50;

fn collect(sink: &gst_app::AppSink) -> Arc<Mutex<Vec<u64>>> {
    let seen = Arc::new(Mutex::new(vec![]));
    let out = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let pts = sample.buffer().and_then(|b| b.pts()).unwrap_or_default();
                out.lock().unwrap().push(pts.mseconds());
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    seen
}

#[test]
fn a_live_archive_keeps_every_frame_while_the_preview_drops_late_ones() {
    util::init();
    // 25 frames/s of 1280x720: the archive (ComCNN + JPEG) keeps up on two cores, the preview
    // (full-size RecCNN restoration, a few frames/s) cannot.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true num-buffers={FRAMES} pattern=ball \
           ! video/x-raw,format=I420,width=1280,height=720,framerate=25/1 ! tee name=t \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 \
           ! cnnjpegenc ! appsink name=archive sync=false \
         t. ! queue leaky=downstream max-size-buffers=2 \
           ! comcnnenc qos=true ! reccnndec qos=true name=preview-dec \
           ! appsink name=preview sync=true qos=true max-lateness=20000000"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = |name| {
        pipeline
            .by_name(name)
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap()
    };
    let archived = collect(&sink("archive"));
    let previewed = collect(&sink("preview"));
    pipeline.set_state(gst::State::Playing).unwrap();

    let bus = pipeline.bus().unwrap();
    let started = std::time::Instant::now();
    loop {
        match bus.timed_pop(gst::ClockTime::from_mseconds(50)) {
            Some(msg) => match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("pipeline error: {}", e.error()),
                _ => {}
            },
            None => assert!(
                started.elapsed() < Duration::from_secs(300),
                "no EOS in 5 minutes"
            ),
        }
    }
    // Asked once every element has measured its frames.
    let mut query = gst::query::Latency::new();
    assert!(
        pipeline.query(&mut query),
        "the pipeline answers the latency query"
    );
    let (live, min, _) = query.result();
    pipeline.set_state(gst::State::Null).unwrap();

    let archived = archived.lock().unwrap().clone();
    // A live source stamps frames from the clock, so the first one's time is wherever it started.
    let every_frame: Vec<u64> = (0..FRAMES).map(|i| archived[0] + i * 40).collect();
    assert_eq!(
        archived, every_frame,
        "the archive keeps every frame, in order"
    );
    let previewed = previewed.lock().unwrap().clone();
    assert!(
        !previewed.is_empty() && (previewed.len() as u64) < FRAMES,
        "the preview shows some frames and drops others: {} of {FRAMES}",
        previewed.len()
    );
    assert!(live);
    // At least one frame's restoration (the slowest element) on top of the camera's frame.
    let restore_ms = pipeline
        .by_name("preview-dec")
        .unwrap()
        .property::<gst::Structure>("stats")
        .get::<f64>("mean-ms")
        .unwrap();
    assert!(
        min.mseconds() as f64 >= 40.0 + 0.5 * restore_ms,
        "latency {min} with {restore_ms} ms a restored frame"
    );
}
