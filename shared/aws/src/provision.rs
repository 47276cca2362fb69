//! Creates the stack's tables, queues and buckets from [`Template`] on an AWS-compatible
//! endpoint (moto locally), the way CloudFormation would, and returns the wiring of every
//! function: its environment fully resolved and its event sources pointing at the created
//! queues. The local runner sets each function's environment from it, so local and deployed
//! wiring come from the same `template.yaml`.
//!
//! Physical names follow CloudFormation: the resource's own name property when it has one
//! (`TableName`, `QueueName`, `BucketName`, resolved), else `<stack>-<LogicalId>-<8 random
//! alphanumerics>` (lowercased for buckets). Provisioning is idempotent: a resource that
//! already exists under its name (or, for generated names, under its `<stack>-<LogicalId>-`
//! prefix) is reused; queues get the template's attributes again. Dead-letter queues are
//! created before the queues that redrive to them.
//!
//! Only what the functions observe is reproduced: keys, indexes, TTL, queue attributes and
//! redrive, bucket existence. Capacity (every table is `PAY_PER_REQUEST`), encryption,
//! versioning, public-access blocks, alarms and IAM are deployment concerns and are left out.
//! Functions are not created; their names are `FunctionName` or `<stack>-<LogicalId>` so
//! that `!Ref` of a function still resolves.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableDescription, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use spsync_workflow::{BoxError, Retryability};
use tracing::{info, warn};

use crate::config::AwsClients;
use crate::error::{ErrorClass, classify};
use crate::template::{
    BucketSpec, PhysicalResource, QueueSpec, ResolveError, Resolver, ScheduleEventSpec, TableSpec,
    Template, TemplateError, resolve_string,
};

/// SQS's default visibility timeout when a queue does not set one.
const SQS_DEFAULT_VISIBILITY_TIMEOUT_S: u64 = 30;
/// Length of the random part of a generated name (CloudFormation uses 12-13; 8 is plenty
/// for uniqueness in one account and keeps names short).
const SUFFIX_LEN: usize = 8;
/// Name length limits of the services.
const MAX_TABLE_NAME: usize = 255;
const MAX_QUEUE_NAME: usize = 80;
const MAX_BUCKET_NAME: usize = 63;

/// The SDK clients provisioning needs.
#[derive(Debug, Clone)]
pub struct ProvisionClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3 (path-style addressing for a local endpoint).
    pub s3: aws_sdk_s3::Client,
}

impl From<&AwsClients> for ProvisionClients {
    /// The provisioner's share of the process's clients (build those with
    /// [`AwsClients::for_endpoint`] for moto: path-style S3, static credentials).
    fn from(clients: &AwsClients) -> Self {
        Self {
            dynamodb: clients.dynamodb.clone(),
            sqs: clients.sqs.clone(),
            s3: clients.s3.clone(),
        }
    }
}

/// Why the stack could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The template is unusable.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// An AWS call failed.
    #[error("{operation} for {resource} failed: {detail}")]
    Aws {
        /// AWS operation (`CreateTable`).
        operation: &'static str,
        /// Logical id and physical name.
        resource: String,
        /// Error code and message, as the service gave them.
        detail: String,
        /// Retry class of the failure.
        retryability: Retryability,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// An existing resource does not match the template (it would need a replacement).
    #[error("{resource} exists but {reason}; delete it or reset the local stack")]
    Drift {
        /// Logical id and physical name.
        resource: String,
        /// What differs.
        reason: String,
    },
    /// The service answered without something it always sends.
    #[error("{operation} for {resource}: the answer has no {field}")]
    IncompleteAnswer {
        /// AWS operation.
        operation: &'static str,
        /// Logical id and physical name.
        resource: String,
        /// Missing field.
        field: &'static str,
    },
    /// A request could not be built from the template's values.
    #[error("{resource}: request could not be built: {source}")]
    Build {
        /// Logical id.
        resource: String,
        /// The SDK's reason.
        #[source]
        source: aws_sdk_dynamodb::error::BuildError,
    },
    /// Queues whose redrive policies point at each other.
    #[error("redrive policies form a cycle between queues {queues:?}")]
    RedriveCycle {
        /// Logical ids of the queues left.
        queues: Vec<String>,
    },
}

impl ProvisionError {
    /// Retry class: AWS failures keep the SDK's class; everything else needs a change first.
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Aws { retryability, .. } => *retryability,
            _ => Retryability::Permanent,
        }
    }
}

/// A created (or reused) table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedTable {
    /// Logical id.
    pub logical_id: String,
    /// Table name.
    pub name: String,
    /// Table ARN.
    pub arn: String,
    /// Global secondary index names.
    pub global_secondary_indexes: Vec<String>,
    /// TTL attribute, if the template enables one.
    pub ttl_attribute: Option<String>,
}

/// Where a queue sends messages it gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedRedrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    /// Its ARN.
    pub dead_letter_arn: String,
    /// Deliveries before a message moves there.
    pub max_receive_count: u64,
}

/// A created (or reused) queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedQueue {
    /// Logical id.
    pub logical_id: String,
    /// Queue name.
    pub name: String,
    /// Queue URL (what `!Ref` gives).
    pub url: String,
    /// Queue ARN.
    pub arn: String,
    /// Visibility timeout.
    pub visibility_timeout: Duration,
    /// Default delay of new messages.
    pub delay: Duration,
    /// Redrive policy.
    pub redrive: Option<ProvisionedRedrive>,
}

/// A created (or reused) bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedBucket {
    /// Logical id.
    pub logical_id: String,
    /// Bucket name.
    pub name: String,
    /// Bucket ARN.
    pub arn: String,
}

