//! `cnncodec bench`: ms per frame and GFLOP/s of both networks and of the decode step, beside
//! the machine's peak; `cnncodec bench-train`: seconds per RecCNN training step with burn's
//! generic and our convolution backward.

use crate::args::{BackendArg, Network, NetworkArgs, Precision, YesNo};

/// Inference speed of the networks.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Frames timed per size
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub frames: usize,
    /// Frame sizes
    #[arg(long, value_name = "WxH[,WxH...]", default_value = "352x288,1280x720")]
    pub sizes: String,
    #[command(flatten)]
    pub backend: BackendArg,
    /// The float type the networks compute in (fp16: CUDA only)
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// What to time [default: all three]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "NET[,NET...]")]
    pub networks: Vec<Network>,
}

/// Training speed of RecCNN.
#[derive(clap::Args, Debug)]
pub struct BenchTrainArgs {
    /// Steps timed
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub steps: usize,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Patches per batch
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub batch: usize,
    /// Patch side, pixels
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub patch: usize,
    /// Also time burn's generic backward
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub generic: YesNo,
}

/// Training speed: RecCNN steps with burn's and our convolution backward.
pub fn run_bench_train(args: &BenchTrainArgs) -> Result<(), String> {
    let rec = args.network.reccnn()?;
    print!(
        "{}",
        cnncodec::train::throughput::train_step_report(
            &rec,
            args.batch,
            args.patch,
            args.steps,
            args.generic.yes(),
        )
    );
    Ok(())
}

/// `WxH[,WxH...]`.
fn parse_sizes(list: &str) -> Result<Vec<(usize, usize)>, String> {
    list.split(',')
        .map(|s| {
            let (w, h) = s.split_once('x').ok_or(format!("bad size '{s}'"))?;
            Ok((
                w.parse().map_err(|_| format!("bad size '{s}'"))?,
                h.parse().map_err(|_| format!("bad size '{s}'"))?,
            ))
        })
        .collect()
}

pub fn run_bench(args: &BenchArgs) -> Result<(), String> {
    let sizes = parse_sizes(&args.sizes)?;
    let weights = match &args.network.model {
        Some(m) => crate::codec::ModelRef::parse(m)?.load()?,
        None => cnncodec::ModelWeights::random(
            "paper-size networks",
            cnncodec::net::architecture::ComCnnConfig::new(),
            args.network.reccnn()?,
            1,
        ),
    };
    let timed: Vec<cnncodec::eval::bench::Timed> = if args.networks.is_empty() {
        cnncodec::eval::bench::Timed::ALL.to_vec()
    } else {
        args.networks.iter().map(|&n| n.into()).collect()
    };
    print!(
        "{}",
        cnncodec::eval::bench::report_for(
            &weights,
            args.frames,
            &sizes,
            args.backend.backend.into(),
            args.precision.into(),
            &timed
        )?
    );
    Ok(())
}
