//! The command line's grammar (clap derive): the subcommands, the option groups several of
//! them share, and the choices options take.
//!
//! Each subcommand's own options live beside its code (`demo::DemoArgs`, `eval::EvalArgs`,
//! `train::TrainArgs`, ...). A single-valued option given twice takes its last value, as the
//! hand-written parser before clap did (scripts append options to a base command line).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// cnncodec: the ComCNN/RecCNN compression framework through stock GStreamer codecs.
#[derive(Parser, Debug)]
#[command(
    name = "cnncodec",
    version,
    arg_required_else_help = true,
    args_override_self = true,
    after_help = "Run `cnncodec COMMAND --help` for a command's options."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Archive and restore images, and compare with plain JPEG at about the same size
    ///
    /// Archives each image's luma with `comcnnenc ! jpegenc ! matroskamux`, plays it back with
    /// `matroskademux ! jpegdec ! reccnndec` (no settings repeated), and compares bytes, bpp,
    /// PSNR and SSIM with plain JPEG of the full image at about the same size.
    Demo(crate::demo::DemoArgs),
    /// Rate-distortion of the plain codec and the framework over a set of images
    ///
    /// Measures bpp, PSNR-Y, SSIM and MS-SSIM (and PSNR over RGB with --colour rgb) per image
    /// and point, BD-rate and BD-PSNR of the framework against the plain codec, and writes
    /// rd.json, rd.svg and (with rsvg-convert) rd.png into --out.
    Eval(crate::eval::EvalArgs),
    /// Train a model with the stock codec elements in the loop
    ///
    /// The paper's alternating optimisation, checkpointed after every stage and every
    /// --checkpoint-every steps; re-running the same command resumes from the checkpoint in
    /// --out (the checkpoint's options win, but --stages may extend the run).
    Train(crate::train::TrainArgs),
    /// A model with its RecCNN's BatchNorm statistics measured afresh on training patches
    Recalibrate(crate::recalibrate::RecalibrateArgs),
    /// RecCNN loss on the same training patches in inference and training form
    FormLoss(crate::form_loss::FormLossArgs),
    /// Milliseconds per frame and GFLOP/s of both networks and of the decode step
    Bench(crate::bench::BenchArgs),
    /// Seconds per RecCNN training step with burn's generic and our convolution backward
    BenchTrain(crate::bench::BenchTrainArgs),
    /// Encode speed per frame of j2kenc, jpegenc and openjpegenc in real pipelines
    BenchEncoders(crate::bench_encoders::BenchEncodersArgs),
    /// The built-in models: codec, compact quality and measured bit rate and quality
    Models(crate::models::ModelsArgs),
    /// Training runs' learning curves (RUN/curve.csv) in one SVG plot
    Curves(crate::curves::CurvesArgs),
    /// One restored frame of an archive (a Matroska file or a glob of segments)
    Frame(crate::frame::FrameArgs),
}

/// Which images: paths given on the command line, else the list of a split of the data
/// folder (`<data>/splits/<split>.txt`).
#[derive(Args, Clone, Debug, Default)]
pub struct ImageArgs {
    /// PNG images, or folders of them, instead of a split
    #[arg(value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// The data folder [default: data/, else ../shared/data beside the repository]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The split(s) of the data folder, comma-separated (such as train,train-video); the
    /// default depends on the command (eval: dev-eval, train: train, recalibrate and
    /// form-loss: train,train-video)
    #[arg(long, value_name = "NAME[,NAME...]")]
    pub split: Option<String>,
}

impl ImageArgs {
    /// The same data folder with another split, and no images of the command line.
    pub fn with_split(&self, split: &str) -> Self {
        Self {
            images: vec![],
            data: self.data.clone(),
            split: Some(split.to_owned()),
        }
    }
}

/// `--codec`: the stock codec of the compact image (or of the plain anchor).
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct CodecArg {
    /// The stock codec: jpeg, j2k (JPEG 2000; `jpeg2000` is accepted too), hevc (HEVC
    /// intra), or with eval --clip the video codecs h264 and h265 [default: jpeg]
    #[arg(long, value_enum, value_name = "CODEC")]
    pub codec: Option<Codec>,
}

