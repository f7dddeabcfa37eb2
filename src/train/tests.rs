use super::*;
use crate::codec::IdentityCodec;
use crate::net::architecture::{ComCnnConfig, RecCnnConfig};
use crate::net::engine::Engine;

#[test]
fn scaled_images_keep_the_originals_and_add_smaller_copies() {
    let img = GrayImage::new(
        30,
        21,
        (0..30 * 21)
            .map(|i| (i % 7 * 30) as u8)
            .collect::<Vec<u8>>(),
    );
    let flat = GrayImage::new(10, 10, vec![77; 100]);
    let out = scaled_images(&[img.clone(), flat], &[1.0, 0.5]);
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].data, img.data);
    assert_eq!((out[2].width, out[2].height), (15, 11));
    assert_eq!((out[3].width, out[3].height), (5, 5));
    // Resampling keeps a flat image flat (weights sum to 1).
    assert!(out[3].data.iter().all(|&v| v == 77), "{:?}", out[3].data);
}

#[test]
fn patches_cover_the_eight_dihedral_transforms() {
    let p = Plane::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
    let mut seen: Vec<Vec<f32>> = (0..8).map(|a| patch_of(&p, 0, 0, 2, a)).collect();
    seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
    seen.dedup();
    assert_eq!(seen.len(), 8);
}

#[test]
fn patch_candidates_pick_the_window_with_the_largest_error() {
    // The original is flat; the input differs from it only in a bright 4x4 block at (12, 8).
    let orig = Plane::new(24, 16, vec![0.5; 24 * 16]);
    let mut up = orig.clone();
    for r in 8..12 {
        for c in 12..16 {
            up.data[r * 24 + c] = 1.0;
        }
    }
    let pairs = vec![(up, orig)];
    // One candidate: the same windows, from the same draws, as uniform sampling.
    let (mut a, mut b) = (Rng(5), Rng(5));
    for _ in 0..20 {
        let (_, _, x, y) = hardest_of_candidates(&pairs, 6, 1, &mut a);
        let _image = b.below(1);
        assert_eq!((x, y), (b.below(19), b.below(11)));
    }
    // Many candidates: a window holding the whole block, every time.
    let mut rng = Rng(6);
    for _ in 0..20 {
        let (_, _, x, y) = hardest_of_candidates(&pairs, 6, 400, &mut rng);
        assert!((10..=12).contains(&x) && (6..=8).contains(&y), "({x}, {y})");
        assert_eq!(window_error(&pairs[0].0, &pairs[0].1, x, y, 6), 16.0 * 0.25);
    }
}

#[test]
fn downsampler_start_is_a_plain_down_and_up_sample() {
    let mut m = ModelWeights::random(
        "init",
        ComCnnConfig::new().with_features(5),
        RecCnnConfig::new().with_features(5).with_depth(4),
        3,
    );
    initialise(&mut m, InitScheme::Downsampler, 9);
    let engine = crate::net::engine::BurnEngine::<CpuBackend>::new(&m, Default::default());
    let (w, h) = (7, 6);
    let img = Plane::new(
        w,
        h,
        (0..w * h).map(|i| (i * 37 % 101) as f32 / 100.0).collect(),
    );
    let compact = engine.compact(&img);
    assert_eq!((compact.width, compact.height), (4, 3));
    for y in 0..3 {
        for x in 0..3 {
            let at = |r: usize, c: usize| img.data[r * w + c];
            let mean = (at(2 * y, 2 * x)
                + at(2 * y, 2 * x + 1)
                + at(2 * y + 1, 2 * x)
                + at(2 * y + 1, 2 * x + 1))
                / 4.0;
            let got = compact.data[y * 4 + x];
            assert!((got - mean).abs() < 1e-6, "({x},{y}): {got} vs {mean}");
        }
    }
    let residual = engine.residual(&img);
    assert!(residual.data.iter().all(|v| *v == 0.0));
}

