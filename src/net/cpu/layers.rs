//! Single 3x3 convolutions (stride 1, zero padding 1) on batches of channels-last images, on
//! the inference kernels: the forward pass and both gradients of training
//! (`train::fastconv`). Tensors are `[n][h][w][c]`; weights `[cout][cin][3][3]` as stored.
//! Work is split into (image, row band) units across rayon's threads.

use rayon::prelude::*;

use super::kernels::{
    direct_kernel, reduce_kernel, weight_grad_kernel, DirectRow, ReduceRow, WeightGradRow,
};
use super::network::{pack_direct_weights, pack_reduce_weights, AlignedBuf, ConvSpec};
use super::Isa;

/// Shape of a batch of channels-last images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    pub n: usize,
    pub h: usize,
    pub w: usize,
}

impl Batch {
    /// (image, first row, end row) units: whole images when there are enough of them to keep
    /// every thread busy, else bands of rows.
    fn units(self) -> Vec<(usize, usize, usize)> {
        let threads = rayon::current_num_threads();
        let bands = (2 * threads).div_ceil(self.n).clamp(1, self.h.max(1));
        (0..self.n)
            .flat_map(|i| {
                (0..bands).map(move |b| (i, self.h * b / bands, self.h * (b + 1) / bands))
            })
            .filter(|&(_, r0, r1)| r1 > r0)
            .collect()
    }
}

/// Three padded input rows of one image, loaded as a band walks down it.
struct InputRows {
    ring: AlignedBuf,
    zero: AlignedBuf,
    row: usize,
    pix: usize,
    next: usize,
}

impl InputRows {
    fn new(w: usize, pix: usize) -> Self {
        let row = ((w + 2) * pix).next_multiple_of(16);
        Self {
            ring: AlignedBuf::zeroed(3 * row),
            zero: AlignedBuf::zeroed(row),
            row,
            pix,
            next: 0,
        }
    }

    /// The rows `y - 1 ..= y + 1` of `image` (`h` rows of `w * pix` floats), loading the
    /// ones not yet loaded; `y` must not decrease between calls.
    fn around(&mut self, image: &[f32], h: usize, w: usize, y: usize) -> [*const f32; 3] {
        self.next = self.next.max(y.saturating_sub(1));
        while self.next <= (y + 1).min(h - 1) {
            let r = self.next;
            let slot = (r % 3) * self.row + self.pix;
            let dst = &mut self.ring.as_mut_slice()[slot..slot + w * self.pix];
            dst.copy_from_slice(&image[r * w * self.pix..(r + 1) * w * self.pix]);
            self.next += 1;
        }
        let base = self.ring.ptr();
        [0, 1, 2].map(|ky| {
            let r = (y + ky).wrapping_sub(1);
            if r < h {
                // SAFETY: three rows of `row` floats.
                unsafe { base.add((r % 3) * self.row) }
            } else {
                self.zero.ptr()
            }
        })
    }
}

