//! Running short real pipelines with appsrc/appsink under a timeout: used by the CLI's demo
//! and evaluation commands and by the integration tests.

use std::time::Duration;

use gst::prelude::*;
use gst_video::prelude::*;

/// Registers this plugin statically (once) so pipelines find the elements without
/// `GST_PLUGIN_PATH`.
pub fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        crate::plugin_register_static().expect("register cnncodec plugin");
    });
}

/// What a pipeline run produced.
#[derive(Debug, Default)]
pub struct RunResult {
    pub samples: Vec<gst::Sample>,
    pub error: Option<String>,
    /// Every warning message posted, as `element: message`.
    pub warnings: Vec<String>,
}

impl RunResult {
    pub fn sizes(&self) -> Vec<(i32, i32)> {
        self.samples
            .iter()
            .map(|s| {
                let st = s.caps().unwrap().structure(0).unwrap().to_owned();
                (
                    st.get::<i32>("width").unwrap(),
                    st.get::<i32>("height").unwrap(),
                )
            })
            .collect()
    }

    pub fn expect_ok(self) -> Self {
        if let Some(e) = &self.error {
            panic!("pipeline failed: {e}");
        }
        self
    }
}

/// Runs `launch` (which may contain `appsrc name=src` and `appsink name=sink`), pushing
/// `frames` (caps, buffer; 100 ms apart unless a buffer has a time and a duration) into the
/// appsrc, and collects every sample of the appsink until EOS
/// or an error. Never waits longer than `timeout`.
pub fn run(launch: &str, frames: Vec<(gst::Caps, gst::Buffer)>, timeout: Duration) -> RunResult {
    run_hooked(launch, frames, timeout, |_| {})
}

/// [`run`] with a hook that sees the pipeline before it starts.
pub fn run_hooked(
    launch: &str,
    frames: Vec<(gst::Caps, gst::Buffer)>,
    timeout: Duration,
    hook: impl FnOnce(&gst::Pipeline),
) -> RunResult {
    init();
    let pipeline = match gst::parse::launch(launch).map(|p| p.downcast::<gst::Pipeline>()) {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => {
            return RunResult {
                error: Some("the description is not a pipeline".into()),
                ..Default::default()
            }
        }
        Err(e) => {
            return RunResult {
                error: Some(format!("cannot build the pipeline: {e}")),
                ..Default::default()
            }
        }
    };
    hook(&pipeline);
    let sink = pipeline
        .by_name("sink")
        .map(|s| s.downcast::<gst_app::AppSink>().unwrap());
    if let Some(sink) = &sink {
        sink.set_property("sync", false);
    }
    let src = pipeline
        .by_name("src")
        .map(|s| s.downcast::<gst_app::AppSrc>().unwrap());
    if let Some(src) = &src {
        // Time segments: muxers need running times.
        src.set_property("format", gst::Format::Time);
    }
    let bus = pipeline.bus().unwrap();
    let mut result = RunResult::default();
    if pipeline.set_state(gst::State::Playing).is_err() {
        result.error = Some(first_error(&bus).unwrap_or_else(|| "state change failed".into()));
        let _ = pipeline.set_state(gst::State::Null);
        return result;
    }
    if let Some(src) = &src {
        for (i, (caps, mut buf)) in frames.into_iter().enumerate() {
            // A frame that states its time and duration (a clip's) keeps them; others are
            // 100 ms apart.
            if buf.pts().is_none() || buf.duration().is_none() {
                let b = buf.make_mut();
                b.set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
                b.set_duration(gst::ClockTime::from_mseconds(100));
            }
            src.set_caps(Some(&caps));
            if src.push_buffer(buf).is_err() {
                break;
            }
        }
        let _ = src.end_of_stream();
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(sink) = &sink {
            while let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(5)) {
                result.samples.push(s);
            }
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    result.error = Some(format!(
                        "{}: {}",
                        e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                        e.error()
                    ));
                    break;
                }
                gst::MessageView::Warning(w) => result.warnings.push(format!(
                    "{}: {}",
                    w.src().map(|s| s.name().to_string()).unwrap_or_default(),
                    w.error()
                )),
                _ => {}
            }
        }
        if std::time::Instant::now() > deadline {
            result.error = Some("TIMEOUT".into());
            break;
        }
    }
    if let Some(sink) = &sink {
        while let Some(s) = sink.try_pull_sample(gst::ClockTime::ZERO) {
            result.samples.push(s);
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// The first error message waiting on `bus` (each wait up to 100 ms), if any.
pub fn first_error(bus: &gst::Bus) -> Option<String> {
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
        if let gst::MessageView::Error(e) = msg.view() {
            return Some(e.error().to_string());
        }
    }
    None
}

/// The first plane of a sample as packed bytes.
pub fn luma_of(sample: &gst::Sample) -> cnncodec::GrayImage {
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    cnncodec::GrayImage::from_strided(
        info.width() as usize,
        info.height() as usize,
        frame.plane_stride()[0] as usize,
        frame.plane_data(0).unwrap(),
    )
}

/// A zeroed `format` frame of `width` x `height` at `fps` frames/s (padding and the room
/// behind it zeroed too, so encoders see the same bytes every run), its planes written by
/// `fill`.
pub fn new_frame(
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    fps: i32,
    fill: impl FnOnce(&mut gst_video::VideoFrameRef<&mut gst::BufferRef>),
) -> (gst::Caps, gst::Buffer) {
    init();
    let info = gst_video::VideoInfo::builder(format, width, height)
        .fps(gst::Fraction::new(fps, 1))
        .build()
        .unwrap();
    let mut buffer =
        gst::Buffer::from_mut_slice(vec![0u8; info.size() + crate::common::ENCODER_OVERREAD]);
    {
        let buf = buffer.get_mut().unwrap();
        buf.set_size(info.size());
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).unwrap();
        fill(&mut frame);
    }
    (info.to_caps().unwrap(), buffer)
}

