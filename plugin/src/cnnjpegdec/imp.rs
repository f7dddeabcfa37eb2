use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::common::{self, ModelSettings, StreamInfo};
use crate::jpeg_info;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cnnjpegdec",
        gst::DebugColorFlags::empty(),
        Some("jpegdec + reccnndec, with each frame's stream info and checksum"),
    )
});

/// What the input probe remembers between frames.
#[derive(Default)]
struct Seen {
    /// The stream tags from upstream (the container's), kept when frames add their info.
    upstream_tags: Option<gst::TagList>,
    /// The stream info last sent downstream.
    info: Option<StreamInfo>,
}

pub struct CnnJpegDec {
    settings: Mutex<ModelSettings>,
    reccnndec: gst::Element,
    /// `None` when gst-plugins-good's jpegdec is not installed (an error at start).
    jpegdec: Option<gst::Element>,
    seen: Arc<Mutex<Seen>>,
}

impl Default for CnnJpegDec {
    fn default() -> Self {
        Self {
            settings: Mutex::new(ModelSettings::new()),
            reccnndec: gst::ElementFactory::make("reccnndec")
                .build()
                .expect("reccnndec is in this plugin"),
            jpegdec: gst::ElementFactory::make("jpegdec").build().ok(),
            seen: Arc::default(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for CnnJpegDec {
    const NAME: &'static str = "GstCnnJpegDec";
    type Type = super::CnnJpegDec;
    type ParentType = gst::Bin;
}

impl ObjectImpl for CnnJpegDec {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = common::model_properties();
            props.push(common::stream_model_dirs_property());
            props.push(common::self_ensemble_property());
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if matches!(pspec.name(), "stream-model-dirs" | "self-ensemble") {
            self.reccnndec.set_property_from_value(pspec.name(), value);
            return;
        }
        common::set_model_property(&mut self.settings.lock().unwrap(), value, pspec);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if matches!(pspec.name(), "stream-model-dirs" | "self-ensemble") {
            return self.reccnndec.property_value(pspec.name());
        }
        common::model_property(&self.settings.lock().unwrap(), pspec).expect("a model property")
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let templ = |name| obj.pad_template(name).expect("pad template");
        let sink = gst::GhostPad::builder_from_template(&templ("sink"))
            .name("sink")
            .build();
        let src = gst::GhostPad::builder_from_template(&templ("src"))
            .name("src")
            .build();
        obj.add(&self.reccnndec).expect("a new child");
        src.set_target(self.reccnndec.static_pad("src").as_ref())
            .expect("reccnndec's src pad");
        if let Some(jpegdec) = &self.jpegdec {
            obj.add(jpegdec).expect("a new child");
            jpegdec
                .link(&self.reccnndec)
                .expect("jpegdec links to reccnndec");
            let jpeg_sink = jpegdec.static_pad("sink").expect("jpegdec's sink pad");
            sink.set_target(Some(&jpeg_sink))
                .expect("jpegdec's sink pad");
            let seen = self.seen.clone();
            let bin = obj.downgrade();
            jpeg_sink.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |pad, probe| match &probe.data {
                    Some(gst::PadProbeData::Event(e)) => {
                        match e.view() {
                            gst::EventView::Tag(t) if t.tag().scope() == gst::TagScope::Stream => {
                                seen.lock().unwrap().upstream_tags = Some(t.tag_owned());
                            }
                            gst::EventView::StreamStart(_) => *seen.lock().unwrap() = Seen::default(),
                            _ => {}
                        }
                        gst::PadProbeReturn::Ok
                    }
                    Some(gst::PadProbeData::Buffer(buffer)) => {
                        let found = match buffer.map_readable() {
                            Ok(map) => jpeg_info::read(&map),
                            Err(_) => return gst::PadProbeReturn::Ok,
                        };
                        if found.intact == Some(false) {
                            if let Some(bin) = bin.upgrade() {
                                gst::element_warning!(
                                    bin,
                                    gst::StreamError::Decode,
                                    (
                                        "skipped a damaged frame (at {}): its checksum does not match, the file was damaged after it was written",
                                        buffer.pts().display()
                                    )
                                );
                            }
                            // Handled, not Drop: the buffer is released here, and the stream
                            // goes on (with Drop, GStreamer 1.22 unrefs an already released buffer).
                            probe.flow_res = Ok(gst::FlowSuccess::Ok);
                            return gst::PadProbeReturn::Handled;
                        }
                        let info = found.comments.iter().find_map(|c| StreamInfo::from_comment(c));
                        let tags = info.and_then(|info| {
                            let mut seen = seen.lock().unwrap();
                            (seen.info.as_ref() != Some(&info)).then(|| {
                                let tags = common::tags_with_info(seen.upstream_tags.as_ref(), &info);
                                seen.info = Some(info);
                                tags
                            })
                        });
                        if let Some(tags) = tags {
                            gst::debug!(CAT, obj = pad, "frame info: {tags:?}");
                            pad.send_event(gst::event::Tag::new(tags));
                        }
                        gst::PadProbeReturn::Ok
                    }
                    _ => gst::PadProbeReturn::Ok,
                },
            );
        }
        obj.add_pad(&sink).expect("a new pad");
        obj.add_pad(&src).expect("a new pad");
    }
}

impl GstObjectImpl for CnnJpegDec {}

impl ElementImpl for CnnJpegDec {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "JPEG + RecCNN decoder",
                "Codec/Decoder/Video",
                "jpegdec ! reccnndec; restores each frame at the size and with the model it \
                 carries, and skips frames damaged on disk with a warning",
                "cnncodec developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            common::pad_templates_for(
                &gst::Caps::builder("image/jpeg").build(),
                &common::pad_caps(),
            )
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            let Some(jpegdec) = &self.jpegdec else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::MissingPlugin,
                    ("jpegdec is not installed: install gst-plugins-good (Debian: gstreamer1.0-plugins-good)")
                );
                return Err(gst::StateChangeError);
            };
            jpegdec.set_property_from_str("idct-method", "islow");
            let settings = self.settings.lock().unwrap().clone();
            common::forward_model_settings(&self.reccnndec, &settings);
        }
        if transition == gst::StateChange::ReadyToPaused {
            *self.seen.lock().unwrap() = Seen::default();
        }
        self.parent_change_state(transition)
    }
}

impl BinImpl for CnnJpegDec {}