struct SyncPtr(*mut f32);
// SAFETY: the units of one call write disjoint rows through it.
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// The convolution of `x` (`cin` channels) with `weight` and `bias` (zero when `None`):
/// `cout` channels.
pub fn conv3x3(
    isa: Isa,
    x: &[f32],
    shape: Batch,
    cin: usize,
    weight: &[f32],
    bias: Option<&[f32]>,
    cout: usize,
) -> Vec<f32> {
    let Batch { n, h, w } = shape;
    assert_eq!(x.len(), n * h * w * cin, "input size");
    assert_eq!(weight.len(), cout * cin * 9, "weight size");
    assert!(Isa::available().contains(&isa), "this CPU lacks {isa}");
    let mut out = vec![0f32; n * h * w * cout];
    if out.is_empty() {
        return out;
    }
    let zeros = vec![0f32; cout];
    let spec = ConvSpec {
        weight,
        bias: bias.unwrap_or(&zeros),
        cin,
        cout,
        stride: 1,
        relu: false,
    };
    // A few output channels from 8-channel multiples: the one-channel kernel, once per
    // output channel; else the direct kernels.
    let reduce = cout <= 3 && cin.is_multiple_of(8);
    let reduce_weights: Vec<AlignedBuf> = match reduce {
        true => (0..cout)
            .map(|oc| pack_reduce_weights(&spec, oc, cin))
            .collect(),
        false => Vec::new(),
    };
    let direct = (!reduce).then(|| {
        let k = direct_kernel(isa, cout);
        let out_pix = cout.next_multiple_of(k.block);
        let (weights, bias) = pack_direct_weights(&spec, k.block, out_pix);
        (k, out_pix, weights, bias)
    });
    let out_pix = direct.as_ref().map_or(cout, |d| d.1);
    let reduce_fn = reduce_kernel(isa);
    let dst = SyncPtr(out.as_mut_ptr());
    shape.units().into_par_iter().for_each(|(img, r0, r1)| {
        let image = &x[img * h * w * cin..(img + 1) * h * w * cin];
        let mut rows = InputRows::new(w, cin);
        let mut tmp = AlignedBuf::zeroed(w * out_pix.max(8));
        for y in r0..r1 {
            let input = rows.around(image, h, w, y);
            // SAFETY: every unit writes only its own rows of `out`.
            let out_row = unsafe { dst.get().add((img * h + y) * w * cout) };
            unsafe {
                match &direct {
                    None => {
                        for (oc, (&b, packed)) in spec.bias.iter().zip(&reduce_weights).enumerate()
                        {
                            let target = if cout == 1 { out_row } else { tmp.ptr_mut() };
                            reduce_fn(&ReduceRow {
                                rows: input,
                                in_pix: cin,
                                stride: 1,
                                weights: packed.ptr(),
                                bias: b,
                                out: target,
                                width: w,
                            });
                            if cout > 1 {
                                for px in 0..w {
                                    *out_row.add(px * cout + oc) = *tmp.ptr().add(px);
                                }
                            }
                        }
                    }
                    Some((k, out_pix, weights, bias)) => {
                        let out_pix = *out_pix;
                        let direct = out_pix == cout;
                        let target = if direct { out_row } else { tmp.ptr_mut() };
                        (k.run)(&DirectRow {
                            rows: input,
                            in_pix: cin,
                            cin,
                            stride: 1,
                            weights: weights.ptr(),
                            bias: bias.ptr(),
                            out: target,
                            out_pix,
                            width: w,
                            relu: false,
                            blocks: out_pix / k.block,
                        });
                        if !direct {
                            for px in 0..w {
                                std::ptr::copy_nonoverlapping(
                                    tmp.ptr().add(px * out_pix),
                                    out_row.add(px * cout),
                                    cout,
                                );
                            }
                        }
                    }
                }
            }
        }
    });
    out
}

/// The gradient of [`conv3x3`] with respect to its input, for the output gradient `dy`:
/// the convolution of `dy` with the kernel flipped in space, its channels exchanged.
pub fn conv3x3_input_grad(
    isa: Isa,
    dy: &[f32],
    shape: Batch,
    cout: usize,
    weight: &[f32],
    cin: usize,
) -> Vec<f32> {
    let mut adjoint = vec![0f32; weight.len()];
    for oc in 0..cout {
        for ci in 0..cin {
            for tap in 0..9 {
                adjoint[(ci * cout + oc) * 9 + 8 - tap] = weight[(oc * cin + ci) * 9 + tap];
            }
        }
    }
    conv3x3(isa, dy, shape, cout, &adjoint, None, cin)
}

