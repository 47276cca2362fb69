//! The `spsync` operator CLI's commands, over the workflow's ports (DynamoDB in use,
//! in-memory stores in tests).
//!
//! Buyer and recipient details are personal data: `orders show` masks them unless asked
//! with `--show-pii`, and `orders list` never prints them.
//!
//! The `shipments` commands run through [`ShipmentsOperator`] (they need the shipments table
//! and a clock) and answer a [`CommandOutput`] that says whether the command failed, so that
//! a shipment with problems, or a CSV import with a failed row, exits non-zero after printing
//! every problem. [`parse_shipments_csv`] is the import's pure part.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use serde_json::{Value, json};
use spsync_domain::{
    Address, AmazonOrderId, Correction, MarketplaceId, OTHER_CARRIER_CODE, Order, OrderStatus,
    SellerId, Shipment, ShipmentItem, ShipmentProblem, ShipmentRequest, ShipmentState,
};
use spsync_workflow::{
    Clock, JobStore, OrderStore, RecordError, SellerAccount, SellerDirectory, ShipmentPorts,
    ShipmentStore, correct_shipment, record_shipment, requeue_shipment,
};
use time::OffsetDateTime;

use crate::cli::{
    JobsCommand, JobsList, OperatorArgs, OperatorCommand, OrdersCommand, OrdersList, OrdersShow,
    SellersAdd, SellersCommand, ShipmentRef, ShipmentsAdd, ShipmentsCommand, ShipmentsCorrect,
    ShipmentsImport, ShipmentsList, parse_ship_date,
};
use crate::error::RunnerError;
use crate::summary::rfc3339;
use crate::table;

/// Environment variable naming the jobs table (the stack's `JobsTableName` output).
pub const ENV_JOBS_TABLE: &str = "JOBS_TABLE_NAME";
/// Environment variable naming the orders table (the stack's `OrdersTableName` output).
pub const ENV_ORDERS_TABLE: &str = "ORDERS_TABLE_NAME";
/// Environment variable naming the shipments table (the stack's `ShipmentsTableName`
/// output); only the `shipments` commands need it.
pub const ENV_SHIPMENTS_TABLE: &str = "SHIPMENTS_TABLE_NAME";

/// Where the CLI finds the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorEnv {
    /// Jobs table name.
    pub jobs_table: String,
    /// Orders table name.
    pub orders_table: String,
}

impl OperatorEnv {
    /// Reads the table names through `lookup` (the process environment in the binary).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RunnerError> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(RunnerError::MissingEnv(name))
        };
        Ok(Self {
            jobs_table: get(ENV_JOBS_TABLE)?,
            orders_table: get(ENV_ORDERS_TABLE)?,
        })
    }

    /// The shipments table's name, read through `lookup` (only the `shipments` commands need
    /// it, so a stack from before issue 4 still serves the other commands).
    pub fn shipments_table(lookup: impl Fn(&str) -> Option<String>) -> Result<String, RunnerError> {
        lookup(ENV_SHIPMENTS_TABLE)
            .filter(|v| !v.trim().is_empty())
            .ok_or(RunnerError::MissingEnv(ENV_SHIPMENTS_TABLE))
    }
}

/// The stores the commands read and write.
pub struct Operator<'a> {
    /// Seller registry.
    pub sellers: &'a dyn SellerDirectory,
    /// Jobs.
    pub jobs: &'a dyn JobStore,
    /// Orders.
    pub orders: &'a dyn OrderStore,
}

