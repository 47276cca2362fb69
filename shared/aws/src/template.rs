//! Reads `template.yaml`, the SAM stack, so that the local stack is built from the same file
//! that is deployed: tables, queues, buckets and the functions with their environment and
//! event sources. Pure (no IO): [`Template::parse`] takes the YAML text.
//!
//! Only the intrinsic functions the template uses are understood, in both spellings:
//! `!Ref` / `Ref:`, `!GetAtt X.Attr` / `Fn::GetAtt: [X, Attr]`, `!Sub` / `Fn::Sub:` (with an
//! optional variable map). Anything else (`!Join`, `!If`, ...) is an error that names the
//! resource and the property, raised when that value is needed; a reference to a name the
//! template does not declare is an error at parse time (`cfn-lint` would say E1010/E1012).
//!
//! [`Resolver`] evaluates intrinsics once the physical names are known (the provisioner fills
//! it); before that it knows the parameters (overrides over defaults) and the pseudo
//! parameters of the local account (`us-east-1`, `123456789012`, partition `aws`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};
use spsync_workflow::Retryability;

/// The region the local stack pretends to live in (moto's default).
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account id moto uses for every ARN.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

/// Lambda's defaults when neither the function nor `Globals.Function` sets them.
const DEFAULT_TIMEOUT_S: u64 = 3;
const DEFAULT_MEMORY_MB: u64 = 128;
/// SAM's default for an SQS event source.
const DEFAULT_SQS_BATCH_SIZE: u64 = 10;

const TYPE_TABLE: &str = "AWS::DynamoDB::Table";
const TYPE_QUEUE: &str = "AWS::SQS::Queue";
const TYPE_BUCKET: &str = "AWS::S3::Bucket";
const TYPE_FUNCTION: &str = "AWS::Serverless::Function";

/// CloudFormation's pseudo parameters (`!Ref AWS::Region`, ...).
const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// Why a template cannot be read or used. Always permanent: the file has to change.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not YAML at all.
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// A section or property has the wrong shape or a required property is missing.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where (`resource JobsTable, property KeySchema`).
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// `!Ref`, `!GetAtt` or `${...}` names nothing the template declares.
    #[error("{at}: {name} is not a parameter or resource of the template")]
    UnknownReference {
        /// Where the reference is.
        at: String,
        /// The name referenced.
        name: String,
    },
    /// A parameter override names no parameter of the template.
    #[error("parameter override {name}: the template has no such parameter")]
    UnknownParameter {
        /// The override's name.
        name: String,
    },
    /// A parameter value breaks the parameter's declaration.
    #[error("parameter {name}: {reason}")]
    InvalidParameter {
        /// Parameter.
        name: String,
        /// Why the value is refused (no value is echoed: it may be a secret).
        reason: String,
    },
    /// An intrinsic could not be evaluated.
    #[error("{at}: {source}")]
    Resolve {
        /// Where the value is.
        at: String,
        /// Why.
        #[source]
        source: ResolveError,
    },
}

impl TemplateError {
    /// Retry class: a template error never goes away by trying again.
    pub fn retryability(&self) -> Retryability {
        Retryability::Permanent
    }

    fn invalid(at: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            at: at.into(),
            reason: reason.into(),
        }
    }
}

/// Why one value could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// An intrinsic function this reader does not implement.
    #[error("intrinsic function {intrinsic} is not supported (only Ref, Fn::GetAtt, Fn::Sub)")]
    Unsupported {
        /// `!Join`, `Fn::If`, ...
        intrinsic: String,
    },
    /// An intrinsic whose argument has the wrong shape.
    #[error("malformed {intrinsic}: {reason}")]
    Malformed {
        /// The intrinsic.
        intrinsic: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A reference to a name the template does not declare.
    #[error("{name} is not a parameter or resource of the template")]
    UnknownReference {
        /// The name.
        name: String,
    },
    /// A resource the local stack does not create (an alarm, a role) or has not created yet.
    #[error("resource {logical_id} ({resource_type}) has no physical name in the local stack")]
    NotProvisioned {
        /// Logical id.
        logical_id: String,
        /// Its CloudFormation type.
        resource_type: String,
    },
    /// `!GetAtt` of an attribute the resource does not expose locally.
    #[error("resource {logical_id} has no attribute {attribute} in the local stack")]
    UnknownAttribute {
        /// Logical id.
        logical_id: String,
        /// Attribute name.
        attribute: String,
    },
    /// A parameter with neither an override nor a default.
    #[error("parameter {name} has no value (no override and no default)")]
    MissingParameterValue {
        /// Parameter.
        name: String,
    },
    /// A pseudo parameter the local stack cannot give a value.
    #[error("pseudo parameter {name} has no value here")]
    PseudoParameterUnavailable {
        /// `AWS::StackName` before a stack exists, `AWS::NoValue`, ...
        name: String,
    },
    /// The value resolved, but not to what the property needs.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// `a string`, `a whole number`, ...
        expected: &'static str,
        /// What was there (its kind, never its content).
        found: String,
    },
}

/// A declared template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Name.
    pub name: String,
    /// `String`, `Number`, ...
    pub kind: String,
    /// `Default`, as text.
    pub default: Option<String>,
    /// `AllowedValues`, as text (empty: anything).
    pub allowed_values: Vec<String>,
}

/// One resource of the template, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Logical id.
    pub logical_id: String,
    /// CloudFormation type (`AWS::SQS::Queue`).
    pub resource_type: String,
    /// `Properties` (an empty mapping when absent).
    pub properties: Value,
    /// `Metadata` (null when absent).
    pub metadata: Value,
}

/// One element of a key schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyElement {
    /// Attribute name.
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// One attribute definition of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDefinition {
    /// Attribute name.
    pub attribute_name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiSpec {
    /// Index name.
    pub index_name: String,
    /// Its keys.
    pub key_schema: Vec<KeyElement>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// For `INCLUDE`.
    pub non_key_attributes: Vec<String>,
}

/// An `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Logical id.
    pub logical_id: String,
    /// `TableName` as written (unresolved); `None`: CloudFormation generates one.
    pub table_name: Option<Value>,
    /// Keys of the table.
    pub key_schema: Vec<KeyElement>,
    /// Typed attributes (keys of the table and its indexes).
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// Global secondary indexes.
    pub global_secondary_indexes: Vec<GsiSpec>,
    /// The TTL attribute when `TimeToLiveSpecification` is enabled.
    pub ttl_attribute: Option<String>,
    /// `BillingMode` (CloudFormation's default is `PROVISIONED`).
    pub billing_mode: String,
}

/// A queue's redrive policy with the dead-letter queue as a logical id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveSpec {
    /// Logical id of the dead-letter queue (from `!GetAtt Dlq.Arn`).
    pub dead_letter_queue: String,
    /// Deliveries before a message is moved there.
    pub max_receive_count: u64,
}

/// An `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    /// Logical id.
    pub logical_id: String,
    /// `QueueName` as written (unresolved); `None`: CloudFormation generates one.
    pub queue_name: Option<Value>,
    /// `FifoQueue`.
    pub fifo: bool,
    /// `VisibilityTimeout` in seconds (SQS default 30 when absent).
    pub visibility_timeout: Option<u64>,
    /// `DelaySeconds`.
    pub delay_seconds: Option<u64>,
    /// `MessageRetentionPeriod` in seconds.
    pub message_retention_period: Option<u64>,
    /// `MaximumMessageSize` in bytes.
    pub maximum_message_size: Option<u64>,
    /// `ReceiveMessageWaitTimeSeconds`.
    pub receive_message_wait_time_seconds: Option<u64>,
    /// `RedrivePolicy`.
    pub redrive: Option<RedriveSpec>,
}

/// An `AWS::S3::Bucket`.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    /// Logical id.
    pub logical_id: String,
    /// `BucketName` as written (unresolved); `None`: CloudFormation generates one.
    pub bucket_name: Option<Value>,
}

/// A SAM `Schedule` (or `ScheduleV2`) event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEventSpec {
    /// Event name (key under `Events`).
    pub name: String,
    /// `rate(2 hours)` or `cron(...)`, parameters resolved.
    pub expression: String,
    /// `Input`: the JSON text the rule sends instead of the scheduled event.
    pub input: Option<String>,
    /// `Enabled` / `State`.
    pub enabled: bool,
}

