//! Row kernels of a 3x3 convolution with zero padding 1 on channels-last rows.
//!
//! Every activation row is stored as `width + 2` pixels of `channels` floats, the first and
//! last pixel zero (the padding), so the kernels have no edge cases: an output pixel `x` with
//! stride `s` reads the padded input pixels `s*x .. s*x + 2` of three input rows.
//!
//! - [`DirectRow`]: many output channels (every layer but the last). A register tile of `P`
//!   output pixels x `NV` vectors of output channels accumulates, for each tap and input
//!   channel, one broadcast input value times `NV` weight vectors. Bias and ReLU are applied
//!   at the store. The tile sizes fill the register file without spilling.
//! - [`ReduceRow`]: one output channel (the image-channel last layer, memory-bound): 8 output
//!   pixels at a time, each a vector of partial sums over input channels, summed across lanes
//!   with one transposing reduction.

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use super::simd::{Portable, Sum8, Vector};
use super::Isa;

/// One output row of a many-channel layer.
pub(crate) struct DirectRow {
    /// The three padded input rows (dy = -1, 0, +1), or a zero row beyond the image.
    pub rows: [*const f32; 3],
    /// Floats per input pixel (the input's stored channels).
    pub in_pix: usize,
    /// Input channels the weights cover (at most `in_pix`; the rest are zero).
    pub cin: usize,
    pub stride: usize,
    /// Packed as `[block][ky][kx][cin][block_channels]`.
    pub weights: *const f32,
    /// `blocks * block_channels` values.
    pub bias: *const f32,
    /// Output pixel 0 of the row (its padding pixel, if any, lies before it); pixels
    /// `0..width` are written.
    pub out: *mut f32,
    /// Floats per output pixel (`blocks * block_channels`).
    pub out_pix: usize,
    pub width: usize,
    pub relu: bool,
    pub blocks: usize,
}

/// One output row of a one-channel layer.
pub(crate) struct ReduceRow {
    pub rows: [*const f32; 3],
    /// Floats per input pixel: a multiple of 8, channels beyond the weights' being zero.
    pub in_pix: usize,
    pub stride: usize,
    /// Packed as `[ky][kx][in_pix]`.
    pub weights: *const f32,
    pub bias: f32,
    /// The unpadded output row of `width` values.
    pub out: *mut f32,
    pub width: usize,
}

pub(crate) type DirectFn = unsafe fn(&DirectRow);
pub(crate) type ReduceFn = unsafe fn(&ReduceRow);

/// A direct kernel and the output-channel blocking its weights are packed for.
#[derive(Clone, Copy)]
pub(crate) struct DirectKernel {
    pub run: DirectFn,
    /// Output channels per block (`NV` x lanes); stored channels are a multiple of it.
    pub block: usize,
    pub name: &'static str,
}

/// The fastest direct kernel of `isa` for a layer with `cout` output channels.
pub(crate) fn direct_kernel(isa: Isa, cout: usize) -> DirectKernel {
    let k = |run: DirectFn, block, name| DirectKernel { run, block, name };
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if cout.is_multiple_of(64) => k(direct_avx512_4x6, 64, "avx512 64x6"),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if cout.is_multiple_of(32) => k(direct_avx512_2x12, 32, "avx512 32x12"),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if cout.is_multiple_of(16) => k(direct_avx512_1x16, 16, "avx512 16x16"),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2 if cout.div_ceil(8).is_multiple_of(2) => {
            k(direct_avx2_2x4, 16, "avx2 16x4")
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2 => k(direct_avx2_1x8, 8, "avx2 8x8"),
        _ => k(direct_portable, 8, "portable 8x4"),
    }
}

/// The one-channel kernel of `isa`.
pub(crate) fn reduce_kernel(isa: Isa) -> ReduceFn {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2 => reduce_avx2,
        _ => reduce_portable,
    }
}

macro_rules! direct_entry {
    ($name:ident, $v:ty, $nv:literal, $p:literal, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(a: &DirectRow) {
            direct_row::<$v, $nv, $p>(a)
        }
    };
}

