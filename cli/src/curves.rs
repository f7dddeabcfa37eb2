//! `cnncodec curves --out FILE.svg RUN/curve.csv...`: training runs' learning curves (the
//! development PSNR against steps, from `cnncodec train --curve-every`) in one plot, each
//! named by its run's folder (`RUN/curve.csv`) or its file name (`jpeg-q50.csv`).

use std::path::{Path, PathBuf};

use crate::plot::{write_plot, Series};

/// The (step, dB) points of a `curve.csv`.
pub fn read_curve(path: &Path) -> Result<Vec<(f64, f64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    if lines.next() != Some(cnncodec::train::CURVE_CSV_HEADER) {
        return Err(format!(
            "{}: not a curve.csv of cnncodec train",
            path.display()
        ));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            match (f.first().map(|s| s.parse()), f.get(3).map(|s| s.parse())) {
                (Some(Ok(step)), Some(Ok(db))) if f.len() == 4 => Ok((step, db)),
                _ => Err(format!("{}: bad line '{l}'", path.display())),
            }
        })
        .collect()
}

/// Training runs' learning curves in one plot.
#[derive(clap::Args, Debug)]
pub struct CurvesArgs {
    /// The SVG file to write (and a PNG beside it when rsvg-convert runs)
    #[arg(long, value_name = "FILE.svg")]
    pub out: PathBuf,
    /// The plot's title
    #[arg(long, value_name = "T", default_value = "learning curves")]
    pub title: String,
    /// `curve.csv` files of `cnncodec train --curve-every`
    #[arg(value_name = "RUN/curve.csv", required = true)]
    pub curves: Vec<PathBuf>,
}

pub fn run_curves(args: &CurvesArgs) -> Result<(), String> {
    let out = &args.out;
    let series = args
        .curves
        .iter()
        .map(|path| {
            let named_by = if path.file_name().is_some_and(|f| f == "curve.csv") {
                path.parent().and_then(|d| d.file_name())
            } else {
                path.file_stem()
            };
            let name = named_by
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            Ok(Series {
                name,
                points: read_curve(path)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let png = write_plot(
        out,
        &args.title,
        "training steps",
        "dev-eval PSNR-Y (dB)",
        &series,
    )?;
    println!(
        "wrote {}{}",
        out.display(),
        png.map(|p| format!(", {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_read_and_bad_files_refused() {
        let dir = std::env::temp_dir().join(format!("cnncodec-curves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.csv");
        std::fs::write(
            &good,
            "step,stage,network,dev_psnr\n0,0,start,28.9855\n1000,0,RecCNN,29.1050\n",
        )
        .unwrap();
        assert_eq!(
            read_curve(&good).unwrap(),
            vec![(0.0, 28.9855), (1000.0, 29.105)]
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "step,stage,network,dev_psnr\n0,0,start\n").unwrap();
        assert!(read_curve(&bad).unwrap_err().contains("bad line"));
        std::fs::write(&bad, "loss\n1\n").unwrap();
        assert!(read_curve(&bad).unwrap_err().contains("not a curve.csv"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
