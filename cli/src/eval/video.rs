//! `cnncodec eval --clip`: rate-distortion of video clips through the encoders cameras use
//! (H.264 `x264enc`, H.265 `x265enc`, with inter prediction, at a target bit rate): plain
//! at the full size against the framework (`comcnnenc ! ENCODER ! DECODER ! reccnndec`) at the
//! same targets. Rates in kbit/s at the clip's frame rate, from the real coded bytes; PSNR-Y,
//! SSIM and MS-SSIM per frame and their means; BD-rate of the framework against the plain
//! codec per clip. Writes `video-rd.json` (every frame's values) and one plot per clip and
//! metric.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cnncodec::eval::metrics::{ms_ssim, psnr, ssim};
use cnncodec::eval::rd::{bd_quality, bd_rate, Interpolation, RdPoint};
use cnncodec::GrayImage;
use gstcnncodec::runner::{luma_of, run, run_with_jpeg};
use serde::Serialize;

use crate::codec::ModelRef;

/// Bits per pixel per frame of the default rate ladder: for 720p at 25 frames/s about
/// 115 kbit/s to 1.8 Mbit/s, the rates surveillance recorders use.
const DEFAULT_BITS_PER_PIXEL: [f64; 5] = [0.005, 0.01, 0.02, 0.04, 0.08];

/// A video encoder of the clip evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::H265 => "h265",
        }
    }

    /// The encoder at `kbps`, a key frame every `gop` frames, medium preset, one thread (the
    /// threaded rate control codes a slightly different stream on each run), no encoder
    /// banner in the stream where the encoder can leave it out (x265's is kilobytes).
    pub fn encoder(self, kbps: u32, gop: u32) -> String {
        match self {
            Self::H264 => format!(
                "x264enc bitrate={kbps} key-int-max={gop} speed-preset=medium threads=1 sync-lookahead=0"
            ),
            Self::H265 => format!(
                "x265enc bitrate={kbps} key-int-max={gop} speed-preset=medium log-level=none option-string=\"info=0:pools=1:frame-threads=1:lookahead-threads=0\""
            ),
        }
    }

    pub fn decoder(self) -> &'static str {
        match self {
            Self::H264 => "h264parse ! avdec_h264",
            Self::H265 => "h265parse ! avdec_h265",
        }
    }
}

/// A clip as decoded: its I420 frames (with their times) and their lumas.
pub struct Clip {
    pub name: String,
    pub frames: Vec<(gst::Caps, gst::Buffer)>,
    pub lumas: Vec<GrayImage>,
    pub fps: f64,
}

/// `PATH[@START:COUNT]`: a clip, optionally frames START.. START+COUNT-1 of it.
pub fn parse_clip_spec(spec: &str) -> Result<(PathBuf, usize, Option<usize>), String> {
    let Some((path, range)) = spec.rsplit_once('@') else {
        return Ok((PathBuf::from(spec), 0, None));
    };
    let (start, count) = range
        .split_once(':')
        .ok_or_else(|| format!("--clip {spec}: expected PATH@START:COUNT"))?;
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("--clip {spec}: '{s}' is not a frame number"))
    };
    Ok((PathBuf::from(path), number(start)?, Some(number(count)?)))
}

/// Decodes frames `start..start + count` of `path` to I420, timed from zero at the clip's rate.
pub fn load_clip(path: &Path, start: usize, count: Option<usize>) -> Result<Clip, String> {
    if !path.is_file() {
        return Err(format!(
            "{}: no such clip (scripts/fetch-clips.sh fetches the evaluation clips)",
            path.display()
        ));
    }
    let launch = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false",
        path.display()
    );
    let decoded = run(&launch, vec![], Duration::from_secs(600));
    if let Some(e) = decoded.error {
        return Err(format!("{}: {e}", path.display()));
    }
    let samples: Vec<_> = decoded
        .samples
        .into_iter()
        .skip(start)
        .take(count.unwrap_or(usize::MAX))
        .collect();
    let first = samples
        .first()
        .ok_or_else(|| format!("{}: no frames from {start} on", path.display()))?;
    let fps = first
        .caps()
        .and_then(|c| c.structure(0))
        .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
        .unwrap_or(gst::Fraction::new(0, 1));
    if fps.numer() <= 0 || fps.denom() <= 0 {
        return Err(format!("{}: the clip states no frame rate", path.display()));
    }
    let fps = fps.numer() as f64 / fps.denom() as f64;
    let frame_ns = (1e9 / fps).round() as u64;
    let mut clip = Clip {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        frames: vec![],
        lumas: vec![],
        fps,
    };
    for (i, s) in samples.iter().enumerate() {
        let mut buf = s.buffer_owned().ok_or("a frame without a buffer")?;
        {
            let b = buf.make_mut();
            b.set_pts(gst::ClockTime::from_nseconds(i as u64 * frame_ns));
            b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
        }
        clip.lumas.push(luma_of(s));
        let caps = s.caps().ok_or("a frame without caps")?.to_owned();
        clip.frames.push((caps, buf));
    }
    if start > 0 {
        clip.name = format!("{}@{start}", clip.name);
    }
    Ok(clip)
}

