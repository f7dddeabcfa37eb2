//! Between stored tensors and burn modules: building the networks, capturing trained ones,
//! folding BatchNorm.

use super::*;

impl ModelWeights {
    /// Builds the ComCNN on `device`.
    pub fn comcnn<B: Backend>(&self, device: &B::Device) -> ComCnn<B> {
        let mut net = self.meta.comcnn.init::<B>(device);
        load_conv(&mut net.conv1, &self.comcnn, "conv1", device);
        load_conv(&mut net.conv2, &self.comcnn, "conv2", device);
        load_conv(&mut net.conv3, &self.comcnn, "conv3", device);
        net
    }

    /// Builds the RecCNN on `device`.
    pub fn reccnn<B: Backend>(&self, device: &B::Device) -> RecCnn<B> {
        build_reccnn(&self.reccnn, &self.meta.reccnn, device)
    }

    /// The RecCNN with BatchNorm folded into the convolutions ([`fold_batch_norm`]).
    pub fn reccnn_folded<B: Backend>(&self, device: &B::Device) -> RecCnn<B> {
        let (map, cfg) = fold_batch_norm(&self.reccnn, &self.meta.reccnn);
        build_reccnn(&map, &cfg, device)
    }

    /// Captures trained networks (the inverse of [`ModelWeights::comcnn`]/[`ModelWeights::reccnn`]).
    pub fn from_networks<B: Backend>(
        mut meta: ModelMeta,
        comcnn: &ComCnn<B>,
        reccnn: &RecCnn<B>,
    ) -> Self {
        let mut com = TensorMap::new();
        store_conv(&mut com, "conv1", &comcnn.conv1);
        store_conv(&mut com, "conv2", &comcnn.conv2);
        store_conv(&mut com, "conv3", &comcnn.conv3);
        let mut rec = TensorMap::new();
        store_conv(&mut rec, "conv1", &reccnn.first);
        for (i, layer) in reccnn.hidden.iter().enumerate() {
            let n = i + 2;
            store_conv(&mut rec, &format!("conv{n}"), &layer.conv);
            if let Some(bn) = &layer.bn {
                store(&mut rec, &format!("bn{n}.gamma"), bn.gamma.val());
                store(&mut rec, &format!("bn{n}.beta"), bn.beta.val());
                store(
                    &mut rec,
                    &format!("bn{n}.running_mean"),
                    bn.running_mean.value(),
                );
                store(
                    &mut rec,
                    &format!("bn{n}.running_var"),
                    bn.running_var.value(),
                );
            }
        }
        store_conv(
            &mut rec,
            &format!("conv{}", reccnn.hidden.len() + 2),
            &reccnn.last,
        );
        meta.content_hash = content_hash(&com, &rec);
        Self {
            meta,
            comcnn: com,
            reccnn: rec,
        }
    }
}

/// The RecCNN with every BatchNorm folded into its convolution (inference form: the same
/// function, no BatchNorm layers). Training freezes RecCNN this way while it trains ComCNN,
/// since a BatchNorm inside an autodiff graph would use batch statistics.
pub fn fold_batch_norm(rec: &TensorMap, cfg: &RecCnnConfig) -> (TensorMap, RecCnnConfig) {
    let mut out = rec.clone();
    let folded_cfg = cfg.clone().with_batch_norm(false);
    if !cfg.batch_norm {
        return (out, folded_cfg);
    }
    for n in 2..cfg.depth {
        let get = |k: &str| &rec[&format!("bn{n}.{k}")].data;
        let (gamma, beta, mean, var) = (
            get("gamma"),
            get("beta"),
            get("running_mean"),
            get("running_var"),
        );
        // Inference BatchNorm has epsilon 0 here; a zero variance would divide by zero.
        let eps = 1e-12f32;
        let w = out.get_mut(&format!("conv{n}.weight")).unwrap();
        let per_out = w.data.len() / gamma.len();
        for (o, chunk) in w.data.chunks_mut(per_out).enumerate() {
            let scale = gamma[o] / (var[o] + eps).sqrt();
            chunk.iter_mut().for_each(|v| *v *= scale);
        }
        let b = out.get_mut(&format!("conv{n}.bias")).unwrap();
        for (o, v) in b.data.iter_mut().enumerate() {
            let scale = gamma[o] / (var[o] + eps).sqrt();
            *v = (*v - mean[o]) * scale + beta[o];
        }
        for k in ["gamma", "beta", "running_mean", "running_var"] {
            out.remove(&format!("bn{n}.{k}"));
        }
    }
    (out, folded_cfg)
}

pub fn build_reccnn<B: Backend>(
    map: &TensorMap,
    cfg: &RecCnnConfig,
    device: &B::Device,
) -> RecCnn<B> {
    let mut net = cfg.init::<B>(device);
    load_conv(&mut net.first, map, "conv1", device);
    for (i, layer) in net.hidden.iter_mut().enumerate() {
        let n = i + 2;
        load_conv(&mut layer.conv, map, &format!("conv{n}"), device);
        if let Some(bn) = &mut layer.bn {
            bn.gamma = Param::from_tensor(tensor1(map, &format!("bn{n}.gamma"), device));
            bn.beta = Param::from_tensor(tensor1(map, &format!("bn{n}.beta"), device));
            bn.running_mean =
                RunningState::new(tensor1(map, &format!("bn{n}.running_mean"), device));
            bn.running_var = RunningState::new(tensor1(map, &format!("bn{n}.running_var"), device));
        }
    }
    load_conv(&mut net.last, map, &format!("conv{}", cfg.depth), device);
    net
}

fn tensor1<B: Backend>(map: &TensorMap, key: &str, device: &B::Device) -> Tensor<B, 1> {
    let t = &map[key];
    Tensor::from_data(TensorData::new(t.data.clone(), [t.data.len()]), device)
}

fn load_conv<B: Backend>(conv: &mut Conv2d<B>, map: &TensorMap, name: &str, device: &B::Device) {
    let w = &map[&format!("{name}.weight")];
    let s = &w.shape;
    conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w.data.clone(), [s[0], s[1], s[2], s[3]]),
        device,
    ));
    conv.bias = Some(Param::from_tensor(tensor1(
        map,
        &format!("{name}.bias"),
        device,
    )));
}

fn store<B: Backend, const D: usize>(map: &mut TensorMap, key: &str, t: Tensor<B, D>) {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 tensor data");
    map.insert(key.to_owned(), StoredTensor { shape, data });
}

fn store_conv<B: Backend>(map: &mut TensorMap, name: &str, conv: &Conv2d<B>) {
    store(map, &format!("{name}.weight"), conv.weight.val());
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([conv.weight.dims()[0]], &conv.weight.device()),
    };
    store(map, &format!("{name}.bias"), bias);
}
