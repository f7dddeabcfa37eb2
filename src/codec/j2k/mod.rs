//! Lossy (and lossless) JPEG 2000 codestreams with OpenJPEG (`openjpeg-sys`, bundled 2.5):
//! the encoder behind the plugin's `j2kenc` element, the evaluation's plain-J2K ladder and the
//! training loop's J2K codec, plus a decoder for tests. No GStreamer types here.
//!
//! Rates follow OpenJPEG's definition: a compression ratio is the size of the raw samples
//! counted as `components x precision` bits per picture pixel (chroma subsampling is not
//! discounted) over the coded size. [`Rate::BitsPerPixel`] is converted with that rule, so
//! `bpp` is always coded bits over picture pixels.

use crate::frame::image::GrayImage;

mod decode;
mod encode;
mod ffi;

pub use decode::*;
pub use encode::*;

/// The most resolution levels the standard allows.
pub const MAX_RESOLUTIONS: u32 = 32;
/// The most quality layers the encoder accepts (OpenJPEG's table holds 100).
pub const MAX_LAYERS: u32 = 100;
/// Resolution levels used when none is asked for (OpenJPEG's default), fewer on small pictures.
pub const DEFAULT_RESOLUTIONS: u32 = 6;

/// How many bits the codestream may spend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Every coefficient kept (bit-exact with the reversible 5/3 wavelet).
    Lossless,
    /// Coded bits per picture pixel (all components together).
    BitsPerPixel(f64),
    /// OpenJPEG's compression ratio (see the module documentation); above 1.
    Ratio(f64),
}

/// Encoder settings; [`Default`] is 1 bpp, one layer, automatic resolution levels, 9/7
/// wavelet, one tile, one thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct J2kSettings {
    pub rate: Rate,
    /// Quality layers: layer `i` of `n` targets `2^(n-1-i)` times the final ratio, so a
    /// decoder that stops early gets a coarser picture.
    pub layers: u32,
    /// Resolution levels (decompositions + 1); 0 picks [`DEFAULT_RESOLUTIONS`] or fewer as
    /// the picture (or tile) size allows.
    pub resolutions: u32,
    /// The 9/7 wavelet (lossy) instead of the reversible 5/3.
    pub irreversible: bool,
    /// Tile width and height; 0 makes the tile as large as the picture in that direction.
    pub tile: (u32, u32),
    /// Encoder threads; 0 uses every core.
    pub threads: u32,
}

impl Default for J2kSettings {
    fn default() -> Self {
        Self {
            rate: Rate::BitsPerPixel(1.0),
            layers: 1,
            resolutions: 0,
            irreversible: true,
            tile: (0, 0),
            threads: 1,
        }
    }
}

/// How the components are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourSpace {
    Gray,
    /// R, G, B planes; coded with the multiple-component transform (YCbCr inside).
    Rgb,
    /// Y, Cb, Cr planes, possibly subsampled.
    Ycc,
}

/// One 8-bit plane of a picture: `height` rows of `width` samples, `stride` bytes apart.
#[derive(Clone, Copy, Debug)]
pub struct PlaneRef<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> PlaneRef<'a> {
    pub fn of(img: &'a GrayImage) -> Self {
        Self {
            data: &img.data,
            stride: img.width,
            width: img.width,
            height: img.height,
        }
    }
}

/// What went wrong, in words a user can act on (OpenJPEG's own messages included).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct J2kError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, J2kError> {
    Err(J2kError(msg.into()))
}

/// The most resolution levels a `width` x `height` picture cut in `tile` tiles allows, with
/// components subsampled by `subsampling` (`(dx, dy)` each): every tile of every component,
/// edge tiles included, must hold `2^(levels-1)` samples in each direction (OpenJPEG aborts
/// the process on a wavelet over a 1-sample line).
pub fn max_resolutions(
    width: usize,
    height: usize,
    tile: (u32, u32),
    subsampling: &[(u32, u32)],
) -> u32 {
    // The smallest extent a component's tiles have along one axis of `full` samples.
    let smallest = |full: usize, t: u32, d: u32| -> usize {
        let t = if t == 0 { full } else { (t as usize).min(full) };
        let d = d.max(1) as usize;
        let extent = |a: usize, b: usize| b.div_ceil(d) - a.div_ceil(d);
        let first = extent(0, t);
        let last_start = (full - 1) / t * t;
        first.min(extent(last_start, full))
    };
    let subsampling = if subsampling.is_empty() {
        &[(1, 1)][..]
    } else {
        subsampling
    };
    let least = subsampling
        .iter()
        .map(|&(dx, dy)| {
            smallest(width.max(1), tile.0, dx).min(smallest(height.max(1), tile.1, dy))
        })
        .min()
        .unwrap_or(1)
        .max(1);
    (usize::BITS - least.leading_zeros()).min(MAX_RESOLUTIONS)
}

/// The ratio for `bpp` coded bits per pixel of a picture of `components` 8-bit components.
pub fn ratio_for_bpp(bpp: f64, components: usize) -> f64 {
    (components * 8) as f64 / bpp
}

/// Checks `settings` for a `width` x `height` picture whose components are subsampled by
/// `subsampling` (`(dx, dy)` each) and returns the per-layer ratios (0 = lossless) and the
/// resolution levels to use.
pub fn plan(
    settings: &J2kSettings,
    width: usize,
    height: usize,
    subsampling: &[(u32, u32)],
) -> Result<(Vec<f32>, u32), J2kError> {
    let components = subsampling.len().max(1);
    if width == 0 || height == 0 {
        return err(format!("cannot code an empty {width}x{height} picture"));
    }
    if !(1..=MAX_LAYERS).contains(&settings.layers) {
        return err(format!(
            "layers={} is out of range: use 1 to {MAX_LAYERS}",
            settings.layers
        ));
    }
    let raw_bpp = (components * 8) as f64;
    let ratio = match settings.rate {
        Rate::Lossless => None,
        Rate::BitsPerPixel(bpp) => {
            if !(bpp > 0.0 && bpp < raw_bpp) {
                return err(format!(
                    "bpp={bpp} is out of range: a {components}-component 8-bit picture needs more \
                     than 0 and less than {raw_bpp} bits per pixel (use the lossless setting to \
                     keep everything)"
                ));
            }
            Some(ratio_for_bpp(bpp, components))
        }
        Rate::Ratio(r) => {
            if !(r > 1.0 && r.is_finite()) {
                return err(format!(
                    "compression-ratio={r} is out of range: it must be above 1 (raw size over \
                     coded size)"
                ));
            }
            Some(r)
        }
    };
    let rates = match ratio {
        None if settings.layers > 1 => {
            return err(format!(
                "layers={} needs a target rate: quality layers split a rate, and lossless has none",
                settings.layers
            ))
        }
        None => vec![0.0],
        Some(r) => (0..settings.layers)
            .map(|i| (r * f64::powi(2.0, (settings.layers - 1 - i) as i32)) as f32)
            .collect(),
    };
    let most = max_resolutions(width, height, settings.tile, subsampling);
    let resolutions = match settings.resolutions {
        0 => DEFAULT_RESOLUTIONS.min(most),
        n if n > most => {
            return err(format!(
                "resolutions={n} is too many for a {width}x{height} picture{}: at most {most} \
                 (each level halves the smallest side), or 0 for automatic",
                if settings.tile == (0, 0) {
                    String::new()
                } else {
                    format!(" in {}x{} tiles", settings.tile.0, settings.tile.1)
                }
            ))
        }
        n => n,
    };
    Ok((rates, resolutions))
}

#[cfg(test)]
mod tests;