#[test]
fn matconvnet_start_has_he_scaled_weights_and_zero_biases() {
    let mut m = ModelWeights::random(
        "init",
        ComCnnConfig::new().with_features(16),
        RecCnnConfig::new().with_features(16).with_depth(3),
        3,
    );
    initialise(&mut m, InitScheme::MatConvNet, 1);
    let w = &m.reccnn["conv2.weight"].data;
    let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
    let want = 2.0 / (16.0 * 9.0);
    assert!((var / want - 1.0).abs() < 0.15, "variance {var} vs {want}");
    assert!(m.reccnn["conv2.bias"].data.iter().all(|b| *b == 0.0));
    assert!(m.reccnn["bn2.gamma"].data.iter().all(|g| *g == 1.0));
}

#[test]
fn learning_rate_decays_log_linearly() {
    assert!((lr_at((1e-3, 1e-5), 0, 11) - 1e-3).abs() < 1e-15);
    assert!((lr_at((1e-3, 1e-5), 5, 11) - 1e-4).abs() < 1e-12);
    assert!((lr_at((1e-3, 1e-5), 10, 11) - 1e-5).abs() < 1e-15);
}

#[test]
fn folded_reccnn_computes_what_the_batchnorm_one_does() {
    let mut m = ModelWeights::random(
        "bn",
        ComCnnConfig::new().with_features(3),
        RecCnnConfig::new().with_features(3).with_depth(4),
        5,
    );
    // Non-trivial statistics and scales.
    for (k, t) in m.reccnn.iter_mut() {
        if k.ends_with("gamma") {
            t.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.7 + 0.4 * i as f32);
        }
        if k.ends_with("running_var") {
            t.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.5 + i as f32);
        }
        if k.ends_with("running_mean") || k.ends_with("beta") {
            t.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.1 * i as f32 - 0.05);
        }
    }
    let device = Default::default();
    let x = Tensor::<CpuBackend, 4>::from_data(
        TensorData::new(
            (0..35).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            [1, 1, 5, 7],
        ),
        &device,
    );
    let a = m
        .reccnn::<CpuBackend>(&device)
        .forward(x.clone())
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let b = m
        .reccnn_folded::<CpuBackend>(&device)
        .forward(x)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() < 1e-5, "{u} vs {v}");
    }
}