impl Operator<'_> {
    /// Runs one command and returns what to print.
    pub async fn run(&self, args: &OperatorArgs) -> Result<String, RunnerError> {
        match &args.command {
            OperatorCommand::Orders(OrdersCommand::List(list)) => {
                self.orders_list(list, args.json).await
            }
            OperatorCommand::Orders(OrdersCommand::Show(show)) => {
                self.orders_show(show, args.json).await
            }
            OperatorCommand::Jobs(JobsCommand::List(list)) => self.jobs_list(list, args.json).await,
            OperatorCommand::Sellers(SellersCommand::List) => self.sellers_list(args.json).await,
            OperatorCommand::Sellers(SellersCommand::Add(add)) => {
                self.sellers_add(add, args.json).await
            }
            OperatorCommand::Shipments(_) => Err(RunnerError::NotFound(
                "the shipments commands run through ShipmentsOperator (they need the shipments \
                 table)"
                    .into(),
            )),
        }
    }

    async fn seller_ids(&self, only: Option<&str>) -> Result<Vec<SellerId>, RunnerError> {
        Ok(match only {
            Some(s) => vec![SellerId::new(s)],
            None => self
                .sellers
                .sellers()
                .await?
                .into_iter()
                .map(|a| a.seller_id)
                .collect(),
        })
    }

    async fn orders_list(&self, list: &OrdersList, json: bool) -> Result<String, RunnerError> {
        let statuses: Vec<OrderStatus> = match list.status {
            Some(s) => vec![s],
            None => OrderStatus::ALL.to_vec(),
        };
        let mut found: Vec<Order> = Vec::new();
        'sellers: for seller in self.seller_ids(list.seller.as_deref()).await? {
            for &status in &statuses {
                let mut page = None;
                loop {
                    let left = list.limit.saturating_sub(found.len());
                    if left == 0 {
                        break 'sellers;
                    }
                    let (batch, next) = self
                        .orders
                        .orders_by_status(&seller, status, page, left.min(100))
                        .await?;
                    found.extend(batch.into_iter().take(left));
                    match next {
                        Some(token) => page = Some(token),
                        None => break,
                    }
                }
            }
        }
        let rows: Vec<OrderRow> = found.iter().map(OrderRow::of).collect();
        if json {
            return to_json(&rows);
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.seller_id.clone(),
                    r.amazon_order_id.clone(),
                    r.status.clone(),
                    r.amazon_status.clone(),
                    r.channel.clone(),
                    r.purchase_date.clone(),
                    r.items.to_string(),
                    if r.missing.is_empty() {
                        "-".to_owned()
                    } else {
                        r.missing.join(",")
                    },
                ]
            })
            .collect();
        Ok(format!(
            "{}{} orders\n",
            table::render(
                &[
                    "seller",
                    "order",
                    "status",
                    "amazon",
                    "channel",
                    "purchased",
                    "items",
                    "missing"
                ],
                &cells
            ),
            rows.len()
        ))
    }

    async fn orders_show(&self, show: &OrdersShow, json: bool) -> Result<String, RunnerError> {
        let id = AmazonOrderId::new(&show.id);
        let mut order = None;
        for seller in self.seller_ids(show.seller.as_deref()).await? {
            if let Some(o) = self.orders.get_order(&seller, &id).await? {
                order = Some(o);
                break;
            }
        }
        let mut order =
            order.ok_or_else(|| RunnerError::NotFound(format!("order {id} not found")))?;
        if !show.show_pii {
            mask_order(&mut order);
        }
        if json {
            return to_json(&order);
        }
        Ok(render_order(&order, show.show_pii))
    }

    async fn jobs_list(&self, list: &JobsList, json: bool) -> Result<String, RunnerError> {
        let accounts: Vec<SellerAccount> = match &list.seller {
            Some(s) => {
                let seller = SellerId::new(s);
                match self.sellers.seller(&seller).await? {
                    Some(a) => vec![a],
                    None => match &list.marketplace {
                        // an unregistered seller can still have jobs when a marketplace is named
                        Some(_) => vec![SellerAccount {
                            seller_id: seller,
                            marketplaces: Vec::new(),
                            region: String::new(),
                            credentials_secret: String::new(),
                            enabled: false,
                        }],
                        None => {
                            return Err(RunnerError::NotFound(format!(
                                "seller {s} is not registered"
                            )));
                        }
                    },
                }
            }
            None => self.sellers.sellers().await?,
        };
        let mut jobs = Vec::new();
        for account in &accounts {
            let marketplaces = match &list.marketplace {
                Some(m) => vec![MarketplaceId::new(m)],
                None => account.marketplaces.clone(),
            };
            for m in &marketplaces {
                jobs.extend(
                    self.jobs
                        .recent_jobs(&account.seller_id, m, list.limit)
                        .await?,
                );
            }
        }
        if json {
            return to_json(&jobs);
        }
        let cells: Vec<Vec<String>> = jobs
            .iter()
            .map(|j| {
                vec![
                    j.seller_id.to_string(),
                    j.marketplace_id.to_string(),
                    j.job_id.to_string(),
                    j.state.as_str().to_owned(),
                    j.report_id.clone().unwrap_or_else(|| "-".into()),
                    j.polls.to_string(),
                    rfc3339(j.created_at),
                    j.stats
                        .as_ref()
                        .map_or_else(|| "-".into(), |s| s.orders.to_string()),
                    j.failure.clone().unwrap_or_default(),
                ]
            })
            .collect();
        Ok(format!(
            "{}{} jobs\n",
            table::render(
                &[
                    "seller",
                    "marketplace",
                    "job",
                    "state",
                    "report",
                    "polls",
                    "created",
                    "orders",
                    "failure"
                ],
                &cells
            ),
            jobs.len()
        ))
    }

    async fn sellers_list(&self, json: bool) -> Result<String, RunnerError> {
        let sellers = self.sellers.sellers().await?;
        if json {
            return to_json(&sellers);
        }
        let cells: Vec<Vec<String>> = sellers
            .iter()
            .map(|s| {
                vec![
                    s.seller_id.to_string(),
                    s.marketplaces
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    s.region.clone(),
                    s.credentials_secret.clone(),
                    if s.enabled { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        Ok(format!(
            "{}{} sellers\n",
            table::render(
                &["seller", "marketplaces", "region", "secret", "enabled"],
                &cells
            ),
            sellers.len()
        ))
    }

    async fn sellers_add(&self, add: &SellersAdd, json: bool) -> Result<String, RunnerError> {
        let account = SellerAccount {
            seller_id: SellerId::new(&add.seller),
            marketplaces: add.marketplaces.iter().map(MarketplaceId::new).collect(),
            region: add.region.clone(),
            credentials_secret: add.secret.clone(),
            enabled: !add.disabled,
        };
        self.sellers.put_seller(&account).await?;
        if json {
            return to_json(&account);
        }
        Ok(format!(
            "registered seller {} ({} marketplaces, region {}, credentials in {})\n",
            account.seller_id,
            account.marketplaces.len(),
            account.region,
            account.credentials_secret
        ))
    }
}

/// One line of `orders list` (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct OrderRow {
    seller_id: String,
    amazon_order_id: String,
    status: String,
    amazon_status: String,
    channel: String,
    purchase_date: String,
    items: u32,
    missing: Vec<&'static str>,
}

impl OrderRow {
    fn of(o: &Order) -> Self {
        let m = o.missing();
        let missing = [
            (m.buyer_name, "buyer_name"),
            (m.buyer_email, "buyer_email"),
            (m.phone, "phone"),
            (m.recipient_address, "recipient_address"),
            (m.order_item_ids, "order_item_ids"),
        ]
        .into_iter()
        .filter_map(|(is, name)| is.then_some(name))
        .collect();
        Self {
            seller_id: o.seller_id.to_string(),
            amazon_order_id: o.amazon_order_id.to_string(),
            status: o.status.as_str().to_owned(),
            amazon_status: o.amazon_status.as_str().to_owned(),
            channel: if o.is_fba() { "FBA" } else { "MFN" }.to_owned(),
            purchase_date: rfc3339(o.purchase_date),
            items: o.lines.iter().map(|l| l.quantity).sum(),
            missing,
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, RunnerError> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| RunnerError::NotFound(format!("cannot encode JSON: {e}")))
}

/// Masks a value: its first character, then `***`.
fn mask(value: &str) -> String {
    match value.chars().next() {
        Some(c) => format!("{c}***"),
        None => String::new(),
    }
}

/// Masks an email's local part, keeping the domain (Amazon's relay domain tells the
/// operator it is a relay address).
fn mask_email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", mask(local)),
        None => mask(value),
    }
}

fn mask_address(a: &mut Address) {
    let m = |v: &mut Option<String>| {
        if let Some(s) = v {
            *s = mask(s);
        }
    };
    m(&mut a.name);
    m(&mut a.phone);
    m(&mut a.postal_code);
    for line in &mut a.lines {
        *line = mask(line);
    }
}

/// Masks the buyer's and recipient's personal data in place.
pub fn mask_order(order: &mut Order) {
    if let Some(n) = &mut order.buyer.name {
        *n = mask(n);
    }
    if let Some(e) = &mut order.buyer.email {
        *e = mask_email(e);
    }
    if let Some(p) = &mut order.buyer.phone {
        *p = mask(p);
    }
    mask_address(&mut order.ship_to);
    if let Some(r) = &mut order.recipient {
        mask_address(r);
    }
}

fn render_order(o: &Order, pii: bool) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
    let address = |a: &Address| -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(a.name.iter().cloned());
        parts.extend(a.lines.iter().cloned());
        parts.extend(
            [&a.postal_code, &a.city, &a.state, &a.country]
                .into_iter()
                .flatten()
                .cloned(),
        );
        parts.extend(a.phone.iter().map(|p| format!("tel {p}")));
        if parts.is_empty() {
            "(none)".to_owned()
        } else {
            parts.join(", ")
        }
    };
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&format!("{k:<18} {v}\n"));
    field("order", o.amazon_order_id.to_string());
    field("seller", o.seller_id.to_string());
    field("marketplace", o.marketplace_id.to_string());
    field("status", o.status.as_str().to_owned());
    field("amazon status", o.amazon_status.as_str().to_owned());
    field(
        "channel",
        if o.is_fba() {
            "FBA (never offered for fulfilment)".to_owned()
        } else {
            "MFN".to_owned()
        },
    );
    field("purchased", rfc3339(o.purchase_date));
    field("last updated", rfc3339(o.last_updated));
    field("ship service", opt(&o.ship_service_level));
    field("buyer name", opt(&o.buyer.name));
    field("buyer email", opt(&o.buyer.email));
    field("buyer phone", opt(&o.buyer.phone));
    field("ship to (report)", address(&o.ship_to));
    field(
        "recipient",
        o.recipient
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), address),
    );
    field("version", o.version.to_string());
    let missing = OrderRow::of(o).missing;
    field(
        "missing",
        if missing.is_empty() {
            "nothing".to_owned()
        } else {
            missing.join(", ")
        },
    );
    let mut lines = String::new();
    for l in &o.lines {
        let item: Value = json!({
            "sku": l.sku, "asin": l.asin, "quantity": l.quantity,
            "order_item_id": l.order_item_id, "price": l.item_price.map(|p| p.to_string()),
        });
        lines.push_str(&format!("  {item}\n"));
    }
    out.push_str("items\n");
    out.push_str(&lines);
    if !pii {
        out.push_str("(buyer and recipient details masked; --show-pii to see them)\n");
    }
    out
}

