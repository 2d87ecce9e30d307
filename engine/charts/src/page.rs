//! The pieces of a self-contained HTML report page: the CSS every abmark report uses, escaping,
//! tables, and SVG text rendered from plotters drawings. No scripts, fonts, styles or images are
//! fetched: a page built from these is one file that can be mailed or archived as it is.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::bars::{self, Area, Panel, WIDTH};

/// The pages' stylesheet, inlined in a `<style>` element.
pub const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;\
color:#222;line-height:1.4}table{border-collapse:collapse;margin:1em 0;font-size:14px;\
font-variant-numeric:tabular-nums}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f2f2f2}td:first-child{white-space:nowrap}tbody tr:nth-child(even){background:#fafafa}svg{display:block;\
max-width:100%;height:auto;margin:1em 0}code{background:#f2f2f2;padding:1px 4px}\
.note{color:#666;font-style:italic}summary{cursor:pointer;font-weight:bold}";

/// The page's opening up to and including `<body>`, titled `title` (escaped).
pub fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    )
}

/// Text made safe as element content and as a quoted attribute value (quick-xml's escape of
/// `&`, `<`, `>`, both quotes and CR; `&apos;` is HTML5 too).
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A table with a header row; every cell is escaped.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table>\n<thead><tr>");
    for h in headers {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html += "</tr></thead>\n<tbody>\n";
    for row in rows {
        html += "<tr>";
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html += "</tr>\n";
    }
    html + "</tbody>\n</table>\n"
}

/// Renders `draw` onto a fresh white SVG of `height` pixels and returns the SVG text.
pub fn svg(height: u32, draw: impl FnOnce(&Area) -> anyhow::Result<()>) -> anyhow::Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(text)
}

/// Panels stacked top to bottom in one SVG; `None` when no panel has a group.
pub fn stacked(panels: Vec<Panel>) -> anyhow::Result<Option<String>> {
    let panels: Vec<Panel> = panels.into_iter().filter(|p| !p.groups.is_empty()).collect();
    if panels.is_empty() {
        return Ok(None);
    }
    let height = panels.iter().map(Panel::height).sum();
    svg(height, |root| {
        let label_width = bars::label_width(&panels);
        let mut rest = root.clone();
        for panel in &panels {
            let (this, below) = rest.split_vertically(panel.height());
            bars::draw_panel(&this, panel, label_width)?;
            rest = below;
        }
        Ok(())
    })
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_quotes_and_tags() {
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&apos;x&apos;&gt;&amp;");
    }

    #[test]
    fn table_escapes_every_cell() {
        let html = table(&["a<b".into()], &[vec!["\"q\"".into()]]);
        assert!(html.contains("<th>a&lt;b</th>") && html.contains("<td>&quot;q&quot;</td>"));
    }

    #[test]
    fn no_panels_no_svg() {
        assert!(stacked(vec![]).unwrap().is_none());
    }
}
