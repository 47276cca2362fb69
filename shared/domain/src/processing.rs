//! Processing status shared by SP-API reports and feeds.

use serde::{Deserialize, Serialize};

/// Processing status of a report or feed (Reports and Feeds API v2021-06-30, `processingStatus`).
///
/// The set is closed on purpose: an unknown value fails to decode rather than being silently
/// treated as "still running" or "finished".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingStatus {
    /// Waiting to start; may be queued behind another report or feed.
    InQueue,
    /// Being processed.
    InProgress,
    /// Finished. For feeds, the result document may still list per-record errors.
    Done,
    /// Cancelled explicitly, or (reports) automatically because there was no data.
    Cancelled,
    /// Aborted by a fatal error.
    Fatal,
}

impl ProcessingStatus {
    /// `true` for `DONE`, `CANCELLED` and `FATAL`: polling can stop.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Cancelled | Self::Fatal)
    }

    /// The wire name, e.g. `"IN_PROGRESS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InQueue => "IN_QUEUE",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Cancelled => "CANCELLED",
            Self::Fatal => "FATAL",
        }
    }
}

impl std::fmt::Display for ProcessingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_wire_names() {
        let cases = [
            (ProcessingStatus::InQueue, "IN_QUEUE", false),
            (ProcessingStatus::InProgress, "IN_PROGRESS", false),
            (ProcessingStatus::Done, "DONE", true),
            (ProcessingStatus::Cancelled, "CANCELLED", true),
            (ProcessingStatus::Fatal, "FATAL", true),
        ];
        for (status, name, terminal) in cases {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.is_terminal(), terminal, "{name}");
            // serde uses the same names as as_str, both ways
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            let back: ProcessingStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(back, status);
        }
        assert!(serde_json::from_str::<ProcessingStatus>("\"SOMETHING_NEW\"").is_err());
    }
}
