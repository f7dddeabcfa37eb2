//! The model settings both elements expose, as properties.

use super::*;

/// Model settings both elements expose.
#[derive(Clone, Debug, Default)]
pub struct ModelSettings {
    /// A built-in model's name; `None`: the default built-in model.
    pub model: Option<String>,
    pub model_location: Option<String>,
    pub backend: Backend,
    pub device_index: u32,
    pub precision: FloatPrecision,
}

/// The `backend` property: where the networks run.
#[derive(Debug, Default, Eq, PartialEq, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCnnCodecBackend")]
pub enum Backend {
    #[default]
    #[enum_value(name = "CPU (this project's AVX2/AVX-512 kernels)", nick = "cpu")]
    Cpu,
    #[enum_value(name = "CUDA (builds with the cuda feature)", nick = "cuda")]
    Cuda,
}

/// The `precision` property: the float type of the networks.
#[derive(Debug, Default, Eq, PartialEq, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCnnCodecPrecision")]
pub enum FloatPrecision {
    #[default]
    #[enum_value(name = "32-bit float", nick = "fp32")]
    Fp32,
    #[enum_value(name = "16-bit float (CUDA only)", nick = "fp16")]
    Fp16,
}

impl Backend {
    pub fn nick(self) -> &'static str {
        self.kind().name()
    }

    fn kind(self) -> BackendKind {
        match self {
            Self::Cpu => BackendKind::Cpu,
            Self::Cuda => BackendKind::Cuda,
        }
    }
}

impl FloatPrecision {
    pub fn nick(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        }
    }

    fn precision(self) -> Precision {
        match self {
            Self::Fp32 => Precision::Fp32,
            Self::Fp16 => Precision::Fp16,
        }
    }
}

/// Where and how a model runs: what one loaded engine is shared by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    pub backend: BackendKind,
    pub device_index: u32,
    pub precision: Precision,
}

impl ModelSettings {
    pub fn new() -> Self {
        Self {
            model: None,
            model_location: None,
            backend: Backend::Cpu,
            device_index: 0,
            precision: FloatPrecision::Fp32,
        }
    }

    /// The backend, device and precision the settings name, checked.
    pub fn placement(&self) -> Result<Placement, String> {
        Ok(Placement {
            backend: self.backend.kind(),
            device_index: self.device_index,
            precision: self.precision.precision(),
        })
    }
}

