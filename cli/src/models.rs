//! `cnncodec models [--json]`: the built-in models with their codec, compact quality and
//! measured bit rate and quality, so a user (or a script) picks an operating point.

use serde_json::{json, Value};

use crate::codec::Stock;

pub fn run_models(raw: &[String]) -> Result<(), String> {
    let as_json = match raw {
        [] => false,
        [flag] if flag == "--json" => true,
        other => return Err(format!("unexpected arguments {other:?}\n{}", crate::USAGE)),
    };
    let default = cnncodec::net::builtin::default_model();
    let mut rows = vec![];
    for m in cnncodec::net::builtin::builtin_models() {
        let w = cnncodec::net::builtin::builtin(m.name)?;
        let measured = cnncodec::net::builtin::measured(m.name, &w.meta.codec, w.meta.quality);
        let stock = Stock::for_model(&w.meta.codec, w.meta.quality)?;
        rows.push(json!({
            "name": m.name,
            "default": Some(m.name) == default,
            "codec": w.meta.codec,
            // JPEG quality, or J2K compression ratio, of the compact image.
            "compact_quality": w.meta.quality,
            "encoder_setting": stock.setting(),
            "pipeline": format!(
                "comcnnenc model={}{} ! {}",
                m.name,
                match stock.compact_setting() {
                    "" => String::new(),
                    extra => format!(" {extra}"),
                },
                stock.element()
            ),
            "architecture": {
                "comcnn_features": w.meta.comcnn.features,
                "reccnn_features": w.meta.reccnn.features,
                "reccnn_depth": w.meta.reccnn.depth,
            },
            "measured": measured.map(|x| json!({
                "dataset": x.dataset,
                "bpp": x.bpp,
                "psnr_y": x.psnr_y,
                "ssim": x.ssim,
                "ms_ssim": x.ms_ssim,
            })),
            "content_hash": w.meta.content_hash,
            "provenance": w.meta.provenance,
        }));
    }
    // Each codec's models in bit-rate order (JPEG: rising quality; J2K: falling ratio).
    rows.sort_by_key(|r| {
        let codec = r["codec"].as_str().unwrap_or("").to_owned();
        let q = r["compact_quality"].as_u64().unwrap_or(0) as u32;
        let rank = cnncodec::net::builtin::bitrate_rank(&codec, q);
        (
            codec != "jpeg",
            codec,
            rank,
            r["name"].as_str().unwrap_or("").to_owned(),
        )
    });
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(rows)).unwrap()
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("{}", cnncodec::net::builtin::no_model_message());
        return Ok(());
    }
    println!("| model | codec | encoder setting | bpp | PSNR-Y dB | SSIM | |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        let m = &r["measured"];
        let num = |k: &str, d: usize| m[k].as_f64().map_or("-".to_owned(), |v| format!("{v:.d$}"));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r["name"].as_str().unwrap_or("?"),
            r["codec"].as_str().unwrap_or("?"),
            r["encoder_setting"].as_str().unwrap_or("?"),
            num("bpp", 3),
            num("psnr_y", 2),
            num("ssim", 4),
            if r["default"] == true { "default" } else { "" }
        );
    }
    if let Some(d) = rows.iter().find_map(|r| r["measured"]["dataset"].as_str()) {
        println!("\nMeasured by `cnncodec eval` on {d}, luma, mean per image.");
    }
    Ok(())
}
