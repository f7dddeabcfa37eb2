use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::common::{self, FrameTimes, LoadedModel, ModelSettings, Padding, StreamInfo};
use cnncodec::frame::image::downscale_box2;
use cnncodec::pipeline::compress_luma_checked;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "comcnnenc",
        gst::DebugColorFlags::empty(),
        Some("ComCNN compact-image encoder"),
    )
});

/// Default of `width-multiple`: whole 8x8 blocks for `jpegenc`, in luma and in 4:2:0 chroma.
const DEFAULT_WIDTH_MULTIPLE: u32 = 16;

#[derive(Clone, Debug)]
struct Settings {
    model: ModelSettings,
    /// Compact frames are widened to a multiple of this many columns (1: not at all).
    width_multiple: u32,
    /// Compact frames are extended to a multiple of this many rows (1: not at all).
    height_multiple: u32,
    /// Write the stream info into the key frames of an H.264 / H.265 encoder downstream.
    frame_info: bool,
}

#[derive(Default)]
struct State {
    model: Option<LoadedModel>,
    info: Option<StreamInfo>,
    /// Stream tags from upstream, re-sent with our stream info merged in.
    upstream_tags: Option<gst::TagList>,
    tags_pending: bool,
    /// Bytes of one compact frame (from the negotiated caps).
    out_size: usize,
}

pub struct ComCnnEnc {
    times: Mutex<FrameTimes>,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Writes the stream info into the key frames of an H.264 / H.265 encoder downstream.
    info_probe: Mutex<Option<common::InfoProbe>>,
}