/// Property specs for [`ModelSettings`], shared so both elements document them alike.
pub fn model_properties() -> Vec<glib::ParamSpec> {
    let names = cnncodec::net::builtin::builtin_names();
    vec![
        glib::ParamSpecString::builder("model")
            .nick("Model")
            .blurb(&format!(
                "Built-in model by name (each is trained for the codec setting in its name: \
                 jpeg-qN for jpegenc quality=N, j2k-rN for j2kenc compression-ratio=N; \
                 `cnncodec models` lists their bit rates). \
                 This build has: {}. Ignored when model-location is set",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
            .default_value(cnncodec::net::builtin::default_model())
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("model-location")
            .nick("Model location")
            .blurb(
                "A .cnnmodel file, or a directory holding comcnn.safetensors and \
                 reccnn.safetensors (the paper's reference layout). Unset: the built-in \
                 default model (reccnndec: the model named by the stream, else the default)",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("backend", Backend::Cpu)
            .nick("Backend")
            .blurb(&format!(
                "Where the network runs: cpu, or cuda in builds with the cuda feature \
                 (this build: {})",
                BackendKind::available().join(", ")
            ))
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("device-index")
            .nick("Device index")
            .blurb("GPU to use with backend=cuda (0 = first); must be 0 for cpu")
            .minimum(0)
            .maximum(255)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("precision", FloatPrecision::Fp32)
            .nick("Precision")
            .blurb(
                "Float type of the networks: fp32, or fp16 with backend=cuda (half the memory \
                 traffic, tensor cores; the CPU backend computes in fp32 only)",
            )
            .mutable_ready()
            .build(),
    ]
}

/// The `self-ensemble` property: how many flips and transposes of each frame RecCNN runs on.
#[derive(Debug, Default, Eq, PartialEq, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCnnCodecSelfEnsemble")]
pub enum SelfEnsembleMode {
    #[default]
    #[enum_value(name = "Off: one network pass", nick = "off")]
    Off,
    #[enum_value(
        name = "The frame and its left-right mirror: 2 passes",
        nick = "mirror"
    )]
    Mirror,
    #[enum_value(name = "The frame and its three mirrors: 4 passes", nick = "mirrors")]
    Mirrors,
    #[enum_value(name = "Mirrors and transposes: 8 passes", nick = "full")]
    Full,
}

impl SelfEnsembleMode {
    /// RecCNN passes per frame.
    pub fn passes(self) -> usize {
        match self {
            Self::Off => 1,
            Self::Mirror => 2,
            Self::Mirrors => 4,
            Self::Full => 8,
        }
    }

    /// Whether some passes run on the transposed (h x w) frame.
    pub fn transposes(self) -> bool {
        self == Self::Full
    }
}

/// reccnndec's (and cnnjpegdec's) self-ensemble setting.
pub fn self_ensemble_property() -> glib::ParamSpec {
    glib::ParamSpecEnum::builder_with_default("self-ensemble", SelfEnsembleMode::Off)
        .nick("Self-ensemble")
        .blurb(
            "Run RecCNN on mirrored (mirror, mirrors) or also transposed (full) copies of \
             each frame and average the turned-back results: a restored frame a little closer \
             to the original (docs/results.md has the PSNR gains) for 2, 4 or 8 RecCNN \
             passes per frame. For archive playback and stills, not for live viewing",
        )
        .mutable_playing()
        .build()
}

/// reccnndec's (and cnnjpegdec's) trust setting for model files named by streams.
pub fn stream_model_dirs_property() -> glib::ParamSpec {
    glib::ParamSpecString::builder("stream-model-dirs")
        .nick("Stream model directories")
        .blurb(
            "Directories (':'-separated) from which a model file named by the stream's \
             cnncodec tag may be loaded. Empty (default): only built-in models are followed; \
             a stream naming a file is refused with an error. A named path must be absolute, \
             without '..' or symbolic links, and lead to a regular file inside one of these \
             directories",
        )
        .mutable_ready()
        .build()
}

pub fn set_model_property(
    s: &mut ModelSettings,
    value: &glib::Value,
    pspec: &glib::ParamSpec,
) -> bool {
    match pspec.name() {
        "model" => {
            s.model = value
                .get::<Option<String>>()
                .unwrap()
                .filter(|m| !m.is_empty())
        }
        "model-location" => s.model_location = value.get::<Option<String>>().unwrap(),
        "backend" => s.backend = value.get().expect("type checked"),
        "device-index" => s.device_index = value.get().unwrap(),
        "precision" => s.precision = value.get().expect("type checked"),
        _ => return false,
    }
    true
}

/// Hands `s` to an element inside a bin that has the same model properties.
pub fn forward_model_settings(inner: &gst::Element, s: &ModelSettings) {
    inner.set_property("model", s.model.as_deref());
    inner.set_property("model-location", s.model_location.as_deref());
    inner.set_property("backend", s.backend);
    inner.set_property("device-index", s.device_index);
    inner.set_property("precision", s.precision);
}

pub fn model_property(s: &ModelSettings, pspec: &glib::ParamSpec) -> Option<glib::Value> {
    Some(match pspec.name() {
        "model" => s
            .model
            .as_deref()
            .or(cnncodec::net::builtin::default_model())
            .to_value(),
        "model-location" => s.model_location.to_value(),
        "backend" => s.backend.to_value(),
        "device-index" => s.device_index.to_value(),
        "precision" => s.precision.to_value(),
        _ => return None,
    })
}
