//! `reccnndec`: bicubic up-scaling + RecCNN after a stock image decoder.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// SECTION:element-reccnndec
    /// @see_also: comcnnenc, cnnjpegdec, jpegdec, openjpegdec
    ///
    /// Bicubic up-scaling + RecCNN after a stock image or video decoder.
    ///
    /// Takes the decoded compact frame and outputs the restored frame at the original size: the
    /// size and model `comcnnenc` put in the stream's `comment` tag (or, after an H.264 / H.265
    /// decoder, into the key frames), else the `width`/`height` properties, else twice the
    /// compact size. The network runs on luma; chroma is resampled
    /// with the same bicubic kernel. It follows a built-in model the stream names, and a model
    /// file it names only from a directory listed in `stream-model-dirs`; `model` /
    /// `model-location` are for streams that lost their tag. `qos` is
    /// off (every frame is restored); set it for live viewing to drop late frames before the
    /// network. `stats` and the LATENCY query work as in `comcnnenc`. `self-ensemble` trades
    /// decoding time for quality: RecCNN also runs on mirrored (and transposed) copies of each
    /// frame and the results are averaged, for archive playback and stills.
    ///
    /// ## Example launch line
    ///
    /// ```bash
    /// gst-launch-1.0 filesrc location=archive.mkv ! matroskademux ! jpegdec idct-method=islow ! \
    ///     reccnndec ! videoconvert ! autovideosink
    /// gst-launch-1.0 filesrc location=archive.mkv ! matroskademux ! jpegdec idct-method=islow ! \
    ///     reccnndec self-ensemble=full ! videoconvert ! pngenc ! multifilesink location=f%05d.png
    /// gst-launch-1.0 filesrc location=camera.mkv ! matroskademux ! h264parse ! avdec_h264 ! \
    ///     reccnndec ! videoconvert ! autovideosink
    /// ```
    pub struct RecCnnDec(ObjectSubclass<imp::RecCnnDec>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "reccnndec",
        gst::Rank::NONE,
        RecCnnDec::static_type(),
    )
}
