//! `cnncodec train` on a tiny set for a few steps with the stock JPEG elements in the loop:
//! the loss goes down, the run resumes (after an interruption inside a stage, and to add a
//! stage), and the model it writes loads in the elements.

use std::process::Command;

use cnncodec::frame::image::{write_png_gray, GrayImage};

fn cnncodec(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cnncodec"))
        .args(args)
        .output()
        .unwrap()
}

/// Fails the test with the command's stderr unless it succeeded.
fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A run's directory, images and command line, shared by the steps of the test.
struct Ctx {
    dir: std::path::PathBuf,
    out: std::path::PathBuf,
    images: Vec<String>,
    args: Vec<String>,
}

fn setup() -> Ctx {
    let dir = std::env::temp_dir().join(format!("cnncodec-train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut images = vec![];
    for s in 0..2 {
        let data = (0..64 * 48)
            .map(|i| {
                let (x, y) = ((i % 64) as f32, (i / 64) as f32);
                (128.0 + 100.0 * ((x * 0.25 + s as f32).sin() * (y * 0.15).cos())) as u8
            })
            .collect();
        let path = dir.join(format!("img{s}.png"));
        write_png_gray(&path, &GrayImage::new(64, 48, data)).unwrap();
        images.push(path.to_str().unwrap().to_owned());
    }
    let out = dir.join("run");
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_str().unwrap().to_owned();
    let mut args = vec![
        "train",
        "--out",
        &out_s,
        "--quality",
        "30",
        "--features",
        "6",
        "--depth",
        "4",
        "--patch",
        "16",
        "--batch",
        "6",
        "--steps",
        "25",
        "--stages",
        "1",
    ];
    args.extend(images.iter().map(String::as_str));
    let args = args.iter().map(|a| a.to_string()).collect();
    Ctx {
        dir,
        out,
        images,
        args,
    }
}

fn interrupted_and_resumed(ctx: &Ctx) {
    let (dir, out, images) = (&ctx.dir, &ctx.out, &ctx.images);
    let model = out.join("model.cnnmodel");
    let mut args: Vec<&str> = ctx.args.iter().map(String::as_str).collect();
    let _ = (&dir, &out, &images, &model, &args);
    // Interrupted inside the stage (checkpointed after step 10), then run again to the end.
    let mut interrupted = args.clone();
    interrupted.extend(["--stop-after", "10"]);
    let stopped = cnncodec(&interrupted);
    assert_succeeded(&stopped);
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("stopped after 10 steps"));
    assert!(!out.join("model.cnnmodel").exists());
    let run = cnncodec(&args);
    assert_succeeded(&run);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("at step 10 of stage 0"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // One more stage, resumed from the checkpoint.
    let at = args.iter().position(|a| *a == "--stages").unwrap() + 1;
    args[at] = "2";
    let resumed = cnncodec(&args);
    assert_succeeded(&resumed);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resuming"));

    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    let rec: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("net=RecCNN"))
        .map(|l| {
            l.split("loss=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(rec.len(), 25);
    let first = rec[..5].iter().sum::<f64>();
    let last = rec[20..].iter().sum::<f64>();
    assert!(last < first, "RecCNN loss did not go down: {rec:?}");
    assert_eq!(log.lines().filter(|l| l.contains("net=ComCNN")).count(), 25);

    let model = out.join("model.cnnmodel");
    let meta = cnncodec::ModelWeights::load(&model).unwrap().meta;
    assert_eq!(meta.quality, 30);
    assert!(
        meta.provenance.contains("jpegenc quality=30"),
        "{}",
        meta.provenance
    );
}

fn statistics_measured_afresh(ctx: &Ctx) {
    let (dir, out, images) = (&ctx.dir, &ctx.out, &ctx.images);
    let model = out.join("model.cnnmodel");
    let args: Vec<&str> = ctx.args.iter().map(String::as_str).collect();
    let _ = (&dir, &out, &images, &model, &args);
    // BatchNorm statistics measured afresh (at half size): only the statistics change.
    let stats = dir.join("stats.cnnmodel");
    let recal = cnncodec(&[
        "recalibrate",
        "--model",
        model.to_str().unwrap(),
        "--out",
        stats.to_str().unwrap(),
        "--scale",
        "0.5",
        "--patch",
        "16",
        "--batch",
        "4",
        "--batches",
        "3",
        &images[0],
        &images[1],
    ]);
    assert_succeeded(&recal);
    let (before, after) = (
        cnncodec::ModelWeights::load(&model).unwrap(),
        cnncodec::ModelWeights::load(&stats).unwrap(),
    );
    assert!(after.meta.provenance.contains("scale 0.5"));
    for (k, t) in &before.reccnn {
        if k.contains("running_") {
            assert_ne!(t.data, after.reccnn[k].data, "{k} unchanged");
        } else {
            assert_eq!(t.data, after.reccnn[k].data, "{k} changed");
        }
    }
    let refused = cnncodec(&[
        "recalibrate",
        "--model",
        model.to_str().unwrap(),
        "--out",
        stats.to_str().unwrap(),
        "--scale",
        "2",
        &images[0],
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--scale 2"));
}

fn sampling_recorded_and_checked(ctx: &Ctx) {
    let (dir, out, images) = (&ctx.dir, &ctx.out, &ctx.images);
    let model = out.join("model.cnnmodel");
    let args: Vec<&str> = ctx.args.iter().map(String::as_str).collect();
    let _ = (&dir, &out, &images, &model, &args);
    // Training on the images at two scales (twice the images) and on the hardest of three
    // candidate patches, both recorded in the checkpoint; resuming with the same command goes
    // on, with other scales or candidates is refused.
    let scaled_out = dir.join("scaled");
    let _ = std::fs::remove_dir_all(&scaled_out);
    let mut scaled = args.clone();
    scaled[2] = scaled_out.to_str().unwrap();
    let at = scaled.iter().position(|a| *a == "--stages").unwrap() + 1;
    scaled[at] = "1";
    scaled.extend([
        "--scales",
        "1,0.5",
        "--patch-candidates",
        "3",
        "--stop-after",
        "2",
    ]);
    let run = cnncodec(&scaled);
    assert_succeeded(&run);
    let state: String = std::fs::read_to_string(scaled_out.join("checkpoint.json"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(state.contains("\"scales\":[1.0,0.5]"), "{state}");
    assert!(state.contains("\"patch_candidates\":3"), "{state}");
    assert_succeeded(&cnncodec(&scaled));
    let at_scales = scaled.iter().position(|a| *a == "1,0.5").unwrap();
    scaled[at_scales] = "1";
    let mismatch = cnncodec(&scaled);
    assert!(!mismatch.status.success());
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("--scales"));
    scaled[at_scales] = "1,0.5";
    let at_candidates = scaled
        .iter()
        .position(|a| *a == "--patch-candidates")
        .unwrap()
        + 1;
    scaled[at_candidates] = "2";
    let mismatch = cnncodec(&scaled);
    assert!(!mismatch.status.success());
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("--patch-candidates"));
}

fn the_elements_load_it(ctx: &Ctx) {
    let (dir, out, images) = (&ctx.dir, &ctx.out, &ctx.images);
    let model = out.join("model.cnnmodel");
    let args: Vec<&str> = ctx.args.iter().map(String::as_str).collect();
    let _ = (&dir, &out, &images, &model, &args);
    // The elements load it: eval runs comcnnenc ! jpegenc ! jpegdec ! reccnndec with it.
    let eval = cnncodec(&[
        "eval",
        "--jpeg-qualities",
        "10,30,50,70",
        "--model",
        &format!("{}@20,30,40,50", model.display()),
        "--out",
        dir.join("eval").to_str().unwrap(),
        &images[0],
    ]);
    assert_succeeded(&eval);
}

fn folded_proxy_and_curve(ctx: &Ctx) {
    let (dir, out, images) = (&ctx.dir, &ctx.out, &ctx.images);
    let model = out.join("model.cnnmodel");
    let args: Vec<&str> = ctx.args.iter().map(String::as_str).collect();
    let _ = (&dir, &out, &images, &model, &args);
    // The trained model's RecCNN in inference form (BatchNorm folded), a ComCNN stage through
    // the JPEG proxy first, and the learning curve on dev-eval every 3 steps.
    let folded_out = dir.join("folded");
    let _ = std::fs::remove_dir_all(&folded_out);
    let mut folded = vec![
        "train",
        "--out",
        folded_out.to_str().unwrap(),
        "--init",
        model.to_str().unwrap(),
        "--rec-init",
        "fold",
        "--quality",
        "30",
        "--patch",
        "16",
        "--batch",
        "6",
        "--steps",
        "6",
        "--stages",
        "2",
        "--first-stage",
        "com",
        "--com-surrogate",
        "jpeg",
        "--curve-every",
        "3",
    ];
    folded.extend(images.iter().map(String::as_str));
    let run = cnncodec(&folded);
    assert_succeeded(&run);
    let trained = cnncodec::ModelWeights::load(&folded_out.join("model.cnnmodel")).unwrap();
    assert!(!trained.meta.reccnn.batch_norm);
    assert!(!trained.reccnn.keys().any(|k| k.starts_with("bn")));
    assert!(trained.meta.provenance.contains("BatchNorm folded"));
    let curve = std::fs::read_to_string(folded_out.join("curve.csv")).unwrap();
    let steps: Vec<&str> = curve
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["0", "3", "6", "9", "12"], "{curve}");
    assert!(
        curve.contains(",ComCNN,") && curve.contains(",RecCNN,"),
        "{curve}"
    );
    let state: String = std::fs::read_to_string(folded_out.join("checkpoint.json"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(state.contains("\"com_surrogate\":\"jpeg\""), "{state}");
    // A loss margin that leaves nothing of the patch is refused.
    let margin_out = dir.join("margin");
    let mut margin = args.clone();
    margin[2] = margin_out.to_str().unwrap();
    margin.extend(["--loss-margin", "8"]);
    let refused = cnncodec(&margin);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loss margin 8"));
}

fn comcnn_of_another_model(ctx: &Ctx) {
    // The trained model's RecCNN trained on behind the ComCNN of the folded run (whose ComCNN
    // stage moved it): the result keeps that ComCNN, its provenance says whose it is, and
    // the same command resumes an interrupted run.
    let (dir, images) = (&ctx.dir, &ctx.images);
    let model = ctx.out.join("model.cnnmodel");
    let donor_file = dir.join("folded/model.cnnmodel");
    let donor = cnncodec::ModelWeights::load(&donor_file).unwrap();
    let own = cnncodec::ModelWeights::load(&model).unwrap();
    assert_ne!(donor.comcnn_hash(), own.comcnn_hash());
    let out = dir.join("behind-other");
    let _ = std::fs::remove_dir_all(&out);
    let command = |init: &str, comcnn_from: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--out",
            out.to_str().unwrap(),
            "--init",
            init,
            "--comcnn-from",
            comcnn_from,
            "--quality",
            "30",
            "--patch",
            "16",
            "--batch",
            "6",
            "--steps",
            "3",
            "--stages",
            "1",
        ];
        args.extend(extra);
        args.extend(images.iter().map(String::as_str));
        cnncodec(&args)
    };
    let (init, from) = (model.to_str().unwrap(), donor_file.to_str().unwrap());
    assert_succeeded(&command(init, from, &["--stop-after", "1"]));
    // Resuming with another ComCNN is refused; with the same one it finishes the run.
    let refused = command(init, init, &[]);
    assert!(!refused.status.success());
    let e = String::from_utf8_lossy(&refused.stderr);
    assert!(e.contains("did not start from that model's ComCNN"), "{e}");
    let resumed = command(init, from, &[]);
    assert_succeeded(&resumed);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resuming"));
    let trained = cnncodec::ModelWeights::load(&out.join("model.cnnmodel")).unwrap();
    assert_eq!(trained.comcnn_hash(), donor.comcnn_hash());
    assert_eq!(trained.meta.reccnn, own.meta.reccnn);
    assert!(
        trained.meta.provenance.contains(&format!(
            "its ComCNN replaced by that of '{}'",
            donor.meta.name
        )),
        "{}",
        trained.meta.provenance
    );
    // Only a trained model's ComCNN can be replaced.
    let _ = std::fs::remove_dir_all(&out);
    let refused = command("matconvnet", from, &[]);
    assert!(!refused.status.success());
    let e = String::from_utf8_lossy(&refused.stderr);
    assert!(e.contains("--comcnn-from: only with --init MODEL"), "{e}");
}

#[test]
fn training_writes_a_model_the_elements_load() {
    let ctx = setup();
    interrupted_and_resumed(&ctx);
    statistics_measured_afresh(&ctx);
    sampling_recorded_and_checked(&ctx);
    the_elements_load_it(&ctx);
    folded_proxy_and_curve(&ctx);
    comcnn_of_another_model(&ctx);
}
