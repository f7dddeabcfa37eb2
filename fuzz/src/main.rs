//! `cnncodec-fuzz`: seeded, structure-aware fuzzing on stable Rust (`cargo fuzz` needs a
//! nightly toolchain). Each target builds hostile inputs from valid ones and checks that every
//! case ends in a result or a clear error: no panic (caught, or caught by GStreamer's bindings
//! inside an element), no hang (a watchdog), no heap growth beyond the target's documented
//! bound, and no wrong output (each target's own checks).
//!
//! ```text
//! cnncodec-fuzz TARGET|all [--cases N] [--seed S] [--case I] [--out DIR]
//! ```
//! Targets: model, tag, frame-info, j2k-decode, j2k-encode, frames. `--case I` replays one
//! case. Failing inputs are written to DIR (default `fuzz-out`) and the exit status is 1.

mod guard;
mod mutate;
mod rng;
mod targets;

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rng::Rng;

#[global_allocator]
static ALLOCATOR: guard::Counting = guard::Counting;

/// One fuzz target: makes an input from a generator, then runs it.
pub trait Target {
    type Input: Debug;
    const NAME: &'static str;
    /// Most heap bytes one case may add (documented in docs/reliability.md).
    const ALLOCATION_BOUND: usize;
    /// The bound for one input (targets whose inputs declare sizes scale it).
    fn allocation_bound(&self, _input: &Self::Input) -> usize {
        Self::ALLOCATION_BOUND
    }
    fn generate(&mut self, rng: &mut Rng) -> Self::Input;
    /// The outcome's label (`ok`, or the kind of error), or a problem: a wrong result.
    fn run(&mut self, input: &Self::Input) -> Result<String, String>;
    /// Called after a panic, so the next case starts clean.
    fn reset(&mut self) {}
}

struct Options {
    cases: u64,
    seed: u64,
    only: Option<u64>,
    out: PathBuf,
}

#[derive(Default)]
struct Summary {
    outcomes: std::collections::BTreeMap<String, u64>,
    failures: u64,
    largest: usize,
    peak_growth: usize,
}

fn run_target<T: Target>(mut target: T, opts: &Options) -> bool {
    guard::set_target(T::NAME);
    let started = Instant::now();
    let mut summary = Summary::default();
    let indices: Box<dyn Iterator<Item = u64>> = match opts.only {
        Some(i) => Box::new(std::iter::once(i)),
        None => Box::new(0..opts.cases),
    };
    let mut done = 0u64;
    for index in indices {
        let mut rng = Rng::for_case(opts.seed, index);
        let input = target.generate(&mut rng);
        if opts.only.is_some() {
            eprintln!("case {index}: {input:#?}");
        }
        let watched = guard::watch(index, || target.run(&input));
        let a = watched.allocation;
        summary.largest = summary.largest.max(a.largest);
        summary.peak_growth = summary.peak_growth.max(a.peak_growth);
        let problem = match (&watched.panic, &watched.result) {
            (Some(p), _) => Some(format!("panic: {p}")),
            _ if watched.critical.is_some() => Some(format!(
                "GLib critical: {}",
                watched.critical.as_deref().unwrap_or_default()
            )),
            (None, Some(Err(problem))) => Some(format!("wrong result: {problem}")),
            _ if a.peak_growth > target.allocation_bound(&input) => Some(format!(
                "allocated {} bytes, over the bound of {}",
                a.peak_growth,
                target.allocation_bound(&input)
            )),
            _ => None,
        };
        match problem {
            Some(p) => {
                summary.failures += 1;
                let dir = opts.out.join(T::NAME);
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("seed{}-case{index}.txt", opts.seed));
                let _ = std::fs::write(&file, format!("{p}\n\n{input:#?}\n"));
                eprintln!(
                    "FAIL {} case {index}: {p} (input: {})",
                    T::NAME,
                    file.display()
                );
                if watched.panic.is_some() {
                    target.reset();
                }
            }
            None => {
                let label = watched.result.and_then(Result::ok).unwrap_or_default();
                *summary.outcomes.entry(label).or_default() += 1;
            }
        }
        done += 1;
        if done.is_multiple_of(100_000) {
            eprintln!(
                "{}: {done} cases, {} failures, {:.0} s",
                T::NAME,
                summary.failures,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"target\":\"{}\",\"seed\":{},\"cases\":{done},\"failures\":{},\"panics_hangs_overallocations\":{},\"seconds\":{secs:.1},\"largest_allocation\":{},\"peak_heap_growth\":{},\"allocation_bound\":{},\"max_rss_kib\":{},\"outcomes\":{}}}",
        T::NAME,
        opts.seed,
        summary.failures,
        summary.failures,
        summary.largest,
        summary.peak_growth,
        T::ALLOCATION_BOUND,
        guard::max_rss_kib(),
        serde_json::to_string(&summary.outcomes).unwrap()
    );
    summary.failures == 0
}

const TARGETS: &[&str] = &[
    "model",
    "tag",
    "frame-info",
    "j2k-decode",
    "j2k-encode",
    "frames",
];

fn run_named(name: &str, opts: &Options) -> Result<bool, String> {
    Ok(match name {
        "model" => run_target(targets::model::ModelFile::new(), opts),
        "tag" => run_target(targets::tag::StreamTag::new(), opts),
        "frame-info" => run_target(targets::frame_info::FrameInfo::new(), opts),
        "j2k-decode" => run_target(targets::j2k::Decode::new(), opts),
        "j2k-encode" => run_target(targets::j2k::Encode, opts),
        "frames" => run_target(targets::frames::Frames::new(), opts),
        other => {
            return Err(format!(
                "unknown target '{other}': use one of {} or all",
                TARGETS.join(", ")
            ))
        }
    })
}

fn parse_args() -> Result<(String, Options), String> {
    let mut args = std::env::args().skip(1);
    let mut target = None;
    let mut opts = Options {
        cases: 10_000,
        seed: 1,
        only: None,
        out: PathBuf::from("fuzz-out"),
    };
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: String, name: &str| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not '{v}'"))
        };
        match a.as_str() {
            "--cases" => opts.cases = number(value("--cases")?, "--cases")?,
            "--seed" => opts.seed = number(value("--seed")?, "--seed")?,
            "--case" => opts.only = Some(number(value("--case")?, "--case")?),
            "--out" => opts.out = PathBuf::from(value("--out")?),
            "-h" | "--help" => return Err(String::new()),
            t if target.is_none() && !t.starts_with('-') => target = Some(t.to_owned()),
            other => return Err(format!("unexpected argument '{other}'")),
        }
    }
    Ok((target.ok_or("name a target")?, opts))
}

fn main() {
    let (target, opts) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            let usage = format!(
                "usage: cnncodec-fuzz TARGET|all [--cases N] [--seed S] [--case I] [--out DIR]\ntargets: {}",
                TARGETS.join(", ")
            );
            if e.is_empty() {
                println!("{usage}");
                return;
            }
            eprintln!("cnncodec-fuzz: {e}\n{usage}");
            std::process::exit(2);
        }
    };
    gstcnncodec::runner::init();
    guard::install(opts.seed, Duration::from_secs(30));
    let names: Vec<&str> = if target == "all" {
        TARGETS.to_vec()
    } else {
        vec![target.as_str()]
    };
    let mut all_ok = true;
    for name in names {
        match run_named(name, &opts) {
            Ok(ok) => all_ok &= ok,
            Err(e) => {
                eprintln!("cnncodec-fuzz: {e}");
                std::process::exit(2);
            }
        }
    }
    if !all_ok {
        std::process::exit(1);
    }
}
