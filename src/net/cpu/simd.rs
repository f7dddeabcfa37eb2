//! The few vector operations the kernels need, for AVX2 + FMA (8 lanes), AVX-512F (16 lanes)
//! and a portable 8-lane fallback. Kernels are generic over [`Vector`] and instantiated inside
//! `#[target_feature]` functions, so each instance compiles to that instruction set.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A register of `LANES` f32 values. Every method is `unsafe`: pointers must be valid for
/// `LANES` values (one for [`Vector::splat`]), and the CPU must have the instruction set.
pub(crate) trait Vector: Copy {
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn set1(v: f32) -> Self;
    /// Unaligned load of `LANES` values.
    unsafe fn load(p: *const f32) -> Self;
    /// One value broadcast to every lane.
    unsafe fn splat(p: *const f32) -> Self;
    /// `a * b + acc`, fused where the CPU has FMA.
    unsafe fn fma(a: Self, b: Self, acc: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    unsafe fn max0(a: Self) -> Self;
    unsafe fn store(p: *mut f32, a: Self);
}

/// 8-lane vectors that can sum 8 registers across their lanes at once.
pub(crate) trait Sum8: Vector {
    /// Lane `i` of the result is the sum of the lanes of `a[i]`.
    unsafe fn sum8(a: [Self; 8]) -> Self;
}

/// Plain Rust, for CPUs without AVX2 + FMA (and to test the kernels' logic anywhere).
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; 8]);

impl Vector for Portable {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Self([0.0; 8])
    }
    #[inline(always)]
    unsafe fn set1(v: f32) -> Self {
        Self([v; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(std::ptr::read_unaligned(p as *const [f32; 8]))
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        Self([*p; 8])
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, acc: Self) -> Self {
        let mut r = acc.0;
        for ((r, x), y) in r.iter_mut().zip(a.0).zip(b.0) {
            *r += x * y;
        }
        Self(r)
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        let mut r = a.0;
        for (r, y) in r.iter_mut().zip(b.0) {
            *r += y;
        }
        Self(r)
    }
    #[inline(always)]
    unsafe fn max0(a: Self) -> Self {
        Self(a.0.map(|v| v.max(0.0)))
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, a: Self) {
        std::ptr::write_unaligned(p as *mut [f32; 8], a.0)
    }
}

impl Sum8 for Portable {
    #[inline(always)]
    unsafe fn sum8(a: [Self; 8]) -> Self {
        Self(a.map(|v| v.0.iter().sum()))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    /// AVX2 + FMA: 8 lanes in a YMM register.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    impl Vector for Avx2 {
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> Self {
            Self(_mm256_setzero_ps())
        }
        #[inline(always)]
        unsafe fn set1(v: f32) -> Self {
            Self(_mm256_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Self(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> Self {
            Self(_mm256_broadcast_ss(&*p))
        }
        #[inline(always)]
        unsafe fn fma(a: Self, b: Self, acc: Self) -> Self {
            Self(_mm256_fmadd_ps(a.0, b.0, acc.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            Self(_mm256_add_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn max0(a: Self) -> Self {
            Self(_mm256_max_ps(a.0, _mm256_setzero_ps()))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, a: Self) {
            _mm256_storeu_ps(p, a.0)
        }
    }

    impl Sum8 for Avx2 {
        #[inline(always)]
        unsafe fn sum8(a: [Self; 8]) -> Self {
            // Pairwise horizontal adds leave, per 128-bit half, the partial sums of four
            // registers; adding the halves completes them.
            let t0 = _mm256_hadd_ps(a[0].0, a[1].0);
            let t1 = _mm256_hadd_ps(a[2].0, a[3].0);
            let t2 = _mm256_hadd_ps(a[4].0, a[5].0);
            let t3 = _mm256_hadd_ps(a[6].0, a[7].0);
            let u0 = _mm256_hadd_ps(t0, t1);
            let u1 = _mm256_hadd_ps(t2, t3);
            let lo = _mm256_permute2f128_ps(u0, u1, 0x20);
            let hi = _mm256_permute2f128_ps(u0, u1, 0x31);
            Self(_mm256_add_ps(lo, hi))
        }
    }

    /// AVX-512F: 16 lanes in a ZMM register.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    impl Vector for Avx512 {
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> Self {
            Self(_mm512_setzero_ps())
        }
        #[inline(always)]
        unsafe fn set1(v: f32) -> Self {
            Self(_mm512_set1_ps(v))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Self(_mm512_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> Self {
            Self(_mm512_set1_ps(*p))
        }
        #[inline(always)]
        unsafe fn fma(a: Self, b: Self, acc: Self) -> Self {
            Self(_mm512_fmadd_ps(a.0, b.0, acc.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            Self(_mm512_add_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn max0(a: Self) -> Self {
            Self(_mm512_max_ps(a.0, _mm512_setzero_ps()))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, a: Self) {
            _mm512_storeu_ps(p, a.0)
        }
    }
}
