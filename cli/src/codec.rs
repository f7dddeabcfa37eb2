//! Coding one luma image through the stock GStreamer elements: plain JPEG, and the framework
//! (comcnnenc ! jpegenc ! jpegdec ! reccnndec). Used by `demo` and `eval`.

use std::path::PathBuf;
use std::time::Duration;

use cnncodec::codec::CodecError;
use cnncodec::frame::image::RgbImage;
use cnncodec::{GrayImage, ModelWeights};
use gstcnncodec::runner::{gray_frame, gray_i420_frame, luma_of, rgb_frame, rgb_of, run_with_jpeg};

/// A model as the command line names it: a file or reference folder, or a built-in model.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelRef {
    File(PathBuf),
    Builtin(String),
}

impl ModelRef {
    /// An existing path, else the name of a built-in model.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let path = PathBuf::from(spec);
        if path.exists() {
            return Ok(Self::File(path));
        }
        if cnncodec::net::builtin::builtin_names().contains(&spec)
            || cnncodec::net::builtin::ALIASES
                .iter()
                .any(|(a, _)| *a == spec)
        {
            return Ok(Self::Builtin(spec.to_owned()));
        }
        Err(format!(
            "'{spec}' is neither a model file nor a built-in model (built in: {})",
            cnncodec::net::builtin::builtin_names().join(", ")
        ))
    }

    pub fn load(&self) -> Result<ModelWeights, String> {
        match self {
            Self::File(p) => ModelWeights::load(p).map_err(|e| e.to_string()),
            Self::Builtin(n) => cnncodec::net::builtin::builtin(n).map_err(|e| e.to_string()),
        }
    }

    /// The element property that selects it.
    pub fn element_property(&self) -> String {
        match self {
            Self::File(p) => format!("model-location=\"{}\"", p.display()),
            Self::Builtin(n) => format!("model={n}"),
        }
    }

    /// What `reccnndec` needs to decode the stream: nothing for a built-in model (it follows
    /// the stream), the same file for a model file (a player follows stream-named files only
    /// from directories it was told to trust).
    pub fn decoder_property(&self) -> String {
        match self {
            Self::File(_) => self.element_property(),
            Self::Builtin(_) => String::new(),
        }
    }
}

/// `reccnndec`'s `self-ensemble`: RecCNN on 1, 2, 4 or 8 flips and transposes of the frame,
/// averaged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SelfEnsembleMode {
    #[default]
    Off,
    Mirror,
    Mirrors,
    Full,
}

impl SelfEnsembleMode {
    /// The `reccnndec` property that selects it (nothing for the default).
    pub fn decoder_property(self) -> &'static str {
        match self {
            Self::Off => "",
            Self::Mirror => "self-ensemble=mirror",
            Self::Mirrors => "self-ensemble=mirrors",
            Self::Full => "self-ensemble=full",
        }
    }
}

/// A stock codec at one operating point, as the pipelines run it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stock {
    /// `jpegenc quality=Q` / `jpegdec`, accurate integer DCT both ways.
    Jpeg(u32),
    /// The plugin's `j2kenc` at a bits-per-pixel target / stock `openjpegdec`.
    J2kBpp(f64),
    /// `j2kenc` at a compression ratio (what J2K models are trained for) / `openjpegdec`.
    J2kRatio(u32),
    /// HEVC intra (BPG-class): `x265enc` at a constant QP with every frame a key frame /
    /// `avdec_h265`. 4:2:0 with neutral chroma for a luma image.
    Hevc(u32),
}

impl Stock {
    /// The codec a model was trained for: `jpeg` at its quality, `jpeg2000` at its ratio.
    pub fn for_model(codec: &str, quality: u32) -> Result<Self, String> {
        match codec {
            "jpeg" => Ok(Self::Jpeg(quality)),
            "jpeg2000" => Ok(Self::J2kRatio(quality)),
            "hevc" => Ok(Self::Hevc(quality)),
            other => Err(format!(
                "models for the '{other}' codec are not supported here"
            )),
        }
    }

