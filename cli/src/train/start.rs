//! A new run: its options from the command line, and the model it starts from (a fresh
//! initialisation, or a trained model as it is, with its RecCNN folded, grown or replaced),
//! with the provenance the model file keeps.

use cnncodec::codec::CompactCodec;
use cnncodec::net::architecture::{ComCnnConfig, RecCnnConfig};
use cnncodec::net::weights::content_hash;
use cnncodec::train::{initialise, InitScheme, TrainOptions, Trainer};
use cnncodec::{GrayImage, ModelWeights};

use super::{fast_backward, lr_range, scales_option, TrainArgs};
use crate::args::{FirstStage, RecInit, YesNo};
use crate::codec::{ModelRef, Stock, StockCodec};

/// What a new run starts from.
pub struct Start<'a> {
    pub args: &'a TrainArgs,
    /// The codec as model metadata names it.
    pub codec: &'static str,
    pub quality: u32,
    /// How the training images were chosen, for the provenance.
    pub dataset: &'a str,
    pub images: &'a [GrayImage],
}

/// A model to start from, and how it came to be (for the provenance).
type Origin = (ModelWeights, String);

impl Start<'_> {
    /// The trainer of the new run.
    pub fn trainer(&self) -> Result<Trainer, String> {
        let args = self.args;
        let options = self.options()?;
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| cnncodec::net::builtin::ladder_name(self.codec, self.quality));
        let (mut start, origin) = match args.init.parse::<InitScheme>() {
            Ok(_) if args.rec_init.is_some() || args.comcnn_from.is_some() => {
                let flag = if args.rec_init.is_some() {
                    "rec-init"
                } else {
                    "comcnn-from"
                };
                return Err(format!(
                    "--{flag}: only with --init MODEL (a trained model to start from), not --init {}",
                    args.init
                ));
            }
            Ok(scheme) => self.initialised(scheme, &name, &options),
            Err(_) => self.trained_model(&name, &options)?,
        };
        start.meta.name = name;
        start.meta.quality = self.quality;
        start.meta.codec = self.codec.into();
        start.meta.provenance = self.provenance(&options, &origin)?;
        Ok(Trainer::new(start, options)?)
    }

    /// The run's options: the command line's, else the defaults.
    fn options(&self) -> Result<TrainOptions, String> {
        let args = self.args;
        let defaults = TrainOptions::default();
        Ok(TrainOptions {
            patch: args.patches.patch,
            batch: args.patches.batch,
            steps_per_stage: args.steps,
            stages: args.stages.unwrap_or(4),
            seed: args.patches.seed,
            rec_lr: lr_range(args.rec_lr.as_deref(), "rec-lr", defaults.rec_lr)?,
            com_lr: lr_range(args.com_lr.as_deref(), "com-lr", defaults.com_lr)?,
            min_dev_gain_db: args.stop_gain,
            checkpoint_every: args.checkpoint_every.unwrap_or(100),
            comcnn_first: args.first_stage == FirstStage::Com,
            fast_conv_backward: fast_backward(args).unwrap_or(true),
            scales: scales_option(args)?.unwrap_or_else(|| defaults.scales.clone()),
            curve_every: args.curve_every.unwrap_or(0),
            loss_margin: args.loss_margin.unwrap_or(0),
            patch_candidates: args.patch_candidates.unwrap_or(defaults.patch_candidates),
            com_surrogate: args.com_surrogate.map(Into::into).unwrap_or_default(),
        })
    }

    /// Whether a new RecCNN has BatchNorm (`--batch-norm`, default yes).
    fn batch_norm(&self) -> bool {
        self.args.batch_norm.is_none_or(YesNo::yes)
    }

    /// New networks of the command line's sizes, initialised by `scheme`.
    fn initialised(&self, scheme: InitScheme, name: &str, options: &TrainOptions) -> Origin {
        let args = self.args;
        let features = args.features.unwrap_or(64);
        let mut w = ModelWeights::random(
            name,
            ComCnnConfig::new().with_features(args.com_features.unwrap_or(features)),
            RecCnnConfig::new()
                .with_features(features)
                .with_depth(args.depth.unwrap_or(20))
                .with_batch_norm(self.batch_norm()),
            options.seed,
        );
        initialise(&mut w, scheme, options.seed);
        (
            w,
            format!("{} initialisation, seed {}", args.init, options.seed),
        )
    }

    /// The `--init` model, its RecCNN as `--rec-init`, `--features` and `--depth` say.
    fn trained_model(&self, name: &str, options: &TrainOptions) -> Result<Origin, String> {
        let args = self.args;
        let init = &args.init;
        let from = ModelRef::parse(init)
            .and_then(|m| m.load())
            .map_err(|e| format!("--init {init}: not matconvnet, downsampler or a model ({e})"))?;
        let origin = format!(
            "initialised from '{}' (content hash {}; {})",
            from.meta.name, from.meta.content_hash, from.meta.provenance
        );
        let (from, origin) = match &args.comcnn_from {
            Some(other) => with_comcnn_of(from, other, &origin)?,
            None => (from, origin),
        };
        let rec_init = args.rec_init.unwrap_or(RecInit::Fresh);
        let resized = args.features.is_some() || args.depth.is_some();
        match (rec_init, resized) {
            (RecInit::Fold, true) => Err(
                "--rec-init fold keeps the model's RecCNN size; drop --features and --depth".into(),
            ),
            (RecInit::Fold, false) => Ok(folded(from, &origin)),
            (RecInit::Grow, false) => {
                Err("--rec-init grow: say how big with --features and/or --depth".into())
            }
            (RecInit::Fresh, false) => Ok((from, origin)),
            (RecInit::Grow, true) => self.grown(from, &origin, options),
            (RecInit::Fresh, true) => Ok(self.new_reccnn(from, &origin, name, options)),
        }
    }

    /// The RecCNN size the command line asks for, the model's where it says nothing.
    fn reccnn_size(&self, from: &ModelWeights) -> RecCnnConfig {
        RecCnnConfig::new()
            .with_features(self.args.features.unwrap_or(from.meta.reccnn.features))
            .with_depth(self.args.depth.unwrap_or(from.meta.reccnn.depth))
    }

    /// The model's RecCNN widened and deepened, computing the same function (Net2Net).
    fn grown(
        &self,
        from: ModelWeights,
        origin: &str,
        options: &TrainOptions,
    ) -> Result<Origin, String> {
        let to = self.reccnn_size(&from);
        // BatchNorm statistics of the new layers: the first images, up to 128x128 each
        // (their top-left corner).
        let samples: Vec<_> = self
            .images
            .iter()
            .take(16)
            .map(|i| i.to_unit().cropped(i.width.min(128), i.height.min(128)))
            .collect();
        let rec = cnncodec::train::grow::grow_reccnn(
            &from.reccnn,
            &from.meta.reccnn,
            &to,
            &samples,
            options.seed,
        )?;
        let grown = format!(
            "RecCNN grown from {} x {} to {} x {} (Net2Net: channels copied with random \
             splits, identity layers; the same function), seed {}",
            from.meta.reccnn.features, from.meta.reccnn.depth, to.features, to.depth, options.seed
        );
        let mut w = from;
        w.reccnn = rec;
        w.meta.reccnn = to;
        w.meta.content_hash = content_hash(&w.comcnn, &w.reccnn);
        Ok((w, format!("{origin}; {grown}")))
    }

    /// A new RecCNN (for example a smaller, faster one) behind the model's ComCNN.
    fn new_reccnn(
        &self,
        from: ModelWeights,
        origin: &str,
        name: &str,
        options: &TrainOptions,
    ) -> Origin {
        let rec = self.reccnn_size(&from).with_batch_norm(self.batch_norm());
        let mut w = ModelWeights::random(name, from.meta.comcnn.clone(), rec.clone(), options.seed);
        initialise(&mut w, InitScheme::MatConvNet, options.seed);
        w.comcnn = from.comcnn;
        w.meta.content_hash = content_hash(&w.comcnn, &w.reccnn);
        (
            w,
            format!(
                "ComCNN {origin}; RecCNN of {} features x {} layers, matconvnet initialisation, seed {}",
                rec.features, rec.depth, options.seed
            ),
        )
    }

    /// What the model file says about how it was made.
    fn provenance(&self, options: &TrainOptions, origin: &str) -> Result<String, String> {
        let codec = self.codec;
        Ok(format!(
            "cnncodec train on {} ({} images), codec {}, options {options:?}, {origin}; command `cnncodec train {}`, commit {}",
            self.dataset,
            self.images.len(),
            match &self.args.mix_qualities {
                Some(list) => format!("{codec} with the quality (JPEG) or ratio (J2K) cycling over {list} image by image"),
                None => match crate::video_codec::VideoKind::from_codec(codec) {
                    Some(kind) => {
                        crate::video_codec::StreamingCodec::new(kind, self.quality).describe()
                    }
                    None => StockCodec(Stock::for_model(codec, self.quality)?).describe(),
                },
            },
            crate::command_arguments(),
            option_env!("COMMIT_ID").unwrap_or("unknown")
        ))
    }
}

