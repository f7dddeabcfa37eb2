//! What both elements share: caps, size mapping, model settings, the stream-info tag and the
//! plane plumbing between GStreamer frames and the core crate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use cnncodec::{BackendKind, Engine, GrayImage, ModelWeights, Precision};
use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;

/// Raw formats both elements take: the CNN runs on luma, chroma is resampled plainly, and the
/// compact frame keeps the format. The planar ones are what `jpegenc`/`jpegdec` and
/// `openjpegenc`/`openjpegdec` handle; NV12, NV21, YUY2 and UYVY are what cameras deliver,
/// taken without a `videoconvert` (`jpegenc` codes them too; `jpegdec` returns I420).
pub const FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Gray8,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Nv21,
    gst_video::VideoFormat::Yuy2,
    gst_video::VideoFormat::Uyvy,
];

pub fn pad_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().copied())
        .build()
}

/// Always-present `sink` and `src` pads with [`pad_caps`]; both elements have them.
pub fn pad_templates() -> Vec<gst::PadTemplate> {
    let caps = pad_caps();
    pad_templates_for(&caps, &caps)
}

/// Always-present `src` and `sink` pads with these caps (the bins: raw on one side, JPEG on
/// the other).
pub fn pad_templates_for(sink: &gst::Caps, src: &gst::Caps) -> Vec<gst::PadTemplate> {
    [
        ("src", gst::PadDirection::Src, src),
        ("sink", gst::PadDirection::Sink, sink),
    ]
    .into_iter()
    .map(|(name, dir, caps)| {
        gst::PadTemplate::new(name, dir, gst::PadPresence::Always, caps)
            .expect("static pad template")
    })
    .collect()
}

/// ceil(v / 2): the compact size of an original dimension.
fn halve(v: i32) -> i32 {
    v / 2 + v % 2
}

/// `v` rounded up to a multiple of `m` (`v` itself where that would overflow).
fn round_up(v: i32, m: i32) -> i32 {
    let m = m.max(1);
    match v % m {
        0 => v,
        r => v.checked_add(m - r).unwrap_or(v),
    }
}

/// One value or a range, whichever `lo..=hi` is (empty ranges collapse to `lo`).
fn int_or_range(lo: i32, hi: i32) -> glib::SendValue {
    if lo >= hi {
        lo.to_send_value()
    } else {
        gst::IntRange::new(lo, hi).to_send_value()
    }
}

/// How compact widths relate to original ones (heights are always exactly halved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WidthPadding {
    /// `comcnnenc`: ceil(W / 2) rounded up to a multiple of this many columns.
    Multiple(i32),
    /// `reccnndec`: whatever encoder made the stream may have widened it by up to
    /// [`cnncodec::pipeline::MAX_WIDTH_PADDING`] columns.
    Any,
}

impl WidthPadding {
    /// Columns a compact width may exceed ceil(W / 2) by.
    fn slack(self) -> i32 {
        match self {
            Self::Multiple(m) => m.max(1) - 1,
            Self::Any => cnncodec::pipeline::MAX_WIDTH_PADDING as i32,
        }
    }
}

