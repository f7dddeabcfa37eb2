//! The stream info and checksum inside a compact JPEG frame (what `cnnjpegdec` reads from
//! every frame of an archive): real `jpegenc` frames with the info inserted, then damaged.
//! Reading must never fail loudly, and an undamaged frame must read back intact.

use crate::mutate;
use crate::rng::Rng;
use crate::Target;
use gstcnncodec::jpeg_info;

pub struct FrameInfo {
    frames: Vec<Vec<u8>>,
}

/// A few real JPEG frames from `jpegenc`.
fn jpeg_frames() -> Vec<Vec<u8>> {
    let mut out = vec![];
    for (w, h, q) in [(8u32, 8u32, 50), (33, 17, 10), (64, 48, 90)] {
        let (caps, buf) = {
            let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Gray8, w, h)
                .fps(gst::Fraction::new(1, 1))
                .build()
                .unwrap();
            let data: Vec<u8> = (0..info.size()).map(|i| (i * 31 % 251) as u8).collect();
            (info.to_caps().unwrap(), gst::Buffer::from_mut_slice(data))
        };
        let res = gstcnncodec::runner::run(
            &format!("appsrc name=src ! jpegenc quality={q} ! appsink name=sink"),
            vec![(caps, buf)],
            std::time::Duration::from_secs(30),
        );
        let sample = res.samples.first().expect("jpegenc made a frame");
        out.push(sample.buffer().unwrap().map_readable().unwrap().to_vec());
    }
    out
}

impl FrameInfo {
    pub fn new() -> Self {
        Self {
            frames: jpeg_frames(),
        }
    }
}

#[derive(Debug)]
pub struct Input {
    bytes: Vec<u8>,
    /// The frame as written, before damage (the read must say intact for it).
    pristine: bool,
    comment: String,
}

impl Target for FrameInfo {
    type Input = Input;
    const NAME: &'static str = "frame-info";
    /// Frames here are under 70 KB; reading copies at most the comments.
    const ALLOCATION_BOUND: usize = 1 << 20;

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let frame = rng.pick(&self.frames).clone();
        let comment = if rng.one_in(10) {
            "c".repeat(rng.below(70_000) as usize)
        } else {
            format!(
                "cnncodec, width=(int){}, height=(int)5",
                rng.interesting() as i32
            )
        };
        let mut bytes = jpeg_info::with_info(&frame, &comment).unwrap();
        let pristine = rng.one_in(8);
        if !pristine {
            let max = bytes.len() + 256;
            mutate::bytes(rng, &mut bytes, max);
        }
        Input {
            bytes,
            pristine,
            comment,
        }
    }

    fn run(&mut self, input: &Input) -> Result<String, String> {
        let info = jpeg_info::read(&input.bytes);
        if input.pristine {
            if info.intact != Some(true) {
                return Err("an undamaged frame did not read as intact".into());
            }
            let expect: String = input.comment.chars().take(0xFFFF - 2).collect();
            if !info.comments.contains(&expect) {
                return Err("an undamaged frame lost its comment".into());
            }
        }
        // Re-inserting into whatever was read must not fail loudly either.
        let _ = jpeg_info::with_info(&input.bytes, "cnncodec, width=(int)2, height=(int)2");
        Ok(match info.intact {
            Some(true) => "intact",
            Some(false) => "damaged (checksum)",
            None => "no checksum found",
        }
        .into())
    }
}
