//! The stream's `cnncodec` comment tag through `reccnndec`: sizes, model names and hashes,
//! and the model path a stream names (inside and outside the trusted directory, links,
//! FIFOs, devices, /proc, relative and `..` paths), as whole fields and as mutated text,
//! followed by a compact frame. A restored frame must have the size its caps say.

use std::path::PathBuf;

use gst::prelude::*;
use gst_check::Harness;
use gstcnncodec::StreamInfo;

use crate::mutate;
use crate::rng::Rng;
use crate::Target;

pub struct StreamTag {
    harness: Harness,
    trusted: PathBuf,
    locations: Vec<String>,
    hashes: Vec<String>,
}

fn decoder(trusted: &std::path::Path) -> Harness {
    let el = gst::ElementFactory::make("reccnndec")
        .property("stream-model-dirs", trusted.to_str().unwrap())
        .build()
        .expect("reccnndec");
    Harness::with_element(&el, Some("sink"), Some("src"))
}

impl StreamTag {
    pub fn new() -> Self {
        let root = super::scratch("tag");
        let trusted = root.join("trusted");
        let outside = root.join("outside");
        std::fs::create_dir_all(&trusted).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let tiny = super::tiny_model(3);
        let model = trusted.join("tiny.cnnmodel");
        tiny.save(&model).unwrap();
        let other = super::tiny_model(4);
        other.save(&outside.join("other.cnnmodel")).unwrap();
        std::fs::write(trusted.join("empty.cnnmodel"), b"").unwrap();
        std::fs::write(trusted.join("junk.cnnmodel"), b"not a model").unwrap();
        std::fs::File::create(trusted.join("sparse.cnnmodel"))
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        std::os::unix::fs::symlink(
            outside.join("other.cnnmodel"),
            trusted.join("link.cnnmodel"),
        )
        .unwrap();
        std::os::unix::fs::symlink(&outside, trusted.join("sub")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", trusted.join("zero.cnnmodel")).unwrap();
        std::fs::create_dir_all(trusted.join("dir.cnnmodel")).unwrap();
        let fifo = std::ffi::CString::new(trusted.join("fifo.cnnmodel").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
        let t = |name: &str| trusted.join(name).to_str().unwrap().to_owned();
        let locations = vec![
            t("tiny.cnnmodel"),
            t("tiny.cnnmodel"),
            t("empty.cnnmodel"),
            t("junk.cnnmodel"),
            t("sparse.cnnmodel"),
            t("link.cnnmodel"),
            t("sub/other.cnnmodel"),
            t("zero.cnnmodel"),
            t("dir.cnnmodel"),
            t("fifo.cnnmodel"),
            t("missing.cnnmodel"),
            format!("{}/../outside/other.cnnmodel", trusted.display()),
            outside.join("other.cnnmodel").to_str().unwrap().to_owned(),
            "tiny.cnnmodel".into(),
            "/dev/zero".into(),
            "/dev/urandom".into(),
            "/proc/self/mem".into(),
            "/proc/self/environ".into(),
            "/".into(),
            "".into(),
            format!("{}/{}", trusted.display(), "a".repeat(5000)),
        ];
        let hashes = vec![
            tiny.meta.short_hash().to_owned(),
            other.meta.short_hash().to_owned(),
            cnncodec::net::builtin::builtin("jpeg-q50-fast")
                .unwrap()
                .meta
                .short_hash()
                .to_owned(),
            "0123456789abcdef".into(),
            String::new(),
        ];
        Self {
            harness: decoder(&trusted),
            trusted,
            locations,
            hashes,
        }
    }
}

#[derive(Debug)]
pub struct Input {
    compact: (u32, u32),
    i420: bool,
    comment: String,
    pixels: Vec<u8>,
}

impl Target for StreamTag {
    type Input = Input;
    const NAME: &'static str = "tag";
    /// Frames here are at most 48 x 48 compact pixels, restored to at most 96 x 96 (or what
    /// the tag claims, which the decoder must check before allocating).
    const ALLOCATION_BOUND: usize = 64 << 20;

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let compact = if rng.one_in(8) {
            (rng.range(1, 48) as u32, rng.range(1, 48) as u32)
        } else {
            (rng.range(1, 8) as u32, rng.range(1, 8) as u32)
        };
        let near = |rng: &mut Rng, c: u32| -> u32 {
            match rng.below(5) {
                0 => 2 * c,
                1 => (2 * c).saturating_sub(1).max(1),
                2 => rng.interesting().clamp(1, i32::MAX as i128) as u32,
                _ => 2 * c - rng.below(2) as u32,
            }
        };
        let info = StreamInfo {
            width: near(rng, compact.0),
            height: near(rng, compact.1),
            model_name: rng.pick(&["tiny", "jpeg-q50", "", "x\"y,z"]).to_string(),
            model_hash: rng.pick(&self.hashes).clone(),
            comcnn_hash: if rng.one_in(2) {
                String::new()
            } else {
                "0011223344556677".into()
            },
            model_location: (!rng.one_in(6)).then(|| rng.pick(&self.locations).clone()),
        };
        let mut comment = info.to_comment();
        if rng.one_in(3) {
            let mut b = comment.into_bytes();
            let max = b.len() + 256;
            mutate::bytes(rng, &mut b, max);
            comment = String::from_utf8_lossy(&b).into_owned();
        }
        let i420 = rng.one_in(2);
        let (w, h) = (compact.0 as usize, compact.1 as usize);
        // Enough for any stride rounding GStreamer applies; the frame takes what its caps say.
        let size = 2 * (w + 8) * (h + 2) + 64;
        Input {
            compact,
            i420,
            comment,
            pixels: rng.bytes(size),
        }
    }

    fn run(&mut self, input: &Input) -> Result<String, String> {
        let format = if input.i420 {
            gst_video::VideoFormat::I420
        } else {
            gst_video::VideoFormat::Gray8
        };
        let info = gst_video::VideoInfo::builder(format, input.compact.0, input.compact.1)
            .fps(gst::Fraction::new(10, 1))
            .build()
            .map_err(|e| format!("test caps: {e}"))?;
        let h = &mut self.harness;
        h.set_src_caps(info.to_caps().unwrap());
        let mut tags = gst::TagList::new();
        tags.get_mut()
            .unwrap()
            .add::<gst::tags::Comment>(&input.comment.as_str(), gst::TagMergeMode::Replace);
        h.push_event(gst::event::Tag::new(tags));
        let mut buffer = gst::Buffer::from_mut_slice(input.pixels[..info.size()].to_vec());
        buffer.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
        let flow = h.push(buffer);
        let out = h.try_pull();
        // The harness keeps every event that reaches its sink until pulled.
        while h.try_pull_event().is_some() {}
        let outcome = match (flow, out) {
            (Ok(_), Some(b)) => {
                let caps = h
                    .sinkpad()
                    .and_then(|p| p.current_caps())
                    .ok_or("no output caps")?;
                let out = gst_video::VideoInfo::from_caps(&caps).map_err(|e| e.to_string())?;
                if b.size() < out.size() {
                    return Err(format!("a {} byte frame for {caps}", b.size()));
                }
                format!(
                    "restored {}",
                    if input.comment.contains("tiny.cnnmodel") {
                        "(stream model)"
                    } else {
                        ""
                    }
                )
            }
            (Ok(_), None) => "no frame".into(),
            (Err(e), _) => format!("refused: {e:?}"),
        };
        Ok(outcome)
    }

    fn reset(&mut self) {
        self.harness = decoder(&self.trusted);
    }
}
