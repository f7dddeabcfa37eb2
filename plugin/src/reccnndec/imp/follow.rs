//! What the stream says: the size to restore and the model to follow (under the trust rules).

use super::*;

impl RecCnnDec {
    /// The original size to restore for a compact size, each dimension on its own: the
    /// property when set, else the stream's tag, else twice the compact size. A property that
    /// no original of this compact size can have is an error, reported with the next frame.
    pub(super) fn target_size(&self, compact: (usize, usize)) -> (usize, usize) {
        let settings = self.settings.lock().unwrap().clone();
        let mut state = self.state.lock().unwrap();
        state.size_error = None;
        let stream = state
            .stream
            .as_ref()
            .map(|s| (s.width as usize, s.height as usize))
            .filter(|&(w, h)| is_original_of(compact, w, h));
        // A compact frame may carry up to MAX_PADDING extra columns and rows (comcnnenc's
        // width-multiple and height-multiple).
        let mut pick = |name: &str,
                        prop: u32,
                        compact: usize,
                        slack: usize,
                        from_stream: Option<usize>| {
            let prop = prop as usize;
            if prop != 0 {
                if (prop.div_ceil(2)..=prop.div_ceil(2) + slack).contains(&compact) {
                    return prop;
                }
                let narrowest = (2 * compact.saturating_sub(slack)).saturating_sub(1).max(1);
                state.size_error = Some(if slack == 0 {
                    format!(
                        "{name}={prop} cannot be restored from a compact {name} of {compact}: use {} or {} (or 0 to follow the stream)",
                        2 * compact - 1,
                        2 * compact
                    )
                } else {
                    format!(
                        "{name}={prop} cannot be restored from a compact {name} of {compact}: use {narrowest} to {} (or 0 to follow the stream)",
                        2 * compact
                    )
                });
            }
            from_stream.unwrap_or(2 * compact)
        };
        let w = pick(
            "width",
            settings.width,
            compact.0,
            MAX_PADDING,
            stream.map(|s| s.0),
        );
        let h = pick(
            "height",
            settings.height,
            compact.1,
            MAX_PADDING,
            stream.map(|s| s.1),
        );
        (w, h)
    }

    /// Follows the model a stream names, unless the user chose one. Loads outside the state
    /// lock: a slow file must not block `stop()`.
    pub(super) fn adopt_stream_model(&self, info: &StreamInfo) {
        let (settings, trusted) = {
            let s = self.settings.lock().unwrap();
            (
                s.model.clone(),
                cnncodec::net::trust::parse_dir_list(&s.stream_model_dirs),
            )
        };
        let current = {
            let state = self.state.lock().unwrap();
            state.model.as_ref().map(|m| {
                (
                    m.weights.meta.name.clone(),
                    m.weights.meta.short_hash().to_owned(),
                    m.weights.comcnn_hash(),
                )
            })
        };
        let same_model = current.as_ref().map(|c| c.1.as_str()) == Some(info.model_hash.as_str());
        // A RecCNN chosen by the user that was trained behind the stream's ComCNN (for
        // example a faster one) decodes it as well.
        let chosen_fits = (settings.model.is_some() || settings.model_location.is_some())
            && !info.comcnn_hash.is_empty()
            && current.as_ref().map(|c| c.2.as_str()) == Some(info.comcnn_hash.as_str());
        if info.model_hash.is_empty() || same_model || chosen_fits {
            self.state.lock().unwrap().pending_error = None;
            return;
        }
        let describe = format!(
            "model '{}' (hash {}{})",
            info.model_name,
            info.model_hash,
            info.model_location
                .as_deref()
                .map(|l| format!(", at '{l}'"))
                .unwrap_or_default()
        );
        let chosen = match (&settings.model_location, &settings.model) {
            (Some(_), _) => Some("model-location"),
            (None, Some(_)) => Some("model"),
            (None, None) => None,
        };
        let builtin = match chosen {
            Some(_) => self.chosen_behind_stream_comcnn(&settings, info),
            None => self.builtin_for_stream(info, &describe),
        };
        let outcome = if let Some(weights) = builtin {
            settings
                .placement()
                .and_then(|placement| common::load_weights(weights, None, placement))
                .map_err(|e| format!("the stream was encoded with {describe}: {e}"))
        } else if let Some(property) = chosen {
            let (name, hash, _) = current.unwrap_or_default();
            Err(format!(
                "the stream was encoded with {describe}, but {property} gives '{name}' (hash {hash}): a RecCNN must be paired with the ComCNN that made the stream; set {property} to the encoder's model, or unset it to follow the stream"
            ))
        } else {
            settings
                .placement()
                .and_then(|placement| {
                    let location = info
                        .model_location
                        .as_deref()
                        .ok_or("it is not built in and the stream does not say where it is")?;
                    let path = cnncodec::net::trust::stream_model_path(location, &trusted)
                        .map_err(|e| stream_path_refusal(&e))?;
                    let weights = cnncodec::ModelWeights::load_stream_model_file(&path)
                        .map_err(|e| e.to_string())?;
                    common::load_weights(weights, path.to_str(), placement)
                })
                .map_err(|e| {
                    format!(
                        "the stream was encoded with {describe}, which cannot be loaded here ({e}): set model-location to a copy of that model"
                    )
                })
                .and_then(|m| {
                    if m.weights.meta.short_hash() == info.model_hash {
                        Ok(m)
                    } else {
                        Err(format!(
                            "the stream was encoded with {describe}, but that file now holds hash {}: set model-location to the encoder's model",
                            m.weights.meta.short_hash()
                        ))
                    }
                })
        };
        let mut state = self.state.lock().unwrap();
        match outcome {
            Ok(m) => {
                gst::info!(CAT, imp = self, "following the stream's {describe}");
                state.model = Some(m);
                state.pending_error = None;
            }
            Err(e) => state.pending_error = Some(e),
        }
    }
}