/// What a `shipments` command prints, and whether it failed (the CLI then exits non-zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// What to print.
    pub text: String,
    /// A shipment was not recorded or changed (problems, conflict, unknown order), or an
    /// import had a failed row.
    pub failed: bool,
}

impl CommandOutput {
    fn ok(text: String) -> Self {
        Self {
            text,
            failed: false,
        }
    }

    fn failed(text: String) -> Self {
        Self { text, failed: true }
    }
}

/// The clock and stores the `shipments` commands use.
pub struct ShipmentsOperator<'a> {
    /// Now (ship date `now`, the future-date check).
    pub clock: &'a dyn Clock,
    /// Orders (shipments are checked against them).
    pub orders: &'a dyn OrderStore,
    /// Shipments.
    pub shipments: &'a dyn ShipmentStore,
}

/// `source` of the shipments the CLI records one by one.
pub const CLI_SOURCE: &str = "cli";
/// `source` of the shipments a CSV import records.
pub const CSV_SOURCE: &str = "csv";

impl ShipmentsOperator<'_> {
    /// Runs one `shipments` command. Store failures are errors; a shipment the checks refuse
    /// is a failed [`CommandOutput`] listing every problem.
    pub async fn run(
        &self,
        command: &ShipmentsCommand,
        json: bool,
    ) -> Result<CommandOutput, RunnerError> {
        match command {
            ShipmentsCommand::Add(add) => self.add(add, json).await,
            ShipmentsCommand::Import(import) => self.import(import, json).await,
            ShipmentsCommand::List(list) => self.list(list, json).await,
            ShipmentsCommand::Correct(correct) => self.correct(correct, json).await,
            ShipmentsCommand::Requeue(shipment) => self.requeue(shipment, json).await,
        }
    }

    fn ports(&self) -> ShipmentPorts<'_> {
        ShipmentPorts {
            clock: self.clock,
            orders: self.orders,
            shipments: self.shipments,
        }
    }

    async fn add(&self, add: &ShipmentsAdd, json: bool) -> Result<CommandOutput, RunnerError> {
        let request = ShipmentRequest {
            amazon_order_id: AmazonOrderId::new(&add.order),
            carrier: add.carrier.clone(),
            tracking_number: add.tracking.clone(),
            ship_date: add.ship_date.resolve(self.clock.now()),
            ship_method: add.ship_method.clone(),
            items: add.items.clone(),
        };
        let seller = SellerId::new(&add.seller);
        match record_shipment(
            &self.ports(),
            &seller,
            add.id.as_deref(),
            &request,
            CLI_SOURCE,
        )
        .await
        {
            Ok(recorded) => {
                if json {
                    return to_json(&recorded.shipment).map(CommandOutput::ok);
                }
                let what = if recorded.created {
                    "recorded"
                } else {
                    "already recorded (the same shipment under this id; nothing written)"
                };
                Ok(CommandOutput::ok(format!(
                    "shipment {} {what}\n{}",
                    recorded.shipment.reference(),
                    render_shipment(&recorded.shipment)
                )))
            }
            Err(e) => refused("not recorded", e, json),
        }
    }

    async fn correct(
        &self,
        correct: &ShipmentsCorrect,
        json: bool,
    ) -> Result<CommandOutput, RunnerError> {
        let r = &correct.shipment;
        let correction = Correction {
            carrier: correct.carrier.clone(),
            tracking_number: correct.tracking.clone(),
            ship_method: correct.ship_method.clone(),
            ship_date: None,
            items: None,
        };
        let result = correct_shipment(
            &self.ports(),
            &SellerId::new(&r.seller),
            &AmazonOrderId::new(&r.order),
            &r.id,
            &correction,
        )
        .await;
        self.changed("corrected", result, json)
    }

    async fn requeue(&self, r: &ShipmentRef, json: bool) -> Result<CommandOutput, RunnerError> {
        let result = requeue_shipment(
            &self.ports(),
            &SellerId::new(&r.seller),
            &AmazonOrderId::new(&r.order),
            &r.id,
        )
        .await;
        self.changed("requeued", result, json)
    }

    fn changed(
        &self,
        what: &str,
        result: Result<Shipment, RecordError>,
        json: bool,
    ) -> Result<CommandOutput, RunnerError> {
        match result {
            Ok(shipment) if json => to_json(&shipment).map(CommandOutput::ok),
            Ok(shipment) => Ok(CommandOutput::ok(format!(
                "shipment {} {what}\n{}",
                shipment.reference(),
                render_shipment(&shipment)
            ))),
            Err(e) => refused(&format!("not {what}"), e, json),
        }
    }

    async fn list(&self, list: &ShipmentsList, json: bool) -> Result<CommandOutput, RunnerError> {
        let seller = SellerId::new(&list.seller);
        let mut found: Vec<Shipment> = Vec::new();
        if let Some(order) = &list.order {
            found = self
                .shipments
                .shipments_of_order(&seller, &AmazonOrderId::new(order))
                .await?;
            if let Some(state) = &list.state {
                found.retain(|s| s.state.name() == state);
            }
            found.truncate(list.limit);
        } else {
            let states: Vec<&str> = match &list.state {
                Some(s) => vec![s.as_str()],
                None => ShipmentState::NAMES.to_vec(),
            };
            'states: for state in states {
                let mut page = None;
                loop {
                    let left = list.limit.saturating_sub(found.len());
                    if left == 0 {
                        break 'states;
                    }
                    let (batch, next) = self
                        .shipments
                        .shipments_in_state(&seller, state, page, left.min(100))
                        .await?;
                    found.extend(batch.into_iter().take(left));
                    match next {
                        Some(token) => page = Some(token),
                        None => break,
                    }
                }
            }
        }
        if json {
            return to_json(&found).map(CommandOutput::ok);
        }
        let cells: Vec<Vec<String>> = found.iter().map(shipment_cells).collect();
        Ok(CommandOutput::ok(format!(
            "{}{} shipments\n",
            table::render(
                &[
                    "order",
                    "shipment",
                    "state",
                    "carrier",
                    "tracking",
                    "ship date",
                    "items",
                    "rev",
                    "confirm s",
                    "amazon says",
                ],
                &cells
            ),
            found.len()
        )))
    }

    async fn import(
        &self,
        import: &ShipmentsImport,
        json: bool,
    ) -> Result<CommandOutput, RunnerError> {
        let path = import.file.display().to_string();
        let file = std::fs::File::open(&import.file).map_err(|source| RunnerError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = match parse_shipments_csv(file, self.clock.now()) {
            Ok(entries) => entries,
            Err(e) => {
                return Ok(CommandOutput::failed(format!("{path}: {e}\n")));
            }
        };
        let seller = SellerId::new(&import.seller);
        let mut results: Vec<ImportResult> = Vec::new();
        for entry in entries {
            let result = match entry {
                Err(e) => ImportResult {
                    line: e.line,
                    shipment: None,
                    outcome: ImportOutcome::Failed,
                    problems: vec![e.message],
                },
                Ok(csv) => {
                    let outcome = record_shipment(
                        &self.ports(),
                        &seller,
                        csv.shipment_id.as_deref(),
                        &csv.request,
                        CSV_SOURCE,
                    )
                    .await;
                    let named = |id: &str| format!("{}/{id}", csv.request.amazon_order_id);
                    match outcome {
                        Ok(r) => ImportResult {
                            line: csv.line,
                            shipment: Some(r.shipment.reference()),
                            outcome: if r.created {
                                ImportOutcome::Recorded
                            } else {
                                ImportOutcome::AlreadyRecorded
                            },
                            problems: Vec::new(),
                        },
                        Err(e) => ImportResult {
                            line: csv.line,
                            shipment: csv.shipment_id.as_deref().map(named),
                            outcome: ImportOutcome::Failed,
                            problems: problems_of(&e),
                        },
                    }
                }
            };
            results.push(result);
        }
        let count = |o: ImportOutcome| results.iter().filter(|r| r.outcome == o).count();
        let (recorded, already, failed) = (
            count(ImportOutcome::Recorded),
            count(ImportOutcome::AlreadyRecorded),
            count(ImportOutcome::Failed),
        );
        let text = if json {
            to_json(&json!({
                "results": results,
                "recorded": recorded,
                "already_recorded": already,
                "failed": failed,
            }))?
        } else {
            let mut out = String::new();
            for r in &results {
                let name = r.shipment.as_deref().unwrap_or("-");
                match r.outcome {
                    ImportOutcome::Recorded => {
                        out.push_str(&format!("line {}: recorded {name}\n", r.line));
                    }
                    ImportOutcome::AlreadyRecorded => {
                        out.push_str(&format!("line {}: already recorded {name}\n", r.line));
                    }
                    ImportOutcome::Failed => {
                        out.push_str(&format!("line {}: not recorded {name}\n", r.line));
                        for p in &r.problems {
                            out.push_str(&format!("  {p}\n"));
                        }
                    }
                }
            }
            out.push_str(&format!(
                "{} shipments: {recorded} recorded, {already} already recorded, {failed} failed\n",
                results.len()
            ));
            out
        };
        Ok(CommandOutput {
            text,
            failed: failed > 0,
        })
    }
}

