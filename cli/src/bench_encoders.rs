//! `cnncodec bench-encoders`: encode speed per frame of the image encoders a pipeline can put
//! after `comcnnenc` (the plugin's lossy `j2kenc`, stock `jpegenc` and the lossless stock
//! `openjpegenc`), each in a real pipeline on a real surveillance frame scaled to each size.
//!
//! ```text
//! cnncodec bench-encoders [--frames N] [--sizes WxH,...] [--format I420|GRAY8] [--image PNG]
//! ```
//! A frame is decoded and scaled once (`imagefreeze` repeats it); the time per frame is the
//! difference between an N-frame and a 1-frame run over N - 1, so pipeline start-up cancels.

use std::time::{Duration, Instant};

use std::path::PathBuf;

/// (label, encoder description) pairs.
const ENCODERS: &[(&str, &str)] = &[
    ("j2kenc bpp=0.25, 1 thread", "j2kenc bpp=0.25 threads=1"),
    ("j2kenc bpp=0.25, all cores", "j2kenc bpp=0.25 threads=0"),
    ("j2kenc bpp=1, all cores", "j2kenc bpp=1 threads=0"),
    (
        "jpegenc quality=50 islow",
        "jpegenc quality=50 idct-method=islow",
    ),
    ("openjpegenc (stock, lossless)", "openjpegenc"),
];

fn run_seconds(launch: &str) -> Result<(f64, Vec<usize>), String> {
    let started = Instant::now();
    let (result, sizes) =
        gstcnncodec::runner::run_with_jpeg(launch, vec![], Duration::from_secs(600));
    if let Some(e) = result.error {
        return Err(format!("{launch}: {e}"));
    }
    Ok((started.elapsed().as_secs_f64(), sizes))
}

/// Encode speed per frame of the image encoders in real pipelines.
#[derive(clap::Args, Debug)]
pub struct BenchEncodersArgs {
    /// Frames per timed run (at least 2)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub frames: usize,
    /// Frame sizes
    #[arg(
        long,
        value_name = "WxH[,WxH...]",
        default_value = "352x288,1280x720,1920x1080"
    )]
    pub sizes: String,
    /// The raw video format the encoders get (such as I420 or GRAY8)
    #[arg(long, value_name = "FORMAT", default_value = "I420")]
    pub format: String,
    /// The frame to scale and repeat [default: samples/vtest_f0610.png]
    #[arg(long, value_name = "PNG")]
    pub image: Option<PathBuf>,
}

pub fn run_bench_encoders(args: &BenchEncodersArgs) -> Result<(), String> {
    let frames = args.frames;
    if frames < 2 {
        return Err("--frames must be at least 2".into());
    }
    let format = &args.format;
    let image = match &args.image {
        Some(p) => p.clone(),
        None => crate::repo_root().join("samples/vtest_f0610.png"),
    };
    let sizes = &args.sizes;
    gstcnncodec::runner::init();
    println!(
        "{} frames of {} as {format}, {} cores\n",
        frames,
        image.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| encoder | frame | ms/frame | frames/s | bpp |");
    println!("| --- | --- | --- | --- | --- |");
    for size in sizes.split(',') {
        let (w, h) = size
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .ok_or(format!("--sizes: bad size '{size}'"))?;
        for (label, encoder) in ENCODERS {
            let launch = |n: usize| {
                format!(
                    "filesrc location=\"{}\" ! pngdec ! videoconvert ! videoscale ! \
                     video/x-raw,format={format},width={w},height={h} ! \
                     imagefreeze num-buffers={n} ! {encoder} ! appsink name=jpeg sync=false",
                    image.display()
                )
            };
            let (one, _) = run_seconds(&launch(1))?;
            let (many, bytes) = run_seconds(&launch(frames))?;
            let ms = (many - one).max(0.0) * 1000.0 / (frames - 1) as f64;
            let bpp = bytes.iter().sum::<usize>() as f64 * 8.0
                / (bytes.len().max(1) as f64 * (w * h) as f64);
            println!(
                "| {label} | {w}x{h} | {ms:.1} | {:.1} | {bpp:.3} |",
                1000.0 / ms
            );
        }
    }
    Ok(())
}