/// An SQS event source bound to its created queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsWiring {
    /// Event name in the template.
    pub name: String,
    /// Logical id of the queue.
    pub queue: String,
    /// Queue URL.
    pub queue_url: String,
    /// Queue ARN (the event's `eventSourceARN`).
    pub queue_arn: String,
    /// Records per invocation, at most.
    pub batch_size: u64,
    /// The function answers with `batchItemFailures`.
    pub report_batch_item_failures: bool,
    /// How long Lambda may gather a batch.
    pub maximum_batching_window: Option<Duration>,
    /// Concurrent invocations from this source, at most.
    pub maximum_concurrency: Option<u64>,
    /// Whether the mapping is enabled.
    pub enabled: bool,
}

/// How a function is invoked and configured, as CloudFormation would set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionWiring {
    /// Logical id.
    pub logical_id: String,
    /// Function name (`FunctionName`, else `<stack>-<LogicalId>`).
    pub function_name: String,
    /// Cargo binary (= function crate).
    pub binary: String,
    /// Environment, every intrinsic resolved to the created resources.
    pub env: BTreeMap<String, String>,
    /// Timeout.
    pub timeout: Duration,
    /// Memory in MB.
    pub memory_size_mb: u64,
    /// Reserved concurrency.
    pub reserved_concurrent_executions: Option<u64>,
    /// Schedules that invoke it.
    pub schedule_events: Vec<ScheduleEventSpec>,
    /// Queues that invoke it.
    pub sqs_events: Vec<SqsWiring>,
}

/// The provisioned stack.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Stack name.
    pub stack_name: String,
    /// Parameter values used (overrides over defaults).
    pub parameters: BTreeMap<String, String>,
    /// Tables by logical id.
    pub tables: BTreeMap<String, ProvisionedTable>,
    /// Queues by logical id.
    pub queues: BTreeMap<String, ProvisionedQueue>,
    /// Buckets by logical id.
    pub buckets: BTreeMap<String, ProvisionedBucket>,
    /// Functions, in logical-id order.
    pub functions: Vec<FunctionWiring>,
    resolver: Resolver,
}

impl Stack {
    /// A table by logical id.
    pub fn table(&self, logical_id: &str) -> Option<&ProvisionedTable> {
        self.tables.get(logical_id)
    }

    /// A queue by logical id.
    pub fn queue(&self, logical_id: &str) -> Option<&ProvisionedQueue> {
        self.queues.get(logical_id)
    }

    /// A bucket by logical id.
    pub fn bucket(&self, logical_id: &str) -> Option<&ProvisionedBucket> {
        self.buckets.get(logical_id)
    }

    /// A function by its binary name (`poll-report`).
    pub fn function(&self, binary: &str) -> Option<&FunctionWiring> {
        self.functions.iter().find(|f| f.binary == binary)
    }

    /// A resolver that knows every physical name of the stack (for outputs and the like).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }
}

/// Creates (or reuses) every table, queue and bucket of `template` for `stack_name` and
/// resolves each function's environment and event sources against them.
pub async fn provision_stack(
    clients: &ProvisionClients,
    template: &Template,
    stack_name: &str,
    parameter_overrides: &BTreeMap<String, String>,
) -> Result<Stack, ProvisionError> {
    let template = template.clone().with_parameters(parameter_overrides)?;
    let mut resolver = template.resolver().with_stack_name(stack_name);

    let mut tables = BTreeMap::new();
    let specs = template.tables()?;
    if !specs.is_empty() {
        let existing = list_tables(clients).await?;
        for spec in &specs {
            let table = provision_table(clients, &resolver, stack_name, spec, &existing).await?;
            resolver.insert(
                &spec.logical_id,
                PhysicalResource {
                    reference: table.name.clone(),
                    attributes: BTreeMap::from([("Arn".to_owned(), table.arn.clone())]),
                },
            );
            tables.insert(spec.logical_id.clone(), table);
        }
    }

    let mut queues = BTreeMap::new();
    let specs = template.queues()?;
    if !specs.is_empty() {
        for spec in redrive_order(specs)? {
            let queue = provision_queue(clients, &resolver, stack_name, &spec, &queues).await?;
            resolver.insert(
                &spec.logical_id,
                PhysicalResource {
                    reference: queue.url.clone(),
                    attributes: BTreeMap::from([
                        ("Arn".to_owned(), queue.arn.clone()),
                        ("QueueName".to_owned(), queue.name.clone()),
                        ("QueueUrl".to_owned(), queue.url.clone()),
                    ]),
                },
            );
            queues.insert(spec.logical_id.clone(), queue);
        }
    }

    let mut buckets = BTreeMap::new();
    let specs = template.buckets();
    if !specs.is_empty() {
        let existing = list_buckets(clients).await?;
        for spec in &specs {
            let bucket = provision_bucket(clients, &resolver, stack_name, spec, &existing).await?;
            let region = resolver.region().to_owned();
            resolver.insert(
                &spec.logical_id,
                PhysicalResource {
                    reference: bucket.name.clone(),
                    attributes: BTreeMap::from([
                        ("Arn".to_owned(), bucket.arn.clone()),
                        (
                            "DomainName".to_owned(),
                            format!("{}.s3.amazonaws.com", bucket.name),
                        ),
                        (
                            "RegionalDomainName".to_owned(),
                            format!("{}.s3.{region}.amazonaws.com", bucket.name),
                        ),
                    ]),
                },
            );
            buckets.insert(spec.logical_id.clone(), bucket);
        }
    }

    let specs = template.functions()?;
    // Names first: a function's environment may name another function.
    let mut names = Vec::with_capacity(specs.len());
    for spec in &specs {
        let name = match &spec.function_name {
            Some(v) => resolved(v, &resolver, &spec.logical_id, "FunctionName")?,
            None => format!("{stack_name}-{}", spec.logical_id),
        };
        let arn = format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            resolver.partition(),
            resolver.region(),
            resolver.account_id()
        );
        resolver.insert(
            &spec.logical_id,
            PhysicalResource {
                reference: name.clone(),
                attributes: BTreeMap::from([("Arn".to_owned(), arn)]),
            },
        );
        names.push(name);
    }
    let mut functions = Vec::with_capacity(specs.len());
    for (spec, function_name) in specs.into_iter().zip(names) {
        let mut env = BTreeMap::new();
        for (name, value) in &spec.environment {
            let property = format!("Environment.Variables.{name}");
            env.insert(
                name.clone(),
                resolved(value, &resolver, &spec.logical_id, &property)?,
            );
        }
        let mut sqs_events = Vec::with_capacity(spec.sqs_events.len());
        for event in spec.sqs_events {
            // The template reader has checked that the event names a queue of the template.
            let queue = queues
                .get(&event.queue)
                .ok_or_else(|| TemplateError::Resolve {
                    at: format!("resource {}, event {}", spec.logical_id, event.name),
                    source: ResolveError::UnknownReference {
                        name: event.queue.clone(),
                    },
                })?;
            sqs_events.push(SqsWiring {
                queue_url: queue.url.clone(),
                queue_arn: queue.arn.clone(),
                name: event.name,
                queue: event.queue,
                batch_size: event.batch_size,
                report_batch_item_failures: event.report_batch_item_failures,
                maximum_batching_window: event.maximum_batching_window,
                maximum_concurrency: event.maximum_concurrency,
                enabled: event.enabled,
            });
        }
        functions.push(FunctionWiring {
            logical_id: spec.logical_id,
            function_name,
            binary: spec.binary,
            env,
            timeout: spec.timeout,
            memory_size_mb: spec.memory_size_mb,
            reserved_concurrent_executions: spec.reserved_concurrent_executions,
            schedule_events: spec.schedule_events,
            sqs_events,
        });
    }

    info!(
        stack_name,
        tables = tables.len(),
        queues = queues.len(),
        buckets = buckets.len(),
        functions = functions.len(),
        "stack provisioned"
    );
    Ok(Stack {
        stack_name: stack_name.to_owned(),
        parameters: template.parameter_values(),
        tables,
        queues,
        buckets,
        functions,
        resolver,
    })
}

