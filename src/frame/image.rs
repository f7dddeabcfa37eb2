//! 8-bit planes, the exact 8-bit rounding of the reference pipeline, and BT.601 luma.

/// One 8-bit plane, rows packed without padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// One float plane, values nominally in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl GrayImage {
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Self {
        assert_eq!(
            data.len(),
            width * height,
            "plane data does not match its size"
        );
        Self {
            width,
            height,
            data,
        }
    }

    /// Copies a plane out of a buffer whose rows are `stride` bytes apart.
    pub fn from_strided(width: usize, height: usize, stride: usize, bytes: &[u8]) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for row in 0..height {
            data.extend_from_slice(&bytes[row * stride..row * stride + width]);
        }
        Self::new(width, height, data)
    }

    /// Writes the plane into a buffer whose rows are `stride` bytes apart.
    /// The padding after each row (up to `stride`, as far as `bytes` reaches) repeats the row's
    /// last pixel: `jpegenc` codes planar YUV in whole 8x8 blocks straight from the frame,
    /// padding included, so uninitialised padding would make the bytes (and the right edge)
    /// change from run to run.
    pub fn write_strided(&self, stride: usize, bytes: &mut [u8]) {
        for row in 0..self.height {
            let start = row * stride;
            let src = &self.data[row * self.width..(row + 1) * self.width];
            bytes[start..start + self.width].copy_from_slice(src);
            let pad_end = (start + stride).min(bytes.len());
            if let Some(&last) = src.last() {
                bytes[start + self.width..pad_end.max(start + self.width)].fill(last);
            }
        }
    }

    /// The image widened to `width` columns by repeating each row's last pixel (as libjpeg
    /// pads a partial block).
    pub fn padded_right(&self, width: usize) -> GrayImage {
        self.padded_to(width, self.height)
    }

    /// The image extended to `width` x `height` by repeating its last column and last row.
    pub fn padded_to(&self, width: usize, height: usize) -> GrayImage {
        if (width <= self.width && height <= self.height) || self.width == 0 || self.height == 0 {
            return self.clone();
        }
        let (width, height) = (width.max(self.width), height.max(self.height));
        let mut data = Vec::with_capacity(width * height);
        for row in self.data.chunks_exact(self.width) {
            data.extend_from_slice(row);
            data.resize(data.len() + width - self.width, row[self.width - 1]);
        }
        let last = data[(self.height - 1) * width..].to_vec();
        for _ in self.height..height {
            data.extend_from_slice(&last);
        }
        GrayImage::new(width, height, data)
    }

    /// The top-left `width` x `height` of the image.
    pub fn cropped(&self, width: usize, height: usize) -> GrayImage {
        assert!(
            width <= self.width && height <= self.height,
            "crop larger than the image"
        );
        let mut data = Vec::with_capacity(width * height);
        for row in self.data.chunks_exact(self.width).take(height) {
            data.extend_from_slice(&row[..width]);
        }
        GrayImage::new(width, height, data)
    }

    /// `x / 255`, the network's input scaling.
    pub fn to_unit(&self) -> Plane {
        Plane {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| v as f32 / 255.0).collect(),
        }
    }
}

impl Plane {
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            width * height,
            "plane data does not match its size"
        );
        Self {
            width,
            height,
            data,
        }
    }

    /// `round(v * 255)` half away from zero, clamped to 0..=255 (the reference's 8-bit step).
    /// The top-left `width` x `height` of the plane.
    pub fn cropped(&self, width: usize, height: usize) -> Plane {
        assert!(
            width <= self.width && height <= self.height,
            "crop larger than the plane"
        );
        let mut data = Vec::with_capacity(width * height);
        for row in self.data.chunks_exact(self.width.max(1)).take(height) {
            data.extend_from_slice(&row[..width]);
        }
        Plane::new(width, height, data)
    }

    pub fn to_u8(&self) -> GrayImage {
        GrayImage {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| quantize_unit(v)).collect(),
        }
    }
}

/// The reference rounding of one value in [0, 1] to 8 bits.
pub fn quantize_unit(v: f32) -> u8 {
    // f32::round rounds half away from zero, as MATLAB's im2uint8 does.
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// ITU-R BT.601 luma exactly as Pillow's `convert('L')`.
pub fn luma_bt601(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Halves a plane (rounded up) by averaging each 2x2 block; blocks cut by an odd edge
/// average the pixels they have. Used for chroma, which the networks do not touch.
pub fn downscale_box2(src: &GrayImage) -> GrayImage {
    let (w, h) = (src.width.div_ceil(2), src.height.div_ceil(2));
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut count) = (0u32, 0u32);
            for sy in 2 * y..(2 * y + 2).min(src.height) {
                for sx in 2 * x..(2 * x + 2).min(src.width) {
                    sum += src.data[sy * src.width + sx] as u32;
                    count += 1;
                }
            }
            data.push(((sum + count / 2) / count) as u8);
        }
    }
    GrayImage::new(w, h, data)
}