/// `from` with the ComCNN of the model `other` in place of its own.
fn with_comcnn_of(from: ModelWeights, other: &str, origin: &str) -> Result<Origin, String> {
    let donor = comcnn_donor(other)?;
    if donor.meta.codec != from.meta.codec {
        return Err(format!(
            "--comcnn-from {other}: its ComCNN was trained for {} and the --init model for {}; give a {} model",
            donor.meta.codec, from.meta.codec, from.meta.codec
        ));
    }
    let described = format!("{origin}; {}", comcnn_replaced_by(&donor));
    let mut w = from;
    w.comcnn = donor.comcnn;
    w.meta.comcnn = donor.meta.comcnn;
    w.meta.content_hash = content_hash(&w.comcnn, &w.reccnn);
    Ok((w, described))
}

/// The model `--comcnn-from` names.
pub fn comcnn_donor(spec: &str) -> Result<ModelWeights, String> {
    ModelRef::parse(spec)
        .and_then(|m| m.load())
        .map_err(|e| format!("--comcnn-from {spec}: {e}"))
}

/// What a run's provenance says when its ComCNN came from `donor` (resuming checks for it).
pub fn comcnn_replaced_by(donor: &ModelWeights) -> String {
    format!(
        "its ComCNN replaced by that of '{}' (content hash {}, ComCNN hash {})",
        donor.meta.name,
        donor.meta.content_hash,
        donor.comcnn_hash()
    )
}

/// The model with its RecCNN's BatchNorm folded (trained in inference form).
fn folded(from: ModelWeights, origin: &str) -> Origin {
    let (rec, cfg) = cnncodec::net::weights::fold_batch_norm(&from.reccnn, &from.meta.reccnn);
    let mut w = from;
    w.reccnn = rec;
    w.meta.reccnn = cfg;
    w.meta.content_hash = content_hash(&w.comcnn, &w.reccnn);
    (
        w,
        format!("{origin}; RecCNN BatchNorm folded (trained in inference form)"),
    )
}