fn resolved(
    value: &serde_yaml_ng::Value,
    resolver: &Resolver,
    logical_id: &str,
    property: &str,
) -> Result<String, TemplateError> {
    resolve_string(value, resolver).map_err(|source| TemplateError::Resolve {
        at: format!("resource {logical_id}, property {property}"),
        source,
    })
}

/// The physical name of a resource: its own name property resolved, else a generated one.
/// `existing` are the names already in the account, searched for a generated name of an
/// earlier run.
fn physical_name(
    explicit: Option<&serde_yaml_ng::Value>,
    resolver: &Resolver,
    logical_id: &str,
    property: &str,
    generated: &GeneratedName,
    existing: &[String],
) -> Result<String, TemplateError> {
    match explicit {
        Some(value) => resolved(value, resolver, logical_id, property),
        None => Ok(existing
            .iter()
            .find(|name| generated.matches(name))
            .cloned()
            .unwrap_or_else(|| generated.fresh())),
    }
}

/// CloudFormation-style generated names: `<stack>-<LogicalId>-<random>`, the prefix cut so
/// that the whole fits the service's limit.
struct GeneratedName {
    prefix: String,
    suffix: &'static str,
    lowercase: bool,
}

impl GeneratedName {
    fn new(
        stack: &str,
        logical_id: &str,
        max_len: usize,
        suffix: &'static str,
        lowercase: bool,
    ) -> Self {
        let mut prefix = format!("{stack}-{logical_id}");
        let room = max_len - SUFFIX_LEN - 1 - suffix.len();
        if prefix.len() > room {
            // Names are ASCII (stack names and logical ids are alphanumeric and hyphens).
            prefix.truncate(room);
        }
        prefix.push('-');
        if lowercase {
            prefix = prefix.to_ascii_lowercase();
        }
        Self {
            prefix,
            suffix,
            lowercase,
        }
    }

    fn matches(&self, name: &str) -> bool {
        name.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_suffix(self.suffix))
            .is_some_and(|random| {
                random.len() == SUFFIX_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
            })
    }

    fn fresh(&self) -> String {
        let random = random_suffix();
        let random = if self.lowercase {
            random.to_ascii_lowercase()
        } else {
            random
        };
        format!("{}{random}{}", self.prefix, self.suffix)
    }
}

/// Eight random upper-case alphanumerics. std's `RandomState` is seeded randomly per process
/// and varied per instance, which is all a name suffix needs (no extra dependency).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let mut n = hasher.finish();
    (0..SUFFIX_LEN)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn aws_error<E>(operation: &'static str, resource: &str, err: SdkError<E>) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryability = match classify(&err) {
        ErrorClass::Throttled => Retryability::Throttled {
            retry_after: Duration::from_secs(1),
        },
        ErrorClass::Transient | ErrorClass::ConditionFailed => Retryability::Transient,
        ErrorClass::NotFound | ErrorClass::Permanent => Retryability::Permanent,
    };
    let detail = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    ProvisionError::Aws {
        operation,
        resource: resource.to_owned(),
        detail,
        retryability,
        source: Box::new(err),
    }
}

// ---- DynamoDB -------------------------------------------------------------------------------

async fn list_tables(clients: &ProvisionClients) -> Result<Vec<String>, ProvisionError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = clients
            .dynamodb
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
            .map_err(|e| aws_error("ListTables", "tables", e))?;
        names.extend(page.table_names().iter().cloned());
        match page.last_evaluated_table_name() {
            Some(last) => start = Some(last.to_owned()),
            None => return Ok(names),
        }
    }
}

