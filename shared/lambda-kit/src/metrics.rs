//! CloudWatch metrics as embedded-metric-format (EMF) log lines.
//!
//! A line printed to stdout in the EMF shape becomes metrics without any API call (no
//! PutMetricData, no extra latency, no IAM action): see "Specification: Embedded metric
//! format" in the CloudWatch user guide. Values are summed during an invocation and written
//! once by [`Metrics::flush`], with the single dimension `service`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value, json};
use spsync_workflow::{ApiError, StepOutcome, WorkflowError};

use crate::EnvReader;

/// Variable naming the `service` dimension (template.yaml's Globals).
pub const SERVICE_NAME: &str = "SERVICE_NAME";
/// Variable naming the metrics namespace (template.yaml's Globals).
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
/// Namespace and service when the variables are unset.
pub const DEFAULT_SERVICE: &str = "spsync";

/// Where a function's metrics go: namespace and `service` dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// CloudWatch namespace (`METRICS_NAMESPACE`, default `spsync`).
    pub namespace: String,
    /// Value of the `service` dimension (`SERVICE_NAME`, default `spsync`).
    pub service: String,
}

impl MetricsConfig {
    /// Reads [`METRICS_NAMESPACE`] and [`SERVICE_NAME`] (both optional).
    pub fn from_reader(env: &mut EnvReader<'_>) -> Self {
        Self {
            namespace: env
                .optional(METRICS_NAMESPACE)
                .unwrap_or_else(|| DEFAULT_SERVICE.into()),
            service: env
                .optional(SERVICE_NAME)
                .unwrap_or_else(|| DEFAULT_SERVICE.into()),
        }
    }

    /// A writer to stdout with these settings.
    pub fn metrics(&self) -> Metrics {
        Metrics::new(&self.namespace, &self.service)
    }
}

/// Unit of a metric (CloudWatch's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// No unit.
    None,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
            Self::Bytes => "Bytes",
            Self::None => "None",
        }
    }
}

/// Metrics of one invocation. Shared by reference between the records of a batch (`add`
/// takes `&self`).
#[derive(Debug)]
pub struct Metrics {
    namespace: String,
    service: String,
    values: Mutex<BTreeMap<String, (f64, Unit)>>,
    samples: Mutex<BTreeMap<String, (Vec<f64>, Unit)>>,
    captured: Option<Mutex<Vec<String>>>,
}

