//! `cnnjpegenc`: `comcnnenc ! jpegenc` as one element, paired so they cannot be mismatched.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// SECTION:element-cnnjpegenc
    /// @see_also: cnnjpegdec, comcnnenc, jpegenc
    ///
    /// `comcnnenc ! jpegenc` as one element, paired so they cannot be mismatched.
    ///
    /// `jpegenc` codes at the quality the model was trained for (`jpeg-qN`: N) with the accurate
    /// integer DCT the models were trained with; `quality` overrides it (with a warning that names
    /// the trained one). `target-bpp` picks the ladder model whose measured rate on photographs is
    /// the highest not above it (ignored when `model` or `model-location` is set). Every JPEG frame
    /// carries the stream info (original size, model) in a COM segment and a CRC-32 in an APP10
    /// segment, both skipped by stock decoders: a segment file, or an archive cut by a power loss,
    /// restores at its size with its model through `cnnjpegdec` (or `jpegparse ! jpegdec !
    /// reccnndec`), and `cnnjpegdec` skips a damaged frame with a warning.
    ///
    /// ## Example launch line
    ///
    /// ```bash
    /// gst-launch-1.0 -e v4l2src ! videoconvert ! video/x-raw,format=I420 ! \
    ///     cnnjpegenc model=jpeg-q30 ! splitmuxsink muxer=matroskamux \
    ///     max-size-time=60000000000 location=camera-%05d.mkv
    /// ```
    pub struct CnnJpegEnc(ObjectSubclass<imp::CnnJpegEnc>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "cnnjpegenc",
        gst::Rank::NONE,
        CnnJpegEnc::static_type(),
    )
}
