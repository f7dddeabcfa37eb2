//! The framework's per-frame steps, shared by the elements, evaluation and tests.

use crate::engine::Engine;
use crate::image::{GrayImage, Plane};
use crate::resample::imresize_bicubic;

/// Compact size of a frame: what a stride-2 ComCNN gives.
pub fn compact_size(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// Most columns a compact frame may carry beyond its compact width: `comcnnenc` widens it to a
/// multiple of its `width-multiple` (at most 64) by repeating the last column, because stock
/// `jpegenc` codes whatever follows a row into a partial last 8x8 block.
pub const MAX_WIDTH_PADDING: usize = 63;

/// Whether `(width, height)` is an original size that a compact frame of size `coded` can
/// hold: its compact size, possibly widened by up to [`MAX_WIDTH_PADDING`] columns.
pub fn is_original_of(coded: (usize, usize), width: usize, height: usize) -> bool {
    let (cw, ch) = compact_size(width, height);
    width > 0 && height > 0 && coded.1 == ch && (cw..=cw + MAX_WIDTH_PADDING).contains(&coded.0)
}

/// ComCNN on an 8-bit luma plane, rounded to 8 bits: the image the stock codec encodes.
pub fn compress_luma(engine: &dyn Engine, luma: &GrayImage) -> GrayImage {
    engine.compact(&luma.to_unit()).to_u8()
}

/// Intermediates of one restoration, for tests and debugging.
pub struct Restoration {
    pub upscaled: Plane,
    pub residual: Plane,
    pub output: GrayImage,
}

/// Bicubic up-scaling of the decoded compact luma to `width` x `height`, then RecCNN.
pub fn restore_luma_stages(
    engine: &dyn Engine,
    decoded: &GrayImage,
    width: usize,
    height: usize,
) -> Restoration {
    let upscaled = imresize_bicubic(&decoded.to_unit(), width, height);
    let residual = engine.residual(&upscaled);
    let data = upscaled
        .data
        .iter()
        .zip(&residual.data)
        .map(|(u, r)| u - r)
        .collect();
    let output = Plane::new(width, height, data).to_u8();
    Restoration {
        upscaled,
        residual,
        output,
    }
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

/// Plain bicubic resize of an 8-bit plane (chroma, which the networks do not touch).
pub fn resize_plane(plane: &GrayImage, width: usize, height: usize) -> GrayImage {
    if (plane.width, plane.height) == (width, height) {
        return plane.clone();
    }
    imresize_bicubic(&plane.to_unit(), width, height).to_u8()
}
