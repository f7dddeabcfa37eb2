//! The images a command works on: those named on the command line (files or folders), else a
//! split's list in the data folder.

use std::path::{Path, PathBuf};

use crate::args::ImageArgs;

/// The PNG files of a folder, sorted by name.
pub fn pngs_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    Ok(v)
}

/// Whether `--split` names `dev-eval`, which is for measurements only (never trained on).
pub fn split_names_dev_eval(args: &ImageArgs) -> bool {
    args.split
        .as_deref()
        .is_some_and(|s| s.split(',').any(|n| n.trim().starts_with("dev-eval")))
}

/// The images, and how to name them in reports: the command line's images (files or folders
/// of PNGs), else `<data>/splits/<split>.txt` (`default_split` without `--split`).
pub fn image_list_for(
    args: &ImageArgs,
    default_split: &str,
) -> Result<(String, Vec<PathBuf>), String> {
    if !args.images.is_empty() {
        let mut v = vec![];
        for p in &args.images {
            if p.is_dir() {
                v.extend(pngs_in(p)?);
            } else {
                v.push(p.clone());
            }
        }
        return Ok(("images given on the command line".into(), v));
    }
    let split = args.split.as_deref().unwrap_or(default_split);
    let data = match &args.data {
        Some(d) => d.clone(),
        None => [
            crate::repo_root().join("data"),
            crate::repo_root().join("../shared/data"),
        ]
        .into_iter()
        .find(|d| d.join("splits").is_dir())
        .ok_or("no data folder: run scripts/fetch-data.sh, or pass --data DIR or image paths")?,
    };
    // Several splits may be joined with commas (for example `train,train-video`).
    let mut files = vec![];
    for name in split.split(',').map(str::trim) {
        let list = data.join("splits").join(format!("{name}.txt"));
        let text =
            std::fs::read_to_string(&list).map_err(|e| format!("{}: {e}", list.display()))?;
        files.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| data.join(l)),
        );
    }
    let shown = std::fs::canonicalize(&data).unwrap_or(data);
    Ok((format!("split '{split}' of {}", shown.display()), files))
}

/// The file name of `path` (results stay comparable between machines).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
