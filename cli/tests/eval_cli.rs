//! `cnncodec eval` end to end on a small image with a small random model: the JSON has both
//! curves, per-image values and BD figures, and the plot is written.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use cnncodec::frame::image::{write_png_gray, GrayImage};
use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::ModelWeights;

/// Runs `cnncodec eval ARGS --out OUT IMAGE`, which must succeed, and reads its `rd.json`.
fn eval_report<A: AsRef<OsStr>>(
    args: impl IntoIterator<Item = A>,
    out: &Path,
    image: &Path,
) -> serde_json::Value {
    let run = Command::new(env!("CARGO_BIN_EXE_cnncodec"))
        .arg("eval")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg(image)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("rd.json")).unwrap()).unwrap()
}

#[test]
fn eval_writes_curves_bd_and_plot() {
    let dir = std::env::temp_dir().join(format!("cnncodec-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..96 * 80)
        .map(|i| (((i % 96) * 2 + (i / 96) * 3 + (i * 31) % 17) % 256) as u8)
        .collect();
    let image = dir.join("ramp.png");
    write_png_gray(&image, &GrayImage::new(96, 80, data)).unwrap();
    let model = dir.join("tiny.cnnmodel");
    ModelWeights::random(
        "tiny",
        ComCnnConfig::new().with_features(4),
        RecCnnConfig::new().with_features(4).with_depth(3),
        3,
    )
    .save(&model)
    .unwrap();
    let out = dir.join("out");
    let model_points = format!("{}@10,30,50,70,90", model.display());
    let report = eval_report(
        [
            "--jpeg-qualities",
            "10,30,50,70,90",
            "--model",
            &model_points,
        ],
        &out,
        &image,
    );
    let curves = report["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 2);
    for c in curves {
        assert_eq!(c["results"]["bpp"].as_array().unwrap().len(), 5);
        let psnr = c["results"]["psnr-y"].as_array().unwrap();
        assert!(psnr.iter().all(|v| v.as_f64().unwrap() > 5.0));
        let key = image.file_name().unwrap().to_string_lossy().into_owned();
        assert!(c["per_image"][key.as_str()]["ssim"].is_array());
    }
    // Plain JPEG's bits grow with its quality.
    let bpp: Vec<f64> = curves[0]["results"]["bpp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(bpp.windows(2).all(|w| w[0] < w[1]), "{bpp:?}");
    assert_eq!(report["bd"].as_array().unwrap().len(), 3);
    assert!(std::fs::read_to_string(out.join("rd.svg"))
        .unwrap()
        .contains("<polyline"));
}

/// `--self-ensemble` changes the decoding only: the same bytes, another picture, and the
/// curve says how it was decoded.
#[test]
fn eval_self_ensemble_keeps_the_bytes_and_changes_the_picture() {
    let dir = std::env::temp_dir().join(format!("cnncodec-eval-se-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..72 * 56)
        .map(|i| (((i % 72) * 5 + (i / 72) * 2 + (i * 13) % 23) % 256) as u8)
        .collect();
    let image = dir.join("texture.png");
    write_png_gray(&image, &GrayImage::new(72, 56, data)).unwrap();
    let framework_curve = |mode: &str| {
        let args = ["--jpeg-qualities", "10,50", "--self-ensemble", mode];
        // A trained model: a random one's output saturates whatever it is given.
        let trained = ["--model", "fast@30,60"];
        let report = eval_report(args.into_iter().chain(trained), &dir.join(mode), &image);
        report["curves"][1].clone()
    };
    let (off, full) = (framework_curve("off"), framework_curve("full"));
    assert_eq!(off["results"]["bpp"], full["results"]["bpp"]);
    assert_ne!(off["results"]["psnr-y"], full["results"]["psnr-y"]);
    assert!(full["description"]
        .as_str()
        .unwrap()
        .ends_with("reccnndec self-ensemble=full"));
    assert!(off["description"].as_str().unwrap().ends_with("reccnndec"));
}

#[test]
fn eval_refuses_an_ensemble_for_a_curve_it_was_not_given() {
    let out = Command::new(env!("CARGO_BIN_EXE_cnncodec"))
        .args(["eval", "--model", "fast", "--also-self-ensemble", "full"])
        .arg(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--also-self-ensemble"), "{err}");
}
