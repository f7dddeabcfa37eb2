//! Byte-level mutations shared by the targets.

use crate::rng::Rng;

/// Applies 1 to 8 random byte mutations to `data`, keeping it at most `max_len` long.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) {
    for _ in 0..rng.range(1, 8) {
        one(rng, data, max_len);
    }
}

fn one(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) {
    let len = data.len();
    let at = |rng: &mut Rng| {
        if len == 0 {
            0
        } else {
            rng.below(len as u64) as usize
        }
    };
    match rng.below(10) {
        0 if len > 0 => {
            let i = at(rng);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = at(rng);
            data[i] = *rng.pick(&[0u8, 1, 0x7F, 0x80, 0xFE, 0xFF]);
        }
        2 if len > 0 => {
            let i = at(rng);
            data[i] = rng.next() as u8;
        }
        3 if len < max_len => {
            let i = at(rng);
            let n = (rng.range(1, 64) as usize).min(max_len - len);
            let insert = rng.bytes(n);
            data.splice(i..i, insert);
        }
        4 if len > 0 => {
            let i = at(rng);
            let n = (rng.range(1, 64) as usize).min(len - i);
            data.drain(i..i + n);
        }
        5 => {
            let n = rng.below(len as u64 + 1) as usize;
            data.truncate(n);
        }
        6 if len > 4 => {
            // An integer field overwritten with an edge value, little or big endian.
            let i = rng.below(len as u64 - 3) as usize;
            let v = rng.interesting() as u32;
            let b = if rng.one_in(2) {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            data[i..i + 4].copy_from_slice(&b);
        }
        7 if len > 8 => {
            let i = rng.below(len as u64 - 7) as usize;
            let v = rng.interesting() as u64;
            data[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        8 if len > 1 && len < max_len => {
            // A chunk repeated elsewhere (markers and segments duplicated).
            let a = at(rng);
            let n = (rng.range(1, 32) as usize).min(len - a).min(max_len - len);
            let chunk = data[a..a + n].to_vec();
            let b = at(rng);
            data.splice(b..b, chunk);
        }
        _ if len > 1 => {
            let (a, b) = (at(rng), at(rng));
            data.swap(a, b);
        }
        _ => data.push(rng.next() as u8),
    }
}
