//! The alternating trainer's stages and steps, and the dev-eval PSNR its learning curve records.

use super::*;

/// What a stage loop does after a step.
pub(super) enum AfterStep {
    Continue,
    Save,
    SaveAndStop,
}

impl<B: TrainOn> Trainer<B> {
    /// Starts from `weights` (for example [`ModelWeights::random`]).
    pub fn new(weights: ModelWeights, options: TrainOptions) -> Result<Self, TrainError> {
        if options.patch < 4 || !options.patch.is_multiple_of(2) {
            return Err(TrainError::Invalid(format!(
                "patch {} must be even and at least 4",
                options.patch
            )));
        }
        if 2 * options.loss_margin >= options.patch {
            return Err(TrainError::Invalid(format!(
                "loss margin {} leaves nothing of a {}-pixel patch",
                options.loss_margin, options.patch
            )));
        }
        if options.patch_candidates == 0 {
            return Err(TrainError::Invalid(
                "patch candidates must be at least 1".into(),
            ));
        }
        if options.batch == 0 || options.steps_per_stage == 0 {
            return Err(TrainError::Invalid(
                "batch and steps per stage must be positive".into(),
            ));
        }
        let rng = options.seed;
        Ok(Self {
            weights,
            state: TrainState {
                options,
                stages_done: 0,
                rng,
                stage_losses: vec![],
                model_hash: String::new(),
                dev_psnr: vec![],
                stage_step: 0,
                stage_loss_sum: 0.0,
                curve: vec![],
            },
            stop_after: None,
            saved_moments: None,
            steps_this_run: 0,
            backend: std::marker::PhantomData,
        })
    }

    /// The same run on another backend (its weights, state and optimiser moments move).
    pub fn on<C: TrainOn>(self) -> Trainer<C> {
        Trainer {
            weights: self.weights,
            state: self.state,
            stop_after: self.stop_after,
            saved_moments: self.saved_moments,
            steps_this_run: self.steps_this_run,
            backend: std::marker::PhantomData,
        }
    }

    /// Resumes from a checkpoint written by [`Trainer::save_checkpoint`] (inside a stage too).
    pub fn resume(dir: &Path) -> Result<Self, TrainError> {
        let weights = ModelWeights::load(&checkpoint_model(dir))?;
        let text = std::fs::read_to_string(dir.join("checkpoint.json")).map_err(|e| {
            TrainError::Io(dir.join("checkpoint.json").to_path_buf(), e.to_string())
        })?;
        let state: TrainState = serde_json::from_str(&text)
            .map_err(|e| TrainError::Io(dir.join("checkpoint.json"), e.to_string()))?;
        if state.model_hash != weights.meta.content_hash {
            return Err(TrainError::Invalid(format!(
                "{}: the checkpoint model and its state do not belong together (interrupted while saving?); restart the run or restore both files",
                dir.display()
            )));
        }
        let saved_moments = if state.stage_step > 0 {
            Some(read_moments(
                &checkpoint_moments(dir),
                &weights.meta.content_hash,
            )?)
        } else {
            None
        };
        Ok(Self {
            weights,
            state,
            stop_after: None,
            saved_moments,
            steps_this_run: 0,
            backend: std::marker::PhantomData,
        })
    }