async fn provision_table(
    clients: &ProvisionClients,
    resolver: &Resolver,
    stack_name: &str,
    spec: &TableSpec,
    existing: &[String],
) -> Result<ProvisionedTable, ProvisionError> {
    let generated = GeneratedName::new(stack_name, &spec.logical_id, MAX_TABLE_NAME, "", false);
    let name = physical_name(
        spec.table_name.as_ref(),
        resolver,
        &spec.logical_id,
        "TableName",
        &generated,
        existing,
    )?;
    let resource = format!("{} ({name})", spec.logical_id);
    let ddb = &clients.dynamodb;

    let description = match ddb.describe_table().table_name(&name).send().await {
        Ok(out) => {
            let description = out.table.ok_or_else(|| ProvisionError::IncompleteAnswer {
                operation: "DescribeTable",
                resource: resource.clone(),
                field: "Table",
            })?;
            check_table_drift(spec, &description, &resource)?;
            info!(logical_id = %spec.logical_id, table_name = %name, "table reused");
            description
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            let out = create_table(clients, spec, &name, &resource).await?;
            info!(logical_id = %spec.logical_id, table_name = %name, "table created");
            out
        }
        Err(e) => return Err(aws_error("DescribeTable", &resource, e)),
    };

    if let Some(attribute) = &spec.ttl_attribute {
        ensure_ttl(clients, &name, attribute, &resource).await?;
    }

    let arn = description
        .table_arn()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "arn:{}:dynamodb:{}:{}:table/{name}",
                resolver.partition(),
                resolver.region(),
                resolver.account_id()
            )
        });
    Ok(ProvisionedTable {
        logical_id: spec.logical_id.clone(),
        name,
        arn,
        global_secondary_indexes: spec
            .global_secondary_indexes
            .iter()
            .map(|g| g.index_name.clone())
            .collect(),
        ttl_attribute: spec.ttl_attribute.clone(),
    })
}

async fn create_table(
    clients: &ProvisionClients,
    spec: &TableSpec,
    name: &str,
    resource: &str,
) -> Result<TableDescription, ProvisionError> {
    let build = |source| ProvisionError::Build {
        resource: spec.logical_id.clone(),
        source,
    };
    let keys = |schema: &[crate::template::KeyElement]| {
        schema
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(&k.attribute_name)
                    .key_type(KeyType::from(k.key_type.as_str()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        // Capacity is a deployment concern; locally every table is on demand.
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&spec.key_schema).map_err(build)?));
    for def in &spec.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&def.attribute_name)
                .attribute_type(ScalarAttributeType::from(def.attribute_type.as_str()))
                .build()
                .map_err(build)?,
        );
    }
    for gsi in &spec.global_secondary_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(gsi.projection_type.as_str()))
            .set_non_key_attributes(if gsi.non_key_attributes.is_empty() {
                None
            } else {
                Some(gsi.non_key_attributes.clone())
            })
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&gsi.index_name)
                .set_key_schema(Some(keys(&gsi.key_schema).map_err(build)?))
                .projection(projection)
                .build()
                .map_err(build)?,
        );
    }
    let out = request
        .send()
        .await
        .map_err(|e| aws_error("CreateTable", resource, e))?;
    out.table_description
        .ok_or_else(|| ProvisionError::IncompleteAnswer {
            operation: "CreateTable",
            resource: resource.to_owned(),
            field: "TableDescription",
        })
}

/// An existing table must have the template's keys and indexes: both need a replacement in
/// CloudFormation, which a local stack does by being reset.
fn check_table_drift(
    spec: &TableSpec,
    table: &TableDescription,
    resource: &str,
) -> Result<(), ProvisionError> {
    let want: Vec<(&str, &str)> = spec
        .key_schema
        .iter()
        .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
        .collect();
    let have: Vec<(&str, &str)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    if want != have {
        return Err(ProvisionError::Drift {
            resource: resource.to_owned(),
            reason: format!("its key schema is {have:?}, the template's is {want:?}"),
        });
    }
    for gsi in &spec.global_secondary_indexes {
        if !table
            .global_secondary_indexes()
            .iter()
            .any(|g| g.index_name() == Some(gsi.index_name.as_str()))
        {
            return Err(ProvisionError::Drift {
                resource: resource.to_owned(),
                reason: format!("it has no index {}", gsi.index_name),
            });
        }
    }
    Ok(())
}

async fn ensure_ttl(
    clients: &ProvisionClients,
    table: &str,
    attribute: &str,
    resource: &str,
) -> Result<(), ProvisionError> {
    let ddb = &clients.dynamodb;
    match ddb.describe_time_to_live().table_name(table).send().await {
        Ok(out) => {
            if let Some(d) = out.time_to_live_description() {
                let on = matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                );
                if on && d.attribute_name() == Some(attribute) {
                    return Ok(());
                }
            }
        }
        Err(e) if unsupported(&e) => {
            warn!(
                table_name = table,
                "ttl not supported by this endpoint, skipped"
            );
            return Ok(());
        }
        Err(e) => return Err(aws_error("DescribeTimeToLive", resource, e)),
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|source| ProvisionError::Build {
            resource: resource.to_owned(),
            source,
        })?;
    match ddb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if unsupported(&e) => {
            warn!(
                table_name = table,
                "ttl not supported by this endpoint, skipped"
            );
            Ok(())
        }
        Err(e) => Err(aws_error("UpdateTimeToLive", resource, e)),
    }
}

/// An emulator that does not implement an operation answers with one of these.
fn unsupported<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(
        err.code(),
        Some("UnknownOperationException" | "NotImplemented" | "UnsupportedOperation")
    ) || err
        .message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("not supported"))
}

// ---- SQS ------------------------------------------------------------------------------------