impl Metrics {
    /// Metrics written to stdout (Lambda ships stdout to CloudWatch Logs).
    pub fn new(namespace: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            service: service.into(),
            values: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(BTreeMap::new()),
            captured: None,
        }
    }

    /// Metrics kept in memory instead of printed (tests, the local runner); read them with
    /// [`Metrics::take_lines`].
    pub fn in_memory(namespace: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            captured: Some(Mutex::new(Vec::new())),
            ..Self::new(namespace, service)
        }
    }

    /// Adds `value` to the metric `name` (PascalCase: `ReportPolls`, `RowsIngested`, ...).
    pub fn add(&self, name: &str, value: f64, unit: Unit) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = values.entry(name.to_owned()).or_insert((0.0, unit));
        entry.0 += value;
        entry.1 = unit;
    }

    /// Records one observation of `name` (a latency, a duration): unlike [`Metrics::add`],
    /// every value is kept and written as an EMF value array, so CloudWatch computes
    /// percentiles over them (`ShipmentConfirmSeconds` p95).
    pub fn observe(&self, name: &str, value: f64, unit: Unit) {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = samples
            .entry(name.to_owned())
            .or_insert_with(|| (Vec::new(), unit));
        entry.0.push(value);
        entry.1 = unit;
    }

    /// The values observed so far for `name` (not yet flushed).
    pub fn observed(&self, name: &str) -> Vec<f64> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples
            .get(name)
            .map(|(v, _)| v.clone())
            .unwrap_or_default()
    }

    /// Adds one to a count.
    pub fn incr(&self, name: &str) {
        self.add(name, 1.0, Unit::Count);
    }

    /// Counts what every step's result says, whatever the step: `StepRequeued` (not ready,
    /// throttled, deferred), `StepsIgnored` (duplicate or late message), `StepsFailed`, and
    /// `SpApiThrottled` when the failure is Amazon's throttle. Step-specific counts
    /// (`ReportsCompleted`, ...) are the handler's.
    pub fn record_step(&self, result: &Result<StepOutcome, WorkflowError>) {
        match result {
            Ok(StepOutcome::Requeued(_)) => self.incr("StepRequeued"),
            Ok(StepOutcome::Ignored(_)) => self.incr("StepsIgnored"),
            Ok(StepOutcome::Advanced(_) | StepOutcome::Finished(_)) => {}
            Err(e) => {
                self.incr("StepsFailed");
                if matches!(e, WorkflowError::Api(ApiError::Throttled { .. })) {
                    self.incr("SpApiThrottled");
                }
            }
        }
    }

    /// The value summed so far for `name` (not yet flushed).
    pub fn value(&self, name: &str) -> Option<f64> {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.get(name).map(|(v, _)| *v)
    }

    /// Writes the values summed so far as ONE EMF line (to stdout, or to memory for
    /// [`Metrics::in_memory`]), clears them and returns the line; nothing when there is
    /// nothing to report.
    pub fn flush(&self) -> Option<String> {
        let values =
            std::mem::take(&mut *self.values.lock().unwrap_or_else(PoisonError::into_inner));
        let samples =
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner));
        if values.is_empty() && samples.is_empty() {
            return None;
        }
        let timestamp_ms =
            i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(i64::MAX);
        let line = emf_line(
            &self.namespace,
            &self.service,
            timestamp_ms,
            &values,
            &samples,
        )
        .to_string();
        match &self.captured {
            Some(lines) => lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line.clone()),
            None => println!("{line}"),
        }
        Some(line)
    }

    /// The lines flushed so far by an [`Metrics::in_memory`] writer (empty for stdout).
    pub fn take_lines(&self) -> Vec<String> {
        match &self.captured {
            Some(lines) => {
                std::mem::take(&mut *lines.lock().unwrap_or_else(PoisonError::into_inner))
            }
            None => Vec::new(),
        }
    }
}

