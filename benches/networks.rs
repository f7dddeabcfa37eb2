//! `cargo bench`: ComCNN and RecCNN forward on the CPU backend at CIF and 720p.
//! Paper-size networks with random weights (speed does not depend on the values).

use cnncodec::bench::{bench_size, TABLE_HEADER};
use cnncodec::engine::{BurnEngine, CpuBackend};
use cnncodec::model::{ComCnnConfig, RecCnnConfig};
use cnncodec::weights::ModelWeights;

fn main() {
    let frames: usize = std::env::var("CNNCODEC_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (com, rec) = (ComCnnConfig::new(), RecCnnConfig::new());
    let weights = ModelWeights::random("bench", com.clone(), rec.clone(), 1);
    let engine = BurnEngine::<CpuBackend>::new(&weights, Default::default());
    println!(
        "burn-flex CPU backend, {} threads, {frames} frames each\n",
        rayon_threads()
    );
    println!("{TABLE_HEADER}");
    for (w, h) in [(352, 288), (1280, 720)] {
        for r in bench_size(&engine, &com, &rec, w, h, frames) {
            println!("{}", r.row());
        }
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
