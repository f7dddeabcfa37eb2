//! A chain of 3x3 convolutions run row by row: each thread takes a band of output rows and
//! pulls every layer's rows through rings of three rows, so no full-size feature map is ever
//! stored and each layer's input rows are still in cache when the next layer reads them.
//! A band recomputes a few rows of each layer above its first row (its halo); there is one
//! band per thread, so this costs a few rows per layer and frame.

use rayon::prelude::*;

use super::kernels::{direct_kernel, reduce_kernel, DirectKernel, DirectRow, ReduceFn, ReduceRow};
use super::Isa;

/// One 3x3 convolution with zero padding 1, as stored: weight `[cout][cin][3][3]`, bias
/// `[cout]`.
pub(crate) struct ConvSpec<'a> {
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    pub cin: usize,
    pub cout: usize,
    pub stride: usize,
    pub relu: bool,
}

enum Op {
    /// Many output channels, channels-last padded output rows.
    Direct {
        kernel: DirectKernel,
        weights: AlignedBuf,
        bias: AlignedBuf,
        blocks: usize,
    },
    /// The last layer: a few output channels straight into the planar output.
    Reduce {
        kernel: ReduceFn,
        /// Per output channel, `[ky][kx][in_pix]`.
        weights: Vec<AlignedBuf>,
        bias: Vec<f32>,
    },
}

struct Layer {
    cin: usize,
    stride: usize,
    relu: bool,
    /// Floats per stored input pixel.
    in_pix: usize,
    /// Floats per stored output pixel (direct layers).
    out_pix: usize,
    op: Op,
}

/// A network packed for one instruction set.
pub(crate) struct Network {
    /// Tells workspaces prepared for another network apart.
    id: usize,
    layers: Vec<Layer>,
    channels_in: usize,
    channels_out: usize,
}