/// A SAM `SQS` event source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSpec {
    /// Event name (key under `Events`).
    pub name: String,
    /// Logical id of the queue (from `!GetAtt Queue.Arn`).
    pub queue: String,
    /// `BatchSize` (default 10).
    pub batch_size: u64,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `MaximumBatchingWindowInSeconds`.
    pub maximum_batching_window: Option<Duration>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u64>,
    /// `Enabled`.
    pub enabled: bool,
}

/// An `AWS::Serverless::Function` with `Globals.Function` applied.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Logical id.
    pub logical_id: String,
    /// `FunctionName` as written, if any.
    pub function_name: Option<Value>,
    /// `Metadata.BuildProperties.Binary`: the cargo binary (= function crate).
    pub binary: String,
    /// `Timeout` (function, else Globals, else Lambda's 3 s).
    pub timeout: Duration,
    /// `MemorySize` in MB (function, else Globals, else 128).
    pub memory_size_mb: u64,
    /// `ReservedConcurrentExecutions`.
    pub reserved_concurrent_executions: Option<u64>,
    /// `Environment.Variables`: Globals merged with the function's own (the function wins),
    /// unresolved.
    pub environment: BTreeMap<String, Value>,
    /// `Schedule` events.
    pub schedule_events: Vec<ScheduleEventSpec>,
    /// `SQS` events.
    pub sqs_events: Vec<SqsEventSpec>,
    /// Its SAM `HttpApi` routes (the local runner serves them on a local port).
    pub http_events: Vec<HttpEventSpec>,
}

/// A SAM `HttpApi` event: one route of an HTTP API (`None` method and path: the `$default`
/// catch-all route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEventSpec {
    /// Event name.
    pub name: String,
    /// HTTP method (`GET`, `POST`, ...).
    pub method: Option<String>,
    /// Route path with `{parameters}`.
    pub path: Option<String>,
}

/// A parsed `template.yaml`.
#[derive(Debug, Clone)]
pub struct Template {
    parameters: BTreeMap<String, Parameter>,
    overrides: BTreeMap<String, String>,
    resources: BTreeMap<String, Resource>,
    globals_function: Mapping,
}

