//! GStreamer plugin `cnncodec`: `comcnnenc` shrinks frames with ComCNN before a stock image
//! codec, `reccnndec` restores them with bicubic up-scaling + RecCNN after the stock decoder;
//! `j2kenc` is the lossy JPEG 2000 encoder stock `openjpegenc` (1.22) lacks; `cnnjpegenc` and
//! `cnnjpegdec` pair `comcnnenc ! jpegenc` and `jpegdec ! reccnndec` so they cannot be mismatched.
#![allow(clippy::non_send_fields_in_send_ty)]

use gst::glib;

mod cnnjpegdec;
mod cnnjpegenc;
mod comcnnenc;
mod common;
pub mod h26x_info;
mod j2kenc;
pub mod jpeg_info;
mod reccnndec;
pub mod runner;

pub use common::{live_engines, StreamInfo, STREAM_INFO_NAME};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    use gst::prelude::*;
    common::Backend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    common::FloatPrecision::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    comcnnenc::register(plugin)?;
    reccnndec::register(plugin)?;
    j2kenc::register(plugin)?;
    cnnjpegenc::register(plugin)?;
    cnnjpegdec::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    cnncodec,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "cnncodec project (see README.md)",
    env!("BUILD_REL_DATE")
);
