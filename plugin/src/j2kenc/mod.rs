//! `j2kenc`: lossy JPEG 2000 on OpenJPEG, with the rate control stock `openjpegenc` (1.22)

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// SECTION:element-j2kenc
    /// @see_also: openjpegdec, openjpegenc, comcnnenc
    ///
    /// Lossy JPEG 2000 on OpenJPEG, with the rate control stock `openjpegenc` (1.22)
    /// lacks.
    ///
    /// Raw GRAY8, I420, Y42B, Y444 or RGB in; one JPEG 2000 codestream per frame out, as
    /// `image/x-j2c` (in a `jp2c` box, the default, as `openjpegenc` makes it) or `image/x-jpc`
    /// (bare), whichever downstream takes; `openjpegdec` decodes both, also out of Matroska.
    /// Rate by `bpp` (coded bits per pixel) or `compression-ratio` (raw over coded size, which
    /// wins when set); `layers` quality layers; `resolutions` levels (0 = as many as the size
    /// allows, up to 6); the irreversible 9/7 wavelet by default; `tile-width`/`tile-height`;
    /// `threads`. Every frame is a key frame.
    ///
    /// ## Example launch line
    ///
    /// ```bash
    /// gst-launch-1.0 videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=352,height=288 ! \
    ///     j2kenc bpp=0.5 ! matroskamux ! filesink location=clip.mkv
    /// gst-launch-1.0 filesrc location=clip.mkv ! matroskademux ! openjpegdec ! videoconvert ! autovideosink
    /// ```
    ///
    /// With the framework: `comcnnenc model=j2k-r8 ! j2kenc compression-ratio=8 ! ... !
    /// openjpegdec ! reccnndec model=j2k-r8`.
    pub struct J2kEnc(ObjectSubclass<imp::J2kEnc>)
        @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "j2kenc",
        gst::Rank::NONE,
        J2kEnc::static_type(),
    )
}
