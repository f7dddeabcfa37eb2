//! BatchNorm's loops for training on channels-last rows (channels innermost, so they
//! vectorise over channels), compiled for AVX-512, AVX2 and plain x86-64 and picked at run
//! time as the kernels are. Every version computes the same values: no sum is reordered.

use super::Isa;

/// Defines `fn $name(args)` that runs a copy of `$body` compiled for the CPU's instruction
/// set (see [`Isa::detect`]).
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $body
                match Isa::detect() {
                    // SAFETY: the CPU has the instruction set.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    Isa::Portable => {}
                }
            }
            #[allow(clippy::too_many_arguments)]
            fn portable($($arg: $ty),*) $body
            portable($($arg),*)
        }
    };
}

multiversion! {
    /// `sums[ch] += x[ch]` over the pixels of `row` (`c` channels each).
    pub fn add_row(row: &[f32], c: usize, sums: &mut [f32]) {
        for px in row.chunks_exact(c) {
            for (s, &v) in sums.iter_mut().zip(px) {
                *s += v;
            }
        }
    }
}

multiversion! {
    /// `sums[ch] += (x[ch] - mean[ch])^2` over the pixels of `row`.
    pub fn add_squared_deviations_row(row: &[f32], c: usize, mean: &[f32], sums: &mut [f32]) {
        for px in row.chunks_exact(c) {
            for ((s, &v), &m) in sums.iter_mut().zip(px).zip(mean) {
                *s += (v - m) * (v - m);
            }
        }
    }
}

multiversion! {
    /// `y = x * scale + shift`, negative values zeroed when `relu`, per channel.
    pub fn affine_row(x: &[f32], y: &mut [f32], c: usize, scale: &[f32], shift: &[f32], relu: bool) {
        for (yp, xp) in y.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
            for ((y, &x), (&k, &b)) in yp.iter_mut().zip(xp).zip(scale.iter().zip(shift)) {
                let v = x * k + b;
                // NaN passes, so that a diverging run shows.
                *y = if relu && v < 0.0 { 0.0 } else { v };
            }
        }
    }
}

multiversion! {
    /// BatchNorm's backward sums over a row: `dbeta += g`, `dgamma += g * x_hat`, where `g`
    /// is the output gradient passed by the fused ReLU (where `x * k + b > 0`).
    pub fn add_grad_sums_row(
        x: &[f32],
        grad: &[f32],
        c: usize,
        mean: &[f32],
        inv_std: &[f32],
        k: &[f32],
        b: &[f32],
        dbeta: &mut [f32],
        dgamma: &mut [f32],
    ) {
        for (xp, gp) in x.chunks_exact(c).zip(grad.chunks_exact(c)) {
            for ((((sb, sg), (&x, &g)), (&m, &s)), (&k, &b)) in dbeta
                .iter_mut()
                .zip(dgamma.iter_mut())
                .zip(xp.iter().zip(gp))
                .zip(mean.iter().zip(inv_std))
                .zip(k.iter().zip(b))
            {
                let g = if x * k + b > 0.0 { g } else { 0.0 };
                *sb += g;
                *sg += g * (x - m) * s;
            }
        }
    }
}

multiversion! {
    /// BatchNorm's input gradient over a row:
    /// `dx = scale * (g - mean_g - x_hat * mean_g_x_hat)` with `g` passed as in
    /// [`add_grad_sums_row`].
    pub fn input_grad_row(
        x: &[f32],
        grad: &[f32],
        dx: &mut [f32],
        c: usize,
        mean: &[f32],
        inv_std: &[f32],
        k: &[f32],
        b: &[f32],
        scale: &[f32],
        mean_g: &[f32],
        mean_g_x_hat: &[f32],
    ) {
        for ((dp, xp), gp) in dx.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(grad.chunks_exact(c)) {
            for (((d, (&x, &g)), ((&m, &s), (&k, &b))), ((&sc, &mb), &mg)) in dp
                .iter_mut()
                .zip(xp.iter().zip(gp))
                .zip(mean.iter().zip(inv_std).zip(k.iter().zip(b)))
                .zip(scale.iter().zip(mean_g).zip(mean_g_x_hat))
            {
                let g = if x * k + b > 0.0 { g } else { 0.0 };
                *d = sc * (g - mb - (x - m) * s * mg);
            }
        }
    }
}
