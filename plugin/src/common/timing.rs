//! Per-frame timing: the `stats` property and the latency the elements add.

use super::*;

/// Per-frame timing of the network: the `stats` property and the latency the element adds.
#[derive(Debug, Default)]
pub struct FrameTimes {
    frames: u64,
    total: std::time::Duration,
    max: std::time::Duration,
    /// The processing latency last answered to a LATENCY query.
    reported: std::time::Duration,
    /// Whether a live pipeline asked for it (only live pipelines act on LATENCY messages).
    live: bool,
}

impl FrameTimes {
    /// Records one frame; true when a live pipeline was told a latency and this frame took
    /// notably longer (the element then posts a LATENCY message so the pipeline re-queries).
    pub fn record(&mut self, took: std::time::Duration) -> bool {
        self.frames += 1;
        self.total += took;
        self.max = self.max.max(took);
        self.live && took > self.reported + self.reported / 10
    }

    /// The processing latency to add in a LATENCY query: the slowest frame measured so far.
    pub fn latency_to_report(&mut self) -> gst::ClockTime {
        self.live = true;
        self.reported = self.max;
        gst::ClockTime::from_nseconds(self.max.as_nanos() as u64)
    }

    /// The read-only `stats` structure.
    pub fn to_structure(
        &self,
        model: Option<&LoadedModel>,
        settings: &ModelSettings,
    ) -> gst::Structure {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let mean = if self.frames > 0 {
            ms(self.total) / self.frames as f64
        } else {
            0.0
        };
        gst::Structure::builder("cnncodec-stats")
            .field("frames", self.frames)
            .field("mean-ms", mean)
            .field("max-ms", ms(self.max))
            .field("backend", settings.backend.nick())
            .field("device", settings.device_index)
            .field("precision", settings.precision.nick())
            .field(
                "model",
                model.map_or(String::new(), |m| m.weights.meta.name.clone()),
            )
            .field(
                "model-hash",
                model.map_or(String::new(), |m| m.weights.meta.short_hash().to_owned()),
            )
            .field(
                "engine",
                model.map_or(String::new(), |m| m.engine.describe()),
            )
            .build()
    }
}

/// The `stats` property both elements have.
pub fn stats_property() -> glib::ParamSpec {
    glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
        .nick("Statistics")
        .blurb(
            "Read-only: frames processed since start, mean-ms and max-ms of the network per \
             frame, backend, device, precision, model, model-hash, engine",
        )
        .read_only()
        .build()
}

/// Answers a LATENCY query on the source pad: upstream's latency, plus this element's
/// measured processing time when upstream is live.
pub fn answer_latency(
    element: &gst_base::BaseTransform,
    query: &mut gst::query::Latency,
    times: &Mutex<FrameTimes>,
) -> bool {
    let mut upstream = gst::query::Latency::new();
    if !element.sink_pad().peer_query(&mut upstream) {
        return false;
    }
    let (live, min, max) = upstream.result();
    if live {
        let ours = times.lock().unwrap().latency_to_report();
        query.set(live, min + ours, max.map(|m| m + ours));
    } else {
        query.set(live, min, max);
    }
    true
}
