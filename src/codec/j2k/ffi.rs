//! OpenJPEG plumbing: its messages, owned handles, and in-memory streams in and out.

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use openjpeg_sys as opj;

use super::J2kError;

/// Messages OpenJPEG reports while a codec runs.
#[derive(Default)]
pub(super) struct Messages(pub(super) Mutex<Vec<String>>);

pub(super) unsafe extern "C" fn collect_message(msg: *const c_char, data: *mut c_void) {
    if msg.is_null() || data.is_null() {
        return;
    }
    let text = CStr::from_ptr(msg).to_string_lossy().trim().to_owned();
    let messages = &*(data as *const Messages);
    if let Ok(mut v) = messages.0.lock() {
        v.push(text);
    }
}

impl Messages {
    pub(super) fn failure(&self, what: &str) -> J2kError {
        let v = self.0.lock().map(|v| v.join("; ")).unwrap_or_default();
        if v.is_empty() {
            J2kError(format!("OpenJPEG could not {what}"))
        } else {
            J2kError(format!("OpenJPEG could not {what}: {v}"))
        }
    }
}

/// Owns an OpenJPEG codec, image and stream, and frees them however the call ends.
pub(super) struct Handles {
    pub(super) codec: *mut opj::opj_codec_t,
    pub(super) image: *mut opj::opj_image_t,
    pub(super) stream: *mut opj::opj_stream_t,
}

impl Drop for Handles {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or came from the matching OpenJPEG constructor, and is
        // freed once, here.
        unsafe {
            if !self.stream.is_null() {
                opj::opj_stream_destroy(self.stream);
            }
            if !self.codec.is_null() {
                opj::opj_destroy_codec(self.codec);
            }
            if !self.image.is_null() {
                opj::opj_image_destroy(self.image);
            }
        }
    }
}

/// A growable in-memory output for the encoder, which also skips and seeks.
#[derive(Default)]
pub(super) struct Sink {
    pub(super) data: Vec<u8>,
    pub(super) pos: usize,
}

pub(super) unsafe extern "C" fn sink_write(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    let sink = &mut *(user as *mut Sink);
    let src = std::slice::from_raw_parts(buf as *const u8, n);
    let end = sink.pos + n;
    if sink.data.len() < end {
        sink.data.resize(end, 0);
    }
    sink.data[sink.pos..end].copy_from_slice(src);
    sink.pos = end;
    n
}

pub(super) unsafe extern "C" fn sink_skip(n: i64, user: *mut c_void) -> i64 {
    let sink = &mut *(user as *mut Sink);
    let Some(pos) = sink.pos.checked_add_signed(n as isize) else {
        return -1;
    };
    if sink.data.len() < pos {
        sink.data.resize(pos, 0);
    }
    sink.pos = pos;
    n
}

pub(super) unsafe extern "C" fn sink_seek(n: i64, user: *mut c_void) -> i32 {
    let sink = &mut *(user as *mut Sink);
    if n < 0 || n as usize > sink.data.len() {
        return 0;
    }
    sink.pos = n as usize;
    1
}

/// An in-memory input for the decoder.
pub(super) struct Source<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

pub(super) unsafe extern "C" fn source_read(
    buf: *mut c_void,
    n: usize,
    user: *mut c_void,
) -> usize {
    let src = &mut *(user as *mut Source);
    let left = src.data.len() - src.pos;
    if left == 0 {
        // OpenJPEG's end-of-stream value.
        return usize::MAX;
    }
    let n = n.min(left);
    std::ptr::copy_nonoverlapping(src.data[src.pos..].as_ptr(), buf as *mut u8, n);
    src.pos += n;
    n
}

pub(super) unsafe extern "C" fn source_skip(n: i64, user: *mut c_void) -> i64 {
    let src = &mut *(user as *mut Source);
    let pos = (src.pos as i64 + n).clamp(0, src.data.len() as i64);
    let moved = pos - src.pos as i64;
    src.pos = pos as usize;
    moved
}

pub(super) unsafe extern "C" fn source_seek(n: i64, user: *mut c_void) -> i32 {
    let src = &mut *(user as *mut Source);
    if n < 0 || n as usize > src.data.len() {
        return 0;
    }
    src.pos = n as usize;
    1
}
