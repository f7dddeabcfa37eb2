//! Frames through `comcnnenc` and `reccnndec`: every format they take and some they do not,
//! sizes from 1 x 1 up (and sizes too large to take, which must be refused before anything of
//! that size is allocated), plane strides and offsets from a video meta, buffers shorter or
//! longer than the caps say, property changes between frames. A frame that comes out must be
//! as large as its caps say.

use gst::prelude::*;
use gst_check::Harness;

use crate::rng::Rng;
use crate::Target;

const FORMATS: &[&str] = &[
    "GRAY8",
    "I420",
    "Y42B",
    "Y444",
    "NV12",
    "NV21",
    "YUY2",
    "UYVY",
    "RGB",
    "BGRx",
    "GRAY16_LE",
];

pub struct Frames {
    model: String,
    encoder: Harness,
    decoder: Harness,
}

fn harness(factory: &str, model: &str) -> Harness {
    let el = gst::ElementFactory::make(factory)
        .property("model-location", model)
        .build()
        .expect("a cnncodec element");
    Harness::with_element(&el, Some("sink"), Some("src"))
}

impl Frames {
    pub fn new() -> Self {
        let dir = super::scratch("frames");
        let path = dir.join("tiny.cnnmodel");
        super::tiny_model(5).save(&path).unwrap();
        let model = path.to_str().unwrap().to_owned();
        Self {
            encoder: harness("comcnnenc", &model),
            decoder: harness("reccnndec", &model),
            model,
        }
    }
}

#[derive(Debug)]
pub struct Input {
    decoder: bool,
    format: &'static str,
    width: u32,
    height: u32,
    /// Extra bytes per row of each plane, when a video meta describes the layout.
    padding: Option<Vec<usize>>,
    /// Bytes cut from (negative) or added to the buffer's proper size.
    size_change: i64,
    /// reccnndec's width/height, comcnnenc's width-multiple.
    properties: (u32, u32, u32),
    seed: u64,
}

impl Target for Frames {
    type Input = Input;
    const NAME: &'static str = "frames";
    /// Without a frame: the harness and the model.
    const ALLOCATION_BOUND: usize = 16 << 20;

    /// Plus the documented working memory: per pixel for the frames and planes, per column
    /// for the rows the network keeps (3 rows of every layer's features, in each thread's band).
    fn allocation_bound(&self, input: &Input) -> usize {
        let scale = if input.decoder { 2 } else { 1 };
        let (w, h) = (input.width as u64 * scale, input.height as u64 * scale);
        let pixels = (w * h).min(2 * cnncodec::pipeline::MAX_FRAME_PIXELS);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        // The tiny model: 4 features, 3 layers in each network.
        let rows = 3 * 4 * (4 * 3) * threads * w.min(1 << 25);
        Self::ALLOCATION_BOUND
            + (pixels * cnncodec::pipeline::FRAME_BYTES_PER_PIXEL) as usize
            + rows as usize
    }

    fn generate(&mut self, rng: &mut Rng) -> Input {
        let (width, height) = if rng.one_in(50) {
            (
                rng.interesting().clamp(1, i32::MAX as i128) as u32,
                rng.interesting().clamp(1, i32::MAX as i128) as u32,
            )
        } else if rng.one_in(4) {
            (rng.range(1, 96) as u32, rng.range(1, 96) as u32)
        } else {
            (rng.range(1, 12) as u32, rng.range(1, 12) as u32)
        };
        let decoder = rng.one_in(2);
        let properties = (
            if rng.one_in(8) {
                rng.interesting().clamp(0, 400) as u32
            } else {
                0
            },
            if rng.one_in(8) {
                rng.interesting().clamp(0, 400) as u32
            } else {
                0
            },
            *rng.pick(&[1u32, 2, 8, 16, 64, 1, 1]),
        );
        Input {
            decoder,
            format: rng.pick::<&str>(FORMATS),
            width,
            height,
            padding: rng
                .one_in(2)
                .then(|| (0..4).map(|_| rng.below(40) as usize).collect()),
            size_change: if rng.one_in(6) {
                rng.range(0, 200) as i64 - 150
            } else {
                0
            },
            properties,
            seed: rng.next(),
        }
    }