impl Default for ComCnnEnc {
    fn default() -> Self {
        Self {
            times: Mutex::new(FrameTimes::default()),
            settings: Mutex::new(Settings {
                model: ModelSettings::new(),
                width_multiple: DEFAULT_WIDTH_MULTIPLE,
                height_multiple: 1,
                frame_info: true,
            }),
            state: Mutex::new(State::default()),
            info_probe: Mutex::new(None),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ComCnnEnc {
    const NAME: &'static str = "GstComCnnEnc";
    type Type = super::ComCnnEnc;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for ComCnnEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = common::model_properties();
            props.push(
                glib::ParamSpecUInt::builder("width-multiple")
                    .nick("Width multiple")
                    .blurb(
                        "Widen compact frames to a multiple of this many columns by repeating \
                         the last column (1-64; 1 = not at all). Stock jpegenc codes whatever \
                         follows a row into a partial last 8x8 block (with GRAY8: heap bytes, \
                         a different file on every run); 16 keeps luma and 4:2:0 chroma in \
                         whole blocks. reccnndec crops the columns off again. j2kenc and \
                         openjpegenc do not need it",
                    )
                    .minimum(1)
                    .maximum(64)
                    .default_value(DEFAULT_WIDTH_MULTIPLE)
                    .mutable_ready()
                    .build(),
            );
            props.push(
                glib::ParamSpecUInt::builder("height-multiple")
                    .nick("Height multiple")
                    .blurb(
                        "Extend compact frames to a multiple of this many rows by repeating \
                         the last row (1-64; 1 = not at all). Before an H.264 or H.265 encoder \
                         (x264enc, x265enc, ...), which refuse odd 4:2:0 sizes, both sides are \
                         made even (an odd multiple is raised by one). reccnndec crops the rows \
                         off again",
                    )
                    .minimum(1)
                    .maximum(64)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
            );
            props.push(
                glib::ParamSpecBoolean::builder("frame-info")
                    .nick("Stream info in key frames")
                    .blurb(
                        "Before an H.264 or H.265 encoder, write the original size and the model \
                         into every key frame (a user-data SEI message of about 170 bytes, which \
                         decoders skip), so that a file cut before its container wrote its tags \
                         still restores at its size",
                    )
                    .default_value(true)
                    .mutable_ready()
                    .build(),
            );
            props.push(common::stats_property());
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        if pspec.name() == "width-multiple" {
            s.width_multiple = value.get().unwrap();
        } else if pspec.name() == "height-multiple" {
            s.height_multiple = value.get().unwrap();
        } else if pspec.name() == "frame-info" {
            s.frame_info = value.get().unwrap();
        } else {
            common::set_model_property(&mut s.model, value, pspec);
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap().clone();
        match pspec.name() {
            "stats" => {
                let model = self.state.lock().unwrap().model.clone();
                self.times
                    .lock()
                    .unwrap()
                    .to_structure(model.as_ref(), &s.model)
                    .to_value()
            }
            "width-multiple" => s.width_multiple.to_value(),
            "height-multiple" => s.height_multiple.to_value(),
            "frame-info" => s.frame_info.to_value(),
            _ => common::model_property(&s.model, pspec)
                .expect("every other property is a model property"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Archiving keeps every frame; live preview opts in to dropping late ones (qos=true).
        self.obj().set_qos(false);
    }
}

impl GstObjectImpl for ComCnnEnc {}

impl ElementImpl for ComCnnEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ComCNN compact encoder",
                "Filter/Effect/Converter/Video",
                "Shrinks frames to ceil(W/2) x ceil(H/2) (width rounded up to width-multiple) \
                 with ComCNN (Jiang et al. 2018) for a stock image encoder; pair with \
                 reccnndec after the decoder",
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

impl BaseTransformImpl for ComCnnEnc {
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

    fn prepare_output_buffer(
        &self,
        inbuf: gst_base::subclass::base_transform::InputBuffer,
    ) -> Result<gst_base::subclass::base_transform::PrepareOutputBufferSuccess, gst::FlowError>
    {
        let size = self.state.lock().unwrap().out_size;
        if size == 0 {
            return Err(gst::FlowError::NotNegotiated);
        }
        let mut out = gst::Buffer::from_mut_slice(vec![0u8; size + common::ENCODER_OVERREAD]);
        {
            let out = out.get_mut().unwrap();
            let input: &gst::BufferRef = match &inbuf {
                gst_base::subclass::base_transform::InputBuffer::Writable(b) => b,
                gst_base::subclass::base_transform::InputBuffer::Readable(b) => b,
            };
            common::copy_metadata(input, out).map_err(|_| gst::FlowError::Error)?;
            // The frame is `size` bytes; the zeroed tail stays allocated behind it.
            out.set_size(size);
        }
        Ok(gst_base::subclass::base_transform::PrepareOutputBufferSuccess::Buffer(out))
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
        let settings = self.settings.lock().unwrap().model.clone();
        let placement = settings
            .placement()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        let model = common::load_model_announced(self.obj().upcast_ref(), &settings, placement)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
        *self.times.lock().unwrap() = FrameTimes::default();
        gst::info!(
            CAT,
            imp = self,
            "model {} ({}) on {}",
            model.weights.meta.name,
            model.weights.meta.short_hash(),
            model.engine.describe()
        );
        *self.state.lock().unwrap() = State {
            model: Some(model),
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
        // Sink side holds originals, src side compact frames.
        let to_compact = direction == gst::PadDirection::Sink;
        let (mut width, mut height) = {
            let s = self.settings.lock().unwrap();
            (s.width_multiple as i32, s.height_multiple as i32)
        };
        if common::downstream_needs_even_size(self.obj().upcast_ref()) {
            width = even_multiple(width);
            height = even_multiple(height);
        }
        let padding = [Padding::Multiple(width), Padding::Multiple(height)];
        let out = common::map_caps(caps, to_compact, padding, filter);
        gst::trace!(CAT, imp = self, "{caps} -> {out}");
        Some(out)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Tag(tag) = event.view() {
            let tags = tag.tag();
            if tags.scope() == gst::TagScope::Stream {
                let mut state = self.state.lock().unwrap();
                state.upstream_tags = Some(tags.to_owned());
                if let Some(info) = state.info.clone() {
                    let merged = common::tags_with_info(state.upstream_tags.as_ref(), &info);
                    state.tags_pending = false;
                    drop(state);
                    return self
                        .obj()
                        .src_pad()
                        .push_event(gst::event::Tag::new(merged));
                }
            }
        }
        self.parent_sink_event(event)
    }
}

impl VideoFilterImpl for ComCnnEnc {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        common::check_frame_sizes(self.obj().upcast_ref(), &[in_info, out_info])?;
        let mut state = self.state.lock().unwrap();
        let model = state
            .model
            .clone()
            .ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        let info = StreamInfo {
            width: in_info.width(),
            height: in_info.height(),
            model_name: model.weights.meta.name.clone(),
            model_hash: model.weights.meta.short_hash().to_owned(),
            comcnn_hash: model.weights.comcnn_hash(),
            model_location: model.location.clone(),
        };
        gst::debug!(
            CAT,
            imp = self,
            "{}x{} -> {}x{}",
            in_info.width(),
            in_info.height(),
            out_info.width(),
            out_info.height()
        );
        // A file cut before its container wrote the tags still says how to restore it.
        let frame_info = self.settings.lock().unwrap().frame_info;
        let compact = (out_info.width(), out_info.height());
        *self.info_probe.lock().unwrap() = frame_info
            .then(|| common::write_info_after_encoder(self.obj().upcast_ref(), &info, compact))
            .flatten();
        state.info = Some(info);
        state.tags_pending = true;
        state.out_size = out_info.size();
        drop(state);
        if let Some(warning) =
            common::encoder_mismatch(self.obj().upcast_ref(), &model.weights.meta)
        {
            gst::element_imp_warning!(self, gst::CoreError::Negotiation, ("{}", warning));
        }
        common::warm_up_at_size(
            self.obj().upcast_ref(),
            &model,
            in_info.width() as usize,
            in_info.height() as usize,
            false,
        );
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (model, pending_tags) = {
            let mut state = self.state.lock().unwrap();
            let tags = match (state.tags_pending, &state.info) {
                (true, Some(info)) => {
                    Some(common::tags_with_info(state.upstream_tags.as_ref(), info))
                }
                _ => None,
            };
            state.tags_pending = false;
            (state.model.clone(), tags)
        };
        let model = model.ok_or(gst::FlowError::Flushing)?;
        if let Some(tags) = pending_tags {
            // Tags go out before the first compact frame of these caps.
            self.obj().src_pad().push_event(gst::event::Tag::new(tags));
        }

        let luma = common::read_component(inframe, 0);
        let started = std::time::Instant::now();
        let compact = common::guard("ComCNN", || {
            compress_luma_checked(model.engine.as_ref(), &luma).map_err(|e| e.to_string())
        })
        .and_then(|r| r)
        .map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
            gst::FlowError::Error
        })?;
        self.frame_done(started.elapsed());
        // Extended to the negotiated size by repeating the last column and row
        // (`width-multiple`, `height-multiple`).
        let out_info = outframe.info().clone();
        let out_size = |c: u8| {
            (
                out_info.comp_width(c) as usize,
                out_info.comp_height(c) as usize,
            )
        };
        let (w, h) = out_size(0);
        let compact = compact.padded_to(w, h);
        common::write_component(outframe, 0, &compact);
        for c in 1..common::n_components(inframe.info()) {
            let chroma = downscale_box2(&common::read_component(inframe, c));
            let (w, h) = out_size(c);
            let chroma = chroma.padded_to(w, h);
            common::write_component(outframe, c, &chroma);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// An even multiple for 4:2:0 video encoders: an odd `m` (at most 63) raised by one, so that
/// the padding stays within what `reccnndec` accepts (`MAX_PADDING`).
fn even_multiple(m: i32) -> i32 {
    m + m % 2
}

impl ComCnnEnc {
    /// Records a frame's network time; a frame notably slower than the latency reported so
    /// far makes live pipelines re-query it.
    fn frame_done(&self, took: std::time::Duration) {
        if self.times.lock().unwrap().record(took) {
            let obj = self.obj();
            let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
        }
    }
}
