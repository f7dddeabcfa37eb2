//! Geometric self-ensemble: RecCNN run on the flips and transposes of a plane, each residual
//! turned back and the results averaged. The networks are not equivariant to these
//! transforms, so their answers differ, and for squared error the mean of them errs no more
//! than they do on average; each transform costs one network pass.

use std::sync::Arc;

use crate::frame::image::Plane;
use crate::net::backend::Engine;

/// One of the eight symmetries of the square, as the steps applied in order: transpose, then
/// mirror left-right, then mirror top-bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Symmetry {
    transpose: bool,
    mirror_x: bool,
    mirror_y: bool,
}

impl Symmetry {
    /// The first `n` symmetries: the identity, the two mirrors and the half turn, then those
    /// four after a transpose.
    fn first(n: usize) -> impl Iterator<Item = Symmetry> {
        (0..n).map(|k| Symmetry {
            transpose: k & 4 != 0,
            mirror_x: k & 1 != 0,
            mirror_y: k & 2 != 0,
        })
    }

    fn apply(self, p: &Plane) -> Plane {
        if self.transpose {
            mirrored(&transposed(p), self.mirror_x, self.mirror_y)
        } else {
            mirrored(p, self.mirror_x, self.mirror_y)
        }
    }

    /// The inverse: the same steps in reverse order (each is its own inverse).
    fn undo(self, p: &Plane) -> Plane {
        let p = mirrored(p, self.mirror_x, self.mirror_y);
        if self.transpose {
            transposed(&p)
        } else {
            p
        }
    }
}

fn transposed(p: &Plane) -> Plane {
    let (w, h) = (p.width, p.height);
    let mut data = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            data[x * h + y] = p.data[y * w + x];
        }
    }
    Plane::new(h, w, data)
}

fn mirrored(p: &Plane, mirror_x: bool, mirror_y: bool) -> Plane {
    let (w, h) = (p.width, p.height);
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        let sy = if mirror_y { h - 1 - y } else { y };
        let row = &p.data[sy * w..(sy + 1) * w];
        if mirror_x {
            data.extend(row.iter().rev());
        } else {
            data.extend_from_slice(row);
        }
    }
    Plane::new(w, h, data)
}

/// The pass counts [`SelfEnsembleEngine`] accepts.
pub const ENSEMBLE_SIZES: [usize; 4] = [1, 2, 4, 8];

/// An [`Engine`] whose RecCNN residual is the mean over `size` symmetries of the plane
/// (1: the plain network; 2: plus the left-right mirror; 4: all mirrors; 8: with transposes).
/// ComCNN is not ensembled: its output is what the codec stores.
pub struct SelfEnsembleEngine {
    inner: Arc<dyn Engine>,
    size: usize,
}

impl SelfEnsembleEngine {
    /// `size` must be one of [`ENSEMBLE_SIZES`].
    pub fn new(inner: Arc<dyn Engine>, size: usize) -> Result<Self, String> {
        if !ENSEMBLE_SIZES.contains(&size) {
            return Err(format!(
                "a self-ensemble of {size} is not offered: use one of {ENSEMBLE_SIZES:?}"
            ));
        }
        Ok(Self { inner, size })
    }
}

impl Engine for SelfEnsembleEngine {
    fn compact(&self, input: &Plane) -> Plane {
        self.inner.compact(input)
    }

    fn residual(&self, upscaled: &Plane) -> Plane {
        let mut sum = vec![0.0f32; upscaled.data.len()];
        for s in Symmetry::first(self.size) {
            let r = s.undo(&self.inner.residual(&s.apply(upscaled)));
            for (acc, v) in sum.iter_mut().zip(&r.data) {
                *acc += v;
            }
        }
        let scale = 1.0 / self.size as f32;
        sum.iter_mut().for_each(|v| *v *= scale);
        Plane::new(upscaled.width, upscaled.height, sum)
    }

    fn describe(&self) -> String {
        format!("{}, self-ensemble of {}", self.inner.describe(), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Plane {
        Plane::new(w, h, (0..w * h).map(|i| i as f32).collect())
    }

    #[test]
    fn every_symmetry_is_undone() {
        let p = ramp(5, 3);
        for s in Symmetry::first(8) {
            let t = s.apply(&p);
            assert_eq!(
                (t.width, t.height),
                if s.transpose { (3, 5) } else { (5, 3) }
            );
            assert_eq!(s.undo(&t).data, p.data, "{s:?}");
        }
    }

    #[test]
    fn the_eight_symmetries_are_distinct() {
        let p = ramp(4, 4);
        let all: Vec<Vec<f32>> = Symmetry::first(8).map(|s| s.apply(&p).data).collect();
        for i in 0..8 {
            for j in i + 1..8 {
                assert_ne!(all[i], all[j], "{i} and {j}");
            }
        }
    }

    /// A position-dependent "network": residual = the pixel's column index in the plane it is
    /// given. Averaged over the left-right mirror, every column gets (w - 1) / 2.
    struct ColumnEngine;

    impl Engine for ColumnEngine {
        fn compact(&self, input: &Plane) -> Plane {
            input.clone()
        }
        fn residual(&self, upscaled: &Plane) -> Plane {
            let w = upscaled.width;
            let data = (0..upscaled.data.len()).map(|i| (i % w) as f32).collect();
            Plane::new(w, upscaled.height, data)
        }
        fn describe(&self) -> String {
            "columns".into()
        }
    }

    #[test]
    fn residuals_are_turned_back_before_averaging() {
        let p = ramp(6, 2);
        let one = SelfEnsembleEngine::new(Arc::new(ColumnEngine), 1).unwrap();
        assert_eq!(one.residual(&p).data, ColumnEngine.residual(&p).data);
        let two = SelfEnsembleEngine::new(Arc::new(ColumnEngine), 2).unwrap();
        assert!(two.residual(&p).data.iter().all(|&v| v == 2.5));
        // With transposes the "column" is the row index for half of them: (2.5 + 0.5) / 2.
        let eight = SelfEnsembleEngine::new(Arc::new(ColumnEngine), 8).unwrap();
        assert!(eight.residual(&p).data.iter().all(|&v| v == 1.5));
    }

    #[test]
    fn other_sizes_are_refused() {
        let e = SelfEnsembleEngine::new(Arc::new(ColumnEngine), 3)
            .err()
            .unwrap();
        assert!(e.contains("[1, 2, 4, 8]"), "{e}");
    }
}
