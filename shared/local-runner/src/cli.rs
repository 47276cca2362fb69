//! Command lines of the two binaries: `local-run` (stack mode) and `spsync` (operator CLI).
//!
//! The argument models live in the library so they are tested like any other code; the
//! binaries only parse, call the library and print.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use spsync_domain::{ShipmentItem, ShipmentState};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `local-run`: spsync's functions on a local AWS stack (moto) built from template.yaml,
/// against the SP-API simulator, on simulated time.
#[derive(Debug, Clone, Parser)]
#[command(name = "local-run", version, about, long_about = None)]
pub struct LocalRunArgs {
    /// Simulator scenario file (JSON); default: the two-sellers example scenario.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Simulated hours to run (fractions allowed).
    #[arg(long, default_value_t = 8.0, value_parser = positive_hours)]
    pub hours: f64,
    /// Simulated seconds per tick (schedules, delayed messages and queues are driven per tick).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub tick_seconds: u64,
    /// An order report document (e.g. downloaded from Seller Central) to serve as the next
    /// order report (the first seller's: sellers are started in id order).
    #[arg(long, value_name = "PATH")]
    pub report_file: Option<PathBuf>,
    /// Charset of `--report-file` as Amazon would name it (`UTF-8`, `Cp1252`, `Shift_JIS`).
    #[arg(long, default_value = "UTF-8", requires = "report_file")]
    pub report_charset: String,
    /// Write every stored order (all sellers, all statuses) as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    pub export_orders: Option<PathBuf>,
    /// Write the transcript (one line per invocation) to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Leave moto and the simulator running at the end and print the environment for the
    /// `spsync` CLI (also written to `.run/local-stack.env`); Ctrl-C stops them.
    #[arg(long)]
    pub keep_running: bool,
    /// Use an already running moto server instead of starting one.
    #[arg(long, value_name = "URL")]
    pub moto_endpoint: Option<String>,
    /// The SAM template to build the stack from; default: the workspace's template.yaml.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Stack name (prefix of every physical resource name).
    #[arg(long, default_value = "spsync-local")]
    pub stack_name: String,
    /// Most function invocations in one tick (a guard against a message loop).
    #[arg(long, default_value_t = 500)]
    pub max_invocations_per_tick: u32,
    /// Seconds of simulated time a function's warm container (its SP-API clients, limiter
    /// and token cache) lives before it is rebuilt.
    #[arg(long, default_value_t = 900)]
    pub container_lifetime_seconds: u64,
    /// No shipping desk: nobody records shipments during the run.
    #[arg(long)]
    pub no_shipping: bool,
    /// Share of the released merchant-fulfilled orders the shipping desk ships (0 to 1).
    #[arg(
        long,
        default_value_t = crate::desk::DEFAULT_SHARE,
        value_parser = share,
        conflicts_with = "no_shipping"
    )]
    pub ship_share: f64,
    /// With `--keep-running`: serve the shipments HTTP API (the real function) on this
    /// 127.0.0.1 port.
    #[arg(long, default_value_t = 8790, requires = "keep_running")]
    pub api_port: u16,
}

fn share(s: &str) -> Result<f64, String> {
    let share: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err("the share is from 0 to 1".into())
    }
}

fn positive_hours(s: &str) -> Result<f64, String> {
    let hours: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if hours.is_finite() && hours > 0.0 && hours <= 24.0 * 30.0 {
        Ok(hours)
    } else {
        Err("hours must be above 0 and at most 720".into())
    }
}

/// `spsync`: the operator CLI over a stack's tables (local or deployed).
///
/// Reads `JOBS_TABLE_NAME`, `ORDERS_TABLE_NAME` (the `shipments` commands also
/// `SHIPMENTS_TABLE_NAME`) and, for a local stack, `AWS_ENDPOINT_URL` from the environment
/// (`local-run --keep-running` prints them and writes `.run/local-stack.env`).
#[derive(Debug, Clone, Parser)]
#[command(name = "spsync", version, about, long_about = None)]
pub struct OperatorArgs {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: OperatorCommand,
}

/// The operator's commands.
#[derive(Debug, Clone, Subcommand)]
pub enum OperatorCommand {
    /// Orders.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Report jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// The seller registry.
    #[command(subcommand)]
    Sellers(SellersCommand),
    /// Shipments (tracking out): record, import a CSV, list, correct, requeue. Also needs
    /// `SHIPMENTS_TABLE_NAME`.
    #[command(subcommand)]
    Shipments(ShipmentsCommand),
}

/// `spsync orders ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum OrdersCommand {
    /// Lists orders by status and purchase date.
    List(OrdersList),
    /// Shows one order (buyer and recipient details masked unless `--show-pii`).
    Show(OrdersShow),
}

