//! Test support shared by the handler tests of every function crate (each `lib.rs` includes
//! this file with `#[cfg(test)] #[path = "../../test_support.rs"] mod test_support;`).
//! In-memory ports come from `spsync-testkit`; this file holds only what is about the
//! functions themselves: their event fixtures and their environment as template.yaml sets it.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use spsync_lambda_kit::{ConfigError, EnvReader};
use spsync_testkit::ManualClock;
use spsync_workflow::Clock;
use time::OffsetDateTime;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A Lambda event from `tests/fixtures/events/<name>`.
pub fn event_fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{WORKSPACE}/tests/fixtures/events/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixtures' time: their messages were sent at 2026-11-20T10:00:01Z.
pub fn fixture_now() -> OffsetDateTime {
    time::macros::datetime!(2026-11-20 10:05 UTC)
}

/// One manual clock shared by the handler's deps and the virtual queue.
#[derive(Clone)]
pub struct SharedClock(pub Arc<ManualClock>);

impl SharedClock {
    /// A clock at [`fixture_now`].
    pub fn at_fixture_time() -> Self {
        Self(Arc::new(ManualClock::new(fixture_now())))
    }
}

impl Clock for SharedClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}

/// The environment template.yaml gives the function built as `binary` (Globals included),
/// with a plausible value for each variable (the template's values are intrinsics).
pub fn template_environment(binary: &str) -> BTreeMap<String, String> {
    let path = format!("{WORKSPACE}/template.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template = spsync_aws::Template::parse(&yaml).expect("template.yaml parses");
    let function = template
        .functions()
        .expect("template.yaml functions")
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("template.yaml has no function with Binary {binary}"));
    function
        .environment
        .keys()
        .map(|name| (name.clone(), sample_value(name)))
        .collect()
}

fn sample_value(name: &str) -> String {
    if name.ends_with("_QUEUE_URL") {
        format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}")
    } else if name.ends_with("_ENDPOINT") {
        "http://127.0.0.1:8787".into()
    } else if ["_HOURS", "_MINUTES", "_SECONDS", "_BATCH"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
    {
        "48".into()
    } else {
        format!("value-of-{name}")
    }
}

/// Checks that `read` (a function's `Config::from_reader`) reads exactly the variables
/// template.yaml sets for `binary`, no more and no fewer, and accepts them.
pub fn assert_config_matches_template<C>(
    binary: &str,
    read: impl Fn(EnvReader<'_>) -> Result<C, ConfigError>,
) {
    let env = template_environment(binary);
    let looked_up = RefCell::new(BTreeSet::new());
    let reader = EnvReader::new(|name| {
        looked_up.borrow_mut().insert(name.to_owned());
        env.get(name).cloned()
    });

    let config = read(reader);

    if let Err(e) = config {
        panic!("Config rejects template.yaml's environment of {binary}: {e}");
    }
    let read_names = looked_up.into_inner();
    let template_names: BTreeSet<String> = env.keys().cloned().collect();
    assert_eq!(
        read_names, template_names,
        "Config of {binary} and template.yaml disagree on the environment"
    );
}