/// Maps one width/height value. `to_compact`: original -> compact; else compact -> every
/// original that has it: 2v, then 2v - 1 (even first, so fixation prefers it), then for a
/// widened width the narrower originals. `padding`: `Some` for widths.
fn map_dim(
    value: &glib::SendValue,
    to_compact: bool,
    padding: Option<WidthPadding>,
) -> Option<glib::SendValue> {
    let slack = padding.map_or(0, WidthPadding::slack);
    if let Ok(v) = value.get::<i32>() {
        if v < 1 {
            return None;
        }
        if to_compact {
            let h = halve(v);
            return Some(match padding {
                None => h.to_send_value(),
                Some(WidthPadding::Multiple(m)) => {
                    let m = m.max(1);
                    round_up(h, m).to_send_value()
                }
                Some(WidthPadding::Any) => int_or_range(h, h.saturating_add(slack)),
            });
        }
        if let Some(WidthPadding::Multiple(m)) = padding {
            if m > 1 && v % m != 0 {
                // No original widens to a width that is not a multiple.
                return None;
            }
        }
        let exact = if v == 1 || v.checked_mul(2).is_none() {
            int_or_range((v.saturating_mul(2) - 1).max(1), v.saturating_mul(2))
        } else {
            gst::List::new([2 * v, 2 * v - 1]).to_send_value()
        };
        if slack == 0 || v.checked_mul(2).is_none() {
            return Some(exact);
        }
        let narrowest = (2 * (v - slack) - 1).max(1);
        if narrowest > 2 * v - 2 {
            return Some(exact);
        }
        let mut values: Vec<glib::SendValue> = match exact.get::<gst::List>() {
            Ok(list) => list.iter().cloned().collect(),
            Err(_) => vec![exact],
        };
        values.push(int_or_range(narrowest, 2 * v - 2));
        return Some(gst::List::from_values(values).to_send_value());
    }
    if let Ok(r) = value.get::<gst::IntRange<i32>>() {
        let (min, max) = (r.min().max(1), r.max().max(1));
        return Some(if to_compact {
            match padding {
                Some(WidthPadding::Multiple(m)) => {
                    let m = m.max(1);
                    int_or_range(round_up(halve(min), m), round_up(halve(max), m))
                }
                _ => int_or_range(halve(min), halve(max).saturating_add(slack)),
            }
        } else {
            int_or_range(
                (min.saturating_sub(slack).saturating_mul(2) - 1).max(1),
                max.saturating_mul(2),
            )
        });
    }
    if let Ok(list) = value.get::<gst::List>() {
        let mapped: Vec<glib::SendValue> = list
            .iter()
            .filter_map(|v| map_dim(v, to_compact, padding))
            .collect();
        if mapped.is_empty() {
            return None;
        }
        return Some(mapped.into_iter().collect::<gst::List>().to_send_value());
    }
    None
}

/// A mapped size as structures can hold it: a list of plain values stays one value, a list
/// that holds a range becomes one alternative per element, in order (GStreamer 1.22 compares
/// a range inside a list as if it were an integer, with a critical warning at every caps
/// query).
fn alternatives(value: glib::SendValue) -> Vec<glib::SendValue> {
    let Ok(list) = value.get::<gst::List>() else {
        return vec![value];
    };
    let flat: Vec<glib::SendValue> = list.iter().cloned().flat_map(alternatives).collect();
    if flat.iter().any(|v| v.get::<i32>().is_err()) {
        flat
    } else {
        vec![value]
    }
}

/// Caps on the other side of a size-halving element. `to_compact` says which way; `padding`
/// how compact widths may be widened.
pub fn map_caps(
    caps: &gst::Caps,
    to_compact: bool,
    padding: WidthPadding,
    filter: Option<&gst::Caps>,
) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().unwrap();
        for (s, features) in caps.iter_with_features() {
            let mut structures = vec![s.to_owned()];
            for (field, pad) in [("width", Some(padding)), ("height", None)] {
                structures = structures
                    .into_iter()
                    .flat_map(|s| {
                        let Ok(value) = s.value(field) else {
                            return vec![s];
                        };
                        let Some(mapped) = map_dim(value, to_compact, pad) else {
                            return vec![];
                        };
                        alternatives(mapped)
                            .into_iter()
                            .map(|v| {
                                let mut s = s.clone();
                                s.set_value(field, v);
                                s
                            })
                            .collect()
                    })
                    .collect();
            }
            for s in structures {
                out.append_structure_full(s, Some(features.to_owned()));
            }
        }
    }
    match filter {
        Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
        None => out,
    }
}

/// Name of the structure serialised into a `comment` tag that carries what `reccnndec`
/// needs: the original size and the model. A comment is the tag that survives `jpegenc`,
/// `openjpegenc`, `matroskamux` and back.
pub const STREAM_INFO_NAME: &str = "cnncodec";

/// What travels with a compact stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub width: u32,
    pub height: u32,
    pub model_name: String,
    pub model_hash: String,
    /// The ComCNN's own hash: any RecCNN trained behind it may decode the stream.
    pub comcnn_hash: String,
    pub model_location: Option<String>,
}

impl StreamInfo {
    pub fn to_comment(&self) -> String {
        let mut s = gst::Structure::builder(STREAM_INFO_NAME)
            .field("version", 1i32)
            .field("width", self.width as i32)
            .field("height", self.height as i32)
            .field("model", &self.model_name)
            .field("hash", &self.model_hash)
            .field("comcnn", &self.comcnn_hash);
        if let Some(l) = &self.model_location {
            s = s.field("location", l);
        }
        s.build().to_string()
    }