/// The gradients of [`conv3x3`] with respect to its weight (`[cout][cin][3][3]`) and bias,
/// for input `x` and output gradient `dy`.
pub fn conv3x3_weight_grad(
    isa: Isa,
    x: &[f32],
    dy: &[f32],
    shape: Batch,
    cin: usize,
    cout: usize,
) -> (Vec<f32>, Vec<f32>) {
    let Batch { n, h, w } = shape;
    assert_eq!(x.len(), n * h * w * cin, "input size");
    assert_eq!(dy.len(), n * h * w * cout, "output gradient size");
    assert!(Isa::available().contains(&isa), "this CPU lacks {isa}");
    if n * h * w == 0 {
        return (vec![0f32; cout * cin * 9], vec![0f32; cout]);
    }
    let kernel = weight_grad_kernel(isa, cout);
    let dy_pix = cout.next_multiple_of(kernel.block);
    let acc_len = 9 * cin * dy_pix;
    let partial = |(img, r0, r1): (usize, usize, usize)| {
        let image = &x[img * h * w * cin..(img + 1) * h * w * cin];
        let mut rows = InputRows::new(w, cin);
        let mut acc = AlignedBuf::zeroed(acc_len);
        let mut bias = vec![0f64; cout];
        let mut padded = AlignedBuf::zeroed(w * dy_pix);
        for y in r0..r1 {
            let input = rows.around(image, h, w, y);
            let row = &dy[(img * h + y) * w * cout..(img * h + y + 1) * w * cout];
            for px in row.chunks_exact(cout) {
                for (b, &g) in bias.iter_mut().zip(px) {
                    *b += g as f64;
                }
            }
            let dy_row = if dy_pix == cout {
                row.as_ptr()
            } else {
                let p = padded.as_mut_slice();
                for (dst, src) in p.chunks_exact_mut(dy_pix).zip(row.chunks_exact(cout)) {
                    dst[..cout].copy_from_slice(src);
                }
                padded.ptr()
            };
            // SAFETY: rows of `w` pixels, accumulators `[9][cin][dy_pix]`.
            unsafe {
                (kernel.run)(&WeightGradRow {
                    rows: input,
                    in_pix: cin,
                    cin,
                    dy: dy_row,
                    dy_pix,
                    acc: acc.ptr_mut(),
                    width: w,
                })
            };
        }
        let acc: Vec<f64> = acc.as_mut_slice().iter().map(|&v| v as f64).collect();
        (acc, bias)
    };
    let add = |(mut a, mut b): (Vec<f64>, Vec<f64>), (c, d): (Vec<f64>, Vec<f64>)| {
        a.iter_mut().zip(c).for_each(|(x, y)| *x += y);
        b.iter_mut().zip(d).for_each(|(x, y)| *x += y);
        (a, b)
    };
    let (acc, bias) = shape
        .units()
        .into_par_iter()
        .map(partial)
        .reduce(|| (vec![0f64; acc_len], vec![0f64; cout]), add);
    let mut grad = vec![0f32; cout * cin * 9];
    for tap in 0..9 {
        for ci in 0..cin {
            for oc in 0..cout {
                grad[(oc * cin + ci) * 9 + tap] = acc[(tap * cin + ci) * dy_pix + oc] as f32;
            }
        }
    }
    (grad, bias.into_iter().map(|v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// The convolution and its gradients, by definition, in f64.
    fn reference(
        x: &[f32],
        dy: &[f32],
        s: Batch,
        cin: usize,
        weight: &[f32],
        bias: &[f32],
        cout: usize,
    ) -> [Vec<f64>; 4] {
        let mut y = vec![0f64; s.n * s.h * s.w * cout];
        let mut dx = vec![0f64; x.len()];
        let mut dw = vec![0f64; weight.len()];
        let mut db = vec![0f64; cout];
        let at = |i: usize, yy: usize, xx: usize, c: usize, ch: usize| {
            ((i * s.h + yy) * s.w + xx) * ch + c
        };
        for i in 0..s.n {
            for yy in 0..s.h {
                for xx in 0..s.w {
                    for oc in 0..cout {
                        let o = at(i, yy, xx, oc, cout);
                        let g = dy[o] as f64;
                        let mut acc = bias[oc] as f64;
                        db[oc] += g;
                        for tap in 0..9 {
                            let (sy, sx) = (yy + tap / 3, xx + tap % 3);
                            if sy == 0 || sx == 0 || sy > s.h || sx > s.w {
                                continue;
                            }
                            for ci in 0..cin {
                                let xi = at(i, sy - 1, sx - 1, ci, cin);
                                let wi = (oc * cin + ci) * 9 + tap;
                                acc += x[xi] as f64 * weight[wi] as f64;
                                dx[xi] += g * weight[wi] as f64;
                                dw[wi] += g * x[xi] as f64;
                            }
                        }
                        y[o] = acc;
                    }
                }
            }
        }
        [y, dx, dw, db]
    }

    #[test]
    fn forward_and_gradients_match_the_definition() {
        for isa in Isa::available() {
            for (n, h, w, cin, cout) in [
                (2, 5, 7, 1, 32),
                (3, 4, 3, 32, 32),
                (1, 9, 6, 16, 1),
                (2, 3, 5, 8, 3),
                (1, 1, 1, 5, 7),
                (2, 6, 4, 64, 64),
                (1, 2, 17, 12, 24),
            ] {
                let s = Batch { n, h, w };
                let x = values(n * h * w * cin, 1);
                let dy = values(n * h * w * cout, 2);
                let weight = values(cout * cin * 9, 3);
                let bias = values(cout, 4);
                let want = reference(&x, &dy, s, cin, &weight, &bias, cout);
                let got = [
                    conv3x3(isa, &x, s, cin, &weight, Some(&bias), cout),
                    conv3x3_input_grad(isa, &dy, s, cout, &weight, cin),
                    conv3x3_weight_grad(isa, &x, &dy, s, cin, cout).0,
                    conv3x3_weight_grad(isa, &x, &dy, s, cin, cout).1,
                ];
                for (what, (g, r)) in ["output", "input grad", "weight grad", "bias grad"]
                    .iter()
                    .zip(got.iter().zip(&want))
                {
                    assert_eq!(g.len(), r.len(), "{what}");
                    for (i, (a, b)) in g.iter().zip(r).enumerate() {
                        assert!(
                            (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                            "{isa} {what}[{i}] {a} vs {b} for {n}x{h}x{w}, {cin} -> {cout}"
                        );
                    }
                }
            }
        }
    }
}