/// One coded version of a clip.
#[derive(Clone, Debug, Serialize)]
pub struct ClipPoint {
    pub target_kbps: u32,
    pub kbps: f64,
    pub psnr_y: Vec<f64>,
    pub ssim: Vec<f64>,
    /// Empty for frames under 176 pixels on a side (MS-SSIM's five scales do not fit).
    pub ms_ssim: Vec<f64>,
}

impl ClipPoint {
    pub fn mean(v: &[f64]) -> Option<f64> {
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Codes `clip` through `launch` (appsrc `src`, appsink `jpeg` for the coded bytes, `sink`
/// for the decoded frames) and measures every frame against the original.
fn code_clip(launch: &str, clip: &Clip, target_kbps: u32) -> Result<ClipPoint, String> {
    let (res, sizes) = run_with_jpeg(launch, clip.frames.clone(), Duration::from_secs(3600));
    if let Some(e) = res.error {
        return Err(format!("{}: {e}", clip.name));
    }
    if res.samples.len() != clip.lumas.len() {
        return Err(format!(
            "{}: {} frames in, {} out of `{launch}`",
            clip.name,
            clip.lumas.len(),
            res.samples.len()
        ));
    }
    let seconds = clip.lumas.len() as f64 / clip.fps;
    let bytes: usize = sizes.iter().sum();
    let mut point = ClipPoint {
        target_kbps,
        kbps: bytes as f64 * 8.0 / seconds / 1000.0,
        psnr_y: vec![],
        ssim: vec![],
        ms_ssim: vec![],
    };
    for (sample, original) in res.samples.iter().zip(&clip.lumas) {
        let out = luma_of(sample);
        if (out.width, out.height) != (original.width, original.height) {
            return Err(format!(
                "{}: a {}x{} frame came back for {}x{}",
                clip.name, out.width, out.height, original.width, original.height
            ));
        }
        point.psnr_y.push(psnr(&out, original));
        point.ssim.push(ssim(&out, original).unwrap_or(f64::NAN));
        if let Some(m) = ms_ssim(&out, original) {
            point.ms_ssim.push(m);
        }
    }
    Ok(point)
}

/// The launch line of the plain codec (`model` None) or of the framework.
fn launch_line(codec: VideoCodec, kbps: u32, gop: u32, model: Option<&ModelRef>) -> String {
    let encoder = codec.encoder(kbps, gop);
    let (before, after) = match model {
        None => (String::new(), String::new()),
        Some(m) => (
            format!("comcnnenc {} ! ", m.element_property()),
            format!(" ! reccnndec {}", m.decoder_property()),
        ),
    };
    format!(
        "appsrc name=src ! {before}{encoder} ! tee name=t ! queue ! appsink name=jpeg sync=false \
         t. ! queue ! {}{after} ! appsink name=sink sync=false",
        codec.decoder()
    )
}

/// Both curves of one clip.
#[derive(Debug, Serialize)]
pub struct ClipResult {
    pub clip: String,
    pub width: usize,
    pub height: usize,
    pub frames: usize,
    pub fps: f64,
    pub codec: String,
    pub plain: Vec<ClipPoint>,
    pub framework: Vec<ClipPoint>,
    pub framework_model: String,
    /// BD-rate (%) and BD-quality of the framework against the plain codec, per metric.
    pub bd: Vec<ClipBd>,
}

#[derive(Debug, Serialize)]
pub struct ClipBd {
    pub metric: String,
    pub bd_rate_percent: Option<f64>,
    pub bd_quality: Option<f64>,
    pub undefined: Option<String>,
    /// The highest rate (kbit/s, linear in log rate between measured points) at which the
    /// framework is ahead: above it, it is behind at every rate measured. `None` when it is
    /// never ahead, or ahead over the whole overlap (`ahead_everywhere`). Below it the curves
    /// may cross again.
    pub behind_above_kbps: Option<f64>,
    pub ahead_everywhere: bool,
}

/// The quality of a piecewise-linear curve (in log rate) at `rate`, inside its range.
fn quality_at(curve: &[RdPoint], rate: f64) -> Option<f64> {
    curve.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (a.rate <= rate && rate <= b.rate && b.rate > a.rate).then(|| {
            let t = (rate.ln() - a.rate.ln()) / (b.rate.ln() - a.rate.ln());
            a.quality + t * (b.quality - a.quality)
        })
    })
}

/// The highest rate at which `test` is ahead of `anchor`, and whether it is ahead everywhere
/// (see [`ClipBd`]), scanning the overlap of both curves (sorted by rate) on a fine log grid.
fn crossover(anchor: &[RdPoint], test: &[RdPoint]) -> (Option<f64>, bool) {
    let sorted = |c: &[RdPoint]| {
        let mut c = c.to_vec();
        c.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        c
    };
    let (a, t) = (sorted(anchor), sorted(test));
    let (Some(lo), Some(hi)) = (
        a.first().zip(t.first()).map(|(x, y)| x.rate.max(y.rate)),
        a.last().zip(t.last()).map(|(x, y)| x.rate.min(y.rate)),
    ) else {
        return (None, false);
    };
    if !(lo > 0.0 && hi > lo) {
        return (None, false);
    }
    let steps = 400;
    let mut last_ahead = None;
    let mut ahead_all = true;
    for i in 0..=steps {
        let rate = lo * (hi / lo).powf(i as f64 / steps as f64);
        let (Some(qa), Some(qt)) = (quality_at(&a, rate), quality_at(&t, rate)) else {
            continue;
        };
        if qt > qa {
            last_ahead = Some(rate);
        } else {
            ahead_all = false;
        }
    }
    if ahead_all && last_ahead.is_some() {
        return (None, true);
    }
    (last_ahead, false)
}

/// The default rate ladder of a clip (see [`DEFAULT_BITS_PER_PIXEL`]), in kbit/s.
pub fn default_rates(clip: &Clip) -> Vec<u32> {
    let l = &clip.lumas[0];
    let pixels_per_second = (l.width * l.height) as f64 * clip.fps;
    DEFAULT_BITS_PER_PIXEL
        .iter()
        .map(|b| ((b * pixels_per_second / 1000.0).round() as u32).max(1))
        .collect()
}

/// Codes `clip` plain and through the framework at each rate.
pub fn evaluate_clip(
    clip: &Clip,
    codec: VideoCodec,
    rates: &[u32],
    gop_seconds: f64,
    model: &ModelRef,
) -> Result<ClipResult, String> {
    let gop = ((gop_seconds * clip.fps).round() as u32).max(1);
    let mut result = ClipResult {
        clip: clip.name.clone(),
        width: clip.lumas[0].width,
        height: clip.lumas[0].height,
        frames: clip.lumas.len(),
        fps: clip.fps,
        codec: codec.name().into(),
        plain: vec![],
        framework: vec![],
        framework_model: model.element_property(),
        bd: vec![],
    };
    for &kbps in rates {
        eprintln!("eval: {} {} {kbps} kbit/s", clip.name, codec.name());
        result
            .plain
            .push(code_clip(&launch_line(codec, kbps, gop, None), clip, kbps)?);
        result.framework.push(code_clip(
            &launch_line(codec, kbps, gop, Some(model)),
            clip,
            kbps,
        )?);
    }
    for (metric, get) in METRICS {
        let curve = |points: &[ClipPoint]| -> Vec<RdPoint> {
            points
                .iter()
                .filter_map(|p| {
                    ClipPoint::mean(get(p)).map(|q| RdPoint {
                        rate: p.kbps,
                        quality: q,
                    })
                })
                .collect()
        };
        let (a, t) = (curve(&result.plain), curve(&result.framework));
        let rate = bd_rate(&a, &t, Interpolation::Pchip);
        let quality = bd_quality(&a, &t, Interpolation::Pchip);
        let (behind_above_kbps, ahead_everywhere) = crossover(&a, &t);
        result.bd.push(ClipBd {
            metric: metric.into(),
            bd_rate_percent: rate.as_ref().ok().copied(),
            bd_quality: quality.as_ref().ok().copied(),
            undefined: rate.err().map(|e| e.to_string()),
            behind_above_kbps,
            ahead_everywhere,
        });
    }
    Ok(result)
}

type MetricOf = fn(&ClipPoint) -> &[f64];

const METRICS: [(&str, MetricOf); 3] = [
    ("psnr-y", |p| &p.psnr_y),
    ("ssim", |p| &p.ssim),
    ("ms-ssim", |p| &p.ms_ssim),
];

/// The Markdown table and BD lines of one clip.
pub fn report(r: &ClipResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}x{}, {} frames at {:.2} frames/s), {}:",
        r.clip, r.width, r.height, r.frames, r.fps, r.codec
    );
    let _ = writeln!(
        s,
        "| curve | target kbit/s | kbit/s | PSNR-Y dB | SSIM | MS-SSIM |\n| --- | --- | --- | --- | --- | --- |"
    );
    for (name, points) in [("plain", &r.plain), ("framework", &r.framework)] {
        for p in points {
            let f =
                |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
            let _ = writeln!(
                s,
                "| {name} | {} | {:.1} | {} | {} | {} |",
                p.target_kbps,
                p.kbps,
                f(ClipPoint::mean(&p.psnr_y), 2),
                f(ClipPoint::mean(&p.ssim), 4),
                f(ClipPoint::mean(&p.ms_ssim), 4)
            );
        }
    }
    let pixel_rate = (r.width * r.height) as f64 * r.fps / 1000.0;
    // The top of the rates both curves reach (where the crossing scan ends).
    let max_rate = |points: &[ClipPoint]| points.iter().map(|p| p.kbps).fold(0.0, f64::max);
    let highest_shared = max_rate(&r.plain).min(max_rate(&r.framework));
    for b in &r.bd {
        let ahead = match (b.behind_above_kbps, b.ahead_everywhere) {
            (_, true) => "ahead at every measured rate".to_owned(),
            (Some(k), _) if k >= highest_shared * (1.0 - 1e-9) => {
                "ahead at the highest rate measured, behind somewhere below".to_owned()
            }
            (Some(k), _) => format!(
                "behind at every rate above {k:.1} kbit/s ({:.4} bits per pixel per frame)",
                k / pixel_rate
            ),
            (None, _) => "never ahead".to_owned(),
        };
        let _ = match (b.bd_rate_percent, b.bd_quality, &b.undefined) {
            (Some(rate), Some(q), _) => writeln!(
                s,
                "BD framework vs plain {} ({}): BD-rate {rate:+.1} %, BD-{} {q:+.4}; {ahead}",
                r.codec, b.metric, b.metric
            ),
            (rate, _, why) => writeln!(
                s,
                "BD framework vs plain {} ({}): {}",
                r.codec,
                b.metric,
                match (rate, why) {
                    (Some(rate), _) => format!("BD-rate {rate:+.1} %, BD-quality undefined"),
                    (None, Some(why)) => format!("undefined: {why}"),
                    (None, None) => "undefined".into(),
                }
            ),
        };
    }
    s
}

