//! Which files a model may be read from. A model path can come from a user (a property, a
//! command line) or from a stream's tag, which whoever wrote the archive chose. Both are
//! opened without blocking and read with a bound; a path named by a stream is followed only
//! into directories the user trusts, and never through a symbolic link.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Larger model files are refused before reading (the paper-size pair is under 3 MB).
pub const MAX_MODEL_BYTES: u64 = 64 << 20;

/// Virtual file systems whose files report sizes that are not their contents.
const VIRTUAL_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why a model file may not be read; each message says what the file is.
#[derive(Debug, Clone, PartialEq)]
pub enum FileRefusal {
    NotFound,
    /// Anything `open` or `read` reports.
    Io(String),
    /// A directory, device, FIFO or socket.
    NotRegular(&'static str),
    Virtual,
    Empty,
    TooLarge(u64),
    SymbolicLink,
}

impl std::fmt::Display for FileRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file"),
            Self::Io(e) => f.write_str(e),
            Self::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            Self::Virtual => f.write_str(
                "it is a file of a virtual file system (/proc, /sys, /dev), not a model",
            ),
            Self::Empty => f.write_str("the file is empty"),
            Self::TooLarge(n) => write!(
                f,
                "{n} bytes is more than any model of this framework ({} MiB at most)",
                MAX_MODEL_BYTES >> 20
            ),
            Self::SymbolicLink => f.write_str("the path is a symbolic link"),
        }
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

fn is_virtual(path: &Path) -> bool {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    VIRTUAL_ROOTS.iter().any(|root| real.starts_with(root))
}

/// Reads a whole model file: a regular file of 1 byte to [`MAX_MODEL_BYTES`], outside
/// `/proc`, `/sys` and `/dev`. Opening never blocks (a FIFO is refused, not waited on) and
/// the read stops at the bound whatever size the file claims. With `follow_links` false a
/// symbolic link as the last component is refused.
pub fn read_model_file(path: &Path, follow_links: bool) -> Result<Vec<u8>, FileRefusal> {
    if is_virtual(path) {
        return Err(FileRefusal::Virtual);
    }
    // Checked before opening too, so that a FIFO's writer never sees a reader.
    let before = if follow_links {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    match before {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileRefusal::NotFound),
        Err(e) => return Err(FileRefusal::Io(e.to_string())),
        Ok(m) if m.file_type().is_symlink() => return Err(FileRefusal::SymbolicLink),
        Ok(m) if !m.is_file() => return Err(FileRefusal::NotRegular(kind_of(&m))),
        Ok(_) => {}
    }
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !follow_links {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileRefusal::NotFound),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(FileRefusal::SymbolicLink),
        Err(e) => return Err(FileRefusal::Io(e.to_string())),
    };
    let meta = file
        .metadata()
        .map_err(|e| FileRefusal::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(FileRefusal::NotRegular(kind_of(&meta)));
    }
    match meta.len() {
        0 => return Err(FileRefusal::Empty),
        n if n > MAX_MODEL_BYTES => return Err(FileRefusal::TooLarge(n)),
        _ => {}
    }
    read_bounded(file)
}

fn read_bounded(file: File) -> Result<Vec<u8>, FileRefusal> {
    let mut bytes = Vec::new();
    file.take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileRefusal::Io(e.to_string()))?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(FileRefusal::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Why a path named by a stream is not followed.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamPathRefusal {
    /// No directory is trusted: only built-in models are followed.
    NothingTrusted,
    NotAbsolute,
    /// `..`, `.` or an empty component: the path must be written the way the encoder wrote it.
    NotPlain,
    /// A component is a symbolic link (the path and its resolved form differ).
    ThroughLink,
    /// Outside every trusted directory.
    Untrusted,
    /// The file does not exist (or a component is not readable).
    Unreachable(String),
}

impl std::fmt::Display for StreamPathRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NothingTrusted => "no directory is trusted for model files named by streams",
            Self::NotAbsolute => "the path is not absolute",
            Self::NotPlain => "the path holds '.', '..' or empty components",
            Self::ThroughLink => "the path goes through a symbolic link",
            Self::Untrusted => "the path is outside every trusted directory",
            Self::Unreachable(e) => return write!(f, "the path cannot be resolved ({e})"),
        })
    }
}

