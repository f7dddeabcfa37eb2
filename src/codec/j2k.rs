//! Lossy (and lossless) JPEG 2000 codestreams with OpenJPEG (`openjpeg-sys`, bundled 2.5):
//! the encoder behind the plugin's `j2kenc` element, the evaluation's plain-J2K ladder and the
//! training loop's J2K codec, plus a decoder for tests. No GStreamer types here.
//!
//! Rates follow OpenJPEG's definition: a compression ratio is the size of the raw samples
//! counted as `components x precision` bits per picture pixel (chroma subsampling is not
//! discounted) over the coded size. [`Rate::BitsPerPixel`] is converted with that rule, so
//! `bpp` is always coded bits over picture pixels.

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use openjpeg_sys as opj;

use crate::frame::image::GrayImage;

/// The most resolution levels the standard allows.
pub const MAX_RESOLUTIONS: u32 = 32;
/// The most quality layers the encoder accepts (OpenJPEG's table holds 100).
pub const MAX_LAYERS: u32 = 100;
/// Resolution levels used when none is asked for (OpenJPEG's default), fewer on small pictures.
pub const DEFAULT_RESOLUTIONS: u32 = 6;

/// How many bits the codestream may spend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Every coefficient kept (bit-exact with the reversible 5/3 wavelet).
    Lossless,
    /// Coded bits per picture pixel (all components together).
    BitsPerPixel(f64),
    /// OpenJPEG's compression ratio (see the module documentation); above 1.
    Ratio(f64),
}

/// Encoder settings; [`Default`] is 1 bpp, one layer, automatic resolution levels, 9/7
/// wavelet, one tile, one thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct J2kSettings {
    pub rate: Rate,
    /// Quality layers: layer `i` of `n` targets `2^(n-1-i)` times the final ratio, so a
    /// decoder that stops early gets a coarser picture.
    pub layers: u32,
    /// Resolution levels (decompositions + 1); 0 picks [`DEFAULT_RESOLUTIONS`] or fewer as
    /// the picture (or tile) size allows.
    pub resolutions: u32,
    /// The 9/7 wavelet (lossy) instead of the reversible 5/3.
    pub irreversible: bool,
    /// Tile width and height; 0 makes the tile as large as the picture in that direction.
    pub tile: (u32, u32),
    /// Encoder threads; 0 uses every core.
    pub threads: u32,
}

impl Default for J2kSettings {
    fn default() -> Self {
        Self {
            rate: Rate::BitsPerPixel(1.0),
            layers: 1,
            resolutions: 0,
            irreversible: true,
            tile: (0, 0),
            threads: 1,
        }
    }
}

/// How the components are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourSpace {
    Gray,
    /// R, G, B planes; coded with the multiple-component transform (YCbCr inside).
    Rgb,
    /// Y, Cb, Cr planes, possibly subsampled.
    Ycc,
}

/// One 8-bit plane of a picture: `height` rows of `width` samples, `stride` bytes apart.
#[derive(Clone, Copy, Debug)]
pub struct PlaneRef<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> PlaneRef<'a> {
    pub fn of(img: &'a GrayImage) -> Self {
        Self {
            data: &img.data,
            stride: img.width,
            width: img.width,
            height: img.height,
        }
    }
}

/// What went wrong, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct J2kError(pub String);

impl std::fmt::Display for J2kError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for J2kError {}

fn err<T>(msg: impl Into<String>) -> Result<T, J2kError> {
    Err(J2kError(msg.into()))
}

