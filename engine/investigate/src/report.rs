//! The HTML report of a finished job: the verdict, how the candidates were chosen, the accused
//! session with its evidence, the per-segment table and the plot (inlined, so the page stands
//! alone when saved). It reads the detector's JSON report as data (this crate does not link
//! the detector), field by field, and shows whatever of it is present.

use abmark_edge::serve::watch::escape;
use serde_json::Value;
use std::fmt::Write as _;

/// The page for `job_id` of `content`, from the detector's `report` and the plot's SVG text.
pub fn html(job_id: &str, content: &str, report: &Value, svg: Option<&str>) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => escape(s),
        Value::Null => "-".to_owned(),
        other => escape(&other.to_string()),
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Detection {}</h1><p class=meta>content {}</p>\
         <p class=\"verdict {}\">{}</p>",
        escape(job_id),
        escape(content),
        text(&report["verdict"]),
        text(&report["message"])
    );
    if let Some(set) = report["candidate_set"].as_str() {
        let _ = write!(body, "<p>Candidates: {}</p>", escape(set));
    }
    if let Some(a) = report["accused"].as_object() {
        let _ = write!(body, "<h2>Accused</h2><table>");
        for key in [
            "mode",
            "session",
            "subject",
            "agree",
            "decided",
            "false_accusation_probability",
            "candidates",
            "any_innocent_probability",
        ] {
            let v = a.get(key).unwrap_or(&Value::Null);
            let _ = write!(body, "<tr><th>{}</th><td>{}</td></tr>", key.replace('_', " "), text(v));
        }
        body.push_str("</table>");
    }
    if let Some(svg) = svg {
        let _ = write!(body, "<h2>Evidence</h2><figure>{svg}</figure>");
    }
    if let Some(segments) = report["segments"].as_array().filter(|s| !s.is_empty()) {
        body.push_str(
            "<h2>Segments</h2><table><tr><th>segment</th><th>position</th><th>frames</th>\
             <th>z</th><th>decided</th><th>expected</th></tr>",
        );
        for s in segments {
            let z = s["z"].as_f64().map_or("-".to_owned(), |z| format!("{z:.2}"));
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{z}</td><td>{}</td><td>{}</td></tr>",
                text(&s["index"]),
                text(&s["position"]),
                text(&s["frames"]),
                text(&s["symbol"]),
                text(&s["expected"])
            );
        }
        body.push_str("</table>");
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>abmark detection {}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
         padding:0 1rem;color:#222}}table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;\
         border-bottom:1px solid #ddd;text-align:left}}.verdict{{font-size:1.2rem;padding:.6rem;\
         background:#f3f3f3}}.named{{background:#e7f6e7}}.meta{{color:#666}}figure{{margin:0}}\
         svg{{max-width:100%;height:auto}}</style></head><body>{body}</body></html>",
        escape(job_id)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_report_escapes_what_the_copy_could_influence() {
        let report = serde_json::json!({
            "verdict": "named",
            "message": "session 7 (<script>)",
            "candidate_set": "session log s.jsonl",
            "accused": {"session": 7, "subject": "a&b"},
            "segments": [{"index": 1, "position": 1, "frames": 50, "z": 9.5, "symbol": 1, "expected": 1}]
        });
        let html = super::html("j1", "film-1", &report, Some("<svg></svg>"));
        assert!(html.contains("session 7 (&lt;script&gt;)"));
        assert!(html.contains("a&amp;b"));
        assert!(html.contains("<svg></svg>") && html.contains("9.50"));
        assert!(html.contains("Candidates: session log s.jsonl"));
    }
}
