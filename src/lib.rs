//! cnncodec: Jiang et al.'s end-to-end compression framework (ComCNN + stock codec + RecCNN)
//! as a library. No GStreamer types here: the elements, training, evaluation and benchmarks
//! all call these functions.

pub mod bench;
pub mod bnstats;
pub mod cpu;
pub mod engine;
pub mod fastconv;
pub mod grow;
pub mod image;
pub mod j2k;
pub mod jpeg_proxy;
pub mod metrics;
pub mod model;
pub mod models;
pub mod pipeline;
pub mod rd;
pub mod reference;
pub mod resample;
pub mod train;
pub mod trust;
pub mod weights;

pub use engine::{load_engine, load_engine_with, BackendKind, Engine, Precision};
pub use image::{GrayImage, Plane};
pub use weights::{ModelMeta, ModelWeights, WeightsError};
