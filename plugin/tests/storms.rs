//! Concurrency and state storms: 8 archive-and-play pipelines in 4 threads, each cycle a random
//! state change, property change while running (model, backend, width-multiple, restored
//! size) or caps change mid-stream, 2,000 per pipeline. No deadlock (a watchdog fails the
//! test), no panic, and resident memory flat over the last 1,000 cycles (the first 1,000 warm
//! up). Alone in its file: it measures the process's memory.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::prelude::*;

/// Counts live Rust heap bytes, to tell a leak in this project's code from the C side and
/// the allocator's fragmentation.
struct Counting;
static LIVE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        std::alloc::System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        std::alloc::System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as i64 - l.size() as i64, Ordering::Relaxed);
        std::alloc::System.realloc(p, l, n)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Restored frames that reached a sink, over all pipelines.
static FRAMES_OUT: AtomicU64 = AtomicU64::new(0);

const THREADS: usize = 4;
const PIPELINES_PER_THREAD: usize = 2;
/// `STORM_CYCLES` runs longer by hand.
fn cycles_per_pipeline() -> u64 {
    std::env::var("STORM_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Resident memory after the allocator returned its free pages (`malloc_trim`): what is held,
/// not what malloc keeps cached for reuse.
fn rss_kib() -> u64 {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim only releases free memory.
    unsafe { malloc_trim(0) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Storm {
    pipeline: gst::Pipeline,
    models: [String; 2],
}

impl Storm {
    fn new(models: [String; 2], seed: u64) -> Self {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc pattern=ball num-buffers=-1 \
             ! capsfilter name=caps caps=video/x-raw,format=I420,width=48,height=32,framerate=100/1 \
             ! comcnnenc name=enc model-location={m} ! jpegenc ! jpegdec \
             ! reccnndec name=dec model-location={m} ! fakesink name=out sync=false",
            m = models[(seed % 2) as usize]
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let pad = pipeline.by_name("out").unwrap().static_pad("sink").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, |_, _| {
            FRAMES_OUT.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        Self { pipeline, models }
    }

    /// One random action; returns what it did, for the failure message.
    fn cycle(&self, rng: &mut Rng) -> &'static str {
        let enc = self.pipeline.by_name("enc").unwrap();
        let dec = self.pipeline.by_name("dec").unwrap();
        let action = match rng.below(8) {
            0..=2 => {
                let state = [
                    gst::State::Null,
                    gst::State::Ready,
                    gst::State::Paused,
                    gst::State::Playing,
                ][rng.below(4) as usize];
                let _ = self.pipeline.set_state(state);
                let _ = self.pipeline.state(gst::ClockTime::from_seconds(10));
                "state change"
            }
            3 => {
                let m = &self.models[rng.below(2) as usize];
                enc.set_property("model-location", m);
                dec.set_property("model-location", m);
                "model change"
            }
            4 => {
                // cuda is not in this build: the next start fails with an element error.
                let backend = ["cpu", "cpu", "cuda"][rng.below(3) as usize];
                enc.set_property_from_str("backend", backend);
                dec.set_property_from_str("backend", backend);
                "backend change"
            }
            5 => {
                enc.set_property("width-multiple", [1u32, 8, 16, 64][rng.below(4) as usize]);
                // 0 follows the stream; 7 fits no frame here, an element error.
                dec.set_property("width", [0u32, 0, 0, 7][rng.below(4) as usize]);
                "width-multiple and restored width change"
            }
            6 => {
                let (w, h) = (16 + 8 * rng.below(8), 16 + 4 * rng.below(8));
                let caps: gst::Caps =
                    format!("video/x-raw,format=I420,width={w},height={h},framerate=100/1")
                        .parse()
                        .unwrap();
                self.pipeline
                    .by_name("caps")
                    .unwrap()
                    .set_property("caps", &caps);
                "caps change"
            }
            _ => {
                let _ = self.pipeline.set_state(gst::State::Playing);
                std::thread::sleep(Duration::from_millis(rng.below(20)));
                "run a while"
            }
        };
        // An error (the backend, say) stops this pipeline; it starts again from NULL.
        let bus = self.pipeline.bus().unwrap();
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(_) = msg.view() {
                let _ = self.pipeline.set_state(gst::State::Null);
                enc.set_property_from_str("backend", "cpu");
                dec.set_property_from_str("backend", "cpu");
                dec.set_property("width", 0u32);
            }
        }
        action
    }
}

#[test]
fn storms_of_state_property_and_caps_changes_neither_deadlock_nor_leak() {
    util::init();
    let dir = util::tmp_dir("storms");
    let models = [
        util::tiny_model(&dir, 61).display().to_string(),
        util::tiny_model(&dir, 62).display().to_string(),
    ];
    let done = Arc::new(AtomicU64::new(0));
    let warm_rss = Arc::new(AtomicU64::new(0));
    let warm_heap = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (models, done, warm_rss, warm_heap) = (
                models.clone(),
                done.clone(),
                warm_rss.clone(),
                warm_heap.clone(),
            );
            std::thread::spawn(move || {
                let storms: Vec<Storm> = (0..PIPELINES_PER_THREAD)
                    .map(|p| Storm::new(models.clone(), (t * PIPELINES_PER_THREAD + p) as u64))
                    .collect();
                let mut rng = Rng(t as u64 + 1);
                let cycles = cycles_per_pipeline();
                for _ in 0..cycles {
                    for s in &storms {
                        s.cycle(&mut rng);
                    }
                    let total = done.fetch_add(1, Ordering::SeqCst) + 1;
                    // Warm-up: the first half (engines, kernels, GStreamer's caches and
                    // threads, the allocator's arenas); the second half is measured.
                    if total == cycles * THREADS as u64 / 2 {
                        warm_rss.store(rss_kib(), Ordering::SeqCst);
                        warm_heap.store(LIVE.load(Ordering::Relaxed), Ordering::SeqCst);
                    }
                    if total % (cycles * THREADS as u64 / 10) == 0 {
                        eprintln!(
                            "storms: {total} thread cycles, RSS {} KiB, Rust heap {} KiB",
                            rss_kib(),
                            LIVE.load(Ordering::Relaxed) / 1024
                        );
                    }
                }
                for s in &storms {
                    s.pipeline.set_state(gst::State::Null).unwrap();
                }
            })
        })
        .collect();
    // The watchdog: every cycle must keep moving.
    let total = cycles_per_pipeline() * THREADS as u64;
    let mut last = (0, Instant::now());
    while done.load(Ordering::SeqCst) < total {
        std::thread::sleep(Duration::from_millis(200));
        let now = done.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < Duration::from_secs(60),
            "deadlock: no cycle finished for 60 s ({now} of {total} done)"
        );
    }
    for w in workers {
        w.join().expect("no panic in a storm thread");
    }
    let (warm, end) = (warm_rss.load(Ordering::SeqCst), rss_kib());
    let growth = (end as f64 - warm as f64) / warm as f64 * 100.0;
    let heap_growth = LIVE.load(Ordering::Relaxed) - warm_heap.load(Ordering::SeqCst);
    eprintln!(
        "storms: {} cycles over {} pipelines in {THREADS} threads in {:.1} s, {} restored frames; RSS {warm} KiB after warm-up, {end} KiB at the end ({growth:+.2} %); Rust heap {heap_growth:+} bytes",
        total * PIPELINES_PER_THREAD as u64,
        THREADS * PIPELINES_PER_THREAD,
        started.elapsed().as_secs_f64(),
        FRAMES_OUT.load(Ordering::Relaxed)
    );
    assert!(
        FRAMES_OUT.load(Ordering::Relaxed) > 1_000,
        "the storm restored too few frames to mean anything"
    );
    assert!(
        growth < 5.0,
        "RSS grew {growth:.2} % after warm-up ({warm} -> {end} KiB)"
    );
    // Every pipeline is stopped now: what Rust code still holds must be what it held then.
    assert!(
        heap_growth < 256 << 10,
        "the Rust heap grew by {heap_growth} bytes after warm-up"
    );
}