/// The most resolution levels a `width` x `height` picture cut in `tile` tiles allows, with
/// components subsampled by `subsampling` (`(dx, dy)` each): every tile of every component,
/// edge tiles included, must hold `2^(levels-1)` samples in each direction (OpenJPEG aborts
/// the process on a wavelet over a 1-sample line).
pub fn max_resolutions(
    width: usize,
    height: usize,
    tile: (u32, u32),
    subsampling: &[(u32, u32)],
) -> u32 {
    // The smallest extent a component's tiles have along one axis of `full` samples.
    let smallest = |full: usize, t: u32, d: u32| -> usize {
        let t = if t == 0 { full } else { (t as usize).min(full) };
        let d = d.max(1) as usize;
        let extent = |a: usize, b: usize| b.div_ceil(d) - a.div_ceil(d);
        let first = extent(0, t);
        let last_start = (full - 1) / t * t;
        first.min(extent(last_start, full))
    };
    let subsampling = if subsampling.is_empty() {
        &[(1, 1)][..]
    } else {
        subsampling
    };
    let least = subsampling
        .iter()
        .map(|&(dx, dy)| {
            smallest(width.max(1), tile.0, dx).min(smallest(height.max(1), tile.1, dy))
        })
        .min()
        .unwrap_or(1)
        .max(1);
    (usize::BITS - least.leading_zeros()).min(MAX_RESOLUTIONS)
}

/// The ratio for `bpp` coded bits per pixel of a picture of `components` 8-bit components.
pub fn ratio_for_bpp(bpp: f64, components: usize) -> f64 {
    (components * 8) as f64 / bpp
}

/// Checks `settings` for a `width` x `height` picture whose components are subsampled by
/// `subsampling` (`(dx, dy)` each) and returns the per-layer ratios (0 = lossless) and the
/// resolution levels to use.
pub fn plan(
    settings: &J2kSettings,
    width: usize,
    height: usize,
    subsampling: &[(u32, u32)],
) -> Result<(Vec<f32>, u32), J2kError> {
    let components = subsampling.len().max(1);
    if width == 0 || height == 0 {
        return err(format!("cannot code an empty {width}x{height} picture"));
    }
    if !(1..=MAX_LAYERS).contains(&settings.layers) {
        return err(format!(
            "layers={} is out of range: use 1 to {MAX_LAYERS}",
            settings.layers
        ));
    }
    let raw_bpp = (components * 8) as f64;
    let ratio = match settings.rate {
        Rate::Lossless => None,
        Rate::BitsPerPixel(bpp) => {
            if !(bpp > 0.0 && bpp < raw_bpp) {
                return err(format!(
                    "bpp={bpp} is out of range: a {components}-component 8-bit picture needs more \
                     than 0 and less than {raw_bpp} bits per pixel (use the lossless setting to \
                     keep everything)"
                ));
            }
            Some(ratio_for_bpp(bpp, components))
        }
        Rate::Ratio(r) => {
            if !(r > 1.0 && r.is_finite()) {
                return err(format!(
                    "compression-ratio={r} is out of range: it must be above 1 (raw size over \
                     coded size)"
                ));
            }
            Some(r)
        }
    };
    let rates = match ratio {
        None if settings.layers > 1 => {
            return err(format!(
                "layers={} needs a target rate: quality layers split a rate, and lossless has none",
                settings.layers
            ))
        }
        None => vec![0.0],
        Some(r) => (0..settings.layers)
            .map(|i| (r * f64::powi(2.0, (settings.layers - 1 - i) as i32)) as f32)
            .collect(),
    };
    let most = max_resolutions(width, height, settings.tile, subsampling);
    let resolutions = match settings.resolutions {
        0 => DEFAULT_RESOLUTIONS.min(most),
        n if n > most => {
            return err(format!(
                "resolutions={n} is too many for a {width}x{height} picture{}: at most {most} \
                 (each level halves the smallest side), or 0 for automatic",
                if settings.tile == (0, 0) {
                    String::new()
                } else {
                    format!(" in {}x{} tiles", settings.tile.0, settings.tile.1)
                }
            ))
        }
        n => n,
    };
    Ok((rates, resolutions))
}

/// Messages OpenJPEG reports while a codec runs.
#[derive(Default)]
struct Messages(Mutex<Vec<String>>);

unsafe extern "C" fn collect_message(msg: *const c_char, data: *mut c_void) {
    if msg.is_null() || data.is_null() {
        return;
    }
    let text = CStr::from_ptr(msg).to_string_lossy().trim().to_owned();
    let messages = &*(data as *const Messages);
    if let Ok(mut v) = messages.0.lock() {
        v.push(text);
    }
}

