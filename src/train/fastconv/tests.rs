use super::*;
use burn::module::Param;
use burn::nn::BatchNormConfig;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

fn seeded(shape: Vec<usize>, seed: u64) -> TensorData {
    let mut s = seed;
    let len = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    TensorData::new(v, shape)
}

fn to_channels_last(t: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
    t.permute([0, 2, 3, 1])
}

fn to_channels_first(t: Tensor<Outer, 4>) -> Tensor<Outer, 4> {
    t.permute([0, 3, 1, 2])
}

/// Output and gradients of a squared error through one convolution (NCHW at the
/// interface); `tracked` says which of input, weight and bias require gradients
/// (untracked ones give empty gradients).
fn grads_of(
    fast: bool,
    tracked: [bool; 3],
    n: usize,
    c: usize,
    co: usize,
    h: usize,
    w: usize,
) -> [Vec<f32>; 4] {
    let device = Default::default();
    let track = |t: Tensor<Outer, 4>, on: bool| if on { t.require_grad() } else { t };
    let x = track(
        Tensor::from_data(seeded(vec![n, c, h, w], 1), &device),
        tracked[0],
    );
    let weight = track(
        Tensor::from_data(seeded(vec![co, c, 3, 3], 2), &device),
        tracked[1],
    );
    let bias = Tensor::<Outer, 1>::from_data(seeded(vec![co], 4), &device);
    let bias = if tracked[2] {
        bias.require_grad()
    } else {
        bias
    };
    let target = Tensor::<Outer, 4>::from_data(seeded(vec![n, co, h, w], 3), &device);
    let y = if fast {
        to_channels_first(conv3x3_channels_last(
            to_channels_last(x.clone()),
            weight.clone(),
            bias.clone(),
        ))
    } else {
        conv2d(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
    };
    let d = y.clone() - target;
    let grads = (d.clone() * d).sum().backward();
    let vec =
        |t: Option<Tensor<Inner, 4>>| t.map_or(vec![], |t| t.into_data().to_vec::<f32>().unwrap());
    [
        y.into_data().to_vec().unwrap(),
        vec(x.grad(&grads)),
        vec(weight.grad(&grads)),
        bias.grad(&grads)
            .map_or(vec![], |b| b.into_data().to_vec().unwrap()),
    ]
}

#[test]
fn gradients_equal_burns_generic_convolution() {
    // Odd and even sides, one and several channels, a batch; all parameters tracked, and
    // the input untracked (RecCNN's first layer) or the weights frozen (ComCNN stage).
    let all = [true; 3];
    for (tracked, (n, c, co, h, w)) in [
        (all, (1, 1, 3, 5, 4)),
        (all, (3, 4, 2, 6, 7)),
        (all, (2, 5, 1, 1, 3)),
        (all, (2, 32, 32, 7, 9)),
        (all, (2, 16, 1, 5, 6)),
        ([false, true, true], (2, 3, 4, 5, 5)),
        ([true, false, false], (2, 3, 4, 5, 5)),
    ] {
        let fast = grads_of(true, tracked, n, c, co, h, w);
        let generic = grads_of(false, tracked, n, c, co, h, w);
        for (grad, on) in fast[1..].iter().zip(tracked) {
            assert_eq!(grad.is_empty(), !on, "a gradient exactly where asked for");
        }
        for (what, (a, b)) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .zip(fast.iter().zip(generic.iter()))
        {
            assert_eq!(a.len(), b.len(), "{what}");
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (i, (p, q)) in a.iter().zip(b).enumerate() {
                assert!(
                    (p - q).abs() <= 1e-5 * scale,
                    "{what}[{i}] {p} vs {q} for n={n} c={c} co={co} {h}x{w}"
                );
            }
        }
    }
}

#[test]
fn batch_norm_matches_burns_training_forward_backward_and_statistics() {
    let device = Default::default();
    let (n, c, h, w) = (3, 4, 5, 6);
    let x_values: Vec<f32> = (0..n * c * h * w)
        .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * (1.0 + (i % c) as f32))
        .collect();
    let run = |fast: bool| {
        let mut bn = BatchNormConfig::new(c)
            .with_epsilon(1e-5)
            .init::<Outer>(&device);
        let gamma: Vec<f32> = (0..c).map(|i| 0.5 + i as f32 * 0.25).collect();
        let beta: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.2).collect();
        bn.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(gamma, [c]), &device));
        bn.beta = Param::from_tensor(Tensor::from_data(TensorData::new(beta, [c]), &device));
        let x =
            Tensor::<Outer, 4>::from_data(TensorData::new(x_values.clone(), [n, c, h, w]), &device)
                .require_grad();
        let forward = |x: Tensor<Outer, 4>| {
            if fast {
                to_channels_first(train_batch_norm(&bn, to_channels_last(x), false))
            } else {
                bn.forward(x)
            }
        };
        // A second call checks the running statistics' update is cumulative.
        let first = forward(x.clone() * 0.5);
        let y = forward(x.clone());
        let weights = Tensor::<Outer, 4>::from_data(
            TensorData::new(
                (0..n * c * h * w)
                    .map(|i| (i % 7) as f32 - 3.0)
                    .collect::<Vec<f32>>(),
                [n, c, h, w],
            ),
            &device,
        );
        let grads = ((y.clone() * weights).sum() + first.sum()).backward();
        let v1 = |t: Tensor<Inner, 1>| t.into_data().to_vec::<f32>().unwrap();
        [
            y.into_data().to_vec::<f32>().unwrap(),
            x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap(),
            v1(bn.gamma.grad(&grads).unwrap()),
            v1(bn.beta.grad(&grads).unwrap()),
            bn.running_mean.value().into_data().to_vec::<f32>().unwrap(),
            bn.running_var.value().into_data().to_vec::<f32>().unwrap(),
        ]
    };
    let (fast, burn) = (run(true), run(false));
    for (what, (a, b)) in [
        "output",
        "x grad",
        "gamma grad",
        "beta grad",
        "running mean",
        "running var",
    ]
    .iter()
    .zip(fast.iter().zip(burn.iter()))
    {
        assert_eq!(a.len(), b.len(), "{what}");
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!((p - q).abs() <= 2e-5 * scale, "{what}[{i}] {p} vs {q}");
        }
    }
}

