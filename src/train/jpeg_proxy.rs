//! A differentiable stand-in for baseline JPEG on luma, for training ComCNN with the codec's
//! quantisation in the loop: the compact image rounded to 8 bits, edge-padded to whole 8x8
//! blocks (as libjpeg pads), blockwise DCT, divided by the quality's quantisation table,
//! rounded, multiplied back, inverse DCT, rounded and clamped to 8 bits. Every rounding and the
//! clamps pass the gradient straight through, so ComCNN learns as if the codec were identity
//! while seeing what quantisation does to its output.

use burn::prelude::*;

/// The luminance quantisation table of ITU-T T.81 Annex K (libjpeg's base table), row-major.
const BASE_LUMA: [u32; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, //
    12, 12, 14, 19, 26, 58, 60, 55, //
    14, 13, 16, 24, 40, 57, 69, 56, //
    14, 17, 22, 29, 51, 87, 80, 62, //
    18, 22, 37, 56, 68, 109, 103, 77, //
    24, 35, 55, 64, 81, 104, 113, 92, //
    49, 64, 78, 87, 103, 121, 120, 101, //
    72, 92, 95, 98, 112, 100, 103, 99,
];

/// The luminance table libjpeg (and so `jpegenc`) uses at `quality` (1-100), baseline-limited
/// to 1..=255.
pub fn luma_quant_table(quality: u32) -> [u32; 64] {
    let q = quality.clamp(1, 100);
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    BASE_LUMA.map(|b| ((b * scale + 50) / 100).clamp(1, 255))
}

/// The orthonormal 8-point DCT-II matrix (row k: frequency k), which is JPEG's FDCT per axis.
fn dct8() -> [[f64; 8]; 8] {
    let mut m = [[0.0; 8]; 8];
    for (k, row) in m.iter_mut().enumerate() {
        let a = if k == 0 {
            (1.0f64 / 8.0).sqrt()
        } else {
            0.25f64.sqrt()
        };
        for (n, v) in row.iter_mut().enumerate() {
            *v = a * ((2 * n + 1) as f64 * k as f64 * std::f64::consts::PI / 16.0).cos();
        }
    }
    m
}

/// `x` rounded in the forward pass, unchanged in the backward one.
fn round_straight_through<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.clone() + (x.clone().round() - x).detach()
}

/// `x` clamped to `[lo, hi]` in the forward pass, unchanged in the backward one.
fn clamp_straight_through<B: Backend>(x: Tensor<B, 4>, lo: f32, hi: f32) -> Tensor<B, 4> {
    x.clone() + (x.clone().clamp(lo, hi) - x).detach()
}

/// `[padded, n]`: replicates the last of `n` rows down to a whole number of 8-row blocks.
fn edge_pad(n: usize) -> (Vec<f32>, [usize; 2]) {
    let padded = n.div_ceil(8) * 8;
    let mut pad = vec![0f32; padded * n];
    for r in 0..padded {
        pad[r * n + r.min(n - 1)] = 1.0;
    }
    (pad, [padded, n])
}

/// `[n, n]` (n a multiple of 8): the 8-point DCT of every block on the diagonal.
fn block_dct(n: usize) -> (Vec<f32>, [usize; 2]) {
    let c = dct8();
    let mut dct = vec![0f32; n * n];
    for r in 0..n {
        for col in (r / 8 * 8)..(r / 8 * 8 + 8) {
            dct[r * n + col] = c[r % 8][col % 8] as f32;
        }
    }
    (dct, [n, n])
}

/// The proxy for compact images (or patches) of one size at one quality.
pub struct JpegProxy<B: Backend> {
    /// `[padded height, height]` and `[padded width, width]`: edge replication.
    pad_rows: Tensor<B, 2>,
    pad_cols: Tensor<B, 2>,
    /// The blockwise DCTs down the rows and across the columns.
    dct_rows: Tensor<B, 2>,
    dct_cols: Tensor<B, 2>,
    /// `[padded height, padded width]`: the quantisation table tiled over the blocks.
    table: Tensor<B, 2>,
    size: (usize, usize),
    pub quality: u32,
}

