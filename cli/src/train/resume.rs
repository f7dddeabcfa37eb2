//! Resuming a run from its checkpoint: the checkpoint's options win; only the number of
//! stages (and how often the run checkpoints and measures) may change, and options that
//! would change what is trained are refused.

use cnncodec::train::Trainer;

use super::{fast_backward, scales_option, TrainArgs};

/// The run in `--out`, resumed.
pub fn resume(args: &TrainArgs, codec: &str, quality: u32) -> Result<Trainer, String> {
    let out = &args.out;
    let mut t = Trainer::resume(out)?;
    // Only the number of stages may change on resume (to extend a run).
    let stages = args.stages.unwrap_or(t.state.options.stages);
    if stages < t.state.stages_done {
        return Err(format!(
            "--stages {stages}: the run in '{}' has already done {} stages",
            out.display(),
            t.state.stages_done
        ));
    }
    t.state.options.stages = stages;
    if let Some(n) = args.checkpoint_every {
        t.state.options.checkpoint_every = n;
    }
    if let Some(n) = args.curve_every {
        t.state.options.curve_every = n;
    }
    refuse_changes(args, &t, codec, quality)?;
    if t.state.stage_step > 0 {
        eprintln!(
            "train: resuming '{}' at step {} of stage {} ({} stages)",
            out.display(),
            t.state.stage_step,
            t.state.stages_done,
            t.state.options.stages
        );
    } else {
        eprintln!(
            "train: resuming '{}' after stage {} of {}",
            out.display(),
            t.state.stages_done,
            t.state.options.stages
        );
    }
    Ok(t)
}

/// An error for each option given that differs from the run's own, or that only a new run
/// takes.
fn refuse_changes(args: &TrainArgs, t: &Trainer, codec: &str, quality: u32) -> Result<(), String> {
    let out = args.out.display();
    if t.weights.meta.codec != codec && args.codec.given() {
        return Err(format!(
            "--codec: the run in '{out}' trains for {}; resume without --codec or start a new run",
            t.weights.meta.codec
        ));
    }
    if args.quality.is_some() && quality != t.weights.meta.quality {
        return Err(format!(
            "--quality {quality}: the run in '{out}' trains for quality {}; resume without --quality or start a new run",
            t.weights.meta.quality
        ));
    }
    let options = &t.state.options;
    if fast_backward(args).is_some_and(|fast| fast != options.fast_conv_backward) {
        return Err(format!(
            "--conv-backward: the run in '{out}' trains with the {} backward; resume without --conv-backward or start a new run",
            if options.fast_conv_backward { "fast" } else { "generic" }
        ));
    }
    if scales_option(args)?.is_some_and(|s| s != options.scales) {
        return Err(format!(
            "--scales: the run in '{out}' trains on scales {:?}; resume without --scales or start a new run",
            options.scales
        ));
    }
    if args
        .patch_candidates
        .is_some_and(|k| k != options.patch_candidates)
    {
        return Err(format!(
            "--patch-candidates: the run in '{out}' draws each patch from {} candidates; resume without --patch-candidates or start a new run",
            options.patch_candidates
        ));
    }
    if let Some(spec) = &args.comcnn_from {
        // The same command again resumes; another ComCNN would start another run.
        let donor = super::start::comcnn_donor(spec)?;
        if !t
            .weights
            .meta
            .provenance
            .contains(&super::start::comcnn_replaced_by(&donor))
        {
            return Err(format!(
                "--comcnn-from {spec}: the run in '{out}' did not start from that model's ComCNN; resume with the --comcnn-from it started with, or start a new run"
            ));
        }
    }
    let given = [
        ("rec-init", args.rec_init.is_some()),
        ("batch-norm", args.batch_norm.is_some()),
        ("com-surrogate", args.com_surrogate.is_some()),
        ("loss-margin", args.loss_margin.is_some()),
    ];
    if let Some((flag, _)) = given.into_iter().find(|(_, given)| *given) {
        return Err(format!(
            "--{flag}: the run in '{out}' has started; resume without --{flag} or start a new run"
        ));
    }
    Ok(())
}