impl RecCnnDec {
    /// The built-in model the stream names by hash; else, for a built-in stream (no file
    /// location) of an earlier version of a built-in model, today's model of that name when it
    /// shares the stream's ComCNN, or the kept earlier version of it that does.
    fn builtin_for_stream(
        &self,
        info: &StreamInfo,
        describe: &str,
    ) -> Option<cnncodec::ModelWeights> {
        if let Some(weights) = cnncodec::net::builtin::builtin_with_hash(&info.model_hash) {
            return Some(weights);
        }
        if info.model_location.is_some() {
            return None;
        }
        let name = &info.model_name;
        let (weights, which) = version_behind(name, &info.comcnn_hash)?;
        gst::warning!(
            CAT,
            imp = self,
            "the stream was encoded with {describe}, an earlier version of the built-in '{name}'; restoring with {which} {name} (hash {}), trained behind the stream's ComCNN",
            weights.meta.short_hash()
        );
        Some(weights)
    }

    /// For `model=NAME` on a stream made behind another ComCNN than the loaded NAME's: today's
    /// NAME, or the kept earlier version of it, trained behind the stream's ComCNN.
    fn chosen_behind_stream_comcnn(
        &self,
        settings: &common::ModelSettings,
        info: &StreamInfo,
    ) -> Option<cnncodec::ModelWeights> {
        let name = match (&settings.model_location, &settings.model) {
            (None, Some(name)) if !info.comcnn_hash.is_empty() => {
                cnncodec::net::builtin::full_name(name)
            }
            _ => return None,
        };
        let (weights, which) = version_behind(name, &info.comcnn_hash)?;
        gst::info!(
            CAT,
            imp = self,
            "model={name}: this stream was made behind another ComCNN than the loaded one's; restoring with {which} {name} (hash {}), trained behind the stream's",
            weights.meta.short_hash()
        );
        Some(weights)
    }
}

/// The built-in model `name` trained behind the ComCNN with hash `comcnn_hash`: today's, else
/// the kept earlier version; with the words the log uses for which one it is.
fn version_behind(name: &str, comcnn_hash: &str) -> Option<(cnncodec::ModelWeights, &'static str)> {
    use cnncodec::net::builtin::{builtin_successor, earlier_version};
    match builtin_successor(name, comcnn_hash) {
        Some(w) => Some((w, "today's")),
        None => Some((
            earlier_version(name, comcnn_hash)?,
            "the kept earlier version of",
        )),
    }
}

/// Why a path named by the stream is not followed, with what the user can set instead.
fn stream_path_refusal(e: &cnncodec::net::trust::StreamPathRefusal) -> String {
    use cnncodec::net::trust::StreamPathRefusal;
    match e {
        StreamPathRefusal::NothingTrusted => "streams may name only built-in models unless \
             stream-model-dirs lists the directory that holds the file"
            .into(),
        StreamPathRefusal::Untrusted => {
            format!("{e}: add its directory to stream-model-dirs")
        }
        _ => format!("{e}; the file is not followed"),
    }
}