    pub fn from_comment(comment: &str) -> Option<Self> {
        // Other comments are not parsed at all: GStreamer's parser logs a critical for a
        // text that does not start with a valid structure name.
        let rest = comment.strip_prefix(STREAM_INFO_NAME)?;
        if !(rest.is_empty() || rest.starts_with(',') || rest.starts_with(';')) {
            return None;
        }
        if !every_value_typed(rest) {
            return None;
        }
        let s = parse_structure(comment)?;
        if s.name() != STREAM_INFO_NAME {
            return None;
        }
        let width = s.get::<i32>("width").ok().filter(|v| *v > 0)? as u32;
        let height = s.get::<i32>("height").ok().filter(|v| *v > 0)? as u32;
        Some(Self {
            width,
            height,
            model_name: s.get::<String>("model").unwrap_or_default(),
            model_hash: s.get::<String>("hash").unwrap_or_default(),
            comcnn_hash: s.get::<String>("comcnn").unwrap_or_default(),
            model_location: s.get::<String>("location").ok(),
        })
    }

    /// The stream info among a tag list's comments, if any.
    pub fn from_tags(tags: &gst::TagListRef) -> Option<Self> {
        tags.iter_tag::<gst::tags::Comment>()
            .find_map(|c| Self::from_comment(c.get()))
    }
}

/// Whether every field of a serialised structure names its type (`key=(int)1`), as ours do:
/// GStreamer's parser guesses the type of an untyped value and warns about some guesses.
fn every_value_typed(fields: &str) -> bool {
    let mut chars = fields.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '"' => quoted = !quoted,
            '=' if !quoted && chars.peek() != Some(&'(') => return false,
            _ => {}
        }
    }
    true
}

/// Parses a structure that must fill `text` (up to a closing `;`). Unlike
/// `Structure::from_str`, trailing text is refused quietly instead of with a GLib warning.
fn parse_structure(text: &str) -> Option<gst::Structure> {
    use gst::glib::translate::from_glib_full;
    let c = std::ffi::CString::new(text).ok()?;
    let mut end: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a valid C string that outlives the call; `end` points into it; a
    // non-null result is a new structure we own.
    unsafe {
        let raw = gst::ffi::gst_structure_from_string(c.as_ptr(), &mut end);
        if raw.is_null() {
            return None;
        }
        let s: gst::Structure = from_glib_full(raw);
        let rest = std::ffi::CStr::from_ptr(end).to_bytes();
        rest.iter()
            .all(|b| b.is_ascii_whitespace() || *b == b';')
            .then_some(s)
    }
}

/// A tag list with `info` replacing any earlier stream info and keeping everything else.
pub fn tags_with_info(upstream: Option<&gst::TagList>, info: &StreamInfo) -> gst::TagList {
    let mut tags = gst::TagList::new();
    {
        let tags = tags.get_mut().unwrap();
        if let Some(up) = upstream {
            for (name, values) in up.iter_generic() {
                for v in values {
                    let ours = name.as_str() == gst::tags::Comment::TAG_NAME.as_str()
                        && v.get::<&str>()
                            .is_ok_and(|c| StreamInfo::from_comment(c).is_some());
                    if !ours {
                        let _ = tags.add_generic(name, v.clone(), gst::TagMergeMode::Append);
                    }
                }
            }
        }
        tags.add::<gst::tags::Comment>(&info.to_comment().as_str(), gst::TagMergeMode::Append);
        tags.set_scope(gst::TagScope::Stream);
    }
    tags
}

/// The stock encoder element and property a model's operating point sets (`jpeg-q30`:
/// `jpegenc quality=30`), with the value it was trained for.
fn trained_setting(
    meta: &cnncodec::net::weights::ModelMeta,
) -> Option<(&'static str, &'static str)> {
    match meta.codec.as_str() {
        "jpeg" => Some(("jpegenc", "quality")),
        "jpeg2000" => Some(("j2kenc", "compression-ratio")),
        _ => None,
    }
}

/// The first element of factory `factory` downstream of `element`'s src pad, through
/// single-output elements (queue, capsfilter, ...) and into and out of bins.
fn downstream_element(element: &gst::Element, factory: &str) -> Option<gst::Element> {
    let mut pad = element.static_pad("src")?.peer()?;
    for _ in 0..32 {
        if let Some(ghost) = pad.downcast_ref::<gst::GhostPad>() {
            pad = ghost.target()?;
            continue;
        }
        if let Some(proxy) = pad.downcast_ref::<gst::ProxyPad>() {
            pad = proxy.internal()?.upcast::<gst::Pad>().peer()?;
            continue;
        }
        let el = pad.parent_element()?;
        if el.factory().is_some_and(|f| f.name() == factory) {
            return Some(el);
        }
        let srcs = el.src_pads();
        let [src] = srcs.as_slice() else {
            return None;
        };
        pad = src.peer()?;
    }
    None
}

