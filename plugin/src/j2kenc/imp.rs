use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use cnncodec::codec::j2k::{self, ColourSpace, J2kSettings, PlaneRef, Rate};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "j2kenc",
        gst::DebugColorFlags::empty(),
        Some("Lossy JPEG 2000 encoder (OpenJPEG)"),
    )
});

const DEFAULT_BPP: f64 = 1.0;
const MAX_BPP: f64 = 24.0;
const DEFAULT_RATIO: f64 = 0.0;
const MAX_RATIO: f64 = 10_000.0;
const DEFAULT_LAYERS: u32 = 1;
const DEFAULT_RESOLUTIONS: u32 = 0;
const DEFAULT_IRREVERSIBLE: bool = true;
const MAX_TILE: u32 = 1 << 16;
const DEFAULT_THREADS: u32 = 0;
const MAX_THREADS: u32 = 256;

#[derive(Clone, Copy, Debug)]
struct Settings {
    bpp: f64,
    compression_ratio: f64,
    layers: u32,
    resolutions: u32,
    irreversible: bool,
    tile_width: u32,
    tile_height: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bpp: DEFAULT_BPP,
            compression_ratio: DEFAULT_RATIO,
            layers: DEFAULT_LAYERS,
            resolutions: DEFAULT_RESOLUTIONS,
            irreversible: DEFAULT_IRREVERSIBLE,
            tile_width: 0,
            tile_height: 0,
            threads: DEFAULT_THREADS,
        }
    }
}

impl Settings {
    fn to_j2k(self) -> J2kSettings {
        J2kSettings {
            rate: if self.compression_ratio > 0.0 {
                Rate::Ratio(self.compression_ratio)
            } else if self.bpp > 0.0 {
                Rate::BitsPerPixel(self.bpp)
            } else {
                Rate::Lossless
            },
            layers: self.layers,
            resolutions: self.resolutions,
            irreversible: self.irreversible,
            tile: (self.tile_width, self.tile_height),
            threads: self.threads,
        }
    }
}

/// The negotiated input and output.
struct State {
    info: gst_video::VideoInfo,
    colour: ColourSpace,
    /// `image/x-j2c`: the codestream goes in a `jp2c` box.
    boxed: bool,
}

#[derive(Default)]
pub struct J2kEnc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for J2kEnc {
    const NAME: &'static str = "GstCnnJ2kEnc";
    type Type = super::J2kEnc;
    type ParentType = gst_video::VideoEncoder;
}