    /// The encoder's rate setting: `quality=50`, `bpp=0.25`, `compression-ratio=8`.
    pub fn setting(&self) -> String {
        match self {
            Self::Jpeg(q) => format!("quality={q}"),
            Self::J2kBpp(b) => format!("bpp={b}"),
            Self::J2kRatio(r) => format!("compression-ratio={r}"),
            Self::Hevc(qp) => format!("qp={qp}"),
        }
    }

    /// The encoder element as a pipeline names it.
    pub fn element(&self) -> String {
        match self {
            Self::Jpeg(_) => format!("jpegenc {} idct-method=islow", self.setting()),
            Self::J2kBpp(_) | Self::J2kRatio(_) => format!("j2kenc {}", self.setting()),
            Self::Hevc(_) => format!(
                "x265enc {} key-int-max=1 log-level=none option-string=\"info=0\"",
                self.setting()
            ),
        }
    }

    /// The `comcnnenc` settings that go with this encoder: JPEG needs whole 8x8 blocks (the
    /// default width-multiple); JPEG 2000 codes any width, so nothing is widened for it; HEVC
    /// intra images carry no stream info in the frame.
    pub fn compact_setting(&self) -> &'static str {
        match self {
            Self::Jpeg(_) => "",
            // Still images: the codec's bytes alone, as for JPEG (no stream info in the frame).
            Self::Hevc(_) => "frame-info=false",
            Self::J2kBpp(_) | Self::J2kRatio(_) => "width-multiple=1",
        }
    }

    /// Encoder, then (J2K) a caps filter so the counted bytes are the bare codestream.
    fn encoder(&self) -> String {
        match self {
            Self::Jpeg(_) => self.element(),
            Self::J2kBpp(_) | Self::J2kRatio(_) => format!("{} ! image/x-jpc", self.element()),
            Self::Hevc(_) => format!(
                "{} ! video/x-h265,stream-format=byte-stream",
                self.element()
            ),
        }
    }

    fn decoder(&self) -> &'static str {
        match self {
            Self::Jpeg(_) => "jpegdec idct-method=islow",
            Self::J2kBpp(_) | Self::J2kRatio(_) => "openjpegdec",
            Self::Hevc(_) => "h265parse ! avdec_h265",
        }
    }

    /// A short label for tables: `q50`, `0.25bpp`, `r8`.
    pub fn label(&self) -> String {
        match self {
            Self::Jpeg(q) => cnncodec::net::builtin::point_label("jpeg", *q),
            Self::J2kBpp(b) => format!("{b}bpp"),
            Self::J2kRatio(r) => cnncodec::net::builtin::point_label("jpeg2000", *r),
            Self::Hevc(qp) => format!("qp{qp}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Jpeg(q) => format!("JPEG at quality {q}"),
            Self::J2kBpp(b) => format!("JPEG 2000 at {b} bpp"),
            Self::J2kRatio(r) => format!("JPEG 2000 at compression ratio {r}"),
            Self::Hevc(qp) => format!("HEVC intra at QP {qp}"),
        }
    }
}

/// A coded image: the encoded size and the decoded image.
pub struct Coded {
    pub bytes: usize,
    pub image: GrayImage,
}

/// Runs `launch` on one frame: the encoded byte count (appsink `jpeg`) and the decoded sample.
fn run_one(
    launch: &str,
    frame: (gst::Caps, gst::Buffer),
    what: &str,
) -> Result<(usize, gst::Sample), String> {
    let (res, bytes) = run_with_jpeg(launch, vec![frame], Duration::from_secs(600));
    if let Some(e) = res.error {
        return Err(format!("{what}: {e}"));
    }
    match (bytes.first(), res.samples.into_iter().next()) {
        (Some(&bytes), Some(sample)) => Ok((bytes, sample)),
        _ => Err(format!("{what}: no frame came out")),
    }
}

