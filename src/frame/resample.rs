//! MATLAB-exact `imresize(..., 'bicubic')` for enlarging (and plain resizing) of float planes.
//!
//! Follows MATLAB's algorithm: cubic kernel a = -0.5, source coordinate
//! `u = x / s + 0.5 (1 - 1/s)` (1-based), 4 taps plus 2 guard taps, weights normalised to sum 1,
//! symmetric index extension at the borders, no antialiasing when enlarging, and the dimension
//! with the smaller scale resized first. Arithmetic is in f64 as MATLAB's is for double input.

use rayon::prelude::*;

use crate::frame::image::Plane;

const KERNEL_WIDTH: f64 = 4.0;

fn cubic(x: f64) -> f64 {
    let ax = x.abs();
    let ax2 = ax * ax;
    let ax3 = ax2 * ax;
    if ax <= 1.0 {
        1.5 * ax3 - 2.5 * ax2 + 1.0
    } else if ax <= 2.0 {
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    } else {
        0.0
    }
}

/// Taps (0-based source indices) and weights for each output index of one dimension.
struct Contributions {
    taps: usize,
    indices: Vec<usize>,
    weights: Vec<f64>,
}

fn contributions(in_len: usize, out_len: usize) -> Contributions {
    let scale = out_len as f64 / in_len as f64;
    // Shrinking widens the kernel (antialiasing); enlarging keeps it.
    let (kernel_scale, width) = if scale < 1.0 {
        (scale, KERNEL_WIDTH / scale)
    } else {
        (1.0, KERNEL_WIDTH)
    };
    let taps = width.ceil() as usize + 2;
    let mut indices = Vec::with_capacity(out_len * taps);
    let mut weights = Vec::with_capacity(out_len * taps);
    let period = 2 * in_len as i64;
    for x in 1..=out_len {
        let u = x as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
        let left = (u - width / 2.0).floor() as i64;
        let start = weights.len();
        for t in 0..taps as i64 {
            let idx = left + t; // 1-based
            weights.push(kernel_scale * cubic(kernel_scale * (u - idx as f64)));
            // Symmetric extension: [1..n, n..1] repeated.
            let m = (idx - 1).rem_euclid(period);
            let src = if m < in_len as i64 { m } else { period - 1 - m };
            indices.push(src as usize);
        }
        let sum: f64 = weights[start..].iter().sum();
        for w in &mut weights[start..] {
            *w /= sum;
        }
    }
    Contributions {
        taps,
        indices,
        weights,
    }
}

/// Resizes along rows (`horizontal`) or columns of an f64 buffer.
fn resize_dim(
    src: &[f64],
    (w, h): (usize, usize),
    out_len: usize,
    horizontal: bool,
) -> (Vec<f64>, usize, usize) {
    let in_len = if horizontal { w } else { h };
    let c = contributions(in_len, out_len);
    let (ow, oh) = if horizontal {
        (out_len, h)
    } else {
        (w, out_len)
    };
    let mut out = vec![0.0; ow * oh];
    // Rows across the cores; each value is summed tap by tap in the same order either way.
    out.par_chunks_mut(ow).enumerate().for_each(|(y, row)| {
        if horizontal {
            let src_row = &src[y * w..(y + 1) * w];
            for (x, o) in row.iter_mut().enumerate() {
                let k = x * c.taps;
                let mut acc = 0.0;
                for (&s, &wt) in c.indices[k..k + c.taps]
                    .iter()
                    .zip(&c.weights[k..k + c.taps])
                {
                    acc += wt * src_row[s];
                }
                *o = acc;
            }
        } else {
            // One weighted source row at a time: the same sums, vectorised along the row.
            let k = y * c.taps;
            for (&s, &wt) in c.indices[k..k + c.taps]
                .iter()
                .zip(&c.weights[k..k + c.taps])
            {
                let src_row = &src[s * w..(s + 1) * w];
                for (o, &v) in row.iter_mut().zip(src_row) {
                    *o += wt * v;
                }
            }
        }
    });
    (out, ow, oh)
}

/// The dense `out_len x in_len` matrix of one dimension's resize: `out = M * in`. Training
/// uses it to up-scale batches inside the autodiff graph with the very same weights.
pub fn resize_matrix(in_len: usize, out_len: usize) -> Vec<f32> {
    let c = contributions(in_len, out_len);
    let mut m = vec![0.0f64; out_len * in_len];
    for o in 0..out_len {
        for t in 0..c.taps {
            let k = o * c.taps + t;
            m[o * in_len + c.indices[k]] += c.weights[k];
        }
    }
    m.into_iter().map(|v| v as f32).collect()
}

/// `imresize(plane, [out_height out_width], 'bicubic')`.
pub fn imresize_bicubic(src: &Plane, out_width: usize, out_height: usize) -> Plane {
    assert!(src.width > 0 && src.height > 0 && out_width > 0 && out_height > 0);
    let mut buf: Vec<f64> = src.data.iter().map(|&v| v as f64).collect();
    let (mut w, mut h) = (src.width, src.height);
    let scale_h = out_height as f64 / src.height as f64;
    let scale_w = out_width as f64 / src.width as f64;
    // MATLAB resizes the dimension with the smaller scale first (rows on a tie).
    let height_first = scale_h <= scale_w;
    for pass in 0..2 {
        let horizontal = (pass == 1) == height_first;
        let (target, current) = if horizontal {
            (out_width, w)
        } else {
            (out_height, h)
        };
        if target == current {
            continue; // MATLAB skips a dimension whose scale is exactly 1
        }
        let (next, nw, nh) = resize_dim(&buf, (w, h), target, horizontal);
        buf = next;
        w = nw;
        h = nh;
    }
    Plane::new(w, h, buf.into_iter().map(|v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_plane_stays_constant() {
        let p = Plane::new(3, 2, vec![0.25; 6]);
        let up = imresize_bicubic(&p, 5, 3);
        assert_eq!((up.width, up.height), (5, 3));
        for v in up.data {
            assert!((v - 0.25).abs() < 1e-6);
        }
    }

    #[test]
    fn matches_matlab_on_a_small_ramp() {
        // Worked by hand from MATLAB's contributions(): at x = 1, u = 0.75, taps -2..3 with
        // weights [0, -0.0234375, 0.2265625, 0.8671875, -0.0703125, 0] over the mirrored
        // samples [., 1, 0, 0, 1, .] give -0.09375. The golden-stage test checks real images.
        let p = Plane::new(4, 1, vec![0.0, 1.0, 2.0, 3.0]);
        let up = imresize_bicubic(&p, 8, 1);
        let want = [
            -0.09375, 0.1796875, 0.7265625, 1.25, 1.75, 2.2734375, 2.8203125, 3.09375,
        ];
        for (a, b) in up.data.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{:?}", up.data);
        }
    }

    #[test]
    fn resize_matrix_is_the_same_resize() {
        let p = Plane::new(6, 1, vec![0.1, 0.5, 0.2, 0.9, 0.4, 0.3]);
        let up = imresize_bicubic(&p, 12, 1);
        let m = resize_matrix(6, 12);
        for (o, v) in up.data.iter().enumerate() {
            let via: f32 = (0..6).map(|i| m[o * 6 + i] * p.data[i]).sum();
            assert!((via - v).abs() < 1e-6);
        }
    }

    #[test]
    fn single_pixel_enlarges_to_constant() {
        let p = Plane::new(1, 1, vec![0.5]);
        let up = imresize_bicubic(&p, 2, 2);
        assert_eq!(up.data, vec![0.5; 4]);
    }
}