/// A warning when the encoder downstream of `element` codes at another setting than the one
/// `meta`'s model was trained for (a pipeline that pairs `jpeg-q30` with `jpegenc quality=50`).
pub fn encoder_mismatch(
    element: &gst::Element,
    meta: &cnncodec::net::weights::ModelMeta,
) -> Option<String> {
    let (factory, property) = trained_setting(meta)?;
    let encoder = downstream_element(element, factory)?;
    let value = encoder
        .property_value(property)
        .transform::<f64>()
        .ok()?
        .get::<f64>()
        .ok()?;
    if factory == "j2kenc" && value == 0.0 {
        // j2kenc then codes to its `bpp` target, which no model's name states.
        return None;
    }
    let trained = meta.quality as f64;
    ((value - trained).abs() > 1e-9).then(|| {
        format!(
            "model '{}' was trained for {factory} {property}={trained}, but {} codes at {property}={value}: the restored frames lose quality; set {property}={trained} on {}{}",
            meta.name,
            encoder.name(),
            encoder.name(),
            if factory == "jpegenc" {
                " (or use cnnjpegenc with quality=0, which pairs them)"
            } else {
                ""
            }
        )
    })
}

static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "cnncodec",
        gst::DebugColorFlags::empty(),
        Some("cnncodec elements' shared code"),
    )
});

/// Refuses caps whose frames exceed [`cnncodec::pipeline::MAX_FRAME_PIXELS`] with an element
/// error that says so, before any buffer of that size is allocated.
pub fn check_frame_sizes(
    element: &gst::Element,
    infos: &[&gst_video::VideoInfo],
) -> Result<(), gst::LoggableError> {
    for info in infos {
        if let Some(e) =
            cnncodec::pipeline::frame_size_refusal(info.width() as usize, info.height() as usize)
        {
            gst::element_error!(element, gst::StreamError::Format, ("{}", e));
            return Err(gst::loggable_error!(*CAT, "{}", e));
        }
    }
    Ok(())
}

/// Refuses an input buffer that cannot hold a frame of the negotiated caps (too short for
/// them, or a video meta describing planes outside it). GStreamer's video filter would only
/// warn and push its output buffer unwritten: a wrong picture.
pub fn check_input_buffer(
    element: &gst::Element,
    sink_pad: &gst::Pad,
    inbuf: &gst::Buffer,
) -> Result<(), gst::FlowError> {
    let Some(info) = sink_pad
        .current_caps()
        .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
    else {
        return Err(gst::FlowError::NotNegotiated);
    };
    if gst_video::VideoFrameRef::from_buffer_ref_readable(inbuf.as_ref(), &info).is_ok()
        && planes_inside(inbuf, &info)
    {
        return Ok(());
    }
    gst::element_error!(
        element,
        gst::StreamError::Format,
        (
            "a {}-byte buffer cannot hold a {}x{} {} frame ({} bytes{}): the element before \
             this one sent a short or malformed buffer",
            inbuf.size(),
            info.width(),
            info.height(),
            info.format().to_str(),
            info.size(),
            if inbuf.meta::<gst_video::VideoMeta>().is_some() {
                ", or planes where its video meta says"
            } else {
                ""
            }
        )
    );
    Err(gst::FlowError::Error)
}

/// Whether every plane a video meta describes lies inside the buffer: mapping checks only
/// where each plane starts, and the planes are then read `stride x rows` long.
fn planes_inside(inbuf: &gst::Buffer, info: &gst_video::VideoInfo) -> bool {
    let Some(meta) = inbuf.meta::<gst_video::VideoMeta>() else {
        return true;
    };
    let format = info.format_info();
    (0..info.n_planes() as usize).all(|p| {
        let component = (0..info.n_components())
            .find(|&c| format.plane()[c as usize] as usize == p)
            .unwrap_or(0);
        let rows = info.comp_height(component as u8) as u64;
        let (Some(&offset), Some(&stride)) = (meta.offset().get(p), meta.stride().get(p)) else {
            return false;
        };
        stride > 0 && offset as u64 + stride as u64 * rows <= inbuf.size() as u64
    })
}

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

