//! Stack mode: moto + the simulator + the stack of `template.yaml`, driven tick by tick of
//! simulated time.
//!
//! A tick (default 30 simulated seconds): advance the simulator's clock; send the delayed
//! step messages that fell due ([`Outbox`]); make failed messages whose visibility timeout
//! passed visible again ([`RetryLedger`]); fire every schedule that is due (all of them at
//! start); then drain every SQS event source, one batch per source in turn, until a full pass
//! receives nothing. A tick where nothing was sent, released or fired receives nothing: no
//! one else writes to the stack's queues.
//!
//! While the schedules fire, the shipping desk ([`crate::desk`], on unless
//! [`StackOptions::shipping`] is `None`) visits every 10 simulated minutes before the
//! schedules of its tick and records shipments through the stack's HTTP API function
//! ([`LocalStack::invoke_http`], as API Gateway would invoke it).
//!
//! After the requested hours the runner keeps ticking without schedules until the outbox
//! and the failed messages are empty (at most [`StackOptions::max_settle`]), so a run ends
//! with finished jobs rather than half-polled ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderValue, Method, header::CONTENT_TYPE};
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use base64::Engine as _;
use serde_json::{Value, json};
use spsync_aws::{
    AwsClients, DynamoFeedJobStore, DynamoJobStore, DynamoOrderStore, DynamoShipmentStore,
    ProvisionClients, Stack, Template, provision_stack,
};
use spsync_domain::{MarketplaceId, ORDERS_REPORT_TYPE, Order, OrderStatus, SellerId};
use spsync_sim::scenario::Scenario;
use spsync_sim::state::VerbatimDocument;
use spsync_sim::{SimOptions, SimServer};
use spsync_testkit::moto::MotoServer;
use spsync_workflow::{Clock, OrderStore, SellerAccount, SellerDirectory, ShipmentStore};
use time::OffsetDateTime;

use crate::api_server::ApiHandler;
use crate::delay_queue::Outbox;
use crate::desk::{Desk, DeskOptions, RecordBody};
use crate::error::{RunnerError, aws_error};
use crate::event_source::{RetryLedger, SqsSource, delete, failed_ids, lambda_event, receive};
use crate::functions::{FunctionHost, LocalPorts};
use crate::marketplaces::region_of;
use crate::schedule::{RateSchedule, ScheduleTimer};
use crate::sim_clock::SimTimeClock;
use crate::summary::{
    DocumentCounts, Efficiency, ImportTotals, Leftovers, OrderCounts, SellerOrders, SpApiTraffic,
    StackState, Summary, TrackingState, TrackingSummary, rfc3339,
};
use crate::transcript::{Invocation, Outcome, Transcript, Trigger, describe_steps};

/// The example world: two sellers (US; UK + DE) with three days of orders.
pub const TWO_SELLERS_SCENARIO: &str = include_str!("../../spapi-sim/scenarios/two-sellers.json");

/// Region of the local stack (the template resolver's `AWS::Region`).
pub const LOCAL_REGION: &str = "us-east-1";

/// Logical ids the runner reads directly (seller registry, summary, CLI environment).
const JOBS_TABLE: &str = "JobsTable";
const ORDERS_TABLE: &str = "OrdersTable";
const SHIPMENTS_TABLE: &str = "ShipmentsTable";

/// The workspace's `template.yaml`.
pub fn default_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// The secret holding a seller's LWA credentials (what `spsync sellers add` expects too).
pub fn seller_secret_name(seller: &str) -> String {
    format!("spsync/sellers/{seller}")
}

/// How to build and drive the local stack.
pub struct StackOptions {
    /// The simulator's world (its clock is frozen: the runner moves it).
    pub scenario: Scenario,
    /// The template's YAML.
    pub template_yaml: String,
    /// Stack name (prefix of generated physical names; reused when it exists).
    pub stack_name: String,
    /// Use this moto instead of starting one.
    pub moto_endpoint: Option<String>,
    /// Simulated hours during which schedules fire.
    pub hours: f64,
    /// Simulated time per tick.
    pub tick: Duration,
    /// Longest settling after the hours (no schedules; delayed and failed messages finish).
    pub max_settle: Duration,
    /// Most invocations in one tick.
    pub max_invocations_per_tick: u32,
    /// Simulated lifetime of a warm container.
    pub container_lifetime: Duration,
    /// A document served verbatim as the next order report.
    pub report_document: Option<VerbatimDocument>,
    /// Where the transcript goes (`None`: counted only).
    pub transcript: Option<Box<dyn Write + Send>>,
    /// The shipping desk (`None`: nobody records shipments).
    pub shipping: Option<DeskOptions>,
}

impl std::fmt::Debug for StackOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackOptions")
            .field("stack_name", &self.stack_name)
            .field("hours", &self.hours)
            .field("tick", &self.tick)
            .field("shipping", &self.shipping)
            .finish_non_exhaustive()
    }
}

impl StackOptions {
    /// Defaults for a scenario and a template: 8 hours, 30 s ticks, settle ≤ 1 hour, the
    /// shipping desk on with its default share.
    pub fn new(scenario: Scenario, template_yaml: String) -> Self {
        Self {
            scenario,
            template_yaml,
            stack_name: "spsync-local".into(),
            moto_endpoint: None,
            hours: 8.0,
            tick: Duration::from_secs(30),
            max_settle: Duration::from_secs(3600),
            max_invocations_per_tick: 500,
            container_lifetime: Duration::from_secs(900),
            report_document: None,
            transcript: None,
            shipping: Some(DeskOptions::default()),
        }
    }
}

/// Reads a scenario file (`None`: the two-sellers example).
pub fn load_scenario(path: Option<&Path>) -> Result<Scenario, RunnerError> {
    let (label, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|source| RunnerError::Io {
                path: p.display().to_string(),
                source,
            })?,
        ),
        None => (
            "two-sellers (built in)".to_owned(),
            TWO_SELLERS_SCENARIO.to_owned(),
        ),
    };
    Scenario::from_json(&text).map_err(|e| RunnerError::Scenario {
        path: label,
        reason: e.to_string(),
    })
}

