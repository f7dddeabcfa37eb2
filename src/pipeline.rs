//! The framework's per-frame steps, shared by the elements, evaluation and tests.

use crate::frame::image::{GrayImage, Plane};
use crate::frame::resample::imresize_bicubic;
use crate::net::engine::Engine;

/// Compact size of a frame: what a stride-2 ComCNN gives.
pub fn compact_size(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// The largest frame the elements take, in pixels (8K UHD, 7680 x 4320, fits): a frame's
/// working memory is at most [`FRAME_BYTES_PER_PIXEL`] bytes per original pixel.
pub const MAX_FRAME_PIXELS: u64 = 1 << 25;

/// Heap bytes one frame may take in the elements per original pixel (frames and planes; Y444
/// is the largest). The network's rows come on top: 3 rows of each layer's features in every
/// thread, `12 x features x layers x threads` bytes per column.
pub const FRAME_BYTES_PER_PIXEL: u64 = 128;

/// Why a frame size is refused, if it is.
pub fn frame_size_refusal(width: usize, height: usize) -> Option<String> {
    let pixels = width as u64 * height as u64;
    (pixels > MAX_FRAME_PIXELS).then(|| {
        format!(
            "{width}x{height} frames ({pixels} pixels) are larger than the {MAX_FRAME_PIXELS} \
             pixels a frame may have here; scale them down first (videoscale)"
        )
    })
}

/// Most columns (rows) a compact frame may carry beyond its compact width (height):
/// `comcnnenc` extends it to a multiple of its `width-multiple` / `height-multiple` (at most
/// 64) by repeating the last column / row, because stock `jpegenc` codes whatever follows a row
/// into a partial last 8x8 block and 4:2:0 video encoders (x264, x265) refuse odd sizes.
pub const MAX_PADDING: usize = 63;

/// Whether `(width, height)` is an original size that a compact frame of size `coded` can
/// hold: its compact size, possibly extended by up to [`MAX_PADDING`] columns and rows.
pub fn is_original_of(coded: (usize, usize), width: usize, height: usize) -> bool {
    let (cw, ch) = compact_size(width, height);
    width > 0
        && height > 0
        && (cw..=cw + MAX_PADDING).contains(&coded.0)
        && (ch..=ch + MAX_PADDING).contains(&coded.1)
}

/// ComCNN on an 8-bit luma plane, rounded to 8 bits: the image the stock codec encodes. An
/// odd side is first extended by repeating its last column/row: the stride-2 network would
/// otherwise mix the last pixels with its zero padding (a dark last compact column or row,
/// which the restoration cannot undo).
pub fn compress_luma(engine: &dyn Engine, luma: &GrayImage) -> GrayImage {
    compact_unit(engine, luma).to_u8()
}

fn compact_unit(engine: &dyn Engine, luma: &GrayImage) -> Plane {
    let even = luma.padded_to(
        luma.width.next_multiple_of(2),
        luma.height.next_multiple_of(2),
    );
    engine.compact(&even.to_unit())
}

/// A network's output held NaN or infinity: finite weights can still overflow f32 (a broken or
/// hostile model), and an 8-bit frame cannot show that, so it is an error, not a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite(pub &'static str);

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the model's {} produced NaN or infinity on this frame: its weights overflow \
             32-bit floats; use another model",
            self.0
        )
    }
}

fn finite(plane: &Plane, net: &'static str) -> Result<(), NonFinite> {
    plane
        .data
        .iter()
        .all(|v| v.is_finite())
        .then_some(())
        .ok_or(NonFinite(net))
}

/// [`compress_luma`] that refuses a non-finite network output.
pub fn compress_luma_checked(
    engine: &dyn Engine,
    luma: &GrayImage,
) -> Result<GrayImage, NonFinite> {
    let compact = compact_unit(engine, luma);
    finite(&compact, "ComCNN")?;
    Ok(compact.to_u8())
}

/// Intermediates of one restoration, for tests and debugging.
pub struct Restoration {
    pub upscaled: Plane,
    pub residual: Plane,
    pub output: GrayImage,
}

/// The size to up-scale a `compact` plane to for an original of `width` x `height`: exactly
/// twice the compact size when the original is one the compact plane was made from (ComCNN's
/// stride-2 convolution and the chroma box filter sample every other pixel, so an odd side is
/// the doubled side less one; resizing straight to it would stretch by 2 - 1/n and misalign
/// every pixel), otherwise the original size itself.
fn upscale_size(compact: (usize, usize), width: usize, height: usize) -> (usize, usize) {
    let (w2, h2) = (2 * compact.0, 2 * compact.1);
    let doubled = |n: usize, n2: usize| n > 0 && (n2 - 1..=n2).contains(&n);
    if doubled(width, w2) && doubled(height, h2) {
        (w2, h2)
    } else {
        (width, height)
    }
}

/// Bicubic up-scaling (MATLAB `imresize`) of a decoded compact plane for an original of
/// `width` x `height`: x2, then the last column/row dropped for an odd side.
pub fn upscale_compact(compact: &Plane, width: usize, height: usize) -> Plane {
    let (uw, uh) = upscale_size((compact.width, compact.height), width, height);
    let up = imresize_bicubic(compact, uw, uh);
    if (uw, uh) == (width, height) {
        up
    } else {
        up.cropped(width, height)
    }
}

