//! How a run from nothing starts: the initialisation schemes.

use super::*;

/// How a run from nothing starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitScheme {
    /// MatConvNet-style, as the paper's DnCNN-derived code: every conv weight drawn from
    /// N(0, 2 / fan_in) (He), biases 0; BatchNorm gamma 1, beta 0, mean 0, variance 1.
    MatConvNet,
    /// [`InitScheme::MatConvNet`], then shaped so the untrained pair is a plain codec:
    /// ComCNN starts as a 2x2 mean down-sampler (one channel carries the image) and RecCNN's
    /// last layer at zero (output = bicubic up-sample). Training then starts from the
    /// down-sample/up-sample baseline instead of noise.
    Downsampler,
}

impl std::str::FromStr for InitScheme {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "matconvnet" => Ok(Self::MatConvNet),
            "downsampler" => Ok(Self::Downsampler),
            other => Err(TrainError::Invalid(format!(
                "unknown initialisation '{other}': use matconvnet or downsampler (or a model file to start from)"
            ))),
        }
    }
}

/// A normal deviate (Box-Muller) from the run's generator.
pub(super) fn normal(rng: &mut Rng) -> f32 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Re-initialises every tensor of `weights` by `scheme`, reproducibly from `seed`.
pub fn initialise(weights: &mut ModelWeights, scheme: InitScheme, seed: u64) {
    let mut rng = Rng(seed ^ 0x1417_5EED);
    for map in [&mut weights.comcnn, &mut weights.reccnn] {
        for (key, t) in map.iter_mut() {
            let fill = |t: &mut crate::net::weights::StoredTensor, v: f32| t.data.fill(v);
            if key.ends_with(".weight") {
                let fan_in: usize = t.shape[1..].iter().product();
                let sd = (2.0 / fan_in as f64).sqrt() as f32;
                t.data.iter_mut().for_each(|w| *w = normal(&mut rng) * sd);
            } else if key.ends_with(".gamma") || key.ends_with(".running_var") {
                fill(t, 1.0);
            } else {
                fill(t, 0.0); // biases, beta, running_mean
            }
        }
    }
    if scheme == InitScheme::Downsampler {
        // Weight [out, in, 3, 3] at (o, i, r, c).
        let set = |t: &mut crate::net::weights::StoredTensor,
                   o: usize,
                   i: usize,
                   r: usize,
                   c: usize,
                   v: f32| {
            let [_, ci, kh, kw] = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
            t.data[((o * ci + i) * kh + r) * kw + c] = v;
        };
        let com = &mut weights.comcnn;
        // conv1: channel 0 copies the image (non-negative, so ReLU keeps it).
        let c1 = com.get_mut("conv1.weight").unwrap();
        let per_out = c1.data.len() / c1.shape[0];
        c1.data[..per_out].fill(0.0);
        set(c1, 0, 0, 1, 1, 1.0);
        // conv2 (stride 2, padding 1): output (i, j) sees inputs 2i-1..2i+1; taps (1..=2,
        // 1..=2) average the 2x2 block at (2i, 2j).
        let c2 = com.get_mut("conv2.weight").unwrap();
        let per_out = c2.data.len() / c2.shape[0];
        c2.data[..per_out].fill(0.0);
        for (r, c) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            set(c2, 0, 0, r, c, 0.25);
        }
        // conv3: the output is channel 0 alone.
        let c3 = com.get_mut("conv3.weight").unwrap();
        c3.data.fill(0.0);
        set(c3, 0, 0, 1, 1, 1.0);
        let last = format!("conv{}.weight", weights.meta.reccnn.depth);
        weights.reccnn.get_mut(&last).unwrap().data.fill(0.0);
    }
    weights.meta.content_hash = crate::net::weights::content_hash(&weights.comcnn, &weights.reccnn);
}
