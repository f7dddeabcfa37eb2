//! Rate-distortion comparisons: Bjontegaard delta rate and delta PSNR between two curves.
//!
//! Two interpolations: piecewise cubic Hermite (PCHIP, as in the JCT-VC / JVET common test
//! conditions spreadsheets, the default) and the original cubic polynomial fit of VCEG-M33.
//! Rates may be in any unit (bytes, bpp, kbps): only ratios matter.
//!
//! Also the typed form of the `rd.json` report `cnncodec eval` writes ([`RdReport`]), which
//! `cnncodec models` and the built-in models' measured table read.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// How a curve is interpolated between its measured points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Piecewise cubic Hermite (Fritsch-Carlson slopes), monotone, no overshoot.
    Pchip,
    /// One cubic polynomial through (least squares over) all points, as in VCEG-M33.
    Cubic,
}

/// One measured point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RdPoint {
    pub rate: f64,
    pub quality: f64,
}

/// Why a comparison is not defined.
#[derive(Clone, Debug, PartialEq)]
pub enum BdError {
    TooFewPoints(usize),
    NonPositiveRate,
    NonFinite,
    NoOverlap,
}

impl std::fmt::Display for BdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooFewPoints(n) => write!(f, "a curve needs at least 4 points, got {n}"),
            Self::NonPositiveRate => write!(f, "rates must be positive"),
            Self::NonFinite => write!(f, "a rate or quality is not a finite number"),
            Self::NoOverlap => write!(f, "the two curves do not overlap"),
        }
    }
}

impl std::error::Error for BdError {}

/// A function of one variable on `[xs[0], xs[n-1]]` that can be integrated exactly.
trait Integrable {
    fn integral(&self, a: f64, b: f64) -> f64;
}

/// PCHIP through sorted, distinct `xs`.
struct Pchip {
    xs: Vec<f64>,
    ys: Vec<f64>,
    slopes: Vec<f64>,
}

