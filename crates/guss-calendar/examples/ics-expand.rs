//! Prints the UTC start of every event instance in an iCalendar file that
//! overlaps [START, END), one per line, sorted.
//!
//! ```text
//! cargo run -p guss-calendar --example ics-expand -- FILE.ics 2030-01-01T00:00:00Z 2031-01-01T00:00:00Z
//! ```
//!
//! Floating and all-day values are read as UTC. A file that cannot be read
//! exits with status 1 and says why on stderr.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use guss_calendar::ical::{Limits, parse};
use guss_calendar::recurrence::{ExpandLimits, Kind, expand};

fn instant(text: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{what} {text:?} is not a time like 2030-01-01T00:00:00Z: {e}"))
}

fn run(args: &[String]) -> Result<Vec<String>, String> {
    let [file, start, end] = args else {
        return Err(
            "usage: ics-expand FILE.ics START END (times like 2030-01-01T00:00:00Z)".into(),
        );
    };
    let window = instant(start, "START")?..instant(end, "END")?;
    let text = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let text = String::from_utf8(text).map_err(|_| format!("{file} is not UTF-8 text"))?;
    let parsed = parse(&text, &Limits::default()).map_err(|e| format!("{file}: {e}"))?;
    let expansion = expand(&parsed.calendar, &window, &ExpandLimits::default());
    for problem in &expansion.problems {
        eprintln!("{file}: {problem}");
    }
    if expansion.truncated {
        eprintln!("{file}: the expansion hit its limit; later instances are missing");
    }
    Ok(expansion
        .instances
        .iter()
        .filter(|i| i.kind == Kind::Event)
        .map(|i| i.start.to_rfc3339_opts(SecondsFormat::Secs, true))
        .collect())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(lines) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            for line in lines {
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("ics-expand: {message}");
            ExitCode::FAILURE
        }
    }
}