impl Template {
    /// Parses the template and checks that every `Ref`, `GetAtt` and `${...}` names a
    /// parameter, a pseudo parameter or a resource.
    pub fn parse(yaml: &str) -> Result<Template, TemplateError> {
        let mut root: Value = serde_yaml_ng::from_str(yaml)?;
        root.apply_merge()?;
        let Value::Mapping(root) = root else {
            return Err(TemplateError::invalid("template", "is not a mapping"));
        };

        let mut parameters = BTreeMap::new();
        if let Some(section) = root.get("Parameters") {
            let section = as_mapping(section, "Parameters")?;
            for (name, decl) in section {
                let name = key_string(name, "Parameters")?;
                let at = format!("parameter {name}");
                let decl = as_mapping(decl, &at)?;
                let kind = match decl.get("Type") {
                    Some(v) => scalar_text(v)
                        .ok_or_else(|| TemplateError::invalid(&at, "Type is not a string"))?,
                    None => return Err(TemplateError::invalid(&at, "Type is missing")),
                };
                let default =
                    match decl.get("Default") {
                        Some(v) => Some(scalar_text(v).ok_or_else(|| {
                            TemplateError::invalid(&at, "Default is not a scalar")
                        })?),
                        None => None,
                    };
                let allowed_values = match decl.get("AllowedValues") {
                    Some(Value::Sequence(values)) => values
                        .iter()
                        .map(|v| {
                            scalar_text(v).ok_or_else(|| {
                                TemplateError::invalid(&at, "AllowedValues holds a non-scalar")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    Some(_) => {
                        return Err(TemplateError::invalid(&at, "AllowedValues is not a list"));
                    }
                    None => Vec::new(),
                };
                parameters.insert(
                    name.clone(),
                    Parameter {
                        name,
                        kind,
                        default,
                        allowed_values,
                    },
                );
            }
        }

        let mut resources = BTreeMap::new();
        let section = root
            .get("Resources")
            .ok_or_else(|| TemplateError::invalid("template", "Resources is missing"))?;
        for (logical_id, decl) in as_mapping(section, "Resources")? {
            let logical_id = key_string(logical_id, "Resources")?;
            let at = format!("resource {logical_id}");
            let decl = as_mapping(decl, &at)?;
            let resource_type = decl
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| TemplateError::invalid(&at, "Type is missing"))?
                .to_owned();
            let properties = decl
                .get("Properties")
                .cloned()
                .unwrap_or_else(|| Value::Mapping(Mapping::new()));
            let metadata = decl.get("Metadata").cloned().unwrap_or(Value::Null);
            resources.insert(
                logical_id.clone(),
                Resource {
                    logical_id,
                    resource_type,
                    properties,
                    metadata,
                },
            );
        }

        let globals_function = match root.get("Globals").and_then(|g| g.get("Function")) {
            Some(v) => as_mapping(v, "Globals.Function")?.clone(),
            None => Mapping::new(),
        };

        let template = Template {
            parameters,
            overrides: BTreeMap::new(),
            resources,
            globals_function,
        };
        template.check_references(&root)?;
        Ok(template)
    }

    /// The same template with parameter overrides (as `sam deploy --parameter-overrides`):
    /// each must name a declared parameter and respect its `AllowedValues` and `Number` type.
    pub fn with_parameters(
        mut self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Template, TemplateError> {
        for (name, value) in overrides {
            let param = self
                .parameters
                .get(name)
                .ok_or_else(|| TemplateError::UnknownParameter { name: name.clone() })?;
            if !param.allowed_values.is_empty() && !param.allowed_values.contains(value) {
                return Err(TemplateError::InvalidParameter {
                    name: name.clone(),
                    reason: format!("not one of {}", param.allowed_values.join(", ")),
                });
            }
            if param.kind == "Number" && value.parse::<f64>().is_err() {
                return Err(TemplateError::InvalidParameter {
                    name: name.clone(),
                    reason: "not a number".into(),
                });
            }
            self.overrides.insert(name.clone(), value.clone());
        }
        Ok(self)
    }

    /// Declared parameters by name.
    pub fn parameters(&self) -> &BTreeMap<String, Parameter> {
        &self.parameters
    }

    /// The value of every parameter that has one: override, else default.
    pub fn parameter_values(&self) -> BTreeMap<String, String> {
        self.parameters
            .values()
            .filter_map(|p| {
                self.overrides
                    .get(&p.name)
                    .or(p.default.as_ref())
                    .map(|v| (p.name.clone(), v.clone()))
            })
            .collect()
    }

    /// Every resource by logical id.
    pub fn resources(&self) -> &BTreeMap<String, Resource> {
        &self.resources
    }

    /// A resolver that knows the parameters and pseudo parameters but no physical names yet.
    pub fn resolver(&self) -> Resolver {
        Resolver {
            parameters: self.parameter_values(),
            declared_parameters: self.parameters.keys().cloned().collect(),
            resource_types: self
                .resources
                .values()
                .map(|r| (r.logical_id.clone(), r.resource_type.clone()))
                .collect(),
            physical: BTreeMap::new(),
            region: DEFAULT_REGION.to_owned(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            partition: "aws".to_owned(),
            stack_name: None,
        }
    }

    fn of_type<'a>(&'a self, resource_type: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources
            .values()
            .filter(move |r| r.resource_type == resource_type)
    }

    /// Every `AWS::DynamoDB::Table`.
    pub fn tables(&self) -> Result<Vec<TableSpec>, TemplateError> {
        self.of_type(TYPE_TABLE).map(|r| self.table(r)).collect()
    }

    fn table(&self, r: &Resource) -> Result<TableSpec, TemplateError> {
        let at = |prop: &str| format!("resource {}, property {prop}", r.logical_id);
        let resolver = self.resolver();
        let props = &r.properties;
        let text = |v: &Value, prop: &str| resolve_text(v, &resolver, &at(prop));

        let key_schema = read_key_schema(props.get("KeySchema"), &at("KeySchema"), &resolver)?;
        let mut attribute_definitions = Vec::new();
        for (i, def) in list(
            props.get("AttributeDefinitions"),
            &at("AttributeDefinitions"),
        )?
        .iter()
        .enumerate()
        {
            let prop = format!("AttributeDefinitions[{i}]");
            attribute_definitions.push(AttributeDefinition {
                attribute_name: text(required(def, "AttributeName", &at(&prop))?, &prop)?,
                attribute_type: text(required(def, "AttributeType", &at(&prop))?, &prop)?,
            });
        }
        let mut global_secondary_indexes = Vec::new();
        if let Some(gsis) = props.get("GlobalSecondaryIndexes") {
            for (i, gsi) in list(Some(gsis), &at("GlobalSecondaryIndexes"))?
                .iter()
                .enumerate()
            {
                let prop = format!("GlobalSecondaryIndexes[{i}]");
                let projection = required(gsi, "Projection", &at(&prop))?;
                let projection_type = match projection.get("ProjectionType") {
                    Some(v) => text(v, &format!("{prop}.Projection.ProjectionType"))?,
                    None => "ALL".to_owned(),
                };
                let non_key_attributes = match projection.get("NonKeyAttributes") {
                    Some(v) => list(Some(v), &at(&format!("{prop}.Projection")))?
                        .iter()
                        .map(|a| text(a, &format!("{prop}.Projection.NonKeyAttributes")))
                        .collect::<Result<_, _>>()?,
                    None => Vec::new(),
                };
                global_secondary_indexes.push(GsiSpec {
                    index_name: text(required(gsi, "IndexName", &at(&prop))?, &prop)?,
                    key_schema: read_key_schema(
                        gsi.get("KeySchema"),
                        &at(&format!("{prop}.KeySchema")),
                        &resolver,
                    )?,
                    projection_type,
                    non_key_attributes,
                });
            }
        }
        if props.get("LocalSecondaryIndexes").is_some() {
            return Err(TemplateError::invalid(
                at("LocalSecondaryIndexes"),
                "local secondary indexes are not supported by the local stack",
            ));
        }
        let ttl_attribute = match props.get("TimeToLiveSpecification") {
            Some(spec) => {
                let enabled = match spec.get("Enabled") {
                    Some(v) => resolve_bool(v, &resolver, &at("TimeToLiveSpecification.Enabled"))?,
                    None => false,
                };
                match (enabled, spec.get("AttributeName")) {
                    (true, Some(name)) => {
                        Some(text(name, "TimeToLiveSpecification.AttributeName")?)
                    }
                    (true, None) => {
                        return Err(TemplateError::invalid(
                            at("TimeToLiveSpecification"),
                            "AttributeName is missing",
                        ));
                    }
                    (false, _) => None,
                }
            }
            None => None,
        };
        let billing_mode = match props.get("BillingMode") {
            Some(v) => text(v, "BillingMode")?,
            None => "PROVISIONED".to_owned(),
        };
        Ok(TableSpec {
            logical_id: r.logical_id.clone(),
            table_name: props.get("TableName").cloned(),
            key_schema,
            attribute_definitions,
            global_secondary_indexes,
            ttl_attribute,
            billing_mode,
        })
    }

    /// Every `AWS::SQS::Queue`.
    pub fn queues(&self) -> Result<Vec<QueueSpec>, TemplateError> {
        self.of_type(TYPE_QUEUE).map(|r| self.queue(r)).collect()
    }

    fn queue(&self, r: &Resource) -> Result<QueueSpec, TemplateError> {
        let at = |prop: &str| format!("resource {}, property {prop}", r.logical_id);
        let resolver = self.resolver();
        let props = &r.properties;
        let number = |prop: &str| -> Result<Option<u64>, TemplateError> {
            props
                .get(prop)
                .map(|v| resolve_u64(v, &resolver, &at(prop)))
                .transpose()
        };
        let redrive = match props.get("RedrivePolicy") {
            Some(policy) => {
                let target = required(policy, "deadLetterTargetArn", &at("RedrivePolicy"))?;
                let prop = "RedrivePolicy.deadLetterTargetArn";
                let dead_letter_queue = arn_target(target, &at(prop))?;
                self.expect_type(&dead_letter_queue, TYPE_QUEUE, &at(prop))?;
                let count = required(policy, "maxReceiveCount", &at("RedrivePolicy"))?;
                Some(RedriveSpec {
                    dead_letter_queue,
                    max_receive_count: resolve_u64(
                        count,
                        &resolver,
                        &at("RedrivePolicy.maxReceiveCount"),
                    )?,
                })
            }
            None => None,
        };
        let fifo = match props.get("FifoQueue") {
            Some(v) => resolve_bool(v, &resolver, &at("FifoQueue"))?,
            None => false,
        };
        Ok(QueueSpec {
            logical_id: r.logical_id.clone(),
            queue_name: props.get("QueueName").cloned(),
            fifo,
            visibility_timeout: number("VisibilityTimeout")?,
            delay_seconds: number("DelaySeconds")?,
            message_retention_period: number("MessageRetentionPeriod")?,
            maximum_message_size: number("MaximumMessageSize")?,
            receive_message_wait_time_seconds: number("ReceiveMessageWaitTimeSeconds")?,
            redrive,
        })
    }

    /// Every `AWS::S3::Bucket`.
    pub fn buckets(&self) -> Vec<BucketSpec> {
        self.of_type(TYPE_BUCKET)
            .map(|r| BucketSpec {
                logical_id: r.logical_id.clone(),
                bucket_name: r.properties.get("BucketName").cloned(),
            })
            .collect()
    }

    /// Every `AWS::Serverless::Function`, with `Globals.Function` applied.
    pub fn functions(&self) -> Result<Vec<FunctionSpec>, TemplateError> {
        self.of_type(TYPE_FUNCTION)
            .map(|r| self.function(r))
            .collect()
    }

    fn function(&self, r: &Resource) -> Result<FunctionSpec, TemplateError> {
        let id = &r.logical_id;
        let at = |prop: &str| format!("resource {id}, property {prop}");
        let resolver = self.resolver();
        let props = &r.properties;
        // SAM's Globals: a scalar on the function replaces the global one; maps merge.
        let setting = |name: &str| props.get(name).or_else(|| self.globals_function.get(name));
        let number = |name: &str| -> Result<Option<u64>, TemplateError> {
            setting(name)
                .map(|v| resolve_u64(v, &resolver, &at(name)))
                .transpose()
        };

        let binary = r
            .metadata
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .ok_or_else(|| {
                TemplateError::invalid(
                    format!("resource {id}, Metadata"),
                    "BuildProperties.Binary is missing (the cargo binary of the function)",
                )
            })?;
        let binary = resolve_text(binary, &resolver, &format!("resource {id}, Metadata"))?;

        let mut environment = BTreeMap::new();
        for (source, at_env) in [
            (
                self.globals_function.get("Environment"),
                "Globals.Function.Environment".to_owned(),
            ),
            (props.get("Environment"), at("Environment")),
        ] {
            let Some(vars) = source.and_then(|e| e.get("Variables")) else {
                continue;
            };
            for (name, value) in as_mapping(vars, &at_env)? {
                environment.insert(key_string(name, &at_env)?, value.clone());
            }
        }

        let mut schedule_events = Vec::new();
        let mut sqs_events = Vec::new();
        let mut http_events = Vec::new();
        if let Some(events) = props.get("Events") {
            for (name, event) in as_mapping(events, &at("Events"))? {
                let name = key_string(name, &at("Events"))?;
                let at_event = format!("resource {id}, event {name}");
                let kind = event
                    .get("Type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TemplateError::invalid(&at_event, "Type is missing"))?;
                let empty = Value::Mapping(Mapping::new());
                let ev = event.get("Properties").unwrap_or(&empty);
                let prop = |p: &str| format!("{at_event}, property {p}");
                match kind {
                    "Schedule" | "ScheduleV2" => {
                        let key = if kind == "Schedule" {
                            "Schedule"
                        } else {
                            "ScheduleExpression"
                        };
                        let expression =
                            resolve_text(required(ev, key, &at_event)?, &resolver, &prop(key))?;
                        let input = ev
                            .get("Input")
                            .map(|v| resolve_text(v, &resolver, &prop("Input")))
                            .transpose()?;
                        let enabled = match (ev.get("Enabled"), ev.get("State")) {
                            (Some(v), _) => resolve_bool(v, &resolver, &prop("Enabled"))?,
                            (None, Some(v)) => {
                                resolve_text(v, &resolver, &prop("State"))? == "ENABLED"
                            }
                            (None, None) => true,
                        };
                        schedule_events.push(ScheduleEventSpec {
                            name,
                            expression,
                            input,
                            enabled,
                        });
                    }
                    "SQS" => {
                        let queue = arn_target(required(ev, "Queue", &at_event)?, &prop("Queue"))?;
                        self.expect_type(&queue, TYPE_QUEUE, &prop("Queue"))?;
                        let number = |p: &str| {
                            ev.get(p)
                                .map(|v| resolve_u64(v, &resolver, &prop(p)))
                                .transpose()
                        };
                        let report_batch_item_failures = match ev.get("FunctionResponseTypes") {
                            Some(v) => list(Some(v), &prop("FunctionResponseTypes"))?
                                .iter()
                                .map(|t| resolve_text(t, &resolver, &prop("FunctionResponseTypes")))
                                .collect::<Result<Vec<_>, _>>()?
                                .iter()
                                .any(|t| t == "ReportBatchItemFailures"),
                            None => false,
                        };
                        let maximum_concurrency = match ev
                            .get("ScalingConfig")
                            .and_then(|s| s.get("MaximumConcurrency"))
                        {
                            Some(v) => Some(resolve_u64(
                                v,
                                &resolver,
                                &prop("ScalingConfig.MaximumConcurrency"),
                            )?),
                            None => None,
                        };
                        sqs_events.push(SqsEventSpec {
                            name,
                            queue,
                            batch_size: number("BatchSize")?.unwrap_or(DEFAULT_SQS_BATCH_SIZE),
                            report_batch_item_failures,
                            maximum_batching_window: number("MaximumBatchingWindowInSeconds")?
                                .map(Duration::from_secs),
                            maximum_concurrency,
                            enabled: match ev.get("Enabled") {
                                Some(v) => resolve_bool(v, &resolver, &prop("Enabled"))?,
                                None => true,
                            },
                        });
                    }
                    "HttpApi" => {
                        let text = |p: &str| {
                            ev.get(p)
                                .map(|v| resolve_text(v, &resolver, &prop(p)))
                                .transpose()
                        };
                        http_events.push(HttpEventSpec {
                            name,
                            method: text("Method")?,
                            path: text("Path")?,
                        });
                    }
                    other => {
                        return Err(TemplateError::invalid(
                            at_event,
                            format!(
                                "event type {other} is not supported by the local stack \
                                 (Schedule, ScheduleV2, SQS, HttpApi)"
                            ),
                        ));
                    }
                }
            }
        }

        Ok(FunctionSpec {
            logical_id: id.clone(),
            function_name: props.get("FunctionName").cloned(),
            binary,
            timeout: Duration::from_secs(number("Timeout")?.unwrap_or(DEFAULT_TIMEOUT_S)),
            memory_size_mb: number("MemorySize")?.unwrap_or(DEFAULT_MEMORY_MB),
            reserved_concurrent_executions: number("ReservedConcurrentExecutions")?,
            environment,
            schedule_events,
            sqs_events,
            http_events,
        })
    }

    fn expect_type(&self, logical_id: &str, want: &str, at: &str) -> Result<(), TemplateError> {
        match self.resources.get(logical_id) {
            Some(r) if r.resource_type == want => Ok(()),
            Some(r) => Err(TemplateError::invalid(
                at,
                format!("{logical_id} is a {}, not a {want}", r.resource_type),
            )),
            None => Err(TemplateError::UnknownReference {
                at: at.to_owned(),
                name: logical_id.to_owned(),
            }),
        }
    }

    /// Every `Ref`, `GetAtt` and `${...}` in Resources and Outputs names something declared.
    /// Names that start with a SAM function's logical id are let through: SAM generates
    /// resources such as `<Function>Role` that templates may reference.
    fn check_references(&self, root: &Mapping) -> Result<(), TemplateError> {
        let sam_prefixes: Vec<&str> = self
            .resources
            .values()
            .filter(|r| r.resource_type.starts_with("AWS::Serverless::"))
            .map(|r| r.logical_id.as_str())
            .collect();
        let known = |name: &str, resource_only: bool| {
            self.resources.contains_key(name)
                || (!resource_only
                    && (self.parameters.contains_key(name) || PSEUDO_PARAMETERS.contains(&name)))
                || sam_prefixes.iter().any(|p| name.starts_with(p))
        };
        let mut refs = Vec::new();
        for r in self.resources.values() {
            collect_references(
                &r.properties,
                &format!("resource {}, Properties", r.logical_id),
                &mut refs,
            );
        }
        if let Some(Value::Mapping(outputs)) = root.get("Outputs") {
            for (name, output) in outputs {
                let name = name.as_str().unwrap_or("?");
                collect_references(output, &format!("output {name}"), &mut refs);
            }
        }
        for (at, name, resource_only) in refs {
            if !known(&name, resource_only) {
                return Err(TemplateError::UnknownReference { at, name });
            }
        }
        Ok(())
    }
}

/// Collects `(where, name, must_be_a_resource)` of every reference in a value. Malformed
/// intrinsics are left for [`resolve`] to report when the value is needed.
fn collect_references(value: &Value, at: &str, out: &mut Vec<(String, String, bool)>) {
    match intrinsic(value) {
        Some(Ok(Intrinsic::Ref(name))) => out.push((at.to_owned(), name, false)),
        Some(Ok(Intrinsic::GetAtt(name, _))) => out.push((at.to_owned(), name, true)),
        Some(Ok(Intrinsic::Sub(text, vars))) => {
            if let Ok(parts) = parse_sub(&text) {
                for part in parts {
                    if let SubPart::Var(var) = part {
                        if vars.contains_key(&var) {
                            continue;
                        }
                        match var.split_once('.') {
                            Some((name, _)) if !var.starts_with("AWS::") => {
                                out.push((at.to_owned(), name.to_owned(), true));
                            }
                            _ => out.push((at.to_owned(), var, false)),
                        }
                    }
                }
            }
            for (k, v) in &vars {
                collect_references(v, &format!("{at}.{k}"), out);
            }
        }
        Some(Ok(Intrinsic::Other(_))) | Some(Err(_)) => {}
        None => match value {
            Value::Mapping(m) => {
                for (k, v) in m {
                    let k = k.as_str().unwrap_or("?");
                    collect_references(v, &format!("{at}.{k}"), out);
                }
            }
            Value::Sequence(items) => {
                for (i, v) in items.iter().enumerate() {
                    collect_references(v, &format!("{at}[{i}]"), out);
                }
            }
            Value::Tagged(t) => collect_references(&t.value, at, out),
            _ => {}
        },
    }
}

/// What the local stack knows about one created resource: the value of `!Ref` and the
/// attributes `!GetAtt` can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalResource {
    /// `!Ref` (table name, queue URL, bucket name, function name).
    pub reference: String,
    /// `!GetAtt` attributes (`Arn`, `QueueName`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// Evaluates intrinsics: parameters (override, else default), pseudo parameters and the
/// physical names of the resources created so far.
#[derive(Debug, Clone)]
pub struct Resolver {
    parameters: BTreeMap<String, String>,
    declared_parameters: BTreeSet<String>,
    resource_types: BTreeMap<String, String>,
    physical: BTreeMap<String, PhysicalResource>,
    region: String,
    account_id: String,
    partition: String,
    stack_name: Option<String>,
}

impl Resolver {
    /// Sets `AWS::StackName` (and `AWS::StackId`).
    pub fn with_stack_name(mut self, stack_name: impl Into<String>) -> Self {
        self.stack_name = Some(stack_name.into());
        self
    }

    /// Records a created resource.
    pub fn insert(&mut self, logical_id: impl Into<String>, physical: PhysicalResource) {
        self.physical.insert(logical_id.into(), physical);
    }

    /// A created resource, if recorded.
    pub fn physical(&self, logical_id: &str) -> Option<&PhysicalResource> {
        self.physical.get(logical_id)
    }

    /// `AWS::Region`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// `AWS::AccountId`.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// `AWS::Partition`.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Evaluates the intrinsics in `value` (recursively). See [`resolve`].
    pub fn resolve(&self, value: &Value) -> Result<Value, ResolveError> {
        resolve(value, self)
    }

    fn reference(&self, name: &str) -> Result<String, ResolveError> {
        if let Some(pseudo) = name.strip_prefix("AWS::") {
            return match pseudo {
                "Region" => Ok(self.region.clone()),
                "AccountId" => Ok(self.account_id.clone()),
                "Partition" => Ok(self.partition.clone()),
                "URLSuffix" => Ok("amazonaws.com".to_owned()),
                "StackName" => self.stack_name.clone().ok_or_else(|| {
                    ResolveError::PseudoParameterUnavailable {
                        name: name.to_owned(),
                    }
                }),
                "StackId" => match &self.stack_name {
                    Some(stack) => Ok(format!(
                        "arn:{}:cloudformation:{}:{}:stack/{stack}/local",
                        self.partition, self.region, self.account_id
                    )),
                    None => Err(ResolveError::PseudoParameterUnavailable {
                        name: name.to_owned(),
                    }),
                },
                _ => Err(ResolveError::PseudoParameterUnavailable {
                    name: name.to_owned(),
                }),
            };
        }
        if self.declared_parameters.contains(name) {
            return self.parameters.get(name).cloned().ok_or_else(|| {
                ResolveError::MissingParameterValue {
                    name: name.to_owned(),
                }
            });
        }
        if let Some(physical) = self.physical.get(name) {
            return Ok(physical.reference.clone());
        }
        Err(self.not_provisioned(name))
    }

    fn attribute(&self, name: &str, attribute: &str) -> Result<String, ResolveError> {
        let physical = self
            .physical
            .get(name)
            .ok_or_else(|| self.not_provisioned(name))?;
        physical
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| ResolveError::UnknownAttribute {
                logical_id: name.to_owned(),
                attribute: attribute.to_owned(),
            })
    }

    fn not_provisioned(&self, name: &str) -> ResolveError {
        match self.resource_types.get(name) {
            Some(resource_type) => ResolveError::NotProvisioned {
                logical_id: name.to_owned(),
                resource_type: resource_type.clone(),
            },
            None => ResolveError::UnknownReference {
                name: name.to_owned(),
            },
        }
    }
}

/// Evaluates `Ref`, `Fn::GetAtt` and `Fn::Sub` (short and long forms) anywhere in `value`:
/// `Ref` of a table, queue or bucket gives its name, URL or name; of a parameter, its value;
/// `GetAtt` reads the recorded attributes (`Arn`, `QueueName`, ...). Any other intrinsic is
/// [`ResolveError::Unsupported`].
pub fn resolve(value: &Value, resolver: &Resolver) -> Result<Value, ResolveError> {
    match intrinsic(value) {
        Some(Ok(Intrinsic::Ref(name))) => Ok(Value::String(resolver.reference(&name)?)),
        Some(Ok(Intrinsic::GetAtt(name, attribute))) => {
            Ok(Value::String(resolver.attribute(&name, &attribute)?))
        }
        Some(Ok(Intrinsic::Sub(text, vars))) => {
            let mut local = BTreeMap::new();
            for (k, v) in &vars {
                local.insert(k.clone(), text_of(&resolve(v, resolver)?)?);
            }
            let mut out = String::with_capacity(text.len());
            for part in parse_sub(&text)? {
                match part {
                    SubPart::Text(t) => out.push_str(&t),
                    SubPart::Var(var) => {
                        if let Some(v) = local.get(&var) {
                            out.push_str(v);
                        } else if var.starts_with("AWS::") {
                            out.push_str(&resolver.reference(&var)?);
                        } else if let Some((name, attribute)) = var.split_once('.') {
                            out.push_str(&resolver.attribute(name, attribute)?);
                        } else {
                            out.push_str(&resolver.reference(&var)?);
                        }
                    }
                }
            }
            Ok(Value::String(out))
        }
        Some(Ok(Intrinsic::Other(intrinsic))) => Err(ResolveError::Unsupported { intrinsic }),
        Some(Err(e)) => Err(e),
        None => match value {
            Value::Mapping(m) => {
                let mut out = Mapping::with_capacity(m.len());
                for (k, v) in m {
                    out.insert(k.clone(), resolve(v, resolver)?);
                }
                Ok(Value::Mapping(out))
            }
            Value::Sequence(items) => Ok(Value::Sequence(
                items
                    .iter()
                    .map(|v| resolve(v, resolver))
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(other.clone()),
        },
    }
}

/// Resolves `value` to text: strings as they are, numbers and booleans as YAML prints them
/// (an environment variable `Timeout: 30` is the text `30`).
pub fn resolve_string(value: &Value, resolver: &Resolver) -> Result<String, ResolveError> {
    text_of(&resolve(value, resolver)?)
}

fn text_of(value: &Value) -> Result<String, ResolveError> {
    scalar_text(value).ok_or_else(|| ResolveError::WrongType {
        expected: "a string",
        found: kind_of(value).to_owned(),
    })
}

fn resolve_text(value: &Value, resolver: &Resolver, at: &str) -> Result<String, TemplateError> {
    resolve_string(value, resolver).map_err(|source| TemplateError::Resolve {
        at: at.to_owned(),
        source,
    })
}

fn resolve_u64(value: &Value, resolver: &Resolver, at: &str) -> Result<u64, TemplateError> {
    let text = resolve_text(value, resolver, at)?;
    text.trim()
        .parse::<u64>()
        .map_err(|_| TemplateError::Resolve {
            at: at.to_owned(),
            source: ResolveError::WrongType {
                expected: "a whole number",
                found: "other text".to_owned(),
            },
        })
}

fn resolve_bool(value: &Value, resolver: &Resolver, at: &str) -> Result<bool, TemplateError> {
    match resolve_text(value, resolver, at)?
        .to_ascii_lowercase()
        .as_str()
    {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(TemplateError::Resolve {
            at: at.to_owned(),
            source: ResolveError::WrongType {
                expected: "true or false",
                found: "other text".to_owned(),
            },
        }),
    }
}

enum Intrinsic {
    Ref(String),
    GetAtt(String, String),
    Sub(String, BTreeMap<String, Value>),
    /// Any other intrinsic, by its spelling in the template.
    Other(String),
}

/// Recognises an intrinsic: a tagged value (`!Ref x`) or a one-key mapping whose key is
/// `Ref` or `Fn::...`. `None`: a plain value.
fn intrinsic(value: &Value) -> Option<Result<Intrinsic, ResolveError>> {
    let (name, arg, short) = match value {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let long = if name == "Ref" || name == "Condition" {
                name
            } else {
                format!("Fn::{name}")
            };
            (long, &t.value, true)
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            if k != "Ref" && !k.starts_with("Fn::") {
                return None;
            }
            (k.to_owned(), v, false)
        }
        _ => return None,
    };
    Some(match name.as_str() {
        "Ref" => match arg.as_str() {
            Some(target) => Ok(Intrinsic::Ref(target.to_owned())),
            None => Err(malformed("Ref", "the argument is not a name")),
        },
        "Fn::GetAtt" => get_att(arg),
        "Fn::Sub" => sub(arg),
        _ => Ok(Intrinsic::Other(if short {
            format!("!{}", name.trim_start_matches("Fn::"))
        } else {
            name
        })),
    })
}

fn get_att(arg: &Value) -> Result<Intrinsic, ResolveError> {
    match arg {
        Value::String(s) => match s.split_once('.') {
            Some((name, attribute)) if !name.is_empty() && !attribute.is_empty() => {
                Ok(Intrinsic::GetAtt(name.to_owned(), attribute.to_owned()))
            }
            _ => Err(malformed("Fn::GetAtt", "expected Resource.Attribute")),
        },
        Value::Sequence(items) => match items.as_slice() {
            [Value::String(name), Value::String(attribute)] => {
                Ok(Intrinsic::GetAtt(name.clone(), attribute.clone()))
            }
            _ => Err(malformed(
                "Fn::GetAtt",
                "expected [Resource, Attribute] as two names",
            )),
        },
        _ => Err(malformed("Fn::GetAtt", "expected Resource.Attribute")),
    }
}

fn sub(arg: &Value) -> Result<Intrinsic, ResolveError> {
    match arg {
        Value::String(s) => Ok(Intrinsic::Sub(s.clone(), BTreeMap::new())),
        Value::Sequence(items) => match items.as_slice() {
            [Value::String(s), Value::Mapping(vars)] => {
                let mut out = BTreeMap::new();
                for (k, v) in vars {
                    let k = k
                        .as_str()
                        .ok_or_else(|| malformed("Fn::Sub", "a variable name is not a string"))?;
                    out.insert(k.to_owned(), v.clone());
                }
                Ok(Intrinsic::Sub(s.clone(), out))
            }
            _ => Err(malformed(
                "Fn::Sub",
                "expected a string or [string, {variables}]",
            )),
        },
        _ => Err(malformed(
            "Fn::Sub",
            "expected a string or [string, {variables}]",
        )),
    }
}

fn malformed(intrinsic: &'static str, reason: &str) -> ResolveError {
    ResolveError::Malformed {
        intrinsic,
        reason: reason.to_owned(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SubPart {
    Text(String),
    Var(String),
}

/// Splits a `Fn::Sub` string into text and `${Var}` parts; `${!Literal}` is the text
/// `${Literal}`, as CloudFormation defines it.
fn parse_sub(text: &str) -> Result<Vec<SubPart>, ResolveError> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut literal = String::new();
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| malformed("Fn::Sub", "a ${ is not closed"))?;
        let var = &after[..end];
        if let Some(escaped) = var.strip_prefix('!') {
            literal.push_str("${");
            literal.push_str(escaped);
            literal.push('}');
        } else {
            let var = var.trim();
            if var.is_empty() {
                return Err(malformed("Fn::Sub", "an empty ${}"));
            }
            if !literal.is_empty() {
                parts.push(SubPart::Text(std::mem::take(&mut literal)));
            }
            parts.push(SubPart::Var(var.to_owned()));
        }
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SubPart::Text(literal));
    }
    Ok(parts)
}

/// The logical id behind `!GetAtt X.Arn` (an event source's queue, a redrive target).
fn arn_target(value: &Value, at: &str) -> Result<String, TemplateError> {
    match intrinsic(value) {
        Some(Ok(Intrinsic::GetAtt(name, attribute))) if attribute == "Arn" => Ok(name),
        Some(Err(source)) => Err(TemplateError::Resolve {
            at: at.to_owned(),
            source,
        }),
        _ => Err(TemplateError::invalid(
            at,
            "must be !GetAtt <Queue>.Arn of a queue in this template",
        )),
    }
}

fn read_key_schema(
    value: Option<&Value>,
    at: &str,
    resolver: &Resolver,
) -> Result<Vec<KeyElement>, TemplateError> {
    let mut out = Vec::new();
    for (i, element) in list(value, at)?.iter().enumerate() {
        let at = format!("{at}[{i}]");
        out.push(KeyElement {
            attribute_name: resolve_text(required(element, "AttributeName", &at)?, resolver, &at)?,
            key_type: resolve_text(required(element, "KeyType", &at)?, resolver, &at)?,
        });
    }
    if out.is_empty() {
        return Err(TemplateError::invalid(at, "is empty"));
    }
    Ok(out)
}

fn list<'a>(value: Option<&'a Value>, at: &str) -> Result<&'a [Value], TemplateError> {
    match value {
        Some(Value::Sequence(items)) => Ok(items),
        Some(_) => Err(TemplateError::invalid(at, "is not a list")),
        None => Err(TemplateError::invalid(at, "is missing")),
    }
}

fn required<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a Value, TemplateError> {
    value
        .get(key)
        .ok_or_else(|| TemplateError::invalid(at, format!("{key} is missing")))
}

fn as_mapping<'a>(value: &'a Value, at: &str) -> Result<&'a Mapping, TemplateError> {
    value
        .as_mapping()
        .ok_or_else(|| TemplateError::invalid(at, "is not a mapping"))
}

