//! `reccnndec`: bicubic up-scaling + RecCNN after a stock image decoder.
//!
//! Takes the decoded compact frame and outputs the restored frame at the original size: the
//! size and model `comcnnenc` put in the stream's `comment` tag, else the `width`/`height`
//! properties, else twice the compact size. The network runs on luma; chroma is resampled
//! with the same bicubic kernel. It follows the model the stream names (built in, or the
//! encoder's file); `model`/`model-location` are for streams that lost their tag. `qos` is
//! off (every frame is restored); set it for live viewing to drop late frames before the
//! network. `stats` and the LATENCY query work as in `comcnnenc`.
//!
//! ```text
//! gst-launch-1.0 filesrc location=archive.mkv ! matroskademux ! jpegdec idct-method=islow ! \
//!     reccnndec ! videoconvert ! autovideosink
//! ```
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
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
