//! The benchmark's charts as SVG text for the HTML page: accuracy along a sweep (CRF, scale),
//! accuracy per attack beside the peers, speed, and quality. Each chart returns `None` when the
//! report holds nothing to draw, so an empty run renders a page with notes instead of blank axes.
//! Drawing primitives and the shared colours live in `abmark_charts::bars`.

use plotters::prelude::*;

use super::model::BenchReport;
use super::summary::{self, finite};
use abmark_charts::bars::{self, Area, Axis, Bar, Group, Panel, Ticks, ABMARK, ABMARK_LIGHT, GREY};
use abmark_charts::page::{stacked, svg};

/// abmark's legend entry followed by each peer's, in `report.peers` order.
fn methods(report: &BenchReport) -> Vec<(String, RGBColor)> {
    let peers = report.peers.iter().enumerate();
    let peers = peers.map(|(i, p)| (p.method.clone(), bars::peer_colour(i)));
    std::iter::once(("abmark".to_string(), ABMARK)).chain(peers).collect()
}

/// Segments right (abmark) and majority-vote bits right (peers) along one sweep axis, one line
/// per method. `None` below two sweep points: a single point is not a trend.
pub fn accuracy_vs_axis(
    report: &BenchReport,
    axis: &str,
    x_label: &str,
) -> anyhow::Result<Option<String>> {
    let mut points: Vec<(f64, String)> = report
        .attacks
        .iter()
        .filter_map(|a| a.sweep.as_ref().filter(|s| s.axis == axis).map(|s| (s.value, &a.name)))
        .filter_map(|(v, name)| finite(v).map(|v| (v, name.clone())))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if points.len() < 2 {
        return Ok(None);
    }
    let summaries = summary::per_attack(report);
    let ours = |name: &str| summaries.iter().find(|s| s.attack == name)?.right_share();
    let mut lines = vec![(ABMARK, series(&points, ours))];
    for (i, peer) in report.peers.iter().enumerate() {
        let line = series(&points, |name| summary::peer_accuracy(peer, name));
        lines.push((bars::peer_colour(i), line));
    }
    let title = format!("Accuracy along the {x_label} sweep");
    // Only the methods with a point on this sweep get a legend entry.
    let has_points = lines.iter().map(|(_, line)| !line.is_empty());
    let legend: Vec<_> =
        methods(report).into_iter().zip(has_points).filter(|m| m.1).map(|m| m.0).collect();
    svg(434, |root| {
        let (_, area) = root.split_vertically(14);
        let area = area.titled(&title, bars::font(bars::TITLE_PX))?;
        let (key, plot) = area.split_vertically(26);
        bars::legend(&key, &legend, Some("chance (50%)"))?;
        draw_lines(&plot, &points, &lines, x_label)
    })
    .map(Some)
}

/// A method's points (x, %) on the sweep, skipping attacks it has no figure for.
fn series(points: &[(f64, String)], share: impl Fn(&str) -> Option<f64>) -> Vec<(f64, f64)> {
    // Clamped to the axis so a bad share cannot push plotters' pixel arithmetic into overflow.
    let point = |x: f64, s: f64| (x, (100.0 * s).clamp(-3.0, 103.0));
    points.iter().filter_map(|(x, name)| share(name).map(|s| point(*x, s))).collect()
}

fn draw_lines(
    plot: &Area,
    points: &[(f64, String)],
    lines: &[(RGBColor, Vec<(f64, f64)>)],
    x_label: &str,
) -> anyhow::Result<()> {
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    // Several attacks may share one sweep value; the axis still needs a width.
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    let mut chart = ChartBuilder::on(plot)
        .margin_right(30)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            Ticks::new(lo - pad..hi + pad, xs),
            Ticks::new(-3.0..103.0, vec![0.0, 25.0, 50.0, 75.0, 100.0]),
        )?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("right, %")
        .x_label_formatter(&|x| format!("{x}"))
        .y_label_formatter(&|y| format!("{y}%"))
        .label_style(bars::font(bars::LABEL_PX))
        .axis_desc_style(bars::font(bars::LABEL_PX))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let chance = [(lo - pad, 50.0), (hi + pad, 50.0)];
    chart.draw_series(DashedLineSeries::new(chance, 6, 4, GREY.stroke_width(2)))?;
    // Drawn last so abmark sits on top where lines overlap.
    for (colour, line) in lines.iter().rev() {
        chart.draw_series(LineSeries::new(line.iter().copied(), colour.stroke_width(3)))?;
        let dots = line.iter().map(|p| Circle::new(*p, 4, colour.filled()));
        chart.draw_series(dots)?;
    }
    Ok(())
}

