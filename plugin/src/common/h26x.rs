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

/// Writes `info` into every key frame leaving the H.264 / H.265 encoder downstream of
/// `element` (`None`: there is none).
pub fn write_info_after_encoder(element: &gst::Element, info: &StreamInfo) -> Option<InfoProbe> {
    let pad = downstream_h26x_encoder(element)?.static_pad("src")?;
    let text = info.to_comment();
    let id = pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
        let Some(gst::PadProbeData::Buffer(buffer)) = &mut probe.data else {
            return gst::PadProbeReturn::Ok;
        };
        if !is_key_frame(buffer) {
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

/// Reads the stream info from the key frames entering the video decoder upstream of `element`
/// and sends it into the decoder as a stream tag (merged with the stream's own tags) whenever
/// it changes (`None`: there is no decoder upstream).
pub fn read_info_before_decoder(element: &gst::Element) -> Option<InfoProbe> {
    let pad = upstream_video_decoder(element)?.static_pad("sink")?;
    let last = Mutex::new(None::<StreamInfo>);
    let id = pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
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
            let stream_tags = pad
                .sticky_event::<gst::event::Tag>(0)
                .map(|t| t.tag_owned())
                .filter(|t| t.scope() == gst::TagScope::Stream);
            let tags = tags_with_info(stream_tags.as_ref(), &info);
            *last = Some(info);
            drop(last);
            pad.send_event(gst::event::Tag::new(tags));
        }
        gst::PadProbeReturn::Ok
    })?;
    Some(InfoProbe { pad, id: Some(id) })
}