fn key_string(key: &Value, at: &str) -> Result<String, TemplateError> {
    key.as_str()
        .map(str::to_owned)
        .ok_or_else(|| TemplateError::invalid(at, "holds a key that is not a string"))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_TEMPLATE: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"));

    /// A small stack: one parameter, a table with a GSI, a queue with a DLQ, a bucket and a
    /// function with both event kinds.
    const SMALL: &str = r#"
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  MaxReceives:
    Type: Number
    Default: 4
  Rate:
    Type: String
    Default: rate(2 hours)
Globals:
  Function:
    Timeout: 30
    MemorySize: 512
    Environment:
      Variables:
        SERVICE_NAME: spsync
        LOG_LEVEL: info
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub orders-${Stage}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: ByStatus
          KeySchema:
            - {AttributeName: gsi1pk, KeyType: HASH}
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [status]}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      DelaySeconds: "5"
      RedrivePolicy:
        deadLetterTargetArn:
          Fn::GetAtt: [Dead, Arn]
        maxReceiveCount: !Ref MaxReceives
  Dead:
    Type: AWS::SQS::Queue
  Docs:
    Type: AWS::S3::Bucket
  Worker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: worker
    Properties:
      Timeout: 90
      Environment:
        Variables:
          LOG_LEVEL: debug
          TABLE: !Ref Orders
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: !Ref Rate
            Input: '{"kind":"tick"}'
        Off:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Enabled: false
        Steps:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
        Dead:
          Type: SQS
          Properties:
            Queue: {"Fn::GetAtt": "Dead.Arn"}