/// Bicubic up-scaling of the decoded compact luma, then RecCNN; for an odd original side the
/// network runs on the doubled size and its last column/row is dropped after.
pub fn restore_luma_stages(
    engine: &dyn Engine,
    decoded: &GrayImage,
    width: usize,
    height: usize,
) -> Restoration {
    let (uw, uh) = upscale_size((decoded.width, decoded.height), width, height);
    let upscaled = imresize_bicubic(&decoded.to_unit(), uw, uh);
    let residual = engine.residual(&upscaled);
    let data = upscaled
        .data
        .iter()
        .zip(&residual.data)
        .map(|(u, r)| u - r)
        .collect();
    let mut output = Plane::new(uw, uh, data);
    let (mut upscaled, mut residual) = (upscaled, residual);
    if (uw, uh) != (width, height) {
        output = output.cropped(width, height);
        upscaled = upscaled.cropped(width, height);
        residual = residual.cropped(width, height);
    }
    Restoration {
        upscaled,
        residual,
        output: output.to_u8(),
    }
}

/// [`restore_luma`] that refuses a non-finite network output.
pub fn restore_luma_checked(
    engine: &dyn Engine,
    decoded: &GrayImage,
    width: usize,
    height: usize,
) -> Result<GrayImage, NonFinite> {
    let stages = restore_luma_stages(engine, decoded, width, height);
    finite(&stages.residual, "RecCNN")?;
    Ok(stages.output)
}

/// See [`restore_luma_stages`].
pub fn restore_luma(
    engine: &dyn Engine,
    decoded: &GrayImage,
    width: usize,
    height: usize,
) -> GrayImage {
    restore_luma_stages(engine, decoded, width, height).output
}

/// Plain bicubic resize of an 8-bit compact plane to its original size (chroma, which the
/// networks do not touch); x2 then cropped for an odd side, as [`upscale_compact`].
pub fn resize_plane(plane: &GrayImage, width: usize, height: usize) -> GrayImage {
    if (plane.width, plane.height) == (width, height) {
        return plane.clone();
    }
    upscale_compact(&plane.to_unit(), width, height).to_u8()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::image::downscale_box2;

    fn smooth(width: usize, height: usize) -> GrayImage {
        let data = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32, (i / width) as f32);
                (128.0 + 60.0 * (x * 0.35).sin() + 50.0 * (y * 0.27).cos()) as u8
            })
            .collect();
        GrayImage::new(width, height, data)
    }

    fn psnr_of(a: &GrayImage, b: &GrayImage) -> f64 {
        crate::eval::metrics::psnr(a, b)
    }

    /// A flat odd-sized frame through a box-filter ComCNN stays flat to its last compact
    /// column and row (the network never sees its zero padding there).
    #[test]
    #[cfg(feature = "train")]
    fn odd_originals_compress_without_a_dark_edge() {
        use crate::net::architecture::{ComCnnConfig, RecCnnConfig};
        use crate::net::engine::BurnEngine;
        use crate::train::{initialise, InitScheme};
        let mut m = crate::ModelWeights::random(
            "box",
            ComCnnConfig::new().with_features(4),
            RecCnnConfig::new().with_features(4).with_depth(3),
            1,
        );
        initialise(&mut m, InitScheme::Downsampler, 1);
        let engine = BurnEngine::<crate::net::backend::CpuBackend>::new(&m, Default::default());
        let flat = GrayImage::new(9, 7, vec![200; 63]);
        let compact = compress_luma(&engine, &flat);
        assert_eq!((compact.width, compact.height), (5, 4));
        assert!(compact.data.iter().all(|v| *v == 200), "{:?}", compact.data);
    }

    /// An odd-sized original is up-scaled on the compact grid (x2, last column/row dropped):
    /// as accurate as an even one, where stretching straight to the odd size misaligns it.
    #[test]
    fn odd_originals_upscale_on_the_compact_grid() {
        let even = smooth(42, 32);
        let odd = smooth(41, 31);
        let up = |img: &GrayImage| {
            let compact = downscale_box2(img);
            resize_plane(&compact, img.width, img.height)
        };
        let (even_db, odd_db) = (psnr_of(&even, &up(&even)), psnr_of(&odd, &up(&odd)));
        let stretched = imresize_bicubic(&downscale_box2(&odd).to_unit(), 41, 31).to_u8();
        let stretched_db = psnr_of(&odd, &stretched);
        assert!(
            odd_db > even_db - 0.5,
            "odd {odd_db:.2} dB, even {even_db:.2} dB"
        );
        assert!(
            odd_db > stretched_db + 3.0,
            "odd {odd_db:.2} dB vs stretched {stretched_db:.2} dB"
        );
        // Sizes that are not a compact's originals are resized directly.
        assert_eq!(upscale_size((21, 16), 50, 30), (50, 30));
        assert_eq!(upscale_size((21, 16), 41, 32), (42, 32));
    }
}