impl Messages {
    fn failure(&self, what: &str) -> J2kError {
        let v = self.0.lock().map(|v| v.join("; ")).unwrap_or_default();
        if v.is_empty() {
            J2kError(format!("OpenJPEG could not {what}"))
        } else {
            J2kError(format!("OpenJPEG could not {what}: {v}"))
        }
    }
}

/// Owns an OpenJPEG codec, image and stream, and frees them however the call ends.
struct Handles {
    codec: *mut opj::opj_codec_t,
    image: *mut opj::opj_image_t,
    stream: *mut opj::opj_stream_t,
}

impl Drop for Handles {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or came from the matching OpenJPEG constructor, and is
        // freed once, here.
        unsafe {
            if !self.stream.is_null() {
                opj::opj_stream_destroy(self.stream);
            }
            if !self.codec.is_null() {
                opj::opj_destroy_codec(self.codec);
            }
            if !self.image.is_null() {
                opj::opj_image_destroy(self.image);
            }
        }
    }
}

/// A growable in-memory output for the encoder, which also skips and seeks.
#[derive(Default)]
struct Sink {
    data: Vec<u8>,
    pos: usize,
}

unsafe extern "C" fn sink_write(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    let sink = &mut *(user as *mut Sink);
    let src = std::slice::from_raw_parts(buf as *const u8, n);
    let end = sink.pos + n;
    if sink.data.len() < end {
        sink.data.resize(end, 0);
    }
    sink.data[sink.pos..end].copy_from_slice(src);
    sink.pos = end;
    n
}

unsafe extern "C" fn sink_skip(n: i64, user: *mut c_void) -> i64 {
    let sink = &mut *(user as *mut Sink);
    let Some(pos) = sink.pos.checked_add_signed(n as isize) else {
        return -1;
    };
    if sink.data.len() < pos {
        sink.data.resize(pos, 0);
    }
    sink.pos = pos;
    n
}

unsafe extern "C" fn sink_seek(n: i64, user: *mut c_void) -> i32 {
    let sink = &mut *(user as *mut Sink);
    if n < 0 || n as usize > sink.data.len() {
        return 0;
    }
    sink.pos = n as usize;
    1
}