impl<B: Backend> JpegProxy<B> {
    /// For compact images `height` x `width` (unit scale, 0..1) coded at JPEG `quality`.
    pub fn new(height: usize, width: usize, quality: u32, device: &B::Device) -> Self {
        let t = |(v, shape): (Vec<f32>, [usize; 2])| {
            Tensor::from_data(TensorData::new(v, shape), device)
        };
        let (ph, pw) = (height.div_ceil(8) * 8, width.div_ceil(8) * 8);
        let q = luma_quant_table(quality);
        let table = (0..ph * pw)
            .map(|i| q[(i / pw % 8) * 8 + i % pw % 8] as f32)
            .collect();
        Self {
            pad_rows: t(edge_pad(height)),
            pad_cols: t(edge_pad(width)),
            dct_rows: t(block_dct(ph)),
            dct_cols: t(block_dct(pw)),
            table: t((table, [ph, pw])),
            size: (height, width),
            quality,
        }
    }

    /// What `jpegenc quality=Q ! jpegdec` would return for `compact`, approximately.
    pub fn forward(&self, compact: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = compact.dims();
        assert!(
            (h, w) == self.size,
            "JpegProxy built for {}x{}, given {w}x{h}",
            self.size.1,
            self.size.0
        );
        let lift = |m: &Tensor<B, 2>| {
            let [a, b] = m.dims();
            m.clone()
                .reshape([1, 1, a, b])
                .repeat_dim(0, n)
                .repeat_dim(1, c)
        };
        let (pad_rows, pad_cols) = (lift(&self.pad_rows), lift(&self.pad_cols));
        let (dct_rows, dct_cols) = (lift(&self.dct_rows), lift(&self.dct_cols));
        let table = lift(&self.table);
        // [n, c, h, w]: the 8-bit compact image, centred as JPEG codes it
        let pixels = clamp_straight_through(round_straight_through(compact * 255.0), 0.0, 255.0);
        // -> [n, c, padded h, padded w]
        let blocks = pad_rows.matmul(pixels - 128.0).matmul(pad_cols.transpose());
        let coefficients = dct_rows
            .clone()
            .matmul(blocks)
            .matmul(dct_cols.clone().transpose());
        let levels = round_straight_through(coefficients / table.clone());
        let restored = dct_rows.transpose().matmul(levels * table).matmul(dct_cols);
        // -> [n, c, h, w]
        let cropped = restored.slice([0..n, 0..c, 0..h, 0..w]);
        let decoded = clamp_straight_through(round_straight_through(cropped + 128.0), 0.0, 255.0);
        decoded / 255.0
    }
}