/// Reads an order report document to serve verbatim: a GZIP file is unpacked and served
/// GZIP-compressed again (as Amazon serves large reports), anything else as is.
pub fn load_report_document(path: &Path, charset: &str) -> Result<VerbatimDocument, RunnerError> {
    let io = |source| RunnerError::Io {
        path: path.display().to_string(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let (bytes, gzip) = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&raw[..]), &mut out)
            .map_err(io)?;
        (out, true)
    } else {
        (raw, false)
    };
    Ok(VerbatimDocument {
        bytes: bytes.into(),
        charset: charset.to_owned(),
        gzip,
    })
}

struct ScheduleSource {
    function: String,
    name: String,
    expression: String,
    input: Value,
    timer: ScheduleTimer,
}

/// A route of a SAM `HttpApi` event and the function it invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// Binary of the function.
    pub function: String,
    /// Method (`None` or `ANY`: every method).
    pub method: Option<String>,
    /// Path with `{parameters}` (a last `{name+}` takes the rest); `None`: the `$default`
    /// route.
    pub path: Option<String>,
}

impl HttpRoute {
    /// API Gateway's route key: `POST /sellers/{sellerId}/shipments`, `ANY /x`, `$default`.
    pub fn key(&self) -> String {
        match (&self.method, &self.path) {
            (_, None) => "$default".to_owned(),
            (Some(m), Some(p)) => format!("{} {p}", m.to_ascii_uppercase()),
            (None, Some(p)) => format!("ANY {p}"),
        }
    }

    fn any_method(&self) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case("ANY"))
    }
}

/// The route API Gateway would pick for a request, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The route.
    pub route: &'a HttpRoute,
    /// `{name}` → the path's segment.
    pub parameters: HashMap<String, String>,
}

/// The most specific route for `method` and `path`, as API Gateway HTTP APIs choose: a route
/// with more literal segments first, then one naming the method over `ANY`, a greedy
/// `{name+}` last, and the `$default` route only when nothing else matches.
pub fn match_route<'a>(
    routes: &'a [HttpRoute],
    method: &str,
    path: &str,
) -> Option<RouteMatch<'a>> {
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let mut best: Option<((usize, bool, bool), RouteMatch<'a>)> = None;
    for route in routes {
        if !route.any_method()
            && !route
                .method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(method))
        {
            continue;
        }
        let Some(template) = &route.path else {
            continue;
        };
        let parts: Vec<&str> = template
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        let mut parameters = HashMap::new();
        let mut literals = 0;
        let mut greedy = false;
        let mut matched = true;
        for (i, part) in parts.iter().enumerate() {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
                if i >= segments.len() || i + 1 != parts.len() {
                    matched = false;
                } else {
                    parameters.insert(name.to_owned(), segments[i..].join("/"));
                    greedy = true;
                }
                break;
            }
            let Some(segment) = segments.get(i) else {
                matched = false;
                break;
            };
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => {
                    parameters.insert(name.to_owned(), (*segment).to_owned());
                }
                Some(_) => matched = false,
                None if part == segment => literals += 1,
                None => matched = false,
            }
            if !matched {
                break;
            }
        }
        if !matched || (!greedy && parts.len() != segments.len()) {
            continue;
        }
        let rank = (literals, !greedy, !route.any_method());
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, RouteMatch { route, parameters }));
        }
    }
    best.map(|(_, m)| m).or_else(|| {
        routes
            .iter()
            .find(|r| r.path.is_none())
            .map(|route| RouteMatch {
                route,
                parameters: HashMap::new(),
            })
    })
}

/// A request as API Gateway hands it to a function (payload format 2.0, `$default` stage):
/// method, path and query, a JSON body. [`LocalStack::invoke_http`] adds the route.
pub fn http_request(
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> ApiGatewayV2httpRequest {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut request = ApiGatewayV2httpRequest::default();
    request.version = Some("2.0".into());
    request.raw_path = Some(path.to_owned());
    request.raw_query_string = Some(query.to_owned());
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        parameters
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    request.query_string_parameters = parameters.into();
    if body.is_some() {
        request
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    request.body = body;
    let context = &mut request.request_context;
    context.stage = Some("$default".into());
    context.apiid = Some("local".into());
    context.http.method = method;
    context.http.path = Some(path.to_owned());
    context.http.protocol = Some("HTTP/1.1".into());
    context.http.source_ip = Some("127.0.0.1".into());
    context.http.user_agent = Some("spsync-local-runner".into());
    request
}

/// An answer of API Gateway itself (`{"message": ...}`).
fn gateway_response(status: i64, message: &str) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(json!({ "message": message }).to_string()));
    response
}

