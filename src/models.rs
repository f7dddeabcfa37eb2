//! Built-in models and how a model setting is resolved.

use std::path::Path;

use crate::weights::{ModelWeights, WeightsError};

/// A model compiled into the library.
pub struct BuiltinModel {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

/// Models shipped inside the library. The project's own trained ladder lands here with the
/// training issue; until then there is none.
pub fn builtin_models() -> &'static [BuiltinModel] {
    &[]
}

/// The message an element posts when it was given no model and none is built in.
pub fn no_model_message() -> String {
    "no model given and this build has no built-in model yet: set model-location to a .cnnmodel \
     file or to a directory holding comcnn.safetensors and reccnn.safetensors (for example the \
     paper's released model, ../shared/reference/official-qf50)"
        .to_owned()
}

/// Loads `location` when given, else the default built-in model.
pub fn resolve(location: Option<&Path>) -> Result<ModelWeights, String> {
    match location {
        Some(path) => ModelWeights::load(path).map_err(|e: WeightsError| e.to_string()),
        None => match builtin_models().first() {
            Some(_) => Err("built-in models are not wired up yet".into()),
            None => Err(no_model_message()),
        },
    }
}