// Registers: P x NV accumulators + NV weights + 1 broadcast, within 32 ZMM / 16 YMM.
direct_entry!(direct_avx512_4x6, Avx512, 4, 6, "avx512f,avx2,fma");
direct_entry!(direct_avx512_2x12, Avx512, 2, 12, "avx512f,avx2,fma");
direct_entry!(direct_avx512_1x16, Avx512, 1, 16, "avx512f,avx2,fma");
direct_entry!(direct_avx2_2x4, Avx2, 2, 4, "avx2,fma");
direct_entry!(direct_avx2_1x8, Avx2, 1, 8, "avx2,fma");

unsafe fn direct_portable(a: &DirectRow) {
    direct_row::<Portable, 1, 4>(a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn reduce_avx2(a: &ReduceRow) {
    reduce_row::<Avx2>(a)
}

unsafe fn reduce_portable(a: &ReduceRow) {
    reduce_row::<Portable>(a)
}

/// Work done in tiles along one axis, the tile's length a const parameter (so that each
/// length gets its own register allocation).
trait Tiles {
    unsafe fn tile<const Q: usize>(&self, start: usize);
}

/// `tiles.tile::<P>` over `0..len` in steps of `P`, then the rest in tiles of 8, 4, 2 and 1
/// (each shorter than `P`).
#[inline(always)]
unsafe fn for_each_tile<const P: usize, T: Tiles>(len: usize, tiles: &T) {
    let mut start = 0;
    while start + P <= len {
        tiles.tile::<P>(start);
        start += P;
    }
    let mut rest = len - start;
    if rest >= 8 {
        tiles.tile::<8>(start);
        (start, rest) = (start + 8, rest - 8);
    }
    if rest >= 4 {
        tiles.tile::<4>(start);
        (start, rest) = (start + 4, rest - 4);
    }
    if rest >= 2 {
        tiles.tile::<2>(start);
        (start, rest) = (start + 2, rest - 2);
    }
    if rest == 1 {
        tiles.tile::<1>(start);
    }
}

/// One block of output channels of a direct row, tiled along the row's pixels.
struct DirectTiles<'a, V, const NV: usize> {
    row: &'a DirectRow,
    weights: *const f32,
    bias: *const f32,
    oc0: usize,
    vector: std::marker::PhantomData<V>,
}

impl<V: Vector, const NV: usize> Tiles for DirectTiles<'_, V, NV> {
    #[inline(always)]
    unsafe fn tile<const Q: usize>(&self, x0: usize) {
        direct_tile::<V, NV, Q>(self.row, self.weights, self.bias, x0, self.oc0)
    }
}

#[inline(always)]
unsafe fn direct_row<V: Vector, const NV: usize, const P: usize>(a: &DirectRow) {
    let block = NV * V::LANES;
    for b in 0..a.blocks {
        let tiles = DirectTiles::<V, NV> {
            row: a,
            weights: a.weights.add(b * 9 * a.cin * block),
            bias: a.bias.add(b * block),
            oc0: b * block,
            vector: std::marker::PhantomData,
        };
        for_each_tile::<P, _>(a.width, &tiles);
    }
}

#[inline(always)]
unsafe fn direct_tile<V: Vector, const NV: usize, const P: usize>(
    a: &DirectRow,
    weights: *const f32,
    bias: *const f32,
    x0: usize,
    oc0: usize,
) {
    let mut acc = [[V::zero(); NV]; P];
    for j in 0..NV {
        let b = V::load(bias.add(j * V::LANES));
        for row in acc.iter_mut() {
            row[j] = b;
        }
    }
    // Floats between the inputs of neighbouring output pixels.
    let pixel_step = a.stride * a.in_pix;
    let block = NV * V::LANES;
    let mut w = weights;
    for ky in 0..3 {
        let row = a.rows[ky].add(x0 * pixel_step);
        for kx in 0..3 {
            let src = row.add(kx * a.in_pix);
            for ci in 0..a.cin {
                let mut wv = [V::zero(); NV];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = V::load(w.add(j * V::LANES));
                }
                for (p, acc_p) in acc.iter_mut().enumerate() {
                    let x = V::splat(src.add(p * pixel_step + ci));
                    for j in 0..NV {
                        acc_p[j] = V::fma(x, wv[j], acc_p[j]);
                    }
                }
                w = w.add(block);
            }
        }
    }
    let out = a.out.add(x0 * a.out_pix + oc0);
    for (p, acc_p) in acc.iter().enumerate() {
        for (j, &v) in acc_p.iter().enumerate() {
            let v = if a.relu { V::max0(v) } else { v };
            V::store(out.add(p * a.out_pix + j * V::LANES), v);
        }
    }
}