/// The status and body text of a function's answer.
pub fn response_text(response: &ApiGatewayV2httpResponse) -> (u16, String) {
    let status = u16::try_from(response.status_code).unwrap_or(500);
    let text = match &response.body {
        Some(Body::Text(t)) if response.is_base64_encoded => {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        Some(Body::Text(t)) => t.clone(),
        Some(Body::Binary(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (status, text)
}

/// SP-API calls and imported orders at one instant (for the second-half ratio).
#[derive(Debug, Clone)]
struct Snapshot {
    at: OffsetDateTime,
    orders_read: u64,
    /// SP-API calls of the orders-in flows so far (not the tracking feeds or read-back).
    orders_in_calls: u64,
}

/// The running local stack.
pub struct LocalStack {
    moto: Option<MotoServer>,
    endpoint: String,
    sim: SimServer,
    clients: AwsClients,
    stack: Stack,
    clock: Arc<SimTimeClock>,
    outbox: Arc<Outbox>,
    ports: LocalPorts,
    functions: BTreeMap<String, FunctionHost>,
    sources: Vec<SqsSource>,
    schedules: Vec<ScheduleSource>,
    ledger: RetryLedger,
    transcript: Transcript,
    start: OffsetDateTime,
    ticks: u64,
    backlog: bool,
    hours: f64,
    end: OffsetDateTime,
    middle: OffsetDateTime,
    half: Option<Snapshot>,
    wall_start: Instant,
    tick: Duration,
    max_settle: Duration,
    max_invocations_per_tick: u32,
    container_lifetime: Duration,
    http_routes: Vec<HttpRoute>,
    http_requests: u64,
    desk: Option<Desk>,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack")
            .field("endpoint", &self.endpoint)
            .field("stack", &self.stack.stack_name)
            .field("ticks", &self.ticks)
            .finish_non_exhaustive()
    }
}

impl LocalStack {
    /// Starts moto (unless given) and the simulator, provisions the stack from the template,
    /// registers the scenario's sellers and their secrets, and wires every function.
    pub async fn start(options: StackOptions) -> Result<Self, RunnerError> {
        let StackOptions {
            mut scenario,
            template_yaml,
            stack_name,
            moto_endpoint,
            hours,
            tick,
            max_settle,
            max_invocations_per_tick,
            container_lifetime,
            report_document,
            transcript,
            shipping,
        } = options;
        let wall_start = Instant::now();
        let span = Duration::from_secs_f64(hours.clamp(0.0, 24.0 * 365.0) * 3600.0);
        // Parse first: a template the runner cannot drive fails before anything starts.
        let template = Template::parse(&template_yaml).map_err(|e| RunnerError::Stack(e.into()))?;

        let (moto, endpoint) = match moto_endpoint {
            Some(url) => (None, url),
            None => {
                let binary = MotoServer::binary();
                if !binary.is_file() {
                    return Err(RunnerError::Stack(
                        format!(
                            "moto_server not found at {}: run `make venv` (or pass --moto-endpoint)",
                            binary.display()
                        )
                        .into(),
                    ));
                }
                let server = MotoServer::start_binary(binary).await;
                let endpoint = server.endpoint();
                (Some(server), endpoint)
            }
        };

        // The runner alone moves simulated time.
        scenario.clock.speed = 0.0;
        let sellers: Vec<_> = scenario.sellers.clone();
        let sim = SimServer::start_on_free_port(SimOptions::new(scenario)).await?;
        if let Some(doc) = report_document {
            sim.sim().serve_next_document(ORDERS_REPORT_TYPE, doc);
        }

        let clients = AwsClients::for_endpoint(&endpoint, LOCAL_REGION).await;
        let mut overrides = BTreeMap::new();
        for (name, value) in [("SpApiEndpoint", sim.url()), ("LwaEndpoint", sim.lwa_url())] {
            if template.parameters().contains_key(name) {
                overrides.insert(name.to_owned(), value);
            }
        }
        let stack = provision_stack(
            &ProvisionClients::from(&clients),
            &template,
            &stack_name,
            &overrides,
        )
        .await
        .map_err(|e| RunnerError::Stack(e.into()))?;

        let jobs_table = table_name(&stack, JOBS_TABLE)?;
        let registry = DynamoJobStore::new(clients.dynamodb.clone(), jobs_table);
        for seller in &sellers {
            register_seller(&clients, &registry, seller).await?;
        }

        let clock = Arc::new(SimTimeClock::new(Arc::clone(sim.sim())));
        let outbox = Outbox::new(clock.clone());
        let ports = LocalPorts {
            clients: clients.clone(),
            clock: clock.clone(),
            outbox: Arc::clone(&outbox),
            read_back_calls: Default::default(),
        };
        let start = clock.now();
        let mut functions = BTreeMap::new();
        let mut sources = Vec::new();
        let mut schedules = Vec::new();
        for wiring in &stack.functions {
            functions.insert(
                wiring.binary.clone(),
                FunctionHost::new(wiring.binary.clone(), wiring.env.clone(), wiring.timeout),
            );
            for event in wiring.schedule_events.iter().filter(|e| e.enabled) {
                let rate = RateSchedule::parse(&event.expression)?;
                let input = match &event.input {
                    Some(text) => {
                        serde_json::from_str(text).map_err(|e| RunnerError::Function {
                            function: wiring.binary.clone(),
                            reason: format!("schedule {} Input is not JSON: {e}", event.name),
                        })?
                    }
                    None => Value::Null,
                };
                schedules.push(ScheduleSource {
                    function: wiring.binary.clone(),
                    name: event.name.clone(),
                    expression: event.expression.clone(),
                    input,
                    timer: ScheduleTimer::new(rate, start),
                });
            }
            for event in wiring.sqs_events.iter().filter(|e| e.enabled) {
                let queue = stack.queue(&event.queue).ok_or_else(|| {
                    RunnerError::Stack(format!("queue {} was not provisioned", event.queue).into())
                })?;
                sources.push(SqsSource {
                    function: wiring.binary.clone(),
                    queue_url: event.queue_url.clone(),
                    queue_arn: event.queue_arn.clone(),
                    batch_size: u32::try_from(event.batch_size).unwrap_or(u32::MAX),
                    report_batch_item_failures: event.report_batch_item_failures,
                    visibility_timeout: queue.visibility_timeout,
                    region: LOCAL_REGION.to_owned(),
                });
            }
        }

        let mut http_routes = Vec::new();
        for spec in template
            .functions()
            .map_err(|e| RunnerError::Stack(e.into()))?
        {
            http_routes.extend(spec.http_events.iter().map(|e| HttpRoute {
                function: spec.binary.clone(),
                method: e.method.clone(),
                path: e.path.clone(),
            }));
        }

        let mut transcript = Transcript::new(transcript);

        transcript.note(&format!(
            "# stack {} on {} ({} functions, {} schedules, {} queues as event sources); simulator {} at {}",
            stack.stack_name,
            endpoint,
            functions.len(),
            schedules.len(),
            sources.len(),
            sim.url(),
            rfc3339(start)
        ));
        let desk = match shipping {
            Some(desk) if !http_routes.is_empty() && stack.table(SHIPMENTS_TABLE).is_some() => {
                transcript.note(&format!(
                    "# shipping desk: {:.0} % of the released merchant orders, every {} simulated minutes, through {}",
                    desk.share * 100.0,
                    desk.every.as_secs() / 60,
                    http_routes[0].function
                ));
                Some(Desk::new(desk, start))
            }
            Some(_) => {
                transcript.note(
                    "# shipping desk off: the template has no HttpApi function or no ShipmentsTable",
                );
                None
            }
            None => None,
        };
        Ok(Self {
            moto,
            endpoint,
            sim,
            clients,
            stack,
            clock,
            outbox,
            ports,
            functions,
            sources,
            schedules,
            ledger: RetryLedger::default(),
            transcript,
            start,
            ticks: 0,
            backlog: false,
            hours,
            end: start + span,
            middle: start + span / 2,
            half: None,
            wall_start,
            tick,
            max_settle,
            max_invocations_per_tick,
            container_lifetime,
            http_routes,
            http_requests: 0,
            desk,
        })
    }

    /// Runs the configured hours, settles, and summarises what the stack holds.
    pub async fn run(&mut self) -> Result<Summary, RunnerError> {
        self.run_until(self.end).await?;
        self.settle().await?;
        self.summary().await
    }

    /// Ticks with schedules until simulated time reaches `until` (at most the run's end).
    /// The SP-API calls and imported orders are noted when the run's midpoint is crossed.
    pub async fn run_until(&mut self, until: OffsetDateTime) -> Result<(), RunnerError> {
        let until = until.min(self.end);
        while self.clock.now() < until {
            if self.half.is_none() && self.clock.now() >= self.middle {
                self.half = Some(self.snapshot().await?);
            }
            self.tick(true).await?;
            self.advance();
        }
        Ok(())
    }

    /// Ticks without schedules until no delayed or failed message is left (at most
    /// [`StackOptions::max_settle`] of simulated time).
    pub async fn settle(&mut self) -> Result<(), RunnerError> {
        let settle_until = self.clock.now() + self.max_settle;
        self.transcript.note(&format!(
            "# {}: schedules stop; settling",
            rfc3339(self.clock.now())
        ));
        loop {
            self.tick(false).await?;
            let busy = self.outbox.pending() > 0 || !self.ledger.is_empty() || self.backlog;
            if !busy || self.clock.now() >= settle_until {
                break;
            }
            self.advance();
        }
        self.transcript
            .note(&format!("# {}: run ended", rfc3339(self.clock.now())));
        self.transcript.flush();
        Ok(())
    }

    /// When the schedules stop.
    pub fn end(&self) -> OffsetDateTime {
        self.end
    }

    /// When the run started (simulated).
    pub fn start_time(&self) -> OffsetDateTime {
        self.start
    }

    fn advance(&self) {
        self.sim.sim().advance_clock(self.tick);
    }

    /// One tick at the current simulated time (`fire`: schedules may fire).
    pub async fn tick(&mut self, fire: bool) -> Result<(), RunnerError> {
        let now = self.clock.now();
        let mut active = self.backlog;
        active |= self.outbox.release_due().await? > 0;
        active |= self.ledger.release_due(&self.clients.sqs, now).await? > 0;
        if fire && self.desk.as_ref().is_some_and(|d| d.due(now)) {
            self.visit_desk(now).await?;
        }
        if fire {
            for i in 0..self.schedules.len() {
                let due = self.schedules[i].timer.take_due(now);
                for _ in 0..due {
                    self.invoke_schedule(i, now).await?;
                    active = true;
                }
            }
        }
        active |= !self.outbox.take_touched().is_empty();
        if active {
            self.drain(now).await?;
        }
        self.ticks += 1;
        Ok(())
    }

    async fn drain(&mut self, now: OffsetDateTime) -> Result<(), RunnerError> {
        let mut invocations = 0u32;
        loop {
            let mut received_any = false;
            for i in 0..self.sources.len() {
                let source = self.sources[i].clone();
                let messages = receive(&self.clients.sqs, &source).await?;
                if messages.is_empty() {
                    continue;
                }
                received_any = true;
                self.invoke_sqs(&source, messages, now).await?;
                invocations += 1;
                if invocations >= self.max_invocations_per_tick {
                    self.backlog = true;
                    self.transcript.note(&format!(
                        "# {}: {invocations} invocations in one tick; the rest waits for the next tick",
                        rfc3339(now)
                    ));
                    return Ok(());
                }
            }
            if !received_any {
                self.backlog = false;
                return Ok(());
            }
        }
    }

    fn container(
        &mut self,
        function: &str,
        now: OffsetDateTime,
    ) -> Result<(Arc<dyn crate::functions::LocalFunction>, Duration), RunnerError> {
        let host = self
            .functions
            .get_mut(function)
            .ok_or_else(|| RunnerError::Function {
                function: function.to_owned(),
                reason: "not in the stack".into(),
            })?;
        let f = host.container(&self.ports, now, self.container_lifetime)?;
        Ok((f, host.timeout))
    }

    async fn invoke_schedule(
        &mut self,
        index: usize,
        now: OffsetDateTime,
    ) -> Result<(), RunnerError> {
        let (function, name, input) = {
            let s = &self.schedules[index];
            let input = if s.input.is_null() {
                scheduled_event(&s.name, now)
            } else {
                s.input.clone()
            };
            (
                s.function.clone(),
                format!("{} {}", s.name, s.expression),
                input,
            )
        };
        let (f, timeout) = self.container(&function, now)?;
        let result = guarded(timeout, async move { f.on_schedule(input).await }).await;
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Error(e),
        };
        self.transcript.record(&Invocation {
            at: now,
            function,
            trigger: Trigger::Schedule(name),
            outcome,
        });
        Ok(())
    }

    /// Invokes the function whose `HttpApi` route takes `request` as API Gateway would
    /// (route key and path parameters filled, the function's timeout, its warm container),
    /// records it in the transcript (route, status; never the body) and returns its answer.
    /// A failed invocation is API Gateway's 500, a path no route takes its 404.
    pub async fn invoke_http(
        &mut self,
        mut request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, RunnerError> {
        let now = self.clock.now();
        if self.http_routes.is_empty() {
            return Err(RunnerError::NotFound(
                "the stack has no function with an HttpApi event".into(),
            ));
        }
        let method = request.request_context.http.method.as_str().to_owned();
        let path = request
            .raw_path
            .clone()
            .or_else(|| request.request_context.http.path.clone())
            .unwrap_or_else(|| "/".to_owned());
        let Some(matched) = match_route(&self.http_routes, &method, &path) else {
            return Ok(gateway_response(404, "Not Found"));
        };
        let function = matched.route.function.clone();
        let key = matched.route.key();
        let label = if matched.route.path.is_some() {
            key.clone()
        } else {
            format!("{method} {path}")
        };
        self.http_requests += 1;
        request.route_key = Some(key.clone());
        request.path_parameters = matched.parameters;
        let context = &mut request.request_context;
        context.route_key = Some(key);
        context
            .request_id
            .get_or_insert_with(|| format!("local-{:08}", self.http_requests));
        context.stage.get_or_insert_with(|| "$default".into());
        context.time_epoch =
            i64::try_from((now.unix_timestamp_nanos() / 1_000_000).max(0)).unwrap_or(i64::MAX);
        let (f, timeout) = self.container(&function, now)?;
        let result = guarded(timeout, async move { f.on_http(request).await }).await;
        let (response, outcome) = match result {
            Ok(response) => {
                let status = u16::try_from(response.status_code).unwrap_or(500);
                (response, Outcome::Answered(status))
            }
            Err(e) => (
                gateway_response(500, "Internal Server Error"),
                Outcome::Error(e),
            ),
        };
        self.transcript.record(&Invocation {
            at: now,
            function,
            trigger: Trigger::Http(label),
            outcome,
        });
        Ok(response)
    }

    /// One visit of the shipping desk at `now`: per enabled seller, its `ORDER_NEW` orders
    /// (every page), the recordings the desk plans for them, then tracking corrections of
    /// the desk's correction candidates that are Confirmed by now (read one by one: a handful,
    /// where listing every confirmed shipment at each visit would cost more than the rest).
    async fn visit_desk(&mut self, now: OffsetDateTime) -> Result<(), RunnerError> {
        let Some(mut desk) = self.desk.take() else {
            return Ok(());
        };
        let result = self.desk_round(&mut desk, now).await;
        self.desk = Some(desk);
        result
    }

    async fn desk_round(
        &mut self,
        desk: &mut Desk,
        now: OffsetDateTime,
    ) -> Result<(), RunnerError> {
        desk.visited(now);
        let orders = self.order_store()?;
        let shipments = self.shipment_store()?;
        let sellers = self.job_store()?.sellers().await?;
        for seller in sellers.iter().filter(|s| s.enabled) {
            let new = all_orders(&orders, &seller.seller_id, OrderStatus::New).await?;
            for recording in desk.plan_recordings(&seller.seller_id, &new, now) {
                let request = http_request(
                    Method::POST,
                    &recording.path(),
                    Some(recording.body.to_json()),
                );
                let (status, text) = response_text(&self.invoke_http(request).await?);
                desk.on_record_answer(&recording, status, &text);
            }
            let mut stored = Vec::new();
            for (order, shipment_id) in desk.correction_candidates(&seller.seller_id) {
                let order = spsync_domain::AmazonOrderId::new(order);
                stored.extend(
                    shipments
                        .get_shipment(&seller.seller_id, &order, &shipment_id)
                        .await?,
                );
            }
            for plan in desk.plan_corrections(&seller.seller_id, &stored) {
                let request = http_request(Method::PATCH, &plan.path(), Some(plan.body()));
                let (status, text) = response_text(&self.invoke_http(request).await?);
                desk.on_correction_answer(&plan, status, &text);
            }
        }
        Ok(())
    }

    async fn invoke_sqs(
        &mut self,
        source: &SqsSource,
        messages: Vec<Message>,
        now: OffsetDateTime,
    ) -> Result<(), RunnerError> {
        let event = lambda_event(&messages, source);
        let steps = describe_steps(messages.iter().filter_map(|m| m.body.as_deref()));
        let (f, timeout) = self.container(&source.function, now)?;
        let call = event.clone();
        let result = guarded(timeout, async move { f.on_sqs(call).await }).await;
        let failed = failed_ids(&event, &result, source.report_batch_item_failures);
        let (bad, good): (Vec<&Message>, Vec<&Message>) = messages
            .iter()
            .partition(|m| m.message_id.as_ref().is_some_and(|id| failed.contains(id)));
        delete(&self.clients.sqs, &source.queue_url, &good).await?;
        for m in &bad {
            self.ledger.hold(source, m, now);
        }
        let outcome = match &result {
            Err(e) => Outcome::Error(e.clone()),
            Ok(_) if bad.is_empty() => Outcome::Ok,
            Ok(_) => Outcome::Partial,
        };
        self.transcript.record(&Invocation {
            at: now,
            function: source.function.clone(),
            trigger: Trigger::Sqs {
                records: messages.len(),
                failed: bad.len(),
                steps,
            },
            outcome,
        });
        Ok(())
    }

    async fn snapshot(&self) -> Result<Snapshot, RunnerError> {
        let state = self.state().await?;
        let traffic = SpApiTraffic::of(&self.sim.sim().stats());
        Ok(Snapshot {
            at: self.clock.now(),
            orders_in_calls: self.orders_in_calls(&traffic),
            orders_read: state.orders_read(),
        })
    }

    /// The jobs table's adapter (also the seller registry).
    pub fn job_store(&self) -> Result<DynamoJobStore, RunnerError> {
        Ok(DynamoJobStore::new(
            self.clients.dynamodb.clone(),
            table_name(&self.stack, JOBS_TABLE)?,
        ))
    }

    /// The orders table's adapter.
    pub fn order_store(&self) -> Result<DynamoOrderStore, RunnerError> {
        Ok(DynamoOrderStore::new(
            self.clients.dynamodb.clone(),
            table_name(&self.stack, ORDERS_TABLE)?,
        ))
    }

    /// The shipments table's adapter.
    pub fn shipment_store(&self) -> Result<DynamoShipmentStore, RunnerError> {
        Ok(DynamoShipmentStore::new(
            self.clients.dynamodb.clone(),
            table_name(&self.stack, SHIPMENTS_TABLE)?,
        ))
    }

    /// The feed jobs' adapter (on the jobs table).
    pub fn feed_job_store(&self) -> Result<DynamoFeedJobStore, RunnerError> {
        Ok(DynamoFeedJobStore::new(
            self.clients.dynamodb.clone(),
            table_name(&self.stack, JOBS_TABLE)?,
        ))
    }

    /// Shipments and feed jobs of `sellers` as stored now (nothing when the template has no
    /// ShipmentsTable).
    pub async fn tracking_state(
        &self,
        sellers: &[SellerAccount],
    ) -> Result<TrackingState, RunnerError> {
        if self.stack.table(SHIPMENTS_TABLE).is_none() {
            return Ok(TrackingState::default());
        }
        let shipments = self.shipment_store()?;
        let feeds = self.feed_job_store()?;
        Ok(TrackingState::collect(sellers, &shipments, &feeds).await?)
    }

    /// What the shipping desk did so far (`None` when it is off).
    pub fn desk_stats(&self) -> Option<crate::desk::DeskStats> {
        self.desk.as_ref().map(Desk::stats)
    }

    /// Sellers, orders and jobs as stored now.
    pub async fn state(&self) -> Result<StackState, RunnerError> {
        let jobs = self.job_store()?;
        let orders = self.order_store()?;
        Ok(StackState::collect(&jobs, &jobs, &orders).await?)
    }

    /// SP-API calls of the order import and enrichment: all but the fulfilment feeds' and the
    /// tracking read-back's (send-tracking counts the latter in its `ReadBackCalls` metric).
    fn orders_in_calls(&self, traffic: &SpApiTraffic) -> u64 {
        let feeds: u64 = crate::summary::FEED_OPERATIONS
            .iter()
            .filter_map(|op| traffic.by_operation.get(*op))
            .map(|c| c.calls)
            .sum();
        let read_back = self
            .ports
            .read_back_calls
            .load(std::sync::atomic::Ordering::Relaxed);
        traffic
            .calls
            .saturating_sub(feeds)
            .saturating_sub(read_back)
    }

    /// The summary of the run so far (the second half starts at the midpoint, or now if the
    /// run has not reached it).
    pub async fn summary(&self) -> Result<Summary, RunnerError> {
        let half = match &self.half {
            Some(h) => h.clone(),
            None => self.snapshot().await?,
        };
        let wall = self.wall_start.elapsed();
        let state = self.state().await?;
        let traffic = SpApiTraffic::of(&self.sim.sim().stats());
        let orders_read = state.orders_read();
        let sellers = state
            .sellers
            .iter()
            .map(|s| SellerOrders {
                seller_id: s.seller_id.to_string(),
                marketplaces: s.marketplaces.iter().map(|m| m.to_string()).collect(),
                orders: OrderCounts::of(state.orders.iter().filter(|o| o.seller_id == s.seller_id)),
            })
            .collect();
        let counts = self.transcript.counts().clone();
        let tracking = TrackingSummary::of(
            &state.sellers,
            &self.tracking_state(&state.sellers).await?,
            &traffic,
            self.desk_stats(),
            self.ports
                .read_back_calls
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        Ok(Summary {
            simulated_start: rfc3339(self.start),
            simulated_end: rfc3339(self.clock.now()),
            hours: self.hours,
            ticks: self.ticks,
            wall_seconds: wall.as_secs_f64(),
            sellers,
            orders: OrderCounts::of(&state.orders),
            imports: ImportTotals::of(&state.jobs),
            whole_run: Efficiency::new(self.start, self.orders_in_calls(&traffic), orders_read),
            second_half: Efficiency::new(
                half.at,
                self.orders_in_calls(&traffic)
                    .saturating_sub(half.orders_in_calls),
                orders_read.saturating_sub(half.orders_read),
            ),
            spapi: traffic,
            documents: self.documents().await?,
            dead_letters: self.dead_letters().await?,
            invocations: counts,
            leftovers: Leftovers {
                delayed_messages: self.outbox.pending() as u64,
                failed_in_flight: self.ledger.len() as u64,
            },
            tracking,
        })
    }

    /// Raw documents under `reports/` in the stack's buckets.
    pub async fn documents(&self) -> Result<DocumentCounts, RunnerError> {
        let mut counts = DocumentCounts::default();
        for bucket in self.stack.buckets.values() {
            let mut token = None;
            loop {
                let out = self
                    .clients
                    .s3
                    .list_objects_v2()
                    .bucket(&bucket.name)
                    .prefix("reports/")
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(|e| aws_error("ListObjectsV2", e))?;
                for object in out.contents() {
                    counts.objects += 1;
                    counts.bytes += object.size().unwrap_or(0).max(0) as u64;
                }
                token = out.next_continuation_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(counts)
    }

    /// Messages in every dead-letter queue (queues some redrive policy points at).
    pub async fn dead_letters(&self) -> Result<BTreeMap<String, u64>, RunnerError> {
        let targets: BTreeSet<&str> = self
            .stack
            .queues
            .values()
            .filter_map(|q| q.redrive.as_ref().map(|r| r.dead_letter_queue.as_str()))
            .collect();
        let mut depths = BTreeMap::new();
        for logical_id in targets {
            let Some(queue) = self.stack.queue(logical_id) else {
                continue;
            };
            let out = self
                .clients
                .sqs
                .get_queue_attributes()
                .queue_url(&queue.url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .map_err(|e| aws_error("GetQueueAttributes", e))?;
            let attrs = out.attributes();
            let count = |name: QueueAttributeName| -> u64 {
                attrs
                    .and_then(|a| a.get(&name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            depths.insert(
                logical_id.to_owned(),
                count(QueueAttributeName::ApproximateNumberOfMessages)
                    + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            );
        }
        Ok(depths)
    }

    /// Writes every stored order as JSON to `path`.
    pub async fn export_orders(&self, path: &Path) -> Result<usize, RunnerError> {
        let state = self.state().await?;
        let json = serde_json::to_vec_pretty(&state.orders).map_err(|e| RunnerError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        write_file(path, &json)?;
        Ok(state.orders.len())
    }

    /// The environment the `spsync` CLI needs for this stack (`NAME=value` lines).
    pub fn cli_env(&self) -> Result<String, RunnerError> {
        let mut lines = vec![
            format!("AWS_ENDPOINT_URL={}", self.endpoint),
            format!("AWS_REGION={LOCAL_REGION}"),
            "AWS_ACCESS_KEY_ID=test".to_owned(),
            "AWS_SECRET_ACCESS_KEY=test".to_owned(),
            format!("JOBS_TABLE_NAME={}", table_name(&self.stack, JOBS_TABLE)?),
            format!(
                "ORDERS_TABLE_NAME={}",
                table_name(&self.stack, ORDERS_TABLE)?
            ),
        ];
        if let Some(table) = self.stack.table(SHIPMENTS_TABLE) {
            lines.push(format!("SHIPMENTS_TABLE_NAME={}", table.name));
        }
        for bucket in self.stack.buckets.values() {
            lines.push(format!("# bucket {}: {}", bucket.logical_id, bucket.name));
        }
        lines.push(format!("SPAPI_ENDPOINT={}", self.sim.url()));
        lines.push(format!("LWA_ENDPOINT={}", self.sim.lwa_url()));
        Ok(lines.join("\n") + "\n")
    }

    /// The stack's HTTP API routes (from the template's `HttpApi` events).
    pub fn http_routes(&self) -> &[HttpRoute] {
        &self.http_routes
    }

    /// The shipments API for a local port ([`crate::api_server`]): a `shipments-api`
    /// container built from the environment the template gives the HTTP API function, with
    /// the runner's clock (simulated time, frozen once the run ended).
    pub fn api_handler(&self) -> Result<ApiHandler, RunnerError> {
        let function = self
            .http_routes
            .first()
            .map(|r| r.function.clone())
            .ok_or_else(|| {
                RunnerError::NotFound("the stack has no function with an HttpApi event".into())
            })?;
        if function != "shipments-api" {
            return Err(RunnerError::Function {
                function,
                reason: "only shipments-api can be served on a local port".into(),
            });
        }
        let host = self
            .functions
            .get(&function)
            .ok_or_else(|| RunnerError::Function {
                function: function.clone(),
                reason: "not in the stack".into(),
            })?;
        let deps = Arc::new(crate::functions::shipments_api_deps(
            &host.env,
            &self.ports,
        )?);
        Ok(Arc::new(move |request| {
            let deps = Arc::clone(&deps);
            Box::pin(async move {
                let response = shipments_api::handle(&deps, request).await;
                deps.metrics.take_lines();
                response
            })
        }))
    }

    /// A package the API would take now, for the example of `--keep-running`: the first
    /// seller's first order the desk could ship and nobody has recorded a shipment for.
    pub async fn example_shipment(&self) -> Result<Option<(SellerId, RecordBody)>, RunnerError> {
        if self.stack.table(SHIPMENTS_TABLE).is_none() {
            return Ok(None);
        }
        let orders = self.order_store()?;
        let shipments = self.shipment_store()?;
        let now = self.clock.now();
        for seller in self.job_store()?.sellers().await? {
            let new = all_orders(&orders, &seller.seller_id, OrderStatus::New).await?;
            for order in new.iter().filter(|o| crate::desk::eligible(o)).take(50) {
                if shipments
                    .shipments_of_order(&seller.seller_id, &order.amazon_order_id)
                    .await?
                    .is_empty()
                {
                    return Ok(Some((
                        seller.seller_id.clone(),
                        crate::desk::example_body(order, now),
                    )));
                }
            }
        }
        Ok(None)
    }

    /// moto's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The simulator.
    pub fn sim(&self) -> &SimServer {
        &self.sim
    }

    /// The provisioned stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The SDK clients on moto.
    pub fn clients(&self) -> &AwsClients {
        &self.clients
    }

    /// Simulated time now.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Stops the simulator and (if the runner started it) moto.
    pub async fn shutdown(self) {
        let Self { sim, moto, .. } = self;
        sim.shutdown().await;
        drop(moto);
    }
}

/// Orders per listing page: the adapter's largest, so a visit of the desk is one query per
/// seller (moto answers a query in time proportional to the table, not the page).
const ORDERS_PAGE: usize = 1000;

/// Every order of a seller in a status (all pages).
async fn all_orders(
    orders: &dyn OrderStore,
    seller: &SellerId,
    status: OrderStatus,
) -> Result<Vec<Order>, RunnerError> {
    let mut all = Vec::new();
    let mut page = None;
    loop {
        let (batch, next) = orders
            .orders_by_status(seller, status, page, ORDERS_PAGE)
            .await?;
        all.extend(batch);
        match next {
            Some(token) => page = Some(token),
            None => return Ok(all),
        }
    }
}

fn table_name(stack: &Stack, logical_id: &str) -> Result<String, RunnerError> {
    stack
        .table(logical_id)
        .map(|t| t.name.clone())
        .ok_or_else(|| RunnerError::Stack(format!("the template has no {logical_id}").into()))
}

/// Registers a scenario seller as an operator would: account in the registry, LWA
/// credentials in Secrets Manager.
async fn register_seller(
    clients: &AwsClients,
    registry: &DynamoJobStore,
    seller: &spsync_sim::scenario::SellerSpec,
) -> Result<(), RunnerError> {
    let regions: BTreeSet<&str> = seller
        .marketplace_ids
        .iter()
        .map(|m| region_of(m).unwrap_or("unknown"))
        .collect();
    let region = match regions.into_iter().collect::<Vec<_>>()[..] {
        [r] if r != "unknown" => r.to_owned(),
        _ => {
            return Err(RunnerError::Scenario {
                path: "scenario".into(),
                reason: format!(
                    "seller {}: its marketplaces must all be known and in one SP-API region",
                    seller.seller_id
                ),
            });
        }
    };
    let secret = seller_secret_name(&seller.seller_id);
    let value = json!({
        "client_id": seller.credentials.client_id,
        "client_secret": seller.credentials.client_secret,
        "refresh_token": seller.credentials.refresh_token,
    })
    .to_string();
    let sm = &clients.secretsmanager;
    match sm
        .create_secret()
        .name(&secret)
        .secret_string(&value)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            sm.put_secret_value()
                .secret_id(&secret)
                .secret_string(&value)
                .send()
                .await
                .map_err(|e| aws_error("PutSecretValue", e))?;
        }
        Err(e) => return Err(aws_error("CreateSecret", e)),
    }
    registry
        .put_seller(&SellerAccount {
            seller_id: SellerId::new(&seller.seller_id),
            marketplaces: seller
                .marketplace_ids
                .iter()
                .map(MarketplaceId::new)
                .collect(),
            region,
            credentials_secret: secret,
            enabled: true,
        })
        .await?;
    Ok(())
}

/// The event EventBridge sends a rule without `Input`.
fn scheduled_event(rule: &str, now: OffsetDateTime) -> Value {
    json!({
        "version": "0",
        "id": format!("local-{}", now.unix_timestamp()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": rfc3339(now),
        "region": LOCAL_REGION,
        "resources": [format!("arn:aws:events:{LOCAL_REGION}:123456789012:rule/{rule}")],
        "detail": {}
    })
}

/// Runs one invocation as Lambda would: within the function's timeout, a panic contained
/// (reported as a failed invocation).
async fn guarded<T>(
    timeout: Duration,
    invocation: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    use futures::FutureExt;
    match tokio::time::timeout(
        timeout,
        std::panic::AssertUnwindSafe(invocation).catch_unwind(),
    )
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err("panicked".to_owned()),
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

/// Writes `bytes` to `path`, creating its directory.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunnerError> {
    let io = |source| RunnerError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_scenario_loads_and_its_sellers_map_to_regions() {
        let scenario = load_scenario(None).unwrap();
        let ids: Vec<&str> = scenario
            .sellers
            .iter()
            .map(|s| s.seller_id.as_str())
            .collect();
        assert_eq!(ids, ["A1SIMSELLER0001", "A2SIMSELLEREU01"]);
        for s in &scenario.sellers {
            assert!(s.marketplace_ids.iter().all(|m| region_of(m).is_some()));
        }
    }

    #[test]
    fn a_gzip_report_file_is_unpacked_and_served_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("r.txt");
        let packed = dir.path().join("r.txt.gz");
        std::fs::write(&plain, b"amazon-order-id\tpurchase-date\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"amazon-order-id\tpurchase-date\n").unwrap();
        std::fs::write(&packed, gz.finish().unwrap()).unwrap();

        let a = load_report_document(&plain, "Cp1252").unwrap();
        let b = load_report_document(&packed, "UTF-8").unwrap();

        assert!(!a.gzip && b.gzip);
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.charset, "Cp1252");
        assert!(load_report_document(&dir.path().join("missing"), "UTF-8").is_err());
    }

    fn route(method: Option<&str>, path: Option<&str>) -> HttpRoute {
        HttpRoute {
            function: "shipments-api".into(),
            method: method.map(str::to_owned),
            path: path.map(str::to_owned),
        }
    }

    #[test]
    fn requests_take_the_most_specific_route_with_its_parameters() {
        let routes = [
            route(Some("POST"), Some("/sellers/{sellerId}/shipments")),
            route(Some("GET"), Some("/sellers/{sellerId}/shipments")),
            route(
                Some("PATCH"),
                Some("/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}"),
            ),
            route(
                Some("ANY"),
                Some("/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}"),
            ),
            route(
                Some("GET"),
                Some("/sellers/{sellerId}/orders/{orderId}/shipments/{rest+}"),
            ),
            route(None, None),
        ];
        let key = |method: &str, path: &str| {
            let m = match_route(&routes, method, path).unwrap();
            (m.route.key(), m.parameters)
        };

        let (k, p) = key("POST", "/sellers/A1/shipments");
        assert_eq!(k, "POST /sellers/{sellerId}/shipments");
        assert_eq!(p["sellerId"], "A1");
        let (k, p) = key("PATCH", "/sellers/A1/orders/111-1/shipments/PKG-1");
        assert_eq!(
            k,
            "PATCH /sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}"
        );
        assert_eq!(
            (p["orderId"].as_str(), p["shipmentId"].as_str()),
            ("111-1", "PKG-1")
        );
        // ANY takes a method no route names; a literal-less greedy route loses to it.
        let (k, _) = key("GET", "/sellers/A1/orders/111-1/shipments/PKG-1");
        assert_eq!(
            k,
            "ANY /sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}"
        );
        let (k, p) = key("GET", "/sellers/A1/orders/111-1/shipments/PKG-1/requeue");
        assert_eq!(
            k,
            "GET /sellers/{sellerId}/orders/{orderId}/shipments/{rest+}"
        );
        assert_eq!(p["rest"], "PKG-1/requeue");
        // Nothing else: the $default route.
        assert_eq!(key("DELETE", "/sellers/A1/shipments").0, "$default");
        assert_eq!(key("GET", "/elsewhere").0, "$default");
        assert!(match_route(&routes[..2], "GET", "/sellers//shipments").is_none());
        assert!(match_route(&routes[..2], "PUT", "/sellers/A1/shipments").is_none());
    }

    #[test]
    fn a_built_request_is_what_api_gateway_sends() {
        let request = http_request(
            Method::GET,
            "/sellers/A1/shipments?state=Confirmed&limit=5",
            None,
        );
        assert_eq!(request.raw_path.as_deref(), Some("/sellers/A1/shipments"));
        assert_eq!(
            request.query_string_parameters.first("state"),
            Some("Confirmed")
        );
        assert_eq!(request.request_context.http.method, Method::GET);
        assert!(request.headers.get(CONTENT_TYPE).is_none());

        let post = http_request(Method::POST, "/sellers/A1/shipments", Some("{}".into()));
        assert_eq!(post.headers[CONTENT_TYPE], "application/json");
        assert_eq!(post.body.as_deref(), Some("{}"));
        assert_eq!(post.raw_query_string.as_deref(), Some(""));

        let (status, text) = response_text(&gateway_response(500, "Internal Server Error"));
        assert_eq!(
            (status, text.as_str()),
            (500, r#"{"message":"Internal Server Error"}"#)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_or_slow_invocation_fails_like_lambda() {
        let panicked: Result<(), String> = guarded(Duration::from_secs(5), async {
            panic!("boom");
        })
        .await;
        assert_eq!(panicked, Err("panicked".to_owned()));
        let slow: Result<(), String> = guarded(Duration::from_millis(10), async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })
        .await;
        assert_eq!(slow, Err("timed out after 10ms".to_owned()));
        assert_eq!(
            guarded(Duration::from_secs(1), async { Ok(7) }).await,
            Ok(7)
        );
    }
}