/// The subsampling of a `plane_size` plane in a `full` picture (1, 2 or 4), if it is one.
fn subsampling(full: usize, plane_size: usize) -> Option<u32> {
    [1u32, 2, 4]
        .into_iter()
        .find(|&d| full.div_ceil(d as usize) == plane_size)
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
    let expected = if colour == ColourSpace::Gray { 1 } else { 3 };
    if planes.len() != expected {
        return err(format!(
            "{colour:?} needs {expected} planes, got {}",
            planes.len()
        ));
    }
    let mut factors = Vec::with_capacity(planes.len());
    for (i, p) in planes.iter().enumerate() {
        let (Some(dx), Some(dy)) = (subsampling(width, p.width), subsampling(height, p.height))
        else {
            return err(format!(
                "plane {i} is {}x{}, not a subsampling of {width}x{height}",
                p.width, p.height
            ));
        };
        factors.push((dx, dy));
    }
    let (rates, resolutions) = plan(settings, width, height, &factors)?;
    let mut params = Vec::with_capacity(planes.len());
    for (p, &(dx, dy)) in planes.iter().zip(&factors) {
        let i = params.len();
        if p.stride < p.width || p.data.len() < p.stride * (p.height - 1) + p.width {
            return err(format!("plane {i} holds fewer bytes than its size needs"));
        }
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
    let colour_space = match colour {
        ColourSpace::Gray => opj::COLOR_SPACE::OPJ_CLRSPC_GRAY,
        ColourSpace::Rgb => opj::COLOR_SPACE::OPJ_CLRSPC_SRGB,
        ColourSpace::Ycc => opj::COLOR_SPACE::OPJ_CLRSPC_SYCC,
    };
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

        let mut cp: opj::opj_cparameters_t = std::mem::zeroed();
        opj::opj_set_default_encoder_parameters(&mut cp);
        cp.tcp_numlayers = rates.len() as i32;
        cp.tcp_rates[..rates.len()].copy_from_slice(&rates);
        cp.cp_disto_alloc = 1;
        cp.irreversible = settings.irreversible as i32;
        cp.numresolution = resolutions as i32;
        cp.tcp_mct = (colour == ColourSpace::Rgb) as c_char;
        if settings.tile != (0, 0) {
            cp.tile_size_on = 1;
            cp.cp_tdx = if settings.tile.0 == 0 {
                width as i32
            } else {
                settings.tile.0 as i32
            };
            cp.cp_tdy = if settings.tile.1 == 0 {
                height as i32
            } else {
                settings.tile.1 as i32
            };
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

/// A decoded codestream: its components as 8-bit planes (values clamped).
#[derive(Debug)]
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub planes: Vec<GrayImage>,
}

/// An in-memory input for the decoder.
struct Source<'a> {
    data: &'a [u8],
    pos: usize,
}

unsafe extern "C" fn source_read(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    let src = &mut *(user as *mut Source);
    let left = src.data.len() - src.pos;
    if left == 0 {
        // OpenJPEG's end-of-stream value.
        return usize::MAX;
    }
    let n = n.min(left);
    std::ptr::copy_nonoverlapping(src.data[src.pos..].as_ptr(), buf as *mut u8, n);
    src.pos += n;
    n
}

unsafe extern "C" fn source_skip(n: i64, user: *mut c_void) -> i64 {
    let src = &mut *(user as *mut Source);
    let pos = (src.pos as i64 + n).clamp(0, src.data.len() as i64);
    let moved = pos - src.pos as i64;
    src.pos = pos as usize;
    moved
}

unsafe extern "C" fn source_seek(n: i64, user: *mut c_void) -> i32 {
    let src = &mut *(user as *mut Source);
    if n < 0 || n as usize > src.data.len() {
        return 0;
    }
    src.pos = n as usize;
    1
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::psnr;

    fn texture(w: usize, h: usize) -> GrayImage {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                // Smooth structure plus hashed noise, so high rates have something to spend on.
                let noise = ((i as u64).wrapping_mul(2_654_435_761) >> 11) % 41;
                (108.0
                    + 60.0 * (x * 0.21).sin() * (y * 0.13).cos()
                    + 30.0 * ((x + y) * 0.05).sin()
                    + noise as f64) as u8
            })
            .collect();
        GrayImage::new(w, h, data)
    }

    #[test]
    fn lossless_round_trip_is_exact() {
        let img = texture(37, 23);
        let settings = J2kSettings {
            rate: Rate::Lossless,
            irreversible: false,
            ..Default::default()
        };
        let bytes = encode_gray(&img, &settings).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!((back.width, back.height), (37, 23));
        assert_eq!(back.planes[0], img);
    }

    #[test]
    fn rate_is_met_and_quality_follows_it() {
        let img = texture(128, 96);
        let mut last_psnr = 0.0;
        for bpp in [0.25, 0.5, 1.0, 2.0] {
            let settings = J2kSettings {
                rate: Rate::BitsPerPixel(bpp),
                ..Default::default()
            };
            let bytes = encode_gray(&img, &settings).unwrap();
            let got = bytes.len() as f64 * 8.0 / (128.0 * 96.0);
            assert!(got <= bpp * 1.05, "{bpp} bpp asked, {got} coded");
            assert!(got >= bpp * 0.5, "{bpp} bpp asked, only {got} coded");
            let p = psnr(&img, &decode(&bytes).unwrap().planes[0]);
            assert!(p > last_psnr, "{bpp} bpp: {p} dB is not above {last_psnr}");
            last_psnr = p;
        }
    }

    #[test]
    fn layers_tiles_threads_and_colour_encode() {
        let y = texture(65, 33);
        let c = texture(33, 17);
        let planes = [PlaneRef::of(&y), PlaneRef::of(&c), PlaneRef::of(&c)];
        let settings = J2kSettings {
            rate: Rate::Ratio(20.0),
            layers: 3,
            tile: (32, 32),
            threads: 2,
            ..Default::default()
        };
        let bytes = encode(65, 33, &planes, ColourSpace::Ycc, &settings).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.planes.len(), 3);
        assert_eq!((back.planes[1].width, back.planes[1].height), (33, 17));
        let p = psnr(&y, &back.planes[0]);
        assert!(p > 20.0, "{p} dB");
    }

    #[test]
    fn tiny_pictures_pick_fewer_resolution_levels() {
        for (w, h) in [(1, 1), (2, 3), (7, 5), (16, 1)] {
            let img = texture(w, h);
            let bytes = encode_gray(&img, &J2kSettings::default()).unwrap();
            let back = decode(&bytes).unwrap();
            assert_eq!((back.width, back.height), (w, h));
        }
        assert_eq!(max_resolutions(1, 1, (0, 0), &[(1, 1)]), 1);
        assert_eq!(max_resolutions(64, 40, (0, 0), &[(1, 1)]), 6);
        assert_eq!(max_resolutions(640, 480, (16, 0), &[(1, 1)]), 5);
        // Edge tiles and subsampled chroma count: 20 = 6 + 6 + 6 + 2, and the last chroma
        // tile of a 2x subsampled component is 1 sample wide.
        assert_eq!(max_resolutions(20, 9, (6, 128), &[(1, 1)]), 2);
        assert_eq!(
            max_resolutions(20, 9, (6, 128), &[(1, 1), (2, 2), (2, 2)]),
            1
        );
    }

    #[test]
    fn bad_settings_are_explained() {
        let img = texture(16, 16);
        let cases = [
            (
                J2kSettings {
                    rate: Rate::BitsPerPixel(9.0),
                    ..Default::default()
                },
                "bpp=9",
            ),
            (
                J2kSettings {
                    rate: Rate::Ratio(0.5),
                    ..Default::default()
                },
                "compression-ratio=0.5",
            ),
            (
                J2kSettings {
                    resolutions: 9,
                    ..Default::default()
                },
                "at most 5",
            ),
            (
                J2kSettings {
                    rate: Rate::Lossless,
                    layers: 2,
                    ..Default::default()
                },
                "needs a target rate",
            ),
        ];
        for (settings, expected) in cases {
            let e = encode_gray(&img, &settings).unwrap_err().to_string();
            assert!(e.contains(expected), "{e:?} lacks {expected:?}");
        }
        assert!(decode(b"not a codestream").is_err());
    }

    // Found by `cnncodec-fuzz j2k-encode`: 6-wide tiles on a 20-wide picture leave a 1-sample
    // chroma tile at the right edge, and automatic resolution levels made OpenJPEG assert
    // (abort the process) inside its wavelet.
    #[test]
    fn edge_tiles_of_subsampled_chroma_limit_the_resolution_levels() {
        let (w, h) = (20, 9);
        let luma = texture(w, h);
        let chroma = texture(w.div_ceil(2), h.div_ceil(2));
        let planes = [
            PlaneRef::of(&luma),
            PlaneRef::of(&chroma),
            PlaneRef::of(&chroma),
        ];
        let settings = J2kSettings {
            rate: Rate::BitsPerPixel(8.0),
            tile: (6, 128),
            ..Default::default()
        };
        let coded = encode(w, h, &planes, ColourSpace::Ycc, &settings).unwrap();
        let decoded = decode(&coded).unwrap();
        assert_eq!((decoded.width, decoded.height), (w, h));
        let too_many = J2kSettings {
            resolutions: 2,
            ..settings
        };
        let e = encode(w, h, &planes, ColourSpace::Ycc, &too_many).unwrap_err();
        assert!(e.0.contains("resolutions=2 is too many"), "{e}");
    }
}