#[inline(always)]
unsafe fn reduce_row<V: Sum8>(a: &ReduceRow) {
    debug_assert_eq!(V::LANES, 8);
    let pixel_step = a.stride * a.in_pix;
    let blocks = a.in_pix / 8;
    let bias = V::set1(a.bias);
    let mut x = 0;
    while x + 8 <= a.width {
        let mut acc = [V::zero(); 8];
        for ky in 0..3 {
            let row = a.rows[ky].add(x * pixel_step);
            for kx in 0..3 {
                let src = row.add(kx * a.in_pix);
                let w = a.weights.add((ky * 3 + kx) * a.in_pix);
                for b in 0..blocks {
                    let wv = V::load(w.add(b * 8));
                    for (p, acc_p) in acc.iter_mut().enumerate() {
                        *acc_p = V::fma(V::load(src.add(p * pixel_step + b * 8)), wv, *acc_p);
                    }
                }
            }
        }
        V::store(a.out.add(x), V::add(V::sum8(acc), bias));
        x += 8;
    }
    while x < a.width {
        let mut acc = V::zero();
        for ky in 0..3 {
            let row = a.rows[ky].add(x * pixel_step);
            for kx in 0..3 {
                let src = row.add(kx * a.in_pix);
                let w = a.weights.add((ky * 3 + kx) * a.in_pix);
                for b in 0..blocks {
                    acc = V::fma(V::load(src.add(b * 8)), V::load(w.add(b * 8)), acc);
                }
            }
        }
        let mut lanes = [0f32; 8];
        V::store(lanes.as_mut_ptr(), acc);
        *a.out.add(x) = lanes.iter().sum::<f32>() + a.bias;
        x += 1;
    }
}

/// The weight gradient's kernels: training only.
#[cfg(feature = "train")]
mod weight_grad {
    use super::*;

    /// One row's contribution to a 3x3 convolution's weight gradient:
    /// `acc[tap][ci][co] += sum over x of input[x + tap][ci] * dy[x][co]`.
    pub(crate) struct WeightGradRow {
        /// The three padded input rows of the output row.
        pub rows: [*const f32; 3],
        /// Floats per input pixel.
        pub in_pix: usize,
        pub cin: usize,
        /// The output gradient row, `width` pixels of `dy_pix` floats (`dy_pix` a multiple of the
        /// kernel's block, the channels beyond the layer's zero).
        pub dy: *const f32,
        pub dy_pix: usize,
        /// `[9][cin][dy_pix]` accumulators.
        pub acc: *mut f32,
        pub width: usize,
    }

    pub(crate) type WeightGradFn = unsafe fn(&WeightGradRow);

    /// A weight-gradient kernel and the output-channel block `dy_pix` must be a multiple of.
    #[derive(Clone, Copy)]
    pub(crate) struct WeightGradKernel {
        pub run: WeightGradFn,
        pub block: usize,
    }

    /// The weight-gradient kernel of `isa` for `cout` output channels.
    pub(crate) fn weight_grad_kernel(isa: Isa, cout: usize) -> WeightGradKernel {
        let k = |run: WeightGradFn, block| WeightGradKernel { run, block };
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if cout.is_multiple_of(64) => k(weight_grad_avx512_4x6, 64),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if cout.is_multiple_of(32) => k(weight_grad_avx512_2x12, 32),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if cout.is_multiple_of(16) => k(weight_grad_avx512_1x16, 16),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Avx2 if cout.div_ceil(8).is_multiple_of(2) => {
                k(weight_grad_avx2_2x4, 16)
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Avx2 => k(weight_grad_avx2_1x8, 8),
            _ => k(weight_grad_portable, 8),
        }
    }

