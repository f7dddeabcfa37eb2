//! ComCNN and RecCNN (Jiang et al., TCSVT 2018) on burn, generic over the backend.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Compact-representation network: 3 convolutions, the second with stride 2.
#[derive(Config, Debug, PartialEq, Eq)]
pub struct ComCnnConfig {
    /// Image channels in and out (1: luma).
    #[config(default = 1)]
    pub channels: usize,
    /// Feature maps of the hidden layers.
    #[config(default = 64)]
    pub features: usize,
}

#[derive(Module, Debug)]
pub struct ComCnn<B: Backend> {
    pub conv1: Conv2d<B>,
    pub conv2: Conv2d<B>,
    pub conv3: Conv2d<B>,
}

fn conv3x3<B: Backend>(
    cin: usize,
    cout: usize,
    stride: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(bias)
        .init(device)
}

impl ComCnnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> ComCnn<B> {
        ComCnn {
            conv1: conv3x3(self.channels, self.features, 1, true, device),
            conv2: conv3x3(self.features, self.features, 2, true, device),
            conv3: conv3x3(self.features, self.channels, 1, true, device),
        }
    }
}

impl<B: Backend> ComCnn<B> {
    /// The raw compact image, before 8-bit rounding.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        // [n, c, h, w] -> [n, f, h, w]
        let x = relu(self.conv1.forward(x));
        // -> [n, f, ceil(h/2), ceil(w/2)]
        let x = relu(self.conv2.forward(x));
        // -> [n, c, ceil(h/2), ceil(w/2)]
        self.conv3.forward(x)
    }
}

/// How RecCNN's layers are computed: burn's modules, unless overridden.
pub trait LayerOps<B: Backend> {
    fn conv(&self, conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
        conv.forward(x)
    }
    fn batch_norm(&self, bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
        bn.forward(x)
    }
    /// BatchNorm then ReLU (one pass where an implementation fuses them).
    fn batch_norm_relu(&self, bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
        relu(self.batch_norm(bn, x))
    }
}

/// burn's own layers.
pub struct BurnLayers;

impl<B: Backend> LayerOps<B> for BurnLayers {}

/// Reconstruction network: predicts the residual that bicubic up-scaling left.
#[derive(Config, Debug, PartialEq, Eq)]
pub struct RecCnnConfig {
    /// Image channels in and out (1: luma).
    #[config(default = 1)]
    pub channels: usize,
    /// Feature maps of the hidden layers.
    #[config(default = 64)]
    pub features: usize,
    /// Convolution layers in all (first and last included); at least 2.
    #[config(default = 20)]
    pub depth: usize,
    /// BatchNorm after each hidden convolution (the released model has it, bias-free).
    #[config(default = true)]
    pub batch_norm: bool,
}

/// One hidden layer: conv + optional BatchNorm + ReLU.
#[derive(Module, Debug)]
pub struct HiddenLayer<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: Option<BatchNorm<B>>,
}

#[derive(Module, Debug)]
pub struct RecCnn<B: Backend> {
    pub first: Conv2d<B>,
    pub hidden: Vec<HiddenLayer<B>>,
    pub last: Conv2d<B>,
}

impl RecCnnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> RecCnn<B> {
        assert!(self.depth >= 2, "RecCNN needs at least 2 layers");
        let hidden = (0..self.depth - 2)
            .map(|_| HiddenLayer {
                // The released model stores (zero) biases before BatchNorm too; keeping them
                // makes the layout identical with or without BatchNorm.
                conv: conv3x3(self.features, self.features, 1, true, device),
                bn: self.batch_norm.then(|| {
                    BatchNormConfig::new(self.features)
                        .with_epsilon(0.0)
                        .init(device)
                }),
            })
            .collect();
        RecCnn {
            first: conv3x3(self.channels, self.features, 1, true, device),
            hidden,
            last: conv3x3(self.features, self.channels, 1, true, device),
        }
    }
}

impl<B: Backend> RecCnn<B> {
    /// The residual; the restored image is `upscaled - residual`.
    pub fn forward(&self, upscaled: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_with(upscaled, &BurnLayers)
    }

    /// [`forward`](Self::forward) with the layers computed by `ops` (training swaps in
    /// versions with faster backward passes, `train::fastconv::FastTrainLayers`).
    pub fn forward_with(&self, upscaled: Tensor<B, 4>, ops: &dyn LayerOps<B>) -> Tensor<B, 4> {
        // [n, c, h, w] -> [n, f, h, w]
        let mut x = relu(ops.conv(&self.first, upscaled));
        for layer in &self.hidden {
            // [n, f, h, w] -> [n, f, h, w]
            x = ops.conv(&layer.conv, x);
            x = match &layer.bn {
                Some(bn) => ops.batch_norm_relu(bn, x),
                None => relu(x),
            };
        }
        // -> [n, c, h, w]
        ops.conv(&self.last, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_flex::Flex;

    #[test]
    fn compact_size_is_rounded_up_half() {
        let device = Default::default();
        let net = ComCnnConfig::new().with_features(4).init::<Flex>(&device);
        for (h, w) in [(1usize, 1usize), (2, 2), (3, 5), (289, 353)] {
            let x = Tensor::<Flex, 4>::zeros([1, 1, h, w], &device);
            let y = net.forward(x);
            assert_eq!(y.dims(), [1, 1, h.div_ceil(2), w.div_ceil(2)]);
        }
    }

    #[test]
    fn reccnn_keeps_size_and_depth() {
        let device = Default::default();
        let cfg = RecCnnConfig::new().with_features(4).with_depth(5);
        let net = cfg.init::<Flex>(&device);
        assert_eq!(net.hidden.len(), 3);
        let y = net.forward(Tensor::<Flex, 4>::zeros([1, 1, 3, 5], &device));
        assert_eq!(y.dims(), [1, 1, 3, 5]);
    }
}
