//! Measuring: image metrics, rate-distortion and BD-rate, benchmarks, and the paper's
//! reference data.

pub mod bench;
pub mod measured;
pub mod metrics;
pub mod rd;
pub mod reference;
