//! Real pipelines: archive with comcnnenc + a stock encoder into Matroska, play back with the
//! stock decoder + reccnndec, and get the original size back with no settings repeated.

mod util;

use std::time::Duration;

use gst::prelude::*;
use gst_video::prelude::*;

const SIZES: &[(u32, u32)] = &[(1, 1), (2, 2), (3, 5), (176, 144), (353, 289), (1280, 720)];

fn archive_and_play(codec_enc: &str, codec_dec: &str, format: &str, w: u32, h: u32) {
    let dir = util::tmp_dir("roundtrip");
    let model = util::tiny_model(&dir, 7);
    let name: String = codec_enc
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = dir.join(format!("{name}-{format}-{w}x{h}.mkv"));
    let frames = (0..2).map(|i| util::test_frame(format, w, h, i)).collect();
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc model-location={} ! {codec_enc} ! matroskamux ! filesink location={}",
            model.display(),
            file.display()
        ),
        frames,
        Duration::from_secs(120),
    )
    .expect_ok();
    // Playback names no model and no size: both come from the file.
    let played = util::run(
        &format!(
            "filesrc location={} ! matroskademux ! {codec_dec} ! reccnndec stream-model-dirs={} ! appsink name=sink",
            file.display(),
            dir.display()
        ),
        vec![],
        Duration::from_secs(120),
    )
    .expect_ok();
    assert_eq!(
        played.sizes(),
        vec![(w as i32, h as i32); 2],
        "{codec_enc} {format} {w}x{h}"
    );
    assert_eq!(
        util::format_of(&played.samples[0]),
        format,
        "format survives"
    );
}

#[test]
fn jpeg_matroska_round_trip_restores_every_size() {
    for &(w, h) in SIZES {
        archive_and_play(
            "jpegenc quality=50 idct-method=islow",
            "jpegdec idct-method=islow",
            "I420",
            w,
            h,
        );
        archive_and_play("jpegenc", "jpegdec", "GRAY8", w, h);
    }
}

/// GStreamer 1.22's matroskamux has no JPEG 2000 mapping, and the one container that takes
/// `openjpegenc` output and plays back (Motion JPEG 2000: mj2mux / qtdemux) keeps no tags and
/// drops the `sampling` caps field that `openjpegdec` needs. So: straight through the codec
/// the stream info travels as tags; through an MJ2 file (sizes mj2mux takes) the decoder's
/// width/height properties give the size back.
#[test]
fn jpeg2000_round_trip_restores_every_size() {
    let dir = util::tmp_dir("j2k");
    let model = util::tiny_model(&dir, 11);
    for &(w, h) in SIZES {
        for (format, sampling) in [("I420", "YCbCr-4:2:0"), ("GRAY8", "GRAYSCALE")] {
            let frames: Vec<_> = (0..2).map(|i| util::test_frame(format, w, h, i)).collect();
            let levels = j2k_levels(w.div_ceil(2), h.div_ceil(2));
            let direct = util::run(
                &format!(
                    "appsrc name=src ! comcnnenc model-location={} ! openjpegenc {levels} ! openjpegdec ! reccnndec model-location={} ! appsink name=sink",
                    model.display(),
                    model.display()
                ),
                frames.clone(),
                Duration::from_secs(120),
            )
            .expect_ok();
            assert_eq!(
                direct.sizes(),
                vec![(w as i32, h as i32); 2],
                "J2K {format} {w}x{h}"
            );
            // A 1x1 compact frame has 1x1 chroma, which openjpegdec reads back as 4:4:4.
            if w > 2 && h > 2 {
                assert_eq!(util::format_of(&direct.samples[0]), format, "{w}x{h}");
            }

            // The stock mj2mux does not negotiate frames of a few pixels.
            if w < 16 || h < 16 {
                continue;
            }
            let file = dir.join(format!("{format}-{w}x{h}.mj2"));
            util::run(
                &format!(
                    "appsrc name=src ! comcnnenc model-location={} ! openjpegenc {levels} ! mj2mux ! filesink location={}",
                    model.display(),
                    file.display()
                ),
                frames,
                Duration::from_secs(120),
            )
            .expect_ok();
            let played = util::run(
                &format!(
                    "filesrc location={} ! qtdemux ! capssetter caps=image/x-j2c,sampling=(string){sampling} \
                     ! openjpegdec ! reccnndec model-location={} width={w} height={h} ! appsink name=sink",
                    file.display(),
                    model.display()
                ),
                vec![],
                Duration::from_secs(120),
            )
            .expect_ok();
            assert_eq!(
                played.sizes(),
                vec![(w as i32, h as i32); 2],
                "MJ2 {format} {w}x{h}"
            );
        }
    }
}

