//! `j2kenc`: its codestreams decode with the stock `openjpegdec` (bare and boxed, every size
//! and format, straight and through a Motion JPEG 2000 file), meet their rate, and bad
//! settings end in element errors that say what to change.

mod util;

use std::time::Duration;

use gst_video::prelude::*;

const SIZES: &[(u32, u32)] = &[(1, 1), (2, 2), (3, 5), (176, 144), (353, 289), (1280, 720)];
const FORMATS: &[&str] = &["GRAY8", "I420", "Y42B", "Y444", "RGB"];

/// The visible samples of every plane, row by row.
fn planes_of(caps: &gst::CapsRef, buffer: &gst::BufferRef) -> Vec<Vec<u8>> {
    let info = gst_video::VideoInfo::from_caps(caps).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    (0..info.n_planes())
        .map(|p| {
            let row = info.comp_width(p as u8) as usize * info.comp_pstride(p as u8) as usize;
            let stride = frame.plane_stride()[p as usize] as usize;
            let data = frame.plane_data(p).unwrap();
            (0..info.comp_height(p as u8) as usize)
                .flat_map(|y| data[y * stride..y * stride + row].iter().copied())
                .collect()
        })
        .collect()
}

/// A GRAY8 frame with structure and noise, as hard to code as a photograph.
fn textured_gray(width: u32, height: u32) -> (gst::Caps, gst::Buffer) {
    util::new_frame(gst_video::VideoFormat::Gray8, width, height, 10, |frame| {
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data_mut(0).unwrap();
        for y in 0..height as usize {
            for x in 0..width as usize {
                let noise = ((y * 7919 + x) as u64).wrapping_mul(2_654_435_761) >> 11;
                let v = 100.0
                    + 60.0 * (x as f64 * 0.11).sin() * (y as f64 * 0.07).cos()
                    + (noise % 48) as f64;
                data[y * stride + x] = v as u8;
            }
        }
    })
}

#[test]
fn lossless_round_trip_through_openjpegdec_for_every_size_and_format() {
    for &(w, h) in SIZES {
        for format in FORMATS {
            for caps in ["image/x-j2c", "image/x-jpc"] {
                let frame = util::test_frame(format, w, h, 3);
                let input = planes_of(&frame.0, &frame.1);
                let result = util::run(
                    &format!(
                        "appsrc name=src ! j2kenc bpp=0 irreversible=false ! {caps} ! \
                         openjpegdec ! appsink name=sink"
                    ),
                    vec![frame],
                    Duration::from_secs(120),
                )
                .expect_ok();
                let what = format!("{format} {w}x{h} {caps}");
                assert_eq!(result.sizes(), vec![(w as i32, h as i32)], "{what}");
                let sample = &result.samples[0];
                // openjpegdec gives RGB back as xRGB, and a 1x1 (or 2x2) 4:2:x frame's
                // single chroma sample as 4:4:4: compare the samples where the layout is kept.
                if util::format_of(sample) == *format {
                    let output = planes_of(sample.caps().unwrap(), sample.buffer().unwrap());
                    assert_eq!(output, input, "{what}: lossless is exact");
                } else {
                    assert!(
                        *format == "RGB" || w <= 2 || h <= 2,
                        "{what}: came back as {}",
                        util::format_of(sample)
                    );
                }
            }
        }
    }
}

#[test]
fn lossy_rate_is_met_and_quality_rises_with_it() {
    let (w, h) = (352u32, 288u32);
    let mut last = 0.0;
    for bpp in [0.25, 0.5, 1.0, 2.0] {
        let frame = textured_gray(w, h);
        let original = util::luma_of(
            &gst::Sample::builder()
                .caps(&frame.0)
                .buffer(&frame.1)
                .build(),
        );
        let (result, sizes) = util::run_with_jpeg(
            &format!(
                "appsrc name=src ! j2kenc bpp={bpp} ! image/x-jpc ! tee name=t ! queue ! \
                 appsink name=jpeg t. ! queue ! openjpegdec ! appsink name=sink"
            ),
            vec![frame],
            Duration::from_secs(60),
        );
        let result = result.expect_ok();
        let got = sizes[0] as f64 * 8.0 / (w * h) as f64;
        assert!(
            got <= bpp * 1.02 && got >= bpp * 0.85,
            "asked {bpp} bpp, coded {got}"
        );
        let psnr = cnncodec::eval::metrics::psnr(&original, &util::luma_of(&result.samples[0]));
        assert!(psnr > last + 0.5, "{bpp} bpp: {psnr} dB after {last} dB");
        last = psnr;
    }
}