/// What happened to one shipment of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum ImportOutcome {
    Recorded,
    AlreadyRecorded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
struct ImportResult {
    line: u64,
    shipment: Option<String>,
    outcome: ImportOutcome,
    problems: Vec<String>,
}

/// Every problem of a refused recording or change, one per line (`field: message`).
fn problems_of(e: &RecordError) -> Vec<String> {
    match e {
        RecordError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}

/// A refused recording or change: every problem printed, the command failed. Store failures
/// stay errors (retrying may work; the problems would not).
fn refused(what: &str, e: RecordError, json: bool) -> Result<CommandOutput, RunnerError> {
    if let RecordError::Store(e) = e {
        return Err(RunnerError::Store(e));
    }
    if json {
        let problems: Vec<ShipmentProblem> = match &e {
            RecordError::Invalid(p) => p.clone(),
            _ => Vec::new(),
        };
        return to_json(&json!({
            "error": e.to_string(),
            "problems": problems,
        }))
        .map(CommandOutput::failed);
    }
    let mut text = format!("shipment {what}:\n");
    for p in problems_of(&e) {
        text.push_str(&format!("  {p}\n"));
    }
    Ok(CommandOutput::failed(text))
}

fn carrier_text(s: &Shipment) -> String {
    if s.details.carrier_code == OTHER_CARRIER_CODE {
        format!("Other ({})", s.details.carrier_name)
    } else {
        s.details.carrier_code.clone()
    }
}

fn tracking_text(s: &Shipment) -> String {
    s.details
        .tracking_number
        .clone()
        .unwrap_or_else(|| "(none: hurts VTR)".to_owned())
}

fn items_text(items: &[ShipmentItem]) -> String {
    items
        .iter()
        .map(|i| format!("{}x{}", i.order_item_id, i.quantity))
        .collect::<Vec<_>>()
        .join(",")
}

/// What Amazon said, or why the shipment waits: a rejection's code and message, a hold's
/// reason, a warning on accepted lines.
fn amazon_says(s: &Shipment) -> String {
    match (&s.state, &s.warning) {
        (ShipmentState::Rejected { code, message, .. }, _) => format!("{code}: {message}"),
        (ShipmentState::Held { reason }, _) => format!("held: {reason}"),
        (_, Some((code, message))) => format!("warning {code}: {message}"),
        _ => String::new(),
    }
}

fn shipment_cells(s: &Shipment) -> Vec<String> {
    vec![
        s.amazon_order_id.to_string(),
        s.shipment_id.clone(),
        s.state.name().to_owned(),
        carrier_text(s),
        tracking_text(s),
        rfc3339(s.details.ship_date),
        items_text(&s.details.items),
        s.revision.to_string(),
        s.confirm_seconds
            .map_or_else(String::new, |c| c.to_string()),
        amazon_says(s),
    ]
}

fn render_shipment(s: &Shipment) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    field("shipment", s.reference());
    field("seller", s.seller_id.to_string());
    field("marketplace", s.marketplace_id.to_string());
    let state = match &s.state {
        ShipmentState::InFeed { feed_job } => format!("InFeed (feed job {feed_job})"),
        ShipmentState::Accepted { feed_id, .. } => format!("Accepted (feed {feed_id})"),
        ShipmentState::Confirmed { .. } => "Confirmed".to_owned(),
        ShipmentState::Rejected { feed_id, .. } => format!("Rejected (feed {feed_id})"),
        other => other.name().to_owned(),
    };
    field("state", state);
    let says = amazon_says(s);
    if !says.is_empty() {
        field("amazon says", says);
    }
    field(
        "carrier",
        format!("{} ({})", s.details.carrier_code, s.details.carrier_name),
    );
    field("tracking", tracking_text(s));
    field("ship date", rfc3339(s.details.ship_date));
    field(
        "ship method",
        s.details.ship_method.clone().unwrap_or_else(|| "-".into()),
    );
    field("items", items_text(&s.details.items));
    field("revision", s.revision.to_string());
    field("source", s.source.clone());
    field("recorded", rfc3339(s.recorded_at));
    if let Some(c) = s.confirm_seconds {
        field("confirmed in", format!("{c} s"));
    }
    out
}

/// The columns of a shipments CSV, one row per item; rows with the same order and shipment
/// id form one shipment, a row without shipment id is a shipment of its own.
pub const CSV_COLUMNS: [&str; 8] = [
    "order_id",
    "shipment_id",
    "order_item_id",
    "quantity",
    "carrier",
    "tracking_number",
    "ship_date",
    "ship_method",
];

/// Columns a shipments CSV must have (the others may be left out).
pub const CSV_REQUIRED: [&str; 5] = [
    "order_id",
    "order_item_id",
    "quantity",
    "carrier",
    "ship_date",
];

/// A shipment read from a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvShipment {
    /// Line of its first row (line 1 is the header).
    pub line: u64,
    /// The `shipment_id` column; `None`: generated when recorded.
    pub shipment_id: Option<String>,
    /// The shipment, unchecked.
    pub request: ShipmentRequest,
}

/// A row (or a shipment of several rows) that cannot be read as a shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRowError {
    /// Line of the (first) row.
    pub line: u64,
    /// What is wrong, naming the line of each problem when the shipment has several rows.
    pub message: String,
}

/// Why a shipments CSV cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvFileError {
    /// The header is missing columns, or names columns that are not shipment columns.
    #[error("line 1: {0}")]
    Header(String),
    /// The file cannot be read.
    #[error("{0}")]
    Read(#[source] csv::Error),
}

/// One row, read.
struct CsvRow {
    line: u64,
    item: ShipmentItem,
    carrier: String,
    tracking: Option<String>,
    ship_date: OffsetDateTime,
    ship_method: Option<String>,
}

