//! The stack's functions as the runner hosts them: each built from its resolved environment
//! (`Config::from_map`, exactly as `Config::from_env` reads it in Lambda) with real AWS
//! adapters on moto, SP-API clients pointed at the simulator by that same environment, the
//! simulator's clock, and a [`VirtualDelayQueue`](crate::VirtualDelayQueue) around the
//! function's SQS step queue. `shipments-api`, the HTTP API, answers
//! [`LocalFunction::on_http`].
//!
//! A built function is a warm container: its SP-API clients (limiter, token cache) live as
//! long as it does. The runner rebuilds it after a container lifetime of simulated time (see
//! [`FunctionHost`]), the way Lambda recycles containers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;
use spsync_aws::{
    AwsClients, DynamoFeedJobStore, DynamoJobStore, DynamoOrderStore, DynamoShipmentStore,
    QueueUrls, S3DocumentStore, SecretsManagerCredentials, SqsStepQueue,
};
use spsync_lambda_kit::{BatchError, FromEnv, Metrics, MetricsConfig};
use spsync_spapi::{EndpointOverrides, SellerClients};
use spsync_workflow::{Clock, CredentialStore, SellerDirectory, StepQueue};
use time::OffsetDateTime;

use crate::delay_queue::Outbox;
use crate::error::RunnerError;

/// What the runner hands every function besides its environment.
#[derive(Clone)]
pub struct LocalPorts {
    /// SDK clients on moto.
    pub clients: AwsClients,
    /// The simulator's clock.
    pub clock: Arc<dyn Clock>,
    /// The runner's outbox of delayed messages.
    pub outbox: Arc<Outbox>,
    /// SP-API calls send-tracking's read-back made (its `ReadBackCalls` metric, summed), so
    /// the summary can tell them from the order import's.
    pub read_back_calls: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for LocalPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPorts").finish_non_exhaustive()
    }
}