/// OpenJPEG refuses more wavelet levels than a small frame allows (the default 6 needs
/// planes of tens of pixels); tiny frames need one, as any user of `openjpegenc` must set.
fn j2k_levels(w: u32, h: u32) -> &'static str {
    if w.min(h) >= 64 {
        ""
    } else {
        "num-resolutions=1"
    }
}

#[test]
fn caps_change_mid_stream_is_followed() {
    let dir = util::tmp_dir("capschange");
    let model = util::tiny_model(&dir, 8);
    let mut frames = vec![];
    for (w, h) in [(352, 288), (352, 288), (175, 143), (175, 143), (64, 48)] {
        frames.push(util::test_frame("I420", w, h, 0));
    }
    let result = util::run(
        &format!(
            "appsrc name=src ! comcnnenc model-location={m} ! jpegenc ! jpegdec ! reccnndec model-location={m} ! appsink name=sink",
            m = model.display()
        ),
        frames,
        Duration::from_secs(120),
    )
    .expect_ok();
    assert_eq!(
        result.sizes(),
        vec![(352, 288), (352, 288), (175, 143), (175, 143), (64, 48)]
    );
}

#[test]
fn decoder_properties_restore_size_when_the_stream_lost_it() {
    // A compact stream without our tag (e.g. made by another tool): 177x145 compact frames.
    let dir = util::tmp_dir("props");
    let model = util::tiny_model(&dir, 9);
    let frames = vec![util::test_frame("GRAY8", 177, 145, 0)];
    let launch = |props: &str| {
        format!(
            "appsrc name=src ! reccnndec model-location={} {props} ! appsink name=sink",
            model.display()
        )
    };
    let default = util::run(&launch(""), frames.clone(), Duration::from_secs(60)).expect_ok();
    assert_eq!(default.sizes(), vec![(354, 290)]);
    let with_props = util::run(
        &launch("width=353 height=289"),
        frames,
        Duration::from_secs(60),
    )
    .expect_ok();
    assert_eq!(with_props.sizes(), vec![(353, 289)]);
}

#[test]
fn compact_frame_is_half_size_in_the_same_format() {
    util::init();
    let dir = util::tmp_dir("harness");
    let model = util::tiny_model(&dir, 10);
    let (mut h, out, info) = compact_353x289(&model, None);
    // ceil(353 / 2) = 177 columns, widened to 192 (width-multiple 16) by repeating the last.
    assert_eq!((info.width(), info.height()), (192, 145));
    assert_eq!(info.format(), gst_video::VideoFormat::I420);
    assert_eq!(out.size(), info.size());
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(out.as_ref(), &info).unwrap();
    for (plane, real) in [(0usize, 177usize), (1, 89), (2, 89)] {
        let stride = frame.plane_stride()[plane] as usize;
        let width = info.comp_width(plane as u8) as usize;
        let data = frame.plane_data(plane as u32).unwrap();
        for row in 0..info.comp_height(plane as u8) as usize {
            let r = &data[row * stride..row * stride + width];
            assert!(
                r[real..].iter().all(|v| *v == r[real - 1]),
                "plane {plane} row {row} is not widened with its last column"
            );
        }
    }
    // The stream info went downstream ahead of the frame.
    let mut found = None;
    while let Some(ev) = h.try_pull_event() {
        if let gst::EventView::Tag(t) = ev.view() {
            found = gstcnncodec::StreamInfo::from_tags(t.tag());
        }
    }
    let info = found.expect("stream info tag");
    assert_eq!((info.width, info.height), (353, 289));
    assert_eq!(info.model_name, "tiny-10");

    // width-multiple=1: exactly half size.
    let (_, _, info) = compact_353x289(&model, Some(1));
    assert_eq!((info.width(), info.height()), (177, 145));
}

/// One I420 353x289 frame through a `comcnnenc` harness: the harness (for its events), the
/// compact buffer and its negotiated video info.
fn compact_353x289(
    model: &std::path::Path,
    width_multiple: Option<u32>,
) -> (gst_check::Harness, gst::Buffer, gst_video::VideoInfo) {
    // The harness plays its element at once: configure it before.
    let mut builder =
        gst::ElementFactory::make("comcnnenc").property("model-location", model.to_str().unwrap());
    if let Some(m) = width_multiple {
        builder = builder.property("width-multiple", m);
    }
    let element = builder.build().unwrap();
    let mut h = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    let (caps, buf) = util::test_frame("I420", 353, 289, 0);
    h.set_src_caps(caps);
    h.play();
    let out = h.push_and_pull(buf).unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    (h, out, info)
}