/// Queues ordered so that every dead-letter queue comes before the queues that use it.
fn redrive_order(mut specs: Vec<QueueSpec>) -> Result<Vec<QueueSpec>, ProvisionError> {
    let mut ordered: Vec<QueueSpec> = Vec::with_capacity(specs.len());
    while !specs.is_empty() {
        let ready = specs.iter().position(|q| match &q.redrive {
            None => true,
            Some(r) => ordered
                .iter()
                .any(|done| done.logical_id == r.dead_letter_queue),
        });
        match ready {
            Some(i) => ordered.push(specs.remove(i)),
            None => {
                return Err(ProvisionError::RedriveCycle {
                    queues: specs.into_iter().map(|q| q.logical_id).collect(),
                });
            }
        }
    }
    Ok(ordered)
}

async fn provision_queue(
    clients: &ProvisionClients,
    resolver: &Resolver,
    stack_name: &str,
    spec: &QueueSpec,
    created: &BTreeMap<String, ProvisionedQueue>,
) -> Result<ProvisionedQueue, ProvisionError> {
    let sqs = &clients.sqs;
    let suffix = if spec.fifo { ".fifo" } else { "" };
    let generated = GeneratedName::new(stack_name, &spec.logical_id, MAX_QUEUE_NAME, suffix, false);
    let existing = match spec.queue_name {
        Some(_) => Vec::new(),
        None => list_queue_names(clients, &generated.prefix).await?,
    };
    let name = physical_name(
        spec.queue_name.as_ref(),
        resolver,
        &spec.logical_id,
        "QueueName",
        &generated,
        &existing,
    )?;
    let resource = format!("{} ({name})", spec.logical_id);

    let redrive = match &spec.redrive {
        Some(r) => {
            let dlq =
                created
                    .get(&r.dead_letter_queue)
                    .ok_or_else(|| ProvisionError::RedriveCycle {
                        queues: vec![spec.logical_id.clone()],
                    })?;
            Some(ProvisionedRedrive {
                dead_letter_queue: r.dead_letter_queue.clone(),
                dead_letter_arn: dlq.arn.clone(),
                max_receive_count: r.max_receive_count,
            })
        }
        None => None,
    };
    let mut attributes = HashMap::new();
    for (attribute, value) in [
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout,
        ),
        (QueueAttributeName::DelaySeconds, spec.delay_seconds),
        (
            QueueAttributeName::MessageRetentionPeriod,
            spec.message_retention_period,
        ),
        (
            QueueAttributeName::MaximumMessageSize,
            spec.maximum_message_size,
        ),
        (
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            spec.receive_message_wait_time_seconds,
        ),
    ] {
        if let Some(v) = value {
            attributes.insert(attribute, v.to_string());
        }
    }
    if let Some(r) = &redrive {
        attributes.insert(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({
                "deadLetterTargetArn": r.dead_letter_arn,
                "maxReceiveCount": r.max_receive_count,
            })
            .to_string(),
        );
    }

    let url = match sqs.get_queue_url().queue_name(&name).send().await {
        Ok(out) => {
            let url = out
                .queue_url
                .ok_or_else(|| ProvisionError::IncompleteAnswer {
                    operation: "GetQueueUrl",
                    resource: resource.clone(),
                    field: "QueueUrl",
                })?;
            // CloudFormation updates these in place; so does a second provisioning.
            if !attributes.is_empty() {
                sqs.set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .map_err(|e| aws_error("SetQueueAttributes", &resource, e))?;
            }
            info!(logical_id = %spec.logical_id, queue_name = %name, "queue reused");
            url
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            if spec.fifo {
                attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
            }
            let out = sqs
                .create_queue()
                .queue_name(&name)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| aws_error("CreateQueue", &resource, e))?;
            info!(logical_id = %spec.logical_id, queue_name = %name, "queue created");
            out.queue_url
                .ok_or_else(|| ProvisionError::IncompleteAnswer {
                    operation: "CreateQueue",
                    resource: resource.clone(),
                    field: "QueueUrl",
                })?
        }
        Err(e) => return Err(aws_error("GetQueueUrl", &resource, e)),
    };

    let out = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .attribute_names(QueueAttributeName::DelaySeconds)
        .send()
        .await
        .map_err(|e| aws_error("GetQueueAttributes", &resource, e))?;
    let read = |attribute: &QueueAttributeName| out.attributes().and_then(|a| a.get(attribute));
    let arn = read(&QueueAttributeName::QueueArn)
        .cloned()
        .ok_or_else(|| ProvisionError::IncompleteAnswer {
            operation: "GetQueueAttributes",
            resource: resource.clone(),
            field: "QueueArn",
        })?;
    let seconds = |attribute: &QueueAttributeName, default: u64| {
        read(attribute)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    Ok(ProvisionedQueue {
        logical_id: spec.logical_id.clone(),
        name,
        url,
        arn,
        visibility_timeout: Duration::from_secs(seconds(
            &QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout
                .unwrap_or(SQS_DEFAULT_VISIBILITY_TIMEOUT_S),
        )),
        delay: Duration::from_secs(seconds(
            &QueueAttributeName::DelaySeconds,
            spec.delay_seconds.unwrap_or(0),
        )),
        redrive,
    })
}

async fn list_queue_names(
    clients: &ProvisionClients,
    prefix: &str,
) -> Result<Vec<String>, ProvisionError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error("ListQueues", prefix, e))?;
        names.extend(
            page.queue_urls()
                .iter()
                .filter_map(|url| url.rsplit('/').next().map(str::to_owned)),
        );
        match page.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(names),
        }
    }
}

// ---- S3 -------------------------------------------------------------------------------------

async fn list_buckets(clients: &ProvisionClients) -> Result<Vec<String>, ProvisionError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .s3
            .list_buckets()
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error("ListBuckets", "buckets", e))?;
        names.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_owned)),
        );
        match page.continuation_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(names),
        }
    }
}