/// The rows of one shipment (or one unreadable record).
struct CsvGroup {
    line: u64,
    order: String,
    shipment_id: Option<String>,
    /// Every row's line.
    lines: Vec<u64>,
    rows: Vec<CsvRow>,
    problems: Vec<(u64, String)>,
}

/// Reads a shipments CSV (header [`CSV_COLUMNS`], by name, any order; [`CSV_REQUIRED`]
/// must be there) into shipments, in the order of their first line. Rows with the same
/// `order_id` and `shipment_id` form one shipment (they must agree on carrier, tracking,
/// ship date and ship method); a row without `shipment_id` is a shipment of its own. A row
/// that cannot be read fails its whole shipment, reported with the line of each problem;
/// the other shipments are unaffected. Line numbers are the file's own, quoted line breaks
/// included. `ship_date` is RFC 3339 or `now`.
pub fn parse_shipments_csv(
    input: impl Read,
    now: OffsetDateTime,
) -> Result<Vec<Result<CsvShipment, CsvRowError>>, CsvFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader.headers().map_err(CsvFileError::Read)?.clone();
    let column: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let unknown: Vec<&str> = header.iter().filter(|h| !CSV_COLUMNS.contains(h)).collect();
    let missing: Vec<&str> = CSV_REQUIRED
        .into_iter()
        .filter(|c| !column.contains_key(c))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!("missing column(s) {}", missing.join(", ")));
        }
        if !unknown.is_empty() {
            why.push(format!("unknown column(s) {}", unknown.join(", ")));
        }
        return Err(CsvFileError::Header(format!(
            "{}; the columns are {}",
            why.join("; "),
            CSV_COLUMNS.join(",")
        )));
    }

    let mut groups: Vec<CsvGroup> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    return Err(CsvFileError::Read(e));
                }
                groups.push(CsvGroup {
                    line,
                    order: String::new(),
                    shipment_id: None,
                    lines: vec![line],
                    rows: Vec::new(),
                    problems: vec![(line, describe_csv_error(&e))],
                });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let order = cell(&record, &column, "order_id").to_owned();
        let shipment_id =
            Some(cell(&record, &column, "shipment_id").to_owned()).filter(|id| !id.is_empty());
        let (row, problems) = read_row(line, &record, &column, now);
        let new_group = || CsvGroup {
            line,
            order: order.clone(),
            shipment_id: shipment_id.clone(),
            lines: Vec::new(),
            rows: Vec::new(),
            problems: Vec::new(),
        };
        let index = match &shipment_id {
            Some(id) if !order.is_empty() => *by_key
                .entry((order.clone(), id.clone()))
                .or_insert_with(|| {
                    groups.push(new_group());
                    groups.len() - 1
                }),
            _ => {
                groups.push(new_group());
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        group.lines.push(line);
        if order.is_empty() {
            group.problems.push((line, "order_id is empty".into()));
        }
        group
            .problems
            .extend(problems.into_iter().map(|p| (line, p)));
        if let Some(row) = row {
            group.rows.push(row);
        }
    }
    Ok(groups.into_iter().map(finish_group).collect())
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_owned(),
        _ => e.to_string(),
    }
}

/// The cell of column `name` (empty when the file has no such column).
fn cell<'r>(record: &'r csv::StringRecord, column: &HashMap<&str, usize>, name: &str) -> &'r str {
    column
        .get(name)
        .and_then(|&i| record.get(i))
        .unwrap_or_default()
}

/// A row's item and shipment fields, or what is wrong with them.
fn read_row(
    line: u64,
    record: &csv::StringRecord,
    column: &HashMap<&str, usize>,
    now: OffsetDateTime,
) -> (Option<CsvRow>, Vec<String>) {
    let cell = |name: &str| cell(record, column, name);
    let mut problems = Vec::new();
    let order_item_id = cell("order_item_id");
    if order_item_id.is_empty() {
        problems.push("order_item_id is empty".to_owned());
    }
    let quantity = match cell("quantity").parse::<u32>() {
        Ok(q) => Some(q),
        Err(_) => {
            problems.push(format!(
                "quantity `{}` is not a whole number",
                cell("quantity")
            ));
            None
        }
    };
    let carrier = cell("carrier");
    if carrier.is_empty() {
        problems.push("carrier is empty".to_owned());
    }
    let ship_date = match parse_ship_date(cell("ship_date")) {
        Ok(d) => Some(d.resolve(now)),
        Err(e) => {
            problems.push(format!("ship_date: {e}"));
            None
        }
    };
    let (Some(quantity), Some(ship_date), true) = (quantity, ship_date, problems.is_empty()) else {
        return (None, problems);
    };
    let optional = |name: &str| Some(cell(name).to_owned()).filter(|v| !v.is_empty());
    let row = CsvRow {
        line,
        item: ShipmentItem {
            order_item_id: order_item_id.to_owned(),
            quantity,
        },
        carrier: carrier.to_owned(),
        tracking: optional("tracking_number"),
        ship_date,
        ship_method: optional("ship_method"),
    };
    (Some(row), problems)
}