/// A model ready to run, with what identifies it in a stream.
#[derive(Clone)]
pub struct LoadedModel {
    pub weights: Arc<ModelWeights>,
    pub engine: Arc<dyn Engine>,
    pub location: Option<String>,
    pub placement: Placement,
}

/// Posts a `Progress` message (`code` names the task: `load-model`, `warm-up`).
fn post_progress(element: &gst::Element, kind: gst::ProgressType, code: &str, text: &str) {
    let _ = element.post_message(
        gst::message::Progress::builder(kind, code, text)
            .src(element)
            .build(),
    );
}

/// GPU kernels are compiled and autotuned per tensor shape on first use (cubecl keeps the
/// tuning results on disk, so the next start is quicker); running one frame of the
/// negotiated size here, announced with `Progress` messages, keeps that cost out of the first
/// buffer and of the latency reported. The CPU backend has nothing to tune.
pub fn warm_up_at_size(
    element: &gst::Element,
    model: &LoadedModel,
    width: usize,
    height: usize,
    restoring: bool,
) {
    if model.placement.backend == BackendKind::Cpu || width == 0 || height == 0 {
        return;
    }
    let post = |kind, text: String| post_progress(element, kind, "warm-up", &text);
    post(
        gst::ProgressType::Start,
        format!("tuning kernels for {width}x{height} frames"),
    );
    let engine = model.engine.clone();
    let done = guard("warming up", move || {
        let probe = cnncodec::Plane::new(width, height, vec![0.5; width * height]);
        if restoring {
            engine.residual(&probe);
        } else {
            engine.compact(&probe);
        }
    });
    match done {
        Ok(()) => post(
            gst::ProgressType::Complete,
            format!("kernels ready for {width}x{height}"),
        ),
        Err(e) => post(gst::ProgressType::Error, e),
    }
}

type EngineKey = (String, Placement);
type EngineCache = HashMap<EngineKey, Weak<dyn Engine>>;

/// The cache; a panic elsewhere while it was held must not break model loading for good.
fn engine_cache() -> std::sync::MutexGuard<'static, EngineCache> {
    static CACHE: OnceLock<Mutex<EngineCache>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many loaded engines of the model with `content_hash` are alive in this process
/// (elements sharing one count once).
pub fn live_engines(content_hash: &str) -> usize {
    let mut cache = engine_cache();
    cache.retain(|_, w| w.strong_count() > 0);
    cache.keys().filter(|k| k.0 == content_hash).count()
}

/// Loads the model a setting names (a file, else a built-in model, else the default built-in)
/// on the chosen backend. Elements in one process that use the same weights, backend and
/// device share one loaded copy.
pub fn load_model(
    location: Option<&str>,
    builtin: Option<&str>,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let path = location.map(PathBuf::from);
    let weights = cnncodec::net::builtin::resolve(path.as_deref(), builtin)?;
    load_weights(weights, location, placement)
}

/// [`load_model`] for weights already in memory (`location`: the file they came from).
pub fn load_weights(
    weights: ModelWeights,
    location: Option<&str>,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let key = (weights.meta.content_hash.clone(), placement);
    let cached = {
        let mut cache = engine_cache();
        cache.retain(|_, w| w.strong_count() > 0);
        cache.get(&key).and_then(Weak::upgrade)
    };
    let engine = match cached {
        Some(e) => e,
        None => {
            // Built without the cache lock: loading can take a while and must not block others.
            let e = guard("loading the model", || {
                cnncodec::load_engine_with(
                    &weights,
                    placement.backend,
                    placement.device_index as usize,
                    placement.precision,
                )
            })??;
            engine_cache().insert(key, Arc::downgrade(&e));
            e
        }
    };
    Ok(LoadedModel {
        weights: Arc::new(weights),
        engine,
        placement,
        location: location.map(|l| {
            std::fs::canonicalize(l)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| l.to_owned())
        }),
    })
}

