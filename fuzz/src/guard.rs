//! What every case is watched for: panics (a process-wide hook, so panics that GStreamer's
//! bindings catch inside an element are counted too), hangs (a watchdog thread) and
//! allocations (a counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

/// Rust heap use during one case.
#[derive(Clone, Copy, Debug, Default)]
pub struct Allocation {
    /// The largest single allocation.
    pub largest: usize,
    /// Peak live bytes above what was live when the case started.
    pub peak_growth: usize,
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static CRITICALS: AtomicU64 = AtomicU64::new(0);
static LAST_CRITICAL: Mutex<String> = Mutex::new(String::new());
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());
/// Start of the running case, in ms since [`install`] (0: none running).
static CASE_STARTED_MS: AtomicU64 = AtomicU64::new(0);
static CASE_INDEX: AtomicU64 = AtomicU64::new(0);
static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);
static TARGET: Mutex<&str> = Mutex::new("");

/// Names the target whose cases run now (for the watchdog's message).
pub fn set_target(name: &'static str) {
    *TARGET.lock().unwrap() = name;
}

fn now_ms() -> u64 {
    EPOCH
        .lock()
        .unwrap()
        .expect("installed")
        .elapsed()
        .as_millis() as u64
        + 1
}

/// Installs the panic hook and a watchdog that ends the process (exit status 3) when one case
/// runs longer than `hang_after`, naming the case so it can be replayed.
pub fn install(seed: u64, hang_after: Duration) {
    *EPOCH.lock().unwrap() = Some(Instant::now());
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        eprintln!("panic: {info}");
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
    // GLib criticals and warnings (a failed assertion inside GStreamer, say) are bugs too.
    gst::glib::log_set_default_handler(|domain, level, message| {
        if matches!(
            level,
            gst::glib::LogLevel::Critical
                | gst::glib::LogLevel::Warning
                | gst::glib::LogLevel::Error
        ) {
            CRITICALS.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut last) = LAST_CRITICAL.lock() {
                *last = format!("{}: {message}", domain.unwrap_or("?"));
            }
        }
    });
    // A C library that aborts (a failed assert) ends the process: say which case did it.
    extern "C" fn on_abort(_: libc::c_int) {
        let mut buf = *b"ABORT in case                     \n";
        let mut n = CASE_INDEX.load(Ordering::SeqCst);
        let mut i = buf.len() - 2;
        loop {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || i == 14 {
                break;
            }
            i -= 1;
        }
        // SAFETY: write(2) is async-signal-safe; the buffer outlives the call.
        unsafe { libc::write(2, buf.as_ptr().cast(), buf.len()) };
    }
    // SAFETY: installs a handler that only calls write(2).
    unsafe { libc::signal(libc::SIGABRT, on_abort as *const () as libc::sighandler_t) };
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(250));
        let started = CASE_STARTED_MS.load(Ordering::SeqCst);
        if started != 0 && now_ms() - started > hang_after.as_millis() as u64 {
            let target = *TARGET.lock().unwrap();
            eprintln!(
                "HANG: target {target}, seed {seed}, case {} ran over {:?}; replay with --seed {seed} --case {}",
                CASE_INDEX.load(Ordering::SeqCst),
                hang_after,
                CASE_INDEX.load(Ordering::SeqCst)
            );
            std::process::exit(3);
        }
    });
}

/// What one case did besides its result.
pub struct Watched<T> {
    pub result: Option<T>,
    pub panic: Option<String>,
    /// A GLib critical or warning logged during the case.
    pub critical: Option<String>,
    pub allocation: Allocation,
}

/// Runs case `index`, catching an unwinding panic and measuring its heap use.
pub fn watch<T>(index: u64, f: impl FnOnce() -> T) -> Watched<T> {
    let panics_before = PANICS.load(Ordering::SeqCst);
    let criticals_before = CRITICALS.load(Ordering::SeqCst);
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    CASE_INDEX.store(index, Ordering::SeqCst);
    CASE_STARTED_MS.store(now_ms(), Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    CASE_STARTED_MS.store(0, Ordering::SeqCst);
    let allocation = Allocation {
        largest: LARGEST.load(Ordering::Relaxed),
        peak_growth: PEAK.load(Ordering::Relaxed).saturating_sub(live),
    };
    let panicked = PANICS.load(Ordering::SeqCst) != panics_before || result.is_none();
    let critical = (CRITICALS.load(Ordering::SeqCst) != criticals_before)
        .then(|| LAST_CRITICAL.lock().map(|s| s.clone()).unwrap_or_default());
    Watched {
        result,
        critical,
        panic: panicked.then(|| LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default()),
        allocation,
    }
}

/// Peak resident memory of the process so far, in KiB (C allocations included).
pub fn max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u.ru_maxrss
    }
}
