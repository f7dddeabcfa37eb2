//! JPEG 2000: codestreams from the project's encoder, damaged (bytes, and the SIZ marker's
//! size, tile and component fields) and fed to the core decoder; and encoder settings and
//! plane geometries of every kind fed to the core encoder, whose output must decode to the
//! picture's size.

use cnncodec::codec::j2k::{self, ColourSpace, J2kSettings, PlaneRef, Rate};
use cnncodec::GrayImage;

use crate::mutate;
use crate::rng::Rng;
use crate::Target;

fn texture(w: usize, h: usize, seed: u64) -> GrayImage {
    let mut rng = Rng::new(seed);
    let data = (0..w * h)
        .map(|i| ((i % w) * 5 + (i / w) * 3) as u8 ^ (rng.next() as u8 & 15))
        .collect();
    GrayImage::new(w, h, data)
}

pub struct Decode {
    codestreams: Vec<Vec<u8>>,
}

impl Decode {
    pub fn new() -> Self {
        let mut codestreams = vec![];
        let settings = [
            J2kSettings::default(),
            J2kSettings {
                rate: Rate::Lossless,
                irreversible: false,
                ..Default::default()
            },
            J2kSettings {
                layers: 3,
                resolutions: 3,
                tile: (16, 16),
                ..Default::default()
            },
            J2kSettings {
                rate: Rate::Ratio(40.0),
                ..Default::default()
            },
        ];
        for (i, s) in settings.iter().enumerate() {
            let img = texture(24 + 9 * i, 20 + 5 * i, i as u64);
            codestreams.push(j2k::encode_gray(&img, s).expect("a seed codestream"));
        }
        Self { codestreams }
    }
}

#[derive(Debug)]
pub struct DecodeInput {
    bytes: Vec<u8>,
}

/// Overwrites a field of the SIZ marker segment (sizes, offsets, tiles, components).
fn mutate_siz(rng: &mut Rng, bytes: &mut [u8]) {
    let Some(at) = bytes.windows(2).position(|w| w == [0xFF, 0x51]) else {
        return;
    };
    // Lsiz, Rsiz, then eight 32-bit fields, Csiz, and 3 bytes per component.
    let field = rng.below(11) as usize;
    let v = rng.interesting();
    let (pos, width) = match field {
        0..=7 => (at + 6 + 4 * field, 4),
        8 => (at + 38, 2),
        _ => (at + 40 + rng.below(3) as usize, 1),
    };
    if pos + width <= bytes.len() {
        let be = (v as u32).to_be_bytes();
        bytes[pos..pos + width].copy_from_slice(&be[4 - width..]);
    }
}

impl Target for Decode {
    type Input = DecodeInput;
    const NAME: &'static str = "j2k-decode";
    /// The decoder refuses images over `j2k::MAX_DECODE_PIXELS`; the seeds are tiny.
    const ALLOCATION_BOUND: usize = 64 << 20;

    fn generate(&mut self, rng: &mut Rng) -> DecodeInput {
        let mut bytes = rng.pick(&self.codestreams).clone();
        if rng.one_in(2) {
            mutate_siz(rng, &mut bytes);
        }
        if !rng.one_in(4) {
            let max = bytes.len() + 256;
            mutate::bytes(rng, &mut bytes, max);
        }
        DecodeInput { bytes }
    }

    fn run(&mut self, input: &DecodeInput) -> Result<String, String> {
        match j2k::decode(&input.bytes) {
            Ok(d) => {
                if d.planes.is_empty() || d.width == 0 || d.height == 0 {
                    return Err(format!(
                        "decoded {}x{} with {} planes",
                        d.width,
                        d.height,
                        d.planes.len()
                    ));
                }
                Ok("decoded".into())
            }
            Err(e) => Ok(super::kind(&e.0)),
        }
    }
}

pub struct Encode;

#[derive(Debug)]
pub struct EncodeInput {
    width: usize,
    height: usize,
    colour: ColourSpace,
    settings: J2kSettings,
    /// Per plane: width, height, stride, bytes.
    planes: Vec<(usize, usize, usize, Vec<u8>)>,
}

