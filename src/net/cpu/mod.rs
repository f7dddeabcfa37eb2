//! The CPU inference path: both networks as chains of 3x3 convolutions on channels-last rows
//! with BatchNorm folded and ReLU fused, on hand-written AVX-512 / AVX2 + FMA kernels chosen
//! at run time (a portable fallback elsewhere), row bands across the cores, and buffers kept
//! per frame size. It reads the same weights as the burn model and is tested against it.

#[cfg(feature = "train")]
pub(crate) mod batchnorm;
mod kernels;
#[cfg(feature = "train")]
pub(crate) mod layers;
mod network;
mod simd;

use std::fmt;
use std::sync::Mutex;

use crate::frame::image::Plane;
use crate::net::backend::Engine;
use crate::net::weights::{fold_batch_norm, ModelWeights, TensorMap};

pub(crate) use network::{ConvSpec, Network, Workspace};

/// The instruction set the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F (16-lane kernels where a layer's channels allow, AVX2 kernels for the rest).
    Avx512,
    /// AVX2 + FMA (8-lane kernels).
    Avx2,
    /// Plain Rust, for any CPU.
    Portable,
}

impl Isa {
    /// The best instruction set this CPU has, or the one `CNNCODEC_CPU_ISA` (`avx512`,
    /// `avx2`, `portable`) names when the CPU has it (to time or debug one kernel family).
    pub fn detect() -> Self {
        static CHOSEN: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let available = Self::available();
            std::env::var("CNNCODEC_CPU_ISA")
                .ok()
                .and_then(|name| available.iter().copied().find(|i| i.name() == name))
                .unwrap_or(available[0])
        })
    }

    /// Every instruction set this CPU can run, best first.
    pub fn available() -> Vec<Self> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if avx2 && is_x86_feature_detected!("avx512f") {
                v.push(Self::Avx512);
            }
            if avx2 {
                v.push(Self::Avx2);
            }
        }
        v.push(Self::Portable);
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::Portable => "portable",
        }
    }

    /// Single-precision FLOPs one core can issue per cycle through fused multiply-adds:
    /// two FMA units of the vector width (portable code: counted as SSE).
    pub fn flops_per_cycle(self) -> usize {
        let lanes = match self {
            Self::Avx512 => 16,
            Self::Avx2 => 8,
            Self::Portable => 4,
        };
        2 * 2 * lanes
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Both networks packed for the CPU, with a pool of per-size buffers so that frames of a size
/// already seen allocate nothing but their output plane.
pub struct CpuEngine {
    comcnn: Network,
    reccnn: Network,
    isa: Isa,
    threads: usize,
    com_buffers: Mutex<Vec<Workspace>>,
    rec_buffers: Mutex<Vec<Workspace>>,
}

fn convs<'a>(map: &'a TensorMap, strides: &[usize]) -> Vec<ConvSpec<'a>> {
    let n = strides.len();
    strides
        .iter()
        .enumerate()
        .map(|(i, &stride)| {
            let w = &map[&format!("conv{}.weight", i + 1)];
            ConvSpec {
                weight: &w.data,
                bias: &map[&format!("conv{}.bias", i + 1)].data,
                cout: w.shape[0],
                cin: w.shape[1],
                stride,
                relu: i + 1 < n,
            }
        })
        .collect()
}

impl CpuEngine {
    /// Packs `weights` for the best instruction set of this CPU.
    pub fn new(weights: &ModelWeights) -> Self {
        Self::with_isa(weights, Isa::detect())
    }

    /// Packs `weights` for `isa`, which this CPU must have (see [`Isa::available`]).
    pub fn with_isa(weights: &ModelWeights, isa: Isa) -> Self {
        assert!(Isa::available().contains(&isa), "this CPU lacks {isa}");
        let comcnn = Network::new(&convs(&weights.comcnn, &[1, 2, 1]), isa);
        let (folded, cfg) = fold_batch_norm(&weights.reccnn, &weights.meta.reccnn);
        let reccnn = Network::new(&convs(&folded, &vec![1; cfg.depth]), isa);
        Self {
            comcnn,
            reccnn,
            isa,
            threads: rayon::current_num_threads(),
            com_buffers: Mutex::default(),
            rec_buffers: Mutex::default(),
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Threads of rayon's pool: a frame is cut into at most this many row bands.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn run(&self, net: &Network, pool: &Mutex<Vec<Workspace>>, input: &Plane, out: &mut Plane) {
        let (w, h) = net.output_size(input.width, input.height);
        out.data.resize(w * h, 0.0);
        (out.width, out.height) = (w, h);
        let mut workspace = pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        // Above its first row a band recomputes a few rows of each layer (about depth^2 / 2 row
        // computations): a second band pays while each band keeps more than depth / 2 rows.
        let bands = self.threads.min((2 * h / net.depth()).max(1));
        net.run(
            &input.data,
            input.width,
            input.height,
            &mut out.data,
            &mut workspace,
            bands,
        );
        let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
        // One workspace per concurrent caller; the most recently used first.
        if pool.len() < 8 {
            pool.push(workspace);
        }
    }
}

impl Engine for CpuEngine {
    fn compact(&self, input: &Plane) -> Plane {
        let mut out = Plane::new(0, 0, Vec::new());
        self.compact_into(input, &mut out);
        out
    }

    fn residual(&self, upscaled: &Plane) -> Plane {
        let mut out = Plane::new(0, 0, Vec::new());
        self.residual_into(upscaled, &mut out);
        out
    }

    fn compact_into(&self, input: &Plane, out: &mut Plane) {
        self.run(&self.comcnn, &self.com_buffers, input, out)
    }

    fn residual_into(&self, upscaled: &Plane, out: &mut Plane) {
        self.run(&self.reccnn, &self.rec_buffers, upscaled, out)
    }

    fn describe(&self) -> String {
        format!(
            "cnncodec cpu ({}, {} threads; kernels {})",
            self.isa,
            self.threads,
            self.reccnn.kernels()
        )
    }
}

#[cfg(test)]
mod tests;
