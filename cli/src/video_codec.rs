//! A video encoder with inter prediction as the training loop's codec: the compact images of a
//! pass are frames of one recording, in order, through a running `x264enc` / `x265enc` at a
//! target rate and back through the stock decoder, so RecCNN learns from what a camera's
//! compact stream really decodes to (motion-compensated prediction, rate control), not from
//! still-image artifacts. Low-latency settings (no B-frames, no look-ahead) return each frame
//! as soon as it is pushed. A change of size starts a new recording.

use std::cell::RefCell;
use std::time::Duration;

use cnncodec::codec::{CodecError, CompactCodec};
use cnncodec::GrayImage;
use gst::prelude::*;
use gstcnncodec::runner::{gray_i420_frame, luma_of};

/// The frame rate the training recordings are coded at (rate control sees bits per frame).
const FPS: u64 = 10;
const PULL_TIMEOUT: Duration = Duration::from_secs(30);

/// The video codecs of the training loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoKind {
    H264,
    H265,
}

impl VideoKind {
    pub fn from_codec(codec: &str) -> Option<Self> {
        match codec {
            "h264" => Some(Self::H264),
            "h265" => Some(Self::H265),
            _ => None,
        }
    }

    fn pipeline(self, kbps: u32, gop: u32) -> String {
        let (encoder, decoder) = match self {
            Self::H264 => (
                format!(
                    "x264enc bitrate={kbps} key-int-max={gop} speed-preset=medium tune=zerolatency threads=1"
                ),
                "h264parse ! avdec_h264 max-threads=1",
            ),
            Self::H265 => (
                format!(
                    "x265enc bitrate={kbps} key-int-max={gop} speed-preset=medium tune=zerolatency log-level=none option-string=\"info=0:pools=1:frame-threads=1\""
                ),
                "h265parse ! avdec_h265 max-threads=1",
            ),
        };
        format!(
            "appsrc name=src format=time ! {encoder} ! {decoder} ! appsink name=sink sync=false"
        )
    }
}

struct Recording {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
    size: (usize, usize),
    frames: u64,
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The training codec: a recording at `millibits` thousandths of a bit per original pixel per
/// frame (four compact pixels per original pixel pair of rows), a key frame every `gop` frames.
pub struct StreamingCodec {
    pub kind: VideoKind,
    pub millibits: u32,
    pub gop: u32,
    recording: RefCell<Option<Recording>>,
}

impl StreamingCodec {
    pub fn new(kind: VideoKind, millibits: u32) -> Self {
        Self {
            kind,
            millibits,
            gop: 2 * FPS as u32,
            recording: RefCell::new(None),
        }
    }

    /// The encoder's bit rate for compact frames of `w` x `h` (even sides).
    fn kbps(&self, w: usize, h: usize) -> u32 {
        let original_pixels = (4 * w * h) as f64;
        let bits_per_frame = self.millibits as f64 / 1000.0 * original_pixels;
        ((bits_per_frame * FPS as f64 / 1000.0).round() as u32).max(1)
    }

    fn start(&self, size: (usize, usize)) -> Result<Recording, CodecError> {
        gstcnncodec::runner::init();
        let launch = self.kind.pipeline(self.kbps(size.0, size.1), self.gop);
        let err = |e: String| CodecError(format!("{launch}: {e}"));
        let pipeline = gst::parse::launch(&launch)
            .map_err(|e| err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".into()))?;
        let by_name = |n: &str| pipeline.by_name(n).ok_or_else(|| err(format!("no {n}")));
        let src = by_name("src")?
            .downcast::<gst_app::AppSrc>()
            .map_err(|_| err("src is no appsrc".into()))?;
        let sink = by_name("sink")?
            .downcast::<gst_app::AppSink>()
            .map_err(|_| err("sink is no appsink".into()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| err(e.to_string()))?;
        Ok(Recording {
            pipeline,
            src,
            sink,
            size,
            frames: 0,
        })
    }

    fn bus_error(rec: &Recording) -> Option<String> {
        let bus = rec.pipeline.bus()?;
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                return Some(e.error().to_string());
            }
        }
        None
    }
}

impl CompactCodec for StreamingCodec {
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, CodecError> {
        // 4:2:0 needs even sides: the last column / row repeated, as comcnnenc does.
        let (w, h) = (
            compact.width.next_multiple_of(2),
            compact.height.next_multiple_of(2),
        );
        let mut slot = self.recording.borrow_mut();
        if slot.as_ref().is_some_and(|r| r.size != (w, h)) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.start((w, h))?);
        }
        let rec = slot.as_mut().unwrap();
        let (caps, mut buffer) = gray_i420_frame(&compact.padded_to(w, h));
        let caps = caps
            .iter()
            .next()
            .map(|s| {
                let mut s = s.to_owned();
                s.set("framerate", gst::Fraction::new(FPS as i32, 1));
                gst::Caps::builder_full().structure(s).build()
            })
            .unwrap_or(caps);
        {
            let b = buffer.make_mut();
            let frame_ns = 1_000_000_000 / FPS;
            b.set_pts(gst::ClockTime::from_nseconds(rec.frames * frame_ns));
            b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
        }
        rec.frames += 1;
        rec.src.set_caps(Some(&caps));
        rec.src
            .push_buffer(buffer)
            .map_err(|e| CodecError(format!("pushing a frame: {e:?}")))?;
        let sample = rec
            .sink
            .try_pull_sample(gst::ClockTime::from_seconds(PULL_TIMEOUT.as_secs()));
        let Some(sample) = sample else {
            let why = Self::bus_error(rec).unwrap_or_else(|| "no frame came back".into());
            *slot = None;
            return Err(CodecError(why));
        };
        let decoded = luma_of(&sample);
        Ok(decoded.cropped(compact.width, compact.height))
    }

    fn start_pass(&self) {
        *self.recording.borrow_mut() = None;
    }

    fn describe(&self) -> String {
        format!(
            "a GStreamer recording, frames in order: {} at {} bits per 1000 original pixels per frame, a key frame every {} frames",
            self.kind.pipeline(0, self.gop).replace("bitrate=0 ", ""),
            self.millibits,
            self.gop
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pushed frame comes straight back (no encoder or decoder delay to wait for), at
    /// its size and close to the input, and a new pass starts a new recording.
    #[test]
    fn frames_come_back_one_by_one_and_in_order() {
        let (w, h) = (97, 64);
        let frame = |t: usize| {
            let data = (0..w * h)
                .map(|i| (((i % w) * 3 + (i / w) * 2 + t) % 200 + 20) as u8)
                .collect();
            GrayImage::new(w, h, data)
        };
        for kind in [VideoKind::H264, VideoKind::H265] {
            let codec = StreamingCodec::new(kind, 200);
            for t in 0..12 {
                let input = frame(t);
                let out = codec.code(&input).unwrap();
                assert_eq!((out.width, out.height), (w, h));
                let p = cnncodec::eval::metrics::psnr(&out, &input);
                assert!(p > 25.0, "{kind:?} frame {t}: {p:.1} dB");
            }
            codec.start_pass();
            assert!(codec.recording.borrow().is_none());
        }
    }
}
