//! The `spsync` operator CLI's commands, over the workflow's ports (DynamoDB in use,
//! in-memory stores in tests).
//!
//! Buyer and recipient details are personal data: `orders show` masks them unless asked
//! with `--show-pii`, and `orders list` never prints them.

use serde::Serialize;
use serde_json::{Value, json};
use spsync_domain::{Address, AmazonOrderId, MarketplaceId, Order, OrderStatus, SellerId};
use spsync_workflow::{JobStore, OrderStore, SellerAccount, SellerDirectory};

use crate::cli::{
    JobsCommand, JobsList, OperatorArgs, OperatorCommand, OrdersCommand, OrdersList, OrdersShow,
    SellersAdd, SellersCommand,
};
use crate::error::RunnerError;
use crate::summary::rfc3339;
use crate::table;

/// Environment variable naming the jobs table (the stack's `JobsTableName` output).
pub const ENV_JOBS_TABLE: &str = "JOBS_TABLE_NAME";
/// Environment variable naming the orders table (the stack's `OrdersTableName` output).
pub const ENV_ORDERS_TABLE: &str = "ORDERS_TABLE_NAME";

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