impl Pchip {
    fn new(xs: Vec<f64>, ys: Vec<f64>) -> Self {
        let n = xs.len();
        let h: Vec<f64> = (0..n - 1).map(|k| xs[k + 1] - xs[k]).collect();
        let delta: Vec<f64> = (0..n - 1).map(|k| (ys[k + 1] - ys[k]) / h[k]).collect();
        let mut slopes = vec![0.0; n];
        for k in 1..n - 1 {
            if delta[k - 1] * delta[k] > 0.0 {
                // Weighted harmonic mean of the neighbouring secants.
                let w1 = 2.0 * h[k] + h[k - 1];
                let w2 = h[k] + 2.0 * h[k - 1];
                slopes[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
            }
        }
        // MATLAB's sign(): 0 for 0 (f64::signum gives +1 for +0).
        let sign = |v: f64| if v == 0.0 { 0.0 } else { v.signum() };
        let end = |h0: f64, h1: f64, d0: f64, d1: f64| {
            let d = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
            if sign(d) != sign(d0) {
                0.0
            } else if sign(d0) != sign(d1) && d.abs() > 3.0 * d0.abs() {
                3.0 * d0
            } else {
                d
            }
        };
        if n == 2 {
            slopes = vec![delta[0]; 2];
        } else {
            slopes[0] = end(h[0], h[1], delta[0], delta[1]);
            slopes[n - 1] = end(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
        }
        Self { xs, ys, slopes }
    }
}

impl Integrable for Pchip {
    fn integral(&self, a: f64, b: f64) -> f64 {
        let mut total = 0.0;
        for k in 0..self.xs.len() - 1 {
            let (x0, x1) = (self.xs[k], self.xs[k + 1]);
            let (lo, hi) = (a.max(x0), b.min(x1));
            if hi <= lo {
                continue;
            }
            let h = x1 - x0;
            let (y0, y1) = (self.ys[k], self.ys[k + 1]);
            let (d0, d1) = (self.slopes[k] * h, self.slopes[k + 1] * h);
            // p(t) = c0 + c1 t + c2 t^2 + c3 t^3 on t in [0, 1]
            let (c0, c1) = (y0, d0);
            let c2 = 3.0 * (y1 - y0) - 2.0 * d0 - d1;
            let c3 = 2.0 * (y0 - y1) + d0 + d1;
            let antiderivative = |t: f64| t * (c0 + t * (c1 / 2.0 + t * (c2 / 3.0 + t * c3 / 4.0)));
            total += h * (antiderivative((hi - x0) / h) - antiderivative((lo - x0) / h));
        }
        total
    }
}

/// The least-squares cubic `c[0] + c[1] x + c[2] x^2 + c[3] x^3`.
struct Cubic([f64; 4]);

impl Cubic {
    fn fit(xs: &[f64], ys: &[f64]) -> Self {
        // Normal equations, solved by Gaussian elimination with partial pivoting.
        let mut m = [[0.0f64; 5]; 4];
        for (&x, &y) in xs.iter().zip(ys) {
            let p = [1.0, x, x * x, x * x * x];
            for r in 0..4 {
                for c in 0..4 {
                    m[r][c] += p[r] * p[c];
                }
                m[r][4] += p[r] * y;
            }
        }
        for col in 0..4 {
            let pivot = (col..4)
                .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
                .unwrap();
            m.swap(col, pivot);
            let pivot_row = m[col];
            for (r, row) in m.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
        Self([0, 1, 2, 3].map(|i| m[i][4] / m[i][i]))
    }
}

impl Integrable for Cubic {
    fn integral(&self, a: f64, b: f64) -> f64 {
        let c = &self.0;
        let p = |x: f64| x * (c[0] + x * (c[1] / 2.0 + x * (c[2] / 3.0 + x * c[3] / 4.0)));
        p(b) - p(a)
    }
}

/// Mean of `curve_b - curve_a` over the overlap of their x ranges, each curve interpolated
/// as `method` says.
fn mean_difference(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    method: Interpolation,
) -> Result<f64, BdError> {
    let prepare = |pts: &[(f64, f64)]| {
        let mut v = pts.to_vec();
        v.sort_by(|p, q| p.0.total_cmp(&q.0));
        v.dedup_by(|p, q| p.0 == q.0);
        v
    };
    let (a, b) = (prepare(a), prepare(b));
    for c in [&a, &b] {
        if c.len() < 4 {
            return Err(BdError::TooFewPoints(c.len()));
        }
    }
    let lo = a[0].0.max(b[0].0);
    let hi = a[a.len() - 1].0.min(b[b.len() - 1].0);
    if hi <= lo {
        return Err(BdError::NoOverlap);
    }
    let integral = |pts: &[(f64, f64)]| {
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
        match method {
            Interpolation::Pchip => Pchip::new(xs, ys).integral(lo, hi),
            Interpolation::Cubic => Cubic::fit(&xs, &ys).integral(lo, hi),
        }
    };
    Ok((integral(&b) - integral(&a)) / (hi - lo))
}

fn log_rates(curve: &[RdPoint]) -> Result<Vec<(f64, f64)>, BdError> {
    curve
        .iter()
        .map(|p| {
            if !p.rate.is_finite() || !p.quality.is_finite() {
                Err(BdError::NonFinite)
            } else if p.rate > 0.0 {
                Ok((p.rate.log10(), p.quality))
            } else {
                Err(BdError::NonPositiveRate)
            }
        })
        .collect()
}

/// Average rate difference of `test` against `anchor` at equal quality, in percent
/// (negative: `test` needs fewer bits).
pub fn bd_rate(
    anchor: &[RdPoint],
    test: &[RdPoint],
    method: Interpolation,
) -> Result<f64, BdError> {
    let swap = |c: Vec<(f64, f64)>| c.into_iter().map(|(r, q)| (q, r)).collect::<Vec<_>>();
    let diff = mean_difference(&swap(log_rates(anchor)?), &swap(log_rates(test)?), method)?;
    Ok((10f64.powf(diff) - 1.0) * 100.0)
}

/// Average quality difference of `test` against `anchor` at equal rate (dB for PSNR).
pub fn bd_quality(
    anchor: &[RdPoint],
    test: &[RdPoint],
    method: Interpolation,
) -> Result<f64, BdError> {
    mean_difference(&log_rates(anchor)?, &log_rates(test)?, method)
}

/// The `rd.json` report of `cnncodec eval`: its curves (CompressAI-style `{"name",
/// "description", "results": {metric: [...]}}`, plus per-image values) and the BD figures
/// between them. Fields are in the order the JSON lists them (alphabetical). A value that is
/// not a number (a metric a run did not measure, such as `psnr-rgb` of a luma run) is written
/// as `null` and read back as NaN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RdReport {
    /// BD figures: each test curve against its anchor, per metric.
    #[serde(default)]
    pub bd: Vec<BdEntry>,
    /// The codec evaluated: `jpeg` or `jpeg2000`.
    #[serde(default)]
    pub codec: String,
    /// What was coded and measured (luma, or RGB through I420).
    #[serde(default)]
    pub colour: String,
    pub curves: Vec<RdCurve>,
    /// The images: a split of a data folder, or the images named on the command line.
    #[serde(default)]
    pub dataset: String,
    /// How many images.
    #[serde(default)]
    pub images: usize,
}

/// One curve of an [`RdReport`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RdCurve {
    #[serde(default)]
    pub description: String,
    pub name: String,
    /// Each image's values (by file name), one per point of the curve.
    #[serde(default)]
    pub per_image: BTreeMap<String, RdSeries>,
    /// The mean over the images at each point.
    pub results: RdResults,
}

impl RdCurve {
    /// The index of the point labelled `label` (such as `jpeg-q50 q50`).
    pub fn point_index(&self, label: &str) -> Option<usize> {
        self.results.point.iter().position(|p| p == label)
    }
}

/// A curve's mean values, one per point, with the points' labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RdResults {
    /// Bits per pixel of the original image.
    #[serde(deserialize_with = "nan_for_null")]
    pub bpp: Vec<f64>,
    #[serde(rename = "ms-ssim", deserialize_with = "nan_for_null")]
    pub ms_ssim: Vec<f64>,
    /// The points' labels: `q50`, `0.25bpp`, `jpeg-q50 q30`.
    pub point: Vec<String>,
    /// PSNR over RGB (colour runs; NaN, written `null`, otherwise).
    #[serde(rename = "psnr-rgb", default, deserialize_with = "nan_for_null")]
    pub psnr_rgb: Vec<f64>,
    /// PSNR of luma.
    #[serde(rename = "psnr-y", deserialize_with = "nan_for_null")]
    pub psnr_y: Vec<f64>,
    #[serde(deserialize_with = "nan_for_null")]
    pub ssim: Vec<f64>,
}

