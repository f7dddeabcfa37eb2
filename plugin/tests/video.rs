//! Recordings through the video encoders cameras use (H.264, H.265, with inter prediction):
//! `comcnnenc ! x264enc` in Matroska plays back through `avdec_h264 ! reccnndec` at the
//! original size with no properties, for even and odd sizes (4:2:0 encoders refuse an odd
//! compact side, so comcnnenc makes both sides even before them).

mod util;

use std::time::Duration;

use gst_video::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(240);
const FRAMES: u32 = 12;

/// A smooth moving picture (a restored frame is close to it when size and alignment are right).
fn smooth_frame(width: u32, height: u32, i: u32) -> (gst::Caps, gst::Buffer) {
    util::init();
    util::new_frame(gst_video::VideoFormat::I420, width, height, 10, |frame| {
        let info = frame.info().clone();
        for p in 0..frame.n_planes() {
            let (w, h) = (info.comp_width(p as u8), info.comp_height(p as u8));
            let stride = frame.plane_stride()[p as usize] as usize;
            let data = frame.plane_data_mut(p).unwrap();
            let scale = if p == 0 { 1.0 } else { 2.0 };
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f64 * scale, y as f64 * scale);
                    let v = 128.0
                        + 60.0 * ((fx + 3.0 * i as f64) / 23.0).sin()
                        + 50.0 * (fy / 31.0).cos()
                        + if p == 0 { 0.0 } else { -40.0 * p as f64 };
                    data[y as usize * stride + x as usize] = v.clamp(0.0, 255.0) as u8;
                }
            }
        }
    })
}

fn psnr(a: &cnncodec::GrayImage, b: &cnncodec::GrayImage) -> f64 {
    cnncodec::eval::metrics::psnr(a, b)
}