/// Why an image file could not be read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {1}", path = .0.display())]
    Io(std::path::PathBuf, String),
    #[error("{path}: not a readable PNG: {1}", path = .0.display())]
    NotPng(std::path::PathBuf, String),
}

/// Reads a PNG file as 8-bit luma (RGB converted with [`luma_bt601`], alpha ignored).
pub fn read_png_luma(path: &std::path::Path) -> Result<GrayImage, ImageError> {
    let rgb = read_png_rgb(path)?;
    Ok(rgb.luma())
}

/// An interleaved 8-bit RGB image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    pub fn luma(&self) -> GrayImage {
        let data = self
            .data
            .chunks_exact(3)
            .map(|p| luma_bt601(p[0], p[1], p[2]))
            .collect();
        GrayImage::new(self.width, self.height, data)
    }
}

/// Reads any 8-bit PNG (gray, gray+alpha, RGB, RGBA, palette) as RGB.
pub fn read_png_rgb(path: &std::path::Path) -> Result<RgbImage, ImageError> {
    let io = |e: std::io::Error| ImageError::Io(path.to_owned(), e.to_string());
    let not_png = |e: png::DecodingError| ImageError::NotPng(path.to_owned(), e.to_string());
    let file = std::fs::File::open(path).map_err(io)?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(not_png)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(not_png)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let buf = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let mut data = Vec::with_capacity(w * h * 3);
    for px in buf.chunks_exact(channels) {
        match channels {
            1 | 2 => data.extend_from_slice(&[px[0], px[0], px[0]]),
            _ => data.extend_from_slice(&px[..3]),
        }
    }
    Ok(RgbImage {
        width: w,
        height: h,
        data,
    })
}

/// Writes an 8-bit gray PNG.
pub fn write_png_gray(path: &std::path::Path, img: &GrayImage) -> Result<(), ImageError> {
    let io = |e: String| ImageError::Io(path.to_owned(), e);
    let file = std::fs::File::create(path).map_err(|e| io(e.to_string()))?;
    let mut enc = png::Encoder::new(
        std::io::BufWriter::new(file),
        img.width as u32,
        img.height as u32,
    );
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| io(e.to_string()))?;
    writer
        .write_image_data(&img.data)
        .map_err(|e| io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_repeats_the_last_column_and_cropping_undoes_it() {
        let img = GrayImage::new(3, 2, vec![1, 2, 3, 4, 5, 6]);
        let wide = img.padded_right(5);
        assert_eq!(wide.data, vec![1, 2, 3, 3, 3, 4, 5, 6, 6, 6]);
        assert_eq!(wide.cropped(3, 2), img);
        assert_eq!(img.padded_right(2), img);
        assert_eq!(wide.cropped(2, 1).data, vec![1, 2]);
        let tall = img.padded_to(4, 3);
        assert_eq!(tall.data, vec![1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6]);
    }

    #[test]
    fn strided_rows_pad_with_the_last_pixel() {
        let img = GrayImage::new(3, 2, vec![1, 2, 3, 4, 5, 6]);
        let mut bytes = vec![0xAA; 8 + 7];
        img.write_strided(8, &mut bytes);
        assert_eq!(&bytes[..8], &[1, 2, 3, 3, 3, 3, 3, 3]);
        assert_eq!(&bytes[8..], &[4, 5, 6, 6, 6, 6, 6]);
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_clamped() {
        assert_eq!(quantize_unit(0.5 / 255.0), 1);
        assert_eq!(quantize_unit(1.49 / 255.0), 1);
        assert_eq!(quantize_unit(-0.2), 0);
        assert_eq!(quantize_unit(1.7), 255);
    }

    #[test]
    fn luma_matches_pillow() {
        // Pillow: Image.new('RGB',(1,1),(255,0,0)).convert('L') -> 76; (0,255,0) -> 150; (0,0,255) -> 29
        assert_eq!(luma_bt601(255, 0, 0), 76);
        assert_eq!(luma_bt601(0, 255, 0), 150);
        assert_eq!(luma_bt601(0, 0, 255), 29);
        assert_eq!(luma_bt601(255, 255, 255), 255);
    }

    #[test]
    fn box_downscale_handles_odd_edges() {
        let img = GrayImage::new(3, 1, vec![10, 20, 200]);
        let half = downscale_box2(&img);
        assert_eq!((half.width, half.height), (2, 1));
        assert_eq!(half.data, vec![15, 200]);
    }
}
