//! The log subscriber.

use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber, once (later calls do nothing).
///
/// JSON lines when Lambda's `AWS_LAMBDA_LOG_FORMAT` is `JSON` (set by the function's
/// `LoggingConfig.LogFormat` in template.yaml), plain text otherwise. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info` (see [`log_filter`]). No timestamps:
/// CloudWatch stamps every line. The runtime's own span adds `requestId` and `xrayTraceId`.
pub fn init_tracing() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter_spec = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let filter = EnvFilter::try_new(&filter_spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    // try_init: a second call (tests, the local runner hosting several functions) keeps the
    // subscriber already installed instead of panicking.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// The filter directive for the given variables: Lambda's `AWS_LAMBDA_LOG_LEVEL` wins (its
/// `FATAL` has no tracing equivalent and becomes `error`), then `RUST_LOG` as written (it may
/// hold per-crate directives), then `info`. Empty values count as unset.
pub fn log_filter(aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> String {
    let set = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    if let Some(level) = set(aws_lambda_log_level) {
        let level = level.to_ascii_lowercase();
        return if level == "fatal" {
            "error".into()
        } else {
            level
        };
    }
    set(rust_log).unwrap_or_else(|| "info".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_wins_over_rust_log_and_fatal_maps_to_error() {
        let cases = [
            (Some("DEBUG"), Some("trace"), "debug"),
            (Some("FATAL"), None, "error"),
            (
                Some(""),
                Some("info,spsync_workflow=debug"),
                "info,spsync_workflow=debug",
            ),
            (None, Some("warn"), "warn"),
            (None, None, "info"),
            (None, Some("  "), "info"),
        ];
        for (aws, rust, want) in cases {
            assert_eq!(log_filter(aws, rust), want, "{aws:?} {rust:?}");
        }
    }

    #[test]
    fn init_tracing_twice_does_not_panic() {
        init_tracing();
        init_tracing();
    }
}