impl ObjectImpl for J2kEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecDouble::builder("bpp")
                    .nick("Bits per pixel")
                    .blurb(
                        "Target coded bits per pixel, all components together (0-24); 0 with \
                         compression-ratio=0 keeps every coefficient (lossless with \
                         irreversible=false)",
                    )
                    .minimum(0.0)
                    .maximum(MAX_BPP)
                    .default_value(DEFAULT_BPP)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("compression-ratio")
                    .nick("Compression ratio")
                    .blurb(
                        "Raw size (components x 8 bits per pixel) over coded size, above 1; \
                         overrides bpp when set; 0 = use bpp",
                    )
                    .minimum(0.0)
                    .maximum(MAX_RATIO)
                    .default_value(DEFAULT_RATIO)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("layers")
                    .nick("Quality layers")
                    .blurb(
                        "Quality layers (1-100); each layer before the last targets half the \
                         bits of the next",
                    )
                    .minimum(1)
                    .maximum(j2k::MAX_LAYERS)
                    .default_value(DEFAULT_LAYERS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("resolutions")
                    .nick("Resolution levels")
                    .blurb(
                        "Resolution levels, wavelet decompositions + 1 (1-32); 0 = 6 or as many \
                         as the frame (or tile) size allows",
                    )
                    .minimum(0)
                    .maximum(j2k::MAX_RESOLUTIONS)
                    .default_value(DEFAULT_RESOLUTIONS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("irreversible")
                    .nick("Irreversible wavelet")
                    .blurb("The 9/7 wavelet (best for lossy); false = the reversible 5/3")
                    .default_value(DEFAULT_IRREVERSIBLE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("tile-width")
                    .nick("Tile width")
                    .blurb("Tile width in pixels (0-65536); 0 = the frame width")
                    .maximum(MAX_TILE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("tile-height")
                    .nick("Tile height")
                    .blurb("Tile height in pixels (0-65536); 0 = the frame height")
                    .maximum(MAX_TILE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Encoder threads (0-256); 0 = one per CPU core")
                    .maximum(MAX_THREADS)
                    .default_value(DEFAULT_THREADS)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "bpp" => s.bpp = value.get().expect("type checked upstream"),
            "compression-ratio" => s.compression_ratio = value.get().expect("type checked"),
            "layers" => s.layers = value.get().expect("type checked"),
            "resolutions" => s.resolutions = value.get().expect("type checked"),
            "irreversible" => s.irreversible = value.get().expect("type checked"),
            "tile-width" => s.tile_width = value.get().expect("type checked"),
            "tile-height" => s.tile_height = value.get().expect("type checked"),
            "threads" => s.threads = value.get().expect("type checked"),
            other => unreachable!("no property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "bpp" => s.bpp.to_value(),
            "compression-ratio" => s.compression_ratio.to_value(),
            "layers" => s.layers.to_value(),
            "resolutions" => s.resolutions.to_value(),
            "irreversible" => s.irreversible.to_value(),
            "tile-width" => s.tile_width.to_value(),
            "tile-height" => s.tile_height.to_value(),
            "threads" => s.threads.to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for J2kEnc {}

/// The raw formats taken, with their JPEG 2000 colour space and sampling names (as
/// `openjpegenc` writes them into the caps).
const FORMATS: &[(gst_video::VideoFormat, ColourSpace, &str, &str)] = &[
    (
        gst_video::VideoFormat::Gray8,
        ColourSpace::Gray,
        "GRAY",
        "GRAYSCALE",
    ),
    (
        gst_video::VideoFormat::I420,
        ColourSpace::Ycc,
        "sYUV",
        "YCbCr-4:2:0",
    ),
    (
        gst_video::VideoFormat::Y42b,
        ColourSpace::Ycc,
        "sYUV",
        "YCbCr-4:2:2",
    ),
    (
        gst_video::VideoFormat::Y444,
        ColourSpace::Ycc,
        "sYUV",
        "YCbCr-4:4:4",
    ),
    (gst_video::VideoFormat::Rgb, ColourSpace::Rgb, "sRGB", "RGB"),
];

impl ElementImpl for J2kEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "JPEG 2000 encoder (lossy, rate-controlled)",
                "Codec/Encoder/Video/Image",
                "Encodes frames to JPEG 2000 codestreams with OpenJPEG at a target bit rate or \
                 compression ratio, with quality layers, resolution levels and tiles",
                "cnncodec developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().map(|f| f.0))
                .build();
            let coded = |name: &str| {
                gst::Structure::builder(name)
                    .field("width", gst::IntRange::new(1, i32::MAX))
                    .field("height", gst::IntRange::new(1, i32::MAX))
                    .field("num-components", gst::IntRange::new(1, 3))
                    .field("colorspace", gst::List::new(["sRGB", "sYUV", "GRAY"]))
                    .field(
                        "sampling",
                        gst::List::new(FORMATS.iter().map(|f| f.3).collect::<Vec<_>>()),
                    )
                    .build()
            };
            let src = gst::Caps::builder_full()
                .structure(coded("image/x-j2c"))
                .structure(coded("image/x-jpc"))
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink,
                )
                .expect("static pad template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
                )
                .expect("static pad template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl J2kEnc {
    /// Checks the settings against the frame size, posting an element error that says what
    /// to change.
    fn check_settings(&self, info: &gst_video::VideoInfo) -> Result<(), gst::FlowError> {
        let settings = self.settings.lock().unwrap().to_j2k();
        let format = info.format_info();
        let subsampling: Vec<(u32, u32)> = (0..info.n_components() as usize)
            .map(|c| (1 << format.w_sub()[c], 1 << format.h_sub()[c]))
            .collect();
        j2k::plan(
            &settings,
            info.width() as usize,
            info.height() as usize,
            &subsampling,
        )
        .map(|_| ())
        .map_err(|e| {
            gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", e));
            gst::FlowError::Error
        })
    }
}

impl VideoEncoderImpl for J2kEnc {
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_format(
        &self,
        state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let info = state.info().clone();
        let Some(&(_, colour, colorspace, sampling)) =
            FORMATS.iter().find(|f| f.0 == info.format())
        else {
            return Err(gst::loggable_error!(
                CAT,
                "unsupported format {:?}",
                info.format()
            ));
        };
        self.check_settings(&info)
            .map_err(|_| gst::loggable_error!(CAT, "settings do not fit the stream"))?;
        let obj = self.obj();
        let allowed = obj.src_pad().allowed_caps();
        let boxed = allowed
            .as_ref()
            .and_then(|c| c.structure(0))
            .is_none_or(|s| s.name() != "image/x-jpc");
        let caps = gst::Caps::builder(if boxed { "image/x-j2c" } else { "image/x-jpc" })
            .field("colorspace", colorspace)
            .field("sampling", sampling)
            .field("num-components", info.n_components() as i32)
            .build();
        gst::debug!(CAT, imp = self, "input {info:?}, output {caps}");
        let output = obj
            .set_output_state(caps, Some(state))
            .map_err(|_| gst::loggable_error!(CAT, "cannot set the output state"))?;
        obj.negotiate(output)
            .map_err(|_| gst::loggable_error!(CAT, "downstream refused the codestream caps"))?;
        *self.state.lock().unwrap() = Some(State {
            info,
            colour,
            boxed,
        });
        Ok(())
    }

    fn handle_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().to_j2k();
        let (info, colour, boxed) = match &*self.state.lock().unwrap() {
            Some(s) => (s.info.clone(), s.colour, s.boxed),
            None => return Err(gst::FlowError::NotNegotiated),
        };
        let input = frame.input_buffer().ok_or(gst::FlowError::Error)?;
        let vframe =
            gst_video::VideoFrameRef::from_buffer_ref_readable(input, &info).map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "a frame is smaller than its caps say ({} bytes)",
                        input.size()
                    )
                );
                gst::FlowError::Error
            })?;
        let (width, height) = (info.width() as usize, info.height() as usize);
        let started = std::time::Instant::now();
        let encoded = if colour == ColourSpace::Rgb {
            // Packed RGB into three planes.
            let stride = vframe.plane_stride()[0] as usize;
            let data = vframe.plane_data(0).map_err(|_| gst::FlowError::Error)?;
            let channel = |c: usize| -> Vec<u8> {
                (0..height)
                    .flat_map(|y| (0..width).map(move |x| (y, x)))
                    .map(|(y, x)| data[y * stride + 3 * x + c])
                    .collect()
            };
            let channels = [channel(0), channel(1), channel(2)];
            let planes: Vec<PlaneRef> = channels
                .iter()
                .map(|d| PlaneRef {
                    data: d,
                    stride: width,
                    width,
                    height,
                })
                .collect();
            j2k::encode(width, height, &planes, colour, &settings)
        } else {
            let mut planes = vec![];
            for p in 0..info.n_planes() {
                planes.push(PlaneRef {
                    data: vframe.plane_data(p).map_err(|_| gst::FlowError::Error)?,
                    stride: vframe.plane_stride()[p as usize] as usize,
                    width: info.comp_width(p as u8) as usize,
                    height: info.comp_height(p as u8) as usize,
                });
            }
            j2k::encode(width, height, &planes, colour, &settings)
        };
        drop(vframe);
        let codestream = encoded.map_err(|e| {
            gst::element_imp_error!(self, gst::LibraryError::Encode, ("{}", e));
            gst::FlowError::Error
        })?;
        gst::trace!(
            CAT,
            imp = self,
            "{} bytes in {:.1} ms",
            codestream.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        let out = if boxed {
            let mut v = Vec::with_capacity(codestream.len() + 8);
            v.extend_from_slice(&((codestream.len() + 8) as u32).to_be_bytes());
            v.extend_from_slice(b"jp2c");
            v.extend_from_slice(&codestream);
            v
        } else {
            codestream
        };
        frame.set_output_buffer(gst::Buffer::from_mut_slice(out));
        frame.set_flags(gst_video::VideoCodecFrameFlags::SYNC_POINT);
        self.obj().finish_frame(frame)
    }
}
