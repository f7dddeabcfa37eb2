//! Forward-pass benchmark of both networks: ms per frame and achieved GFLOP/s. Used by
//! `cargo bench` and the CLI's `bench` command; never by tests.

use std::time::Instant;

use crate::frame::image::Plane;
use crate::net::architecture::{ComCnnConfig, RecCnnConfig};
use crate::net::engine::Engine;

/// FLOPs (2 per multiply-add) of one 3x3 convolution layer producing `pixels` outputs.
fn conv_flops(cin: usize, cout: usize, pixels: usize) -> f64 {
    2.0 * 9.0 * (cin * cout) as f64 * pixels as f64
}

/// ComCNN FLOPs for a `w` x `h` input.
pub fn comcnn_flops(cfg: &ComCnnConfig, w: usize, h: usize) -> f64 {
    let full = w * h;
    let half = w.div_ceil(2) * h.div_ceil(2);
    conv_flops(cfg.channels, cfg.features, full)
        + conv_flops(cfg.features, cfg.features, half)
        + conv_flops(cfg.features, cfg.channels, half)
}

/// RecCNN FLOPs for a `w` x `h` frame (about 1.33 MFLOP per pixel for the paper's net).
pub fn reccnn_flops(cfg: &RecCnnConfig, w: usize, h: usize) -> f64 {
    let px = w * h;
    conv_flops(cfg.channels, cfg.features, px)
        + (cfg.depth - 2) as f64 * conv_flops(cfg.features, cfg.features, px)
        + conv_flops(cfg.features, cfg.channels, px)
}

/// Which timings a benchmark takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timed {
    /// ComCNN on a full frame.
    ComCnn,
    /// RecCNN on a full frame.
    RecCnn,
    /// The whole decode step as `reccnndec` runs it: bicubic x2, RecCNN, 8-bit rounding.
    Decode,
}

impl Timed {
    pub const ALL: [Timed; 3] = [Timed::ComCnn, Timed::RecCnn, Timed::Decode];

    pub fn name(self) -> &'static str {
        match self {
            Self::ComCnn => "ComCNN",
            Self::RecCnn => "RecCNN",
            Self::Decode => "decode (bicubic + RecCNN)",
        }
    }

    /// `comcnn`, `reccnn` or `decode`.
    pub fn parse(s: &str) -> Result<Self, BenchError> {
        match s {
            "comcnn" => Ok(Self::ComCnn),
            "reccnn" => Ok(Self::RecCnn),
            "decode" => Ok(Self::Decode),
            other => Err(BenchError::UnknownNetwork(other.to_owned())),
        }
    }
}

/// Why a benchmark could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BenchError {
    #[error("unknown network '{0}': use comcnn, reccnn or decode")]
    UnknownNetwork(String),
    #[error(transparent)]
    Engine(#[from] crate::net::engine::EngineError),
}

/// One benchmark line.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub network: &'static str,
    pub width: usize,
    pub height: usize,
    pub ms_per_frame: f64,
    pub gflop_per_frame: f64,
    pub gflops: f64,
    /// Mean and mean absolute value of the network's output on the benchmark's input, to
    /// check that another engine ran the same network (`None` for the decode step).
    pub output_check: Option<(f64, f64)>,
}

impl BenchResult {
    /// A table row; `peak` (GFLOP/s) adds the share of the machine's peak.
    pub fn row(&self, peak: Option<f64>) -> String {
        format!(
            "| {} | {}x{} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} |",
            self.network,
            self.width,
            self.height,
            self.ms_per_frame,
            1000.0 / self.ms_per_frame,
            self.gflop_per_frame,
            self.gflops,
            peak.map_or("-".to_owned(), |p| format!(
                "{:.0} %",
                100.0 * self.gflops / p
            )),
            self.output_check
                .map_or("-".to_owned(), |(m, a)| format!("{m:.7}, {a:.7}"))
        )
    }
}

pub const TABLE_HEADER: &str = "| network | frame | ms/frame | frames/s | GFLOP/frame | GFLOP/s | of peak | output mean, mean abs |\n| --- | --- | --- | --- | --- | --- | --- | --- |";

/// Times `frames` runs of each of `timed` (after one warm-up) at `w` x `h`.
pub fn bench_size(
    engine: &dyn Engine,
    com: &ComCnnConfig,
    rec: &RecCnnConfig,
    w: usize,
    h: usize,
    frames: usize,
    timed: &[Timed],
) -> Vec<BenchResult> {
    let input = Plane::new(
        w,
        h,
        (0..w * h)
            .map(|i| ((i * 31) % 255) as f32 / 255.0)
            .collect(),
    );
    let compact = crate::frame::image::GrayImage::new(
        w.div_ceil(2),
        h.div_ceil(2),
        (0..w.div_ceil(2) * h.div_ceil(2))
            .map(|i| ((i * 31) % 255) as u8)
            .collect(),
    );
    let time = |f: &dyn Fn()| {
        f(); // warm-up: allocation, caches
        let t = Instant::now();
        for _ in 0..frames {
            f();
        }
        t.elapsed().as_secs_f64() * 1000.0 / frames as f64
    };
    timed
        .iter()
        .map(|&what| {
            let check = |p: Plane| {
                let n = p.data.len().max(1) as f64;
                let mean = p.data.iter().map(|&v| v as f64).sum::<f64>() / n;
                let abs = p.data.iter().map(|&v| (v as f64).abs()).sum::<f64>() / n;
                Some((mean, abs))
            };
            let (ms, flops, output_check) = match what {
                Timed::ComCnn => (
                    time(&|| {
                        std::hint::black_box(engine.compact(&input));
                    }),
                    comcnn_flops(com, w, h),
                    check(engine.compact(&input)),
                ),
                Timed::RecCnn => (
                    time(&|| {
                        std::hint::black_box(engine.residual(&input));
                    }),
                    reccnn_flops(rec, w, h),
                    check(engine.residual(&input)),
                ),
                Timed::Decode => (
                    time(&|| {
                        std::hint::black_box(crate::pipeline::restore_luma(engine, &compact, w, h));
                    }),
                    reccnn_flops(rec, w, h),
                    None,
                ),
            };
            BenchResult {
                network: what.name(),
                width: w,
                height: h,
                ms_per_frame: ms,
                gflop_per_frame: flops / 1e9,
                gflops: flops / 1e9 / (ms / 1000.0),
                output_check,
            }
        })
        .collect()
}

