//! The decoder, with the declared size checked before OpenJPEG allocates for it.

use std::ffi::c_void;

use openjpeg_sys as opj;

use super::ffi::*;
use super::*;

/// A decoded codestream: its components as 8-bit planes (values clamped).
#[derive(Debug)]
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub planes: Vec<GrayImage>,
}

/// The largest image [`decode`] accepts, in pixels per component, and its most components:
/// a header declaring more is refused before OpenJPEG allocates for it.
pub const MAX_DECODE_PIXELS: u64 = 1 << 24;
pub const MAX_DECODE_COMPONENTS: u32 = 3;

fn check_declared_size(image: &opj::opj_image_t) -> Result<(), J2kError> {
    let (w, h) = (
        image.x1.saturating_sub(image.x0) as u64,
        image.y1.saturating_sub(image.y0) as u64,
    );
    if w == 0 || h == 0 || w * h > MAX_DECODE_PIXELS {
        return err(format!(
            "the codestream declares a {w}x{h} image; at most {MAX_DECODE_PIXELS} pixels are decoded"
        ));
    }
    if image.numcomps == 0 || image.numcomps > MAX_DECODE_COMPONENTS {
        return err(format!(
            "the codestream declares {} components; at most {MAX_DECODE_COMPONENTS} are decoded",
            image.numcomps
        ));
    }
    Ok(())
}

/// Decodes a raw codestream (`image/x-jpc`) with the same OpenJPEG.
pub fn decode(codestream: &[u8]) -> Result<Decoded, J2kError> {
    let messages = Messages::default();
    let mut source = Source {
        data: codestream,
        pos: 0,
    };
    // SAFETY: as in `encode`; the decoded image's components hold `w * h` i32s each.
    unsafe {
        let mut handles = Handles {
            codec: opj::opj_create_decompress(opj::CODEC_FORMAT::OPJ_CODEC_J2K),
            image: std::ptr::null_mut(),
            stream: opj::opj_stream_create(1 << 16, 1),
        };
        if handles.codec.is_null() || handles.stream.is_null() {
            return err("OpenJPEG could not allocate a decoder");
        }
        let msg_ptr = &messages as *const Messages as *mut c_void;
        opj::opj_set_error_handler(handles.codec, Some(collect_message), msg_ptr);
        let mut dp: opj::opj_dparameters_t = std::mem::zeroed();
        opj::opj_set_default_decoder_parameters(&mut dp);
        if opj::opj_setup_decoder(handles.codec, &mut dp) == 0 {
            return Err(messages.failure("set up the decoder"));
        }
        let src_ptr = &mut source as *mut Source as *mut c_void;
        opj::opj_stream_set_read_function(handles.stream, Some(source_read));
        opj::opj_stream_set_skip_function(handles.stream, Some(source_skip));
        opj::opj_stream_set_seek_function(handles.stream, Some(source_seek));
        opj::opj_stream_set_user_data(handles.stream, src_ptr, None);
        opj::opj_stream_set_user_data_length(handles.stream, codestream.len() as u64);
        if opj::opj_read_header(handles.stream, handles.codec, &mut handles.image) == 0 {
            return Err(messages.failure("read the codestream's header"));
        }
        check_declared_size(&*handles.image)?;
        if opj::opj_decode(handles.codec, handles.stream, handles.image) == 0
            || opj::opj_end_decompress(handles.codec, handles.stream) == 0
        {
            return Err(messages.failure("decode the codestream"));
        }
        let image = &*handles.image;
        let mut planes = vec![];
        for i in 0..image.numcomps as usize {
            let comp = &*image.comps.add(i);
            let (w, h) = (comp.w as usize, comp.h as usize);
            if comp.data.is_null() || w == 0 || h == 0 {
                return err(format!("component {i} of the codestream was not decoded"));
            }
            let src = std::slice::from_raw_parts(comp.data, w * h);
            let data = src.iter().map(|&v| v.clamp(0, 255) as u8).collect();
            planes.push(GrayImage::new(w, h, data));
        }
        Ok(Decoded {
            width: image.x1.saturating_sub(image.x0) as usize,
            height: image.y1.saturating_sub(image.y0) as usize,
            planes,
        })
    }
}
