//! Frames: 8-bit and unit-range planes, and MATLAB-exact resampling.

pub mod image;
pub mod resample;
