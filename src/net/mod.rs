//! The networks: architecture, weights and their files, built-in models, which files may be
//! read, where they run (backend) and the engine that runs them (with the CPU kernels).

pub mod architecture;
pub mod backend;
pub mod builtin;
pub mod cpu;
pub mod engine;
pub mod ensemble;
pub mod trust;
pub mod weights;