/// What the benchmark knows of the CPU: its name, cores, instruction set and clock, and so
/// its peak: cores x FLOPs per cycle of two FMA units of the vector width x clock.
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub isa: crate::net::cpu::Isa,
    /// The clock /proc/cpuinfo states (often the nominal one under a hypervisor).
    pub stated_ghz: Option<f64>,
    /// The clock a chain of dependent integer multiplies runs at on one core now.
    pub measured_ghz: Option<f64>,
}

impl Machine {
    pub fn find() -> Self {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        };
        Self {
            cpu: field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            isa: crate::net::cpu::Isa::detect(),
            stated_ghz: field("cpu MHz")
                .and_then(|v| v.parse::<f64>().ok())
                .map(|mhz| mhz / 1000.0),
            measured_ghz: measure_clock_ghz(),
        }
    }

    /// Peak single-precision GFLOP/s at the measured clock (else the stated one).
    pub fn peak_gflops(&self) -> Option<f64> {
        let ghz = self.measured_ghz.or(self.stated_ghz)?;
        Some(self.cores as f64 * self.isa.flops_per_cycle() as f64 * ghz)
    }

    pub fn describe(&self) -> String {
        let ghz = |g: Option<f64>| g.map_or("unknown".to_owned(), |g| format!("{g:.2} GHz"));
        format!(
            "{}, {} cores, {} ({} FLOP/cycle/core), clock {} measured ({} stated): peak {}",
            self.cpu,
            self.cores,
            self.isa,
            self.isa.flops_per_cycle(),
            ghz(self.measured_ghz),
            ghz(self.stated_ghz),
            self.peak_gflops()
                .map_or("unknown".to_owned(), |p| format!("{p:.0} GFLOP/s"))
        )
    }
}

/// The core clock in GHz from the time a chain of dependent 64-bit integer multiplies takes
/// (3 cycles each on x86-64 cores of the last decade; unlike additions of a constant, no
/// renamer folds them), best of a few tries.
#[cfg(target_arch = "x86_64")]
fn measure_clock_ghz() -> Option<f64> {
    const ITERATIONS: u64 = 500_000;
    const CYCLES_PER_ITERATION: u64 = 16 * 3;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let mut x: u64 = 3;
        // SAFETY: register arithmetic only.
        unsafe {
            std::arch::asm!(
                "2:",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "sub {n}, 1",
                "jnz 2b",
                x = inout(reg) x,
                n = inout(reg) ITERATIONS => _,
                options(nomem, nostack),
            );
        }
        std::hint::black_box(x);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Some((ITERATIONS * CYCLES_PER_ITERATION) as f64 / best / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn measure_clock_ghz() -> Option<f64> {
    None
}

/// The benchmark table for the paper-size networks (random weights: speed does not depend on
/// the values) on `engine_for`'s backend, one header line first.
pub fn report(
    frames: usize,
    sizes: &[(usize, usize)],
    backend: crate::BackendKind,
) -> Result<String, BenchError> {
    let (com, rec) = (ComCnnConfig::new(), RecCnnConfig::new());
    let weights = crate::ModelWeights::random("paper-size networks", com, rec, 1);
    report_for(
        &weights,
        frames,
        sizes,
        backend,
        crate::Precision::Fp32,
        &Timed::ALL,
    )
}

/// [`report`] for the architecture of `weights` (a built-in or trained model), timing
/// `timed` at each size.
pub fn report_for(
    weights: &crate::ModelWeights,
    frames: usize,
    sizes: &[(usize, usize)],
    backend: crate::BackendKind,
    precision: crate::Precision,
    timed: &[Timed],
) -> Result<String, BenchError> {
    let (com, rec) = (weights.meta.comcnn.clone(), weights.meta.reccnn.clone());
    let engine = crate::load_engine_with(weights, backend, 0, precision)?;
    let machine = (backend == crate::BackendKind::Cpu).then(Machine::find);
    let mut out = format!(
        "{} backend ({precision}), {} (ComCNN {} features; RecCNN {} features x {} layers), {frames} frames each after a warm-up\n",
        engine.describe(),
        weights.meta.name,
        com.features,
        rec.features,
        rec.depth
    );
    if let Some(m) = &machine {
        out += &format!("machine: {}\n", m.describe());
    }
    out += &format!("\n{TABLE_HEADER}\n");
    let peak = machine.as_ref().and_then(Machine::peak_gflops);
    for &(w, h) in sizes {
        for r in bench_size(engine.as_ref(), &com, &rec, w, h, frames, timed) {
            out += &r.row(peak);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reccnn_costs_1_33_mflop_per_pixel() {
        let per_px = reccnn_flops(&RecCnnConfig::new(), 1, 1) / 1e6;
        assert!((per_px - 1.329408).abs() < 1e-9, "{per_px}");
    }
}
