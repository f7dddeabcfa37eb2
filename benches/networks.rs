//! `cargo bench`: ComCNN and RecCNN forward on the CPU backend at CIF and 720p
//! (`CNNCODEC_BENCH_FRAMES` frames each, default 3). The CLI's `cnncodec bench` prints the
//! same table.

fn main() {
    let frames: usize = std::env::var("CNNCODEC_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let sizes = [(352, 288), (1280, 720)];
    match cnncodec::bench::report(frames, &sizes, cnncodec::BackendKind::Cpu) {
        Ok(table) => print!("{table}"),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    }
}
