//! Checkpoints: the model file and Adam's moments saved inside a stage, so an interrupted run
//! resumes where it stopped.

use super::*;

/// One parameter's Adam moments, saved with a checkpoint taken inside a stage.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Moments {
    time: usize,
    shape: Vec<usize>,
    first: Vec<f32>,
    second: Vec<f32>,
}

/// Collects each parameter's Adam moments in the module's visiting order (parameter ids are
/// not stable across runs; the order is).
pub(super) struct CollectMoments<'a, B: AutodiffBackend> {
    lookup: &'a dyn Fn(&ParamId) -> Option<AdaptorRecord<Adam, B>>,
    out: Vec<Option<Moments>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for CollectMoments<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let moments = (self.lookup)(&param.id).map(|record| {
            let state: AdamState<B::InnerBackend, D> = record.into_state();
            let m = state.momentum;
            Moments {
                time: m.time,
                shape: m.moment_1.dims().to_vec(),
                first: m.moment_1.into_data().to_vec::<f32>().unwrap_or_default(),
                second: m.moment_2.into_data().to_vec::<f32>().unwrap_or_default(),
            }
        });
        self.out.push(moments);
    }
}

/// Rebuilds Adam's records for a freshly built module from moments saved in visiting order.
pub(super) struct RestoreMoments<B: AutodiffBackend> {
    saved: VecDeque<Option<Moments>>,
    records: Vec<(ParamId, AdaptorRecord<Adam, B>)>,
    error: Option<String>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for RestoreMoments<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some(saved) = self.saved.pop_front() else {
            self.error =
                Some("the saved optimiser state has fewer parameters than the network".into());
            return;
        };
        let Some(m) = saved else { return };
        let dims = param.val().dims().to_vec();
        if m.shape != dims || m.first.len() != m.second.len() {
            self.error = Some(format!(
                "the saved optimiser state has shape {:?} where the network has {dims:?}",
                m.shape
            ));
            return;
        }
        let device = param.val().device();
        let tensor = |v: Vec<f32>| {
            Tensor::<B::InnerBackend, D>::from_data(TensorData::new(v, m.shape.clone()), &device)
        };
        let state = AdamState::new(AdaptiveMomentumState::new(
            m.time,
            tensor(m.first.clone()),
            tensor(m.second.clone()),
        ));
        self.records
            .push((param.id, AdaptorRecord::from_state(state)));
    }
}

pub(super) fn collect_moments<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    optim: &OptimizerAdaptor<Adam, M, B>,
) -> Vec<Option<Moments>> {
    let records = optim.to_record();
    let lookup = |id: &ParamId| records.get(id).cloned();
    let mut visitor = CollectMoments {
        lookup: &lookup,
        out: vec![],
    };
    module.visit(&mut visitor);
    visitor.out
}

pub(super) fn restore_moments<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    optim: OptimizerAdaptor<Adam, M, B>,
    saved: Vec<Option<Moments>>,
) -> Result<OptimizerAdaptor<Adam, M, B>, TrainError> {
    let mut visitor = RestoreMoments {
        saved: saved.into(),
        records: vec![],
        error: None,
    };
    module.visit(&mut visitor);
    if let Some(e) = visitor.error {
        return Err(TrainError::Invalid(e));
    }
    if !visitor.saved.is_empty() {
        return Err(TrainError::Invalid(
            "the saved optimiser state has more parameters than the network".into(),
        ));
    }
    let mut records = optim.to_record();
    records.extend(visitor.records);
    Ok(optim.load_record(records))
}

pub(super) const MOMENTS_MAGIC: &[u8; 8] = b"CNNADAM1";

/// Writes moments (tied to the model with content hash `model_hash`) atomically:
/// magic, hash, count, then per parameter a presence byte, time, shape and both moments (LE).
pub(super) fn write_moments(
    path: &Path,
    model_hash: &str,
    moments: &[Option<Moments>],
) -> Result<(), TrainError> {
    let mut out = Vec::new();
    out.extend_from_slice(MOMENTS_MAGIC);
    out.extend_from_slice(&(model_hash.len() as u32).to_le_bytes());
    out.extend_from_slice(model_hash.as_bytes());
    out.extend_from_slice(&(moments.len() as u32).to_le_bytes());
    for m in moments {
        let Some(m) = m else {
            out.push(0);
            continue;
        };
        out.push(1);
        out.extend_from_slice(&(m.time as u64).to_le_bytes());
        out.extend_from_slice(&(m.shape.len() as u32).to_le_bytes());
        for d in &m.shape {
            out.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        for v in m.first.iter().chain(&m.second) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let tmp = path.with_extension("partial-adam");
    std::fs::write(&tmp, out)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| TrainError::Io(path.to_path_buf(), e.to_string()))
}

/// Reads what [`write_moments`] wrote, checking it belongs to the model `model_hash`.
pub(super) fn read_moments(
    path: &Path,
    model_hash: &str,
) -> Result<Vec<Option<Moments>>, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| {
        TrainError::Io(
            path.to_owned(),
            format!("{e} (a checkpoint inside a stage needs the optimiser state saved with it)"),
        )
    })?;
    let bad = || {
        TrainError::Io(
            path.to_owned(),
            "not an optimiser state of this checkpoint; restart the run or restore the \
             checkpoint's files"
                .into(),
        )
    };
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], TrainError> {
        let s = bytes.get(at..at + n).ok_or_else(bad)?;
        at += n;
        Ok(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap()) as usize;
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap()) as usize;
    if take(8)? != MOMENTS_MAGIC {
        return Err(bad());
    }
    let hash_len = u32_of(take(4)?);
    if take(hash_len)? != model_hash.as_bytes() {
        return Err(bad());
    }
    let count = u32_of(take(4)?);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if take(1)?[0] == 0 {
            out.push(None);
            continue;
        }
        let time = u64_of(take(8)?);
        let dims = u32_of(take(4)?);
        let shape = (0..dims)
            .map(|_| take(8).map(u64_of))
            .collect::<Result<Vec<_>, _>>()?;
        let n: usize = shape.iter().product();
        let floats = |b: &[u8]| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<_>>()
        };
        let first = floats(take(n * 4)?);
        let second = floats(take(n * 4)?);
        out.push(Some(Moments {
            time,
            shape,
            first,
            second,
        }));
    }
    Ok(out)
}

/// The model file of a run's checkpoint (the latest finished stage, or a point inside one).
pub fn checkpoint_model(dir: &Path) -> PathBuf {
    dir.join("checkpoint.cnnmodel")
}

/// Adam's moments of a checkpoint taken inside a stage.
pub fn checkpoint_moments(dir: &Path) -> PathBuf {
    dir.join("checkpoint.adam")
}
