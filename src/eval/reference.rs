//! Locating the paper's reference data (`../shared/reference`) for tests and benchmarks.
//! It is never copied into the repository.

use std::path::PathBuf;

/// `$CNNCODEC_REFERENCE`, else `../shared/reference` beside the repository.
pub fn reference_dir() -> PathBuf {
    match std::env::var_os("CNNCODEC_REFERENCE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"),
    }
}

/// The reference directory, or `None` after a loud notice when the caller explicitly allowed
/// running without it (`CNNCODEC_SKIP_REFERENCE=1`). Otherwise a missing directory panics:
/// a parity test must never pass silently.
pub fn require_reference(test: &str) -> Option<PathBuf> {
    let dir = reference_dir();
    if dir.join("README.md").exists() {
        return Some(dir);
    }
    let msg = format!(
        "REFERENCE DATA MISSING: {test} needs the paper's reference folder at '{}' (set CNNCODEC_REFERENCE to its path)",
        dir.display()
    );
    if std::env::var_os("CNNCODEC_SKIP_REFERENCE").is_some() {
        eprintln!("\n*** {msg}; SKIPPED because CNNCODEC_SKIP_REFERENCE is set ***\n");
        return None;
    }
    panic!("{msg}; set CNNCODEC_SKIP_REFERENCE=1 to skip on purpose");
}

/// One row of the reference README's table of expected numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedRow {
    pub image: String,
    pub width: usize,
    pub height: usize,
    pub compact_bytes: usize,
    pub bpp: f64,
    pub psnr: f64,
    pub ssim: f64,
    pub bicubic_psnr: f64,
    pub bicubic_ssim: f64,
}

/// Parses the "Expected numbers" table of the reference README.
pub fn expected_rows(readme: &str) -> Vec<ExpectedRow> {
    let pair = |s: &str| -> Option<(f64, f64)> {
        let (a, b) = s.split_once('/')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            if cells.len() < 6 {
                return None;
            }
            let (w, h) = cells[1].split_once('x')?;
            let (psnr, ssim) = pair(cells[4])?;
            let (bicubic_psnr, bicubic_ssim) = pair(cells[5])?;
            Some(ExpectedRow {
                image: cells[0].to_owned(),
                width: w.parse().ok()?,
                height: h.parse().ok()?,
                compact_bytes: cells[2].parse().ok()?,
                bpp: cells[3].parse().ok()?,
                psnr,
                ssim,
                bicubic_psnr,
                bicubic_ssim,
            })
        })
        .collect()
}

/// Golden tensors by name: (shape, values).
pub type Golden = std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>;

/// The tensors of a golden safetensors file (f32).
pub fn read_golden(path: &std::path::Path) -> Result<Golden, crate::WeightsError> {
    let bytes =
        std::fs::read(path).map_err(|e| crate::WeightsError::Io(path.to_owned(), e.to_string()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| crate::WeightsError::Corrupt(path.to_owned(), format!("{e:?}")))?;
    Ok(st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let data = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (k, (v.shape().to_vec(), data))
        })
        .collect())
}
