//! Checks on what arrives: frame sizes, and buffers that cannot hold their frame.

use super::*;

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