/// [`load_model`] announced with `Progress` messages (start, then complete or error), so an
/// application can show that weights are loading and kernels warming up.
pub fn load_model_announced(
    element: &gst::Element,
    settings: &ModelSettings,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let what = settings
        .model_location
        .clone()
        .or_else(|| settings.model.clone())
        .or_else(|| cnncodec::net::builtin::default_model().map(str::to_owned))
        .unwrap_or_else(|| "no model".into());
    let post = |kind, text: String| post_progress(element, kind, "load-model", &text);
    post(
        gst::ProgressType::Start,
        format!(
            "loading model '{what}' on {} ({}) and warming up",
            placement.backend, placement.precision
        ),
    );
    let result = load_model(
        settings.model_location.as_deref(),
        settings.model.as_deref(),
        placement,
    );
    match &result {
        Ok(m) => post(
            gst::ProgressType::Complete,
            format!(
                "model '{}' ready on {}",
                m.weights.meta.name,
                m.engine.describe()
            ),
        ),
        Err(e) => post(gst::ProgressType::Error, e.clone()),
    }
    result
}

/// Per-frame timing of the network: the `stats` property and the latency the element adds.
#[derive(Debug, Default)]
pub struct FrameTimes {
    frames: u64,
    total: std::time::Duration,
    max: std::time::Duration,
    /// The processing latency last answered to a LATENCY query.
    reported: std::time::Duration,
    /// Whether a live pipeline asked for it (only live pipelines act on LATENCY messages).
    live: bool,
}

impl FrameTimes {
    /// Records one frame; true when a live pipeline was told a latency and this frame took
    /// notably longer (the element then posts a LATENCY message so the pipeline re-queries).
    pub fn record(&mut self, took: std::time::Duration) -> bool {
        self.frames += 1;
        self.total += took;
        self.max = self.max.max(took);
        self.live && took > self.reported + self.reported / 10
    }

    /// The processing latency to add in a LATENCY query: the slowest frame measured so far.
    pub fn latency_to_report(&mut self) -> gst::ClockTime {
        self.live = true;
        self.reported = self.max;
        gst::ClockTime::from_nseconds(self.max.as_nanos() as u64)
    }

    /// The read-only `stats` structure.
    pub fn to_structure(
        &self,
        model: Option<&LoadedModel>,
        settings: &ModelSettings,
    ) -> gst::Structure {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let mean = if self.frames > 0 {
            ms(self.total) / self.frames as f64
        } else {
            0.0
        };
        gst::Structure::builder("cnncodec-stats")
            .field("frames", self.frames)
            .field("mean-ms", mean)
            .field("max-ms", ms(self.max))
            .field("backend", settings.backend.nick())
            .field("device", settings.device_index)
            .field("precision", settings.precision.nick())
            .field(
                "model",
                model.map_or(String::new(), |m| m.weights.meta.name.clone()),
            )
            .field(
                "model-hash",
                model.map_or(String::new(), |m| m.weights.meta.short_hash().to_owned()),
            )
            .field(
                "engine",
                model.map_or(String::new(), |m| m.engine.describe()),
            )
            .build()
    }
}

/// The `stats` property both elements have.
pub fn stats_property() -> glib::ParamSpec {
    glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
        .nick("Statistics")
        .blurb(
            "Read-only: frames processed since start, mean-ms and max-ms of the network per \
             frame, backend, device, precision, model, model-hash, engine",
        )
        .read_only()
        .build()
}

/// Answers a LATENCY query on the source pad: upstream's latency, plus this element's
/// measured processing time when upstream is live.
pub fn answer_latency(
    element: &gst_base::BaseTransform,
    query: &mut gst::query::Latency,
    times: &Mutex<FrameTimes>,
) -> bool {
    let mut upstream = gst::query::Latency::new();
    if !element.sink_pad().peer_query(&mut upstream) {
        return false;
    }
    let (live, min, max) = upstream.result();
    if live {
        let ours = times.lock().unwrap().latency_to_report();
        query.set(live, min + ours, max.map(|m| m + ours));
    } else {
        query.set(live, min, max);
    }
    true
}

/// Zeroed bytes kept allocated behind each frame we make: `jpegenc` reads whole 8x8 (or
/// 16x16) blocks straight from the frame, up to 15 samples past the end of the last row when
/// the width is not a multiple of the block, so without them it codes whatever memory follows.
pub const ENCODER_OVERREAD: usize = 64;

/// Where component `c` (0 luma, 1 and 2 chroma) of a frame lies: its plane, the bytes from one
/// sample to the next in a row, and the first sample's offset in the row.
fn component_layout(info: &gst_video::VideoInfo, c: u8) -> (u32, usize, usize) {
    let f = info.format_info();
    let c = c as usize;
    (
        f.plane()[c],
        f.pixel_stride()[c] as usize,
        f.poffset()[c] as usize,
    )
}