/// Records `FRAMES` frames of `width` x `height` through `comcnnenc ! {encoder} ! {parser}`
/// into Matroska, plays the file through `{parser} ! {decoder} ! reccnndec` with no
/// properties, and checks every frame comes back at the original size, close to the original.
fn round_trip(encoder: &str, parser: &str, decoder: &str, width: u32, height: u32) {
    let dir = util::tmp_dir(&format!("video-{parser}-{width}x{height}"));
    let file = dir.join("rec.mkv");
    let frames: Vec<_> = (0..FRAMES)
        .map(|i| smooth_frame(width, height, i))
        .collect();
    let originals: Vec<_> = frames
        .iter()
        .map(|(caps, buf)| {
            let sample = gst::Sample::builder().caps(caps).buffer(buf).build();
            util::luma_of(&sample)
        })
        .collect();
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc ! {encoder} ! {parser} ! matroskamux ! filesink location={}",
            file.display()
        ),
        frames,
        TIMEOUT,
    )
    .expect_ok();
    let played = util::run(
        &format!(
            "filesrc location={} ! matroskademux ! {parser} ! {decoder} ! reccnndec ! appsink name=sink",
            file.display()
        ),
        vec![],
        TIMEOUT,
    )
    .expect_ok();
    assert_eq!(
        played.samples.len(),
        FRAMES as usize,
        "{encoder} {width}x{height}"
    );
    assert!(
        played.warnings.is_empty(),
        "{encoder} {width}x{height}: {:?}",
        played.warnings
    );
    for (i, (sample, original)) in played.samples.iter().zip(&originals).enumerate() {
        let luma = util::luma_of(sample);
        assert_eq!(
            (luma.width, luma.height),
            (width as usize, height as usize),
            "{encoder} frame {i}"
        );
        let p = psnr(&luma, original);
        assert!(p > 30.0, "{encoder} {width}x{height} frame {i}: {p:.2} dB");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn x264_recordings_play_back_at_the_original_size_even_and_odd() {
    for (w, h) in [(352, 288), (353, 289), (321, 240)] {
        round_trip("x264enc bitrate=400", "h264parse", "avdec_h264", w, h);
    }
}

#[test]
fn x265_recordings_play_back_at_the_original_size_even_and_odd() {
    for (w, h) in [(352, 288), (353, 289)] {
        round_trip("x265enc bitrate=400", "h265parse", "avdec_h265", w, h);
    }
}

#[test]
fn odd_compact_sides_are_made_even_before_h264_only() {
    util::init();
    let compact_size = |launch: &str| {
        let r = util::run(launch, vec![smooth_frame(353, 289, 0)], TIMEOUT).expect_ok();
        r.sizes()[0]
    };
    // Before x264enc: 177 -> 192 (width-multiple 16), 145 -> 146 (even).
    let through_h264 = "x264enc ! h264parse ! avdec_h264 ! appsink name=sink";
    assert_eq!(
        compact_size(&format!(
            "appsrc name=src ! comcnnenc ! queue ! {through_h264}"
        )),
        (192, 146)
    );
    assert_eq!(
        compact_size(&format!(
            "appsrc name=src ! comcnnenc width-multiple=1 ! {through_h264}"
        )),
        (178, 146)
    );
    assert_eq!(
        compact_size("appsrc name=src ! comcnnenc width-multiple=1 ! appsink name=sink"),
        (177, 145)
    );
    assert_eq!(
        compact_size(
            "appsrc name=src ! comcnnenc width-multiple=1 height-multiple=4 ! appsink name=sink"
        ),
        (177, 148)
    );
}

/// A recording cut before its container wrote the tags (a power loss) still plays at the
/// original size: comcnnenc writes the stream info into every key frame (an SEI message every
/// decoder skips) and reccnndec reads it before the decoder. The frames it holds are the whole
/// file's first frames, pixel for pixel.
#[test]
fn cut_h264_and_h265_recordings_play_at_the_original_size() {
    for (encoder, parser, decoder) in [
        (
            "x264enc bitrate=400 key-int-max=6",
            "h264parse",
            "avdec_h264",
        ),
        (
            "x265enc bitrate=400 key-int-max=6",
            "h265parse",
            "avdec_h265",
        ),
    ] {
        let dir = util::tmp_dir(&format!("video-cut-{parser}"));
        let file = dir.join("rec.mkv");
        let frames: Vec<_> = (0..24).map(|i| smooth_frame(353, 289, i)).collect();
        util::run(
            &format!(
                "appsrc name=src ! comcnnenc ! {encoder} ! {parser} ! matroskamux ! filesink location={}",
                file.display()
            ),
            frames,
            TIMEOUT,
        )
        .expect_ok();
        let bytes = std::fs::read(&file).unwrap();
        let marks = bytes
            .windows(16)
            .filter(|w| *w == gstcnncodec::h26x_info::UUID)
            .count();
        assert_eq!(marks, 4, "{encoder}: one stream info per key frame");
        let cut = dir.join("cut.mkv");
        let half = &bytes[..bytes.len() / 2];
        std::fs::write(&cut, half).unwrap();
        // The cut file holds the info only inside its frames: no container tag survived.
        let count = |needle: &[u8]| half.windows(needle.len()).filter(|w| *w == needle).count();
        assert_eq!(
            count(b"cnncodec, version="),
            count(&gstcnncodec::h26x_info::UUID),
            "{encoder}: a container tag survived the cut"
        );
        let play = |f: &std::path::Path| {
            util::run(
                &format!(
                    "filesrc location={} ! matroskademux ! {parser} ! {decoder} ! reccnndec ! appsink name=sink",
                    f.display()
                ),
                vec![],
                TIMEOUT,
            )
        };
        let whole = play(&file).expect_ok();
        let part = play(&cut);
        assert!(
            part.samples.len() >= 6 && part.samples.len() < 24,
            "{encoder}: {} frames",
            part.samples.len()
        );
        assert!(part.warnings.is_empty(), "{encoder}: {:?}", part.warnings);
        for (i, (a, b)) in part.samples.iter().zip(&whole.samples).enumerate() {
            let (a, b) = (util::luma_of(a), util::luma_of(b));
            assert_eq!((a.width, a.height), (353, 289), "{encoder} frame {i}");
            assert_eq!(a, b, "{encoder} frame {i}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn frame_info_false_writes_no_stream_info_into_the_frames() {
    let dir = util::tmp_dir("video-no-info");
    let file = dir.join("rec.h264");
    let frames: Vec<_> = (0..8).map(|i| smooth_frame(96, 64, i)).collect();
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc frame-info=false ! x264enc key-int-max=2 ! filesink location={}",
            file.display()
        ),
        frames,
        TIMEOUT,
    )
    .expect_ok();
    let bytes = std::fs::read(&file).unwrap();
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(16).any(|w| w == gstcnncodec::h26x_info::UUID));
    let _ = std::fs::remove_dir_all(dir);
}

/// Large odd multiples before an H.264 encoder are raised by one, not doubled: the padding
/// stays within what reccnndec crops (63 columns or rows), and the recording plays back.
#[test]
fn large_odd_multiples_before_h264_still_play_back() {
    let dir = util::tmp_dir("video-odd-multiple");
    let file = dir.join("rec.mkv");
    let frames: Vec<_> = (0..4).map(|i| smooth_frame(353, 289, i)).collect();
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc width-multiple=63 height-multiple=33 ! x264enc ! h264parse ! matroskamux ! filesink location={}",
            file.display()
        ),
        frames,
        TIMEOUT,
    )
    .expect_ok();
    let played = util::run(
        &format!(
            "filesrc location={} ! matroskademux ! h264parse ! avdec_h264 ! reccnndec ! appsink name=sink",
            file.display()
        ),
        vec![],
        TIMEOUT,
    )
    .expect_ok();
    assert_eq!(played.sizes(), vec![(353, 289); 4]);
    let _ = std::fs::remove_dir_all(dir);
}
