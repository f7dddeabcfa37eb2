//! `comcnnenc`: ComCNN, the compact-representation network, in front of a stock image encoder.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// SECTION:element-comcnnenc
    /// @see_also: reccnndec, cnnjpegenc, jpegenc, j2kenc
    ///
    /// ComCNN, the compact-representation network, in front of a stock image or video encoder.
    ///
    /// Takes raw video and outputs the compact frame at ceil(W/2) x ceil(H/2) in the same format,
    /// its width rounded up to a multiple of `width-multiple` (default 16) by repeating the last
    /// column, so that stock `jpegenc` codes whole 8x8 blocks instead of whatever memory follows a
    /// row; `reccnndec` crops those columns off. `height-multiple` does the same for rows. Before
    /// an H.264 / H.265 encoder (`x264enc`, `x265enc`, ...), which refuse odd 4:2:0 sizes, both
    /// sides are made even. The network runs on the luma plane and chroma is box-averaged. The
    /// original size and the model travel downstream as a `comment` tag, so `reccnndec` restores
    /// them with no settings; before an H.264 / H.265 encoder they also go into every key frame
    /// (a user-data SEI message decoders skip), so a file cut before its container wrote the tag
    /// still restores at its size.
    /// `model` picks a built-in model (default `jpeg-q50`); each is trained for the codec
    /// setting in its name (`jpeg-qN`: `jpegenc quality=N`; `j2k-rN`: `j2kenc
    /// compression-ratio=N`). `qos` is off: every frame is kept (set it for live preview to drop
    /// late frames before the network). `stats` reports frames and time per frame; the LATENCY
    /// query adds the measured time when upstream is live.
    ///
    /// ## Example launch line
    ///
    /// ```bash
    /// gst-launch-1.0 videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=352,height=288 ! \
    ///     comcnnenc model=jpeg-q50 ! jpegenc quality=50 idct-method=islow ! \
    ///     matroskamux ! filesink location=archive.mkv
    /// gst-launch-1.0 v4l2src ! videoconvert ! comcnnenc ! x264enc bitrate=300 ! h264parse ! \
    ///     matroskamux ! filesink location=camera.mkv
    /// ```
    pub struct ComCnnEnc(ObjectSubclass<imp::ComCnnEnc>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "comcnnenc",
        gst::Rank::NONE,
        ComCnnEnc::static_type(),
    )
}
