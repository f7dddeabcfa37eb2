//! cnncodec: Jiang et al.'s end-to-end compression framework (ComCNN + stock codec + RecCNN)
//! as a library. No GStreamer types here: the elements, training, evaluation and benchmarks
//! all call these functions.

pub mod codec;
pub mod eval;
pub mod frame;
pub mod net;
pub mod pipeline;
pub mod rng;
#[cfg(feature = "train")]
pub mod train;

pub use frame::image::{GrayImage, Plane};
pub use net::backend::{BackendKind, Precision};
pub use net::engine::{load_engine, load_engine_with, Engine};
pub use net::weights::{ModelMeta, ModelWeights, WeightsError};

/// Core errors become text where a caller reports them as text (the command line tool).
macro_rules! into_text {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for String {
            fn from(e: $error) -> String {
                e.to_string()
            }
        })*
    };
}

#[cfg(feature = "train")]
into_text!(train::TrainError);

into_text!(
    WeightsError,
    frame::image::ImageError,
    codec::j2k::J2kError,
    net::backend::ChoiceError,
    net::engine::EngineError,
    net::builtin::ModelError,
    codec::CodecError,
    eval::bench::BenchError,
);