fn edge_f64(rng: &mut Rng) -> f64 {
    let random = rng.below(100) as f64 / 7.0;
    *rng.pick(&[
        0.0,
        -1.0,
        0.5,
        1.0,
        1.0001,
        8.0,
        24.0,
        25.0,
        1e9,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        random,
    ])
}

impl Target for Encode {
    type Input = EncodeInput;
    const NAME: &'static str = "j2k-encode";
    /// Pictures here are at most 40 x 40 (the settings, not the size, are under test).
    const ALLOCATION_BOUND: usize = 64 << 20;

    fn generate(&mut self, rng: &mut Rng) -> EncodeInput {
        let width = rng.range(1, 40) as usize;
        let height = rng.range(1, 40) as usize;
        let colour = *rng.pick(&[ColourSpace::Gray, ColourSpace::Rgb, ColourSpace::Ycc]);
        let n = match (colour, rng.one_in(10)) {
            (_, true) => rng.below(5) as usize,
            (ColourSpace::Gray, _) => 1,
            _ => 3,
        };
        let planes = (0..n)
            .map(|i| {
                let (pw, ph) = if i > 0 && colour == ColourSpace::Ycc && rng.one_in(2) {
                    (width.div_ceil(2), height.div_ceil(2))
                } else if rng.one_in(10) {
                    (rng.range(0, 50) as usize, rng.range(0, 50) as usize)
                } else {
                    (width, height)
                };
                let stride = if rng.one_in(10) {
                    rng.below(pw as u64 + 2) as usize
                } else {
                    pw + rng.below(8) as usize
                };
                let mut len = stride * ph;
                if rng.one_in(10) {
                    len = rng.below(len as u64 + 1) as usize;
                }
                (pw, ph, stride, rng.bytes(len))
            })
            .collect();
        let rate = match rng.below(5) {
            0 => Rate::Lossless,
            1 => Rate::BitsPerPixel(edge_f64(rng)),
            2 => Rate::Ratio(edge_f64(rng)),
            3 => Rate::BitsPerPixel(0.05 + rng.below(400) as f64 / 100.0),
            _ => Rate::Ratio(1.5 + rng.below(200) as f64),
        };
        // Mostly settings a user could pick, so that most cases reach OpenJPEG; edge values
        // one time in four.
        let pick = |rng: &mut Rng, usual: (u64, u64), max: i128| {
            if rng.one_in(4) {
                rng.interesting().clamp(0, max) as u32
            } else {
                rng.range(usual.0, usual.1) as u32
            }
        };
        let settings = J2kSettings {
            rate,
            layers: pick(rng, (1, 4), 200),
            resolutions: pick(rng, (0, 6), 40),
            irreversible: rng.one_in(2),
            tile: (pick(rng, (0, 48), 70_000), pick(rng, (0, 48), 70_000)),
            threads: rng.range(0, 3) as u32,
        };
        EncodeInput {
            width,
            height,
            colour,
            settings,
            planes,
        }
    }

    fn run(&mut self, input: &EncodeInput) -> Result<String, String> {
        let planes: Vec<PlaneRef> = input
            .planes
            .iter()
            .map(|(w, h, stride, data)| PlaneRef {
                data,
                stride: *stride,
                width: *w,
                height: *h,
            })
            .collect();
        match j2k::encode(
            input.width,
            input.height,
            &planes,
            input.colour,
            &input.settings,
        ) {
            Ok(bytes) => match j2k::decode(&bytes) {
                Ok(d) if (d.width, d.height) == (input.width, input.height) => Ok("coded".into()),
                Ok(d) => Err(format!(
                    "a {}x{} picture decoded as {}x{}",
                    input.width, input.height, d.width, d.height
                )),
                Err(e) => Err(format!("its own codestream does not decode: {e}")),
            },
            Err(e) => Ok(super::kind(&e.0)),
        }
    }
}
