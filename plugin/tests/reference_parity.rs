//! The paper's released model through the real elements and the stock JPEG codec reproduces
//! every row of the reference table: bytes within 2, PSNR within 0.01 dB, SSIM within 0.0005.

mod util;

use std::time::Duration;

use cnncodec::eval::metrics::{psnr, ssim};
use cnncodec::eval::reference::{expected_rows, require_reference};
use cnncodec::frame::image::read_png_luma;

#[test]
fn released_model_through_real_elements_reproduces_the_reference_table() {
    let Some(reference) = require_reference("element parity test") else {
        return;
    };
    let model = reference.join("official-qf50");
    let rows = expected_rows(&std::fs::read_to_string(reference.join("README.md")).unwrap());
    assert_eq!(rows.len(), 4, "reference table rows");
    let mut report = String::new();
    for row in &rows {
        let img = read_png_luma(&reference.join(format!("images/{}.png", row.image))).unwrap();
        assert_eq!((img.width, img.height), (row.width, row.height));
        let launch = format!(
            "appsrc name=src ! comcnnenc model-location=\"{m}\" ! jpegenc quality=50 idct-method=islow \
             ! tee name=t ! queue ! appsink name=jpeg sync=false \
             t. ! queue ! jpegdec idct-method=islow ! reccnndec model-location=\"{m}\" ! appsink name=sink",
            m = model.display()
        );
        let result = util::run_with_jpeg(
            &launch,
            vec![util::gray_frame(&img)],
            Duration::from_secs(300),
        );
        let (result, jpeg_bytes) = (result.0.expect_ok(), result.1);
        assert_eq!(result.samples.len(), 1, "{}", row.image);
        let out = util::luma_of(&result.samples[0]);
        assert_eq!(
            (out.width, out.height),
            (img.width, img.height),
            "{}",
            row.image
        );
        let p = psnr(&img, &out);
        let s = ssim(&img, &out).unwrap();
        let bpp = jpeg_bytes[0] as f64 * 8.0 / (img.width * img.height) as f64;
        report += &format!(
            "{}: {} bytes ({:.4} bpp), {p:.4} dB, SSIM {s:.5}; table {} bytes, {} dB, {}\n",
            row.image, jpeg_bytes[0], bpp, row.compact_bytes, row.psnr, row.ssim
        );
        assert!(
            (jpeg_bytes[0] as i64 - row.compact_bytes as i64).abs() <= 2,
            "{report}bytes"
        );
        assert!((p - row.psnr).abs() <= 0.01, "{report}PSNR");
        assert!((s - row.ssim).abs() <= 0.0005, "{report}SSIM");
    }
    eprintln!("{report}");
}
