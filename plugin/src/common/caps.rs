//! Caps: the formats both elements take and how sizes map between original and compact frames.

use super::*;

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

/// How one compact dimension relates to the original one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `comcnnenc`: ceil(W / 2) rounded up to a multiple of this (1: exactly halved).
    Multiple(i32),
    /// `reccnndec`: whatever encoder made the stream may have widened it by up to
    /// [`cnncodec::pipeline::MAX_PADDING`] columns or rows.
    Any,
}

impl Padding {
    /// Columns (rows) a compact width (height) may exceed ceil(W / 2) by.
    fn slack(self) -> i32 {
        match self {
            Self::Multiple(m) => m.max(1) - 1,
            Self::Any => cnncodec::pipeline::MAX_PADDING as i32,
        }
    }
}

/// Maps one width/height value. `to_compact`: original -> compact; else compact -> every
/// original that has it: 2v, then 2v - 1 (even first, so fixation prefers it), then for a
/// widened dimension the narrower originals.
fn map_dim(value: &glib::SendValue, to_compact: bool, padding: Padding) -> Option<glib::SendValue> {
    let slack = padding.slack();
    if let Ok(v) = value.get::<i32>() {
        if v < 1 {
            return None;
        }
        if to_compact {
            let h = halve(v);
            return Some(match padding {
                Padding::Multiple(m) => round_up(h, m.max(1)).to_send_value(),
                Padding::Any => int_or_range(h, h.saturating_add(slack)),
            });
        }
        if let Padding::Multiple(m) = padding {
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
                Padding::Multiple(m) => {
                    let m = m.max(1);
                    int_or_range(round_up(halve(min), m), round_up(halve(max), m))
                }
                Padding::Any => int_or_range(halve(min), halve(max).saturating_add(slack)),
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
/// how compact widths and heights may be extended.
pub fn map_caps(
    caps: &gst::Caps,
    to_compact: bool,
    padding: [Padding; 2],
    filter: Option<&gst::Caps>,
) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().unwrap();
        for (s, features) in caps.iter_with_features() {
            let mut structures = vec![s.to_owned()];
            for (field, pad) in [("width", padding[0]), ("height", padding[1])] {
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
