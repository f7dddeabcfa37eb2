use super::*;
use crate::net::architecture::{ComCnnConfig, RecCnnConfig};
use crate::net::backend::CpuBackend;
use crate::net::engine::BurnEngine;

fn plane(width: usize, height: usize, seed: usize) -> Plane {
    let data = (0..width * height)
        .map(|i| ((i * 37 + seed * 11) % 251) as f32 / 250.0)
        .collect();
    Plane::new(width, height, data)
}

fn max_abs_diff(a: &Plane, b: &Plane) -> f32 {
    assert_eq!((a.width, a.height), (b.width, b.height), "plane sizes");
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Both networks of `weights` on every instruction set this CPU has agree with burn's
/// model within 1e-4 at `sizes`.
fn assert_matches_burn(weights: &ModelWeights, sizes: &[(usize, usize)]) {
    let burn = BurnEngine::<CpuBackend>::new(weights, Default::default());
    for isa in Isa::available() {
        let fast = CpuEngine::with_isa(weights, isa);
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let input = plane(w, h, i);
            let d = max_abs_diff(&fast.compact(&input), &burn.compact(&input));
            assert!(d < 1e-4, "{} ComCNN {isa} {w}x{h}: {d}", weights.meta.name);
            let d = max_abs_diff(&fast.residual(&input), &burn.residual(&input));
            assert!(d < 1e-4, "{} RecCNN {isa} {w}x{h}: {d}", weights.meta.name);
        }
    }
}

#[test]
fn random_networks_match_burn_at_odd_and_tiny_sizes() {
    // Feature counts that reach every kernel: 8-channel and 16-channel AVX2 blocks, the
    // three AVX-512 blockings, and counts that are not a multiple of 8 (padded channels).
    for (features, depth) in [(8, 3), (16, 4), (32, 5), (64, 3), (48, 3), (5, 4), (20, 3)] {
        let m = ModelWeights::random(
            &format!("random {features} x {depth}"),
            ComCnnConfig::new().with_features(features),
            RecCnnConfig::new()
                .with_features(features)
                .with_depth(depth),
            features as u64,
        );
        assert_matches_burn(&m, &[(1, 1), (3, 5), (2, 2), (17, 9), (40, 23)]);
    }
}

#[test]
fn shipped_models_match_burn() {
    for model in crate::net::builtin::builtin_models() {
        let m = crate::net::builtin::builtin(model.name).unwrap();
        assert_matches_burn(&m, &[(1, 1), (3, 5), (353, 289)]);
    }
}

/// However a frame is cut into row bands (each recomputing its halo), the result is the same.
#[test]
fn row_bands_give_identical_results() {
    let m = ModelWeights::random(
        "bands",
        ComCnnConfig::new().with_features(16),
        RecCnnConfig::new().with_features(16).with_depth(6),
        3,
    );
    for isa in Isa::available() {
        let engine = CpuEngine::with_isa(&m, isa);
        for net in [&engine.comcnn, &engine.reccnn] {
            for (w, h) in [(31, 29), (8, 3)] {
                let input = plane(w, h, 1);
                let (ow, oh) = net.output_size(w, h);
                let run = |bands| {
                    let mut out = vec![0f32; ow * oh];
                    let mut ws = Workspace::default();
                    net.run(&input.data, w, h, &mut out, &mut ws, bands);
                    out
                };
                let one = run(1);
                for bands in [2, 3, 7, 64] {
                    assert_eq!(run(bands), one, "{isa} {w}x{h} in {bands} bands");
                }
            }
        }
    }
}

/// A workspace sized for one frame size is rebuilt for another, and reused for the same.
#[test]
fn frames_of_changing_sizes_reuse_or_rebuild_buffers() {
    let m = ModelWeights::random(
        "sizes",
        ComCnnConfig::new().with_features(8),
        RecCnnConfig::new().with_features(8).with_depth(3),
        4,
    );
    let engine = CpuEngine::new(&m);
    let burn = BurnEngine::<CpuBackend>::new(&m, Default::default());
    for (w, h) in [(20, 10), (7, 30), (20, 10), (1, 1), (20, 10)] {
        let input = plane(w, h, w + h);
        let d = max_abs_diff(&engine.residual(&input), &burn.residual(&input));
        assert!(d < 1e-4, "{w}x{h}: {d}");
    }
}
