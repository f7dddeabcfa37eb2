//! The stream info inside H.264 / H.265 access units, so that a recording read without its
//! container's tags (a file cut by a power loss, a segment) says how to restore it: a
//! user-data-unregistered SEI message (payload type 5) under our own UUID, which every
//! decoder skips, in front of the first slice of each key frame. Both stream formats are
//! handled: Annex B byte streams and length-prefixed NAL units (`avc`, `hvc1`, ...).

/// Identifies our SEI payload among other user data.
pub const UUID: [u8; 16] = *b"cnncodec-info-v1";

/// SEI payload type of user data unregistered.
const USER_DATA_UNREGISTERED: u8 = 5;

/// The longest text we write or read (a stream-info comment is a few hundred bytes).
const MAX_TEXT: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// From a caps structure name (`video/x-h264`, `video/x-h265`).
    pub fn from_caps_name(name: &str) -> Option<Self> {
        match name {
            "video/x-h264" => Some(Self::H264),
            "video/x-h265" => Some(Self::H265),
            _ => None,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Self::H264 => 1,
            Self::H265 => 2,
        }
    }

    fn nal_type(self, nal: &[u8]) -> Option<u8> {
        let first = *nal.first()?;
        Some(match self {
            Self::H264 => first & 0x1F,
            Self::H265 => (first >> 1) & 0x3F,
        })
    }

    fn is_sei(self, nal: &[u8]) -> bool {
        match self {
            Self::H264 => self.nal_type(nal) == Some(6),
            // Prefix and suffix SEI.
            Self::H265 => matches!(self.nal_type(nal), Some(39 | 40)),
        }
    }

    fn is_slice(self, nal: &[u8]) -> bool {
        match (self, self.nal_type(nal)) {
            (Self::H264, Some(t)) => (1..=5).contains(&t),
            (Self::H265, Some(t)) => t <= 31,
            _ => false,
        }
    }

    fn sei_header(self) -> &'static [u8] {
        match self {
            Self::H264 => &[0x06],
            // Prefix SEI (type 39), layer 0, temporal id 0 (+1).
            Self::H265 => &[39 << 1, 0x01],
        }
    }
}

/// How NAL units are delimited in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Annex B start codes (`stream-format=byte-stream`).
    StartCodes,
    /// Each unit preceded by its length in this many big-endian bytes (1, 2 or 4).
    Length(usize),
}

impl Framing {
    /// From caps: `byte-stream`, else the length size in the codec data (avcC byte 4, hvcC
    /// byte 21, low two bits plus one).
    pub fn from_caps(s: &gst::StructureRef, codec: Codec) -> Option<Self> {
        let format = s.get::<&str>("stream-format").unwrap_or("byte-stream");
        if format == "byte-stream" {
            return Some(Self::StartCodes);
        }
        let data = s.get::<gst::Buffer>("codec_data").ok()?;
        let map = data.map_readable().ok()?;
        let at = match codec {
            Codec::H264 => 4,
            Codec::H265 => 21,
        };
        let n = (*map.get(at)? & 0x03) as usize + 1;
        (n != 3).then_some(Self::Length(n))
    }

    /// The NAL units of `au`, each as (where its framing starts, the unit itself).
    fn units(self, au: &[u8]) -> Vec<(usize, std::ops::Range<usize>)> {
        match self {
            Self::StartCodes => start_code_units(au),
            Self::Length(n) => {
                let mut units = vec![];
                let mut at = 0;
                while at + n <= au.len() {
                    let len = au[at..at + n]
                        .iter()
                        .fold(0usize, |v, &b| (v << 8) | b as usize);
                    let start = at + n;
                    let Some(end) = start.checked_add(len).filter(|&e| e <= au.len()) else {
                        break;
                    };
                    units.push((at, start..end));
                    at = end;
                }
                units
            }
        }
    }

    fn frame(self, nal: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::StartCodes => Some([&[0, 0, 0, 1][..], nal].concat()),
            Self::Length(n) => {
                let len = nal.len();
                if n < 8 && len >> (8 * n) != 0 {
                    return None;
                }
                let bytes = (len as u64).to_be_bytes();
                Some([&bytes[8 - n..], nal].concat())
            }
        }
    }
}

/// Units between Annex B start codes (`00 00 01`, with a leading zero when there is one).
fn start_code_units(au: &[u8]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut starts = vec![];
    let mut i = 0;
    while i + 3 <= au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            let framing = if i > 0 && au[i - 1] == 0 { i - 1 } else { i };
            starts.push((framing, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &(framing, start))| {
            let end = starts.get(k + 1).map_or(au.len(), |next| next.0);
            (framing, start..end.max(start))
        })
        .collect()
}

/// Inserts emulation-prevention bytes (`00 00 0x` with x <= 3 becomes `00 00 03 0x`).
fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Drops emulation-prevention bytes.
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// A payload type or size as SEI writes it: 255s, then the rest.
fn sei_number(mut v: usize, out: &mut Vec<u8>) {
    while v >= 255 {
        out.push(255);
        v -= 255;
    }
    out.push(v as u8);
}

/// The SEI NAL unit (header included, not framed) carrying `text` under [`UUID`].
pub fn sei_nal(codec: Codec, text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text.as_bytes()[..end];
    let mut rbsp = vec![USER_DATA_UNREGISTERED];
    sei_number(UUID.len() + text.len(), &mut rbsp);
    rbsp.extend_from_slice(&UUID);
    rbsp.extend_from_slice(text);
    // rbsp_trailing_bits.
    rbsp.push(0x80);
    [codec.sei_header(), &escape(&rbsp)].concat()
}

