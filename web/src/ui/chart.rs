//! Charts as inline SVG: the plot code's figures (`query::plot`, the same pictures `govtrail
//! report --plot` draws) made accessible, and the decisions-over-time bars drawn here. Every
//! chart is a `<figure>` with a caption, `role="img"` with a title, and its numbers in a table
//! (the accessible equivalent, and what the browser tests compare with the CLI's).

use maud::{Markup, PreEscaped, html};

/// A plotters SVG (`<svg width=… height=… viewBox=…`) as a scalable image titled `title`.
pub(crate) fn figure(svg: &[u8], id: &str, title: &str, table: Markup) -> Markup {
    let text = String::from_utf8_lossy(svg);
    // plotters writes `<svg width="W" height="H" viewBox="0 0 W H" xmlns=…>`: the size goes
    // (the stylesheet scales the image), a role and a title come.
    let body = match (text.find("viewBox="), text.find('>')) {
        (Some(v), Some(end)) if v < end => format!(
            "<svg {} role=\"img\" aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">{}</title>{}",
            &text[v..end],
            html! { (title) }.into_string(),
            &text[end + 1..]
        ),
        _ => String::new(),
    };
    html! {
        figure.chart id=(id) {
            (PreEscaped(body))
            figcaption { (title) }
            details {
                summary { "The figures" }
                (table)
            }
        }
    }
}

/// One bar of the series.
pub(crate) struct Bar {
    pub(crate) start_us: i64,
    pub(crate) decisions: i64,
    pub(crate) denies: i64,
    pub(crate) asks: i64,
}

/// Decisions per bucket as stacked bars: denials at the bottom, then asks, then the rest.
pub(crate) fn bars(bars: &[Bar], bucket_s: u64, title: &str) -> Markup {
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 60.0;
    const BOTTOM: f64 = 30.0;
    let max = bars.iter().map(|b| b.decisions).max().unwrap_or(0).max(1) as f64;
    let first = bars.first().map_or(0, |b| b.start_us);
    let last = bars.last().map_or(0, |b| b.start_us);
    let step = (bucket_s * 1_000_000) as f64;
    let slots = ((last - first) as f64 / step).round() as usize + 1;
    let slot_w = (W - LEFT - 10.0) / slots.max(1) as f64;
    let y = |v: f64| (H - BOTTOM) - v / max * (H - BOTTOM - 20.0);
    let rect = |x: f64, lo: i64, hi: i64, class: &str| {
        let (top, bottom) = (y(hi as f64), y(lo as f64));
        html! {
            rect class=(class) x=(format!("{x:.1}")) y=(format!("{top:.1}"))
                width=(format!("{:.1}", (slot_w * 0.8).max(1.0)))
                height=(format!("{:.1}", (bottom - top).max(0.0))) {}
        }
    };
    html! {
        figure.chart id="series" {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-labelledby="series-title" {
                title id="series-title" { (title) }
                line.axis x1=(LEFT) y1=(H - BOTTOM) x2=(W - 10.0) y2=(H - BOTTOM) {}
                text.tick x=(LEFT - 6.0) y=(y(max)) text-anchor="end" { (super::count(max as i64)) }
                text.tick x=(LEFT - 6.0) y=(H - BOTTOM) text-anchor="end" { "0" }
                @for b in bars {
                    @let x = LEFT + ((b.start_us - first) as f64 / step).round() * slot_w;
                    g {
                        title { (super::time(b.start_us)) ": " (b.decisions) " decisions, "
                            (b.denies) " denied, " (b.asks) " asked" }
                        (rect(x, 0, b.denies, "deny"))
                        (rect(x, b.denies, b.denies + b.asks, "ask"))
                        (rect(x, b.denies + b.asks, b.decisions, "other"))
                    }
                }
                @if let (Some(f), Some(l)) = (bars.first(), bars.last()) {
                    text.tick x=(LEFT) y=(H - 8.0) { (super::time(f.start_us)) }
                    text.tick x=(W - 10.0) y=(H - 8.0) text-anchor="end" { (super::time(l.start_us)) }
                }
            }
            figcaption {
                (title) " — "
                span.key.deny { "denied" } ", " span.key.ask { "asked" } ", " span.key.other { "other" }
                " (one bar per " (duration(bucket_s)) ")"
            }
            details {
                summary { "The figures" }
                table {
                    thead { tr { th scope="col" { "From" } th scope="col" { "Decisions" }
                        th scope="col" { "Denied" } th scope="col" { "Asked" } } }
                    tbody {
                        @for b in bars {
                            tr { td { (super::time(b.start_us)) } td.num { (b.decisions) }
                                td.num { (b.denies) } td.num { (b.asks) } }
                        }
                    }
                }
            }
        }
    }
}

/// Seconds in words.
pub(crate) fn duration(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