async fn provision_bucket(
    clients: &ProvisionClients,
    resolver: &Resolver,
    stack_name: &str,
    spec: &BucketSpec,
    existing: &[String],
) -> Result<ProvisionedBucket, ProvisionError> {
    let generated = GeneratedName::new(stack_name, &spec.logical_id, MAX_BUCKET_NAME, "", true);
    let name = physical_name(
        spec.bucket_name.as_ref(),
        resolver,
        &spec.logical_id,
        "BucketName",
        &generated,
        existing,
    )?;
    let resource = format!("{} ({name})", spec.logical_id);
    let s3 = &clients.s3;

    match s3.head_bucket().bucket(&name).send().await {
        Ok(_) => {
            info!(logical_id = %spec.logical_id, bucket = %name, "bucket reused");
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            let mut request = s3.create_bucket().bucket(&name);
            // us-east-1 is the one region that refuses an explicit location constraint.
            if resolver.region() != "us-east-1" {
                request = request.create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                            resolver.region(),
                        ))
                        .build(),
                );
            }
            match request.send().await {
                Ok(_) => info!(logical_id = %spec.logical_id, bucket = %name, "bucket created"),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
                {
                    info!(logical_id = %spec.logical_id, bucket = %name, "bucket reused");
                }
                Err(e) => return Err(aws_error("CreateBucket", &resource, e)),
            }
        }
        Err(e) => return Err(aws_error("HeadBucket", &resource, e)),
    }

    Ok(ProvisionedBucket {
        logical_id: spec.logical_id.clone(),
        arn: format!("arn:{}:s3:::{name}", resolver.partition()),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_follow_cloudformation_and_fit_the_limits() {
        let queue = GeneratedName::new("local", "PollReportQueue", MAX_QUEUE_NAME, "", false);
        let fifo = GeneratedName::new("local", "Orders", MAX_QUEUE_NAME, ".fifo", false);
        let bucket = GeneratedName::new("Local", "DocumentsBucket", MAX_BUCKET_NAME, "", true);
        let long = GeneratedName::new(&"s".repeat(70), "Queue", MAX_QUEUE_NAME, "", false);

        let q = queue.fresh();
        let f = fifo.fresh();
        let b = bucket.fresh();
        let l = long.fresh();

        assert!(
            q.starts_with("local-PollReportQueue-") && q.len() == 22 + SUFFIX_LEN,
            "{q}"
        );
        assert!(queue.matches(&q));
        assert!(f.ends_with(".fifo") && fifo.matches(&f), "{f}");
        assert_eq!(b, b.to_ascii_lowercase());
        assert!(
            b.starts_with("local-documentsbucket-") && bucket.matches(&b),
            "{b}"
        );
        assert_eq!(l.len(), MAX_QUEUE_NAME);
        assert!(long.matches(&l));
    }

    #[test]
    fn generated_name_lookup_ignores_other_resources() {
        let g = GeneratedName::new("local", "Jobs", MAX_TABLE_NAME, "", false);

        assert!(g.matches("local-Jobs-AB12CD34"));
        assert!(!g.matches("local-JobsArchive-AB12CD34"));
        assert!(!g.matches("local-Jobs-AB12CD3"));
        assert!(!g.matches("other-Jobs-AB12CD34"));
        assert!(!g.matches("local-Jobs-AB12-D34"));
    }

    #[test]
    fn random_suffixes_differ() {
        let a = random_suffix();
        let b = random_suffix();

        assert_eq!(a.len(), SUFFIX_LEN);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn dead_letter_queues_come_first() {
        let t = Template::parse(
            r#"
Resources:
  A: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 3}}}
  B: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt C.Arn, maxReceiveCount: 3}}}
  C: {Type: AWS::SQS::Queue}
"#,
        )
        .expect("parses");

        let order: Vec<_> = redrive_order(t.queues().expect("queues"))
            .expect("no cycle")
            .into_iter()
            .map(|q| q.logical_id)
            .collect();

        assert_eq!(order, ["C", "B", "A"]);
    }

    #[test]
    fn redrive_cycles_are_refused() {
        let t = Template::parse(
            r#"
Resources:
  A: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 3}}}
  B: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 3}}}
