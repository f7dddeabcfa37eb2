use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::common::{self, FrameTimes, LoadedModel, ModelSettings, Padding, StreamInfo};
use cnncodec::net::ensemble::SelfEnsembleEngine;
use cnncodec::pipeline::{
    compact_size, is_original_of, resize_plane, restore_luma_checked, MAX_PADDING,
};
use cnncodec::GrayImage;

mod follow;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "reccnndec",
        gst::DebugColorFlags::empty(),
        Some("RecCNN restoring decoder"),
    )
});

#[derive(Clone, Debug)]
struct Settings {
    model: ModelSettings,
    /// Original size to restore when the stream does not say (0: from the stream, else 2x).
    width: u32,
    height: u32,
    /// Directories a model file named by the stream may be read from (`:`-separated).
    stream_model_dirs: String,
    self_ensemble: common::SelfEnsembleMode,
}

#[derive(Default)]
struct State {
    model: Option<LoadedModel>,
    stream: Option<StreamInfo>,
    /// A model error found outside the streaming path, posted with the next frame.
    pending_error: Option<String>,
    /// An impossible width/height setting, posted with the next frame.
    size_error: Option<String>,
    /// Whether this stream's lack of stream info was warned about.
    warned_no_info: bool,
    /// Why the default model did not load at start (reported if the stream names none).
    default_error: Option<String>,
}

pub struct RecCnnDec {
    times: Mutex<FrameTimes>,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Reads the stream info inside H.264 / H.265 key frames before the decoder upstream.
    info_probe: Mutex<Option<common::InfoProbe>>,
}

impl Default for RecCnnDec {
    fn default() -> Self {
        Self {
            times: Mutex::new(FrameTimes::default()),
            settings: Mutex::new(Settings {
                model: ModelSettings::new(),
                width: 0,
                height: 0,
                stream_model_dirs: String::new(),
                self_ensemble: common::SelfEnsembleMode::Off,
            }),
            state: Mutex::new(State::default()),
            info_probe: Mutex::new(None),
        }
    }
}

/// The engine that restores frames: the model's, or an ensemble over it.
fn restoring_engine(
    model: &LoadedModel,
    mode: common::SelfEnsembleMode,
) -> std::sync::Arc<dyn cnncodec::Engine> {
    match mode.passes() {
        1 => model.engine.clone(),
        passes => std::sync::Arc::new(
            SelfEnsembleEngine::new(model.engine.clone(), passes)
                .expect("every mode's pass count is offered"),
        ),
    }
}