/// `spsync orders list`.
#[derive(Debug, Clone, Args)]
pub struct OrdersList {
    /// Only this seller (default: every registered seller).
    #[arg(long)]
    pub seller: Option<String>,
    /// Only this status: ORDER_NEW, ORDER_CANCELED or ORDER_FULFILLED (default: all).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<spsync_domain::OrderStatus>,
    /// At most this many orders.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `spsync orders show`.
#[derive(Debug, Clone, Args)]
pub struct OrdersShow {
    /// Amazon order id.
    pub id: String,
    /// The seller (default: searched among registered sellers).
    #[arg(long)]
    pub seller: Option<String>,
    /// Show buyer and recipient details unmasked.
    #[arg(long)]
    pub show_pii: bool,
}

fn parse_status(s: &str) -> Result<spsync_domain::OrderStatus, String> {
    spsync_domain::OrderStatus::parse(s)
        .ok_or_else(|| format!("`{s}`: expected ORDER_NEW, ORDER_CANCELED or ORDER_FULFILLED"))
}

/// `spsync jobs ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsCommand {
    /// Lists recent report jobs, newest first.
    List(JobsList),
}

/// `spsync jobs list`.
#[derive(Debug, Clone, Args)]
pub struct JobsList {
    /// Only this seller (default: every registered seller).
    #[arg(long)]
    pub seller: Option<String>,
    /// Only this marketplace (default: each of the seller's marketplaces).
    #[arg(long, requires = "seller")]
    pub marketplace: Option<String>,
    /// At most this many jobs per seller and marketplace.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `spsync sellers ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SellersCommand {
    /// Lists registered sellers.
    List,
    /// Registers (or replaces) a seller.
    Add(SellersAdd),
}

/// `spsync sellers add`.
#[derive(Debug, Clone, Args)]
pub struct SellersAdd {
    /// Selling partner id (merchant token).
    #[arg(long)]
    pub seller: String,
    /// Marketplace ids to import (repeat the flag for several).
    #[arg(long = "marketplace", required = true, num_args = 1)]
    pub marketplaces: Vec<String>,
    /// SP-API region: na, eu or fe.
    #[arg(long, value_parser = ["na", "eu", "fe"])]
    pub region: String,
    /// Secrets Manager secret (id or ARN) holding the seller's LWA credentials.
    #[arg(long)]
    pub secret: String,
    /// Register the seller paused (schedules skip it).
    #[arg(long)]
    pub disabled: bool,
}

/// `spsync shipments ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum ShipmentsCommand {
    /// Records one shipment, checked against the stored order before anything is sent.
    Add(ShipmentsAdd),
    /// Records the shipments of a CSV file (one row per item; header `order_id,shipment_id,
    /// order_item_id,quantity,carrier,tracking_number,ship_date,ship_method`), reporting
    /// every row by its line.
    Import(ShipmentsImport),
    /// Lists a seller's shipments by state, or an order's.
    List(ShipmentsList),
    /// Corrects a shipment's carrier, tracking number or ship method; the next feed sends it
    /// again.
    Correct(ShipmentsCorrect),
    /// Puts a Rejected or Held shipment back in the queue unchanged.
    Requeue(ShipmentRef),
}

/// `spsync shipments add`.
#[derive(Debug, Clone, Args)]
pub struct ShipmentsAdd {
    /// Selling partner id.
    #[arg(long)]
    pub seller: String,
    /// Amazon order id.
    #[arg(long)]
    pub order: String,
    /// Carrier: Amazon's code, an AfterShip slug or a common spelling (unknown: sent as Other).
    #[arg(long)]
    pub carrier: String,
    /// Tracking number (without one the shipment counts against the Valid Tracking Rate).
    #[arg(long)]
    pub tracking: Option<String>,
    /// When the package left: RFC 3339 (`2026-11-20T09:30:00Z`) or `now`.
    #[arg(long, value_parser = parse_ship_date, value_name = "RFC3339|now")]
    pub ship_date: ShipDate,
    /// The carrier's service (`UPS Ground`); mandatory in UK and EU marketplaces.
    #[arg(long)]
    pub ship_method: Option<String>,
    /// An order item in the package and its quantity (repeat the flag for several).
    #[arg(
        long = "item",
        required = true,
        num_args = 1,
        value_parser = parse_item,
        value_name = "ORDER_ITEM_ID:QTY"
    )]
    pub items: Vec<ShipmentItem>,
    /// Shipment id (e.g. the package id of the shipping software, so that a retry records
    /// nothing twice); default: the order's next `S1`, `S2`, ...
    #[arg(long)]
    pub id: Option<String>,
}

/// A ship date as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipDate {
    /// The time the command runs.
    Now,
    /// This time.
    At(OffsetDateTime),
}

