//! The run's transcript: one line per function invocation, in simulated time.
//!
//! ```text
//! 2026-11-20T12:00:00Z start-report   schedule OrdersReportSchedule        ok
//! 2026-11-20T12:00:30Z poll-report    sqs records=3 failed=0 PollReport#0x3  ok
//! 2026-11-20T12:10:00Z shipments-api  http POST /sellers/{sellerId}/shipments  201
//! ```
//!
//! Lines carry no wall-clock times, ids or PII, so two runs of the same scenario print the
//! same transcript (it doubles as a golden file).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every record succeeded (or the scheduled run returned Ok).
    Ok,
    /// Some records were reported in `batchItemFailures`.
    Partial,
    /// The handler returned an error: the whole batch failed (for an HTTP request: API
    /// Gateway answered its own 500).
    Error(String),
    /// An HTTP API invocation answered with this status.
    Answered(u16),
}

/// What triggered an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge schedule (its event name in the template).
    Schedule(String),
    /// An SQS event source with this many records.
    Sqs {
        /// Records in the batch.
        records: usize,
        /// Records reported failed (all of them when the handler returned an error).
        failed: usize,
        /// The steps of the batch, e.g. `PollReport#0x2 PollReport#3` (step#attempt × count).
        steps: String,
    },
    /// An HTTP API request: its route (`POST /sellers/{sellerId}/shipments`), or method and
    /// path when only the `$default` route took it. Never a body.
    Http(String),
}

/// One invocation, for the transcript and the per-function counters.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Simulated time of the invocation.
    pub at: OffsetDateTime,
    /// Function (binary name).
    pub function: String,
    /// What triggered it.
    pub trigger: Trigger,
    /// How it ended.
    pub outcome: Outcome,
}

impl Invocation {
    /// The transcript line (without newline).
    pub fn line(&self) -> String {
        let at = self
            .at
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.at.to_string());
        let trigger = match &self.trigger {
            Trigger::Schedule(name) => format!("schedule {name}"),
            Trigger::Sqs {
                records,
                failed,
                steps,
            } => format!("sqs records={records} failed={failed} {steps}"),
            Trigger::Http(route) => format!("http {route}"),
        };
        let outcome = match &self.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Partial => "partial".to_owned(),
            Outcome::Error(e) => format!("error: {e}"),
            Outcome::Answered(status) => status.to_string(),
        };
        format!("{at} {:<14} {trigger:<48} {outcome}", self.function)
    }
}

/// Counters of one function's invocations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FunctionCounts {
    /// Invocations.
    pub invocations: u64,
    /// SQS records handled.
    pub records: u64,
    /// Records reported failed (partial batch failures and failed batches).
    pub failed_records: u64,
    /// Invocations that returned an error.
    pub errors: u64,
    /// HTTP requests answered with a 4xx or 5xx status by the function.
    pub http_error_answers: u64,
}

