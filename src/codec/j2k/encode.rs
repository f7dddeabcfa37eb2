//! The encoder.

use std::ffi::{c_char, c_void};

use openjpeg_sys as opj;

use super::ffi::*;
use super::*;

/// The subsampling of a `plane_size` plane in a `full` picture (1, 2 or 4), if it is one.
fn subsampling(full: usize, plane_size: usize) -> Option<u32> {
    [1u32, 2, 4]
        .into_iter()
        .find(|&d| full.div_ceil(d as usize) == plane_size)
}

/// Checks the planes against the picture: their count for `colour`, each a subsampling of
/// `width` x `height` holding enough bytes. Returns OpenJPEG's component parameters.
fn component_params(
    width: usize,
    height: usize,
    planes: &[PlaneRef],
    colour: ColourSpace,
) -> Result<Vec<opj::opj_image_cmptparm_t>, J2kError> {
    let expected = if colour == ColourSpace::Gray { 1 } else { 3 };
    if planes.len() != expected {
        return err(format!(
            "{colour:?} needs {expected} planes, got {}",
            planes.len()
        ));
    }
    let mut params = Vec::with_capacity(planes.len());
    for (i, p) in planes.iter().enumerate() {
        let (Some(dx), Some(dy)) = (subsampling(width, p.width), subsampling(height, p.height))
        else {
            return err(format!(
                "plane {i} is {}x{}, not a subsampling of {width}x{height}",
                p.width, p.height
            ));
        };
        params.push(opj::opj_image_cmptparm_t {
            dx,
            dy,
            w: p.width as u32,
            h: p.height as u32,
            x0: 0,
            y0: 0,
            prec: 8,
            bpp: 8,
            sgnd: 0,
        });
    }
    Ok(params)
}

/// OpenJPEG's encoder parameters for a planned encode.
fn encoder_parameters(
    settings: &J2kSettings,
    rates: &[f32],
    resolutions: u32,
    colour: ColourSpace,
    (width, height): (usize, usize),
) -> opj::opj_cparameters_t {
    // SAFETY: a plain C struct that OpenJPEG fills with its defaults.
    let mut cp: opj::opj_cparameters_t = unsafe { std::mem::zeroed() };
    unsafe { opj::opj_set_default_encoder_parameters(&mut cp) };
    cp.tcp_numlayers = rates.len() as i32;
    cp.tcp_rates[..rates.len()].copy_from_slice(rates);
    cp.cp_disto_alloc = 1;
    cp.irreversible = settings.irreversible as i32;
    cp.numresolution = resolutions as i32;
    cp.tcp_mct = (colour == ColourSpace::Rgb) as c_char;
    if settings.tile != (0, 0) {
        let side = |t: u32, full: usize| if t == 0 { full as i32 } else { t as i32 };
        cp.tile_size_on = 1;
        cp.cp_tdx = side(settings.tile.0, width);
        cp.cp_tdy = side(settings.tile.1, height);
    }
    cp
}

/// Encodes a `width` x `height` picture given as planes (1 gray, or 3 colour planes, chroma
/// possibly subsampled) to a raw JPEG 2000 codestream (`image/x-jpc`).
pub fn encode(
    width: usize,
    height: usize,
    planes: &[PlaneRef],
    colour: ColourSpace,
    settings: &J2kSettings,
) -> Result<Vec<u8>, J2kError> {
    let mut params = component_params(width, height, planes, colour)?;
    let factors: Vec<(u32, u32)> = params.iter().map(|p| (p.dx, p.dy)).collect();
    let (rates, resolutions) = plan(settings, width, height, &factors)?;
    for (i, p) in planes.iter().enumerate() {
        if p.stride < p.width || p.data.len() < p.stride * (p.height - 1) + p.width {
            return err(format!("plane {i} holds fewer bytes than its size needs"));
        }
    }
    let colour_space = match colour {
        ColourSpace::Gray => opj::COLOR_SPACE::OPJ_CLRSPC_GRAY,
        ColourSpace::Rgb => opj::COLOR_SPACE::OPJ_CLRSPC_SRGB,
        ColourSpace::Ycc => opj::COLOR_SPACE::OPJ_CLRSPC_SYCC,
    };
    let mut cp = encoder_parameters(settings, &rates, resolutions, colour, (width, height));
    let messages = Messages::default();
    let mut sink = Sink::default();
    // SAFETY: plain C calls on handles created here and owned by `Handles`; the image's
    // component buffers are `w * h` i32s as opj_image_create allocates them; the callbacks'
    // user data (`sink`, `messages`) outlive the codec and stream, which `handles` frees first.
    unsafe {
        let mut handles = Handles {
            codec: opj::opj_create_compress(opj::CODEC_FORMAT::OPJ_CODEC_J2K),
            image: opj::opj_image_create(params.len() as u32, params.as_mut_ptr(), colour_space),
            stream: std::ptr::null_mut(),
        };
        if handles.codec.is_null() || handles.image.is_null() {
            return err("OpenJPEG could not allocate an encoder (out of memory?)");
        }
        let msg_ptr = &messages as *const Messages as *mut c_void;
        opj::opj_set_error_handler(handles.codec, Some(collect_message), msg_ptr);
        let image = &mut *handles.image;
        image.x0 = 0;
        image.y0 = 0;
        image.x1 = width as u32;
        image.y1 = height as u32;
        for (i, p) in planes.iter().enumerate() {
            let comp = &mut *image.comps.add(i);
            let dst = std::slice::from_raw_parts_mut(comp.data, p.width * p.height);
            for (y, row) in dst.chunks_exact_mut(p.width).enumerate() {
                let src = &p.data[y * p.stride..y * p.stride + p.width];
                for (d, &s) in row.iter_mut().zip(src) {
                    *d = s as i32;
                }
            }
        }
        if opj::opj_setup_encoder(handles.codec, &mut cp, handles.image) == 0 {
            return Err(messages.failure("set up the encoder"));
        }
        let threads = if settings.threads == 0 {
            opj::opj_get_num_cpus().max(1)
        } else {
            settings.threads as i32
        };
        if threads > 1 {
            opj::opj_codec_set_threads(handles.codec, threads);
        }
        handles.stream = opj::opj_stream_create(1 << 16, 0);
        if handles.stream.is_null() {
            return err("OpenJPEG could not allocate an output stream");
        }
        let sink_ptr = &mut sink as *mut Sink as *mut c_void;
        opj::opj_stream_set_write_function(handles.stream, Some(sink_write));
        opj::opj_stream_set_skip_function(handles.stream, Some(sink_skip));
        opj::opj_stream_set_seek_function(handles.stream, Some(sink_seek));
        opj::opj_stream_set_user_data(handles.stream, sink_ptr, None);
        if opj::opj_start_compress(handles.codec, handles.image, handles.stream) == 0
            || opj::opj_encode(handles.codec, handles.stream) == 0
            || opj::opj_end_compress(handles.codec, handles.stream) == 0
        {
            return Err(messages.failure("encode the picture"));
        }
        drop(handles);
    }
    Ok(sink.data)
}

/// [`encode`] of an 8-bit gray image.
pub fn encode_gray(img: &GrayImage, settings: &J2kSettings) -> Result<Vec<u8>, J2kError> {
    encode(
        img.width,
        img.height,
        &[PlaneRef::of(img)],
        ColourSpace::Gray,
        settings,
    )
}