/// A function as Lambda invokes it. The futures need not be `Send`: the runner invokes one
/// function at a time on its own task.
#[async_trait(?Send)]
pub trait LocalFunction: Send + Sync {
    /// An SQS event source invocation; `Err` is a failed invocation (the error's text).
    async fn on_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, String>;
    /// A schedule invocation with the rule's input.
    async fn on_schedule(&self, input: Value) -> Result<Value, String>;
    /// An HttpApi invocation (payload format 2.0); `Err` is a failed invocation, which API
    /// Gateway answers with its own 500.
    async fn on_http(
        &self,
        _request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, String> {
        Err("no HttpApi event".to_owned())
    }
}

/// Builds the function whose crate is `binary` from its resolved environment, wired as its
/// `main.rs` wires it, with the runner's clock and delay queue.
pub fn build(
    binary: &str,
    env: &BTreeMap<String, String>,
    ports: &LocalPorts,
) -> Result<Arc<dyn LocalFunction>, RunnerError> {
    let config_error = |e: spsync_lambda_kit::ConfigError| RunnerError::Function {
        function: binary.to_owned(),
        reason: e.to_string(),
    };
    let aws = &ports.clients;
    let credentials: Arc<dyn CredentialStore> =
        Arc::new(SecretsManagerCredentials::new(aws.secretsmanager.clone()));
    let queue = |urls: QueueUrls| -> Arc<dyn StepQueue> {
        Arc::new(
            ports
                .outbox
                .queue(Arc::new(SqsStepQueue::new(aws.sqs.clone(), urls))),
        )
    };
    let metrics = |m: &MetricsConfig| Metrics::in_memory(&m.namespace, &m.service);
    let function: Arc<dyn LocalFunction> = match binary {
        "start-report" => {
            let config = start_report::Config::from_map(env).map_err(config_error)?;
            let jobs = Arc::new(DynamoJobStore::new(
                aws.dynamodb.clone(),
                &config.jobs_table_name,
            ));
            let reports = seller_clients(
                jobs.clone(),
                credentials,
                config.endpoint_overrides(),
                &ports.clock,
            );
            let queue = queue(QueueUrls {
                poll_report: Some(config.poll_report_queue_url.clone()),
                import_report: Some(config.import_report_queue_url.clone()),
                enrich_orders: None,
                ..QueueUrls::default()
            });
            let deps = start_report::Deps::new(
                &config,
                ports.clock.clone(),
                jobs.clone(),
                jobs,
                queue,
                Arc::new(reports),
            )
            .with_metrics(metrics(&config.metrics));
            Arc::new(StartReport(deps))
        }
        "poll-report" => {
            let config = poll_report::Config::from_map(env).map_err(config_error)?;
            let jobs = Arc::new(DynamoJobStore::new(
                aws.dynamodb.clone(),
                &config.jobs_table_name,
            ));
            let reports = seller_clients(
                jobs.clone(),
                credentials,
                config.endpoint_overrides(),
                &ports.clock,
            );
            let documents = S3DocumentStore::new(aws.s3.clone(), &config.documents_bucket);
            let queue = queue(QueueUrls {
                poll_report: Some(config.poll_report_queue_url.clone()),
                import_report: Some(config.import_report_queue_url.clone()),
                enrich_orders: None,
                ..QueueUrls::default()
            });
            let deps = poll_report::Deps::new(
                &config,
                ports.clock.clone(),
                jobs,
                queue,
                Arc::new(reports),
                Arc::new(documents),
            )
            .with_metrics(metrics(&config.metrics));
            Arc::new(PollReport(deps))
        }
        "import-report" => {
            let config = import_report::Config::from_map(env).map_err(config_error)?;
            let jobs = DynamoJobStore::new(aws.dynamodb.clone(), &config.jobs_table_name);
            let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
            let documents = S3DocumentStore::new(aws.s3.clone(), &config.documents_bucket);
            let queue = queue(QueueUrls {
                enrich_orders: Some(config.enrich_orders_queue_url.clone()),
                ..QueueUrls::default()
            });
            let deps = import_report::Deps::new(
                &config,
                ports.clock.clone(),
                Arc::new(jobs),
                Arc::new(orders),
                Arc::new(documents),
                queue,
            )
            .with_metrics(metrics(&config.metrics));
            Arc::new(ImportReport(deps))
        }
        "enrich-orders" => {
            let config = enrich_orders::Config::from_map(env).map_err(config_error)?;
            let jobs = Arc::new(DynamoJobStore::new(
                aws.dynamodb.clone(),
                &config.jobs_table_name,
            ));
            let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
            let orders_api = seller_clients(
                jobs.clone(),
                credentials,
                config.endpoint_overrides(),
                &ports.clock,
            );
            let queue = queue(QueueUrls {
                enrich_orders: Some(config.enrich_orders_queue_url.clone()),
                ..QueueUrls::default()
            });
            let deps = enrich_orders::Deps::new(
                &config,
                ports.clock.clone(),
                jobs.clone(),
                jobs,
                Arc::new(orders),
                queue,
                Arc::new(orders_api),
            )
            .with_metrics(metrics(&config.metrics));
            Arc::new(EnrichOrders(deps))
        }
        "send-tracking" => {
            let config = send_tracking::Config::from_map(env).map_err(config_error)?;
            let jobs = Arc::new(DynamoJobStore::new(
                aws.dynamodb.clone(),
                &config.jobs_table_name,
            ));
            let amazon = Arc::new(seller_clients(
                jobs.clone(),
                credentials,
                config.endpoint_overrides(),
                &ports.clock,
            ));
            let queue = queue(QueueUrls {
                feed_steps: Some(config.feed_steps_queue_url.clone()),
                ..QueueUrls::default()
            });
            let deps = send_tracking::Deps::new(
                &config,
                send_tracking::Ports {
                    clock: ports.clock.clone(),
                    sellers: jobs,
                    feed_jobs: Arc::new(DynamoFeedJobStore::new(
                        aws.dynamodb.clone(),
                        &config.jobs_table_name,
                    )),
                    shipments: Arc::new(DynamoShipmentStore::new(
                        aws.dynamodb.clone(),
                        &config.shipments_table_name,
                    )),
                    orders: Arc::new(DynamoOrderStore::new(
                        aws.dynamodb.clone(),
                        &config.orders_table_name,
                    )),
                    documents: Arc::new(S3DocumentStore::new(
                        aws.s3.clone(),
                        &config.documents_bucket,
                    )),
                    queue,
                    feeds: amazon.clone(),
                    packages: amazon,
                },
            )
            .with_metrics(metrics(&config.metrics));
            Arc::new(SendTracking(deps, ports.read_back_calls.clone()))
        }
        "shipments-api" => Arc::new(ShipmentsApi(shipments_api_deps(env, ports)?)),
        other => {
            return Err(RunnerError::Function {
                function: other.to_owned(),
                reason: "the runner knows no function crate of that name".into(),
            });
        }
    };
    Ok(function)
}

/// `shipments-api`'s dependencies as its `main.rs` wires them (DynamoDB orders and shipments
/// from its environment), with the runner's clock and metrics kept in memory. Also what the
/// local API server of `local-run --keep-running` serves.
pub fn shipments_api_deps(
    env: &BTreeMap<String, String>,
    ports: &LocalPorts,
) -> Result<shipments_api::Deps, RunnerError> {
    let config = shipments_api::Config::from_map(env).map_err(|e| RunnerError::Function {
        function: "shipments-api".to_owned(),
        reason: e.to_string(),
    })?;
    let aws = &ports.clients;
    let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
    let shipments = DynamoShipmentStore::new(aws.dynamodb.clone(), &config.shipments_table_name);
    Ok(shipments_api::Deps::new(
        &config,
        ports.clock.clone(),
        Arc::new(orders),
        Arc::new(shipments),
    )
    .with_metrics(Metrics::in_memory(
        &config.metrics.namespace,
        &config.metrics.service,
    )))
}

/// The SP-API adapter as `main.rs` builds it, with two local adjustments: the usage-plan
/// limiter reads the simulator's clock (its buckets refill as simulated time passes, as they
/// do at Amazon) with no in-process waits (every wait becomes a delayed message on simulated
/// time), and a fixed jitter seed so two runs of a scenario behave alike.
fn seller_clients(
    sellers: Arc<dyn SellerDirectory>,
    credentials: Arc<dyn CredentialStore>,
    overrides: EndpointOverrides,
    clock: &Arc<dyn Clock>,
) -> SellerClients {
    let clock = clock.clone();
    let (origin, start) = (std::time::Instant::now(), clock.now());
    let limiter_clock = spsync_spapi::LimiterClock(Arc::new(move || {
        origin + (clock.now() - start).unsigned_abs()
    }));
    SellerClients::new(sellers, credentials, overrides).with_config_hook(move |config| {
        config.max_in_process_wait = Duration::ZERO;
        config.jitter_seed = Some(JITTER_SEED);
        config.limiter_clock = Some(limiter_clock.clone());
    })
}

const JITTER_SEED: u64 = 0x5350_5359_4e43;

fn batch_error(e: BatchError) -> String {
    e.to_string()
}

struct StartReport(start_report::Deps);
struct PollReport(poll_report::Deps);
struct ImportReport(import_report::Deps);
struct EnrichOrders(enrich_orders::Deps);
struct SendTracking(send_tracking::Deps, Arc<std::sync::atomic::AtomicU64>);

impl SendTracking {
    /// Takes the invocation's metric lines, adding its `ReadBackCalls` to the runner's count.
    fn count_read_back(&self) {
        for line in self.0.metrics.take_lines() {
            let calls = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v.get("ReadBackCalls").and_then(Value::as_u64))
                .unwrap_or(0);
            self.1
                .fetch_add(calls, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
struct ShipmentsApi(shipments_api::Deps);

/// A function's event decoded from the JSON Lambda would hand it (the functions with two
/// triggers take an untagged event: an SQS batch must arrive as one, the schedule's Input as
/// the other).
fn decode_event<E: serde::de::DeserializeOwned>(
    event: &impl serde::Serialize,
) -> Result<E, String> {
    let json = serde_json::to_value(event).map_err(|e| e.to_string())?;
    serde_json::from_value(json).map_err(|e| format!("undecodable event: {e}"))
}

fn not_scheduled(function: &str) -> String {
    format!("{function} has no schedule event")
}

fn not_sqs(function: &str) -> String {
    format!("{function} has no SQS event source")
}

#[async_trait(?Send)]
impl LocalFunction for StartReport {
    async fn on_sqs(&self, _: SqsEvent) -> Result<SqsBatchResponse, String> {
        Err(not_sqs("start-report"))
    }
    async fn on_schedule(&self, input: Value) -> Result<Value, String> {
        let out = start_report::handle(input, &self.0)
            .await
            .map_err(batch_error);
        self.0.metrics.take_lines();
        out
    }
}

#[async_trait(?Send)]
impl LocalFunction for PollReport {
    async fn on_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let out = poll_report::handle(event, &self.0)
            .await
            .map_err(batch_error);
        self.0.metrics.take_lines();
        out
    }
    async fn on_schedule(&self, _: Value) -> Result<Value, String> {
        Err(not_scheduled("poll-report"))
    }
}

#[async_trait(?Send)]
impl LocalFunction for ImportReport {
    async fn on_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let out = import_report::handle(event, &self.0)
            .await
            .map_err(batch_error);
        self.0.metrics.take_lines();
        out
    }
    async fn on_schedule(&self, _: Value) -> Result<Value, String> {
        Err(not_scheduled("import-report"))
    }
}

#[async_trait(?Send)]
impl LocalFunction for EnrichOrders {
    async fn on_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let out = enrich_orders::handle(decode_event(&event)?, &self.0).await;
        self.0.metrics.take_lines();
        match out.map_err(batch_error)? {
            enrich_orders::EnrichResponse::Batch(response) => Ok(response),
            other => Err(format!("unexpected answer to an SQS batch: {other:?}")),
        }
    }
    async fn on_schedule(&self, input: Value) -> Result<Value, String> {
        let out = enrich_orders::handle(decode_event(&input)?, &self.0).await;
        self.0.metrics.take_lines();
        serde_json::to_value(out.map_err(batch_error)?).map_err(|e| e.to_string())
    }
}

#[async_trait(?Send)]
impl LocalFunction for SendTracking {
    async fn on_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let out = send_tracking::handle(decode_event(&event)?, &self.0).await;
        self.count_read_back();
        match out.map_err(batch_error)? {
            send_tracking::TrackingResponse::Batch(response) => Ok(response),
            other => Err(format!("unexpected answer to an SQS batch: {other:?}")),
        }
    }
    async fn on_schedule(&self, input: Value) -> Result<Value, String> {
        let out = send_tracking::handle(decode_event(&input)?, &self.0).await;
        self.count_read_back();
        serde_json::to_value(out.map_err(batch_error)?).map_err(|e| e.to_string())
    }
}