impl ShipDate {
    /// The date, `now` standing for [`ShipDate::Now`].
    pub fn resolve(self, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            Self::Now => now,
            Self::At(t) => t,
        }
    }
}

/// `now` (any case) or an RFC 3339 time.
pub fn parse_ship_date(s: &str) -> Result<ShipDate, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(ShipDate::Now);
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(ShipDate::At)
        .map_err(|e| format!("`{s}` is neither `now` nor an RFC 3339 time ({e})"))
}

/// `ORDER_ITEM_ID:QTY` (split at the last colon).
pub fn parse_item(s: &str) -> Result<ShipmentItem, String> {
    let (id, quantity) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}`: expected ORDER_ITEM_ID:QTY"))?;
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("`{s}`: the order item id is empty"));
    }
    let quantity = quantity
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("`{s}`: the quantity is not a whole number"))?;
    Ok(ShipmentItem {
        order_item_id: id.to_owned(),
        quantity,
    })
}

/// `spsync shipments import`.
#[derive(Debug, Clone, Args)]
pub struct ShipmentsImport {
    /// Selling partner id (every row is for this seller).
    #[arg(long)]
    pub seller: String,
    /// The CSV file.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
}

/// `spsync shipments list`.
#[derive(Debug, Clone, Args)]
pub struct ShipmentsList {
    /// Selling partner id.
    #[arg(long)]
    pub seller: String,
    /// Only this state (default: every state).
    #[arg(long, value_parser = ShipmentState::NAMES)]
    pub state: Option<String>,
    /// Only this order's shipments.
    #[arg(long)]
    pub order: Option<String>,
    /// At most this many shipments.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `spsync shipments correct`.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["carrier", "tracking", "ship_method"])
))]
pub struct ShipmentsCorrect {
    /// The shipment.
    #[command(flatten)]
    pub shipment: ShipmentRef,
    /// New carrier.
    #[arg(long)]
    pub carrier: Option<String>,
    /// New tracking number (`""` removes it).
    #[arg(long)]
    pub tracking: Option<String>,
    /// New ship method.
    #[arg(long)]
    pub ship_method: Option<String>,
}

/// A shipment named on the command line.
#[derive(Debug, Clone, Args)]
pub struct ShipmentRef {
    /// Selling partner id.
    #[arg(long)]
    pub seller: String,
    /// Amazon order id.
    #[arg(long)]
    pub order: String,
    /// Shipment id.
    #[arg(long)]
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use spsync_domain::OrderStatus;

    use super::*;

    #[test]
    fn argument_models_are_consistent() {
        LocalRunArgs::command().debug_assert();
        OperatorArgs::command().debug_assert();
    }

    #[test]
    fn local_run_defaults_are_the_demo() {
        let args = LocalRunArgs::try_parse_from(["local-run"]).unwrap();
        assert_eq!(args.hours, 8.0);
        assert_eq!(args.tick_seconds, 30);
        assert!(args.scenario.is_none() && args.moto_endpoint.is_none() && !args.keep_running);
        assert!(!args.no_shipping);
        assert_eq!(args.ship_share, 0.6);
        assert_eq!(args.api_port, 8790);

        let args = LocalRunArgs::try_parse_from([
            "local-run",
            "--hours",
            "0.5",
            "--tick-seconds",
            "60",
            "--report-file",
            "r.txt",
            "--report-charset",
            "Cp1252",
            "--moto-endpoint",
            "http://127.0.0.1:4566",
        ])
        .unwrap();
        assert_eq!(args.hours, 0.5);
        assert_eq!(args.report_charset, "Cp1252");
        assert_eq!(args.moto_endpoint.as_deref(), Some("http://127.0.0.1:4566"));

        let args = LocalRunArgs::try_parse_from([
            "local-run",
            "--ship-share",
            "0.25",
            "--keep-running",
            "--api-port",
            "9000",
        ])
        .unwrap();
        assert_eq!((args.ship_share, args.api_port), (0.25, 9000));
        assert!(
            LocalRunArgs::try_parse_from(["local-run", "--no-shipping"])
                .unwrap()
                .no_shipping
        );
    }

    #[test]
    fn local_run_refuses_nonsense() {
        for argv in [
            vec!["local-run", "--hours", "0"],
            vec!["local-run", "--hours", "-3"],
            vec!["local-run", "--hours", "NaN"],
            vec!["local-run", "--tick-seconds", "0"],
            vec!["local-run", "--report-charset", "Cp1252"],
            vec!["local-run", "--ship-share", "1.5"],
            vec!["local-run", "--ship-share", "-0.1"],
            vec!["local-run", "--no-shipping", "--ship-share", "0.5"],
            vec!["local-run", "--api-port", "8790"],
        ] {
            assert!(LocalRunArgs::try_parse_from(&argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn operator_commands_parse() {
        let args = OperatorArgs::try_parse_from([
            "spsync",
            "orders",
            "list",
            "--status",
            "ORDER_NEW",
            "--limit",
            "5",
            "--json",
        ])
        .unwrap();
        assert!(args.json);
        let OperatorCommand::Orders(OrdersCommand::List(list)) = args.command else {
            panic!("orders list expected");
        };
        assert_eq!(list.status, Some(OrderStatus::New));
        assert_eq!(list.limit, 5);

        let args = OperatorArgs::try_parse_from([
            "spsync",
            "sellers",
            "add",
            "--seller",
            "A2SIMSELLEREU01",
            "--marketplace",
            "A1F83G8C2ARO7P",
            "--marketplace",
            "A1PA6795UKMFR9",
            "--region",
            "eu",
            "--secret",
            "spsync/sellers/A2SIMSELLEREU01",
        ])
        .unwrap();
        let OperatorCommand::Sellers(SellersCommand::Add(add)) = args.command else {
            panic!("sellers add expected");
        };
        assert_eq!(add.marketplaces, ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]);
        assert!(!add.disabled);
    }

    #[test]
    fn operator_refuses_unknown_statuses_regions_and_lone_marketplaces() {
        for argv in [
            vec!["spsync", "orders", "list", "--status", "Pending"],
            vec![
                "spsync",
                "sellers",
                "add",
                "--seller",
                "S",
                "--marketplace",
                "M",
                "--region",
                "us",
                "--secret",
                "x",
            ],
            vec![
                "spsync", "sellers", "add", "--seller", "S", "--region", "na", "--secret", "x",
            ],
            vec!["spsync", "jobs", "list", "--marketplace", "M"],
        ] {
            assert!(OperatorArgs::try_parse_from(&argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn shipments_add_parses_items_and_ship_dates() {
        let args = OperatorArgs::try_parse_from([
            "spsync",
            "shipments",
            "add",
            "--seller",
            "A1",
            "--order",
            "111-0000001-0000001",
            "--carrier",
            "ups",
            "--tracking",
            "1Z999AA10123456784",
            "--ship-date",
            "now",
            "--item",
            "OI-1:2",
            "--item",
            "OI:2:1",
        ])
        .unwrap();
        let OperatorCommand::Shipments(ShipmentsCommand::Add(add)) = args.command else {
            panic!("shipments add expected");
        };

        assert_eq!(add.ship_date, ShipDate::Now);
        assert_eq!(
            add.items,
            [
                ShipmentItem {
                    order_item_id: "OI-1".into(),
                    quantity: 2
                },
                ShipmentItem {
                    order_item_id: "OI:2".into(),
                    quantity: 1
                },
            ]
        );
        assert_eq!(add.id, None);
        assert_eq!(
            parse_ship_date("2026-11-20T09:30:00+01:00"),
            Ok(ShipDate::At(time::macros::datetime!(2026-11-20 08:30 UTC)))
        );
    }

    #[test]
    fn shipments_commands_refuse_nonsense() {
        let add = |extra: &[&'static str]| {
            let mut argv = vec![
                "spsync",
                "shipments",
                "add",
                "--seller",
                "A1",
                "--order",
                "O",
                "--carrier",
                "UPS",
            ];
            argv.extend_from_slice(extra);
            argv
        };
        for argv in [
            add(&["--ship-date", "now"]),
            add(&["--ship-date", "yesterday", "--item", "OI-1:1"]),
            add(&["--ship-date", "now", "--item", "OI-1"]),
            add(&["--ship-date", "now", "--item", "OI-1:two"]),
            add(&["--ship-date", "now", "--item", ":1"]),
            vec![
                "spsync",
                "shipments",
                "list",
                "--seller",
                "A1",
                "--state",
                "rejected",
            ],
            vec![
                "spsync",
                "shipments",
                "correct",
                "--seller",
                "A1",
                "--order",
                "O",
                "--id",
                "S1",
            ],
            vec!["spsync", "shipments", "import", "--seller", "A1"],
        ] {
            assert!(OperatorArgs::try_parse_from(&argv).is_err(), "{argv:?}");
        }
        let args = OperatorArgs::try_parse_from([
            "spsync",
            "shipments",
            "correct",
            "--seller",
            "A1",
            "--order",
            "O",
            "--id",
            "S1",
            "--tracking",
            "",
        ])
        .unwrap();
        let OperatorCommand::Shipments(ShipmentsCommand::Correct(c)) = args.command else {
            panic!("shipments correct expected");
        };
        assert_eq!(c.tracking.as_deref(), Some(""), "an empty value removes it");
    }
}
