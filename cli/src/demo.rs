//! `cnncodec demo`: archive and restore sample images through Matroska, compare with plain
//! JPEG at about the same size.

use std::path::PathBuf;
use std::time::Duration;

use cnncodec::eval::metrics::{psnr, ssim};
use cnncodec::frame::image::{read_png_luma, write_png_gray};
use gstcnncodec::runner::{gray_frame, luma_of, run, run_with_jpeg};

use crate::args::Args;
use crate::codec::{plain_jpeg_at_size, ModelRef};
use crate::repo_root;

/// The model the demo uses: `--model` (a file or a built-in name), else the built-in model
/// for `quality`, else the default built-in model, else (saying so) the paper authors'
/// released model when the reference folder is present.
pub fn demo_model(args: &Args, quality: u32) -> Result<ModelRef, String> {
    if let Some(m) = args.get("model") {
        return ModelRef::parse(m);
    }
    let for_quality = format!("jpeg-q{quality}");
    if let Ok(m) = ModelRef::parse(&for_quality) {
        return Ok(m);
    }
    if let Some(name) = cnncodec::net::builtin::default_model() {
        return Ok(ModelRef::Builtin(name.to_owned()));
    }
    let released = cnncodec::eval::reference::reference_dir().join("official-qf50");
    println!("This build has no built-in model (models/ was empty when it was compiled).");
    if released.is_dir() {
        println!(
            "Using the paper authors' released model from '{}' instead; it is read there, not shipped.\n",
            released.display()
        );
        Ok(ModelRef::File(released))
    } else {
        println!("No model was given either: run `cnncodec demo --model PATH` with a .cnnmodel file or a directory holding comcnn.safetensors and reccnn.safetensors.");
        Err("no model to demonstrate with".into())
    }
}

pub fn run_demo(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &["model", "quality", "out"])?;
    let asked: Option<u32> = args
        .get("quality")
        .map(|_| args.parsed("quality", 0))
        .transpose()?;
    let model = demo_model(&args, asked.unwrap_or(50))?;
    // A model works at the compact quality it was trained for unless told otherwise.
    let quality = asked.unwrap_or(model.load()?.meta.quality);
    let out_dir = PathBuf::from(args.get("out").unwrap_or("demo-out"));
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let images: Vec<PathBuf> = if args.positional.is_empty() {
        crate::eval::pngs_in(&repo_root().join("samples"))?
    } else {
        args.positional.iter().map(PathBuf::from).collect()
    };
    let model_prop = model.element_property();
    let decoder_prop = model.decoder_property();
    gstcnncodec::runner::init();

    println!(
        "Model: {}.",
        match &model {
            ModelRef::Builtin(n) => format!("built-in '{n}'"),
            ModelRef::File(p) => format!("'{}'", p.display()),
        }
    );
    println!("Framework: comcnnenc ! jpegenc quality={quality} idct-method=islow ! matroskamux, played back by matroskademux ! jpegdec ! reccnndec{}.", if decoder_prop.is_empty() { String::new() } else { format!(" {decoder_prop}") });
    println!("Plain JPEG: jpegenc on the full image at the quality whose size is closest. Luma only; PSNR/SSIM on 8-bit luma.\n");
    println!("| image | size | framework bytes | bpp | PSNR dB | SSIM | plain JPEG q | bytes | bpp | PSNR dB | SSIM | gain dB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let (mut gains, mut n) = (0.0, 0);
    for path in &images {
        let img = read_png_luma(path)?;
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mkv = out_dir.join(format!("{stem}.mkv"));
        let archive = format!(
            "appsrc name=src ! comcnnenc {model_prop} ! jpegenc quality={quality} idct-method=islow \
             ! tee name=t ! queue ! matroskamux ! filesink location=\"{}\" \
             t. ! queue ! appsink name=jpeg sync=false",
            mkv.display()
        );
        let (res, bytes) =
            run_with_jpeg(&archive, vec![gray_frame(&img)], Duration::from_secs(600));
        if let Some(e) = res.error {
            return Err(format!("archiving {}: {e}", path.display()));
        }
        let playback = format!(
            "filesrc location=\"{}\" ! matroskademux ! jpegdec idct-method=islow ! reccnndec {decoder_prop} ! appsink name=sink",
            mkv.display()
        );
        let res = run(&playback, vec![], Duration::from_secs(600));
        if let Some(e) = res.error {
            return Err(format!("restoring {}: {e}", mkv.display()));
        }
        let Some(sample) = res.samples.first() else {
            return Err(format!("restoring {}: no frame came out", mkv.display()));
        };
        let restored = luma_of(sample);
        if (restored.width, restored.height) != (img.width, img.height) {
            return Err(format!(
                "restored {}x{} instead of {}x{}",
                restored.width, restored.height, img.width, img.height
            ));
        }
        write_png_gray(&out_dir.join(format!("{stem}-restored.png")), &restored)?;
        let pixels = (img.width * img.height) as f64;
        let (fp, fs) = (
            psnr(&img, &restored),
            ssim(&img, &restored).unwrap_or(f64::NAN),
        );
        let framework_bytes = *bytes
            .first()
            .ok_or_else(|| format!("archiving {}: no JPEG came out", path.display()))?;
        let (q, plain) = plain_jpeg_at_size(&img, framework_bytes)?;
        write_png_gray(
            &out_dir.join(format!("{stem}-plain-jpeg-q{q}.png")),
            &plain.image,
        )?;
        let (pp, ps) = (
            psnr(&img, &plain.image),
            ssim(&img, &plain.image).unwrap_or(f64::NAN),
        );
        println!(
            "| {stem} | {}x{} | {} | {:.4} | {fp:.2} | {fs:.4} | {q} | {} | {:.4} | {pp:.2} | {ps:.4} | {:+.2} |",
            img.width,
            img.height,
            framework_bytes,
            framework_bytes as f64 * 8.0 / pixels,
            plain.bytes,
            plain.bytes as f64 * 8.0 / pixels,
            fp - pp
        );
        gains += fp - pp;
        n += 1;
    }
    println!(
        "\nMean gain over plain JPEG at about the same size: {:+.2} dB over {n} images. Archives and restored images are in '{}'.",
        gains / n.max(1) as f64,
        out_dir.display()
    );
    Ok(())
}
