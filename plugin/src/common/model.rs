//! Loading a model on its backend, the engines elements share, and warming up.

use super::*;

/// A model ready to run, with what identifies it in a stream.
#[derive(Clone)]
pub struct LoadedModel {
    pub weights: Arc<ModelWeights>,
    pub engine: Arc<dyn Engine>,
    pub location: Option<String>,
    pub placement: Placement,
}

/// Posts a `Progress` message (`code` names the task: `load-model`, `warm-up`).
fn post_progress(element: &gst::Element, kind: gst::ProgressType, code: &str, text: &str) {
    let _ = element.post_message(
        gst::message::Progress::builder(kind, code, text)
            .src(element)
            .build(),
    );
}

/// GPU kernels are compiled and autotuned per tensor shape on first use (cubecl keeps the
/// tuning results on disk, so the next start is quicker); running one frame of the
/// negotiated size here, announced with `Progress` messages, keeps that cost out of the first
/// buffer and of the latency reported. The CPU backend has nothing to tune.
pub fn warm_up_at_size(
    element: &gst::Element,
    model: &LoadedModel,
    width: usize,
    height: usize,
    restoring: bool,
) {
    if model.placement.backend == BackendKind::Cpu || width == 0 || height == 0 {
        return;
    }
    let post = |kind, text: String| post_progress(element, kind, "warm-up", &text);
    post(
        gst::ProgressType::Start,
        format!("tuning kernels for {width}x{height} frames"),
    );
    let engine = model.engine.clone();
    let done = guard("warming up", move || {
        let probe = cnncodec::Plane::new(width, height, vec![0.5; width * height]);
        if restoring {
            engine.residual(&probe);
        } else {
            engine.compact(&probe);
        }
    });
    match done {
        Ok(()) => post(
            gst::ProgressType::Complete,
            format!("kernels ready for {width}x{height}"),
        ),
        Err(e) => post(gst::ProgressType::Error, e),
    }
}

type EngineKey = (String, Placement);
type EngineCache = HashMap<EngineKey, Weak<dyn Engine>>;

/// The cache; a panic elsewhere while it was held must not break model loading for good.
fn engine_cache() -> std::sync::MutexGuard<'static, EngineCache> {
    static CACHE: OnceLock<Mutex<EngineCache>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many loaded engines of the model with `content_hash` are alive in this process
/// (elements sharing one count once).
pub fn live_engines(content_hash: &str) -> usize {
    let mut cache = engine_cache();
    cache.retain(|_, w| w.strong_count() > 0);
    cache.keys().filter(|k| k.0 == content_hash).count()
}

/// Loads the model a setting names (a file, else a built-in model, else the default built-in)
/// on the chosen backend. Elements in one process that use the same weights, backend and
/// device share one loaded copy.
pub fn load_model(
    location: Option<&str>,
    builtin: Option<&str>,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let path = location.map(PathBuf::from);
    let weights =
        cnncodec::net::builtin::resolve(path.as_deref(), builtin).map_err(|e| model_error(&e))?;
    load_weights(weights, location, placement)
}

/// A core model error in the elements' words.
pub fn model_error(e: &cnncodec::net::builtin::ModelError) -> String {
    use cnncodec::net::builtin::ModelError;
    match e {
        ModelError::Unknown { .. } => {
            format!("{e}: choose one of them, or set model-location to a model file")
        }
        ModelError::NoneBuiltIn => cnncodec::net::builtin::no_model_message(),
        ModelError::Weights(w) => w.to_string(),
    }
}

/// A core engine error in the elements' words: the properties to change.
fn engine_error(e: &cnncodec::net::engine::EngineError) -> String {
    use cnncodec::net::engine::EngineError;
    match e {
        EngineError::PrecisionOnCpu(p) => {
            format!("precision={p} needs backend=cuda: the CPU backend computes in fp32")
        }
        EngineError::DeviceOnCpu(i) => {
            format!("device-index={i} is not valid for the cpu backend: use 0")
        }
        EngineError::CudaNotCompiled => "backend=cuda is not compiled into this build: rebuild \
             with `--features cuda` (see README), or use backend=cpu"
            .into(),
        EngineError::NoDriver => format!("backend=cuda: {e}; or use backend=cpu"),
        EngineError::Device(i) => format!(
            "CUDA device {i} could not be opened: check device-index={i} against nvidia-smi"
        ),
        EngineError::Failed { .. } => format!("{e}, or use backend=cpu"),
    }
}

/// [`load_model`] for weights already in memory (`location`: the file they came from).
pub fn load_weights(
    weights: ModelWeights,
    location: Option<&str>,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let key = (weights.meta.content_hash.clone(), placement);
    let cached = {
        let mut cache = engine_cache();
        cache.retain(|_, w| w.strong_count() > 0);
        cache.get(&key).and_then(Weak::upgrade)
    };
    let engine = match cached {
        Some(e) => e,
        None => {
            // Built without the cache lock: loading can take a while and must not block others.
            let e = guard("loading the model", || {
                cnncodec::load_engine_with(
                    &weights,
                    placement.backend,
                    placement.device_index as usize,
                    placement.precision,
                )
                .map_err(|e| engine_error(&e))
            })??;
            engine_cache().insert(key, Arc::downgrade(&e));
            e
        }
    };
    Ok(LoadedModel {
        weights: Arc::new(weights),
        engine,
        placement,
        location: location.map(|l| {
            std::fs::canonicalize(l)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| l.to_owned())
        }),
    })
}

/// [`load_model`] announced with `Progress` messages (start, then complete or error), so an
/// application can show that weights are loading and kernels warming up.
pub fn load_model_announced(
    element: &gst::Element,
    settings: &ModelSettings,
    placement: Placement,
) -> Result<LoadedModel, String> {
    let what = settings
        .model_location
        .clone()
        .or_else(|| settings.model.clone())
        .or_else(|| cnncodec::net::builtin::default_model().map(str::to_owned))
        .unwrap_or_else(|| "no model".into());
    let post = |kind, text: String| post_progress(element, kind, "load-model", &text);
    post(
        gst::ProgressType::Start,
        format!(
            "loading model '{what}' on {} ({}) and warming up",
            placement.backend, placement.precision
        ),
    );
    let result = load_model(
        settings.model_location.as_deref(),
        settings.model.as_deref(),
        placement,
    );
    match &result {
        Ok(m) => post(
            gst::ProgressType::Complete,
            format!(
                "model '{}' ready on {}",
                m.weights.meta.name,
                m.engine.describe()
            ),
        ),
        Err(e) => post(gst::ProgressType::Error, e.clone()),
    }
    result
}