/// One plot per metric: the plain and framework curves of a clip.
pub fn plot(out: &Path, r: &ClipResult) -> Result<(), String> {
    for (metric, get) in METRICS {
        let series = |name: &str, points: &[ClipPoint]| crate::plot::Series {
            name: name.into(),
            points: points
                .iter()
                .filter_map(|p| ClipPoint::mean(get(p)).map(|q| (p.kbps, q)))
                .collect(),
        };
        let all = [
            series(&format!("plain {}", r.codec), &r.plain),
            series("framework", &r.framework),
        ];
        if all.iter().all(|s| s.points.is_empty()) {
            continue;
        }
        let path = out.join(format!("{}-{}-{metric}.svg", r.clip, r.codec));
        crate::plot::write_plot(
            &path,
            &format!("{} ({}x{}), {}", r.clip, r.width, r.height, r.codec),
            "kbit/s",
            metric,
            &all,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(points: &[(f64, f64)]) -> Vec<RdPoint> {
        points
            .iter()
            .map(|&(rate, quality)| RdPoint { rate, quality })
            .collect()
    }

    #[test]
    fn crossover_is_where_the_framework_stops_being_ahead() {
        let plain = curve(&[(10.0, 20.0), (100.0, 30.0)]);
        // Ahead by 1 dB at 10 kbit/s, behind by 1 dB at 100: equal at sqrt(10 * 100).
        let fw = curve(&[(10.0, 21.0), (100.0, 29.0)]);
        let (k, all) = crossover(&plain, &fw);
        assert!(!all);
        assert!((k.unwrap() - 31.62).abs() < 0.3, "{k:?}");
        assert_eq!(crossover(&fw, &fw), (None, false));
        let better = curve(&[(10.0, 22.0), (100.0, 31.0)]);
        assert_eq!(crossover(&plain, &better), (None, true));
        assert_eq!(crossover(&better, &plain), (None, false));
    }

    #[test]
    fn clip_specs_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse_clip_spec("a/b.avi@600:195").unwrap(),
            (PathBuf::from("a/b.avi"), 600, Some(195))
        );
        assert_eq!(
            parse_clip_spec("c.mp4").unwrap(),
            (PathBuf::from("c.mp4"), 0, None)
        );
        assert!(parse_clip_spec("c.mp4@x:1").unwrap_err().contains("'x'"));
        assert!(parse_clip_spec("c.mp4@5")
            .unwrap_err()
            .contains("PATH@START:COUNT"));
    }
}
