//! PSNR and SSIM by the reference protocol (whole 8-bit image, no border crop).

use crate::frame::image::GrayImage;

/// Mean squared error between two same-size 8-bit planes.
pub fn mse(a: &GrayImage, b: &GrayImage) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    let sum: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    sum / a.data.len() as f64
}

/// `10 log10(255^2 / MSE)`; infinite for identical images.
pub fn psnr(a: &GrayImage, b: &GrayImage) -> f64 {
    10.0 * (255.0f64 * 255.0 / mse(a, b)).log10()
}

const WINDOW: usize = 11;

fn gaussian_window() -> [f64; WINDOW * WINDOW] {
    let sigma = 1.5f64;
    let mut w = [0.0; WINDOW * WINDOW];
    let c = (WINDOW / 2) as f64;
    for y in 0..WINDOW {
        for x in 0..WINDOW {
            let (dx, dy) = (x as f64 - c, y as f64 - c);
            w[y * WINDOW + x] = (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp();
        }
    }
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= sum);
    w
}

/// Mean SSIM (Wang et al. 2004 `ssim_index`): 11x11 Gaussian window, sigma 1.5, K1 = 0.01,
/// K2 = 0.03, L = 255, "valid" filtering, no downsampling. `None` below 11x11.
pub fn ssim(a: &GrayImage, b: &GrayImage) -> Option<f64> {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    let a = to_f64(a);
    let b = to_f64(b);
    ssim_parts(&a, &b).map(|(l_cs, _)| l_cs)
}

/// A float plane for the multi-scale computation.
struct PlaneF64 {
    width: usize,
    height: usize,
    data: Vec<f64>,
}

fn to_f64(img: &GrayImage) -> PlaneF64 {
    PlaneF64 {
        width: img.width,
        height: img.height,
        data: img.data.iter().map(|&v| v as f64).collect(),
    }
}

/// MS-SSIM weights of Wang, Simoncelli and Bovik 2003 (five scales).
const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// Multi-scale SSIM (Wang et al. 2003, the authors' `msssim.m`): five scales, each after a
/// 2x2 mean filter with symmetric borders and decimation by 2; contrast-structure at every
/// scale, luminance at the coarsest. `None` when the coarsest scale is below 11x11 (images
/// under 176x176). Negative contrast-structure terms are clamped to 0 (the MATLAB code
/// would return a complex number there).
pub fn ms_ssim(a: &GrayImage, b: &GrayImage) -> Option<f64> {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    // As msssim.m: the coarsest of five scales must hold an 11x11 window.
    if a.width.min(a.height) < WINDOW << (MS_SSIM_WEIGHTS.len() - 1) {
        return None;
    }
    let (mut a, mut b) = (to_f64(a), to_f64(b));
    let mut result = 1.0;
    for (level, weight) in MS_SSIM_WEIGHTS.iter().enumerate() {
        let (l_cs, cs) = ssim_parts(&a, &b)?;
        let term = if level == MS_SSIM_WEIGHTS.len() - 1 {
            l_cs
        } else {
            cs
        };
        result *= term.max(0.0).powf(*weight);
        a = halve_mean2(&a);
        b = halve_mean2(&b);
    }
    Some(result)
}

/// `imfilter(x, ones(2)/4, 'symmetric', 'same')` then `x(1:2:end, 1:2:end)`.
fn halve_mean2(p: &PlaneF64) -> PlaneF64 {
    let (w, h) = (p.width, p.height);
    // MATLAB centres an even kernel at its top-left-of-centre tap: rows/cols k and k+1,
    // with the symmetric border repeating the last row/column.
    let at = |x: usize, y: usize| p.data[y.min(h - 1) * w + x.min(w - 1)];
    let (ow, oh) = (w.div_ceil(2), h.div_ceil(2));
    let mut data = Vec::with_capacity(ow * oh);
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            data.push((at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1)) / 4.0);
        }
    }
    PlaneF64 {
        width: ow,
        height: oh,
        data,
    }
}

/// Mean SSIM and mean contrast-structure term over the valid 11x11 windows.
fn ssim_parts(a: &PlaneF64, b: &PlaneF64) -> Option<(f64, f64)> {
    let (w, h) = (a.width, a.height);
    if w < WINDOW || h < WINDOW {
        return None;
    }
    let win = gaussian_window();
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let (ow, oh) = (w - WINDOW + 1, h - WINDOW + 1);
    let (mut total, mut total_cs) = (0.0, 0.0);
    for y in 0..oh {
        for x in 0..ow {
            let (mut ma, mut mb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for wy in 0..WINDOW {
                let row = (y + wy) * w + x;
                for wx in 0..WINDOW {
                    let k = win[wy * WINDOW + wx];
                    let (va, vb) = (a.data[row + wx], b.data[row + wx]);
                    ma += k * va;
                    mb += k * vb;
                    saa += k * va * va;
                    sbb += k * vb * vb;
                    sab += k * va * vb;
                }
            }
            let (va, vb, cov) = (saa - ma * ma, sbb - mb * mb, sab - ma * mb);
            let cs = (2.0 * cov + c2) / (va + vb + c2);
            total += (2.0 * ma * mb + c1) / (ma * ma + mb * mb + c1) * cs;
            total_cs += cs;
        }
    }
    let n = (ow * oh) as f64;
    Some((total / n, total_cs / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_of_a_known_error() {
        let a = GrayImage::new(2, 1, vec![0, 0]);
        let b = GrayImage::new(2, 1, vec![10, 0]);
        // MSE = 50 -> 10 log10(65025 / 50) = 31.1411...
        assert!((psnr(&a, &b) - 31.141_102).abs() < 1e-5);
    }

    #[test]
    fn ssim_is_one_for_identical_and_lower_for_noise() {
        let data: Vec<u8> = (0..32 * 32).map(|i| ((i * 37) % 251) as u8).collect();
        let a = GrayImage::new(32, 32, data.clone());
        assert!((ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let noisy: Vec<u8> = data.iter().map(|&v| v.saturating_add(20)).collect();
        let b = GrayImage::new(32, 32, noisy);
        assert!(ssim(&a, &b).unwrap() < 0.99);
        assert!(ssim(
            &GrayImage::new(5, 5, vec![0; 25]),
            &GrayImage::new(5, 5, vec![0; 25])
        )
        .is_none());
    }

    #[test]
    fn ms_ssim_is_one_for_identical_and_orders_distortions() {
        let data: Vec<u8> = (0..200 * 190)
            .map(|i| (((i % 200) * 3 + (i / 200) * 5 + (i * 7919) % 13) % 256) as u8)
            .collect();
        let a = GrayImage::new(200, 190, data.clone());
        assert!((ms_ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let mild: Vec<u8> = data.iter().map(|&v| v.saturating_add(3)).collect();
        let strong: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 2 == 0 { v / 2 } else { v })
            .collect();
        let m1 = ms_ssim(&a, &GrayImage::new(200, 190, mild)).unwrap();
        let m2 = ms_ssim(&a, &GrayImage::new(200, 190, strong)).unwrap();
        assert!(m1 > m2 && m1 < 1.0, "{m1} {m2}");
        // The coarsest of five scales must still hold an 11x11 window.
        let small = GrayImage::new(160, 160, vec![9; 160 * 160]);
        assert!(ms_ssim(&small, &small).is_none());
    }
}