#[glib::object_subclass]
impl ObjectSubclass for RecCnnDec {
    const NAME: &'static str = "GstRecCnnDec";
    type Type = super::RecCnnDec;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for RecCnnDec {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = common::model_properties();
            for (name, nick) in [("width", "Original width"), ("height", "Original height")] {
                props.push(
                    glib::ParamSpecUInt::builder(name)
                        .nick(nick)
                        .blurb(&format!(
                            "Original frame {name} to restore (0 = from the stream's cnncodec \
                             tag, else twice the compact {name}). Set it for streams that lost \
                             their tag; a non-zero value overrides the tag. Must be \
                             2 x compact - 1 or 2 x compact (a width also less, down to \
                             2 x (compact - 63) - 1, for frames comcnnenc widened)"
                        ))
                        .minimum(0)
                        .maximum(i32::MAX as u32)
                        .default_value(0)
                        .mutable_playing()
                        .build(),
                );
            }
            props.push(common::stream_model_dirs_property());
            props.push(common::self_ensemble_property());
            props.push(common::stats_property());
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "width" => s.width = value.get().unwrap(),
            "height" => s.height = value.get().unwrap(),
            "stream-model-dirs" => {
                s.stream_model_dirs = value.get::<Option<String>>().unwrap().unwrap_or_default()
            }
            "self-ensemble" => s.self_ensemble = value.get().expect("type checked"),
            _ => {
                common::set_model_property(&mut s.model, value, pspec);
            }
        }
        drop(s);
        if matches!(pspec.name(), "width" | "height") {
            self.obj().reconfigure_src();
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap().clone();
        match pspec.name() {
            "stats" => {
                let model = self.state.lock().unwrap().model.clone();
                let mut stats = self
                    .times
                    .lock()
                    .unwrap()
                    .to_structure(model.as_ref(), &s.model);
                if let Some(m) = &model {
                    // The time per frame includes every pass of the ensemble.
                    stats.set("engine", restoring_engine(m, s.self_ensemble).describe());
                }
                stats.to_value()
            }
            "width" => s.width.to_value(),
            "height" => s.height.to_value(),
            "stream-model-dirs" => s.stream_model_dirs.to_value(),
            "self-ensemble" => s.self_ensemble.to_value(),
            _ => common::model_property(&s.model, pspec).expect("known property"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Archiving keeps every frame; live preview opts in to dropping late ones (qos=true).
        self.obj().set_qos(false);
        // A decoder linked later (decodebin's pads appear while it runs) is found then.
        self.obj().sink_pad().connect_linked(|pad, _peer| {
            if let Some(dec) = pad
                .parent_element()
                .and_then(|e| e.downcast::<super::RecCnnDec>().ok())
            {
                dec.imp().follow_info_in_frames();
            }
        });
    }
}

impl GstObjectImpl for RecCnnDec {}

impl ElementImpl for RecCnnDec {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "RecCNN restoring decoder",
                "Filter/Effect/Converter/Video",
                "Restores frames shrunk by comcnnenc to their original size with bicubic \
                 up-scaling and RecCNN (Jiang et al. 2018); place after the stock decoder",
                "cnncodec developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(common::pad_templates);
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for RecCnnDec {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn transform(
        &self,
        inbuf: &gst::Buffer,
        outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        common::check_input_buffer(obj.upcast_ref(), obj.sink_pad(), inbuf)?;
        self.parent_transform(inbuf, outbuf)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Src {
            if let gst::QueryViewMut::Latency(q) = query.view_mut() {
                return common::answer_latency(self.obj().upcast_ref(), q, &self.times);
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.follow_info_in_frames();
        let settings = self.settings.lock().unwrap().model.clone();
        let placement = settings
            .placement()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        *self.times.lock().unwrap() = FrameTimes::default();
        let (model, default_error) =
            match common::load_model_announced(self.obj().upcast_ref(), &settings, placement) {
                Ok(m) => (Some(m), None),
                // Without a setting the stream may still name its model; decide at the first frame.
                Err(e) if settings.model_location.is_none() && settings.model.is_none() => {
                    gst::debug!(CAT, imp = self, "no default model yet: {e}");
                    (None, Some(e))
                }
                Err(e) => return Err(gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e))),
            };
        *self.state.lock().unwrap() = State {
            model,
            default_error,
            ..Default::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        *self.info_probe.lock().unwrap() = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        // Sink side holds compact frames (possibly widened), src side originals.
        let to_compact = direction == gst::PadDirection::Src;
        Some(common::map_caps(
            caps,
            to_compact,
            [Padding::Any; 2],
            filter,
        ))
    }

    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        if direction == gst::PadDirection::Sink && !othercaps.is_empty() {
            if let Some(s) = caps.structure(0) {
                if let (Ok(w), Ok(h)) = (s.get::<i32>("width"), s.get::<i32>("height")) {
                    let (tw, th) = self.target_size((w as usize, h as usize));
                    let target_in = |o: &gst::StructureRef| {
                        let target = gst::Structure::builder(o.name().as_str())
                            .field("width", tw as i32)
                            .field("height", th as i32)
                            .build();
                        o.can_intersect(&target)
                    };
                    // The target may sit in any of the alternatives (a range of widened
                    // widths, say): the first that allows it, else the first.
                    let keep = othercaps.iter().position(target_in).unwrap_or(0);
                    let mut othercaps = othercaps;
                    {
                        let caps = othercaps.make_mut();
                        for _ in 0..keep {
                            caps.remove_structure(0);
                        }
                    }
                    othercaps.truncate();
                    {
                        let o = othercaps.make_mut().structure_mut(0).unwrap();
                        if target_in(o) {
                            o.set("width", tw as i32);
                            o.set("height", th as i32);
                        } else {
                            o.fixate_field_nearest_int("width", tw as i32);
                            o.fixate_field_nearest_int("height", th as i32);
                        }
                    }
                    return self.parent_fixate_caps(direction, caps, othercaps);
                }
            }
        }
        self.parent_fixate_caps(direction, caps, othercaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::StreamStart(_) = event.view() {
            // A new stream brings its own tag; the last one's size no longer applies.
            let mut state = self.state.lock().unwrap();
            state.stream = None;
            state.warned_no_info = false;
        }
        if let gst::EventView::Tag(tag) = event.view() {
            if let Some(info) = StreamInfo::from_tags(tag.tag()) {
                gst::debug!(CAT, imp = self, "stream info: {info:?}");
                self.adopt_stream_model(&info);
                let changed = {
                    let mut state = self.state.lock().unwrap();
                    let changed = state.stream.as_ref() != Some(&info);
                    state.stream = Some(info);
                    changed
                };
                if changed {
                    // Renegotiate before the next frame so the original size goes out.
                    self.obj().reconfigure_src();
                }
            }
        }
        self.parent_sink_event(event)
    }
}

impl VideoFilterImpl for RecCnnDec {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        common::check_frame_sizes(self.obj().upcast_ref(), &[in_info, out_info])?;
        if self.info_probe.lock().unwrap().is_none() {
            // A decoder linked upstream of a queue or converter after start (decodebin):
            // found now, read from the next key frame on.
            self.follow_info_in_frames();
        }
        gst::debug!(
            CAT,
            imp = self,
            "{}x{} -> {}x{}",
            in_info.width(),
            in_info.height(),
            out_info.width(),
            out_info.height()
        );
        // The model may be known only at the first frame (from the stream); warm up if it is.
        let model = self.state.lock().unwrap().model.clone();
        if let Some(model) = model {
            let (w, h) = (out_info.width() as usize, out_info.height() as usize);
            common::warm_up_at_size(self.obj().upcast_ref(), &model, w, h, true);
            // The transposed passes run on h x w frames: their kernels too.
            if self.settings.lock().unwrap().self_ensemble.transposes() && w != h {
                common::warm_up_at_size(self.obj().upcast_ref(), &model, h, w, true);
            }
        }
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (model, warn_no_info, default_error) = {
            let mut state = self.state.lock().unwrap();
            if let Some(e) = state.pending_error.as_ref().or(state.size_error.as_ref()) {
                gst::element_imp_error!(self, gst::ResourceError::Settings, ("{}", e));
                return Err(gst::FlowError::Error);
            }
            let warn = state.stream.is_none() && !state.warned_no_info;
            state.warned_no_info = true;
            // Only needed, and so only copied, when there is no model to run.
            let default_error = state
                .model
                .is_none()
                .then(|| state.default_error.clone())
                .flatten();
            (state.model.clone(), warn, default_error)
        };
        let Some(model) = model else {
            let cause = default_error.unwrap_or_else(cnncodec::net::builtin::no_model_message);
            gst::element_imp_error!(
                self,
                gst::ResourceError::Settings,
                (
                    "the stream names no model and the default one did not load: {}",
                    cause
                )
            );
            return Err(gst::FlowError::Error);
        };
        let (w, h) = (
            outframe.info().width() as usize,
            outframe.info().height() as usize,
        );
        if warn_no_info {
            self.warn_no_stream_info(&model, w, h);
        }
        // Columns and rows an encoder added to the compact frame (comcnnenc's width-multiple
        // and height-multiple) go first.
        let (compact_w, compact_h) = compact_size(w, h);
        let decoded = common::read_component(inframe, 0);
        let decoded = if decoded.width >= compact_w
            && decoded.height >= compact_h
            && (decoded.width, decoded.height) != (compact_w, compact_h)
        {
            decoded.cropped(compact_w, compact_h)
        } else {
            decoded
        };
        let engine = restoring_engine(&model, self.settings.lock().unwrap().self_ensemble);
        let started = std::time::Instant::now();
        let restored = common::guard("RecCNN", || {
            restore_luma_checked(engine.as_ref(), &decoded, w, h).map_err(|e| e.to_string())
        })
        .and_then(|r| r)
        .map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
            gst::FlowError::Error
        })?;
        self.frame_done(started.elapsed());
        common::write_component(outframe, 0, &restored);
        for c in 1..common::n_components(inframe.info()) {
            let out_info = outframe.info();
            let (cw, ch) = (
                out_info.comp_width(c) as usize,
                out_info.comp_height(c) as usize,
            );
            let chroma = common::read_component(inframe, c);
            let chroma = match compact_chroma_size(inframe.info(), &decoded, c) {
                Some((kw, kh)) if kw <= chroma.width && kh <= chroma.height => {
                    chroma.cropped(kw, kh)
                }
                _ => chroma,
            };
            let chroma = resize_plane(&chroma, cw, ch);
            common::write_component(outframe, c, &chroma);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// Size of chroma component `c` in a compact frame of `info`'s format the size of `luma`
/// (its columns and rows beyond that are padding to crop).
fn compact_chroma_size(
    info: &gst_video::VideoInfo,
    luma: &GrayImage,
    c: u8,
) -> Option<(usize, usize)> {
    gst_video::VideoInfo::builder(info.format(), luma.width as u32, luma.height as u32)
        .build()
        .ok()
        .map(|i| (i.comp_width(c) as usize, i.comp_height(c) as usize))
}

impl RecCnnDec {
    /// Reads the stream info that comcnnenc writes into H.264 / H.265 key frames (for files
    /// without their container's tags), when a video decoder is upstream.
    fn follow_info_in_frames(&self) {
        let probe = common::read_info_before_decoder(self.obj().upcast_ref());
        gst::debug!(
            CAT,
            imp = self,
            "stream info in key frames: {}",
            probe.is_some()
        );
        *self.info_probe.lock().unwrap() = probe;
    }

    /// A stream without its info (a file cut before the muxer wrote its tags, or frames not
    /// made by comcnnenc) is restored at a guessed size with a guessed model: say so, once,
    /// unless the user set both size properties.
    fn warn_no_stream_info(&self, model: &LoadedModel, w: usize, h: usize) {
        let s = self.settings.lock().unwrap().clone();
        if s.width != 0 && s.height != 0 {
            return;
        }
        gst::element_imp_warning!(
            self,
            gst::StreamError::Format,
            (
                "the stream does not say its original size or model (for example a file cut before its end): restoring {w}x{h} with model '{}'. Archives made by cnnjpegenc carry both in every frame (play them through cnnjpegdec, or jpegparse ! jpegdec ! reccnndec); otherwise set width, height and model",
                model.weights.meta.name
            )
        );
    }

    /// Records a frame's network time; a frame notably slower than the latency reported so
    /// far makes live pipelines re-query it.
    fn frame_done(&self, took: std::time::Duration) {
        if self.times.lock().unwrap().record(took) {
            let obj = self.obj();
            let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
        }
    }
}