#[async_trait(?Send)]
impl LocalFunction for ShipmentsApi {
    async fn on_sqs(&self, _: SqsEvent) -> Result<SqsBatchResponse, String> {
        Err(not_sqs("shipments-api"))
    }
    async fn on_schedule(&self, _: Value) -> Result<Value, String> {
        Err(not_scheduled("shipments-api"))
    }
    async fn on_http(
        &self,
        request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, String> {
        let response = shipments_api::handle(&self.0, request).await;
        self.0.metrics.take_lines();
        Ok(response)
    }
}

/// One function of the stack and its current warm container.
pub struct FunctionHost {
    /// Binary (= crate) name.
    pub binary: String,
    /// Resolved environment.
    pub env: BTreeMap<String, String>,
    /// Lambda timeout (applied to each invocation, in real time).
    pub timeout: Duration,
    container: Option<(Arc<dyn LocalFunction>, OffsetDateTime)>,
    /// Containers built so far (cold starts).
    pub cold_starts: u64,
}

impl std::fmt::Debug for FunctionHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionHost")
            .field("binary", &self.binary)
            .field("cold_starts", &self.cold_starts)
            .finish_non_exhaustive()
    }
}

impl FunctionHost {
    /// A host for a function; nothing is built until the first invocation.
    pub fn new(binary: String, env: BTreeMap<String, String>, timeout: Duration) -> Self {
        Self {
            binary,
            env,
            timeout,
            container: None,
            cold_starts: 0,
        }
    }

    /// The warm container, or a new one when there is none or it is older than `lifetime`
    /// of simulated time at `now`.
    pub fn container(
        &mut self,
        ports: &LocalPorts,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Arc<dyn LocalFunction>, RunnerError> {
        if let Some((f, born)) = &self.container
            && now < *born + lifetime
        {
            return Ok(Arc::clone(f));
        }
        let f = build(&self.binary, &self.env, ports)?;
        self.container = Some((Arc::clone(&f), now));
        self.cold_starts += 1;
        Ok(f)
    }
}
