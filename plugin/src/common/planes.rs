//! Planes between GStreamer frames and the core crate, and metadata copied across.

use super::*;

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
