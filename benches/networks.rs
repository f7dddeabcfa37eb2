//! `cargo bench`: ComCNN and RecCNN forward on the CPU backend at CIF and 720p
//! (`CNNCODEC_BENCH_FRAMES` frames each, default 3), then RecCNN training steps (the shipped
//! 32 x 10 and the paper's 64 x 20, batch 16 of 40x40; `CNNCODEC_BENCH_TRAIN_STEPS` each,
//! default 2) with burn's generic and our backward. The CLI's `cnncodec bench` and
//! `cnncodec bench-train` print the same tables.

fn main() {
    let frames: usize = std::env::var("CNNCODEC_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let sizes = [(352, 288), (1280, 720)];
    match cnncodec::eval::bench::report(frames, &sizes, cnncodec::BackendKind::Cpu) {
        Ok(table) => {
            print!("{table}");
            let steps: usize = std::env::var("CNNCODEC_BENCH_TRAIN_STEPS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2);
            for (features, depth) in [(32, 10), (64, 20)] {
                let rec = cnncodec::net::architecture::RecCnnConfig::new()
                    .with_features(features)
                    .with_depth(depth);
                println!();
                print!(
                    "{}",
                    cnncodec::train::throughput::train_step_report(&rec, 16, 40, steps, true)
                );
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    }
}