fn finish_group(mut g: CsvGroup) -> Result<CsvShipment, CsvRowError> {
    if let Some(first) = g.rows.first() {
        for row in &g.rows[1..] {
            let mut differs = |what: &str, a: String, b: String| {
                if a != b {
                    g.problems.push((
                        row.line,
                        format!(
                            "{what} `{b}` differs from `{a}` on line {} of the same shipment",
                            first.line
                        ),
                    ));
                }
            };
            differs("carrier", first.carrier.clone(), row.carrier.clone());
            differs(
                "tracking_number",
                first.tracking.clone().unwrap_or_default(),
                row.tracking.clone().unwrap_or_default(),
            );
            differs(
                "ship_date",
                rfc3339(first.ship_date),
                rfc3339(row.ship_date),
            );
            differs(
                "ship_method",
                first.ship_method.clone().unwrap_or_default(),
                row.ship_method.clone().unwrap_or_default(),
            );
        }
    }
    if !g.problems.is_empty() {
        let several = g.lines.len() > 1;
        let message = g
            .problems
            .iter()
            .map(|(line, p)| {
                if several {
                    format!("line {line}: {p}")
                } else {
                    p.clone()
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(CsvRowError {
            line: g.line,
            message,
        });
    }
    let Some(first) = g.rows.first() else {
        return Err(CsvRowError {
            line: g.line,
            message: "no rows".to_owned(),
        });
    };
    Ok(CsvShipment {
        line: g.line,
        shipment_id: g.shipment_id,
        request: ShipmentRequest {
            amazon_order_id: AmazonOrderId::new(g.order),
            carrier: first.carrier.clone(),
            tracking_number: first.tracking.clone(),
            ship_date: first.ship_date,
            ship_method: first.ship_method.clone(),
            items: g.rows.iter().map(|r| r.item.clone()).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use spsync_domain::{AmazonOrderStatus, Buyer, FulfillmentChannel, OrderLine};
    use spsync_testkit::memory::{MemoryJobStore, MemoryOrderStore};
    use time::macros::datetime;

    use super::*;

    fn order(id: &str, status: OrderStatus, minute: u8) -> Order {
        let at = datetime!(2026-11-20 12:00 UTC) + time::Duration::minutes(minute.into());
        Order {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new(id),
            merchant_order_id: None,
            status,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: FulfillmentChannel::Merchant,
            purchase_date: at,
            last_updated: at,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![OrderLine {
                sku: Some("MUG".into()),
                asin: None,
                product_name: None,
                quantity: 2,
                item_status: None,
                item_price: None,
                order_item_id: None,
            }],
            ship_to: Address {
                city: Some("Seattle".into()),
                postal_code: Some("98101".into()),
                ..Default::default()
            },
            buyer: Buyer {
                name: Some("Jordan Rivera".into()),
                email: Some("k3v9x0example@marketplace.amazon.com".into()),
                phone: Some("+1 206-555-0142".into()),
            },
            recipient: Some(Address {
                name: Some("Jordan Rivera".into()),
                lines: vec!["120 Harbor Street".into()],
                ..Default::default()
            }),
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    async fn stores() -> (MemoryJobStore, MemoryOrderStore) {
        let jobs = MemoryJobStore::new();
        let orders = MemoryOrderStore::new();
        jobs.put_seller(&SellerAccount {
            seller_id: SellerId::new("A1"),
            marketplaces: vec![MarketplaceId::new("ATVPDKIKX0DER")],
            region: "na".into(),
            credentials_secret: "spsync/sellers/A1".into(),
            enabled: true,
        })
        .await
        .unwrap();
        for (i, status) in [OrderStatus::New, OrderStatus::New, OrderStatus::Canceled]
            .into_iter()
            .enumerate()
        {
            let id = format!("111-0000000-000000{i}");
            orders
                .put_order(&order(&id, status, i as u8), None)
                .await
                .unwrap();
        }
        (jobs, orders)
    }

    async fn run(jobs: &MemoryJobStore, orders: &MemoryOrderStore, argv: &[&str]) -> String {
        let op = Operator {
            sellers: jobs,
            jobs,
            orders,
        };
        let mut full = vec!["spsync"];
        full.extend_from_slice(argv);
        op.run(&OperatorArgs::try_parse_from(full).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn orders_list_filters_by_status_and_limit_and_never_prints_pii() {
        let (jobs, orders) = stores().await;

        let new = run(&jobs, &orders, &["orders", "list", "--status", "ORDER_NEW"]).await;
        let all = run(&jobs, &orders, &["orders", "list", "--json"]).await;
        let one = run(
            &jobs,
            &orders,
            &["orders", "list", "--limit", "1", "--json"],
        )
        .await;

        assert!(new.ends_with("2 orders\n"), "{new}");
        assert!(!new.contains("ORDER_CANCELED"));
        assert!(!new.contains("Jordan") && !new.contains("k3v9x0"));
        let all: Vec<Value> = serde_json::from_str(&all).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0]["missing"], json!(["order_item_ids"]));
        let one: Vec<Value> = serde_json::from_str(&one).unwrap();
        assert_eq!(one.len(), 1);
    }

    #[tokio::test]
    async fn orders_show_masks_pii_unless_asked() {
        let (jobs, orders) = stores().await;

        let masked = run(&jobs, &orders, &["orders", "show", "111-0000000-0000000"]).await;
        let json = run(
            &jobs,
            &orders,
            &["orders", "show", "111-0000000-0000000", "--json"],
        )
        .await;
        let clear = run(
            &jobs,
            &orders,
            &["orders", "show", "111-0000000-0000000", "--show-pii"],
        )
        .await;

        for out in [&masked, &json] {
            assert!(!out.contains("Jordan Rivera"), "{out}");
            assert!(!out.contains("120 Harbor"), "{out}");
            assert!(!out.contains("k3v9x0"), "{out}");
            assert!(!out.contains("555-0142"), "{out}");
            assert!(!out.contains("98101"), "{out}");
        }
        assert!(masked.contains("J***"));
        assert!(masked.contains("k***@marketplace.amazon.com"));
        assert!(masked.contains("Seattle"));
        assert!(clear.contains("Jordan Rivera") && clear.contains("120 Harbor Street"));
    }

    #[tokio::test]
    async fn an_unknown_order_is_an_error() {
        let (jobs, orders) = stores().await;
        let op = Operator {
            sellers: &jobs,
            jobs: &jobs,
            orders: &orders,
        };
        let args = OperatorArgs::try_parse_from(["spsync", "orders", "show", "nope"]).unwrap();
        assert!(matches!(op.run(&args).await, Err(RunnerError::NotFound(_))));
    }

    #[tokio::test]
    async fn sellers_add_then_list() {
        let (jobs, orders) = stores().await;

        run(
            &jobs,
            &orders,
            &[
                "sellers",
                "add",
                "--seller",
                "A2EU",
                "--marketplace",
                "A1F83G8C2ARO7P",
                "--marketplace",
                "A1PA6795UKMFR9",
                "--region",
                "eu",
                "--secret",
                "spsync/sellers/A2EU",
                "--disabled",
            ],
        )
        .await;
        let list = run(&jobs, &orders, &["sellers", "list"]).await;

        let stored = jobs.seller(&SellerId::new("A2EU")).await.unwrap().unwrap();
        assert_eq!(stored.marketplaces.len(), 2);
        assert!(!stored.enabled);
        assert!(list.contains("A1F83G8C2ARO7P,A1PA6795UKMFR9"), "{list}");
        assert!(list.ends_with("2 sellers\n"));
    }

    #[test]
    fn env_requires_both_table_names() {
        let err = OperatorEnv::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains(ENV_JOBS_TABLE), "{err}");
        let env = OperatorEnv::from_lookup(|k| Some(format!("t-{k}"))).unwrap();
        assert_eq!(env.orders_table, "t-ORDERS_TABLE_NAME");
    }
}

#[cfg(test)]
mod shipments_tests {
    use clap::Parser;
    use spsync_domain::{AmazonOrderStatus, Buyer, FulfillmentChannel, OrderLine};
    use spsync_testkit::ManualClock;
    use spsync_testkit::memory::MemoryOrderStore;
    use spsync_testkit::shipping::MemoryShipmentStore;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);
    const ORDER: &str = "111-0000001-0000001";
    const HEADER: &str =
        "order_id,shipment_id,order_item_id,quantity,carrier,tracking_number,ship_date,ship_method";

    fn item(id: &str, quantity: u32) -> ShipmentItem {
        ShipmentItem {
            order_item_id: id.into(),
            quantity,
        }
    }

    fn parse(text: &str) -> Vec<Result<CsvShipment, CsvRowError>> {
        parse_shipments_csv(text.as_bytes(), NOW).unwrap()
    }

    #[test]
    fn rows_of_one_order_and_shipment_id_form_one_shipment_and_blank_ids_one_each() {
        let csv = format!(
            "{HEADER}\n\
             111-1,PKG-1,OI-1,2,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,Ground\n\
             111-2,,OI-7,1,USPS,,now,\n\
             111-1,PKG-1,OI-2,1,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,Ground\n\
             111-2,,OI-8,1,USPS,,now,\n\
             111-3,PKG-1,OI-9,1,DHL,,2026-11-20T10:00:00Z,\n"
        );

        let parsed = parse(&csv);

        let shipments: Vec<CsvShipment> = parsed.into_iter().map(Result::unwrap).collect();
        assert_eq!(shipments.len(), 4);
        assert_eq!(shipments[0].line, 2);
        assert_eq!(shipments[0].shipment_id.as_deref(), Some("PKG-1"));
        assert_eq!(
            shipments[0].request.items,
            [item("OI-1", 2), item("OI-2", 1)]
        );
        assert_eq!(shipments[0].request.ship_method.as_deref(), Some("Ground"));
        assert_eq!(
            shipments[0].request.tracking_number.as_deref(),
            Some("1Z999AA10123456784")
        );
        assert_eq!(
            (shipments[1].line, shipments[2].line, shipments[3].line),
            (3, 5, 6)
        );
        assert_eq!(shipments[1].shipment_id, None);
        assert_eq!(shipments[1].request.items, [item("OI-7", 1)]);
        assert_eq!(shipments[1].request.ship_date, NOW, "`now`");
        assert_eq!(shipments[1].request.tracking_number, None);
        assert_eq!(shipments[2].request.items, [item("OI-8", 1)]);
        assert_eq!(
            shipments[3].request.amazon_order_id,
            AmazonOrderId::new("111-3"),
            "the same shipment id on another order is another shipment"
        );
    }

    #[test]
    fn line_numbers_count_quoted_line_breaks_and_bad_rows_fail_only_their_shipment() {
        let csv = format!(
            "{HEADER}\n\
             111-1,A,OI-1,1,UPS,,2026-11-20T09:00:00Z,\"Ground\nsecond line\nthird\"\n\
             111-1,B,OI-2,two,UPS,,2026-11-20T09:00:00Z,\n\
             111-1,C,OI-3,1,UPS,,2026-11-20T09:00:00Z\n\
             111-1,D,OI-4,1,UPS,,yesterday,\n\
             ,,OI-5,1,UPS,,now,\n\
             111-1,E,OI-6,1,UPS,,now,\n"
        );

        let parsed = parse(&csv);

        let lines: Vec<u64> = parsed
            .iter()
            .map(|r| match r {
                Ok(s) => s.line,
                Err(e) => e.line,
            })
            .collect();
        assert_eq!(lines, [2, 5, 6, 7, 8, 9]);
        assert!(parsed[0].is_ok());
        let errors: Vec<&str> = parsed[1..5]
            .iter()
            .map(|r| r.as_ref().unwrap_err().message.as_str())
            .collect();
        assert!(errors[0].contains("quantity `two`"), "{}", errors[0]);
        assert!(
            errors[1].contains("7 fields where the header has 8"),
            "{}",
            errors[1]
        );
        assert!(errors[2].contains("ship_date"), "{}", errors[2]);
        assert!(errors[3].contains("order_id is empty"), "{}", errors[3]);
        assert!(parsed[5].is_ok());
    }

    #[test]
    fn a_bad_row_fails_its_whole_shipment_and_rows_must_agree() {
        let csv = format!(
            "{HEADER}\n\
             111-1,PKG-1,OI-1,1,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n\
             111-1,PKG-1,OI-2,x,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n\
             111-1,PKG-2,OI-1,1,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n\
             111-1,PKG-2,OI-2,1,USPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n"
        );

        let parsed = parse(&csv);

        assert_eq!(parsed.len(), 2);
        let first = parsed[0].as_ref().unwrap_err();
        assert_eq!(first.line, 2);
        assert_eq!(first.message, "line 3: quantity `x` is not a whole number");
        let second = parsed[1].as_ref().unwrap_err();
        assert_eq!(second.line, 4);
        assert_eq!(
            second.message,
            "line 5: carrier `USPS` differs from `UPS` on line 4 of the same shipment"
        );
    }

    #[test]
    fn a_header_without_required_or_with_unknown_columns_is_refused() {
        for (header, expected) in [
            (
                "order_id,order_item_id,quantity,carrier",
                "missing column(s) ship_date",
            ),
            (
                "order_id,order_item_id,quantity,carrier,ship_date,tracking",
                "unknown column(s) tracking",
            ),
        ] {
            let err = parse_shipments_csv(format!("{header}\n").as_bytes(), NOW).unwrap_err();

            assert!(err.to_string().contains(expected), "{err}");
            assert!(err.to_string().starts_with("line 1:"), "{err}");
        }
        let minimal = parse("order_id,order_item_id,quantity,carrier,ship_date\n1,OI,1,UPS,now\n");
        assert!(minimal[0].is_ok());
    }

    // The commands, over the in-memory stores.

    struct World {
        clock: ManualClock,
        orders: MemoryOrderStore,
        shipments: MemoryShipmentStore,
    }

    async fn world() -> World {
        let orders = MemoryOrderStore::new();
        let placed = NOW - time::Duration::days(1);
        let line = |id: &str, quantity: u32| OrderLine {
            sku: None,
            asin: None,
            product_name: None,
            quantity,
            item_status: None,
            item_price: None,
            order_item_id: Some(id.into()),
        };
        let order = Order {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new(ORDER),
            merchant_order_id: None,
            status: OrderStatus::New,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: FulfillmentChannel::Merchant,
            purchase_date: placed,
            last_updated: placed,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![line("OI-1", 2), line("OI-2", 1)],
            ship_to: Address::default(),
            buyer: Buyer::default(),
            recipient: None,
            version: 1,
            created_at: placed,
            updated_at: placed,
        };
        orders.put_order(&order, None).await.unwrap();
        World {
            clock: ManualClock::new(NOW),
            orders,
            shipments: MemoryShipmentStore::new(),
        }
    }

    async fn run(w: &World, argv: &[&str]) -> CommandOutput {
        let mut full = vec!["spsync"];
        full.extend_from_slice(argv);
        let args = OperatorArgs::try_parse_from(full).unwrap();
        let OperatorCommand::Shipments(command) = &args.command else {
            panic!("a shipments command expected");
        };
        let op = ShipmentsOperator {
            clock: &w.clock,
            orders: &w.orders,
            shipments: &w.shipments,
        };
        op.run(command, args.json).await.unwrap()
    }

    fn add(extra: &[&'static str]) -> Vec<&'static str> {
        let mut argv = vec![
            "shipments",
            "add",
            "--seller",
            "A1",
            "--order",
            ORDER,
            "--carrier",
            "ups",
        ];
        argv.extend_from_slice(extra);
        argv
    }

    /// Amazon rejected it (as the feed flow records it).
    async fn reject(w: &World, id: &str) {
        let mut s = w
            .shipments
            .get_shipment(&SellerId::new("A1"), &AmazonOrderId::new(ORDER), id)
            .await
            .unwrap()
            .unwrap();
        let expected = s.version;
        s.version += 1;
        s.state = ShipmentState::Rejected {
            feed_id: "50001".into(),
            code: "18028".into(),
            message: "Tracking number not valid for the carrier".into(),
            rejected_at: NOW,
        };
        w.shipments.put_shipment(&s, Some(expected)).await.unwrap();
    }

    #[tokio::test]
    async fn shipments_add_prints_the_shipment_and_a_retry_records_nothing() {
        let w = world().await;
        let argv = add(&[
            "--tracking",
            "1Z999AA10123456784",
            "--ship-date",
            "now",
            "--item",
            "OI-1:2",
            "--id",
            "PKG-1",
        ]);

        let first = run(&w, &argv).await;
        let again = run(&w, &argv).await;

        assert!(!first.failed, "{}", first.text);
        assert!(
            first
                .text
                .starts_with(&format!("shipment {ORDER}/PKG-1 recorded"))
        );
        assert!(first.text.contains("1Z999AA10123456784"));
        assert!(!again.failed);
        assert!(again.text.contains("already recorded"), "{}", again.text);
        let stored = w.shipments.all();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].details.ship_date, NOW);
        assert_eq!(stored[0].source, "cli");
    }

    #[tokio::test]
    async fn shipments_add_lists_every_problem_with_its_field_and_fails() {
        let w = world().await;

        let out = run(
            &w,
            &add(&[
                "--tracking",
                "1Z999.AA1",
                "--ship-date",
                "2026-11-22T00:00:00Z",
                "--item",
                "OI-1:3",
            ]),
        )
        .await;
        let json = run(
            &w,
            &add(&["--ship-date", "now", "--item", "OI-9:1", "--json"]),
        )
        .await;

        assert!(out.failed);
        for field in ["items.quantity:", "ship_date:", "tracking_number:"] {
            assert!(out.text.contains(field), "{field} in {}", out.text);
        }
        assert!(json.failed);
        let json: Value = serde_json::from_str(&json.text).unwrap();
        assert_eq!(json["problems"][0]["field"], "items.order_item_id");
        assert!(w.shipments.all().is_empty());
    }

    #[tokio::test]
    async fn shipments_import_reports_every_row_by_line_and_fails_when_one_failed() {
        let w = world().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shipments.csv");
        std::fs::write(
            &file,
            format!(
                "{HEADER}\n\
                 {ORDER},PKG-1,OI-1,1,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n\
                 {ORDER},PKG-1,OI-2,1,UPS,1Z999AA10123456784,2026-11-20T09:00:00Z,\n\
                 {ORDER},PKG-2,OI-1,5,UPS,,2026-11-20T09:00:00Z,\n\
                 {ORDER},PKG-3,OI-1,one,UPS,,2026-11-20T09:00:00Z,\n\
                 111-9999999-9999999,,OI-1,1,UPS,,now,\n"
            ),
        )
        .unwrap();
        let path = file.to_str().unwrap();

        let out = run(&w, &["shipments", "import", "--seller", "A1", path]).await;
        let again = run(
            &w,
            &["shipments", "import", "--seller", "A1", path, "--json"],
        )
        .await;

        assert!(out.failed, "{}", out.text);
        let lines: Vec<&str> = out.text.lines().collect();
        assert_eq!(lines[0], format!("line 2: recorded {ORDER}/PKG-1"));
        assert_eq!(lines[1], format!("line 4: not recorded {ORDER}/PKG-2"));
        assert!(lines[2].contains("items.quantity"), "{}", out.text);
        assert_eq!(lines[3], "line 5: not recorded -");
        assert!(lines[4].contains("quantity `one`"), "{}", out.text);
        assert_eq!(lines[5], "line 6: not recorded -");
        assert!(lines[6].contains("not known"), "{}", out.text);
        assert_eq!(
            lines[7],
            "4 shipments: 1 recorded, 0 already recorded, 3 failed"
        );
        let stored = w.shipments.all();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].details.items, [item("OI-1", 1), item("OI-2", 1)]);
        assert_eq!(stored[0].source, "csv");
        let again: Value = serde_json::from_str(&again.text).unwrap();
        assert_eq!(again["already_recorded"], 1);
        assert_eq!(again["results"][0]["outcome"], "already_recorded");
        assert_eq!(again["results"][0]["line"], 2);
    }

    #[tokio::test]
    async fn shipments_import_of_a_malformed_file_fails_without_recording() {
        let w = world().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.csv");
        std::fs::write(&file, "order,item\n1,2\n").unwrap();

        let out = run(
            &w,
            &[
                "shipments",
                "import",
                "--seller",
                "A1",
                file.to_str().unwrap(),
            ],
        )
        .await;

        assert!(out.failed);
        assert!(
            out.text.contains("line 1: missing column(s)"),
            "{}",
            out.text
        );
        assert!(w.shipments.all().is_empty());
    }

    #[tokio::test]
    async fn shipments_list_shows_amazons_rejection_and_confirm_seconds() {
        let w = world().await;
        run(
            &w,
            &add(&["--ship-date", "now", "--item", "OI-1:1", "--id", "PKG-1"]),
        )
        .await;
        run(
            &w,
            &add(&["--ship-date", "now", "--item", "OI-2:1", "--id", "PKG-2"]),
        )
        .await;
        reject(&w, "PKG-1").await;
        let mut confirmed = w
            .shipments
            .get_shipment(&SellerId::new("A1"), &AmazonOrderId::new(ORDER), "PKG-2")
            .await
            .unwrap()
            .unwrap();
        confirmed.state = ShipmentState::Confirmed { confirmed_at: NOW };
        confirmed.confirm_seconds = Some(150);
        confirmed.version += 1;
        w.shipments.put_shipment(&confirmed, Some(1)).await.unwrap();

        let rejected = run(
            &w,
            &["shipments", "list", "--seller", "A1", "--state", "Rejected"],
        )
        .await;
        let all = run(&w, &["shipments", "list", "--seller", "A1"]).await;
        let of_order = run(
            &w,
            &[
                "shipments",
                "list",
                "--seller",
                "A1",
                "--order",
                ORDER,
                "--json",
            ],
        )
        .await;

        assert!(
            rejected.text.ends_with("1 shipments\n"),
            "{}",
            rejected.text
        );
        assert!(
            rejected
                .text
                .contains("18028: Tracking number not valid for the carrier"),
            "{}",
            rejected.text
        );
        assert!(rejected.text.contains("(none: hurts VTR)"));
        let confirmed_row = all.text.lines().find(|l| l.contains("PKG-2")).unwrap();
        assert!(confirmed_row.contains("Confirmed"), "{}", all.text);
        assert!(confirmed_row.contains("150"), "{}", all.text);
        assert!(all.text.ends_with("2 shipments\n"));
        let listed: Vec<Value> = serde_json::from_str(&of_order.text).unwrap();
        assert_eq!(listed.len(), 2);
    }

    #[tokio::test]
    async fn shipments_correct_and_requeue_change_a_rejected_shipment() {
        let w = world().await;
        run(
            &w,
            &add(&[
                "--tracking",
                "1Z999AA10123456784",
                "--ship-date",
                "now",
                "--item",
                "OI-1:1",
                "--id",
                "PKG-1",
            ]),
        )
        .await;
        run(
            &w,
            &add(&["--ship-date", "now", "--item", "OI-2:1", "--id", "PKG-2"]),
        )
        .await;
        reject(&w, "PKG-1").await;
        reject(&w, "PKG-2").await;
        let shipment = |id: &'static str| ["--seller", "A1", "--order", ORDER, "--id", id];

        let mut argv = vec!["shipments", "correct"];
        argv.extend(shipment("PKG-1"));
        argv.extend(["--tracking", "1Z999AA10123456785"]);
        let corrected = run(&w, &argv).await;
        let mut argv = vec!["shipments", "requeue"];
        argv.extend(shipment("PKG-2"));
        let requeued = run(&w, &argv).await;
        let again = run(&w, &argv).await;

        assert!(!corrected.failed, "{}", corrected.text);
        assert!(corrected.text.contains("1Z999AA10123456785"));
        assert!(!requeued.failed, "{}", requeued.text);
        assert!(again.failed, "a queued shipment cannot be requeued");
        assert!(
            again.text.contains("only a Rejected or Held"),
            "{}",
            again.text
        );
        let stored = w.shipments.all();
        assert_eq!(stored[0].revision, 2);
        assert_eq!(stored[0].state, ShipmentState::Queued);
        assert_eq!(stored[1].revision, 1);
        assert_eq!(stored[1].state, ShipmentState::Queued);
    }

    #[test]
    fn the_shipments_table_is_read_only_for_the_shipments_commands() {
        let err = OperatorEnv::shipments_table(|_| None).unwrap_err();
        assert!(err.to_string().contains(ENV_SHIPMENTS_TABLE), "{err}");
        assert_eq!(
            OperatorEnv::shipments_table(|k| Some(format!("t-{k}"))).unwrap(),
            "t-SHIPMENTS_TABLE_NAME"
        );
    }
}
