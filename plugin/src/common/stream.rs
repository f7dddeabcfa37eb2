//! What travels with a compact stream (the `cnncodec` comment) and the encoder downstream of `comcnnenc`.

use super::*;

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
        "hevc" => Some(("x265enc", "qp")),
        _ => None,
    }
}

/// The first element of factory `factory` downstream of `element`'s src pad, through
/// single-output elements (queue, capsfilter, ...) and into and out of bins.
fn downstream_element(element: &gst::Element, factory: &str) -> Option<gst::Element> {
    downstream_matching(element, |f| f.name() == factory)
}

/// Whether a video encoder that refuses odd 4:2:0 sizes (H.264 / H.265: x264enc, x265enc,
/// openh264enc, hardware ones) follows `element`.
pub fn downstream_needs_even_size(element: &gst::Element) -> bool {
    downstream_h26x_encoder(element).is_some()
}

/// The H.264 / H.265 encoder downstream of `element`, if there is one.
pub fn downstream_h26x_encoder(element: &gst::Element) -> Option<gst::Element> {
    downstream_matching(element, |f| {
        let name = f.name();
        let klass = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
        klass.contains("Encoder") && ["264", "265", "hevc"].iter().any(|c| name.contains(c))
    })
}

/// The video decoder upstream of `element` (through ghost pads, bins and one-input elements
/// such as queues and converters), if there is one.
pub fn upstream_video_decoder(element: &gst::Element) -> Option<gst::Element> {
    let mut pad = element.static_pad("sink")?.peer()?;
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
        let klass = el
            .factory()
            .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_owned))
            .unwrap_or_default();
        if klass.contains("Decoder") && klass.contains("Video") {
            return Some(el);
        }
        let sinks = el.sink_pads();
        let [sink] = sinks.as_slice() else {
            return None;
        };
        pad = sink.peer()?;
    }
    None
}

/// The first element downstream of `element` (through ghost pads, bins and one-output
/// elements) whose factory `wanted` accepts.
fn downstream_matching(
    element: &gst::Element,
    wanted: impl Fn(&gst::ElementFactory) -> bool,
) -> Option<gst::Element> {
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
        if el.factory().is_some_and(|f| wanted(&f)) {
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
    if (factory == "j2kenc" && value == 0.0) || (factory == "x265enc" && value < 0.0) {
        // j2kenc then codes to its `bpp` target, x265enc to its bit rate, which no model's
        // name states.
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