/// A whole RecCNN with BatchNorm: loss and every parameter's gradient through
/// [`FastTrainLayers`] equal burn's own layers'.
#[test]
fn reccnn_gradients_equal_burns_layers() {
    use crate::net::architecture::RecCnnConfig;
    use burn::module::AutodiffModule;
    let device = Default::default();
    // Weights from data: burn initialises lazily, and clones of an uninitialised network
    // would each draw their own.
    let weights = crate::ModelWeights::random(
        "gradients",
        crate::net::architecture::ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(16).with_depth(4),
        7,
    );
    let mut net = weights.reccnn::<Outer>(&device);
    crate::train::use_training_epsilon(&mut net);
    let input = Tensor::<Outer, 4>::from_data(seeded(vec![3, 1, 9, 7], 5), &device);
    let grads_of = |fast: bool| {
        let net = net.clone();
        let y = if fast {
            net.forward_with(input.clone(), &FastTrainLayers)
        } else {
            net.forward(input.clone())
        };
        let loss = (y.clone() * y).mean();
        let grads = loss.backward();
        let mut all = vec![loss.into_data().to_vec::<f32>().unwrap()];
        let weight = |c: &Conv2d<Outer>| {
            c.weight
                .grad(&grads)
                .unwrap()
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        all.push(weight(&net.first));
        for layer in &net.hidden {
            all.push(weight(&layer.conv));
            let bn = layer.bn.as_ref().unwrap();
            all.push(
                bn.gamma
                    .grad(&grads)
                    .unwrap()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap(),
            );
        }
        all.push(weight(&net.last));
        std::hint::black_box(net.valid());
        all
    };
    let (fast, burn) = (grads_of(true), grads_of(false));
    for (i, (a, b)) in fast.iter().zip(&burn).enumerate() {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() <= 1e-4 * scale, "tensor {i}: {p} vs {q}");
        }
    }
}
