//! Coding an image at an operating point and measuring it: bpp, PSNR-Y, SSIM, MS-SSIM and
//! (colour runs) PSNR over RGB; the curves that collect the measurements.

use cnncodec::eval::metrics::{ms_ssim, psnr, ssim};
use cnncodec::eval::rd::RdPoint;
use cnncodec::frame::image::RgbImage;
use cnncodec::GrayImage;

use crate::codec::{
    framework, framework_rgb, plain, plain_rgb, Coded, CodedRgb, ModelRef, SelfEnsembleMode, Stock,
};

/// One operating point of a curve: how to code an image.
#[derive(Clone)]
pub enum Operating {
    Plain(Stock),
    Framework {
        model: ModelRef,
        codec: Stock,
        ensemble: SelfEnsembleMode,
    },
}

/// Measurements of one image at one operating point.
#[derive(Clone, Copy, Default)]
pub struct Measure {
    pub bpp: f64,
    /// PSNR of luma (Y, BT.601 as Pillow).
    pub psnr: f64,
    pub ssim: f64,
    pub ms_ssim: f64,
    /// PSNR over the three RGB channels (colour runs only; NaN otherwise).
    pub psnr_rgb: f64,
}

/// A metric of a [`Measure`].
pub type Metric = fn(&Measure) -> f64;

/// The metrics BD figures are computed for, by their `rd.json` names.
pub const METRICS: [(&str, Metric); 4] = [
    ("psnr-y", |m| m.psnr),
    ("ssim", |m| m.ssim),
    ("ms-ssim", |m| m.ms_ssim),
    ("psnr-rgb", |m| m.psnr_rgb),
];

/// A curve: its points and, as the run goes, each image's measurements at them.
pub struct Curve {
    pub name: String,
    pub description: String,
    pub points: Vec<(String, Operating)>,
    /// `per_image[i][p]`: image i at point p.
    pub per_image: Vec<Vec<Measure>>,
}

/// One image as read for a run: its luma, and the RGB picture for colour runs.
pub struct Original {
    pub luma: GrayImage,
    pub rgb: Option<RgbImage>,
}

/// PSNR of an exact copy is infinite; capped so that means stay over the same images.
const PSNR_CAP: f64 = 100.0;

fn measure(original: &GrayImage, coded: &Coded) -> Result<Measure, String> {
    if (coded.image.width, coded.image.height) != (original.width, original.height) {
        return Err(format!(
            "decoded {}x{} instead of {}x{}",
            coded.image.width, coded.image.height, original.width, original.height
        ));
    }
    let pixels = (original.width * original.height) as f64;
    Ok(Measure {
        bpp: coded.bytes as f64 * 8.0 / pixels,
        psnr: psnr(original, &coded.image).min(PSNR_CAP),
        ssim: ssim(original, &coded.image).unwrap_or(f64::NAN),
        ms_ssim: ms_ssim(original, &coded.image).unwrap_or(f64::NAN),
        psnr_rgb: f64::NAN,
    })
}

/// [`measure`] for a colour run: the luma figures of the decoded picture's luma, plus RGB PSNR.
fn measure_rgb(original: &RgbImage, coded: &CodedRgb) -> Result<Measure, String> {
    let luma = Coded {
        bytes: coded.bytes,
        image: coded.image.luma(),
    };
    let mut m = measure(&original.luma(), &luma)?;
    // PSNR is a mean over samples: the interleaved channels as one wide gray image.
    let flat = |i: &RgbImage| GrayImage::new(i.width * 3, i.height, i.data.clone());
    m.psnr_rgb = psnr(&flat(original), &flat(&coded.image)).min(PSNR_CAP);
    Ok(m)
}

/// Codes `img` at `op` through the stock elements and measures what comes back.
pub fn code_and_measure(img: &Original, op: &Operating) -> Result<Measure, String> {
    match (&img.rgb, op) {
        (None, Operating::Plain(c)) => measure(&img.luma, &plain(&img.luma, *c)?),
        (
            None,
            Operating::Framework {
                model,
                codec,
                ensemble,
            },
        ) => measure(
            &img.luma,
            &framework(&img.luma, Some(model), *codec, *ensemble)?,
        ),
        (Some(rgb), Operating::Plain(c)) => measure_rgb(rgb, &plain_rgb(rgb, *c)?),
        (
            Some(rgb),
            Operating::Framework {
                model,
                codec,
                ensemble,
            },
        ) => measure_rgb(rgb, &framework_rgb(rgb, Some(model), *codec, *ensemble)?),
    }
}

/// The mean of the finite values (NaN when there are none).
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl Curve {
    /// A plain codec's curve.
    pub fn plain(name: &str, description: &str, points: Vec<Stock>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            points: points
                .into_iter()
                .map(|p| (p.label(), Operating::Plain(p)))
                .collect(),
            per_image: vec![],
        }
    }

    /// The mean of `f` over the images at point `p`.
    pub fn mean_at(&self, p: usize, f: impl Fn(&Measure) -> f64) -> f64 {
        mean(self.per_image.iter().map(|m| f(&m[p])))
    }

    /// The mean of `f` at each point.
    pub fn means(&self, f: impl Fn(&Measure) -> f64 + Copy) -> Vec<f64> {
        (0..self.points.len()).map(|p| self.mean_at(p, f)).collect()
    }

    /// The curve as (mean bpp, mean `f`) points.
    pub fn rd(&self, f: impl Fn(&Measure) -> f64 + Copy) -> Vec<RdPoint> {
        (0..self.points.len())
            .map(|p| RdPoint {
                rate: self.mean_at(p, |m| m.bpp),
                quality: self.mean_at(p, f),
            })
            .collect()
    }
}
