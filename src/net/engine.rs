//! Running a loaded model on a chosen backend, behind one object-safe trait so the elements,
//! the evaluation and the benchmarks need not be generic.

use std::sync::Arc;

use burn::prelude::*;

use crate::frame::image::Plane;
use crate::net::architecture::{ComCnn, RecCnn};
use crate::net::weights::ModelWeights;

pub use crate::net::backend::Engine;
use crate::net::backend::{BackendKind, Precision};

/// The generic implementation of [`Engine`] for one burn backend.
pub struct BurnEngine<B: Backend> {
    comcnn: ComCnn<B>,
    reccnn: RecCnn<B>,
    device: B::Device,
}

impl<B: Backend> BurnEngine<B> {
    pub fn new(weights: &ModelWeights, device: B::Device) -> Self {
        Self {
            comcnn: weights.comcnn(&device),
            // Inference only: BatchNorm folded into the convolutions saves a pass over every
            // feature map per layer.
            reccnn: weights.reccnn_folded(&device),
            device,
        }
    }

    fn to_tensor(&self, p: &Plane) -> Tensor<B, 4> {
        Tensor::from_data(
            TensorData::new(p.data.clone(), [1, 1, p.height, p.width]),
            &self.device,
        )
    }
}

fn to_plane<B: Backend>(t: Tensor<B, 4>) -> Plane {
    let [_, _, h, w] = t.dims();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 tensor data");
    Plane::new(w, h, data)
}

impl<B: Backend> Engine for BurnEngine<B> {
    fn compact(&self, input: &Plane) -> Plane {
        to_plane(self.comcnn.forward(self.to_tensor(input)))
    }

    fn residual(&self, upscaled: &Plane) -> Plane {
        to_plane(self.reccnn.forward(self.to_tensor(upscaled)))
    }

    fn describe(&self) -> String {
        format!("{} ({:?})", B::name(&self.device), self.device)
    }
}

/// Loads `weights` on `backend` and runs one tiny frame through both networks, so that a
/// backend that cannot run (missing runtime compiler, bad device) fails here, at start, with
/// a message that says what to fix, rather than at the first frame.
pub fn load_engine(
    weights: &ModelWeights,
    backend: BackendKind,
    device_index: usize,
) -> Result<Arc<dyn Engine>, EngineError> {
    load_engine_with(weights, backend, device_index, Precision::Fp32)
}

/// [`load_engine`] at a chosen precision (fp16 needs the CUDA backend).
pub fn load_engine_with(
    weights: &ModelWeights,
    backend: BackendKind,
    device_index: usize,
    precision: Precision,
) -> Result<Arc<dyn Engine>, EngineError> {
    let engine = load_engine_cold(weights, backend, device_index, precision)?;
    let warm = engine.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let probe = Plane::new(8, 8, vec![0.5; 64]);
        warm.compact(&probe);
        warm.residual(&probe);
    }))
    .map_err(|p| {
        let why = panic_message(p.as_ref());
        EngineError::Failed { backend, why }
    })?;
    Ok(engine)
}

/// Why a model could not be set up on a backend. The messages name no setting: callers add
/// theirs (an element its properties, the command line its options).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("{0} needs the cuda backend: the CPU backend computes in fp32")]
    PrecisionOnCpu(Precision),
    #[error("device {0} is not valid for the cpu backend, which has device 0 only")]
    DeviceOnCpu(usize),
    #[error("the cuda backend is not compiled into this build: rebuild with `--features cuda` (see README)")]
    CudaNotCompiled,
    #[error("the cuda backend needs the NVIDIA driver (libcuda.so.1), which was not found: install the driver (and NVRTC, see README)")]
    NoDriver,
    #[error("CUDA device {0} could not be opened: check its index against nvidia-smi")]
    Device(usize),
    #[error("the {backend} backend could not run the networks ({why}); check its runtime requirements in the README")]
    Failed { backend: BackendKind, why: String },
}

/// The text of a caught panic, for error messages.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

fn load_engine_cold(
    weights: &ModelWeights,
    backend: BackendKind,
    device_index: usize,
    precision: Precision,
) -> Result<Arc<dyn Engine>, EngineError> {
    match backend {
        BackendKind::Cpu => {
            if precision != Precision::Fp32 {
                return Err(EngineError::PrecisionOnCpu(precision));
            }
            if device_index != 0 {
                return Err(EngineError::DeviceOnCpu(device_index));
            }
            Ok(Arc::new(crate::net::cpu::CpuEngine::new(weights)))
        }
        BackendKind::Cuda => cuda::load(weights, device_index, precision),
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::*;

    /// burn-cuda's device thread panics without a driver: look for it first.
    pub fn driver_present() -> bool {
        // SAFETY: dlopen of a system library by name; the handle is closed at once.
        unsafe {
            let name = c"libcuda.so.1";
            let handle = libc::dlopen(name.as_ptr(), libc::RTLD_LAZY);
            if handle.is_null() {
                return false;
            }
            libc::dlclose(handle);
            true
        }
    }

    pub fn load(
        weights: &ModelWeights,
        device_index: usize,
        precision: Precision,
    ) -> Result<Arc<dyn Engine>, EngineError> {
        if !driver_present() {
            return Err(EngineError::NoDriver);
        }
        let device = burn_cuda::CudaDevice::new(device_index);
        let weights = weights.clone();
        // A bad device index panics inside cubecl; keep that from unwinding into the caller.
        std::panic::catch_unwind(move || match precision {
            Precision::Fp32 => {
                Arc::new(BurnEngine::<burn_cuda::Cuda>::new(&weights, device)) as Arc<dyn Engine>
            }
            Precision::Fp16 => Arc::new(BurnEngine::<burn_cuda::Cuda<burn::tensor::f16>>::new(
                &weights, device,
            )) as Arc<dyn Engine>,
        })
        .map_err(|_| EngineError::Device(device_index))
    }
}

/// Whether the NVIDIA driver can be loaded (burn-cuda panics without one).
#[cfg(feature = "cuda")]
pub fn cuda_driver_present() -> bool {
    cuda::driver_present()
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::*;

    pub fn load(_: &ModelWeights, _: usize, _: Precision) -> Result<Arc<dyn Engine>, EngineError> {
        Err(EngineError::CudaNotCompiled)
    }
}
