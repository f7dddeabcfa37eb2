//! Where and in what float type the networks run, and the one trait every backend's engine
//! implements.

use std::fmt;
use std::str::FromStr;

use crate::frame::image::Plane;

/// burn's CPU backend: burn-flex (the fastest burn CPU backend that builds offline here), for
/// training and as the reference the CPU inference path ([`crate::net::cpu`]) is tested against.
pub type CpuBackend = burn_flex::Flex;

/// Where the networks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Cpu,
    Cuda,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }

    /// Whether this build can run the backend at all.
    pub fn compiled(self) -> bool {
        match self {
            Self::Cpu => true,
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Names of the backends this build has.
    pub fn available() -> Vec<&'static str> {
        [Self::Cpu, Self::Cuda]
            .into_iter()
            .filter(|b| b.compiled())
            .map(Self::name)
            .collect()
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend or precision name that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChoiceError {
    #[error("unknown backend '{given}': use one of {available}")]
    Backend { given: String, available: String },
    #[error("unknown precision '{0}': use fp32 or fp16")]
    Precision(String),
}

impl FromStr for BackendKind {
    type Err = ChoiceError;
    fn from_str(s: &str) -> Result<Self, ChoiceError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(ChoiceError::Backend {
                given: other.to_owned(),
                available: Self::available().join(", "),
            }),
        }
    }
}

/// The float type the networks compute in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    Fp32,
    /// Half precision: CUDA only (tensor cores); weights are converted when loaded.
    Fp16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = ChoiceError;
    fn from_str(s: &str) -> Result<Self, ChoiceError> {
        match s {
            "fp32" => Ok(Self::Fp32),
            "fp16" => Ok(Self::Fp16),
            other => Err(ChoiceError::Precision(other.to_owned())),
        }
    }
}

/// A loaded ComCNN/RecCNN pair that runs single frames.
pub trait Engine: Send + Sync {
    /// Raw ComCNN output for a luma plane in [0, 1]: ceil(w/2) x ceil(h/2).
    fn compact(&self, input: &Plane) -> Plane;
    /// RecCNN's residual for an up-scaled plane; the restored plane is `upscaled - residual`.
    fn residual(&self, upscaled: &Plane) -> Plane;
    /// [`Engine::compact`] into `out`, reusing its storage: engines that keep their buffers
    /// per frame size (the CPU path) then allocate nothing for a size already seen.
    fn compact_into(&self, input: &Plane, out: &mut Plane) {
        *out = self.compact(input);
    }
    /// [`Engine::residual`] into `out`, as [`Engine::compact_into`].
    fn residual_into(&self, upscaled: &Plane, out: &mut Plane) {
        *out = self.residual(upscaled);
    }
    /// Backend and device, for logs.
    fn describe(&self) -> String;
}
