//! Carrying the stream info through H.264 / H.265 encoders and decoders, inside the key frames
//! ([`crate::h26x_info`]): a probe after the encoder writes it, a probe before the decoder
//! reads it and sends it on as a stream tag, which the decoder forwards in order.

use std::sync::Mutex;

use gst::prelude::*;

use super::{downstream_h26x_encoder, tags_with_info, upstream_video_decoder, StreamInfo};
use crate::h26x_info::{self, Codec, Framing};

/// A probe on another element's pad, removed when dropped.
pub struct InfoProbe {
    pad: gst::Pad,
    id: Option<gst::PadProbeId>,
}

impl Drop for InfoProbe {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.pad.remove_probe(id);
        }
    }
}

/// The codec and NAL framing a pad's current caps state.
fn coding_of(pad: &gst::Pad) -> Option<(Codec, Framing)> {
    let caps = pad.current_caps()?;
    let s = caps.structure(0)?;
    let codec = Codec::from_caps_name(s.name())?;
    Some((codec, Framing::from_caps(s, codec)?))
}

fn is_key_frame(buffer: &gst::BufferRef) -> bool {
    !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT)
}

/// Whether the coded size the pad's caps state (if they do) is `size`.
fn coded_size_is(pad: &gst::Pad, size: (u32, u32)) -> bool {
    let Some(caps) = pad.current_caps() else {
        return false;
    };
    let Some(s) = caps.structure(0) else {
        return false;
    };
    match (s.get::<i32>("width"), s.get::<i32>("height")) {
        (Ok(w), Ok(h)) => (w as i64, h as i64) == (size.0 as i64, size.1 as i64),
        _ => true,
    }
}

/// Writes `info` into every key frame of `compact` size (frames of an earlier size still in
/// the encoder keep none) leaving the H.264 / H.265 encoder downstream of `element` (`None`:
/// there is none).
pub fn write_info_after_encoder(
    element: &gst::Element,
    info: &StreamInfo,
    compact: (u32, u32),
) -> Option<InfoProbe> {
    let pad = downstream_h26x_encoder(element)?.static_pad("src")?;
    let text = info.to_comment();
    let id = pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
        let Some(gst::PadProbeData::Buffer(buffer)) = &mut probe.data else {
            return gst::PadProbeReturn::Ok;
        };
        if !is_key_frame(buffer) || !coded_size_is(pad, compact) {
            return gst::PadProbeReturn::Ok;
        }
        let Some((codec, framing)) = coding_of(pad) else {
            return gst::PadProbeReturn::Ok;
        };
        let with = match buffer.map_readable() {
            Ok(map) => h26x_info::with_info(&map, codec, framing, &text),
            Err(_) => None,
        };
        if let Some(bytes) = with {
            let mut out = gst::Buffer::from_mut_slice(bytes);
            let flags = gst::BufferCopyFlags::FLAGS
                | gst::BufferCopyFlags::TIMESTAMPS
                | gst::BufferCopyFlags::META;
            if buffer.copy_into(out.get_mut().unwrap(), flags, ..).is_ok() {
                *buffer = out;
            }
        }
        gst::PadProbeReturn::Ok
    })?;
    Some(InfoProbe { pad, id: Some(id) })
}

/// The stream-scoped tags stored on `pad`, if any (global ones are stored apart).
fn stream_tags(pad: &gst::Pad) -> Option<gst::TagList> {
    (0..4)
        .filter_map(|i| pad.sticky_event::<gst::event::Tag>(i))
        .map(|t| t.tag_owned())
        .find(|t| t.scope() == gst::TagScope::Stream)
}

/// Reads the stream info from the key frames entering the video decoder upstream of `element`
/// and sends it into the decoder as a stream tag (merged with the stream's own tags) at the
/// start of each stream and whenever it changes (`None`: there is no decoder upstream).
pub fn read_info_before_decoder(element: &gst::Element) -> Option<InfoProbe> {
    let pad = upstream_video_decoder(element)?.static_pad("sink")?;
    let last = Mutex::new(None::<StreamInfo>);
    let kinds = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
    let id = pad.add_probe(kinds, move |pad, probe| {
        if let Some(gst::PadProbeData::Event(event)) = &probe.data {
            if event.type_() == gst::EventType::StreamStart {
                // A new stream starts without info downstream: say it again.
                *last.lock().unwrap() = None;
            }
            return gst::PadProbeReturn::Ok;
        }
        let Some(gst::PadProbeData::Buffer(buffer)) = &probe.data else {
            return gst::PadProbeReturn::Ok;
        };
        if !is_key_frame(buffer) {
            return gst::PadProbeReturn::Ok;
        }
        let Some((codec, framing)) = coding_of(pad) else {
            return gst::PadProbeReturn::Ok;
        };
        let text = match buffer.map_readable() {
            Ok(map) => h26x_info::read(&map, codec, framing),
            Err(_) => None,
        };
        let Some(info) = text.as_deref().and_then(StreamInfo::from_comment) else {
            return gst::PadProbeReturn::Ok;
        };
        let mut last = last.lock().unwrap();
        if last.as_ref() != Some(&info) {
            let tags = tags_with_info(stream_tags(pad).as_ref(), &info);
            *last = Some(info);
            drop(last);
            pad.send_event(gst::event::Tag::new(tags));
        }
        gst::PadProbeReturn::Ok
    })?;
    Some(InfoProbe { pad, id: Some(id) })
}
