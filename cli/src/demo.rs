//! `cnncodec demo`: archive and restore sample images through Matroska, compare with plain
//! JPEG at about the same size.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cnncodec::eval::metrics::{psnr, ssim};
use cnncodec::frame::image::{read_png_luma, write_png_gray};
use cnncodec::GrayImage;
use gstcnncodec::runner::{gray_frame, luma_of, run, run_with_jpeg};

use crate::codec::{plain_jpeg_at_size, ModelRef};
use crate::repo_root;

/// Archive and restore images through Matroska; compare with plain JPEG at about the same size.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// A model file or folder, or a built-in model's name [default: the built-in model for
    /// --quality, else the default one]
    #[arg(long, value_name = "PATH|NAME")]
    pub model: Option<String>,
    /// The compact JPEG quality [default: the one the model was trained for]
    #[arg(long, value_name = "Q")]
    pub quality: Option<u32>,
    /// Where the archives and restored images go
    #[arg(long, value_name = "DIR", default_value = "demo-out")]
    pub out: PathBuf,
    /// PNG images [default: the repository's samples/]
    #[arg(value_name = "IMAGE.png")]
    pub images: Vec<PathBuf>,
}

/// The model the demo uses: `--model` (a file or a built-in name), else the built-in model
/// for `quality`, else the default built-in model, else (saying so) the paper authors'
/// released model when the reference folder is present.
pub fn demo_model(model: Option<&str>, quality: u32) -> Result<ModelRef, String> {
    if let Some(m) = model {
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

pub fn run_demo(args: &DemoArgs) -> Result<(), String> {
    let asked = args.quality;
    let model = demo_model(args.model.as_deref(), asked.unwrap_or(50))?;
    // A model works at the compact quality it was trained for unless told otherwise.
    let quality = asked.unwrap_or(model.load()?.meta.quality);
    let out_dir = &args.out;
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let images: Vec<PathBuf> = if args.images.is_empty() {
        crate::eval::pngs_in(&repo_root().join("samples"))?
    } else {
        args.images.clone()
    };
    let demo = Demo {
        model_prop: model.element_property(),
        decoder_prop: model.decoder_property(),
        quality,
        out_dir,
    };
    gstcnncodec::runner::init();

    println!(
        "Model: {}.",
        match &model {
            ModelRef::Builtin(n) => format!("built-in '{n}'"),
            ModelRef::File(p) => format!("'{}'", p.display()),
        }
    );
    let decoder_prop = &demo.decoder_prop;
    println!("Framework: comcnnenc ! jpegenc quality={quality} idct-method=islow ! matroskamux, played back by matroskademux ! jpegdec ! reccnndec{}.", if decoder_prop.is_empty() { String::new() } else { format!(" {decoder_prop}") });
    println!("Plain JPEG: jpegenc on the full image at the quality whose size is closest. Luma only; PSNR/SSIM on 8-bit luma.\n");
    println!("| image | size | framework bytes | bpp | PSNR dB | SSIM | plain JPEG q | bytes | bpp | PSNR dB | SSIM | gain dB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let (mut gains, mut n) = (0.0, 0);
    for path in &images {
        gains += demo.image(path)?;
        n += 1;
    }
    println!(
        "\nMean gain over plain JPEG at about the same size: {:+.2} dB over {n} images. Archives and restored images are in '{}'.",
        gains / n.max(1) as f64,
        out_dir.display()
    );
    Ok(())
}

/// The framework's pipelines as the demo runs them.
struct Demo<'a> {
    /// `comcnnenc`'s model setting.
    model_prop: String,
    /// What `reccnndec` needs to decode the stream (nothing for a built-in model).
    decoder_prop: String,
    /// The compact JPEG quality.
    quality: u32,
    out_dir: &'a Path,
}

impl Demo<'_> {
    /// Archives and restores one image, compares it with plain JPEG at about the same size,
    /// and prints its table row. Returns the framework's PSNR gain, dB.
    fn image(&self, path: &Path) -> Result<f64, String> {
        let img = read_png_luma(path)?;
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mkv = self.out_dir.join(format!("{stem}.mkv"));
        let framework_bytes = self.archive(&img, path, &mkv)?;
        let restored = self.restore(&img, &mkv)?;
        let out_dir = self.out_dir;
        write_png_gray(&out_dir.join(format!("{stem}-restored.png")), &restored)?;
        let pixels = (img.width * img.height) as f64;
        let (fp, fs) = (
            psnr(&img, &restored),
            ssim(&img, &restored).unwrap_or(f64::NAN),
        );
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
        Ok(fp - pp)
    }

    /// `comcnnenc ! jpegenc ! matroskamux` into `mkv`; the JPEG's size in bytes.
    fn archive(&self, img: &GrayImage, path: &Path, mkv: &Path) -> Result<usize, String> {
        let archive = format!(
            "appsrc name=src ! comcnnenc {} ! jpegenc quality={} idct-method=islow \
             ! tee name=t ! queue ! matroskamux ! filesink location=\"{}\" \
             t. ! queue ! appsink name=jpeg sync=false",
            self.model_prop,
            self.quality,
            mkv.display()
        );
        let (res, bytes) = run_with_jpeg(&archive, vec![gray_frame(img)], Duration::from_secs(600));
        if let Some(e) = res.error {
            return Err(format!("archiving {}: {e}", path.display()));
        }
        bytes
            .first()
            .copied()
            .ok_or_else(|| format!("archiving {}: no JPEG came out", path.display()))
    }

    /// `matroskademux ! jpegdec ! reccnndec` from `mkv`: the restored image (`img`'s size).
    fn restore(&self, img: &GrayImage, mkv: &Path) -> Result<GrayImage, String> {
        let playback = format!(
            "filesrc location=\"{}\" ! matroskademux ! jpegdec idct-method=islow ! reccnndec {} ! appsink name=sink",
            mkv.display(),
            self.decoder_prop
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
        Ok(restored)
    }
}
