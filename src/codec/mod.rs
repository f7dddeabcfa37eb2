//! The stock codecs between ComCNN and RecCNN: JPEG 2000 (OpenJPEG, lossy, which stock
//! `openjpegenc` 1.22 is not) and the codec-in-the-loop interface training uses (the elements'
//! own JPEG runs through GStreamer in the command line tool).

pub mod j2k;

use crate::frame::image::GrayImage;

/// A codec in the loop failed: its own message (a GStreamer pipeline's, OpenJPEG's).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// The codec between ComCNN and RecCNN during the RecCNN stage.
pub trait CompactCodec {
    /// Encodes and decodes one compact luma image.
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, CodecError>;
    /// What it is, for the model's provenance.
    fn describe(&self) -> String;
    /// Called before each pass over the images, so a codec that varies from image to image
    /// (for example by quality) treats every pass alike, also after a resume.
    fn start_pass(&self) {}
}

/// No codec at all (tests, and the paper's surrogate).
pub struct IdentityCodec;

impl CompactCodec for IdentityCodec {
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, CodecError> {
        Ok(compact.clone())
    }
    fn describe(&self) -> String {
        "identity".into()
    }
}