/// abmark's segments right per attack with each peer's majority-vote bits right beside it.
pub fn per_attack(report: &BenchReport) -> anyhow::Result<Option<String>> {
    let groups: Vec<Group> = summary::per_attack(report)
        .into_iter()
        .map(|s| {
            let attack = s.attack.clone();
            let ours = s.right_share().map(|v| Bar { value: 100.0 * v, colour: ABMARK });
            let peers = report.peers.iter().enumerate().filter_map(|(i, p)| {
                let value = 100.0 * summary::peer_accuracy(p, &attack)?;
                Some(Bar { value, colour: bars::peer_colour(i) })
            });
            Group { label: s.attack.clone(), bars: ours.into_iter().chain(peers).collect() }
        })
        .collect();
    let drawn =
        |colour: &RGBColor| groups.iter().flat_map(|g| &g.bars).any(|b| b.colour == *colour);
    let legend = methods(report).into_iter().filter(|(_, c)| drawn(c)).collect();
    stacked(vec![Panel {
        title: "Right per attack (abmark: segments; peers: bits after majority vote)",
        x_label: "right, %",
        groups,
        legend,
        axis: Axis::Fixed(100.0),
        mark: Some((50.0, "chance (50%)")),
        decimals: 1,
        unit: "%",
    }])
}

/// Three panels: embedding on one core (abmark per clip, peers), making both variants on all
/// cores, and detection against real time. Embedding goes on a log axis when the methods differ
/// by orders of magnitude, which peers running neural networks do.
pub fn speed(report: &BenchReport) -> anyhow::Result<Option<String>> {
    let one = |value: f64, colour| vec![Bar { value, colour }];
    let mut embed: Vec<Group> = report
        .clips
        .iter()
        .map(|c| Group { label: c.name.clone(), bars: one(c.embed_fps_per_core, ABMARK) })
        .collect();
    embed.extend(report.peers.iter().enumerate().map(|(i, p)| Group {
        label: p.method.clone(),
        bars: one(1000.0 / p.embed_ms_per_frame, bars::peer_colour(i)),
    }));
    let variants = report
        .clips
        .iter()
        .map(|c| Group { label: c.name.clone(), bars: one(c.variants_fps, ABMARK) })
        .collect();
    let detect: Vec<Group> = report
        .clips
        .iter()
        .map(|c| {
            let d = summary::detect_speed(report, &c.name);
            let bars = [(d.realtime, ABMARK), (d.slowest, ABMARK_LIGHT)];
            let bars =
                bars.into_iter().map(|(v, colour)| Bar { value: v.unwrap_or(f64::NAN), colour });
            Group { label: c.name.clone(), bars: bars.collect() }
        })
        .collect();
    let spread = |groups: &[Group]| {
        Axis::for_spread(groups.iter().flat_map(|g| &g.bars).map(|b| b.value), 20.0)
    };
    let (embed_axis, detect_axis) = (spread(&embed), spread(&detect));
    stacked(vec![
        Panel {
            title: "Embedding on one core (mask, pattern, apply)",
            x_label: log_label("frames/s", embed_axis),
            groups: embed,
            legend: methods(report),
            axis: embed_axis,
            mark: None,
            decimals: 0,
            unit: "",
        },
        Panel {
            title: "Making both variants on all cores (decode, embed, encode)",
            x_label: "source frames/s",
            groups: variants,
            legend: vec![],
            axis: Axis::Auto,
            mark: None,
            decimals: 0,
            unit: "",
        },
        Panel {
            title: "Detection speed",
            x_label: log_label("× real time", detect_axis),
            groups: detect,
            legend: vec![("all copies".into(), ABMARK), ("slowest copy".into(), ABMARK_LIGHT)],
            axis: detect_axis,
            mark: Some((1.0, "real time (1×)")),
            decimals: 1,
            unit: "×",
        },
    ])
}