/// One image's values along a curve, one per point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RdSeries {
    #[serde(deserialize_with = "nan_for_null")]
    pub bpp: Vec<f64>,
    #[serde(rename = "ms-ssim", deserialize_with = "nan_for_null")]
    pub ms_ssim: Vec<f64>,
    #[serde(rename = "psnr-rgb", default, deserialize_with = "nan_for_null")]
    pub psnr_rgb: Vec<f64>,
    #[serde(rename = "psnr-y", deserialize_with = "nan_for_null")]
    pub psnr_y: Vec<f64>,
    #[serde(deserialize_with = "nan_for_null")]
    pub ssim: Vec<f64>,
}

/// The BD figures of one test curve against an anchor for one metric: over the whole overlap
/// of the curves and over their points inside a bit-rate window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BdEntry {
    /// The anchor curve's name.
    pub anchor: String,
    /// [`bd_quality`] of the test curve (dB for PSNR).
    pub bd_quality: BdFigure,
    pub bd_quality_in_window: BdFigure,
    /// [`bd_rate`] of the test curve, percent.
    pub bd_rate_percent: BdFigure,
    pub bd_rate_percent_in_window: BdFigure,
    pub interpolation: Interpolation,
    /// `psnr-y`, `ssim`, `ms-ssim` or `psnr-rgb`.
    pub metric: String,
    /// The test curve's name.
    pub test: String,
    /// The window, bits per pixel.
    pub window_bpp: [f64; 2],
}