/// Writes transcript lines and counts invocations per function.
pub struct Transcript {
    sink: Option<Box<dyn Write + Send>>,
    counts: BTreeMap<String, FunctionCounts>,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Transcript {
    /// A transcript written to `sink`, or only counted when `None`.
    pub fn new(sink: Option<Box<dyn Write + Send>>) -> Self {
        Self {
            sink,
            counts: BTreeMap::new(),
        }
    }

    /// Records one invocation (a failed write to the sink is reported once, then ignored:
    /// the run matters more than its transcript).
    pub fn record(&mut self, invocation: &Invocation) {
        let c = self.counts.entry(invocation.function.clone()).or_default();
        c.invocations += 1;
        if let Trigger::Sqs {
            records, failed, ..
        } = &invocation.trigger
        {
            c.records += *records as u64;
            c.failed_records += *failed as u64;
        }
        match invocation.outcome {
            Outcome::Error(_) => c.errors += 1,
            Outcome::Answered(status) if status >= 400 => c.http_error_answers += 1,
            _ => {}
        }
        self.note(&invocation.line());
    }

    /// Writes a free-form line (run start, settling, warnings).
    pub fn note(&mut self, line: &str) {
        if let Some(sink) = &mut self.sink
            && writeln!(sink, "{line}").is_err()
        {
            tracing::warn!("transcript write failed; transcript disabled");
            self.sink = None;
        }
    }

    /// Flushes the sink.
    pub fn flush(&mut self) {
        if let Some(sink) = &mut self.sink {
            let _ = sink.flush();
        }
    }

    /// Counters per function.
    pub fn counts(&self) -> &BTreeMap<String, FunctionCounts> {
        &self.counts
    }
}

/// Summarises the steps of a batch: `PollReport#0x2 ImportReport#1` (name#attempt, ×count).
pub fn describe_steps<'a>(bodies: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for body in bodies {
        let key = match spsync_workflow::StepMessage::from_json(body) {
            Ok(m) => format!("{}#{}", m.step.name(), m.attempt),
            Err(_) => "undecodable".to_owned(),
        };
        *seen.entry(key).or_default() += 1;
    }
    seen.into_iter()
        .map(|(k, n)| if n == 1 { k } else { format!("{k}x{n}") })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use spsync_domain::{MarketplaceId, SellerId};
    use spsync_workflow::{Step, StepMessage};
    use time::macros::datetime;

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn enrich(attempt: u32) -> String {
        let mut m = StepMessage::new(Step::EnrichOrders {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("M"),
            page_token: None,
            updated_after: None,
        });
        m.attempt = attempt;
        m.to_json()
    }

    #[test]
    fn steps_are_grouped_by_name_and_attempt() {
        let bodies = [enrich(0), enrich(0), enrich(2), "garbage".to_owned()];
        assert_eq!(
            describe_steps(bodies.iter().map(String::as_str)),
            "EnrichOrders#0x2 EnrichOrders#2 undecodable"
        );
    }

    #[test]
    fn lines_are_written_and_counted_per_function() {
        let out = Shared::default();
        let mut t = Transcript::new(Some(Box::new(out.clone())));
        let at = datetime!(2026-11-20 12:00:30 UTC);

        t.record(&Invocation {
            at,
            function: "poll-report".into(),
            trigger: Trigger::Sqs {
                records: 3,
                failed: 1,
                steps: "PollReport#0x3".into(),
            },
            outcome: Outcome::Partial,
        });
        t.record(&Invocation {
            at,
            function: "start-report".into(),
            trigger: Trigger::Schedule("OrdersReportSchedule".into()),
            outcome: Outcome::Error("Transient".into()),
        });

        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("2026-11-20T12:00:30Z poll-report "),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("sqs records=3 failed=1 PollReport#0x3"));
        assert!(lines[0].ends_with(" partial"));
        assert!(lines[1].ends_with("error: Transient"), "{}", lines[1]);
        assert_eq!(
            t.counts()["poll-report"],
            FunctionCounts {
                invocations: 1,
                records: 3,
                failed_records: 1,
                errors: 0,
                http_error_answers: 0
            }
        );
        assert_eq!(t.counts()["start-report"].errors, 1);
    }

    #[test]
    fn http_requests_show_their_route_and_status_and_count_refusals() {
        let out = Shared::default();
        let mut t = Transcript::new(Some(Box::new(out.clone())));
        let at = datetime!(2026-11-20 12:10 UTC);
        for status in [201, 422] {
            t.record(&Invocation {
                at,
                function: "shipments-api".into(),
                trigger: Trigger::Http("POST /sellers/{sellerId}/shipments".into()),
                outcome: Outcome::Answered(status),
            });
        }

        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains(" http POST /sellers/{sellerId}/shipments ")
                && lines[0].ends_with(" 201"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(" 422"), "{}", lines[1]);
        let c = t.counts()["shipments-api"];
        assert_eq!((c.invocations, c.records, c.errors), (2, 0, 0));
        assert_eq!(c.http_error_answers, 1);
    }
}