fn emf_line(
    namespace: &str,
    service: &str,
    timestamp_ms: i64,
    values: &BTreeMap<String, (f64, Unit)>,
    samples: &BTreeMap<String, (Vec<f64>, Unit)>,
) -> Value {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, (_, unit))| (name, unit))
        .chain(samples.iter().map(|(name, (_, unit))| (name, unit)))
        .map(|(name, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["service"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("service".into(), Value::String(service.to_owned()));
    for (name, (value, _)) in values {
        root.insert(name.clone(), number(*value));
    }
    for (name, (observed, _)) in samples {
        let array = observed.iter().map(|v| number(*v)).collect();
        root.insert(name.clone(), Value::Array(array));
    }
    Value::Object(root)
}

/// Whole values print as integers (`3`, not `3.0`), which is what a reader of the log expects.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_are_written_as_value_arrays_beside_sums() {
        let metrics = Metrics::in_memory("spsync", "spsync");
        metrics.observe("ShipmentConfirmSeconds", 190.0, Unit::Seconds);
        metrics.observe("ShipmentConfirmSeconds", 245.5, Unit::Seconds);
        metrics.incr("ShipmentsConfirmed");
        assert_eq!(
            metrics.observed("ShipmentConfirmSeconds"),
            vec![190.0, 245.5]
        );

        let line: Value = serde_json::from_str(&metrics.flush().unwrap()).unwrap();

        assert_eq!(line["ShipmentConfirmSeconds"], json!([190, 245.5]));
        assert_eq!(line["ShipmentsConfirmed"], json!(1));
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["ShipmentsConfirmed", "ShipmentConfirmSeconds"]);
        assert!(
            metrics.observed("ShipmentConfirmSeconds").is_empty(),
            "flushed"
        );
    }

    #[test]
    fn flush_writes_one_emf_line_with_summed_values() {
        let metrics = Metrics::in_memory("spsync", "spsync");
        metrics.incr("ReportPolls");
        metrics.incr("ReportPolls");
        metrics.add("RowsIngested", 1500.0, Unit::Count);
        metrics.add("SpApiCallLatencyMs", 12.5, Unit::Milliseconds);

        let returned = metrics.flush().unwrap();
        let lines = metrics.take_lines();

        assert_eq!(lines, vec![returned.clone()]);
        let mut line: Value = serde_json::from_str(&returned).unwrap();
        let timestamp = line["_aws"]["Timestamp"].take();
        assert!(
            timestamp.as_i64().is_some_and(|t| t > 1_700_000_000_000),
            "{timestamp}"
        );
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": null,
                    "CloudWatchMetrics": [{
                        "Namespace": "spsync",
                        "Dimensions": [["service"]],
                        "Metrics": [
                            {"Name": "ReportPolls", "Unit": "Count"},
                            {"Name": "RowsIngested", "Unit": "Count"},
                            {"Name": "SpApiCallLatencyMs", "Unit": "Milliseconds"},
                        ],
                    }],
                },
                "service": "spsync",
                "ReportPolls": 2,
                "RowsIngested": 1500,
                "SpApiCallLatencyMs": 12.5,
            })
        );
        assert!(!returned.contains('\n'), "one line");
    }

    #[test]
    fn flush_clears_and_an_empty_flush_writes_nothing() {
        let metrics = Metrics::in_memory("spsync", "spsync");
        metrics.incr("StepRequeued");

        assert!(metrics.flush().is_some());
        assert_eq!(metrics.value("StepRequeued"), None);
        assert_eq!(metrics.flush(), None);
        assert_eq!(metrics.take_lines().len(), 1);
        assert!(metrics.take_lines().is_empty(), "take_lines drains");
    }

    #[test]
    fn step_results_are_counted_by_kind() {
        let metrics = Metrics::in_memory("spsync", "spsync");

        metrics.record_step(&Ok(StepOutcome::Requeued(std::time::Duration::from_secs(
            5,
        ))));
        metrics.record_step(&Ok(StepOutcome::Ignored("duplicate")));
        metrics.record_step(&Ok(StepOutcome::Advanced("document stored")));
        metrics.record_step(&Err(WorkflowError::Api(ApiError::Throttled {
            operation: "getReport",
            retry_after: std::time::Duration::from_secs(1),
        })));
        metrics.record_step(&Err(WorkflowError::Config("x".into())));

        assert_eq!(metrics.value("StepRequeued"), Some(1.0));
        assert_eq!(metrics.value("StepsIgnored"), Some(1.0));
        assert_eq!(metrics.value("StepsFailed"), Some(2.0));
        assert_eq!(metrics.value("SpApiThrottled"), Some(1.0));
    }

    #[test]
    fn metrics_config_defaults_to_spsync() {
        let vars = std::collections::BTreeMap::from([(
            METRICS_NAMESPACE.to_owned(),
            "spsync-dev".to_owned(),
        )]);
        let mut env = EnvReader::from_map(&vars);

        let config = MetricsConfig::from_reader(&mut env);

        assert_eq!(config.namespace, "spsync-dev");
        assert_eq!(config.service, "spsync");
        assert!(env.finish().is_ok());
    }

    #[test]
    fn stdout_metrics_capture_nothing() {
        let metrics = Metrics::new("spsync", "spsync");
        metrics.incr("ColdStart");

        assert!(metrics.flush().is_some());
        assert!(metrics.take_lines().is_empty());
    }
}
