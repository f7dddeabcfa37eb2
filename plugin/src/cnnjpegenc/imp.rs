use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use crate::common::{self, ModelSettings, StreamInfo};
use crate::jpeg_info;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cnnjpegenc",
        gst::DebugColorFlags::empty(),
        Some("comcnnenc + jpegenc, paired"),
    )
});

#[derive(Clone, Debug)]
struct Settings {
    model: ModelSettings,
    /// jpegenc's quality; 0: the one the model was trained for.
    quality: i32,
    /// Picks the ladder point when no model is set; 0: off.
    target_bpp: f64,
}

pub struct CnnJpegEnc {
    settings: Mutex<Settings>,
    comcnnenc: gst::Element,
    /// `None` when gst-plugins-good's jpegenc is not installed (an error at start).
    jpegenc: Option<gst::Element>,
    /// The stream-info comment of the frames now passing, written into each one.
    comment: Arc<Mutex<Option<String>>>,
}

impl Default for CnnJpegEnc {
    fn default() -> Self {
        Self {
            settings: Mutex::new(Settings {
                model: ModelSettings::new(),
                quality: 0,
                target_bpp: 0.0,
            }),
            comcnnenc: gst::ElementFactory::make("comcnnenc")
                .build()
                .expect("comcnnenc is in this plugin"),
            jpegenc: gst::ElementFactory::make("jpegenc").build().ok(),
            comment: Arc::default(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for CnnJpegEnc {
    const NAME: &'static str = "GstCnnJpegEnc";
    type Type = super::CnnJpegEnc;
    type ParentType = gst::Bin;
}

impl ObjectImpl for CnnJpegEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = common::model_properties();
            props.push(
                glib::ParamSpecInt::builder("quality")
                    .nick("JPEG quality")
                    .blurb(
                        "jpegenc's quality (1-100); 0 = the quality the model was trained for \
                         (jpeg-qN: N). Another value works but costs quality, and is warned about",
                    )
                    .minimum(0)
                    .maximum(100)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
            );
            props.push(
                glib::ParamSpecDouble::builder("target-bpp")
                    .nick("Target bits per pixel")
                    .blurb(
                        "When no model is set: pick the built-in JPEG ladder model whose measured \
                         rate (dev-eval photographs, bits per original pixel) is the highest not \
                         above this (0-24; 0 = off: the default model). For a bit rate in bits/s, \
                         divide by width x height x frames/s",
                    )
                    .minimum(0.0)
                    .maximum(24.0)
                    .default_value(0.0)
                    .mutable_ready()
                    .build(),
            );
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "quality" => s.quality = value.get().unwrap(),
            "target-bpp" => s.target_bpp = value.get().unwrap(),
            _ => {
                common::set_model_property(&mut s.model, value, pspec);
            }
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap().clone();
        match pspec.name() {
            "quality" => s.quality.to_value(),
            "target-bpp" => s.target_bpp.to_value(),
            _ => common::model_property(&s.model, pspec).expect("a model property"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let templ = |name| obj.pad_template(name).expect("pad template");
        let sink = gst::GhostPad::builder_from_template(&templ("sink"))
            .name("sink")
            .build();
        // Children first: adding an element unlinks a ghost pad already aimed at it.
        obj.add(&self.comcnnenc).expect("a new child");
        sink.set_target(self.comcnnenc.static_pad("sink").as_ref())
            .expect("comcnnenc's sink pad");
        let src = gst::GhostPad::builder_from_template(&templ("src"))
            .name("src")
            .build();
        if let Some(jpegenc) = &self.jpegenc {
            obj.add(jpegenc).expect("a new child");
            self.comcnnenc
                .link(jpegenc)
                .expect("comcnnenc links to jpegenc");
            let jpeg_src = jpegenc.static_pad("src").expect("jpegenc's src pad");
            src.set_target(Some(&jpeg_src)).expect("jpegenc's src pad");
            let comment = self.comment.clone();
            jpeg_src.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, probe| {
                    match &mut probe.data {
                        Some(gst::PadProbeData::Event(e)) => {
                            if let gst::EventView::Tag(t) = e.view() {
                                if let Some(info) = StreamInfo::from_tags(t.tag()) {
                                    *comment.lock().unwrap() = Some(info.to_comment());
                                }
                            }
                        }
                        Some(gst::PadProbeData::Buffer(buffer)) => {
                            let text = comment.lock().unwrap().clone();
                            if let Some(framed) = text.and_then(|t| with_info(buffer, &t)) {
                                *buffer = framed;
                            }
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        }
        obj.add_pad(&sink).expect("a new pad");
        obj.add_pad(&src).expect("a new pad");
    }
}

/// `buffer`'s JPEG with the stream info and checksum in it, timestamps and flags kept.
fn with_info(buffer: &gst::Buffer, comment: &str) -> Option<gst::Buffer> {
    let framed = {
        let map = buffer.map_readable().ok()?;
        jpeg_info::with_info(&map, comment)?
    };
    let mut out = gst::Buffer::from_mut_slice(framed);
    common::copy_metadata(buffer, out.get_mut().unwrap()).ok()?;
    Some(out)
}

impl GstObjectImpl for CnnJpegEnc {}

impl ElementImpl for CnnJpegEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ComCNN + JPEG encoder",
                "Codec/Encoder/Video",
                "comcnnenc ! jpegenc at the model's own quality; every frame carries its \
                 original size, model and a checksum, so segments and cut archives restore alone",
                "cnncodec developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            common::pad_templates_for(
                &common::pad_caps(),
                &gst::Caps::builder("image/jpeg").build(),
            )
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            if let Err(e) = self.configure() {
                gst::element_imp_error!(self, gst::CoreError::StateChange, ("{}", e));
                return Err(gst::StateChangeError);
            }
        }
        if transition == gst::StateChange::ReadyToPaused {
            *self.comment.lock().unwrap() = None;
        }
        self.parent_change_state(transition)
    }
}

impl BinImpl for CnnJpegEnc {}

impl CnnJpegEnc {
    /// Chooses the model and sets both children up for it.
    fn configure(&self) -> Result<(), String> {
        let s = self.settings.lock().unwrap().clone();
        let jpegenc = self.jpegenc.as_ref().ok_or(
            "jpegenc is not installed: install gst-plugins-good (Debian: gstreamer1.0-plugins-good)",
        )?;
        let mut model = s.model.clone();
        if model.model.is_none() && model.model_location.is_none() && s.target_bpp > 0.0 {
            model.model = cnncodec::eval::measured::ladder_point_for_bpp("jpeg", s.target_bpp)
                .map(str::to_owned);
            gst::info!(
                CAT,
                imp = self,
                "target-bpp {} -> {:?}",
                s.target_bpp,
                model.model
            );
        }
        let weights = cnncodec::net::builtin::resolve(
            model.model_location.as_deref().map(Path::new),
            model.model.as_deref(),
        )
        .map_err(|e| common::model_error(&e))?;
        if weights.meta.codec != "jpeg" {
            return Err(format!(
                "model '{}' is trained for {}, not JPEG: choose a jpeg-qN model (or use comcnnenc ! j2kenc)",
                weights.meta.name, weights.meta.codec
            ));
        }
        let quality = if s.quality > 0 {
            s.quality
        } else {
            weights.meta.quality as i32
        };
        common::forward_model_settings(&self.comcnnenc, &model);
        jpegenc.set_property("quality", quality);
        jpegenc.set_property_from_str("idct-method", "islow");
        gst::info!(
            CAT,
            imp = self,
            "model {} at jpegenc quality {quality}",
            weights.meta.name
        );
        Ok(())
    }
}