#[test]
fn layers_tiles_resolutions_and_threads_decode() {
    for props in [
        "layers=3 bpp=0.5",
        "tile-width=64 tile-height=48 compression-ratio=10",
        "resolutions=2 threads=2 bpp=1",
        "resolutions=1 irreversible=false bpp=0.8",
    ] {
        let frames = (0..3)
            .map(|i| util::test_frame("I420", 200, 150, i))
            .collect();
        let result = util::run(
            &format!("appsrc name=src ! j2kenc {props} ! openjpegdec ! appsink name=sink"),
            frames,
            Duration::from_secs(60),
        )
        .expect_ok();
        assert_eq!(result.sizes(), vec![(200, 150); 3], "{props}");
    }
}

/// GStreamer 1.22's matroskamux has no JPEG 2000 mapping; the stock container for JPEG 2000
/// video is Motion JPEG 2000 (mj2mux / qtdemux). qtdemux does not restore the `sampling`
/// field openjpegdec needs, so playback states it (as with stock openjpegenc streams).
#[test]
fn motion_jpeg2000_file_round_trip() {
    let dir = util::tmp_dir("j2kenc-mj2");
    for (format, sampling) in [("I420", "YCbCr-4:2:0"), ("GRAY8", "GRAYSCALE")] {
        let file = dir.join(format!("{format}.mj2"));
        let frames = (0..3)
            .map(|i| util::test_frame(format, 320, 240, i))
            .collect();
        util::run(
            &format!(
                "appsrc name=src ! j2kenc bpp=0.5 ! mj2mux ! filesink location={}",
                file.display()
            ),
            frames,
            Duration::from_secs(60),
        )
        .expect_ok();
        let played = util::run(
            &format!(
                "filesrc location={} ! qtdemux ! capssetter caps=image/x-j2c,sampling=(string){sampling} \
                 ! openjpegdec ! appsink name=sink",
                file.display()
            ),
            vec![],
            Duration::from_secs(60),
        )
        .expect_ok();
        assert_eq!(played.sizes(), vec![(320, 240); 3], "{format}");
        assert_eq!(util::format_of(&played.samples[0]), format);
    }
}

fn error_of(props: &str, format: &str, w: u32, h: u32) -> String {
    let frames = vec![util::test_frame(format, w, h, 0)];
    let result = util::run(
        &format!("appsrc name=src ! j2kenc {props} ! fakesink"),
        frames,
        Duration::from_secs(60),
    );
    let e = result.error.unwrap_or_else(|| panic!("{props} must fail"));
    assert_ne!(e, "TIMEOUT", "{props} hung instead of failing");
    e
}

#[test]
fn bad_settings_are_element_errors_that_say_what_to_change() {
    let cases = [
        ("bpp=9", "GRAY8", 64, 48, "less than 8 bits per pixel"),
        ("compression-ratio=0.5", "I420", 64, 48, "must be above 1"),
        ("resolutions=9", "GRAY8", 16, 16, "at most 5"),
        (
            "resolutions=6 tile-width=8 tile-height=8",
            "GRAY8",
            64,
            64,
            "at most 4",
        ),
        ("bpp=0 layers=3", "GRAY8", 64, 48, "needs a target rate"),
    ];
    for (props, format, w, h, expected) in cases {
        let e = error_of(props, format, w, h);
        assert!(e.contains(expected), "{props}: {e:?} lacks {expected:?}");
    }
}

/// The framework with J2K: comcnnenc ! j2kenc ! openjpegdec ! reccnndec gives the original
/// size back, the stream info travelling as tags through the encoder and decoder.
#[test]
fn framework_with_j2kenc_restores_every_size() {
    let dir = util::tmp_dir("j2kenc-framework");
    let model = util::tiny_model(&dir, 5);
    for &(w, h) in SIZES {
        for format in ["GRAY8", "I420"] {
            let frames = (0..2).map(|i| util::test_frame(format, w, h, i)).collect();
            let result = util::run(
                &format!(
                    "appsrc name=src ! comcnnenc model-location={m} ! j2kenc compression-ratio=8 \
                     ! openjpegdec ! reccnndec model-location={m} ! appsink name=sink",
                    m = model.display()
                ),
                frames,
                Duration::from_secs(120),
            )
            .expect_ok();
            assert_eq!(
                result.sizes(),
                vec![(w as i32, h as i32); 2],
                "{format} {w}x{h}"
            );
        }
    }
}