fn log_label(label: &'static str, axis: Axis) -> &'static str {
    match (axis, label) {
        (Axis::Log, "frames/s") => "frames/s (log scale)",
        (Axis::Log, _) => "× real time (log scale)",
        _ => label,
    }
}

/// Luma PSNR per clip and variant beside the peers', and SSIMULACRA2 per clip and variant.
pub fn quality(report: &BenchReport) -> anyhow::Result<Option<String>> {
    let colour = |variant: u8| if variant == 0 { ABMARK } else { ABMARK_LIGHT };
    let per_variant = |value: fn(&super::model::VariantQuality) -> f64| -> Vec<Group> {
        report
            .clips
            .iter()
            .filter(|c| !c.quality.is_empty())
            .map(|c| Group {
                label: c.name.clone(),
                bars: c
                    .quality
                    .iter()
                    .map(|q| Bar { value: value(q), colour: colour(q.variant) })
                    .collect(),
            })
            .collect()
    };
    let mut psnr = per_variant(|q| q.psnr_y);
    psnr.extend(report.peers.iter().enumerate().map(|(i, p)| Group {
        label: p.method.clone(),
        bars: vec![Bar { value: p.psnr_y, colour: bars::peer_colour(i) }],
    }));
    let mut legend =
        vec![("abmark symbol 0".into(), ABMARK), ("abmark symbol 1".into(), ABMARK_LIGHT)];
    legend.extend(methods(report).into_iter().skip(1));
    stacked(vec![
        Panel {
            title: "Luma PSNR: abmark vs its clean encode, peers vs their unmarked frames",
            x_label: "dB",
            groups: psnr,
            legend,
            axis: Axis::Auto,
            mark: None,
            decimals: 1,
            unit: "",
        },
        Panel {
            title: "SSIMULACRA2, mean over frames (100 = identical)",
            x_label: "score",
            groups: per_variant(|q| q.ssimulacra2),
            legend: vec![],
            axis: Axis::Fixed(100.0),
            mark: Some((90.0, "visually lossless (90)")),
            decimals: 1,
            unit: "",
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testdata;

    #[test]
    fn sweep_needs_two_points() -> anyhow::Result<()> {
        let report = testdata::report();
        assert!(accuracy_vs_axis(&report, "crf", "CRF")?.is_some());
        assert!(accuracy_vs_axis(&report, "rotate", "degrees")?.is_none());
        let mut one = report.clone();
        one.attacks.retain(|a| a.name != "scale 0.5");
        assert!(accuracy_vs_axis(&one, "scale", "scale")?.is_none());
        Ok(())
    }

    #[test]
    fn speeds_orders_apart_go_on_a_log_axis() -> anyhow::Result<()> {
        let mut report = testdata::report();
        report.peers[1].embed_ms_per_frame = 2000.0;
        let chart = speed(&report)?.unwrap_or_default();
        assert!(chart.contains("frames/s (log scale)"));
        assert!(!speed(&testdata::report())?.unwrap_or_default().contains("log scale"));
        if let Ok(path) = std::env::var("BENCH_EXAMPLE_LOG_SVG") {
            std::fs::write(path, &chart)?;
        }
        Ok(())
    }

    #[test]
    fn empty_report_draws_nothing() -> anyhow::Result<()> {
        let empty = BenchReport::default();
        assert!(per_attack(&empty)?.is_none());
        assert!(speed(&empty)?.is_none());
        assert!(quality(&empty)?.is_none());
        Ok(())
    }

    #[test]
    fn svg_text_is_escaped_and_self_contained() -> anyhow::Result<()> {
        let chart = per_attack(&testdata::report())?.unwrap_or_default();
        assert!(chart.starts_with("<svg"));
        assert!(
            chart.contains("it&apos;s &lt;odd&gt; &amp;")
                || chart.contains("it's &lt;odd&gt; &amp;")
        );
        assert!(!chart.contains("<odd>") && !chart.contains("href="));
        Ok(())
    }
}