impl Network {
    /// Packs `convs` (the first reads planar images of `convs[0].cin` channels, the last
    /// writes planar images of its `cout` channels) for `isa`.
    pub fn new(convs: &[ConvSpec], isa: Isa) -> Self {
        assert!(convs.len() >= 2, "a network has a first and a last layer");
        let mut layers = Vec::with_capacity(convs.len());
        let mut in_pix = convs[0].cin;
        for (i, c) in convs.iter().enumerate() {
            assert_eq!(c.weight.len(), c.cout * c.cin * 9, "3x3 weights");
            assert_eq!(c.bias.len(), c.cout, "one bias per output channel");
            if i > 0 {
                assert_eq!(
                    c.cin,
                    convs[i - 1].cout,
                    "a layer reads its predecessor's output"
                );
            }
            let last = i + 1 == convs.len();
            let layer = if last {
                assert!(in_pix.is_multiple_of(8), "the last layer reads stored rows");
                Layer {
                    cin: c.cin,
                    stride: c.stride,
                    relu: c.relu,
                    in_pix,
                    out_pix: 0,
                    op: pack_reduce(c, in_pix, isa),
                }
            } else {
                let kernel = direct_kernel(isa, c.cout);
                let out_pix = c.cout.next_multiple_of(kernel.block);
                let layer = Layer {
                    cin: c.cin,
                    stride: c.stride,
                    relu: c.relu,
                    in_pix,
                    out_pix,
                    op: pack_direct(c, kernel, out_pix),
                };
                in_pix = out_pix;
                layer
            };
            layers.push(layer);
        }
        assert!(!layers.last().unwrap().relu, "the last layer has no ReLU");
        static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            layers,
            channels_in: convs[0].cin,
            channels_out: convs.last().unwrap().cout,
        }
    }

    /// The output size for a `width` x `height` input.
    pub fn output_size(&self, width: usize, height: usize) -> (usize, usize) {
        self.layers.iter().fold((width, height), |(w, h), l| {
            (w.div_ceil(l.stride), h.div_ceil(l.stride))
        })
    }

    /// Number of layers.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Kernel names, for logs.
    pub fn kernels(&self) -> String {
        let mut names: Vec<&str> = self
            .layers
            .iter()
            .filter_map(|l| match &l.op {
                Op::Direct { kernel, .. } => Some(kernel.name),
                Op::Reduce { .. } => None,
            })
            .collect();
        names.dedup();
        names.join(", ")
    }

    /// Runs the network on a planar `channels_in x height x width` image into `out` (planar,
    /// of [`Network::output_size`]), in `bands` row bands on rayon's threads. `workspace` is
    /// reused between calls of the same size.
    pub fn run(
        &self,
        input: &[f32],
        width: usize,
        height: usize,
        out: &mut [f32],
        workspace: &mut Workspace,
        bands: usize,
    ) {
        assert!(width > 0 && height > 0, "an empty image");
        assert_eq!(input.len(), self.channels_in * width * height, "input size");
        let (ow, oh) = self.output_size(width, height);
        assert_eq!(out.len(), self.channels_out * ow * oh, "output size");
        let bands = bands.clamp(1, oh);
        workspace.prepare(self, width, height, bands);
        let ws = &mut *workspace;
        let frame = Frame {
            input: input.as_ptr(),
            out: out.as_mut_ptr(),
            zero: ws.zero.ptr(),
            sizes: &ws.sizes,
        };
        let range = |i: usize| (oh * i / bands, oh * (i + 1) / bands);
        if bands == 1 {
            // SAFETY: the buffers were sized for this frame by `prepare`.
            unsafe { self.run_band(&mut ws.bands[0], &frame, 0, oh) };
        } else {
            ws.bands[..bands]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, band)| {
                    let (r0, r1) = range(i);
                    // SAFETY: as above; bands write disjoint output rows.
                    unsafe { self.run_band(band, &frame, r0, r1) };
                });
        }
    }

    /// Computes output rows `r0..r1`.
    unsafe fn run_band(&self, band: &mut Band, frame: &Frame, r0: usize, r1: usize) {
        let last = self.layers.len() - 1;
        // Each layer's first input row for this band.
        let mut first = r0;
        for k in (0..=last).rev() {
            first = (self.layers[k].stride * first).saturating_sub(1);
            band.next[k] = first;
        }
        let (ow, oh) = frame.sizes[last + 1];
        let layer = &self.layers[last];
        let Op::Reduce {
            kernel,
            weights,
            bias,
        } = &layer.op
        else {
            unreachable!("the last layer is a reduction")
        };
        for r in r0..r1 {
            self.fill_inputs(band, frame, last, r);
            let rows = self.input_rows(band, frame, last, r);
            for (co, (w, &b)) in weights.iter().zip(bias).enumerate() {
                kernel(&ReduceRow {
                    rows,
                    in_pix: layer.in_pix,
                    stride: layer.stride,
                    weights: w.ptr(),
                    bias: b,
                    out: frame.out.add((co * oh + r) * ow),
                    width: ow,
                });
            }
        }
    }

    /// Makes ring `k` hold every input row that layer `k`'s output row `r` reads.
    unsafe fn fill_inputs(&self, band: &mut Band, frame: &Frame, k: usize, r: usize) {
        let (w, h) = frame.sizes[k];
        let need = (self.layers[k].stride * r + 1).min(h - 1);
        while band.next[k] <= need {
            let row = band.next[k];
            let dst = band.slot(k, row);
            if k == 0 {
                // The image row, channels-last between its zero padding pixels.
                let c = self.channels_in;
                for ch in 0..c {
                    let src = frame.input.add((ch * h + row) * w);
                    for x in 0..w {
                        *dst.add((x + 1) * c + ch) = *src.add(x);
                    }
                }
            } else {
                self.fill_inputs(band, frame, k - 1, row);
                let rows = self.input_rows(band, frame, k - 1, row);
                let layer = &self.layers[k - 1];
                let Op::Direct {
                    kernel,
                    weights,
                    bias,
                    blocks,
                } = &layer.op
                else {
                    unreachable!("only the last layer is a reduction")
                };
                (kernel.run)(&DirectRow {
                    rows,
                    in_pix: layer.in_pix,
                    cin: layer.cin,
                    stride: layer.stride,
                    weights: weights.ptr(),
                    bias: bias.ptr(),
                    // SAFETY: pixel 0 after the row's padding pixel.
                    out: dst.add(layer.out_pix),
                    out_pix: layer.out_pix,
                    width: w,
                    relu: layer.relu,
                    blocks: *blocks,
                });
            }
            band.next[k] += 1;
        }
    }

    /// The three input rows of layer `k`'s output row `r`: ring rows or the zero row.
    fn input_rows(&self, band: &mut Band, frame: &Frame, k: usize, r: usize) -> [*const f32; 3] {
        let h = frame.sizes[k].1;
        let centre = self.layers[k].stride * r;
        [0, 1, 2].map(|ky| {
            let row = (centre + ky).wrapping_sub(1);
            if row < h {
                band.slot(k, row) as *const f32
            } else {
                frame.zero
            }
        })
    }
}

fn pack_direct(c: &ConvSpec, kernel: DirectKernel, out_pix: usize) -> Op {
    let (weights, bias) = pack_direct_weights(c, kernel.block, out_pix);
    Op::Direct {
        kernel,
        weights,
        bias,
        blocks: out_pix / kernel.block,
    }
}

fn pack_reduce(c: &ConvSpec, in_pix: usize, isa: Isa) -> Op {
    Op::Reduce {
        kernel: reduce_kernel(isa),
        weights: (0..c.cout)
            .map(|oc| pack_reduce_weights(c, oc, in_pix))
            .collect(),
        bias: c.bias.to_vec(),
    }
}

