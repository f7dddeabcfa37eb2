//! Manners in live pipelines: the LATENCY query, explicit QoS, the `stats` property,
//! `Progress` messages while a model loads, one shared copy of a model, and clean
//! start/stop cycles.

mod util;

use std::time::Duration;

use gst::prelude::*;

fn element(factory: &str, model: &std::path::Path) -> gst::Element {
    util::init();
    gst::ElementFactory::make(factory)
        .property("model-location", model.to_str().unwrap())
        .build()
        .unwrap()
}

fn frame_at(seconds: u64) -> (gst::Caps, gst::Buffer) {
    let (caps, mut buf) = util::test_frame("GRAY8", 40, 30, seconds as u32);
    buf.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_seconds(seconds));
    (caps, buf)
}

#[test]
fn qos_is_off_by_default_and_drops_late_frames_before_the_network_when_on() {
    let dir = util::tmp_dir("qos");
    let model = util::tiny_model(&dir, 40);
    for factory in ["comcnnenc", "reccnndec"] {
        for qos in [false, true] {
            let el = element(factory, &model);
            assert!(
                !el.property::<bool>("qos"),
                "{factory}: archiving keeps every frame"
            );
            el.set_property("qos", qos);
            let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
            let (caps, first) = frame_at(0);
            h.set_src_caps(caps);
            h.push_and_pull(first).unwrap();
            // The sink says frames are 2 s late at running time 1 s.
            assert!(h.push_upstream_event(gst::event::Qos::new(
                gst::QOSType::Underflow,
                1.5,
                2_000_000_000i64,
                gst::ClockTime::from_seconds(1),
            )));
            h.push(frame_at(2).1).unwrap();
            let passed = h.try_pull().is_some();
            assert_eq!(passed, !qos, "{factory} qos={qos}");
            let frames = el
                .property::<gst::Structure>("stats")
                .get::<u64>("frames")
                .unwrap();
            assert_eq!(
                frames,
                if qos { 1 } else { 2 },
                "{factory}: dropped before the network"
            );
        }
    }
}

#[test]
fn stats_report_frames_timing_and_model() {
    let dir = util::tmp_dir("stats");
    let model = util::tiny_model(&dir, 41);
    let el = element("comcnnenc", &model);
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    let (caps, _) = frame_at(0);
    h.set_src_caps(caps);
    for s in 0..3 {
        h.push_and_pull(frame_at(s).1).unwrap();
    }
    let stats = el.property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3);
    let (mean, max) = (
        stats.get::<f64>("mean-ms").unwrap(),
        stats.get::<f64>("max-ms").unwrap(),
    );
    assert!(mean > 0.0 && max >= mean, "{stats}");
    assert_eq!(stats.get::<&str>("backend").unwrap(), "cpu");
    assert_eq!(stats.get::<u32>("device").unwrap(), 0);
    assert_eq!(stats.get::<&str>("precision").unwrap(), "fp32");
    assert_eq!(stats.get::<&str>("model").unwrap(), "tiny-41");
}

#[test]
fn latency_adds_the_measured_processing_time_when_upstream_is_live() {
    let dir = util::tmp_dir("latency");
    let model = util::tiny_model(&dir, 42);
    let el = element("reccnndec", &model);
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    let (caps, _) = frame_at(0);
    h.set_src_caps(caps);
    h.push_and_pull(frame_at(0).1).unwrap();
    let upstream = gst::ClockTime::from_mseconds(40);
    h.set_upstream_latency(upstream);
    let mut q = gst::query::Latency::new();
    assert!(el.static_pad("src").unwrap().query(&mut q));
    let (live, min, _) = q.result();
    let max_ms = el
        .property::<gst::Structure>("stats")
        .get::<f64>("max-ms")
        .unwrap();
    assert!(live);
    let ours = min - upstream;
    assert!(
        (ours.nseconds() as f64 / 1e6 - max_ms).abs() < 1e-3,
        "added {ours} for a slowest frame of {max_ms} ms"
    );
}

#[test]
fn loading_posts_progress_messages() {
    let dir = util::tmp_dir("progress");
    let model = util::tiny_model(&dir, 43);
    let launch = format!(
        "appsrc name=src ! comcnnenc model-location={} ! fakesink",
        model.display()
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let seen2 = seen.clone();
    util::run_hooked(
        &launch,
        vec![frame_at(0)],
        Duration::from_secs(60),
        |pipeline| {
            let bus = pipeline.bus().unwrap();
            bus.enable_sync_message_emission();
            bus.connect_sync_message(None, move |_, msg| {
                if let gst::MessageView::Progress(p) = msg.view() {
                    seen2.lock().unwrap().push(p.get().0);
                }
            });
        },
    )
    .expect_ok();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![gst::ProgressType::Start, gst::ProgressType::Complete],
        "{seen:?}"
    );
}

#[test]
fn elements_with_the_same_model_share_one_copy_and_cycles_leave_nothing_behind() {
    let dir = util::tmp_dir("cycles");
    let model = util::tiny_model(&dir, 44);
    let (a, b) = (element("comcnnenc", &model), element("reccnndec", &model));
    let hash = cnncodec::ModelWeights::load(&model)
        .unwrap()
        .meta
        .content_hash;
    assert_eq!(gstcnncodec::live_engines(&hash), 0);
    // Models load in start(), on the way to PAUSED, and go in stop().
    for _ in 0..100 {
        for el in [&a, &b] {
            el.set_state(gst::State::Paused).unwrap();
        }
        assert_eq!(gstcnncodec::live_engines(&hash), 1, "one shared copy");
        for el in [&a, &b] {
            el.set_state(gst::State::Null).unwrap();
        }
        assert_eq!(
            gstcnncodec::live_engines(&hash),
            0,
            "stop releases the model"
        );
    }
}

#[test]
fn latency_messages_only_reach_live_pipelines() {
    let dir = util::tmp_dir("latency-messages");
    // A seed of its own: the cycles test counts the live engines of its model.
    let model = util::tiny_model(&dir, 45);
    let count = |live: bool| {
        let launch = format!(
            "videotestsrc num-buffers=8 is-live={live} ! video/x-raw,format=GRAY8,width=64,height=48,framerate=100/1 \
             ! comcnnenc model-location={m} ! reccnndec model-location={m} ! fakesink sync={live}",
            m = model.display()
        );
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen2 = seen.clone();
        util::run_hooked(&launch, vec![], Duration::from_secs(60), |pipeline| {
            let bus = pipeline.bus().unwrap();
            bus.enable_sync_message_emission();
            bus.connect_sync_message(None, move |_, msg| {
                if let gst::MessageView::Latency(_) = msg.view() {
                    let from_us = msg.src().is_some_and(|s| {
                        s.name().starts_with("comcnnenc") || s.name().starts_with("reccnndec")
                    });
                    if from_us {
                        seen2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        })
        .expect_ok();
        seen.load(std::sync::atomic::Ordering::Relaxed)
    };
    // A file or test source has no latency to redistribute: not one message for 8 frames.
    assert_eq!(count(false), 0);
    // A live one may hear of a frame slower than the latency it was told; whether one is
    // depends on timing (the rule itself: `frame_times_ask_for_a_new_latency_only_when_live`
    // in plugin/src/common.rs). It runs either way.
    count(true);
}
