//! The plots are real images: the SVG parses as XML with one box per group and the expected
//! labels, the PNG decodes to the expected size with more than background pixels.

use crate::Block as _;
use govtrail_query::plot::{self, ImageFormat};
use govtrail_query::report::{Window, overhead, rca};

use crate::data::INCIDENT_SESSION;
use crate::golden::trail;

fn overhead_report() -> overhead::Report {
    overhead::report(
        &trail(),
        &overhead::Options {
            group_by: vec![overhead::Dim::Service],
            window: Window::default(),
            compare: None,
            exact: true,
            sources: false,
        },
    )
    .block()
    .unwrap()
}

/// With `GOVTRAIL_PLOT_DIR` set, the images are also written there (docs/images comes from it).
fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("GOVTRAIL_PLOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

fn png_pixels(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn assert_real_png(bytes: &[u8], colours: &[[u8; 3]]) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h, px) = png_pixels(bytes);
    assert_eq!((w, h), (1800, 1080));
    let non_white = px.chunks(3).filter(|p| *p != [255, 255, 255]).count();
    assert!(non_white > 10_000, "only {non_white} drawn pixels");
    for c in colours {
        assert!(px.chunks(3).any(|p| p == c), "no pixel of colour {c:?}");
    }
    // Text was drawn (dark anti-aliased glyph pixels that are not pure black lines).
    let grey = px
        .chunks(3)
        .filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 30 && p[0] < 220)
        .count();
    assert!(grey > 500, "no text pixels ({grey})");
}

#[test]
fn overhead_plot_svg_and_png() {
    let r = overhead_report();
    let measured: Vec<_> = r.groups.iter().filter(|g| g.measured > 0).collect();
    assert!(measured.len() >= 3, "{} groups", measured.len());
    let svg = String::from_utf8(plot::overhead(&r, ImageFormat::Svg).unwrap()).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    assert!(svg.trim_end().ends_with("</svg>"));
    // One filled box per measured group, in the box colour.
    let boxes = svg.matches(r##"opacity="0.25" fill="#0072B2""##).count();
    assert_eq!(boxes, measured.len(), "boxes in SVG");
    for g in &measured {
        let label = g.group[0].as_deref().unwrap_or("(none)");
        assert!(svg.contains(label), "no label {label}");
    }
    assert!(svg.contains("overhead (ms, log scale)"));
    keep("overhead.svg", svg.as_bytes());
    let png = plot::overhead(&r, ImageFormat::Png).unwrap();
    keep("overhead.png", &png);
    assert_real_png(&png, &[[0, 114, 178], [213, 94, 0]]);
}

#[test]
fn rca_plot_svg_and_png() {
    let r = rca::report(
        &trail(),
        &rca::Options {
            session_id: INCIDENT_SESSION.into(),
            ..rca::Options::default()
        },
    )
    .block()
    .unwrap();
    let svg = String::from_utf8(plot::rca(&r, ImageFormat::Svg).unwrap()).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // One dot per decision (deny dots in the deny colour), the legend, the pressure line.
    let deny = r.timeline.iter().filter(|s| s.decision == "deny").count();
    assert!(deny > 0);
    assert!(
        svg.matches(r##"fill="#D55E00""##).count() >= deny,
        "deny dots"
    );
    for label in [
        "allow",
        "deny",
        "context pressure",
        "BoundaryEnforcer",
        INCIDENT_SESSION,
    ] {
        assert!(svg.contains(label), "no {label} in the SVG");
    }
    assert!(svg.contains("<polyline"), "no pressure line");
    keep("rca.svg", svg.as_bytes());
    let png = plot::rca(&r, ImageFormat::Png).unwrap();
    keep("rca.png", &png);
    assert_real_png(&png, &[[0, 158, 115], [213, 94, 0]]);
}
