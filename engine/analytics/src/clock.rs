//! Log times: RFC 3339 text to milliseconds since the Unix epoch, and back (the simulator).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the epoch, or `None` when `text` is not RFC 3339.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// RFC 3339 UTC with milliseconds (`2026-12-07T10:00:00.125Z`), as the access log writes it.
pub fn format_ms(ms: i64) -> String {
    format(ms, true)
}

/// RFC 3339 UTC in whole seconds (`2026-12-07T10:00:00Z`), as the session and licence logs
/// write it.
pub fn format_s(ms: i64) -> String {
    format(ms, false)
}

fn format(ms: i64, with_ms: bool) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (date, clock) = (t.date(), t.time());
    let whole = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second()
    );
    if with_ms {
        format!("{whole}.{:03}Z", clock.millisecond())
    } else {
        whole + "Z"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_precisions_of_the_logs_parse() {
        assert_eq!(parse_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_ms("2026-12-07T10:00:00.125Z"), Some(1_796_637_600_125));
        assert_eq!(parse_ms("yesterday"), None);
    }

    #[test]
    fn formatted_times_parse_back() {
        for ms in [0, 1_796_637_600_125, 1_796_637_600_000] {
            assert_eq!(parse_ms(&format_ms(ms)), Some(ms));
        }
    }
}