"#,
        )
        .expect("parses");

        let err = redrive_order(t.queues().expect("queues")).expect_err("cycle");

        assert!(
            matches!(err, ProvisionError::RedriveCycle { ref queues } if queues.len() == 2),
            "{err}"
        );
    }

    // ---- against moto ----------------------------------------------------------------------

    use spsync_testkit::MotoServer;

    const REAL_TEMPLATE: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"));

    /// Each test gets its own server: they provision the same logical ids.
    async fn moto() -> (MotoServer, ProvisionClients) {
        let server = MotoServer::start().await;
        let clients = ProvisionClients::from(
            &AwsClients::for_endpoint(&server.endpoint(), "us-east-1").await,
        );
        (server, clients)
    }

    fn no_overrides() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    async fn queue_attributes(
        clients: &ProvisionClients,
        url: &str,
    ) -> HashMap<QueueAttributeName, String> {
        clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn real_template_is_provisioned_once_however_often_it_runs() {
        let (_moto, clients) = moto().await;
        let template = Template::parse(REAL_TEMPLATE).expect("template.yaml parses");

        let first = provision_stack(&clients, &template, "spsync-local", &no_overrides())
            .await
            .expect("first run");
        let second = provision_stack(&clients, &template, "spsync-local", &no_overrides())
            .await
            .expect("second run");

        assert_eq!(first.tables, second.tables);
        assert_eq!(first.queues, second.queues);
        assert_eq!(first.buckets, second.buckets);
        assert_eq!(first.functions, second.functions);
        let tables = clients
            .dynamodb
            .list_tables()
            .send()
            .await
            .expect("ListTables");
        // Twice provisioned, once created: as many as the template declares, no more.
        assert!(
            first.tables.len() >= 3,
            "JobsTable, OrdersTable, ShipmentsTable"
        );
        assert_eq!(
            tables.table_names().len(),
            first.tables.len(),
            "{:?}",
            tables.table_names()
        );
        let queues = clients.sqs.list_queues().send().await.expect("ListQueues");
        assert_eq!(
            queues.queue_urls().len(),
            first.queues.len(),
            "{:?}",
            queues.queue_urls()
        );
        let buckets = clients.s3.list_buckets().send().await.expect("ListBuckets");
        assert_eq!(buckets.buckets().len(), 1);
        let jobs = first.table("JobsTable").expect("JobsTable");
        assert!(
            GeneratedName::new("spsync-local", "JobsTable", MAX_TABLE_NAME, "", false)
                .matches(&jobs.name),
            "{}",
            jobs.name
        );
        let bucket = first.bucket("DocumentsBucket").expect("DocumentsBucket");
        assert!(
            bucket.name.starts_with("spsync-local-documentsbucket-"),
            "{}",
            bucket.name
        );
    }

    #[tokio::test]
    async fn real_template_resources_match_the_template() {
        let (_moto, clients) = moto().await;
        let template = Template::parse(REAL_TEMPLATE).expect("template.yaml parses");

        let stack = provision_stack(&clients, &template, "spsync-local", &no_overrides())
            .await
            .expect("provisioned");

        let orders = stack.table("OrdersTable").expect("OrdersTable");
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(&orders.name)
            .send()
            .await
            .expect("DescribeTable");
        let table = described.table().expect("table");
        assert_eq!(table.table_arn(), Some(orders.arn.as_str()));
        let gsi = table.global_secondary_indexes().first().expect("a GSI");
        assert_eq!(gsi.index_name(), Some("ByStatus"));
        let gsi_keys: Vec<_> = gsi
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type().as_str()))
            .collect();
        assert_eq!(gsi_keys, [("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]);
        assert_eq!(
            gsi.projection().and_then(|p| p.projection_type()),
            Some(&ProjectionType::All)
        );

        let jobs = stack.table("JobsTable").expect("JobsTable");
        let ttl = clients
            .dynamodb
            .describe_time_to_live()
            .table_name(&jobs.name)
            .send()
            .await
            .expect("DescribeTimeToLive");
        let ttl = ttl.time_to_live_description().expect("ttl description");
        assert_eq!(ttl.attribute_name(), Some("ttl"));
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

        let dlq = stack.queue("StepDeadLetterQueue").expect("DLQ");
        let poll = stack.queue("PollReportQueue").expect("PollReportQueue");
        let attributes = queue_attributes(&clients, &poll.url).await;
        let redrive: serde_json::Value = serde_json::from_str(
            attributes
                .get(&QueueAttributeName::RedrivePolicy)
                .expect("RedrivePolicy"),
        )
        .expect("json");
        assert_eq!(
            redrive["deadLetterTargetArn"],
            serde_json::Value::String(dlq.arn.clone())
        );
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            "5"
        );
        assert_eq!(
            attributes
                .get(&QueueAttributeName::VisibilityTimeout)
                .map(String::as_str),
            Some("1800")
        );
        assert_eq!(poll.visibility_timeout, Duration::from_secs(1800));
        assert_eq!(
            poll.redrive.as_ref().map(|r| r.dead_letter_arn.as_str()),
            Some(dlq.arn.as_str())
        );
        assert_eq!(
            attributes.get(&QueueAttributeName::QueueArn),
            Some(&poll.arn)
        );

        let bucket = stack.bucket("DocumentsBucket").expect("DocumentsBucket");
        clients
            .s3
            .head_bucket()
            .bucket(&bucket.name)
            .send()
            .await
            .expect("HeadBucket");
    }

    #[tokio::test]
    async fn function_environment_names_the_created_resources() {
        let (_moto, clients) = moto().await;
        let template = Template::parse(REAL_TEMPLATE).expect("template.yaml parses");
        let overrides = BTreeMap::from([(
            "SpApiEndpoint".to_owned(),
            "http://127.0.0.1:8787".to_owned(),
        )]);

        let stack = provision_stack(&clients, &template, "spsync-local", &overrides)
            .await
            .expect("provisioned");

        let poll = stack.function("poll-report").expect("poll-report");
        let env = |name: &str| poll.env.get(name).map(String::as_str);
        assert_eq!(
            env("JOBS_TABLE_NAME"),
            Some(stack.table("JobsTable").expect("jobs").name.as_str())
        );
        assert_eq!(
            env("POLL_REPORT_QUEUE_URL"),
            Some(stack.queue("PollReportQueue").expect("q").url.as_str())
        );
        assert_eq!(
            env("IMPORT_REPORT_QUEUE_URL"),
            Some(stack.queue("ImportReportQueue").expect("q").url.as_str())
        );
        assert_eq!(
            env("DOCUMENTS_BUCKET"),
            Some(stack.bucket("DocumentsBucket").expect("b").name.as_str())
        );
        assert_eq!(env("SPAPI_ENDPOINT"), Some("http://127.0.0.1:8787"));
        assert_eq!(env("LWA_ENDPOINT"), Some(""));
        assert_eq!(env("REPORT_STUCK_AFTER_MINUTES"), Some("120"));
        assert_eq!(env("SERVICE_NAME"), Some("spsync"));
        assert_eq!(poll.function_name, "spsync-local-PollReportFunction");
        assert_eq!(poll.timeout, Duration::from_secs(300));
        let source = &poll.sqs_events[0];
        let queue = stack.queue("PollReportQueue").expect("q");
        assert_eq!(
            (source.queue_url.as_str(), source.queue_arn.as_str()),
            (queue.url.as_str(), queue.arn.as_str())
        );
        assert_eq!(source.batch_size, 10);
        assert!(source.report_batch_item_failures);
        let start = stack.function("start-report").expect("start-report");
        assert_eq!(start.schedule_events[0].expression, "rate(2 hours)");
        assert_eq!(
            start.schedule_events[0].input.as_deref(),
            Some(r#"{"flow":"orders"}"#)
        );
        assert_eq!(
            stack
                .resolver()
                .resolve(&serde_yaml_ng::Value::Tagged(Box::new(
                    serde_yaml_ng::value::TaggedValue {
                        tag: serde_yaml_ng::value::Tag::new("Ref"),
                        value: serde_yaml_ng::Value::String("OrdersTable".into()),
                    }
                ))),
            Ok(serde_yaml_ng::Value::String(
                stack.table("OrdersTable").expect("orders").name.clone()
            ))
        );
    }

    const NAMED: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev}
  Visibility: {Type: Number, Default: 120}
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${AWS::StackName}-work-${Stage}
      VisibilityTimeout: !Ref Visibility
      DelaySeconds: 3
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 2}
  Dead:
    Type: AWS::SQS::Queue
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub things-${Stage}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Files:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub files-${Stage}-${AWS::AccountId}
  Worker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: worker}}
    Properties:
      FunctionName: !Sub worker-${Stage}
      Environment:
        Variables:
          WORK_QUEUE_ARN: !GetAtt Work.Arn
          WORK_QUEUE_NAME: !GetAtt Work.QueueName
          FILES_PREFIX: !Sub "${Files.Arn}/in/"
          THINGS: !Ref Things
          DEAD_URL: !Ref Dead
          SELF: !Ref Worker
      Events:
        Work: {Type: SQS, Properties: {Queue: !GetAtt Work.Arn}}