fn coded(launch: &str, img: &GrayImage, codec: Stock, what: &str) -> Result<Coded, String> {
    // x265enc takes no GRAY8: 4:2:0 with neutral chroma (flat, so nearly free).
    let frame = match codec {
        Stock::Hevc(_) => gray_i420_frame(img),
        _ => gray_frame(img),
    };
    let (bytes, sample) = run_one(launch, frame, what)?;
    Ok(Coded {
        bytes,
        image: luma_of(&sample),
    })
}

/// Runs `code` on `img` widened to whole 8x8 JPEG blocks (JPEG only) and crops what comes
/// back to the image's own size: stock `jpegenc`'s GRAY8 path copies each row into a buffer
/// exactly as wide as the frame, and libjpeg then reads the last block of the row past its
/// end, coding heap bytes (a different file on each run, ringing at the right edge) unless
/// the width is a multiple of 8. Repeating the last column is what libjpeg itself does with a
/// partial block, and codes the same blocks. (`comcnnenc` does the same for its compact
/// images: `width-multiple`.)
fn with_safe_width(
    img: &GrayImage,
    codec: Stock,
    code: impl FnOnce(&GrayImage) -> Result<Coded, String>,
) -> Result<Coded, String> {
    // 4:2:0 HEVC needs even sides; JPEG whole 8-pixel rows.
    let (w, h) = match codec {
        Stock::Jpeg(_) => (img.width.next_multiple_of(8), img.height),
        Stock::Hevc(_) => (
            img.width.next_multiple_of(2),
            img.height.next_multiple_of(2),
        ),
        Stock::J2kBpp(_) | Stock::J2kRatio(_) => (img.width, img.height),
    };
    if (w, h) == (img.width, img.height) {
        return code(img);
    }
    let padded = img.padded_to(w, h);
    let c = code(&padded)?;
    if (c.image.width, c.image.height) != (padded.width, padded.height) {
        return Err(format!(
            "expected a {}x{} picture back, got {}x{}",
            padded.width, padded.height, c.image.width, c.image.height
        ));
    }
    Ok(Coded {
        bytes: c.bytes,
        image: c.image.cropped(img.width, img.height),
    })
}

/// The plain codec on the full image (a gray image meets `jpegenc` widened to a multiple of
/// 8 columns and is cropped back: [`with_safe_width`]).
pub fn plain(img: &GrayImage, codec: Stock) -> Result<Coded, String> {
    let launch = format!(
        "appsrc name=src ! {} ! tee name=t ! queue ! appsink name=jpeg sync=false \
         t. ! queue ! {} ! appsink name=sink",
        codec.encoder(),
        codec.decoder()
    );
    with_safe_width(img, codec, |img| {
        coded(&launch, img, codec, &format!("plain {}", codec.describe()))
    })
}

/// Plain JPEG of the full image at `quality`, accurate integer DCT both ways.
pub fn plain_jpeg(img: &GrayImage, quality: u32) -> Result<Coded, String> {
    plain(img, Stock::Jpeg(quality))
}

/// The framework: ComCNN, the codec on the compact image, RecCNN (`comcnnenc` widens the
/// compact image to whole JPEG blocks itself, [`Stock::compact_setting`]).
pub fn framework(
    img: &GrayImage,
    model: Option<&ModelRef>,
    codec: Stock,
    ensemble: SelfEnsembleMode,
) -> Result<Coded, String> {
    let model_prop = model.map(ModelRef::element_property).unwrap_or_default();
    let decoder_prop = model.map(ModelRef::decoder_property).unwrap_or_default();
    let ensemble_prop = ensemble.decoder_property();
    let launch = format!(
        "appsrc name=src ! comcnnenc {model_prop} {} ! {} ! tee name=t \
         ! queue ! appsink name=jpeg sync=false t. ! queue ! {} \
         ! reccnndec {decoder_prop} {ensemble_prop} ! appsink name=sink",
        codec.compact_setting(),
        codec.encoder(),
        codec.decoder()
    );
    coded(
        &launch,
        img,
        codec,
        &format!("framework with compact {}", codec.describe()),
    )
}

/// A coded colour image.
pub struct CodedRgb {
    pub bytes: usize,
    pub image: RgbImage,
}