/// A BD figure, or why it is undefined (written as the string `"undefined: REASON"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BdFigure {
    Value(#[serde(deserialize_with = "nan_for_null_value")] f64),
    Undefined(String),
}

impl BdFigure {
    /// The figure when it is a finite number.
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::Value(v) if v.is_finite() => Some(*v),
            _ => None,
        }
    }

    /// Why the figure is undefined, as written (`"undefined: ..."`).
    pub fn undefined(&self) -> Option<&str> {
        match self {
            Self::Undefined(s) => Some(s),
            Self::Value(_) => None,
        }
    }
}

impl From<Result<f64, BdError>> for BdFigure {
    fn from(r: Result<f64, BdError>) -> Self {
        match r {
            Ok(v) => Self::Value(v),
            Err(e) => Self::Undefined(format!("undefined: {e}")),
        }
    }
}

/// Numbers where `null` stands for NaN (JSON has no NaN; serde_json writes it as `null`).
fn nan_for_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

fn nan_for_null_value<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
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

    // The two JCT-VC examples of Netflix VMAF's BD-rate tests
    // (python/test/bd_rate_calculator_test.py, BDrateCalculatorJCTVCTest), whose expected
    // values are the JCT-VC common-test-conditions spreadsheet's PCHIP results, as fractions.
    #[test]
    fn pchip_matches_the_jctvc_spreadsheet_examples() {
        let a = curve(&[
            (108048.8736, 43.6471),
            (61279.976, 40.3953),
            (33905.6656, 37.247),
            (18883.6928, 34.2911),
        ]);
        let b = curve(&[
            (108061.2784, 43.6768),
            (61299.9936, 40.4232),
            (33928.7472, 37.2761),
            (18910.912, 34.3147),
        ]);
        let r = bd_rate(&a, &b, Interpolation::Pchip).unwrap();
        assert!((r / 100.0 - -0.00465215420752807).abs() < 1e-9, "{r}");
        // The same example through the `bjontegaard` 1.3.0 package (PyPI), as a cross-check of
        // BD-PSNR and of the VCEG-M33 cubic variant.
        let p = bd_quality(&a, &b, Interpolation::Pchip).unwrap();
        assert!((p - 0.02505021125935584).abs() < 1e-9, "{p}");
        let c = bd_rate(&a, &b, Interpolation::Cubic).unwrap();
        assert!((c - -0.46441542003275993).abs() < 1e-6, "{c}");

        let a = curve(&[
            (40433.8848, 37.5761),
            (7622.7456, 35.3756),
            (2394.488, 33.8977),
            (1017.6184, 32.0603),
        ]);
        let b = curve(&[
            (40370.12, 37.5982),
            (7587.0024, 35.4025),
            (2390.0944, 33.9194),
            (1017.0984, 32.0822),
        ]);
        let r = bd_rate(&a, &b, Interpolation::Pchip).unwrap();
        assert!((r / 100.0 - -0.018779823450567612).abs() < 1e-9, "{r}");
    }

    #[test]
    fn a_uniform_rate_saving_is_recovered_exactly() {
        // Same curve at 80% of the rate: -20% whatever the interpolation; +quality at equal rate.
        let a = curve(&[(100.0, 30.0), (200.0, 33.0), (400.0, 35.5), (800.0, 37.0)]);
        let b: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint {
                rate: p.rate * 0.8,
                quality: p.quality,
            })
            .collect();
        for m in [Interpolation::Pchip, Interpolation::Cubic] {
            let r = bd_rate(&a, &b, m).unwrap();
            assert!((r - -20.0).abs() < 1e-9, "{m:?} {r}");
            assert!(bd_quality(&a, &b, m).unwrap() > 0.0);
            assert!(bd_rate(&a, &a, m).unwrap().abs() < 1e-12);
        }
    }

    #[test]
    fn a_constant_quality_gain_is_recovered_exactly() {
        let a = curve(&[(0.1, 28.0), (0.2, 30.5), (0.3, 32.0), (0.4, 33.0)]);
        let b: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint {
                rate: p.rate,
                quality: p.quality + 1.5,
            })
            .collect();
        for m in [Interpolation::Pchip, Interpolation::Cubic] {
            assert!((bd_quality(&a, &b, m).unwrap() - 1.5).abs() < 1e-9);
        }
    }

    #[test]
    fn undefined_comparisons_are_errors() {
        let a = curve(&[(1.0, 30.0), (2.0, 31.0), (3.0, 32.0), (4.0, 33.0)]);
        let far = curve(&[(1.0, 40.0), (2.0, 41.0), (3.0, 42.0), (4.0, 43.0)]);
        assert_eq!(
            bd_rate(&a, &far, Interpolation::Pchip),
            Err(BdError::NoOverlap)
        );
        assert_eq!(
            bd_rate(&a, &a[..3], Interpolation::Pchip),
            Err(BdError::TooFewPoints(3))
        );
        let zero = curve(&[(0.0, 30.0), (2.0, 31.0), (3.0, 32.0), (4.0, 33.0)]);
        assert_eq!(
            bd_rate(&a, &zero, Interpolation::Cubic),
            Err(BdError::NonPositiveRate)
        );
    }

    #[test]
    fn rd_reports_round_trip_with_nan_as_null() {
        let series = RdSeries {
            bpp: vec![0.25],
            ms_ssim: vec![0.9],
            psnr_rgb: vec![f64::NAN],
            psnr_y: vec![30.0],
            ssim: vec![0.8],
        };
        let report = RdReport {
            bd: vec![BdEntry {
                anchor: "jpeg".into(),
                bd_quality: Ok(1.5).into(),
                bd_quality_in_window: Err(BdError::NoOverlap).into(),
                bd_rate_percent: BdFigure::Value(f64::NAN),
                bd_rate_percent_in_window: Err(BdError::TooFewPoints(2)).into(),
                interpolation: Interpolation::Pchip,
                metric: "psnr-y".into(),
                test: "framework".into(),
                window_bpp: [0.1, 0.4],
            }],
            codec: "jpeg".into(),
            colour: "luma".into(),
            curves: vec![RdCurve {
                description: "d".into(),
                name: "framework".into(),
                per_image: [("a.png".to_owned(), series.clone())].into(),
                results: RdResults {
                    bpp: series.bpp.clone(),
                    ms_ssim: series.ms_ssim.clone(),
                    point: vec!["jpeg-q50 q50".into()],
                    psnr_rgb: series.psnr_rgb.clone(),
                    psnr_y: series.psnr_y.clone(),
                    ssim: series.ssim.clone(),
                },
            }],
            dataset: "images given on the command line".into(),
            images: 1,
        };
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.contains("\"psnr-rgb\":[null]"), "{text}");
        assert!(text.contains("\"interpolation\":\"pchip\""), "{text}");
        assert!(
            text.contains("\"bd_quality_in_window\":\"undefined: the two curves do not overlap\""),
            "{text}"
        );
        let back: RdReport = serde_json::from_str(&text).unwrap();
        assert!(back.curves[0].results.psnr_rgb[0].is_nan());
        assert!(back.curves[0].per_image["a.png"].psnr_rgb[0].is_nan());
        assert_eq!(back.bd[0].bd_quality.value(), Some(1.5));
        assert_eq!(back.bd[0].bd_rate_percent.value(), None);
        assert!(back.bd[0].bd_quality_in_window.undefined().is_some());
        assert_eq!(back.curves[0].point_index("jpeg-q50 q50"), Some(0));
        assert_eq!(back.bd[0].window_bpp, [0.1, 0.4]);
    }
}