"#;

    #[tokio::test]
    async fn explicit_names_and_overrides_are_honoured_and_updated_in_place() {
        let (_moto, clients) = moto().await;
        let template = Template::parse(NAMED).expect("parses");

        let first = provision_stack(&clients, &template, "demo", &no_overrides())
            .await
            .expect("first run");
        let overrides = BTreeMap::from([("Visibility".to_owned(), "600".to_owned())]);
        let second = provision_stack(&clients, &template, "demo", &overrides)
            .await
            .expect("second run");

        let work = first.queue("Work").expect("Work");
        assert_eq!(work.name, "demo-work-dev");
        assert_eq!(work.visibility_timeout, Duration::from_secs(120));
        assert_eq!(work.delay, Duration::from_secs(3));
        assert_eq!(
            second.queue("Work").expect("Work").url,
            work.url,
            "the same queue is reused"
        );
        assert_eq!(
            second.queue("Work").expect("Work").visibility_timeout,
            Duration::from_secs(600)
        );
        let attributes = queue_attributes(&clients, &work.url).await;
        assert_eq!(
            attributes
                .get(&QueueAttributeName::VisibilityTimeout)
                .map(String::as_str),
            Some("600")
        );
        assert_eq!(first.table("Things").expect("Things").name, "things-dev");
        assert_eq!(
            first.bucket("Files").expect("Files").name,
            "files-dev-123456789012"
        );
        let dead = first.queue("Dead").expect("Dead");
        assert!(dead.name.starts_with("demo-Dead-"), "{}", dead.name);
        assert_eq!(
            second.queue("Dead").expect("Dead").name,
            dead.name,
            "a generated name is found again"
        );

        let worker = &first.functions[0];
        assert_eq!(worker.function_name, "worker-dev");
        let env = |name: &str| worker.env.get(name).map(String::as_str);
        assert_eq!(env("WORK_QUEUE_ARN"), Some(work.arn.as_str()));
        assert_eq!(env("WORK_QUEUE_NAME"), Some("demo-work-dev"));
        assert_eq!(
            env("FILES_PREFIX"),
            Some("arn:aws:s3:::files-dev-123456789012/in/")
        );
        assert_eq!(env("THINGS"), Some("things-dev"));
        assert_eq!(env("DEAD_URL"), Some(dead.url.as_str()));
        assert_eq!(env("SELF"), Some("worker-dev"));
        assert_eq!(worker.sqs_events[0].batch_size, 10);
        assert!(!worker.sqs_events[0].report_batch_item_failures);
    }

    #[tokio::test]
    async fn a_table_without_the_templates_index_is_reported_as_drift() {
        let (_moto, clients) = moto().await;
        let without_index = Template::parse(NAMED).expect("parses");
        let with_index = Template::parse(&NAMED.replace(
            "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n",
            "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n      GlobalSecondaryIndexes: [{IndexName: ById, KeySchema: [{AttributeName: id, KeyType: HASH}], Projection: {ProjectionType: KEYS_ONLY}}]\n",
        ))
        .expect("parses");
        assert_eq!(
            with_index.tables().expect("tables")[0]
                .global_secondary_indexes
                .len(),
            1
        );

        provision_stack(&clients, &without_index, "demo", &no_overrides())
            .await
            .expect("first run");
        let err = provision_stack(&clients, &with_index, "demo", &no_overrides())
            .await
            .expect_err("drift");

        assert!(
            matches!(err, ProvisionError::Drift { ref reason, .. } if reason.contains("ById")),
            "{err}"
        );
        assert_eq!(err.retryability(), Retryability::Permanent);
    }

    #[tokio::test]
    async fn an_unresolvable_environment_value_names_function_and_variable() {
        let (_moto, clients) = moto().await;
        let template =
            Template::parse(&NAMED.replace("SELF: !Ref Worker", "SELF: !Join [-, [a, b]]"))
                .expect("parses");

        let err = provision_stack(&clients, &template, "demo", &no_overrides())
            .await
            .expect_err("!Join");

        let text = err.to_string();
        assert!(
            text.contains("Worker")
                && text.contains("Environment.Variables.SELF")
                && text.contains("!Join"),
            "{text}"
        );
    }
}