/// `au` with our SEI carrying `text` before its first slice, or `None` when it has no slice
/// (nothing to put it in front of) or already carries one.
pub fn with_info(au: &[u8], codec: Codec, framing: Framing, text: &str) -> Option<Vec<u8>> {
    if read(au, codec, framing).is_some() {
        return None;
    }
    let units = framing.units(au);
    let (at, _) = units
        .iter()
        .find(|(_, range)| codec.is_slice(&au[range.clone()]))?;
    let sei = framing.frame(&sei_nal(codec, text))?;
    Some([&au[..*at], &sei, &au[*at..]].concat())
}

/// The text of our SEI in `au`, if it carries one. Damaged or foreign bytes never panic.
pub fn read(au: &[u8], codec: Codec, framing: Framing) -> Option<String> {
    framing
        .units(au)
        .into_iter()
        .map(|(_, range)| &au[range])
        .filter(|nal| codec.is_sei(nal) && nal.len() > codec.header_len())
        .find_map(|nal| read_sei(&unescape(&nal[codec.header_len()..])))
}

/// Our user data among the SEI messages of one unescaped SEI payload.
fn read_sei(rbsp: &[u8]) -> Option<String> {
    let mut at = 0;
    let number = |at: &mut usize| -> Option<usize> {
        let mut v = 0usize;
        loop {
            let b = *rbsp.get(*at)?;
            *at += 1;
            v = v.checked_add(b as usize)?;
            if b != 255 {
                return Some(v);
            }
        }
    };
    // Messages until the trailing bits (0x80) or the end.
    while at < rbsp.len() && rbsp[at] != 0x80 {
        let kind = number(&mut at)?;
        let size = number(&mut at)?;
        let payload = rbsp.get(at..at.checked_add(size)?)?;
        at += size;
        if kind == USER_DATA_UNREGISTERED as usize && payload.starts_with(&UUID) {
            let text = &payload[UUID.len()..];
            return (text.len() <= MAX_TEXT)
                .then(|| String::from_utf8(text.to_vec()).ok())
                .flatten();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "cnncodec, width=(int)353, height=(int)289, model=(string)jpeg-q50";

    /// An access unit: an AUD, a parameter set and a slice whose bytes need escaping.
    fn h264_units() -> Vec<Vec<u8>> {
        vec![
            vec![0x09, 0xF0],
            vec![0x67, 0x42, 0x00, 0x1E],
            vec![0x65, 0x88, 0x00, 0x00, 0x03, 0x01, 0x7F],
        ]
    }

    fn framed(units: &[Vec<u8>], framing: Framing) -> Vec<u8> {
        units
            .iter()
            .flat_map(|u| framing.frame(u).unwrap())
            .collect()
    }

    #[test]
    fn info_goes_before_the_first_slice_and_reads_back_in_both_framings() {
        for framing in [Framing::StartCodes, Framing::Length(4), Framing::Length(2)] {
            let au = framed(&h264_units(), framing);
            let with = with_info(&au, Codec::H264, framing, TEXT).unwrap();
            assert_eq!(read(&with, Codec::H264, framing).as_deref(), Some(TEXT));
            assert_eq!(read(&au, Codec::H264, framing), None);
            // Units in order: AUD, SPS, our SEI, the untouched slice.
            let units: Vec<Vec<u8>> = framing
                .units(&with)
                .into_iter()
                .map(|(_, r)| with[r].to_vec())
                .collect();
            assert_eq!(units.len(), 4, "{framing:?}");
            assert_eq!(units[2][0], 0x06);
            assert_eq!(units[3], h264_units()[2]);
            assert_eq!(units[..2], h264_units()[..2]);
            // Not twice.
            assert!(with_info(&with, Codec::H264, framing, TEXT).is_none());
        }
    }

    #[test]
    fn h265_prefix_sei_round_trips() {
        let units = vec![
            vec![0x40, 0x01, 0x0C],
            vec![0x26, 0x01, 0xAF, 0x00, 0x00, 0x00],
        ];
        for framing in [Framing::StartCodes, Framing::Length(4)] {
            let au = framed(&units, framing);
            let with = with_info(&au, Codec::H265, framing, TEXT).unwrap();
            assert_eq!(read(&with, Codec::H265, framing).as_deref(), Some(TEXT));
        }
    }

    #[test]
    fn escaping_round_trips_and_leaves_no_start_code() {
        let text: String = (0..300)
            .map(|i| ['\0', '\0', '\u{1}', '\0', '\0', '\0', '\u{3}', 'a'][i % 8])
            .collect();
        let nal = sei_nal(Codec::H264, &text);
        assert!(!nal.windows(3).any(|w| w == [0, 0, 1] || w == [0, 0, 0]));
        let au = framed(&[nal, h264_units()[2].clone()], Framing::StartCodes);
        assert_eq!(
            read(&au, Codec::H264, Framing::StartCodes).as_deref(),
            Some(&*text)
        );
    }

    #[test]
    fn damaged_or_foreign_bytes_never_panic() {
        let au = framed(&h264_units(), Framing::Length(4));
        let good = with_info(&au, Codec::H264, Framing::Length(4), TEXT).unwrap();
        let mut state = 1u64;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (state >> 33) as usize % bytes.len();
                bytes[i] = (state >> 17) as u8;
            }
            let cut = (state >> 40) as usize % (bytes.len() + 1);
            for framing in [Framing::StartCodes, Framing::Length(4), Framing::Length(1)] {
                for codec in [Codec::H264, Codec::H265] {
                    let _ = read(&bytes[..cut], codec, framing);
                    let _ = with_info(&bytes[..cut], codec, framing, TEXT);
                }
            }
        }
    }
}
