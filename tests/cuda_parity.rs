//! Where a GPU exists (`cargo test --features cuda --test cuda_parity`): a frame encoded by
//! ComCNN on CUDA decodes on the CPU within 0.05 dB of the CUDA decode, in fp32 and fp16.
//! Without the NVIDIA driver the test says so and checks only that the error is clear.
#![cfg(feature = "cuda")]

use cnncodec::eval::metrics::psnr;
use cnncodec::frame::image::read_png_luma;
use cnncodec::pipeline::{compress_luma, restore_luma};
use cnncodec::{load_engine_with, BackendKind, Precision};

#[test]
fn cuda_encode_decodes_on_cpu_like_on_cuda() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let frame = read_png_luma(&root.join("samples/vtest_f0610.png")).unwrap();
    let weights = cnncodec::net::builtin::builtin(cnncodec::net::builtin::DEFAULT_MODEL).unwrap();
    let cpu = load_engine_with(&weights, BackendKind::Cpu, 0, Precision::Fp32).unwrap();
    for precision in [Precision::Fp32, Precision::Fp16] {
        let gpu = match load_engine_with(&weights, BackendKind::Cuda, 0, precision) {
            Ok(e) => e,
            Err(e) => {
                assert!(e.contains("backend=cpu"), "unclear error: {e}");
                eprintln!("no usable GPU here ({e}); CUDA parity not measured");
                return;
            }
        };
        let compact = compress_luma(gpu.as_ref(), &frame);
        let on_gpu = restore_luma(gpu.as_ref(), &compact, frame.width, frame.height);
        let on_cpu = restore_luma(cpu.as_ref(), &compact, frame.width, frame.height);
        let (g, c) = (psnr(&frame, &on_gpu), psnr(&frame, &on_cpu));
        eprintln!("{precision}: CUDA decode {g:.4} dB, CPU decode {c:.4} dB");
        assert!((g - c).abs() < 0.05, "{precision}: {g} vs {c} dB");
    }
}