/// `c`'s weights as the direct kernels read them, `[block][ky][kx][cin][block channels]`
/// with blocks of `block` output channels, and its bias; both padded with zeros to
/// `out_pix` output channels.
pub(crate) fn pack_direct_weights(
    c: &ConvSpec,
    block: usize,
    out_pix: usize,
) -> (AlignedBuf, AlignedBuf) {
    let mut weights = AlignedBuf::zeroed(out_pix * 9 * c.cin);
    let packed = weights.as_mut_slice();
    for oc in 0..c.cout {
        let (b, j) = (oc / block, oc % block);
        for ci in 0..c.cin {
            for tap in 0..9 {
                packed[((b * 9 + tap) * c.cin + ci) * block + j] =
                    c.weight[(oc * c.cin + ci) * 9 + tap];
            }
        }
    }
    let mut bias = AlignedBuf::zeroed(out_pix);
    bias.as_mut_slice()[..c.cout].copy_from_slice(c.bias);
    (weights, bias)
}

/// Output channel `oc` of `c` as the one-channel kernel reads it, `[ky][kx][in_pix]`, the
/// input channels beyond `c.cin` zero.
pub(crate) fn pack_reduce_weights(c: &ConvSpec, oc: usize, in_pix: usize) -> AlignedBuf {
    let mut w = AlignedBuf::zeroed(9 * in_pix);
    let packed = w.as_mut_slice();
    for ci in 0..c.cin {
        for tap in 0..9 {
            packed[tap * in_pix + ci] = c.weight[(oc * c.cin + ci) * 9 + tap];
        }
    }
    w
}

/// What the bands of one frame share.
struct Frame<'a> {
    input: *const f32,
    out: *mut f32,
    zero: *const f32,
    /// Input size of each layer, then the output size.
    sizes: &'a [(usize, usize)],
}

// SAFETY: the pointers are read (input, zero) or written at disjoint rows (out) by the bands
// of one `Network::run`, which outlives them.
unsafe impl Sync for Frame<'_> {}

/// One thread's rings: for each layer, its last three input rows.
struct Band {
    rings: Vec<AlignedBuf>,
    row_len: Vec<usize>,
    next: Vec<usize>,
}

impl Band {
    fn slot(&mut self, k: usize, row: usize) -> *mut f32 {
        // SAFETY: the ring holds three rows of `row_len[k]` floats.
        unsafe { self.rings[k].ptr_mut().add((row % 3) * self.row_len[k]) }
    }
}

/// The buffers of [`Network::run`] for one input size, kept between frames.
#[derive(Default)]
pub(crate) struct Workspace {
    key: (usize, usize, usize),
    sizes: Vec<(usize, usize)>,
    bands: Vec<Band>,
    zero: AlignedBuf,
}

impl Workspace {
    fn prepare(&mut self, net: &Network, width: usize, height: usize, bands: usize) {
        let key = (width, height, net.id);
        if self.key == key && self.bands.len() >= bands {
            return;
        }
        let mut sizes = vec![(width, height)];
        for l in &net.layers {
            let (w, h) = *sizes.last().unwrap();
            sizes.push((w.div_ceil(l.stride), h.div_ceil(l.stride)));
        }
        // Whole cache lines per row, so every row starts 64-byte aligned.
        let row_len: Vec<usize> = net
            .layers
            .iter()
            .zip(&sizes)
            .map(|(l, &(w, _))| ((w + 2) * l.in_pix).next_multiple_of(16))
            .collect();
        self.bands = (0..bands)
            .map(|_| Band {
                rings: row_len.iter().map(|&n| AlignedBuf::zeroed(3 * n)).collect(),
                row_len: row_len.clone(),
                next: vec![0; net.layers.len()],
            })
            .collect();
        self.zero = AlignedBuf::zeroed(row_len.iter().copied().max().unwrap_or(0));
        self.sizes = sizes;
        self.key = key;
    }
}

/// Zero-initialised f32 storage whose start is 64-byte aligned.
#[derive(Default)]
pub(crate) struct AlignedBuf {
    data: Vec<f32>,
    offset: usize,
    len: usize,
}

impl AlignedBuf {
    pub fn zeroed(len: usize) -> Self {
        let data = vec![0f32; len + 16];
        let offset = data.as_ptr().align_offset(64);
        Self { data, offset, len }
    }

    // Straight from the vector, with no reference to its elements in between: a slice would
    // invalidate pointers taken earlier into the same buffer.
    pub fn ptr(&self) -> *const f32 {
        // SAFETY: `offset` < 16 is inside the allocation of `len + 16` floats.
        unsafe { self.data.as_ptr().add(self.offset) }
    }

    pub fn ptr_mut(&mut self) -> *mut f32 {
        // SAFETY: as in `ptr`.
        unsafe { self.data.as_mut_ptr().add(self.offset) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data[self.offset..self.offset + self.len]
    }
}