impl CodecArg {
    /// The codec as model metadata names it: `jpeg`, `jpeg2000` or `hevc`.
    pub fn name(&self) -> &'static str {
        self.codec.unwrap_or_default().name()
    }

    /// Whether `--codec` was given.
    pub fn given(&self) -> bool {
        self.codec.is_some()
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// Baseline JPEG (`jpegenc` / `jpegdec`, accurate integer DCT)
    #[default]
    Jpeg,
    /// JPEG 2000 (the plugin's `j2kenc` / stock `openjpegdec`)
    #[value(alias = "jpeg2000")]
    J2k,
    /// HEVC intra, BPG-class (`x265enc`, every frame a key frame, at a QP / `avdec_h265`)
    Hevc,
    /// H.264 video with inter prediction at a bit rate (`x264enc` / `avdec_h264`; eval --clip)
    H264,
    /// H.265 video with inter prediction at a bit rate (`x265enc` / `avdec_h265`; eval --clip)
    H265,
}

impl Codec {
    /// The codec as model metadata names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::J2k => "jpeg2000",
            Self::Hevc => "hevc",
            Self::H264 => "h264",
            Self::H265 => "h265",
        }
    }
}

/// `--backend`: where the networks run.
#[derive(Args, Clone, Copy, Debug)]
pub struct BackendArg {
    /// Where the networks run (cuda: a build with the `cuda` feature)
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The CPU kernels
    Cpu,
    /// The first CUDA device
    Cuda,
}

impl From<Backend> for cnncodec::BackendKind {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Cpu => Self::Cpu,
            Backend::Cuda => Self::Cuda,
        }
    }
}

/// The float type the networks compute in.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Single precision
    Fp32,
    /// Half precision (CUDA only)
    Fp16,
}

impl From<Precision> for cnncodec::Precision {
    fn from(p: Precision) -> Self {
        match p {
            Precision::Fp32 => Self::Fp32,
            Precision::Fp16 => Self::Fp16,
        }
    }
}

/// What `eval` codes and measures.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// The luma (BT.601, as Pillow's convert('L'))
    Luma,
    /// The RGB picture through full-range BT.601 I420 (the CNNs on luma)
    Rgb,
}

/// A model's networks (`--model`), or random ones of a given RecCNN size.
#[derive(Args, Clone, Debug)]
pub struct NetworkArgs {
    /// A model file or folder, or a built-in model's name (else random paper-size networks
    /// with --features and --depth)
    #[arg(long, value_name = "PATH|NAME")]
    pub model: Option<String>,
    /// RecCNN's feature channels (without --model)
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub features: usize,
    /// RecCNN's layers (without --model)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub depth: usize,
}

impl NetworkArgs {
    /// RecCNN's configuration: the model's, else one of `--features` x `--depth`.
    pub fn reccnn(&self) -> Result<cnncodec::net::architecture::RecCnnConfig, String> {
        Ok(match &self.model {
            Some(m) => crate::codec::ModelRef::parse(m)?.load()?.meta.reccnn,
            None => cnncodec::net::architecture::RecCnnConfig::new()
                .with_features(self.features)
                .with_depth(self.depth),
        })
    }
}

/// Training patches: their size, how many per batch, and the seed that draws them.
#[derive(Args, Clone, Copy, Debug)]
pub struct PatchArgs {
    /// Patch side, pixels
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub patch: usize,
    /// Patches per batch
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub batch: usize,
    /// The random seed
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

/// `yes` or `no`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

impl YesNo {
    pub fn yes(self) -> bool {
        self == Self::Yes
    }
}

/// How `train --init MODEL` starts RecCNN.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecInit {
    /// A new RecCNN, matconvnet initialisation (the model's when --features and --depth are
    /// not given)
    Fresh,
    /// The model's RecCNN widened and deepened to --features x --depth, computing the same
    /// function (Net2Net)
    Grow,
    /// The model's RecCNN with BatchNorm folded: trained in inference form
    Fold,
}