    /// Writes `checkpoint.cnnmodel` and `checkpoint.json` into `dir` (each atomically).
    pub fn save_checkpoint(&mut self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| TrainError::Io(dir.to_path_buf(), e.to_string()))?;
        self.state.model_hash = self.weights.meta.content_hash.clone();
        self.weights.save(&checkpoint_model(dir))?;
        let json = dir.join("checkpoint.json");
        let tmp = json.with_extension("partial");
        std::fs::write(&tmp, serde_json::to_string_pretty(&self.state).unwrap())
            .and_then(|_| std::fs::rename(&tmp, &json))
            .map_err(|e| TrainError::Io(json.to_path_buf(), e.to_string()))
    }

    /// Runs the remaining stages, checkpointing into `dir` after each (and inside each, with
    /// `checkpoint_every`). With `dev` images and `min_dev_gain_db`, each RecCNN stage is
    /// followed by a measurement on `dev` (never trained on); the run stops once a stage gains
    /// less than that, and the best model so far is kept as `best.cnnmodel` in `dir`.
    pub fn run(
        &mut self,
        images: &[GrayImage],
        dev: &[GrayImage],
        codec: &dyn CompactCodec,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<RunEnd, TrainError> {
        let p = self.state.options.patch;
        let scaled = scaled_images(images, &self.state.options.scales);
        let usable: Vec<&GrayImage> = scaled
            .iter()
            .filter(|i| i.width >= p && i.height >= p)
            .collect();
        if usable.is_empty() {
            return Err(TrainError::Invalid(format!(
                "no training image is at least {p}x{p}"
            )));
        }
        self.steps_this_run = 0;
        let fresh = self.state.stages_done == 0 && self.state.stage_step == 0;
        if fresh && self.state.options.curve_every > 0 && !dev.is_empty() {
            // The curve's first point: where the run starts.
            let start = self.weights.clone();
            self.add_curve_point(&start, dev, codec, 0, "start", 0, dir)?;
        }
        while self.state.stages_done < self.state.options.stages {
            let stage = self.state.stages_done;
            let rec_turn = stage.is_multiple_of(2) != self.state.options.comcnn_first;
            let loss = if rec_turn {
                self.rec_stage(&usable, codec, dev, stage, dir, report)?
            } else {
                self.com_stage(&usable, codec, dev, stage, dir, report)?
            };
            let Some(loss) = loss else {
                return Ok(RunEnd::Stopped);
            };
            self.state.stage_losses.push(loss);
            self.state.stages_done += 1;
            self.state.stage_step = 0;
            self.state.stage_loss_sum = 0.0;
            if let (Some(min_gain), false, true) =
                (self.state.options.min_dev_gain_db, dev.is_empty(), rec_turn)
            {
                let best = self
                    .state
                    .dev_psnr
                    .iter()
                    .map(|d| d.1)
                    .fold(f64::MIN, f64::max);
                // With a learning curve, these weights were measured at the stage's last step.
                let stage_end = self.state.stages_done * self.state.options.steps_per_stage;
                let now = match self.state.curve.last() {
                    Some(p) if p.step == stage_end => p.dev_psnr,
                    _ => dev_psnr(&self.weights, dev, codec)?,
                };
                self.state.dev_psnr.push((stage, now));
                if now > best {
                    if let Some(dir) = dir {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| TrainError::Io(dir.to_path_buf(), e.to_string()))?;
                        self.weights.save(&dir.join("best.cnnmodel"))?;
                    }
                }
                if best > f64::MIN && now - best < min_gain {
                    // The RD stopped improving: this is the last stage.
                    self.state.options.stages = self.state.stages_done;
                }
            }
            if let Some(dir) = dir {
                self.save_checkpoint(dir)?;
                // Moments belong to a checkpoint inside a stage; this one is at a boundary.
                let _ = std::fs::remove_file(checkpoint_moments(dir));
            }
            let more = self.state.stages_done < self.state.options.stages;
            if more && self.stop_after.is_some_and(|n| self.steps_this_run >= n) {
                return Ok(RunEnd::Stopped);
            }
        }
        Ok(RunEnd::Finished)
    }

    /// Whether a learning-curve point is due after `done` steps of the current stage.
    fn curve_due(&self, done: usize, dev: &[GrayImage]) -> bool {
        let every = self.state.options.curve_every;
        !dev.is_empty()
            && every > 0
            && (done.is_multiple_of(every) || done == self.state.options.steps_per_stage)
    }

    /// Measures `weights` on `dev` and records it as the curve's point after `done` steps of
    /// `stage` (replacing a point of the same step, left by an interrupted run), writing
    /// `curve.csv` into `dir`.
    #[allow(clippy::too_many_arguments)]
    fn add_curve_point(
        &mut self,
        weights: &ModelWeights,
        dev: &[GrayImage],
        codec: &dyn CompactCodec,
        stage: usize,
        network: &str,
        done: usize,
        dir: Option<&Path>,
    ) -> Result<(), TrainError> {
        let step = stage * self.state.options.steps_per_stage + done;
        let dev_psnr = dev_psnr(weights, dev, codec)?;
        self.state.curve.retain(|p| p.step < step);
        self.state.curve.push(CurvePoint {
            step,
            stage,
            network: network.into(),
            dev_psnr,
        });
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| TrainError::Io(dir.to_path_buf(), e.to_string()))?;
            let path = dir.join("curve.csv");
            std::fs::write(&path, curve_csv(&self.state.curve))
                .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))?;
        }
        Ok(())
    }

    /// Counts a step and says whether to checkpoint (or stop) after `done` of `steps`.
    fn after_step(&mut self, done: usize, steps: usize) -> AfterStep {
        self.steps_this_run += 1;
        if done >= steps {
            return AfterStep::Continue; // the stage's end saves
        }
        let every = self.state.options.checkpoint_every;
        if self.stop_after.is_some_and(|n| self.steps_this_run >= n) {
            AfterStep::SaveAndStop
        } else if every > 0 && done.is_multiple_of(every) {
            AfterStep::Save
        } else {
            AfterStep::Continue
        }
    }

    /// Records a point inside a stage (`weights` now, `done` steps, their `loss_sum`, the
    /// random stream) and writes it with Adam's moments when there is a `dir`.
    #[allow(clippy::too_many_arguments)]
    fn save_inside_stage<M: AutodiffModule<B>>(
        &mut self,
        dir: Option<&Path>,
        weights: ModelWeights,
        module: &M,
        optim: &OptimizerAdaptor<Adam, M, B>,
        done: usize,
        loss_sum: f64,
        rng: &Rng,
    ) -> Result<(), TrainError> {
        self.weights = weights;
        self.state.stage_step = done;
        self.state.stage_loss_sum = loss_sum;
        self.state.rng = rng.0;
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| TrainError::Io(dir.to_path_buf(), e.to_string()))?;
            write_moments(
                &checkpoint_moments(dir),
                &self.weights.meta.content_hash,
                &collect_moments(module, optim),
            )?;
            self.save_checkpoint(dir)?;
        }
        Ok(())
    }

    /// The model with `rec` (training form) as its RecCNN, in the stored (inference) form.
    fn with_reccnn(&self, rec: &RecCnn<B>) -> ModelWeights {
        let com = self.weights.comcnn::<B::InnerBackend>(&Default::default());
        let mut trained =
            ModelWeights::from_networks(self.weights.meta.clone(), &com, &rec.valid());
        shift_running_var(&mut trained, TRAIN_BN_EPSILON as f32);
        trained.meta.content_hash =
            crate::net::weights::content_hash(&trained.comcnn, &trained.reccnn);
        trained
    }

    /// The model with `com` as its ComCNN.
    fn with_comcnn(&self, com: &ComCnn<B>) -> ModelWeights {
        let rec_kept = self.weights.reccnn::<B::InnerBackend>(&Default::default());
        ModelWeights::from_networks(self.weights.meta.clone(), &com.valid(), &rec_kept)
    }

    /// A fresh Adam, or the one saved inside this stage.
    fn stage_optimizer<M: AutodiffModule<B>>(
        &mut self,
        module: &M,
    ) -> Result<OptimizerAdaptor<Adam, M, B>, TrainError> {
        let optim = AdamConfig::new().init();
        match self.saved_moments.take() {
            Some(saved) if self.state.stage_step > 0 => restore_moments(module, optim, saved),
            _ => Ok(optim),
        }
    }

    /// One RecCNN stage; `None` when stopped inside it.
    #[allow(clippy::too_many_arguments)]
    fn rec_stage(
        &mut self,
        images: &[&GrayImage],
        codec: &dyn CompactCodec,
        dev: &[GrayImage],
        stage: usize,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<Option<f64>, TrainError> {
        let opts = self.state.options.clone();
        // Inputs through the frozen ComCNN and the real codec, once per stage (again on a
        // resume inside the stage: ComCNN has not changed, so neither have they).
        let pairs = reccnn_inputs(&self.weights, images, codec)?;
        let device: B::Device = Default::default();
        let mut for_training = self.weights.clone();
        shift_running_var(&mut for_training, -(TRAIN_BN_EPSILON as f32));
        let mut rec: RecCnn<B> = for_training.reccnn(&device);
        use_training_epsilon(&mut rec);
        let mut optim = self.stage_optimizer(&rec)?;
        let mut rng = Rng(self.state.rng);
        let mut total = self.state.stage_loss_sum;
        for step in self.state.stage_step..opts.steps_per_stage {
            let (mut inp, mut tgt) = (vec![], vec![]);
            for _ in 0..opts.batch {
                let (up, orig, x, y) =
                    hardest_of_candidates(&pairs, opts.patch, opts.patch_candidates, &mut rng);
                let aug = rng.below(8);
                let u = patch_of(up, x, y, opts.patch, aug);
                let o = patch_of(orig, x, y, opts.patch, aug);
                tgt.extend(u.iter().zip(&o).map(|(a, b)| a - b));
                inp.extend(u);
            }
            let shape = [opts.batch, 1, opts.patch, opts.patch];
            let input = Tensor::<B, 4>::from_data(TensorData::new(inp, shape), &device);
            let target = Tensor::<B, 4>::from_data(TensorData::new(tgt, shape), &device);
            let residual = rec_forward(&rec, input, opts.fast_conv_backward);
            let loss = match opts.loss_margin {
                0 => mse(residual, target),
                m => {
                    // Only pixels whose receptive field stays inside the patch (as almost all
                    // of a whole image's do) count.
                    let inner = [0..opts.batch, 0..1, m..opts.patch - m, m..opts.patch - m];
                    mse(residual.slice(inner.clone()), target.slice(inner))
                }
            };
            let at = StepReport {
                stage,
                network: "RecCNN",
                step,
                steps: opts.steps_per_stage,
                loss: 0.0,
                lr: lr_at(opts.rec_lr, step, opts.steps_per_stage),
            };
            let value;
            (rec, value) = descend(rec, &mut optim, loss, at, report);
            total += value;
            if self.curve_due(step + 1, dev) {
                let now = self.with_reccnn(&rec);
                self.add_curve_point(&now, dev, codec, stage, "RecCNN", step + 1, dir)?;
            }
            match self.after_step(step + 1, opts.steps_per_stage) {
                AfterStep::Continue => {}
                then => {
                    let now = self.with_reccnn(&rec);
                    self.save_inside_stage(dir, now, &rec, &optim, step + 1, total, &rng)?;
                    if let AfterStep::SaveAndStop = then {
                        return Ok(None);
                    }
                }
            }
        }
        self.state.rng = rng.0;
        self.weights = self.with_reccnn(&rec);
        Ok(Some(total / opts.steps_per_stage as f64))
    }

    /// One ComCNN stage; `None` when stopped inside it.
    #[allow(clippy::too_many_arguments)]
    fn com_stage(
        &mut self,
        images: &[&GrayImage],
        codec: &dyn CompactCodec,
        dev: &[GrayImage],
        stage: usize,
        dir: Option<&Path>,
        report: &mut dyn FnMut(&StepReport),
    ) -> Result<Option<f64>, TrainError> {
        let opts = self.state.options.clone();
        let device: B::Device = Default::default();
        let mut com: ComCnn<B> = self.weights.comcnn(&device);
        // RecCNN frozen in inference form; only ComCNN's parameters are stepped.
        let rec: RecCnn<B> = self.weights.reccnn_folded(&device).no_grad();
        let (p, h) = (opts.patch, opts.patch / 2);
        let up_matrix =
            Tensor::<B, 2>::from_data(TensorData::new(resize_matrix(h, p), [p, h]), &device);
        let up_rows = up_matrix
            .clone()
            .reshape([1, 1, p, h])
            .repeat_dim(0, opts.batch);
        let up_cols = up_matrix
            .transpose()
            .reshape([1, 1, h, p])
            .repeat_dim(0, opts.batch);
        let proxy =
            match opts.com_surrogate {
                ComSurrogate::Identity => None,
                ComSurrogate::Jpeg if self.weights.meta.codec == "jpeg" => Some(
                    JpegProxy::<B>::new(h, h, self.weights.meta.quality, &device),
                ),
                ComSurrogate::Jpeg => {
                    return Err(TrainError::Invalid(format!(
                        "the JPEG proxy stands in for JPEG; this model's codec is {}",
                        self.weights.meta.codec
                    )))
                }
            };
        let originals: Vec<Plane> = images.iter().map(|i| i.to_unit()).collect();
        let mut optim = self.stage_optimizer(&com)?;
        let mut rng = Rng(self.state.rng);
        let mut total = self.state.stage_loss_sum;
        for step in self.state.stage_step..opts.steps_per_stage {
            let mut inp = vec![];
            for _ in 0..opts.batch {
                let orig = &originals[rng.below(originals.len())];
                let (x, y) = (
                    rng.below(orig.width - p + 1),
                    rng.below(orig.height - p + 1),
                );
                inp.extend(patch_of(orig, x, y, p, rng.below(8)));
            }
            let x = Tensor::<B, 4>::from_data(TensorData::new(inp, [opts.batch, 1, p, p]), &device);
            // [b, 1, p, p] -> [b, 1, p/2, p/2] -> bicubic x2 -> [b, 1, p, p]
            let compact = com.forward(x.clone());
            let compact = match &proxy {
                Some(proxy) => proxy.forward(compact),
                None => compact,
            };
            let up = up_rows.clone().matmul(compact).matmul(up_cols.clone());
            let restored = up.clone() - rec_forward(&rec, up, opts.fast_conv_backward);
            let loss = mse(restored, x);
            let at = StepReport {
                stage,
                network: "ComCNN",
                step,
                steps: opts.steps_per_stage,
                loss: 0.0,
                lr: lr_at(opts.com_lr, step, opts.steps_per_stage),
            };
            let value;
            (com, value) = descend(com, &mut optim, loss, at, report);
            total += value;
            if self.curve_due(step + 1, dev) {
                let now = self.with_comcnn(&com);
                self.add_curve_point(&now, dev, codec, stage, "ComCNN", step + 1, dir)?;
            }
            match self.after_step(step + 1, opts.steps_per_stage) {
                AfterStep::Continue => {}
                then => {
                    let now = self.with_comcnn(&com);
                    self.save_inside_stage(dir, now, &com, &optim, step + 1, total, &rng)?;
                    if let AfterStep::SaveAndStop = then {
                        return Ok(None);
                    }
                }
            }
        }
        self.state.rng = rng.0;
        self.weights = self.with_comcnn(&com);
        Ok(Some(total / opts.steps_per_stage as f64))
    }
}

/// Mean PSNR (dB) of the framework with `weights` over `images`, through `codec`.
pub fn dev_psnr(
    weights: &ModelWeights,
    images: &[GrayImage],
    codec: &dyn CompactCodec,
) -> Result<f64, TrainError> {
    let engine = crate::net::cpu::CpuEngine::new(weights);
    codec.start_pass();
    let mut total = 0.0;
    for img in images {
        let decoded = codec.code(&compress_luma(&engine, img))?;
        let restored = restore_luma(&engine, &decoded, img.width, img.height);
        total += crate::eval::metrics::psnr(img, &restored).min(100.0);
    }
    Ok(total / images.len().max(1) as f64)
}