    fn run(&mut self, input: &Input) -> Result<String, String> {
        let format: gst_video::VideoFormat = input.format.parse().unwrap();
        let Ok(info) = gst_video::VideoInfo::builder(format, input.width, input.height)
            .fps(gst::Fraction::new(25, 1))
            .build()
        else {
            return Ok("caps GStreamer itself refuses".into());
        };
        let h = if input.decoder {
            self.decoder
                .element()
                .unwrap()
                .set_property("width", input.properties.0);
            self.decoder
                .element()
                .unwrap()
                .set_property("height", input.properties.1);
            &mut self.decoder
        } else {
            self.encoder
                .element()
                .unwrap()
                .set_property("width-multiple", input.properties.2);
            &mut self.encoder
        };
        h.set_src_caps(info.to_caps().unwrap());
        if info.size() > 1 << 20 {
            // Caps for a frame too large to make here: one small buffer must be refused, not
            // taken as the promised frame.
            let flow = h.push(gst::Buffer::from_mut_slice(vec![0u8; 4096]));
            let out = h.try_pull();
            while h.try_pull_event().is_some() {}
            return match (flow, out) {
                (Err(e), None) => Ok(format!("huge caps refused: {e:?}")),
                (Ok(_), None) => Ok("huge caps: nothing out".into()),
                (_, Some(_)) => Err(format!(
                    "a frame came out of {}x{} caps and 4096 bytes",
                    input.width, input.height
                )),
            };
        }
        let mut rng = Rng::new(input.seed);
        let mut strides = vec![];
        let mut offsets = vec![];
        let mut size = 0usize;
        for p in 0..info.n_planes() as usize {
            let stride = info.stride()[p] as usize + input.padding.as_ref().map_or(0, |pad| pad[p]);
            let component = (0..info.n_components())
                .find(|&c| info.format_info().plane()[c as usize] as usize == p)
                .unwrap_or(0);
            let rows = info.comp_height(component as u8) as usize;
            offsets.push(size);
            strides.push(stride as i32);
            size += stride * rows.max(1);
        }
        let (size, strides, offsets) = if input.padding.is_some() {
            (size, strides, offsets)
        } else {
            (info.size(), vec![], vec![])
        };
        let size = (size as i64 + input.size_change).max(0) as usize;
        let mut buffer = gst::Buffer::from_mut_slice(rng.bytes(size));
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::ZERO);
            if !strides.is_empty() {
                gst_video::VideoMeta::add_full(
                    b,
                    gst_video::VideoFrameFlags::empty(),
                    format,
                    input.width,
                    input.height,
                    &offsets,
                    &strides,
                )
                .map_err(|e| format!("test meta: {e}"))?;
            }
        }
        let flow = h.push(buffer);
        let out = h.try_pull();
        // The harness keeps every event that reaches its sink until pulled.
        while h.try_pull_event().is_some() {}
        match (flow, out) {
            (Ok(_), Some(_)) if input.size_change < 0 => Err(format!(
                "a frame came out of a buffer {} bytes short",
                -input.size_change
            )),
            (Ok(_), Some(b)) => {
                let caps = h
                    .sinkpad()
                    .and_then(|p| p.current_caps())
                    .ok_or("no output caps")?;
                let out = gst_video::VideoInfo::from_caps(&caps).map_err(|e| e.to_string())?;
                if b.size() < out.size() {
                    return Err(format!("a {} byte frame for {caps}", b.size()));
                }
                Ok(format!(
                    "{} frame out",
                    if input.decoder { "restored" } else { "compact" }
                ))
            }
            (Ok(_), None) => Ok("no frame".into()),
            (Err(e), _) => Ok(format!("refused: {e:?}")),
        }
    }

    fn reset(&mut self) {
        self.encoder = harness("comcnnenc", &self.model);
        self.decoder = harness("reccnndec", &self.model);
    }
}