/// Which network the first stage of `train` trains.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstStage {
    /// RecCNN first (the paper's order)
    #[value(alias = "reccnn")]
    Rec,
    /// ComCNN first
    #[value(alias = "comcnn")]
    Com,
}

/// The codec's stand-in while ComCNN trains.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surrogate {
    /// The compact image reaches RecCNN as it is (the paper's)
    Identity,
    /// A differentiable JPEG proxy at the model's quality
    Jpeg,
}

impl From<Surrogate> for cnncodec::train::ComSurrogate {
    fn from(s: Surrogate) -> Self {
        match s {
            Surrogate::Identity => Self::Identity,
            Surrogate::Jpeg => Self::Jpeg,
        }
    }
}

/// The convolution backward pass training uses.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvBackward {
    /// Ours: the CPU kernels (`im2col` is its earlier name)
    #[value(alias = "im2col")]
    Fast,
    /// Burn's own, as runs before the fast one were made
    Generic,
}

/// The timings `bench` takes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// ComCNN on a full frame
    Comcnn,
    /// RecCNN on a full frame
    Reccnn,
    /// The decode step: bicubic x2, RecCNN, 8-bit rounding
    Decode,
}

impl From<Network> for cnncodec::eval::bench::Timed {
    fn from(n: Network) -> Self {
        match n {
            Network::Comcnn => Self::ComCnn,
            Network::Reccnn => Self::RecCnn,
            Network::Decode => Self::Decode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cnncodec").chain(args.iter().copied()))
    }

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_repeated_option_takes_its_last_value_and_repeatable_ones_collect() {
        let cli = parse(&[
            "eval", "--out", "a", "--model", "m1", "img.png", "--out", "b", "--model", "m2",
            "--codec", "jpeg2000",
        ])
        .unwrap();
        let Command::Eval(e) = cli.command else {
            panic!("not eval")
        };
        assert_eq!(e.out, PathBuf::from("b"));
        assert_eq!(e.models, ["m1", "m2"]);
        assert_eq!(e.images.images, [PathBuf::from("img.png")]);
        assert_eq!(e.codec.name(), "jpeg2000");
    }

    #[test]
    fn choices_keep_their_spellings() {
        let cli = parse(&[
            "train",
            "--out",
            "run",
            "--codec",
            "j2k",
            "--rec-init",
            "fold",
            "--batch-norm",
            "no",
            "--first-stage",
            "comcnn",
            "--com-surrogate",
            "jpeg",
            "--conv-backward",
            "im2col",
            "--backend",
            "cpu",
            "--stop-gain",
            "-0.5",
        ])
        .unwrap();
        let Command::Train(t) = cli.command else {
            panic!("not train")
        };
        assert_eq!(t.codec.name(), "jpeg2000");
        assert_eq!(t.rec_init, Some(RecInit::Fold));
        assert_eq!(t.batch_norm, Some(YesNo::No));
        assert_eq!(t.first_stage, FirstStage::Com);
        assert_eq!(t.com_surrogate, Some(Surrogate::Jpeg));
        assert_eq!(t.conv_backward, Some(ConvBackward::Fast));
        assert_eq!(t.stop_gain, Some(-0.5));
        assert!(parse(&["train", "--out", "run", "--codec", "png"]).is_err());
        assert!(parse(&["train"]).is_err(), "--out is required");
        let cli = parse(&[
            "bench",
            "--networks",
            "comcnn,decode",
            "--precision",
            "fp16",
        ])
        .unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("not bench")
        };
        assert_eq!(b.networks, [Network::Comcnn, Network::Decode]);
    }

    #[test]
    fn help_is_asked_for_not_failed() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["eval", "--help"],
            &["train", "-h"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(e.exit_code(), 0);
        }
        let e = parse(&[]).unwrap_err();
        assert_ne!(e.exit_code(), 0);
    }
}
