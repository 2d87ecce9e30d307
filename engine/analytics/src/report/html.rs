//! The ranking as one self-contained HTML page in the benchmark's style (`abmark_charts`): the
//! inputs, the flagged subjects with their reasons, a chart of the scores, one chart per kind of
//! evidence (the strongest values beside the population's median), the top sessions and the
//! populations. No scripts, fonts, styles or images are fetched.

use abmark_charts::bars::{Axis, Bar, Group, Panel, RGBColor, ABMARK, ABMARK_LIGHT};
use abmark_charts::page::{self, escape, stacked};

use super::suspects::code_name;
use crate::score::{Analysis, Code, Reason};

/// Bars per chart.
const BARS: usize = 15;

/// The page; `command` is how it was made (shown for reproduction).
pub fn html(analysis: &Analysis, command: &str) -> anyhow::Result<String> {
    let mut out = page::head("abmark analytics");
    out += "<h1>abmark analytics</h1>\n";
    out += &format!(
        "<p>{} subjects and {} sessions read; {} subjects and {} sessions flagged. Made with \
         <code>{}</code>.</p>\n",
        analysis.subjects_seen,
        analysis.sessions_seen,
        analysis.subjects_flagged,
        analysis.sessions_flagged,
        escape(command)
    );
    out += "<h2>Inputs</h2>\n";
    let rows: Vec<Vec<String>> = analysis
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.path.clone(),
                i.lines.to_string(),
                i.records.to_string(),
                i.skipped.to_string(),
                i.truncated.to_string(),
            ]
        })
        .collect();
    out += &page::table(&headers(&["log", "lines", "records", "skipped", "cut last line"]), &rows);

    out += "<h2>Flagged subjects</h2>\n";
    let flagged: Vec<Vec<String>> = analysis
        .subjects
        .iter()
        .filter(|s| s.flagged)
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                s.subject.clone(),
                format!("{:.1}", s.score),
                s.sessions.to_string(),
                reasons_text(&s.reasons),
            ]
        })
        .collect();
    if flagged.is_empty() {
        out += "<p class=\"note\">Nobody stands out.</p>\n";
    } else {
        out +=
            &page::table(&headers(&["rank", "subject", "score", "sessions", "reasons"]), &flagged);
    }
    out += &chart("scores", scores_chart(analysis))?;

    out += "<h2>Evidence by kind</h2>\n<p>The strongest values among the ranked subjects, with \
            the population's median as the dashed line; blue bars raised the reason.</p>\n";
    out += &chart("evidence", evidence_chart(analysis))?;

    out += "<h2>Sessions</h2>\n";
    let sessions: Vec<Vec<String>> = analysis
        .sessions
        .iter()
        .map(|s| {
            vec![
                s.session.to_string(),
                s.content.clone().unwrap_or_default(),
                s.subject.clone().unwrap_or_default(),
                format!("{:.1}", s.score),
                if s.flagged { "yes" } else { "no" }.into(),
                reasons_text(&s.reasons),
            ]
        })
        .collect();
    out += &page::table(
        &headers(&["session", "content", "subject", "score", "flagged", "reasons"]),
        &sessions,
    );

    out += "<h2>Populations</h2>\n<p>A reason is raised when its robust z-score \
            (value − median) / max(1.4826·MAD, minimum spread) is at least 4 and the value is at \
            least the floor.</p>\n";
    let mut rows: Vec<Vec<String>> = analysis
        .features
        .iter()
        .map(|f| {
            vec![
                code_name(f.code),
                f.population.n.to_string(),
                format!("{:.2}", f.population.median),
                format!("{:.2}", f.population.mad),
                format!("{}", f.floor),
            ]
        })
        .collect();
    out += &page::table(&headers(&["evidence", "measured on", "median", "MAD", "floor"]), &rows);
    rows = analysis
        .segment_durations
        .iter()
        .map(|d| {
            vec![
                d.content.clone().unwrap_or_default(),
                format!("{:.2} s", d.seconds),
                d.source.to_string(),
            ]
        })
        .collect();
    out += &page::table(&headers(&["content", "segment duration", "source"]), &rows);
    out += "</body>\n</html>\n";
    Ok(out)
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|h| (*h).to_owned()).collect()
}

fn reasons_text(reasons: &[Reason]) -> String {
    let shown: Vec<String> = reasons
        .iter()
        .filter(|r| r.raised)
        .map(|r| format!("{}: {} (z {:.1})", code_name(r.code), r.text, r.z))
        .collect();
    shown.join("; ")
}

fn chart(name: &str, svg: anyhow::Result<Option<String>>) -> anyhow::Result<String> {
    Ok(match svg? {
        Some(svg) => svg + "\n",
        None => format!("<p class=\"note\">No data for the {name} chart.</p>\n"),
    })
}

fn colour(raised: bool) -> RGBColor {
    if raised {
        ABMARK
    } else {
        ABMARK_LIGHT
    }
}

fn scores_chart(analysis: &Analysis) -> anyhow::Result<Option<String>> {
    let groups: Vec<Group> = analysis
        .subjects
        .iter()
        .filter(|s| s.score > 0.0)
        .take(BARS)
        .map(|s| Group {
            label: s.subject.clone(),
            bars: vec![Bar { value: s.score, colour: colour(s.flagged) }],
        })
        .collect();
    stacked(vec![Panel {
        title: "Highest scores (sum of the raised reasons' z-scores)",
        x_label: "score",
        groups,
        legend: vec![],
        axis: Axis::Auto,
        mark: None,
        decimals: 1,
        unit: "",
    }])
}

fn evidence_chart(analysis: &Analysis) -> anyhow::Result<Option<String>> {
    let titles: Vec<(Code, String, f64)> = analysis
        .features
        .iter()
        .map(|f| (f.code, code_name(f.code), f.population.median))
        .collect();
    let panels = titles
        .iter()
        .map(|(code, title, median)| {
            let mut values: Vec<(&str, &Reason)> = analysis
                .subjects
                .iter()
                .flat_map(|s| {
                    s.reasons.iter().filter(|r| r.code == *code).map(|r| (s.subject.as_str(), r))
                })
                .collect();
            values.sort_by(|a, b| b.1.value.total_cmp(&a.1.value));
            let groups = values
                .into_iter()
                .take(BARS)
                .map(|(label, r)| Group {
                    label: label.to_owned(),
                    bars: vec![Bar { value: r.value, colour: colour(r.raised) }],
                })
                .collect();
            Panel {
                title,
                x_label: unit_of(*code),
                groups,
                legend: vec![("raised".into(), ABMARK), ("not raised".into(), ABMARK_LIGHT)],
                axis: Axis::Auto,
                mark: Some((*median, "population median")),
                decimals: 1,
                unit: "",
            }
        })
        .collect();
    stacked(panels)
}

fn unit_of(code: Code) -> &'static str {
    match code {
        Code::TokenSharing | Code::SubjectNetworks => "networks within a minute",
        Code::TokenPlayers | Code::Devices => "user agents",
        Code::FastFetch => "x real time",
        Code::LadderFetch => "renditions per segment",
        Code::SubjectSessions => "sessions within a minute",
        Code::StreamLimit => "refusals at the stream limit",
        Code::LicenceBurst => "licence requests in 10 min",
        Code::NonStop => "hours without a pause",
    }
}
