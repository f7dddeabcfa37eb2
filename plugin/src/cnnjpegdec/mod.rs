//! `cnnjpegdec`: `jpegdec ! reccnndec` as one element, for archives made by `cnnjpegenc` (or

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// SECTION:element-cnnjpegdec
    /// @see_also: cnnjpegenc, reccnndec, jpegdec
    ///
    /// `jpegdec ! reccnndec` as one element, for archives made by `cnnjpegenc` (or
    /// `comcnnenc ! jpegenc`).
    ///
    /// `jpegdec` decodes with the accurate integer IDCT the models were trained with. The original
    /// size and model come from each frame (what `cnnjpegenc` writes into it), else from the
    /// stream's tags, so a segment file or an archive cut by a power loss restores alone; a frame
    /// whose checksum does not match (damaged on disk) is skipped with a warning and the stream
    /// plays on. `model` / `model-location` override the stream's model, as on `reccnndec`.
    ///
    /// ## Example launch line
    ///
    /// ```bash
    /// gst-launch-1.0 splitmuxsrc location='camera-*.mkv' ! cnnjpegdec ! videoconvert ! autovideosink
    /// ```
    pub struct CnnJpegDec(ObjectSubclass<imp::CnnJpegDec>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "cnnjpegdec",
        gst::Rank::NONE,
        CnnJpegDec::static_type(),
    )
}