/// RGB into what JPEG stores: full-range BT.601 4:2:0 (the colorimetry `jpegdec` reports, so
/// the round trip does not shift levels). J2K gets the same planes.
const TO_JPEG_YUV: &str = "videoconvert ! video/x-raw,format=I420,colorimetry=1:4:0:0";
const TO_RGB: &str = "videoconvert ! video/x-raw,format=RGB";

fn coded_rgb(launch: &str, img: &RgbImage, what: &str) -> Result<CodedRgb, String> {
    let (bytes, sample) = run_one(launch, rgb_frame(img), what)?;
    Ok(CodedRgb {
        bytes,
        image: rgb_of(&sample).map_err(|e| format!("{what}: {e}"))?,
    })
}

/// The plain codec on a colour image (4:2:0).
pub fn plain_rgb(img: &RgbImage, codec: Stock) -> Result<CodedRgb, String> {
    let launch = format!(
        "appsrc name=src ! {TO_JPEG_YUV} ! {} ! tee name=t ! queue ! appsink name=jpeg sync=false \
         t. ! queue ! {} ! {TO_RGB} ! appsink name=sink",
        codec.encoder(),
        codec.decoder()
    );
    coded_rgb(&launch, img, &format!("plain colour {}", codec.describe()))
}

/// The framework on colour: the CNNs on luma, chroma resampled plainly by the elements.
pub fn framework_rgb(
    img: &RgbImage,
    model: Option<&ModelRef>,
    codec: Stock,
    ensemble: SelfEnsembleMode,
) -> Result<CodedRgb, String> {
    let model_prop = model.map(ModelRef::element_property).unwrap_or_default();
    let decoder_prop = model.map(ModelRef::decoder_property).unwrap_or_default();
    let ensemble_prop = ensemble.decoder_property();
    let launch = format!(
        "appsrc name=src ! {TO_JPEG_YUV} ! comcnnenc {model_prop} {} ! {} ! tee name=t \
         ! queue ! appsink name=jpeg sync=false t. ! queue ! {} \
         ! reccnndec {decoder_prop} {ensemble_prop} ! {TO_RGB} ! appsink name=sink",
        codec.compact_setting(),
        codec.encoder(),
        codec.decoder()
    );
    coded_rgb(
        &launch,
        img,
        &format!("colour framework with compact {}", codec.describe()),
    )
}

/// The plain-JPEG quality whose size comes closest to `target` bytes.
pub fn plain_jpeg_at_size(img: &GrayImage, target: usize) -> Result<(u32, Coded), String> {
    let mut best: Option<(u32, Coded)> = None;
    for q in 1..=100 {
        let c = plain_jpeg(img, q)?;
        let over = c.bytes > target;
        let closer = best
            .as_ref()
            .is_none_or(|(_, b)| c.bytes.abs_diff(target) < b.bytes.abs_diff(target));
        if closer {
            best = Some((q, c));
        }
        if over {
            break;
        }
    }
    best.ok_or_else(|| "no JPEG quality produced output".into())
}

/// A stock codec as the training loop's codec: the very elements the pipelines use, so
/// training sees the bytes users get.
pub struct StockCodec(pub Stock);

impl cnncodec::codec::CompactCodec for StockCodec {
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, CodecError> {
        plain(compact, self.0).map(|c| c.image).map_err(CodecError)
    }

    fn describe(&self) -> String {
        format!("GStreamer {} ! {}", self.0.encoder(), self.0.decoder())
    }
}

/// A different operating point for each successive image (cycling through `points`): trains
/// one RecCNN for a range of rates, a base for per-rate models.
pub struct MixedCodec {
    pub points: Vec<Stock>,
    pub next: std::cell::Cell<usize>,
}

impl cnncodec::codec::CompactCodec for MixedCodec {
    fn code(&self, compact: &GrayImage) -> Result<GrayImage, CodecError> {
        let i = self.next.get();
        self.next.set(i + 1);
        plain(compact, self.points[i % self.points.len()])
            .map(|c| c.image)
            .map_err(CodecError)
    }