/// Stock jpegenc codes GRAY8 rows through buffers exactly as wide as the frame, so a partial
/// last block used to pick up heap bytes: the same frame gave different files. The widened
/// compact frame codes the same file every time.
#[test]
fn gray_frames_of_any_width_code_the_same_file_every_time() {
    let dir = util::tmp_dir("samefile");
    let model = util::tiny_model(&dir, 12);
    for (w, h) in [(451, 300), (353, 289), (75, 21)] {
        let mut files = vec![];
        for run in 0..4 {
            // Allocations in between, so reused heap memory differs from run to run.
            let _noise: Vec<Vec<u8>> = (1..40).map(|n| vec![n as u8; n * 37 + run]).collect();
            let frames = vec![util::test_frame("GRAY8", w, h, 0)];
            let coded = util::run(
                &format!(
                    "appsrc name=src ! comcnnenc model-location={} ! jpegenc quality=20 \
                     ! appsink name=sink",
                    model.display()
                ),
                frames,
                Duration::from_secs(60),
            )
            .expect_ok();
            let bytes = coded.samples[0]
                .buffer()
                .unwrap()
                .map_readable()
                .unwrap()
                .to_vec();
            files.push(bytes);
        }
        assert!(
            files.windows(2).all(|p| p[0] == p[1]),
            "{w}x{h}: files differ"
        );
    }
}

#[test]
fn caps_intersect_with_the_stock_codecs() {
    util::init();
    let ours = gstcnncodec_caps();
    for (name, pad) in [
        ("jpegenc", "sink"),
        ("jpegdec", "src"),
        ("openjpegenc", "sink"),
        ("openjpegdec", "src"),
    ] {
        let factory = gst::ElementFactory::find(name).unwrap_or_else(|| panic!("{name} missing"));
        let tmpl = factory
            .static_pad_templates()
            .into_iter()
            .find(|t| t.name_template() == pad)
            .unwrap();
        let theirs = tmpl.caps();
        for format in ["GRAY8", "I420"] {
            let one = gst::Caps::builder("video/x-raw")
                .field("format", format)
                .build();
            assert!(
                ours.intersect(&one).can_intersect(&theirs),
                "{name} {pad} does not take {format}"
            );
        }
    }
}

fn gstcnncodec_caps() -> gst::Caps {
    let f = gst::ElementFactory::find("comcnnenc").unwrap();
    f.static_pad_templates()
        .into_iter()
        .find(|t| t.name_template() == "src")
        .unwrap()
        .caps()
}

/// Camera formats go in without a `videoconvert` and give exactly what their planar twin
/// gives (the same samples, packed or interleaved), and they archive and play back.
#[test]
fn camera_formats_code_like_their_planar_twins() {
    let dir = util::tmp_dir("camera-formats");
    let model = util::tiny_model(&dir, 5);
    let model = model.display();
    for (camera, twin) in [
        ("NV12", "I420"),
        ("NV21", "I420"),
        ("YUY2", "Y42B"),
        ("UYVY", "Y42B"),
    ] {
        for (w, h) in [(352, 288), (354, 290), (64, 48)] {
            let frames: Vec<_> = (0..2).map(|i| util::test_frame(twin, w, h, i)).collect();
            let planes = |r: &util::RunResult| -> Vec<Vec<cnncodec::GrayImage>> {
                r.samples.iter().map(planes_of).collect()
            };
            for stage in [
                format!("comcnnenc model-location={model}"),
                format!("comcnnenc model-location={model} ! reccnndec model-location={model}"),
            ] {
                let planar = util::run(
                    &format!("appsrc name=src ! {stage} ! appsink name=sink"),
                    frames.clone(),
                    Duration::from_secs(60),
                )
                .expect_ok();
                // videoconvert only repacks between these pairs (no resampling either way).
                let packed = util::run(
                    &format!(
                        "appsrc name=src ! videoconvert ! video/x-raw,format={camera} ! {stage} \
                         ! videoconvert ! video/x-raw,format={twin} ! appsink name=sink"
                    ),
                    frames.clone(),
                    Duration::from_secs(60),
                )
                .expect_ok();
                assert_eq!(planar.sizes(), packed.sizes(), "{camera} {w}x{h} {stage}");
                assert!(
                    planes(&planar) == planes(&packed),
                    "{camera} {w}x{h} {stage}: frames differ"
                );
            }

            let file = dir.join(format!("{camera}-{w}x{h}.mkv"));
            util::run(
                &format!(
                    "appsrc name=src ! videoconvert ! video/x-raw,format={camera} ! comcnnenc model-location={model} \
                     ! jpegenc ! matroskamux ! filesink location={}",
                    file.display()
                ),
                frames,
                Duration::from_secs(60),
            )
            .expect_ok();
            let played = util::run(
                &format!(
                    "filesrc location={} ! matroskademux ! jpegdec ! reccnndec stream-model-dirs={} ! appsink name=sink",
                    file.display(),
                    dir.display()
                ),
                vec![],
                Duration::from_secs(60),
            )
            .expect_ok();
            assert_eq!(
                played.sizes(),
                vec![(w as i32, h as i32); 2],
                "{camera} {w}x{h}"
            );
        }
    }
}