/// Parses a list of trusted directories (`:`-separated, as `PATH`); empty entries are
/// skipped.
pub fn parse_dir_list(list: &str) -> Vec<PathBuf> {
    list.split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// The file a stream's `location` may be read from, given the directories the user trusts:
/// an absolute, plain path with no symbolic link anywhere, inside one of `trusted` (each
/// resolved first, so a trusted directory may itself be reached through a link).
pub fn stream_model_path(
    location: &str,
    trusted: &[PathBuf],
) -> Result<PathBuf, StreamPathRefusal> {
    if trusted.is_empty() {
        return Err(StreamPathRefusal::NothingTrusted);
    }
    let path = Path::new(location);
    if !path.is_absolute() {
        return Err(StreamPathRefusal::NotAbsolute);
    }
    let plain = location.split('/').skip(1).all(|c| !c.is_empty())
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain {
        return Err(StreamPathRefusal::NotPlain);
    }
    let real =
        std::fs::canonicalize(path).map_err(|e| StreamPathRefusal::Unreachable(e.to_string()))?;
    if real != path {
        return Err(StreamPathRefusal::ThroughLink);
    }
    let inside = trusted
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .any(|d| real.starts_with(&d) && real != d);
    if inside {
        Ok(real)
    } else {
        Err(StreamPathRefusal::Untrusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cnncodec-trust-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let d = scratch("special");
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_model_file(&fifo, true),
            Err(FileRefusal::NotRegular("FIFO"))
        );
        assert_eq!(
            read_model_file(&d, true),
            Err(FileRefusal::NotRegular("directory"))
        );
        for v in [
            "/dev/zero",
            "/dev/urandom",
            "/proc/self/mem",
            "/proc/self/status",
        ] {
            assert_eq!(
                read_model_file(Path::new(v), true),
                Err(FileRefusal::Virtual),
                "{v}"
            );
        }
        let empty = d.join("empty.cnnmodel");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(read_model_file(&empty, true), Err(FileRefusal::Empty));
        let big = d.join("big.cnnmodel");
        File::create(&big)
            .unwrap()
            .set_len(MAX_MODEL_BYTES + 1)
            .unwrap();
        assert_eq!(
            read_model_file(&big, true),
            Err(FileRefusal::TooLarge(MAX_MODEL_BYTES + 1))
        );
        let small = d.join("small.cnnmodel");
        std::fs::write(&small, b"abc").unwrap();
        let link = d.join("link.cnnmodel");
        std::os::unix::fs::symlink(&small, &link).unwrap();
        assert_eq!(read_model_file(&link, true).unwrap(), b"abc");
        assert_eq!(
            read_model_file(&link, false),
            Err(FileRefusal::SymbolicLink)
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stream_paths_stay_inside_trusted_directories() {
        let d = scratch("paths");
        let models = d.join("models");
        let other = d.join("other");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let models = std::fs::canonicalize(models).unwrap();
        let other = std::fs::canonicalize(other).unwrap();
        let good = models.join("a.cnnmodel");
        std::fs::write(&good, b"x").unwrap();
        std::fs::write(other.join("b.cnnmodel"), b"x").unwrap();
        std::os::unix::fs::symlink(other.join("b.cnnmodel"), models.join("l.cnnmodel")).unwrap();
        std::os::unix::fs::symlink(&other, models.join("sub")).unwrap();
        let trusted = vec![models.clone()];
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        assert_eq!(stream_model_path(&s(&good), &trusted), Ok(good.clone()));
        assert_eq!(
            stream_model_path(&s(&good), &[]),
            Err(StreamPathRefusal::NothingTrusted)
        );
        assert_eq!(
            stream_model_path(&s(&other.join("b.cnnmodel")), &trusted),
            Err(StreamPathRefusal::Untrusted)
        );
        assert_eq!(
            stream_model_path(&s(&models.join("l.cnnmodel")), &trusted),
            Err(StreamPathRefusal::ThroughLink)
        );
        assert_eq!(
            stream_model_path(&s(&models.join("sub/b.cnnmodel")), &trusted),
            Err(StreamPathRefusal::ThroughLink)
        );
        assert_eq!(
            stream_model_path(&format!("{}/../other/b.cnnmodel", s(&models)), &trusted),
            Err(StreamPathRefusal::NotPlain)
        );
        assert_eq!(
            stream_model_path(&format!("{}//a.cnnmodel", s(&models)), &trusted),
            Err(StreamPathRefusal::NotPlain)
        );
        assert_eq!(
            stream_model_path("a.cnnmodel", &trusted),
            Err(StreamPathRefusal::NotAbsolute)
        );
        assert_eq!(
            stream_model_path(&s(&models), &trusted),
            Err(StreamPathRefusal::Untrusted)
        );
        assert!(matches!(
            stream_model_path(&s(&models.join("missing.cnnmodel")), &trusted),
            Err(StreamPathRefusal::Unreachable(_))
        ));
        assert_eq!(
            parse_dir_list(&format!("{}::/x", s(&models))),
            vec![models.clone(), PathBuf::from("/x")]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