    fn start_pass(&self) {
        self.next.set(0);
    }

    fn describe(&self) -> String {
        format!(
            "GStreamer stock codecs cycling image by image over {}",
            self.points
                .iter()
                .map(|p| format!("{} ! {}", p.encoder(), p.decoder()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnncodec::codec::CompactCodec;

    /// The golden intermediates of the paper's Lena as 8-bit planes (`None`: the reference
    /// data is skipped on purpose, which `require_reference` says).
    fn lena_stages_u8(test: &str) -> Option<impl Fn(&str) -> Vec<u8>> {
        let reference = cnncodec::eval::reference::require_reference(test)?;
        let g = cnncodec::eval::reference::read_golden(
            &reference.join("golden/lena_stages.safetensors"),
        )
        .unwrap();
        Some(move |key: &str| g[key].1.iter().map(|&x| x as u8).collect())
    }

    /// The training loop's codec decodes the golden compact Lena exactly as the reference
    /// pipeline's `jpegenc quality=50 ! jpegdec` (islow) did.
    #[test]
    fn training_codec_reproduces_the_reference_decode() {
        let Some(stage) = lena_stages_u8("training codec test") else {
            return;
        };
        let compact = GrayImage::new(256, 256, stage("compact_u8"));
        gstcnncodec::runner::init();
        let decoded = StockCodec(Stock::Jpeg(50)).code(&compact).unwrap();
        assert_eq!(decoded.data, stage("decoded_u8"));
        // And the bytes are the reference's 8,129.
        assert_eq!(plain_jpeg(&compact, 50).unwrap().bytes, 8129);
    }

    /// The differentiable JPEG proxy that can stand in for the codec while ComCNN trains
    /// returns nearly what the real `jpegenc ! jpegdec` (islow) returns on a real compact
    /// image, far closer than the paper's identity surrogate.
    #[test]
    fn jpeg_proxy_is_close_to_the_real_codec() {
        let Some(stage) = lena_stages_u8("JPEG proxy test") else {
            return;
        };
        let compact = stage("compact_u8");
        let image = GrayImage::new(256, 256, compact.clone());
        gstcnncodec::runner::init();
        for quality in [10, 50, 90] {
            let real = StockCodec(Stock::Jpeg(quality)).code(&image).unwrap();
            let out = cnncodec::train::jpeg_proxy::proxy_code(&image, quality);
            let mean_abs = |a: &mut dyn Iterator<Item = f64>| a.sum::<f64>() / (256.0 * 256.0);
            let proxy_err = mean_abs(
                &mut out
                    .data
                    .iter()
                    .zip(&real.data)
                    .map(|(p, r)| (*p as f64 - *r as f64).abs()),
            );
            let identity_err = mean_abs(
                &mut compact
                    .iter()
                    .zip(&real.data)
                    .map(|(c, r)| (*c as f64 - *r as f64).abs()),
            );
            eprintln!(
                "q{quality}: mean |proxy - jpegdec| {proxy_err:.3} levels, mean |identity - jpegdec| {identity_err:.3}"
            );
            assert!(
                proxy_err < 0.5 && proxy_err * 4.0 < identity_err,
                "q{quality}: proxy {proxy_err:.3}, identity {identity_err:.3} levels from the real decode"
            );
        }
    }

    /// A gray image whose width is not a multiple of 8 codes to the same file and picture on
    /// every run, plain and through the framework, and comes back at its own size.
    #[test]
    fn odd_width_gray_images_code_the_same_every_time() {
        let (w, h) = (75, 21);
        let data = (0..w * h)
            .map(|i| (((i % w) * 13 + (i / w) * 29 + (i * 7919) % 61) % 256) as u8)
            .collect();
        let img = GrayImage::new(w, h, data);
        gstcnncodec::runner::init();
        let first = plain(&img, Stock::Jpeg(5)).unwrap();
        let first_fw = framework(&img, None, Stock::Jpeg(20), SelfEnsembleMode::Off).unwrap();
        assert_eq!((first.image.width, first.image.height), (w, h));
        assert_eq!((first_fw.image.width, first_fw.image.height), (w, h));
        for _ in 0..8 {
            // Allocations in between, so that reused heap memory differs from run to run.
            let _noise: Vec<Vec<u8>> = (1..40).map(|n| vec![n as u8; n * 37]).collect();
            let again = plain(&img, Stock::Jpeg(5)).unwrap();
            assert_eq!((again.bytes, &again.image), (first.bytes, &first.image));
            let again = framework(&img, None, Stock::Jpeg(20), SelfEnsembleMode::Off).unwrap();
            assert_eq!(
                (again.bytes, &again.image),
                (first_fw.bytes, &first_fw.image)
            );
        }
    }

    /// The HEVC training codec (x265enc ! avdec_h265 on the compact luma with neutral chroma)
    /// codes the very bytes, and decodes the very picture, that `comcnnenc ! x265enc !
    /// avdec_h265` does in a pipeline.
    #[test]
    fn hevc_training_codec_is_the_pipelines() {
        let (w, h) = (150, 97);
        let data = (0..w * h)
            .map(|i| (((i % w) * 5 + (i / w) * 3 + (i * 7919) % 37) % 256) as u8)
            .collect();
        let img = GrayImage::new(w, h, data);
        gstcnncodec::runner::init();
        let stock = Stock::Hevc(38);
        let timeout = Duration::from_secs(120);
        let frame = || gray_i420_frame(&img.padded_to(w + 1, h + 1));
        let compact = gstcnncodec::runner::run(
            "appsrc name=src ! comcnnenc ! appsink name=sink",
            vec![frame()],
            timeout,
        );
        let compact = luma_of(&compact.samples[0]);
        // As eval runs it (`frame-info=false`: the codec's bytes alone).
        let launch = format!(
            "appsrc name=src ! comcnnenc {} ! {} ! tee name=t ! queue ! appsink name=jpeg \
             t. ! queue ! {} ! appsink name=sink",
            stock.compact_setting(),
            stock.encoder(),
            stock.decoder()
        );
        let (res, bytes) = run_with_jpeg(&launch, vec![frame()], timeout);
        let in_pipeline = luma_of(&res.samples[0]);
        // Before x265enc comcnnenc adds a row (4:2:0 needs even sides); the training codec
        // adds the same row and crops it off after decoding.
        assert_eq!((compact.width, compact.height), (80, 49));
        assert_eq!((in_pipeline.width, in_pipeline.height), (80, 50));
        let trained = StockCodec(stock).code(&compact).unwrap();
        assert_eq!(trained, in_pipeline.cropped(80, 49));
        assert_eq!(
            plain(&compact, stock).unwrap().bytes,
            bytes.iter().sum::<usize>()
        );
    }

    /// The J2K training codec (j2kenc ! openjpegdec, as the pipelines run it) codes exactly
    /// the bytes of the core encoder, and the stock decoder reads them as the core one does.
    #[test]
    fn j2k_training_codec_is_the_core_encoder() {
        let w = 91;
        let data = (0..w * 67)
            .map(|i| ((i % w) * 3 + (i / w) * 5 + (i * 7919) % 23) as u8)
            .collect();
        let img = GrayImage::new(w, 67, data);
        gstcnncodec::runner::init();
        let via_elements = StockCodec(Stock::J2kRatio(8)).code(&img).unwrap();
        let settings = cnncodec::codec::j2k::J2kSettings {
            rate: cnncodec::codec::j2k::Rate::Ratio(8.0),
            threads: 0,
            ..Default::default()
        };
        let bytes = cnncodec::codec::j2k::encode_gray(&img, &settings).unwrap();
        assert_eq!(plain(&img, Stock::J2kRatio(8)).unwrap().bytes, bytes.len());
        let core = cnncodec::codec::j2k::decode(&bytes).unwrap();
        assert_eq!(via_elements, core.planes[0]);
    }
}