/// Every plane of a planar sample, without the padding between them.
fn planes_of(sample: &gst::Sample) -> Vec<cnncodec::GrayImage> {
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    (0..info.n_planes())
        .map(|p| {
            let (w, h) = (
                info.comp_width(p as u8) as usize,
                info.comp_height(p as u8) as usize,
            );
            let stride = frame.plane_stride()[p as usize] as usize;
            cnncodec::GrayImage::from_strided(w, h, stride, frame.plane_data(p).unwrap())
        })
        .collect()
}

/// `self-ensemble` restores what the core's ensemble of the loaded network computes (RecCNN on
/// the frame's flips and transposes, turned back, averaged), on a frame that is not square.
#[test]
fn self_ensemble_restores_the_mean_over_flips_and_transposes() {
    use cnncodec::net::backend::BackendKind;
    use cnncodec::net::ensemble::SelfEnsembleEngine;
    use cnncodec::pipeline::restore_luma;
    let dir = util::tmp_dir("ensemble");
    let model = util::tiny_model(&dir, 11);
    let compact = cnncodec::GrayImage::new(
        45,
        31,
        (0..45 * 31)
            .map(|i| ((i * 37 + (i / 45) * 11) % 251) as u8)
            .collect(),
    );
    let restored = |mode: &str| {
        let played = util::run(
            &format!(
                "appsrc name=src ! reccnndec model-location={} width=89 height=61 \
                 self-ensemble={mode} ! appsink name=sink",
                model.display()
            ),
            vec![util::gray_frame(&compact)],
            Duration::from_secs(60),
        )
        .expect_ok();
        util::luma_of(&played.samples[0])
    };
    let weights = cnncodec::ModelWeights::load(&model).unwrap();
    let engine = cnncodec::load_engine(&weights, BackendKind::Cpu, 0).unwrap();
    let off = restored("off");
    assert_eq!(off, restore_luma(engine.as_ref(), &compact, 89, 61));
    // A saturated picture would hide what the ensemble changes: that is the model's fault.
    let levels: std::collections::BTreeSet<u8> = off.data.iter().copied().collect();
    assert!(levels.len() > 16, "the tiny model's picture is nearly flat");
    for (mode, passes) in [("mirror", 2), ("mirrors", 4), ("full", 8)] {
        let ensemble = SelfEnsembleEngine::new(engine.clone(), passes).unwrap();
        let expected = restore_luma(&ensemble, &compact, 89, 61);
        let got = restored(mode);
        assert_eq!(got, expected, "self-ensemble={mode}");
        assert_ne!(got, off, "self-ensemble={mode} changes the picture");
    }
}

/// `cnnjpegdec` passes `self-ensemble` to the `reccnndec` inside it.
#[test]
fn cnnjpegdec_hands_self_ensemble_to_its_reccnndec() {
    util::init();
    let nick = |e: &gst::Element| {
        let v = e.property_value("self-ensemble");
        gst::glib::EnumValue::from_value(&v)
            .unwrap()
            .1
            .nick()
            .to_owned()
    };
    let bin = gst::ElementFactory::make("cnnjpegdec")
        .property_from_str("self-ensemble", "mirrors")
        .build()
        .unwrap();
    let inner = bin
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .iterate_elements()
        .into_iter()
        .map(Result::unwrap)
        .find(|e| e.factory().is_some_and(|f| f.name() == "reccnndec"))
        .expect("a reccnndec inside");
    assert_eq!(nick(&inner), "mirrors");
    assert_eq!(nick(&bin), "mirrors");
}