"#;

    fn small() -> Template {
        Template::parse(SMALL).expect("small template parses")
    }

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).expect("yaml")
    }

    fn stack_resolver(t: &Template) -> Resolver {
        let mut r = t.resolver().with_stack_name("local");
        r.insert(
            "Orders",
            PhysicalResource {
                reference: "orders-dev".into(),
                attributes: BTreeMap::from([(
                    "Arn".into(),
                    "arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev".into(),
                )]),
            },
        );
        r.insert(
            "Work",
            PhysicalResource {
                reference: "http://127.0.0.1:1/123456789012/local-Work-ABC".into(),
                attributes: BTreeMap::from([
                    (
                        "Arn".into(),
                        "arn:aws:sqs:us-east-1:123456789012:local-Work-ABC".into(),
                    ),
                    ("QueueName".into(), "local-Work-ABC".into()),
                ]),
            },
        );
        r
    }

    #[test]
    fn real_template_declares_the_order_import_stack() {
        let t = Template::parse(REAL_TEMPLATE).expect("template.yaml parses");

        let tables = t.tables().expect("tables");
        let queues = t.queues().expect("queues");

        let table = |id: &str| {
            tables
                .iter()
                .find(|t| t.logical_id == id)
                .unwrap_or_else(|| panic!("{id}"))
        };
        let keys = |schema: &[KeyElement]| -> Vec<(String, String)> {
            schema
                .iter()
                .map(|k| (k.attribute_name.clone(), k.key_type.clone()))
                .collect()
        };
        let pk_sk = vec![
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned()),
        ];
        assert_eq!(keys(&table("JobsTable").key_schema), pk_sk);
        assert_eq!(table("JobsTable").ttl_attribute.as_deref(), Some("ttl"));
        assert_eq!(keys(&table("OrdersTable").key_schema), pk_sk);
        let by_status = &table("OrdersTable").global_secondary_indexes;
        assert_eq!(by_status.len(), 1);
        assert_eq!(by_status[0].index_name, "ByStatus");
        assert_eq!(
            keys(&by_status[0].key_schema),
            [
                ("gsi1pk".to_owned(), "HASH".to_owned()),
                ("gsi1sk".to_owned(), "RANGE".to_owned())
            ]
        );
        assert_eq!(keys(&table("ShipmentsTable").key_schema), pk_sk);
        let by_state = &table("ShipmentsTable").global_secondary_indexes;
        assert_eq!(by_state.len(), 1);
        assert_eq!(by_state[0].index_name, "ByState");
        assert!(tables.iter().all(|t| t.billing_mode == "PAY_PER_REQUEST"));

        let ids: BTreeSet<_> = queues.iter().map(|q| q.logical_id.as_str()).collect();
        assert_eq!(
            ids,
            BTreeSet::from([
                "PollReportQueue",
                "ImportReportQueue",
                "EnrichOrdersQueue",
                "FeedStepsQueue",
                "StepDeadLetterQueue"
            ])
        );
        for q in &queues {
            match q.logical_id.as_str() {
                "StepDeadLetterQueue" => assert!(
                    q.redrive.is_none(),
                    "the dead-letter queue redrives nowhere"
                ),
                id => {
                    let redrive = q
                        .redrive
                        .as_ref()
                        .unwrap_or_else(|| panic!("{id} has no DLQ"));
                    assert_eq!(redrive.dead_letter_queue, "StepDeadLetterQueue", "{id}");
                    assert!(redrive.max_receive_count >= 1, "{id}");
                }
            }
        }
        assert!(
            t.buckets()
                .iter()
                .any(|b| b.logical_id == "DocumentsBucket")
        );
    }

    #[test]
    fn real_template_functions_are_wired_to_their_queues() {
        let t = Template::parse(REAL_TEMPLATE).expect("template.yaml parses");

        let functions = t.functions().expect("functions");

        let queues = t.queues().expect("queues");
        let binaries: BTreeSet<_> = functions.iter().map(|f| f.binary.as_str()).collect();
        assert_eq!(
            binaries,
            BTreeSet::from([
                "start-report",
                "poll-report",
                "import-report",
                "enrich-orders",
                "shipments-api",
                "send-tracking"
            ])
        );
        let by_binary = |b: &str| {
            functions
                .iter()
                .find(|f| f.binary == b)
                .unwrap_or_else(|| panic!("{b}"))
        };
        let sources = |b: &str| -> Vec<String> {
            by_binary(b)
                .sqs_events
                .iter()
                .map(|e| e.queue.clone())
                .collect()
        };
        assert_eq!(sources("start-report"), Vec::<String>::new());
        assert_eq!(sources("poll-report"), ["PollReportQueue"]);
        assert_eq!(sources("import-report"), ["ImportReportQueue"]);
        assert_eq!(sources("enrich-orders"), ["EnrichOrdersQueue"]);
        assert_eq!(sources("send-tracking"), ["FeedStepsQueue"]);
        assert_eq!(sources("shipments-api"), Vec::<String>::new());
        let routes: Vec<(Option<&str>, Option<&str>)> = by_binary("shipments-api")
            .http_events
            .iter()
            .map(|e| (e.method.as_deref(), e.path.as_deref()))
            .collect();
        assert!(
            routes.contains(&(Some("POST"), Some("/sellers/{sellerId}/shipments"))),
            "{routes:?}"
        );
        assert!(
            routes.contains(&(None, None)),
            "the catch-all route: {routes:?}"
        );
        assert_eq!(by_binary("send-tracking").schedule_events.len(), 1);
        assert_eq!(by_binary("start-report").schedule_events.len(), 1);
        assert!(
            by_binary("start-report").schedule_events[0]
                .expression
                .starts_with("rate(")
        );
        assert!(
            by_binary("poll-report")
                .environment
                .contains_key("JOBS_TABLE_NAME")
        );
        for f in &functions {
            assert_eq!(
                f.environment.get("SERVICE_NAME"),
                Some(&Value::String("spsync".into())),
                "{} gets the Globals environment",
                f.logical_id
            );
            for e in &f.sqs_events {
                let q = queues
                    .iter()
                    .find(|q| q.logical_id == e.queue)
                    .expect("event queue is a template queue");
                assert!(
                    e.report_batch_item_failures,
                    "{}: partial batch failures",
                    f.logical_id
                );
                let visibility = q.visibility_timeout.unwrap_or(30);
                assert!(
                    visibility >= 6 * f.timeout.as_secs(),
                    "{}: visibility {visibility} s below 6 x the timeout of {}",
                    e.queue,
                    f.logical_id
                );
            }
        }
    }

    #[test]
    fn tables_are_read_with_keys_indexes_and_ttl() {
        let t = small();

        let tables = t.tables().expect("tables");

        assert_eq!(tables.len(), 1);
        let orders = &tables[0];
        assert_eq!(orders.logical_id, "Orders");
        assert_eq!(
            orders.key_schema[1],
            KeyElement {
                attribute_name: "sk".into(),
                key_type: "RANGE".into()
            }
        );
        assert_eq!(orders.attribute_definitions.len(), 3);
        assert_eq!(
            orders.global_secondary_indexes,
            [GsiSpec {
                index_name: "ByStatus".into(),
                key_schema: vec![KeyElement {
                    attribute_name: "gsi1pk".into(),
                    key_type: "HASH".into()
                }],
                projection_type: "INCLUDE".into(),
                non_key_attributes: vec!["status".into()],
            }]
        );
        assert_eq!(orders.ttl_attribute.as_deref(), Some("ttl"));
        assert_eq!(orders.billing_mode, "PAY_PER_REQUEST");
        let name = orders.table_name.as_ref().expect("explicit name");
        assert_eq!(
            resolve_string(name, &t.resolver()).expect("name"),
            "orders-dev"
        );
    }

    #[test]
    fn queues_resolve_parameters_and_the_dead_letter_target() {
        let t = small()
            .with_parameters(&BTreeMap::from([("MaxReceives".into(), "7".into())]))
            .expect("override");

        let queues = t.queues().expect("queues");

        let work = queues
            .iter()
            .find(|q| q.logical_id == "Work")
            .expect("Work");
        assert_eq!(work.visibility_timeout, Some(180));
        assert_eq!(work.delay_seconds, Some(5));
        assert_eq!(work.message_retention_period, None);
        assert_eq!(
            work.redrive,
            Some(RedriveSpec {
                dead_letter_queue: "Dead".into(),
                max_receive_count: 7
            })
        );
        assert!(work.queue_name.is_none());
        assert_eq!(
            t.buckets(),
            [BucketSpec {
                logical_id: "Docs".into(),
                bucket_name: None
            }]
        );
    }

    #[test]
    fn functions_merge_globals_and_read_events() {
        let t = small();

        let functions = t.functions().expect("functions");

        assert_eq!(functions.len(), 1);
        let f = &functions[0];
        assert_eq!(f.binary, "worker");
        assert_eq!(
            f.timeout,
            Duration::from_secs(90),
            "the function's own Timeout wins"
        );
        assert_eq!(
            f.memory_size_mb, 512,
            "Globals fill what the function leaves out"
        );
        assert_eq!(
            f.environment.get("LOG_LEVEL"),
            Some(&Value::String("debug".into()))
        );
        assert_eq!(
            f.environment.get("SERVICE_NAME"),
            Some(&Value::String("spsync".into()))
        );
        assert_eq!(
            f.environment.get("TABLE"),
            Some(&yaml("!Ref Orders")),
            "env stays unresolved"
        );
        assert_eq!(
            f.schedule_events,
            [
                ScheduleEventSpec {
                    name: "Tick".into(),
                    expression: "rate(2 hours)".into(),
                    input: Some(r#"{"kind":"tick"}"#.into()),
                    enabled: true
                },
                ScheduleEventSpec {
                    name: "Off".into(),
                    expression: "rate(1 day)".into(),
                    input: None,
                    enabled: false
                },
            ]
        );
        assert_eq!(
            f.sqs_events,
            [
                SqsEventSpec {
                    name: "Steps".into(),
                    queue: "Work".into(),
                    batch_size: 5,
                    report_batch_item_failures: true,
                    maximum_batching_window: Some(Duration::from_secs(2)),
                    maximum_concurrency: None,
                    enabled: true
                },
                SqsEventSpec {
                    name: "Dead".into(),
                    queue: "Dead".into(),
                    batch_size: 10,
                    report_batch_item_failures: false,
                    maximum_batching_window: None,
                    maximum_concurrency: None,
                    enabled: true
                },
            ]
        );
    }

    #[test]
    fn schedule_expression_follows_parameter_overrides() {
        let t = small()
            .with_parameters(&BTreeMap::from([("Rate".into(), "rate(5 minutes)".into())]))
            .expect("override");

        let f = &t.functions().expect("functions")[0];

        assert_eq!(f.schedule_events[0].expression, "rate(5 minutes)");
    }

    #[test]
    fn overrides_must_name_a_parameter_and_respect_its_declaration() {
        let unknown = small().with_parameters(&BTreeMap::from([("Nope".into(), "x".into())]));
        let not_allowed = small().with_parameters(&BTreeMap::from([("Stage".into(), "qa".into())]));
        let not_number =
            small().with_parameters(&BTreeMap::from([("MaxReceives".into(), "many".into())]));

        assert!(matches!(unknown, Err(TemplateError::UnknownParameter { name }) if name == "Nope"));
        assert!(
            matches!(not_allowed, Err(TemplateError::InvalidParameter { name, .. }) if name == "Stage")
        );
        assert!(
            matches!(not_number, Err(TemplateError::InvalidParameter { name, .. }) if name == "MaxReceives")
        );
    }

    #[test]
    fn ref_resolves_parameters_pseudo_parameters_and_resources() {
        let t = small();
        let r = stack_resolver(&t);

        let cases = [
            ("!Ref Stage", "dev"),
            ("Ref: Stage", "dev"),
            ("!Ref AWS::Region", "us-east-1"),
            ("!Ref AWS::AccountId", "123456789012"),
            ("!Ref AWS::Partition", "aws"),
            ("!Ref AWS::StackName", "local"),
            ("!Ref Orders", "orders-dev"),
            (
                "!Ref Work",
                "http://127.0.0.1:1/123456789012/local-Work-ABC",
            ),
        ];

        for (text, want) in cases {
            assert_eq!(resolve_string(&yaml(text), &r).expect(text), want, "{text}");
        }
    }

    #[test]
    fn getatt_resolves_in_short_and_long_forms() {
        let t = small();
        let r = stack_resolver(&t);

        let cases = [
            (
                "!GetAtt Work.Arn",
                "arn:aws:sqs:us-east-1:123456789012:local-Work-ABC",
            ),
            ("!GetAtt Work.QueueName", "local-Work-ABC"),
            (
                "!GetAtt [Orders, Arn]",
                "arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev",
            ),
            ("Fn::GetAtt: [Work, QueueName]", "local-Work-ABC"),
            (
                "Fn::GetAtt: Work.Arn",
                "arn:aws:sqs:us-east-1:123456789012:local-Work-ABC",
            ),
        ];

        for (text, want) in cases {
            assert_eq!(resolve_string(&yaml(text), &r).expect(text), want, "{text}");
        }
    }

    #[test]
    fn sub_resolves_names_pseudo_parameters_attributes_and_variables() {
        let t = small();
        let r = stack_resolver(&t);

        let cases = [
            ("!Sub spsync-${Stage}-jobs", "spsync-dev-jobs"),
            (
                "!Sub '${AWS::StackName}-${AWS::Region}-${AWS::AccountId}'",
                "local-us-east-1-123456789012",
            ),
            (
                "!Sub 'q=${Work.QueueName} t=${Orders}'",
                "q=local-Work-ABC t=orders-dev",
            ),
            (
                "Fn::Sub: 'arn=${Work.Arn}'",
                "arn=arn:aws:sqs:us-east-1:123456789012:local-Work-ABC",
            ),
            (
                "!Sub ['${Prefix}-${Stage}', {Prefix: !Ref AWS::Region}]",
                "us-east-1-dev",
            ),
            ("!Sub 'keep ${!Literal} as is'", "keep ${Literal} as is"),
            ("!Sub no-variables", "no-variables"),
        ];

        for (text, want) in cases {
            assert_eq!(resolve_string(&yaml(text), &r).expect(text), want, "{text}");
        }
    }

    #[test]
    fn resolve_walks_nested_values_and_keeps_plain_ones() {
        let t = small();
        let r = stack_resolver(&t);
        let value = yaml("{a: [!Ref Stage, 3, true], b: {c: !GetAtt Work.QueueName}, d: plain}");

        let resolved = resolve(&value, &r).expect("resolves");

        assert_eq!(
            resolved,
            yaml("{a: [dev, 3, true], b: {c: local-Work-ABC}, d: plain}")
        );
        assert_eq!(resolve_string(&yaml("42"), &r).expect("number"), "42");
    }

    #[test]
    fn unsupported_intrinsics_are_named() {
        let r = small().resolver();

        let short = resolve(&yaml("!Join ['-', [a, b]]"), &r);
        let long = resolve(&yaml("{'Fn::If': [c, a, b]}"), &r);
        let nested = resolve(&yaml("{x: [!Select [0, [a]]]}"), &r);

        assert_eq!(
            short,
            Err(ResolveError::Unsupported {
                intrinsic: "!Join".into()
            })
        );
        assert_eq!(
            long,
            Err(ResolveError::Unsupported {
                intrinsic: "Fn::If".into()
            })
        );
        assert_eq!(
            nested,
            Err(ResolveError::Unsupported {
                intrinsic: "!Select".into()
            })
        );
    }

    #[test]
    fn unsupported_intrinsic_in_function_settings_names_resource_and_property() {
        let t = Template::parse(&SMALL.replace("Timeout: 90", "Timeout: !If [Long, 90, 30]"))
            .expect("parses");

        let err = t.functions().expect_err("an unsupported intrinsic fails");

        let text = err.to_string();
        assert!(
            text.contains("Worker") && text.contains("Timeout") && text.contains("!If"),
            "{text}"
        );
    }

    #[test]
    fn resources_without_physical_names_and_missing_values_are_errors() {
        let t = small();
        let r = t.resolver();

        assert_eq!(
            resolve(&yaml("!Ref Orders"), &r),
            Err(ResolveError::NotProvisioned {
                logical_id: "Orders".into(),
                resource_type: TYPE_TABLE.into()
            })
        );
        assert_eq!(
            resolve(&yaml("!Ref AWS::StackName"), &r),
            Err(ResolveError::PseudoParameterUnavailable {
                name: "AWS::StackName".into()
            })
        );
        assert_eq!(
            resolve(&yaml("!GetAtt Work.Nope"), &stack_resolver(&t)),
            Err(ResolveError::UnknownAttribute {
                logical_id: "Work".into(),
                attribute: "Nope".into()
            })
        );
        let no_default = Template::parse(&SMALL.replace("    Default: dev\n", "")).expect("parses");
        assert_eq!(
            resolve(&yaml("!Ref Stage"), &no_default.resolver()),
            Err(ResolveError::MissingParameterValue {
                name: "Stage".into()
            })
        );
    }

    #[test]
    fn malformed_intrinsics_are_errors() {
        let r = small().resolver();

        assert!(matches!(
            resolve(&yaml("!GetAtt Work"), &r),
            Err(ResolveError::Malformed {
                intrinsic: "Fn::GetAtt",
                ..
            })
        ));
        assert!(matches!(
            resolve(&yaml("!Sub 'a ${Stage'"), &r),
            Err(ResolveError::Malformed {
                intrinsic: "Fn::Sub",
                ..
            })
        ));
        assert!(matches!(
            resolve(&yaml("!Ref [a]"), &r),
            Err(ResolveError::Malformed {
                intrinsic: "Ref",
                ..
            })
        ));
    }

    #[test]
    fn sqs_event_on_a_missing_queue_is_an_error() {
        let text = SMALL.replace("Queue: !GetAtt Work.Arn", "Queue: !GetAtt Wrok.Arn");

        let err = Template::parse(&text).expect_err("a reference to no resource fails");

        match err {
            TemplateError::UnknownReference { at, name } => {
                assert_eq!(name, "Wrok");
                assert!(at.contains("Worker") && at.contains("Steps"), "{at}");
            }
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn sqs_event_on_something_else_than_a_queue_is_an_error() {
        let t =
            Template::parse(&SMALL.replace("Queue: !GetAtt Work.Arn", "Queue: !GetAtt Orders.Arn"))
                .expect("parses");

        let err = t.functions().expect_err("a table is not a queue");

        let text = err.to_string();
        assert!(
            text.contains("Worker")
                && text.contains("Steps")
                && text.contains("not a AWS::SQS::Queue"),
            "{text}"
        );
    }

    #[test]
    fn sqs_event_queue_must_be_getatt_arn() {
        let t = Template::parse(&SMALL.replace("Queue: !GetAtt Work.Arn", "Queue: !Ref Work"))
            .expect("parses");

        let err = t.functions().expect_err("a queue URL is not an ARN");

        assert!(
            err.to_string().contains("must be !GetAtt <Queue>.Arn"),
            "{err}"
        );
    }

    #[test]
    fn unknown_references_anywhere_fail_at_parse() {
        let in_sub = SMALL.replace("!Sub orders-${Stage}", "!Sub orders-${Stag}");
        let in_redrive = SMALL.replace("Fn::GetAtt: [Dead, Arn]", "Fn::GetAtt: [Deadd, Arn]");

        let sub_err = Template::parse(&in_sub).expect_err("unknown ${Stag}");
        let redrive_err = Template::parse(&in_redrive).expect_err("unknown DLQ");

        assert!(
            matches!(sub_err, TemplateError::UnknownReference { ref name, .. } if name == "Stag"),
            "{sub_err}"
        );
        assert!(
            matches!(redrive_err, TemplateError::UnknownReference { ref name, ref at } if name == "Deadd" && at.contains("RedrivePolicy")),
            "{redrive_err}"
        );
    }

    #[test]
    fn functions_without_a_binary_are_an_error() {
        let t = Template::parse(&SMALL.replace("        Binary: worker\n", "        Other: x\n"))
            .expect("parses");

        let err = t.functions().expect_err("no binary");

        assert!(err.to_string().contains("BuildProperties.Binary"), "{err}");
    }

    #[test]
    fn other_event_types_are_refused() {
        let text = SMALL.replace("          Type: SQS\n          Properties:\n            Queue: {\"Fn::GetAtt\": \"Dead.Arn\"}", "          Type: Api\n          Properties:\n            Path: /x\n            Method: get");
        let t = Template::parse(&text).expect("parses");

        let err = t.functions().expect_err("Api events are not run locally");

        assert!(err.to_string().contains("event type Api"), "{err}");
    }

    #[test]
    fn sub_strings_split_into_text_and_variables() {
        assert_eq!(
            parse_sub("a${B}c${!D}${E.F}").expect("parses"),
            [
                SubPart::Text("a".into()),
                SubPart::Var("B".into()),
                SubPart::Text("c${D}".into()),
                SubPart::Var("E.F".into()),
            ]
        );
    }
}