/// What the proxy makes of a whole 8-bit image at `quality` (on the CPU backend).
pub fn proxy_code(image: &crate::GrayImage, quality: u32) -> crate::GrayImage {
    type Cpu = crate::net::backend::CpuBackend;
    let device = Default::default();
    let proxy = JpegProxy::<Cpu>::new(image.height, image.width, quality, &device);
    let unit: Vec<f32> = image.data.iter().map(|&v| v as f32 / 255.0).collect();
    let x = Tensor::<Cpu, 4>::from_data(
        TensorData::new(unit, [1, 1, image.height, image.width]),
        &device,
    );
    let out: Vec<f32> = proxy.forward(x).into_data().to_vec().unwrap_or_default();
    let data = out
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    crate::GrayImage::new(image.width, image.height, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn_flex::Flex;

    #[test]
    fn quality_50_is_the_annex_k_table_and_others_scale_like_libjpeg() {
        assert_eq!(luma_quant_table(50), BASE_LUMA);
        // libjpeg: quality 10 scales by 5000/10 = 500 %, quality 90 by 20 %.
        let q10 = luma_quant_table(10);
        assert_eq!((q10[0], q10[1], q10[63]), (80, 55, 255));
        let q90 = luma_quant_table(90);
        assert_eq!((q90[0], q90[1], q90[63]), (3, 2, 20));
        assert_eq!(luma_quant_table(100), [1; 64]);
    }

    /// The same coding done block by block in f64, as a JPEG codec's float path would.
    fn reference(img: &[f64], side: usize, quality: u32) -> Vec<f64> {
        let c = dct8();
        let q = luma_quant_table(quality);
        let padded = side.div_ceil(8) * 8;
        let px = |r: usize, col: usize| {
            (img[r.min(side - 1) * side + col.min(side - 1)] * 255.0)
                .round()
                .clamp(0.0, 255.0)
                - 128.0
        };
        let mut out = vec![0.0; side * side];
        for br in (0..padded).step_by(8) {
            for bc in (0..padded).step_by(8) {
                let mut levels = [[0.0; 8]; 8];
                for (u, row) in levels.iter_mut().enumerate() {
                    for (v, level) in row.iter_mut().enumerate() {
                        let mut s = 0.0;
                        for y in 0..8 {
                            for x in 0..8 {
                                s += c[u][y] * c[v][x] * px(br + y, bc + x);
                            }
                        }
                        let step = q[u * 8 + v] as f64;
                        *level = (s / step).round() * step;
                    }
                }
                for y in 0..8 {
                    for x in 0..8 {
                        let (r, col) = (br + y, bc + x);
                        if r >= side || col >= side {
                            continue;
                        }
                        let mut s = 0.0;
                        for (u, row) in levels.iter().enumerate() {
                            for (v, level) in row.iter().enumerate() {
                                s += c[u][y] * c[v][x] * level;
                            }
                        }
                        out[r * side + col] = ((s + 128.0).round().clamp(0.0, 255.0)) / 255.0;
                    }
                }
            }
        }
        out
    }

    fn textured(side: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::rng::Rng(seed);
        (0..side * side)
            .map(|i| {
                let (r, c) = ((i / side) as f64, (i % side) as f64);
                let noise = rng.below(1000) as f64 / 1000.0;
                (0.5 + 0.3 * (r * 0.7).sin() * (c * 0.3).cos() + 0.2 * (noise - 0.5))
                    .clamp(0.0, 1.0)
            })
            .collect()
    }

    #[test]
    fn matches_blockwise_coding_including_partial_blocks() {
        let device = Default::default();
        for (side, quality) in [(20usize, 50u32), (24, 10), (13, 80)] {
            let img = textured(side, side as u64);
            let proxy = JpegProxy::<Flex>::new(side, side, quality, &device);
            let x = Tensor::<Flex, 4>::from_data(
                TensorData::new(img.iter().map(|&v| v as f32).collect(), [1, 1, side, side]),
                &device,
            );
            let got: Vec<f32> = proxy.forward(x).into_data().to_vec().unwrap();
            let want = reference(&img, side, quality);
            let differing = |other: &[f64], levels: f64| {
                got.iter()
                    .zip(other)
                    .filter(|(g, o)| (**g as f64 - **o).abs() > levels / 255.0)
                    .count()
            };
            // f32 against f64: a level or pixel can round the other way at an exact half.
            let off = differing(&want, 0.5);
            assert!(
                off * 100 <= side * side,
                "{side}x{side} q{quality}: {off} pixels differ"
            );
            // And it is not the identity: quantisation changed the picture.
            let changed = differing(&img, 1.0);
            assert!(
                changed > side,
                "{side}x{side} q{quality}: only {changed} pixels changed"
            );
        }
    }

    #[test]
    fn the_gradient_passes_straight_through() {
        type B = Autodiff<Flex>;
        let device = Default::default();
        let side = 16;
        let img = textured(side, 3);
        let proxy = JpegProxy::<B>::new(side, side, 30, &device);
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(img.iter().map(|&v| v as f32).collect(), [1, 1, side, side]),
            &device,
        )
        .require_grad();
        let grads = proxy.forward(x.clone()).sum().backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        // d(sum)/dx is 1 everywhere for the identity; the proxy's is the same.
        assert!(g.iter().all(|v| (v - 1.0).abs() < 1e-4), "{:?}", &g[..8]);
    }
}