    macro_rules! weight_grad_entry {
        ($name:ident, $v:ty, $nv:literal, $p:literal, $features:literal) => {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            unsafe fn $name(a: &WeightGradRow) {
                weight_grad_row::<$v, $nv, $p>(a)
            }
        };
    }

    // Registers: P input channels x NV vectors of output channels, as the direct kernels.
    weight_grad_entry!(weight_grad_avx512_4x6, Avx512, 4, 6, "avx512f,avx2,fma");
    weight_grad_entry!(weight_grad_avx512_2x12, Avx512, 2, 12, "avx512f,avx2,fma");
    weight_grad_entry!(weight_grad_avx512_1x16, Avx512, 1, 16, "avx512f,avx2,fma");
    weight_grad_entry!(weight_grad_avx2_2x4, Avx2, 2, 4, "avx2,fma");
    weight_grad_entry!(weight_grad_avx2_1x8, Avx2, 1, 8, "avx2,fma");

    unsafe fn weight_grad_portable(a: &WeightGradRow) {
        weight_grad_row::<Portable, 1, 4>(a)
    }

    /// One tap and block of output channels of a weight-gradient row, tiled along the input
    /// channels.
    struct WeightGradTiles<'a, V, const NV: usize> {
        row: &'a WeightGradRow,
        src: *const f32,
        acc: *mut f32,
        oc0: usize,
        vector: std::marker::PhantomData<V>,
    }

    impl<V: Vector, const NV: usize> Tiles for WeightGradTiles<'_, V, NV> {
        #[inline(always)]
        unsafe fn tile<const Q: usize>(&self, c0: usize) {
            weight_grad_tile::<V, NV, Q>(self.row, self.src, self.acc, c0, self.oc0)
        }
    }

    #[inline(always)]
    unsafe fn weight_grad_row<V: Vector, const NV: usize, const P: usize>(a: &WeightGradRow) {
        let block = NV * V::LANES;
        for b in 0..a.dy_pix / block {
            let oc0 = b * block;
            for tap in 0..9 {
                let (ky, kx) = (tap / 3, tap % 3);
                let tiles = WeightGradTiles::<V, NV> {
                    row: a,
                    src: a.rows[ky].add(kx * a.in_pix),
                    acc: a.acc.add(tap * a.cin * a.dy_pix + oc0),
                    oc0,
                    vector: std::marker::PhantomData,
                };
                for_each_tile::<P, _>(a.cin, &tiles);
            }
        }
    }

    /// Input channels `c0..c0 + P` x one block of output channels, over the whole row.
    #[inline(always)]
    unsafe fn weight_grad_tile<V: Vector, const NV: usize, const P: usize>(
        a: &WeightGradRow,
        src: *const f32,
        acc: *mut f32,
        c0: usize,
        oc0: usize,
    ) {
        let mut sum = [[V::zero(); NV]; P];
        for (p, sum_p) in sum.iter_mut().enumerate() {
            for (j, s) in sum_p.iter_mut().enumerate() {
                *s = V::load(acc.add((c0 + p) * a.dy_pix + j * V::LANES));
            }
        }
        for x in 0..a.width {
            let dy = a.dy.add(x * a.dy_pix + oc0);
            let mut g = [V::zero(); NV];
            for (j, v) in g.iter_mut().enumerate() {
                *v = V::load(dy.add(j * V::LANES));
            }
            let input = src.add(x * a.in_pix + c0);
            for (p, sum_p) in sum.iter_mut().enumerate() {
                let v = V::splat(input.add(p));
                for j in 0..NV {
                    sum_p[j] = V::fma(v, g[j], sum_p[j]);
                }
            }
        }
        for (p, sum_p) in sum.iter().enumerate() {
            for (j, &s) in sum_p.iter().enumerate() {
                V::store(acc.add((c0 + p) * a.dy_pix + j * V::LANES), s);
            }
        }
    }
}

#[cfg(feature = "train")]
pub(crate) use weight_grad::*;
