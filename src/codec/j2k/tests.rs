use super::*;
use crate::eval::metrics::psnr;

fn texture(w: usize, h: usize) -> GrayImage {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            // Smooth structure plus hashed noise, so high rates have something to spend on.
            let noise = ((i as u64).wrapping_mul(2_654_435_761) >> 11) % 41;
            (108.0
                + 60.0 * (x * 0.21).sin() * (y * 0.13).cos()
                + 30.0 * ((x + y) * 0.05).sin()
                + noise as f64) as u8
        })
        .collect();
    GrayImage::new(w, h, data)
}

#[test]
fn lossless_round_trip_is_exact() {
    let img = texture(37, 23);
    let settings = J2kSettings {
        rate: Rate::Lossless,
        irreversible: false,
        ..Default::default()
    };
    let bytes = encode_gray(&img, &settings).unwrap();
    let back = decode(&bytes).unwrap();
    assert_eq!((back.width, back.height), (37, 23));
    assert_eq!(back.planes[0], img);
}

#[test]
fn rate_is_met_and_quality_follows_it() {
    let img = texture(128, 96);
    let mut last_psnr = 0.0;
    for bpp in [0.25, 0.5, 1.0, 2.0] {
        let settings = J2kSettings {
            rate: Rate::BitsPerPixel(bpp),
            ..Default::default()
        };
        let bytes = encode_gray(&img, &settings).unwrap();
        let got = bytes.len() as f64 * 8.0 / (128.0 * 96.0);
        assert!(got <= bpp * 1.05, "{bpp} bpp asked, {got} coded");
        assert!(got >= bpp * 0.5, "{bpp} bpp asked, only {got} coded");
        let p = psnr(&img, &decode(&bytes).unwrap().planes[0]);
        assert!(p > last_psnr, "{bpp} bpp: {p} dB is not above {last_psnr}");
        last_psnr = p;
    }
}

#[test]
fn layers_tiles_threads_and_colour_encode() {
    let y = texture(65, 33);
    let c = texture(33, 17);
    let planes = [PlaneRef::of(&y), PlaneRef::of(&c), PlaneRef::of(&c)];
    let settings = J2kSettings {
        rate: Rate::Ratio(20.0),
        layers: 3,
        tile: (32, 32),
        threads: 2,
        ..Default::default()
    };
    let bytes = encode(65, 33, &planes, ColourSpace::Ycc, &settings).unwrap();
    let back = decode(&bytes).unwrap();
    assert_eq!(back.planes.len(), 3);
    assert_eq!((back.planes[1].width, back.planes[1].height), (33, 17));
    let p = psnr(&y, &back.planes[0]);
    assert!(p > 20.0, "{p} dB");
}

#[test]
fn tiny_pictures_pick_fewer_resolution_levels() {
    for (w, h) in [(1, 1), (2, 3), (7, 5), (16, 1)] {
        let img = texture(w, h);
        let bytes = encode_gray(&img, &J2kSettings::default()).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!((back.width, back.height), (w, h));
    }
    assert_eq!(max_resolutions(1, 1, (0, 0), &[(1, 1)]), 1);
    assert_eq!(max_resolutions(64, 40, (0, 0), &[(1, 1)]), 6);
    assert_eq!(max_resolutions(640, 480, (16, 0), &[(1, 1)]), 5);
    // Edge tiles and subsampled chroma count: 20 = 6 + 6 + 6 + 2, and the last chroma
    // tile of a 2x subsampled component is 1 sample wide.
    assert_eq!(max_resolutions(20, 9, (6, 128), &[(1, 1)]), 2);
    assert_eq!(
        max_resolutions(20, 9, (6, 128), &[(1, 1), (2, 2), (2, 2)]),
        1
    );
}

#[test]
fn bad_settings_are_explained() {
    let img = texture(16, 16);
    let cases = [
        (
            J2kSettings {
                rate: Rate::BitsPerPixel(9.0),
                ..Default::default()
            },
            "bpp=9",
        ),
        (
            J2kSettings {
                rate: Rate::Ratio(0.5),
                ..Default::default()
            },
            "compression-ratio=0.5",
        ),
        (
            J2kSettings {
                resolutions: 9,
                ..Default::default()
            },
            "at most 5",
        ),
        (
            J2kSettings {
                rate: Rate::Lossless,
                layers: 2,
                ..Default::default()
            },
            "needs a target rate",
        ),
    ];
    for (settings, expected) in cases {
        let e = encode_gray(&img, &settings).unwrap_err().to_string();
        assert!(e.contains(expected), "{e:?} lacks {expected:?}");
    }
    assert!(decode(b"not a codestream").is_err());
}

// Found by `cnncodec-fuzz j2k-encode`: 6-wide tiles on a 20-wide picture leave a 1-sample
// chroma tile at the right edge, and automatic resolution levels made OpenJPEG assert
// (abort the process) inside its wavelet.
#[test]
fn edge_tiles_of_subsampled_chroma_limit_the_resolution_levels() {
    let (w, h) = (20, 9);
    let luma = texture(w, h);
    let chroma = texture(w.div_ceil(2), h.div_ceil(2));
    let planes = [
        PlaneRef::of(&luma),
        PlaneRef::of(&chroma),
        PlaneRef::of(&chroma),
    ];
    let settings = J2kSettings {
        rate: Rate::BitsPerPixel(8.0),
        tile: (6, 128),
        ..Default::default()
    };
    let coded = encode(w, h, &planes, ColourSpace::Ycc, &settings).unwrap();
    let decoded = decode(&coded).unwrap();
    assert_eq!((decoded.width, decoded.height), (w, h));
    let too_many = J2kSettings {
        resolutions: 2,
        ..settings
    };
    let e = encode(w, h, &planes, ColourSpace::Ycc, &too_many).unwrap_err();
    assert!(e.0.contains("resolutions=2 is too many"), "{e}");
}
