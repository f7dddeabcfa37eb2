//! The archive trust model: a stream's tag can name a model file, and a player opens it only
//! inside directories the user listed in `stream-model-dirs`, never through a symbolic link.
//! A crafted archive names a FIFO; a writer waits on the FIFO, so any open of it by the
//! player would be seen.

mod util;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gstcnncodec::StreamInfo;

/// An archive of one compact frame whose tag names `location` as its model.
fn crafted_archive(dir: &Path, name: &str, location: &str) -> PathBuf {
    let file = dir.join(format!("{name}.mkv"));
    let info = StreamInfo {
        width: 64,
        height: 48,
        model_name: "crafted".into(),
        model_hash: "0123456789abcdef".into(),
        comcnn_hash: "fedcba9876543210".into(),
        model_location: Some(location.to_owned()),
    };
    util::archive_with_info(&file, &info);
    file
}

/// A FIFO with a writer blocked until some process opens it for reading.
struct Tripwire {
    path: PathBuf,
    opened: Arc<AtomicBool>,
    writer: std::thread::JoinHandle<()>,
}

impl Tripwire {
    fn new(path: PathBuf) -> Self {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
        let opened = Arc::new(AtomicBool::new(false));
        let (p, o) = (path.clone(), opened.clone());
        let writer = std::thread::spawn(move || {
            let _f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            o.store(true, Ordering::SeqCst);
        });
        Self {
            path,
            opened,
            writer,
        }
    }

    /// Whether anything opened the FIFO; releases the writer either way.
    fn was_opened(self) -> bool {
        std::thread::sleep(Duration::from_millis(200));
        let seen = self.opened.load(Ordering::SeqCst);
        let _reader = std::fs::File::open(&self.path).unwrap();
        self.writer.join().unwrap();
        seen
    }
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn a_crafted_archive_cannot_make_the_player_open_a_path_it_was_not_allowed() {
    let dir = std::fs::canonicalize(util::tmp_dir("trust")).unwrap();
    let trusted = dir.join("trusted");
    let outside = dir.join("outside");
    for d in [&trusted, &outside] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).unwrap();
    }
    let allow = format!("stream-model-dirs={}", trusted.display());

    // By default a player follows built-in models only.
    let wire = Tripwire::new(outside.join("default.fifo"));
    let archive = crafted_archive(&dir, "default", wire.path.to_str().unwrap());
    let e = util::play_archive(&archive, "").error.expect("refused");
    assert!(
        e.contains("stream-model-dirs") && e.contains("default.fifo"),
        "{e}"
    );
    assert!(
        !wire.was_opened(),
        "the default player opened the named path"
    );

    // Trusting one directory does not open files outside it, nor reach out by link or '..'.
    let wire = Tripwire::new(outside.join("target.fifo"));
    std::os::unix::fs::symlink(&wire.path, trusted.join("link.cnnmodel")).unwrap();
    std::os::unix::fs::symlink(&outside, trusted.join("sub")).unwrap();
    for (name, location, says) in [
        (
            "outside",
            wire.path.clone(),
            "outside every trusted directory",
        ),
        ("link", trusted.join("link.cnnmodel"), "symbolic link"),
        ("subdir", trusted.join("sub/target.fifo"), "symbolic link"),
        (
            "dotdot",
            trusted.join("../outside/target.fifo"),
            "'.', '..'",
        ),
    ] {
        let archive = crafted_archive(&dir, name, location.to_str().unwrap());
        let e = util::play_archive(&archive, &allow).error.expect("refused");
        assert!(e.contains(says), "{name}: {e}");
    }
    assert!(!wire.was_opened(), "a trusting player left its directory");

    // Special files inside the trusted directory are refused without blocking.
    let wire = Tripwire::new(trusted.join("inside.fifo"));
    let archive = crafted_archive(&dir, "fifo", wire.path.to_str().unwrap());
    let e = util::play_archive(&archive, &allow).error.expect("refused");
    assert!(e.contains("FIFO"), "{e}");
    assert!(!wire.was_opened(), "a FIFO was opened");

    // A real model in the trusted directory is followed, and only with the setting.
    let model = util::tiny_model(&trusted, 41);
    let archive = dir.join("real.mkv");
    util::run(
        &format!(
            "appsrc name=src ! comcnnenc model-location={} ! jpegenc ! matroskamux ! filesink location={}",
            model.display(),
            archive.display()
        ),
        vec![util::test_frame("GRAY8", 64, 48, 0)],
        Duration::from_secs(60),
    )
    .expect_ok();
    let played = util::play_archive(&archive, &allow).expect_ok();
    assert_eq!(played.sizes(), vec![(64, 48)]);
    let e = util::play_archive(&archive, "")
        .error
        .expect("refused without the setting");
    assert!(e.contains("stream-model-dirs"), "{e}");
    // The user's own model-location is always allowed.
    util::play_archive(&archive, &format!("model-location={}", model.display())).expect_ok();
    std::fs::remove_dir_all(&dir).unwrap();
}