#[test]
fn the_run_stops_when_the_development_psnr_stops_improving() {
    let images: Vec<GrayImage> = (0..2)
        .map(|s| {
            GrayImage::new(
                24,
                20,
                (0..24 * 20)
                    .map(|i| ((i * 7 + s * 50) % 256) as u8)
                    .collect(),
            )
        })
        .collect();
    let start = ModelWeights::random(
        "stop",
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(3),
        2,
    );
    let options = TrainOptions {
        patch: 8,
        batch: 2,
        steps_per_stage: 2,
        stages: 9,
        // No stage of two steps gains this much: stop at the second measurement.
        min_dev_gain_db: Some(1000.0),
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("cnncodec-stop-{}", std::process::id()));
    let mut t = Trainer::<TrainBackend>::new(start, options).unwrap();
    t.run(
        &images[..1],
        &images[1..],
        &IdentityCodec,
        Some(&dir),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(t.state.stages_done, 3, "R, C, R, then stop");
    assert_eq!(
        t.state.dev_psnr.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert!(dir.join("best.cnnmodel").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three small textured images for the training tests.
/// A 6-feature ComCNN and a 6 x 4 RecCNN, with or without BatchNorm.
fn tiny_model(batch_norm: bool) -> ModelWeights {
    ModelWeights::random(
        "tiny",
        ComCnnConfig::new().with_features(6),
        RecCnnConfig::new()
            .with_features(6)
            .with_depth(4)
            .with_batch_norm(batch_norm),
        5,
    )
}

fn tiny_images() -> Vec<GrayImage> {
    (0..3)
        .map(|s| {
            GrayImage::new(
                48,
                40,
                (0..48 * 40)
                    .map(|i| {
                        let (x, y) = ((i % 48) as f32, (i / 48) as f32);
                        (128.0 + 90.0 * ((x * 0.3 + s as f32).sin() * (y * 0.2).cos())) as u8
                    })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_learning_curve_has_a_point_every_n_steps_and_survives_a_resume() {
    let images = tiny_images();
    let start = tiny_model(true);
    let options = TrainOptions {
        patch: 16,
        batch: 4,
        steps_per_stage: 10,
        stages: 2,
        curve_every: 4,
        ..Default::default()
    };
    let mut whole = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
    whole
        .run(&images, &images, &IdentityCodec, None, &mut |_| {})
        .unwrap();
    let steps: Vec<_> = whole.state.curve.iter().map(|p| p.step).collect();
    assert_eq!(steps, [0, 4, 8, 10, 14, 18, 20]);
    assert_eq!(whole.state.curve[0].network, "start");
    assert_eq!(whole.state.curve[4].network, "ComCNN");
    assert!(whole.state.curve.iter().all(|p| p.dev_psnr.is_finite()));
    // The final point measures the final weights.
    let last = dev_psnr(&whole.weights, &images, &IdentityCodec).unwrap();
    assert!((whole.state.curve[6].dev_psnr - last).abs() < 1e-9);
    let first = dev_psnr(&start, &images, &IdentityCodec).unwrap();
    assert!((whole.state.curve[0].dev_psnr - first).abs() < 1e-9);

    let dir = std::env::temp_dir().join(format!("cnncodec-curve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut trainer = Trainer::<TrainBackend>::new(start, options).unwrap();
    trainer.stop_after = Some(7);
    trainer
        .run(&images, &images, &IdentityCodec, Some(&dir), &mut |_| {})
        .unwrap();
    let mut trainer = Trainer::<TrainBackend>::resume(&dir).unwrap();
    trainer
        .run(&images, &images, &IdentityCodec, Some(&dir), &mut |_| {})
        .unwrap();
    assert_eq!(trainer.state.curve, whole.state.curve);
    let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
    assert_eq!(csv, curve_csv(&whole.state.curve));
    assert!(csv.starts_with("step,stage,network,dev_psnr\n0,0,start,"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loss_margin_proxy_surrogate_and_a_reccnn_without_batch_norm_train() {
    let images = tiny_images();
    let start = tiny_model(false);
    assert!(!start.reccnn.contains_key("bn2.gamma"));
    let options = TrainOptions {
        patch: 16,
        batch: 4,
        steps_per_stage: 6,
        stages: 2,
        loss_margin: 3,
        com_surrogate: ComSurrogate::Jpeg,
        ..Default::default()
    };
    let mut with = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
    with.run(&images, &[], &IdentityCodec, None, &mut |_| {})
        .unwrap();
    let plain = TrainOptions {
        loss_margin: 0,
        com_surrogate: ComSurrogate::Identity,
        ..options.clone()
    };
    let mut without = Trainer::<TrainBackend>::new(start.clone(), plain).unwrap();
    without
        .run(&images, &[], &IdentityCodec, None, &mut |_| {})
        .unwrap();
    // Both options change what is learnt (same seed, same patches).
    assert_ne!(with.state.stage_losses[0], without.state.stage_losses[0]);
    assert_ne!(with.weights.comcnn, without.weights.comcnn);
    assert!(with.state.stage_losses.iter().all(|l| l.is_finite()));
    // A margin that leaves nothing is refused.
    let too_wide = TrainOptions {
        loss_margin: 8,
        ..options.clone()
    };
    assert!(Trainer::<TrainBackend>::new(start.clone(), too_wide).is_err());
    // The proxy stands in for JPEG only.
    let mut j2k = start;
    j2k.meta.codec = "jpeg2000".into();
    let mut t = Trainer::<TrainBackend>::new(
        j2k,
        TrainOptions {
            comcnn_first: true,
            ..options
        },
    )
    .unwrap();
    let err = t
        .run(&images, &[], &IdentityCodec, None, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("JPEG proxy"), "{err}");
}

#[test]
fn interrupted_inside_stages_the_run_resumes_with_the_same_losses_and_weights() {
    let images = tiny_images();
    let start = tiny_model(true);
    let options = TrainOptions {
        patch: 16,
        batch: 4,
        steps_per_stage: 12,
        stages: 2,
        ..Default::default()
    };
    let mut whole = vec![];
    let mut uninterrupted = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
    let end = uninterrupted
        .run(&images, &[], &IdentityCodec, None, &mut |r| {
            whole.push((r.stage, r.step, r.loss))
        })
        .unwrap();
    assert_eq!(end, RunEnd::Finished);

    // Stopped every 5 steps (inside the RecCNN stage, inside the ComCNN stage, and once
    // at the boundary between them), resumed from the files each time.
    let dir = std::env::temp_dir().join(format!("cnncodec-inside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut pieces = vec![];
    let mut trainer = Trainer::<TrainBackend>::new(start, options).unwrap();
    let mut calls = 0;
    loop {
        trainer.stop_after = Some(5);
        let end = trainer
            .run(&images, &[], &IdentityCodec, Some(&dir), &mut |r| {
                pieces.push((r.stage, r.step, r.loss))
            })
            .unwrap();
        calls += 1;
        if end == RunEnd::Finished {
            break;
        }
        assert!(calls < 10, "the run never finishes");
        trainer = Trainer::<TrainBackend>::resume(&dir).unwrap();
    }
    assert_eq!(calls, 5, "12 + 12 steps in pieces of at most 5");
    assert_eq!(pieces, whole, "the resumed run's losses differ");
    for (net, a, b) in [
        (
            "comcnn",
            &trainer.weights.comcnn,
            &uninterrupted.weights.comcnn,
        ),
        (
            "reccnn",
            &trainer.weights.reccnn,
            &uninterrupted.weights.reccnn,
        ),
    ] {
        for (k, t) in a.iter() {
            for (u, v) in t.data.iter().zip(&b[k].data) {
                // Exact but for rounding in the stored BatchNorm variance's epsilon.
                assert!(
                    (u - v).abs() <= 1e-6 * (1.0 + v.abs()),
                    "{net} {k}: {u} vs {v}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_checkpoint_inside_a_stage_needs_its_own_optimiser_state() {
    let images = tiny_images();
    let start = ModelWeights::random(
        "tiny",
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(3),
        6,
    );
    let options = TrainOptions {
        patch: 16,
        batch: 2,
        steps_per_stage: 6,
        stages: 1,
        checkpoint_every: 2,
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("cnncodec-adam-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut t = Trainer::<TrainBackend>::new(start, options).unwrap();
    t.stop_after = Some(3);
    assert_eq!(
        t.run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
            .unwrap(),
        RunEnd::Stopped
    );
    assert_eq!(
        Trainer::<TrainBackend>::resume(&dir)
            .unwrap()
            .state
            .stage_step,
        3
    );
    std::fs::write(checkpoint_moments(&dir), b"CNNADAM1 truncated").unwrap();
    let err = Trainer::<TrainBackend>::resume(&dir).err().unwrap();
    assert!(
        err.to_string()
            .contains("not an optimiser state of this checkpoint"),
        "{err}"
    );
    std::fs::remove_file(checkpoint_moments(&dir)).unwrap();
    let err = Trainer::<TrainBackend>::resume(&dir).err().unwrap();
    assert!(
        err.to_string().contains("needs the optimiser state"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_few_steps_lower_the_loss_and_resume_continues_the_same_run() {
    let images = tiny_images();
    let start = ModelWeights::random(
        "tiny",
        ComCnnConfig::new().with_features(8),
        RecCnnConfig::new().with_features(8).with_depth(4),
        11,
    );
    let options = TrainOptions {
        patch: 16,
        batch: 8,
        steps_per_stage: 30,
        stages: 2,
        ..Default::default()
    };
    let mut losses = vec![];
    let mut trainer = Trainer::<TrainBackend>::new(start.clone(), options.clone()).unwrap();
    trainer
        .run(&images, &[], &IdentityCodec, None, &mut |r| {
            if r.network == "RecCNN" {
                losses.push(r.loss)
            }
        })
        .unwrap();
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(last < first * 0.8, "RecCNN loss {first} -> {last}");
    assert_eq!(trainer.state.stage_losses.len(), 2);

    // Interrupted after one stage, resumed: the same weights as the uninterrupted run.
    let dir = std::env::temp_dir().join(format!("cnncodec-train-{}", std::process::id()));
    let mut first_half = Trainer::<TrainBackend>::new(
        start,
        TrainOptions {
            stages: 1,
            ..options
        },
    )
    .unwrap();
    first_half
        .run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
        .unwrap();
    let mut resumed = Trainer::<TrainBackend>::resume(&dir).unwrap();
    resumed.state.options.stages = 2;
    resumed
        .run(&images, &[], &IdentityCodec, Some(&dir), &mut |_| {})
        .unwrap();
    assert_eq!(
        resumed.weights.meta.content_hash,
        trainer.weights.meta.content_hash
    );
}