/// Number of components (1 for gray, 3 for YUV).
pub fn n_components(info: &gst_video::VideoInfo) -> u8 {
    info.format_info().n_components() as u8
}

/// Component `c` (0 luma, 1 U, 2 V) of a mapped frame as a packed 8-bit image, whether it has
/// a plane of its own (I420), shares one with the other chroma (NV12) or with luma (YUY2).
pub fn read_component(frame: &gst_video::VideoFrameRef<&gst::BufferRef>, c: u8) -> GrayImage {
    let info = frame.info();
    let (w, h) = (info.comp_width(c) as usize, info.comp_height(c) as usize);
    let (plane, step, offset) = component_layout(info, c);
    let stride = frame.plane_stride()[plane as usize] as usize;
    let bytes = frame.plane_data(plane).unwrap();
    if step == 1 && offset == 0 {
        return GrayImage::from_strided(w, h, stride, bytes);
    }
    let mut data = Vec::with_capacity(w * h);
    for row in 0..h {
        let start = row * stride + offset;
        data.extend((0..w).map(|x| bytes[start + x * step]));
    }
    GrayImage::new(w, h, data)
}

/// Writes a packed 8-bit image into component `c` of a mapped frame (sizes must agree).
pub fn write_component(
    frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    c: u8,
    img: &GrayImage,
) {
    let (plane, step, offset) = component_layout(frame.info(), c);
    let stride = frame.plane_stride()[plane as usize] as usize;
    let bytes = frame.plane_data_mut(plane).unwrap();
    if step == 1 && offset == 0 {
        img.write_strided(stride, bytes);
        return;
    }
    for row in 0..img.height {
        let start = row * stride + offset;
        for (x, &v) in img.data[row * img.width..(row + 1) * img.width]
            .iter()
            .enumerate()
        {
            bytes[start + x * step] = v;
        }
    }
}

/// Copies a buffer's flags, timestamps and metas, not its memory, onto another.
pub fn copy_metadata(
    from: &gst::BufferRef,
    to: &mut gst::BufferRef,
) -> Result<(), glib::BoolError> {
    from.copy_into(
        to,
        gst::BufferCopyFlags::FLAGS | gst::BufferCopyFlags::TIMESTAMPS | gst::BufferCopyFlags::META,
        ..,
    )
}

