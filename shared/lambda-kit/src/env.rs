//! Reading a function's environment, every problem at once.
//!
//! A function's `Config::from_reader` asks an [`EnvReader`] for each variable, then calls
//! [`EnvReader::finish`]: a cold start with two missing variables and one malformed one fails
//! with one [`ConfigError`] naming all three, instead of three deploys in a row.
//!
//! ```
//! use std::collections::BTreeMap;
//! use spsync_lambda_kit::EnvReader;
//!
//! let vars = BTreeMap::from([("ORDERS_LOOKBACK_HOURS".to_owned(), "soon".to_owned())]);
//! let mut env = EnvReader::from_map(&vars);
//! let _table = env.required("JOBS_TABLE_NAME");
//! let _hours: u64 = env.parse("ORDERS_LOOKBACK_HOURS", 72);
//! let err = env.finish().unwrap_err();
//! assert_eq!(err.problems.len(), 2);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One thing wrong with the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    /// A required variable is unset or empty.
    Missing {
        /// Variable name.
        name: String,
    },
    /// A variable is set but does not parse.
    Malformed {
        /// Variable name.
        name: String,
        /// The value found (configuration values are names, URLs and numbers, never secrets:
        /// secrets are read from Secrets Manager by ARN).
        value: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { name } => write!(f, "{name} is missing"),
            Self::Malformed {
                name,
                value,
                reason,
            } => write!(f, "{name}={value:?} is malformed: {reason}"),
        }
    }
}

/// Every missing or malformed variable of a function's environment. Permanent: the function
/// cannot run until its configuration is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", join(.problems))]
pub struct ConfigError {
    /// The problems, in the order the variables were read.
    pub problems: Vec<ConfigProblem>,
}

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Reads variables through a lookup and collects the problems until [`EnvReader::finish`].
///
/// An empty value counts as unset everywhere: SAM and CloudFormation cannot remove a variable
/// conditionally, so "" is how template.yaml says "use the default".
pub struct EnvReader<'a> {
    lookup: Lookup<'a>,
    problems: Vec<ConfigProblem>,
}

impl fmt::Debug for EnvReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvReader")
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

impl<'a> EnvReader<'a> {
    /// A reader over any lookup (`name → value`).
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
            problems: Vec::new(),
        }
    }

    /// The process environment (Lambda).
    pub fn from_process() -> EnvReader<'static> {
        EnvReader::new(|name| std::env::var(name).ok())
    }

    /// A map (the local runner sets each function's environment as CloudFormation would).
    pub fn from_map(vars: &'a BTreeMap<String, String>) -> Self {
        Self::new(move |name| vars.get(name).cloned())
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A variable that must be set; an empty string (and a problem) when it is not.
    pub fn required(&mut self, name: &str) -> String {
        match self.get(name) {
            Some(value) => value,
            None => {
                self.problems
                    .push(ConfigProblem::Missing { name: name.into() });
                String::new()
            }
        }
    }

    /// A variable that may be unset (or empty).
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.get(name)
    }

    /// A variable parsed as `T`, `default` when unset; a malformed value is a problem (and
    /// `default` is returned so reading can go on).
    pub fn parse<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.parse_optional(name).unwrap_or(default)
    }

    /// A variable parsed as `T`, `None` when unset or malformed (a malformed value is a
    /// problem).
    pub fn parse_optional<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self.get(name)?;
        match value.trim().parse() {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.problems.push(ConfigProblem::Malformed {
                    name: name.into(),
                    value,
                    reason: e.to_string(),
                });
                None
            }
        }
    }

    /// `Ok` when every variable read so far was fine, else every problem in one error.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// A function's configuration, read from its environment. Implement [`FromEnv::from_reader`]
/// once; Lambda reads the process environment ([`FromEnv::from_env`]) and the local runner the
/// environment template.yaml gives the function ([`FromEnv::from_map`]), through the same code.
pub trait FromEnv: Sized {
    /// From any reader; every missing or malformed variable in one error.
    fn from_reader(env: EnvReader<'_>) -> Result<Self, ConfigError>;

    /// From the process environment (Lambda).
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(EnvReader::from_process())
    }

    /// From a map (the local runner sets each function's environment from template.yaml).
    fn from_map(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_reader(EnvReader::from_map(vars))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn two_missing_and_one_malformed_are_reported_together() {
        let vars = vars(&[
            ("JOBS_TABLE_NAME", "jobs"),
            ("ORDERS_TABLE_NAME", ""),
            ("ORDERS_LOOKBACK_HOURS", "three days"),
        ]);
        let mut env = EnvReader::from_map(&vars);

        let jobs = env.required("JOBS_TABLE_NAME");
        let _orders = env.required("ORDERS_TABLE_NAME");
        let _bucket = env.required("DOCUMENTS_BUCKET");
        let hours: u64 = env.parse("ORDERS_LOOKBACK_HOURS", 72);
        let err = env.finish().unwrap_err();

        assert_eq!(jobs, "jobs");
        assert_eq!(
            hours, 72,
            "a malformed value falls back to the default while reading"
        );
        assert_eq!(
            err.problems,
            vec![
                ConfigProblem::Missing {
                    name: "ORDERS_TABLE_NAME".into()
                },
                ConfigProblem::Missing {
                    name: "DOCUMENTS_BUCKET".into()
                },
                ConfigProblem::Malformed {
                    name: "ORDERS_LOOKBACK_HOURS".into(),
                    value: "three days".into(),
                    reason: "invalid digit found in string".into(),
                },
            ]
        );
        let text = err.to_string();
        for name in [
            "ORDERS_TABLE_NAME",
            "DOCUMENTS_BUCKET",
            "ORDERS_LOOKBACK_HOURS",
        ] {
            assert!(text.contains(name), "{text}");
        }
    }

    #[test]
    fn optional_and_defaults_treat_empty_as_unset() {
        let vars = vars(&[
            ("SPAPI_ENDPOINT", ""),
            ("LWA_ENDPOINT", "http://127.0.0.1:8787/auth/o2/token"),
            ("REPORT_STUCK_AFTER_MINUTES", " 90 "),
        ]);
        let mut env = EnvReader::from_map(&vars);

        assert_eq!(env.optional("SPAPI_ENDPOINT"), None);
        assert_eq!(
            env.optional("LWA_ENDPOINT").as_deref(),
            Some("http://127.0.0.1:8787/auth/o2/token")
        );
        assert_eq!(env.parse::<u64>("REPORT_STUCK_AFTER_MINUTES", 120), 90);
        assert_eq!(env.parse::<u64>("ORDERS_LOOKBACK_HOURS", 72), 72);
        assert_eq!(env.parse_optional::<u32>("SPAPI_ENDPOINT"), None);
        assert_eq!(env.finish(), Ok(()));
    }

    #[test]
    fn a_closure_lookup_works_like_a_map() {
        let mut env = EnvReader::new(|name| (name == "A").then(|| "1".to_owned()));

        assert_eq!(env.required("A"), "1");
        assert_eq!(env.parse_optional::<u8>("A"), Some(1));
        assert!(env.finish().is_ok());
    }
}
