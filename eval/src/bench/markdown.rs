//! The benchmark report as Markdown, for people and for the README (which copies the headline
//! table). It owns only the markup: the tables and sentences come from `tables`, so the HTML page
//! says exactly the same.

use std::fmt::Write as _;

use super::model::BenchReport;
use super::tables::{self, Table};

pub fn markdown(report: &BenchReport) -> String {
    let mut md = String::from("# abmark benchmark\n\n");
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        md,
        "{} Reproduce with `{}`.\n",
        tables::run_line(report),
        report.command.replace('`', "'")
    );
    for section in tables::sections(report) {
        let _ = writeln!(md, "## {}\n", section.title);
        for text in &section.text {
            let _ = writeln!(md, "{text}\n");
        }
        for table in &section.tables {
            md.push_str(&table_md(table));
            md.push('\n');
        }
    }
    md
}

fn table_md(table: &Table) -> String {
    let mut md = row_md(&table.headers);
    md.push_str(&row_md(&vec!["---".to_string(); table.headers.len()]));
    for row in &table.rows {
        md.push_str(&row_md(row));
    }
    md
}

fn row_md(cells: &[String]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| cell_md(c)).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// A cell's text made safe inside a pipe table: a `|` would end the cell, a newline the row, and
/// a `<` could open an HTML tag in renderers that pass HTML through.
fn cell_md(text: &str) -> String {
    quick_xml::escape::minimal_escape(text.replace(['\n', '\r'], " ")).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testdata;

    #[test]
    fn headline_names_every_attack_with_its_figures() {
        let report = testdata::report();
        let md = markdown(&report);
        let headline = md
            .split("## Headline")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or_default();
        for attack in &report.attacks {
            assert!(headline.contains(&cell_md(&attack.name)), "{} missing", attack.name);
        }
        // crf 28: 3 copies, 10 + 8 + 9 = 27 of 30 segments right, 2 wrong of 29 decided.
        let row = headline.lines().find(|l| l.starts_with("| crf 28 |")).unwrap_or_default();
        assert!(row.contains("| 3 | 90.0% (27/30) | 6.9% |"), "{row}");
        assert!(row.contains("| 3/3 | 2/3 |"), "{row}");
        // Peer columns: a value where the peer ran the attack, `-` where it did not.
        assert!(row.ends_with("| 75.0% | - |"), "{row}");
        assert!(md.contains("No innocent was named in any of the 2 collusion copies"));
        assert!(md.contains("1 of the 3 copies that carry no session accused"));
        assert!(md.contains("Reproduce with `eval bench --quick`"));
        if let Ok(path) = std::env::var("BENCH_EXAMPLE_MD") {
            let _ = std::fs::write(path, &md);
        }
    }

    #[test]
    fn empty_report_renders() {
        let md = markdown(&BenchReport::default());
        assert!(md.contains("0 clips, 0 attacks"));
        assert!(md.contains("No collusion copies"));
        assert!(md.contains("No copies without a session"));
    }
}