/// Runs `f`, turning a panic inside the network code into an error message.
pub fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        format!(
            "{what} failed inside the network code: {}",
            cnncodec::net::engine::panic_message(p.as_ref())
        )
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn frame_times_ask_for_a_new_latency_only_when_live() {
        let ms = std::time::Duration::from_millis;
        let mut t = FrameTimes::default();
        // Never asked for a latency (not live): no frame asks for a new one.
        assert!(!t.record(ms(50)));
        assert_eq!(t.latency_to_report(), gst::ClockTime::from_mseconds(50));
        // Told 50 ms: a frame within 10 % of it is fine, a slower one asks again.
        assert!(!t.record(ms(54)));
        assert!(t.record(ms(80)));
        assert_eq!(t.latency_to_report(), gst::ClockTime::from_mseconds(80));
        assert!(!t.record(ms(80)));
    }
    use super::*;

    fn info(width: u32) -> StreamInfo {
        StreamInfo {
            width,
            height: 289,
            model_name: "m".into(),
            model_hash: "0123456789abcdef".into(),
            comcnn_hash: "fedcba9876543210".into(),
            model_location: Some("/models/with \"quotes\", commas.cnnmodel".into()),
        }
    }

    #[test]
    fn stream_info_survives_its_comment_form() {
        gst::init().unwrap();
        let i = info(353);
        assert_eq!(StreamInfo::from_comment(&i.to_comment()), Some(i));
        assert_eq!(StreamInfo::from_comment("a user's own comment"), None);
        // Found by `cnncodec-fuzz tag`: texts GStreamer's parser answers with a GLib critical
        // or warning are refused before (or without) one.
        let criticals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = criticals.clone();
        let handler = gst::glib::log_set_handler(
            Some("GStreamer"),
            gst::glib::LogLevels::LEVEL_CRITICAL | gst::glib::LogLevels::LEVEL_WARNING,
            false,
            false,
            move |_, _, _| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        );
        for text in [
            "cnnco;ec, width=(int)4, height=(int)4",
            "cnncodec, width=(int)4, height=(int)4;trailing=(int)1",
            "cnncodec, version=(int)1, wation=(string)\"\";idth=(int)63, height1(int)11",
            "cnncodec\u{0}, width=(int)4",
            "cnncodec, version=(int)1, width=\"\", l*int)4, height=(int)3",
        ] {
            assert_eq!(StreamInfo::from_comment(text), None, "{text}");
        }
        gst::glib::log_remove_handler(Some("GStreamer"), handler);
        assert_eq!(criticals.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn merged_tags_keep_upstream_tags_and_replace_old_stream_info() {
        gst::init().unwrap();
        let mut up = gst::TagList::new();
        {
            let up = up.get_mut().unwrap();
            up.add::<gst::tags::Title>(&"kept", gst::TagMergeMode::Append);
            up.add::<gst::tags::Comment>(&"a user's note", gst::TagMergeMode::Append);
            up.add::<gst::tags::Comment>(
                &info(100).to_comment().as_str(),
                gst::TagMergeMode::Append,
            );
        }
        let merged = tags_with_info(Some(&up), &info(353));
        assert_eq!(merged.get::<gst::tags::Title>().unwrap().get(), "kept");
        let comments: Vec<String> = merged
            .iter_tag::<gst::tags::Comment>()
            .map(|c| c.get().to_owned())
            .collect();
        assert_eq!(comments.len(), 2, "{comments:?}");
        assert!(comments.contains(&"a user's note".to_owned()));
        assert_eq!(StreamInfo::from_tags(&merged).unwrap().width, 353);
        assert_eq!(merged.scope(), gst::TagScope::Stream);
    }

    #[test]
    fn size_mapping_covers_odd_originals_and_never_panics() {
        gst::init().unwrap();
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", 177i32)
            .field("height", gst::IntRange::new(1i32, i32::MAX))
            .build();
        let exact = WidthPadding::Multiple(1);
        let up = map_caps(&caps, false, exact, None);
        let s = up.structure(0).unwrap();
        let widths: Vec<i32> = s
            .get::<gst::List>("width")
            .unwrap()
            .iter()
            .map(|v| v.get::<i32>().unwrap())
            .collect();
        assert_eq!(widths, vec![354, 353]);
        let down = map_caps(&caps, true, exact, None);
        assert_eq!(down.structure(0).unwrap().get::<i32>("width").unwrap(), 89);
        // Degenerate values map to something valid or nothing, never a panic.
        for w in [0i32, 1, i32::MAX] {
            let c = gst::Caps::builder("video/x-raw").field("width", w).build();
            for padding in [exact, WidthPadding::Multiple(16), WidthPadding::Any] {
                let _ = map_caps(&c, false, padding, None);
                let _ = map_caps(&c, true, padding, None);
            }
        }
    }

    #[test]
    fn widened_compact_widths_map_to_every_original_they_can_hold() {
        gst::init().unwrap();
        let width = |w: i32, to_compact, padding| {
            let c = gst::Caps::builder("video/x-raw").field("width", w).build();
            map_caps(&c, to_compact, padding, None)
        };
        let sixteen = WidthPadding::Multiple(16);
        // 451 -> 226 -> 240 (a multiple of 16).
        let c = width(451, true, sixteen);
        assert_eq!(c.structure(0).unwrap().get::<i32>("width").unwrap(), 240);
        // Back: 480, 479, then every original whose compact width widens to 240.
        let up = width(240, false, sixteen);
        for w in [480, 479, 451, 449] {
            let one = gst::Caps::builder("video/x-raw").field("width", w).build();
            assert!(up.can_intersect(&one), "{w} missing from {up}");
        }
        let too_narrow = gst::Caps::builder("video/x-raw")
            .field("width", 448)
            .build();
        assert!(!up.can_intersect(&too_narrow), "{up}");
        // A width no original widens to has no original.
        assert!(width(241, false, sixteen).is_empty());
        // The decoder takes any widening up to 63 columns.
        let any = width(240, false, WidthPadding::Any);
        // Never a range inside a list (GStreamer 1.22 compares it as an integer).
        for s in any.iter().chain(up.iter()) {
            let w = s.value("width").unwrap();
            if let Ok(list) = w.get::<gst::List>() {
                assert!(list.iter().all(|v| v.get::<i32>().is_ok()), "{s}");
            }
        }
        for w in [480, 451, 355] {
            let one = gst::Caps::builder("video/x-raw").field("width", w).build();
            assert!(any.can_intersect(&one), "{w} missing from {any}");
        }
    }
}
