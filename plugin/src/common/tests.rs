#[test]
fn frame_times_ask_for_a_new_latency_only_when_live() {
    let ms = std::time::Duration::from_millis;
    let mut t = FrameTimes::default();
    // Never asked for a latency (not live): no frame asks for a new one.
    assert!(!t.record(ms(50)));
    assert_eq!(t.latency_to_report(), gst::ClockTime::from_mseconds(50));
    // Told 50 ms: a frame within 10 % of it is fine, a slower one asks again.
    assert!(!t.record(ms(54)));
    assert!(t.record(ms(80)));
    assert_eq!(t.latency_to_report(), gst::ClockTime::from_mseconds(80));
    assert!(!t.record(ms(80)));
}
use super::*;

fn info(width: u32) -> StreamInfo {
    StreamInfo {
        width,
        height: 289,
        model_name: "m".into(),
        model_hash: "0123456789abcdef".into(),
        comcnn_hash: "fedcba9876543210".into(),
        model_location: Some("/models/with \"quotes\", commas.cnnmodel".into()),
    }
}

#[test]
fn stream_info_survives_its_comment_form() {
    gst::init().unwrap();
    let i = info(353);
    assert_eq!(StreamInfo::from_comment(&i.to_comment()), Some(i));
    assert_eq!(StreamInfo::from_comment("a user's own comment"), None);
    // Found by `cnncodec-fuzz tag`: texts GStreamer's parser answers with a GLib critical
    // or warning are refused before (or without) one.
    let criticals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = criticals.clone();
    let handler = gst::glib::log_set_handler(
        Some("GStreamer"),
        gst::glib::LogLevels::LEVEL_CRITICAL | gst::glib::LogLevels::LEVEL_WARNING,
        false,
        false,
        move |_, _, _| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
    );
    for text in [
        "cnnco;ec, width=(int)4, height=(int)4",
        "cnncodec, width=(int)4, height=(int)4;trailing=(int)1",
        "cnncodec, version=(int)1, wation=(string)\"\";idth=(int)63, height1(int)11",
        "cnncodec\u{0}, width=(int)4",
        "cnncodec, version=(int)1, width=\"\", l*int)4, height=(int)3",
    ] {
        assert_eq!(StreamInfo::from_comment(text), None, "{text}");
    }
    gst::glib::log_remove_handler(Some("GStreamer"), handler);
    assert_eq!(criticals.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn merged_tags_keep_upstream_tags_and_replace_old_stream_info() {
    gst::init().unwrap();
    let mut up = gst::TagList::new();
    {
        let up = up.get_mut().unwrap();
        up.add::<gst::tags::Title>(&"kept", gst::TagMergeMode::Append);
        up.add::<gst::tags::Comment>(&"a user's note", gst::TagMergeMode::Append);
        up.add::<gst::tags::Comment>(&info(100).to_comment().as_str(), gst::TagMergeMode::Append);
    }
    let merged = tags_with_info(Some(&up), &info(353));
    assert_eq!(merged.get::<gst::tags::Title>().unwrap().get(), "kept");
    let comments: Vec<String> = merged
        .iter_tag::<gst::tags::Comment>()
        .map(|c| c.get().to_owned())
        .collect();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments.contains(&"a user's note".to_owned()));
    assert_eq!(StreamInfo::from_tags(&merged).unwrap().width, 353);
    assert_eq!(merged.scope(), gst::TagScope::Stream);
}

#[test]
fn size_mapping_covers_odd_originals_and_never_panics() {
    gst::init().unwrap();
    let caps = gst::Caps::builder("video/x-raw")
        .field("width", 177i32)
        .field("height", gst::IntRange::new(1i32, i32::MAX))
        .build();
    let exact = Padding::Multiple(1);
    let up = map_caps(&caps, false, [exact, exact], None);
    let s = up.structure(0).unwrap();
    let widths: Vec<i32> = s
        .get::<gst::List>("width")
        .unwrap()
        .iter()
        .map(|v| v.get::<i32>().unwrap())
        .collect();
    assert_eq!(widths, vec![354, 353]);
    let down = map_caps(&caps, true, [exact, exact], None);
    assert_eq!(down.structure(0).unwrap().get::<i32>("width").unwrap(), 89);
    // Degenerate values map to something valid or nothing, never a panic.
    for w in [0i32, 1, i32::MAX] {
        let c = gst::Caps::builder("video/x-raw").field("width", w).build();
        for padding in [exact, Padding::Multiple(16), Padding::Any] {
            let _ = map_caps(&c, false, [padding, Padding::Multiple(1)], None);
            let _ = map_caps(&c, true, [padding, Padding::Multiple(1)], None);
        }
    }
}

#[test]
fn widened_compact_widths_map_to_every_original_they_can_hold() {
    gst::init().unwrap();
    let width = |w: i32, to_compact, padding| {
        let c = gst::Caps::builder("video/x-raw").field("width", w).build();
        map_caps(&c, to_compact, [padding, Padding::Multiple(1)], None)
    };
    let sixteen = Padding::Multiple(16);
    // 451 -> 226 -> 240 (a multiple of 16).
    let c = width(451, true, sixteen);
    assert_eq!(c.structure(0).unwrap().get::<i32>("width").unwrap(), 240);
    // Back: 480, 479, then every original whose compact width widens to 240.
    let up = width(240, false, sixteen);
    for w in [480, 479, 451, 449] {
        let one = gst::Caps::builder("video/x-raw").field("width", w).build();
        assert!(up.can_intersect(&one), "{w} missing from {up}");
    }
    let too_narrow = gst::Caps::builder("video/x-raw")
        .field("width", 448)
        .build();
    assert!(!up.can_intersect(&too_narrow), "{up}");
    // A width no original widens to has no original.
    assert!(width(241, false, sixteen).is_empty());
    // The decoder takes any widening up to 63 columns.
    let any = width(240, false, Padding::Any);
    // Never a range inside a list (GStreamer 1.22 compares it as an integer).
    for s in any.iter().chain(up.iter()) {
        let w = s.value("width").unwrap();
        if let Ok(list) = w.get::<gst::List>() {
            assert!(list.iter().all(|v| v.get::<i32>().is_ok()), "{s}");
        }
    }
    for w in [480, 451, 355] {
        let one = gst::Caps::builder("video/x-raw").field("width", w).build();
        assert!(any.can_intersect(&one), "{w} missing from {any}");
    }
}

#[test]
fn extended_compact_heights_map_back_to_the_originals_they_can_hold() {
    gst::init().unwrap();
    let caps = |w: i32, h: i32| {
        gst::Caps::builder("video/x-raw")
            .field("width", w)
            .field("height", h)
            .build()
    };
    let even = [Padding::Multiple(2), Padding::Multiple(2)];
    // 353x289 -> 177x145 -> 178x146 (both even).
    let c = map_caps(&caps(353, 289), true, even, None);
    let s = c.structure(0).unwrap();
    assert_eq!(
        (s.get::<i32>("width"), s.get::<i32>("height")),
        (Ok(178), Ok(146))
    );
    // The decoder takes rows an encoder added, as it takes columns.
    let up = map_caps(&caps(178, 146), false, [Padding::Any; 2], None);
    for (w, h) in [(353, 289), (356, 292), (355, 291)] {
        assert!(up.can_intersect(&caps(w, h)), "{w}x{h} missing from {up}");
    }
    assert!(!up.can_intersect(&caps(353, 293)), "{up}");
}
