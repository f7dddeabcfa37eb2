//! The stream info and a checksum carried inside every compact JPEG frame, so that a frame
//! read on its own (a segment file, an archive cut by a power loss) says how to restore it and
//! whether it arrived intact. Both live in segments stock decoders skip: a COM segment with the
//! stream-info comment (what `jpegparse` also reports as a `comment` tag) and an APP10 segment
//! with a CRC-32 over every other byte of the frame.

/// JPEG markers this module reads or writes.
const SOI: u8 = 0xD8;
const SOS: u8 = 0xDA;
const COM: u8 = 0xFE;
const APP10: u8 = 0xEA;

/// What opens our APP10 payload, before the 4-byte big-endian CRC-32.
const CHECKSUM_ID: &[u8] = b"cnncodec-crc32\0";

/// The longest payload one segment holds (its length field counts itself).
const MAX_PAYLOAD: usize = 0xFFFF - 2;

/// What a frame carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FrameInfo {
    /// Every COM segment's text before the scan (the stream info is one of them).
    pub comments: Vec<String>,
    /// `Some(true)` when our checksum is there and matches, `Some(false)` when it is there and
    /// does not (the frame is damaged), `None` when the frame has none.
    pub intact: Option<bool>,
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + 2) as u16;
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// `jpeg` with `comment` (cut to what one segment holds) and our checksum inserted right after
/// its SOI marker, or `None` when `jpeg` does not start with one.
pub fn with_info(jpeg: &[u8], comment: &str) -> Option<Vec<u8>> {
    if jpeg.len() < 2 || jpeg[0] != 0xFF || jpeg[1] != SOI {
        return None;
    }
    let text = &comment.as_bytes()[..comment.len().min(MAX_PAYLOAD)];
    let head = [&jpeg[..2], &segment(COM, text)[..]].concat();
    let rest = &jpeg[2..];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(rest);
    let checksum = segment(
        APP10,
        &[CHECKSUM_ID, &crc.finalize().to_be_bytes()[..]].concat(),
    );
    Some([&head[..], &checksum, rest].concat())
}

/// Reads the comments and checks the checksum of one JPEG frame. Anything that is not a
/// well-formed header before the scan stops the reading (what was found so far is kept), so
/// damaged bytes never panic.
pub fn read(jpeg: &[u8]) -> FrameInfo {
    let mut info = FrameInfo::default();
    if jpeg.len() < 2 || jpeg[0] != 0xFF || jpeg[1] != SOI {
        return info;
    }
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == SOS || marker == 0xD9 {
            break;
        }
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        let end = at + 2 + len;
        if len < 2 || end > jpeg.len() {
            break;
        }
        let payload = &jpeg[at + 4..end];
        match marker {
            COM => info
                .comments
                .push(String::from_utf8_lossy(payload).into_owned()),
            APP10 if payload.len() == CHECKSUM_ID.len() + 4 && payload.starts_with(CHECKSUM_ID) => {
                let stored = u32::from_be_bytes(payload[CHECKSUM_ID.len()..].try_into().unwrap());
                let mut crc = crc32fast::Hasher::new();
                crc.update(&jpeg[..at]);
                crc.update(&jpeg[end..]);
                info.intact = Some(crc.finalize() == stored);
            }
            _ => {}
        }
        at = end;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal frame shape: SOI, a DQT-like segment, SOS with scan bytes, EOI.
    fn jpeg() -> Vec<u8> {
        let mut j = vec![0xFF, SOI];
        j.extend(segment(0xDB, &[1, 2, 3, 4]));
        j.extend(segment(SOS, &[0, 1]));
        j.extend([0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn info_and_checksum_survive_and_damage_is_found() {
        let framed = with_info(&jpeg(), "cnncodec, width=(int)353").unwrap();
        assert_eq!(
            read(&framed),
            FrameInfo {
                comments: vec!["cnncodec, width=(int)353".into()],
                intact: Some(true)
            }
        );
        // The original frame follows our two segments unchanged.
        assert!(framed.ends_with(&jpeg()[2..]));
        // One changed byte anywhere (scan data, the comment, the checksum) is found.
        for at in [framed.len() - 4, 6, framed.len() - jpeg().len() - 1] {
            let mut damaged = framed.clone();
            damaged[at] ^= 0x20;
            assert_eq!(read(&damaged).intact, Some(false), "byte {at}");
        }
        assert_eq!(read(&jpeg()).intact, None);
    }

    #[test]
    fn anything_else_is_read_without_panicking() {
        assert_eq!(with_info(b"not a jpeg", "x"), None);
        let framed = with_info(&jpeg(), "c").unwrap();
        for cut in 0..framed.len() {
            let _ = read(&framed[..cut]);
        }
        assert_eq!(read(&[]), FrameInfo::default());
        // A comment longer than a segment holds is cut, not a broken length field.
        let long = "x".repeat(70_000);
        let framed = with_info(&jpeg(), &long).unwrap();
        assert_eq!(read(&framed).comments[0].len(), MAX_PAYLOAD);
        assert_eq!(read(&framed).intact, Some(true));
    }
}
