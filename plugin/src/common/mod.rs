//! What both elements share: caps, size mapping, model settings, the stream-info tag and the
//! plane plumbing between GStreamer frames and the core crate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use cnncodec::{BackendKind, Engine, GrayImage, ModelWeights, Precision};
use gst::glib;
use gst::prelude::*;
use gst_video::prelude::*;

mod caps;
mod checks;
mod h26x;
mod model;
mod planes;
mod settings;
mod stream;
mod timing;

pub use caps::*;
pub use checks::*;
pub use h26x::*;
pub use model::*;
pub use planes::*;
pub use settings::*;
pub use stream::*;
pub use timing::*;

/// Runs `f`, turning a panic inside the network code into an error message.
pub fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        format!(
            "{what} failed inside the network code: {}",
            cnncodec::net::engine::panic_message(p.as_ref())
        )
    })
}

#[cfg(test)]
mod tests;
