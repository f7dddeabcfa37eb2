//! PSNR and SSIM by the reference protocol (whole 8-bit image, no border crop).

use crate::image::GrayImage;

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
    let (w, h) = (a.width, a.height);
    if w < WINDOW || h < WINDOW {
        return None;
    }
    let win = gaussian_window();
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let (ow, oh) = (w - WINDOW + 1, h - WINDOW + 1);
    let mut total = 0.0;
    for y in 0..oh {
        for x in 0..ow {
            let (mut ma, mut mb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for wy in 0..WINDOW {
                let row = (y + wy) * w + x;
                for wx in 0..WINDOW {
                    let k = win[wy * WINDOW + wx];
                    let (va, vb) = (a.data[row + wx] as f64, b.data[row + wx] as f64);
                    ma += k * va;
                    mb += k * vb;
                    saa += k * va * va;
                    sbb += k * vb * vb;
                    sab += k * va * vb;
                }
            }
            let (va, vb, cov) = (saa - ma * ma, sbb - mb * mb, sab - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        }
    }
    Some(total / (ow * oh) as f64)
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
}