/// A GRAY8 frame from an 8-bit luma image.
pub fn gray_frame(img: &cnncodec::GrayImage) -> (gst::Caps, gst::Buffer) {
    let (w, h) = (img.width as u32, img.height as u32);
    new_frame(gst_video::VideoFormat::Gray8, w, h, 1, |frame| {
        let stride = frame.plane_stride()[0] as usize;
        img.write_strided(stride, frame.plane_data_mut(0).unwrap());
    })
}

/// An I420 frame from an 8-bit luma image, with neutral chroma (for encoders that take no
/// GRAY8, such as x265enc).
pub fn gray_i420_frame(img: &cnncodec::GrayImage) -> (gst::Caps, gst::Buffer) {
    let (w, h) = (img.width as u32, img.height as u32);
    new_frame(gst_video::VideoFormat::I420, w, h, 1, |frame| {
        let strides = frame.plane_stride().to_vec();
        img.write_strided(strides[0] as usize, frame.plane_data_mut(0).unwrap());
        for p in 1..3 {
            frame.plane_data_mut(p).unwrap().fill(128);
        }
    })
}

/// An RGB frame from an interleaved 8-bit RGB image.
pub fn rgb_frame(img: &cnncodec::frame::image::RgbImage) -> (gst::Caps, gst::Buffer) {
    let (w, h) = (img.width as u32, img.height as u32);
    new_frame(gst_video::VideoFormat::Rgb, w, h, 1, |frame| {
        let stride = frame.plane_stride()[0] as usize;
        let row = img.width * 3;
        let dst = frame.plane_data_mut(0).unwrap();
        for (y, src) in img.data.chunks_exact(row).enumerate() {
            dst[y * stride..y * stride + row].copy_from_slice(src);
        }
    })
}

/// The picture of an RGB sample (as [`rgb_frame`] makes them) as an interleaved image.
pub fn rgb_of(sample: &gst::Sample) -> Result<cnncodec::frame::image::RgbImage, String> {
    let info = gst_video::VideoInfo::from_caps(sample.caps().ok_or("no caps")?)
        .map_err(|e| e.to_string())?;
    if info.format() != gst_video::VideoFormat::Rgb {
        return Err(format!("expected RGB, got {:?}", info.format()));
    }
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(
        sample.buffer().ok_or("no buffer")?,
        &info,
    )
    .map_err(|e| e.to_string())?;
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let src = frame.plane_data(0).map_err(|e| e.to_string())?;
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        data.extend_from_slice(&src[y * stride..y * stride + w * 3]);
    }
    Ok(cnncodec::frame::image::RgbImage {
        width: w,
        height: h,
        data,
    })
}

/// Like [`run`], also collecting the byte size of every buffer an appsink named `jpeg` gets.
pub fn run_with_jpeg(
    launch: &str,
    frames: Vec<(gst::Caps, gst::Buffer)>,
    timeout: Duration,
) -> (RunResult, Vec<usize>) {
    init();
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let launch = launch.to_owned();
    let hook = sizes.clone();
    let result = run_hooked(&launch, frames, timeout, move |pipeline| {
        if let Some(j) = pipeline.by_name("jpeg") {
            let j = j.downcast::<gst_app::AppSink>().unwrap();
            let hook = hook.clone();
            j.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        hook.lock().unwrap().push(sample.buffer().unwrap().size());
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
    });
    let sizes = sizes.lock().unwrap().clone();
    (result, sizes)
}
