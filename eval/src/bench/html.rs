//! The benchmark report as one self-contained HTML page: the Markdown's sections and tables, the
//! charts inlined as SVG beside the section they illustrate, and every attacked copy in a
//! collapsed table. No scripts, fonts, styles or images are fetched: the page is one file that
//! can be mailed or archived as it is.

use abmark_charts::page::{self, escape};
use anyhow::Context;

use super::charts;
use super::model::BenchReport;
use super::tables::{self, Part, Table};

pub fn html(report: &BenchReport) -> anyhow::Result<String> {
    let mut page = page::head("abmark benchmark");
    page += "<h1>abmark benchmark</h1>\n";
    page += &format!(
        "<p>{} Reproduce with <code>{}</code>.</p>\n",
        escape(&tables::run_line(report)),
        escape(&report.command)
    );
    for section in tables::sections(report) {
        page += &format!("<h2>{}</h2>\n", escape(section.title));
        for text in &section.text {
            page += &format!("<p>{}</p>\n", escape(text));
        }
        for table in &section.tables {
            page += &table_html(table);
        }
        for chart in section_charts(report, section.part)? {
            page += &chart;
        }
    }
    page += "<details>\n<summary>Every attacked copy</summary>\n";
    page += &table_html(&tables::cells(report));
    page += "</details>\n</body>\n</html>\n";
    Ok(page)
}

/// The charts that illustrate one part, or a note saying why there is none.
fn section_charts(report: &BenchReport, part: Part) -> anyhow::Result<Vec<String>> {
    let charts = match part {
        Part::Headline => {
            let mut charts = vec![chart("per attack", charts::per_attack(report))?];
            for (axis, label) in sweep_axes(report) {
                if let Some(svg) = charts::accuracy_vs_axis(report, &axis, &label)
                    .with_context(|| format!("drawing the {axis} sweep"))?
                {
                    charts.push(svg);
                }
            }
            charts
        }
        Part::Quality => vec![chart("quality", charts::quality(report))?],
        Part::Speed => vec![chart("speed", charts::speed(report))?],
        Part::Collusion | Part::Innocent => vec![],
    };
    Ok(charts)
}

/// A chart's SVG followed by a newline, or a note when the report gave it nothing to draw.
fn chart(name: &str, svg: anyhow::Result<Option<String>>) -> anyhow::Result<String> {
    let svg = svg.with_context(|| format!("drawing the {name} chart"))?;
    Ok(match svg {
        Some(svg) => svg + "\n",
        None => format!("<p class=\"note\">No data for the {name} chart.</p>\n"),
    })
}

/// Each sweep axis of the run once, in order of first appearance, with its axis title.
fn sweep_axes(report: &BenchReport) -> Vec<(String, String)> {
    let mut axes: Vec<(String, String)> = Vec::new();
    for sweep in report.attacks.iter().filter_map(|a| a.sweep.as_ref()) {
        if !axes.iter().any(|(a, _)| *a == sweep.axis) {
            let label = match sweep.axis.as_str() {
                "crf" => "re-encode CRF".to_string(),
                "scale" => "scale factor".to_string(),
                other => other.to_string(),
            };
            axes.push((sweep.axis.clone(), label));
        }
    }
    axes
}

fn table_html(table: &Table) -> String {
    page::table(&table.headers, &table.rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testdata;

    #[test]
    fn page_is_self_contained_with_every_chart() -> anyhow::Result<()> {
        let page = html(&testdata::report())?;
        // per attack, crf sweep, scale sweep, quality, speed.
        assert_eq!(page.matches("<svg").count(), 5);
        assert!(!page.contains("src="), "no external sources");
        assert!(!page.contains("href=\"http"), "no external links");
        assert!(!page.contains("<script") && !page.contains("<link"));
        if let Ok(path) = std::env::var("BENCH_EXAMPLE_HTML") {
            std::fs::write(path, &page)?;
        }
        Ok(())
    }

    #[test]
    fn attack_names_are_escaped() -> anyhow::Result<()> {
        let page = html(&testdata::report())?;
        assert!(!page.contains(testdata::ODD_NAME));
        assert!(page.contains("<td>it&apos;s &lt;odd&gt; &amp; &quot;quoted&quot;</td>"));
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&apos;x&apos;&gt;&amp;");
        Ok(())
    }

    #[test]
    fn empty_report_renders_with_notes() -> anyhow::Result<()> {
        let page = html(&BenchReport::default())?;
        assert_eq!(page.matches("<svg").count(), 0);
        assert!(page.contains("No data for the per attack chart."));
        assert!(page.contains("<tbody>\n</tbody>"));
        Ok(())
    }

    #[test]
    fn nan_figures_render() -> anyhow::Result<()> {
        let mut report = testdata::report();
        for cell in &mut report.cells {
            cell.worst_llr_margin = f64::NAN;
            cell.detect_seconds = 0.0;
        }
        report.clips[0].embed_fps_per_core = f64::NAN;
        report.clips[1].quality[0].psnr_y = f64::INFINITY;
        report.peers[0].embed_ms_per_frame = 0.0;
        let page = html(&report)?;
        assert_eq!(page.matches("<svg").count(), 5);
        Ok(())
    }
}
