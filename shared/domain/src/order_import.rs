//! Import decisions: what one [`ReportOrder`] does to the order spsync holds (pure); the
//! rules are on [`decide_import`].

use time::OffsetDateTime;

use crate::order_report::ReportOrder;
use crate::orders::{
    Address, AmazonOrderStatus, Buyer, MarketplaceId, Order, OrderLine, OrderStatus, SellerId,
};

/// What to do with one report order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportDecision {
    /// Not known yet: store this (version 0, conditional on absence).
    Create(Order),
    /// Known and changed: store this (conditional on the existing version; bump it).
    Update(Order),
    /// Known and the row brings nothing new: no write.
    Unchanged,
    /// Known and the row is older than what we hold: no write.
    Stale,
    /// Not stored, for the reason given (counted by the caller).
    Skipped(SkipReason),
}

/// Why an order from the report is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Never created by spsync and already Cancelled or Shipped when first seen: nothing
    /// left to do for it.
    ClosedBeforeFirstSeen,
}

impl SkipReason {
    /// A stable name for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClosedBeforeFirstSeen => "closed_before_first_seen",
        }
    }
}

/// spsync's status for Amazon's: Pending, Unshipped, PartiallyShipped and other words →
/// `ORDER_NEW`; Cancelled → `ORDER_CANCELED`; Shipped → `ORDER_FULFILLED`.
pub fn order_status_for(amazon: &AmazonOrderStatus) -> OrderStatus {
    match amazon {
        AmazonOrderStatus::Cancelled => OrderStatus::Canceled,
        AmazonOrderStatus::Shipped => OrderStatus::Fulfilled,
        AmazonOrderStatus::Pending
        | AmazonOrderStatus::Unshipped
        | AmazonOrderStatus::PartiallyShipped
        | AmazonOrderStatus::Other(_) => OrderStatus::New,
    }
}

/// Decides what `incoming` does to `existing` (the order stored under the same seller and id,
/// if any).
///
/// Rules (issue 3, "Orders in"):
/// * **New order.** First seen Pending, Unshipped, PartiallyShipped or any other open word →
///   [`ImportDecision::Create`] with status `ORDER_NEW` (an order that left Pending between
///   two imports must not be lost). First seen Cancelled or Shipped → [`ImportDecision::Skipped`]
///   ([`SkipReason::ClosedBeforeFirstSeen`]; the caller counts them). FBA orders are created
///   too; [`Order::is_fba`] flags them and they are never offered for fulfilment. A created
///   order has `version` 0 (the caller writes it with `attribute_not_exists`) and
///   `created_at = updated_at = now`.
/// * **Known order, older row.** `incoming.last_updated < existing.last_updated` →
///   [`ImportDecision::Stale`]: no write.
/// * **Known order, nothing new.** Same `last_updated` and the merge changes nothing →
///   [`ImportDecision::Unchanged`]: no write (a re-import costs no DynamoDB write).
/// * **Otherwise** [`ImportDecision::Update`]: the report's fields win (an empty report cell
///   never erases a value we hold), and status follows [`order_status_for`] but never moves
///   backwards: `ORDER_NEW` may become `ORDER_CANCELED` or `ORDER_FULFILLED`; a terminal
///   status never returns to `ORDER_NEW`, even with a newer row (the other fields are still
///   updated). Enrichment data (buyer, recipient, order-item ids), `version` (the caller
///   bumps it on write) and `created_at` are kept; `updated_at = now`.
/// * **Lines.** A newer row replaces the lines with the report's, each laid over the held line
///   it matches, one to one (same order-item id; else same SKU; else same ASIN; else same
///   position unless SKUs or ASINs differ), so known order-item ids and values the report
///   leaves empty are carried over. With the **same** `last_updated` the lines are a union:
///   this is how the second, non-adjacent part of an order in one report (see
///   [`OrderReportReader`](crate::OrderReportReader)) joins the first. A line is the same
///   line when the order-item ids are equal or, lacking ids, SKU and ASIN are equal; a same
///   line takes the report's values (keeping what the report leaves empty), a new one is
///   appended. (When the parts of a split order are also newer than what is held, the first
///   part replaces the lines and the second joins it: two writes, the right end state.)
pub fn decide_import(
    existing: Option<&Order>,
    incoming: &ReportOrder,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    now: OffsetDateTime,
) -> ImportDecision {
    let Some(existing) = existing else {
        return match incoming.amazon_status {
            AmazonOrderStatus::Cancelled | AmazonOrderStatus::Shipped => {
                ImportDecision::Skipped(SkipReason::ClosedBeforeFirstSeen)
            }
            _ => ImportDecision::Create(new_order(incoming, seller, marketplace, now)),
        };
    };
    if incoming.last_updated < existing.last_updated {
        return ImportDecision::Stale;
    }
    let mut merged = merge(existing, incoming, existing.updated_at);
    if merged == *existing {
        ImportDecision::Unchanged
    } else {
        merged.updated_at = now;
        ImportDecision::Update(merged)
    }
}

fn new_order(
    incoming: &ReportOrder,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    now: OffsetDateTime,
) -> Order {
    Order {
        seller_id: seller.clone(),
        marketplace_id: marketplace.clone(),
        amazon_order_id: incoming.amazon_order_id.clone(),
        merchant_order_id: incoming.merchant_order_id.clone(),
        status: order_status_for(&incoming.amazon_status),
        amazon_status: incoming.amazon_status.clone(),
        fulfillment_channel: incoming.fulfillment_channel,
        purchase_date: incoming.purchase_date,
        last_updated: incoming.last_updated,
        sales_channel: incoming.sales_channel.clone(),
        ship_service_level: incoming.ship_service_level.clone(),
        is_business_order: incoming.is_business_order,
        currency: incoming.currency.clone(),
        lines: incoming.lines.clone(),
        ship_to: incoming.ship_to.clone(),
        buyer: Buyer::default(),
        recipient: None,
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

/// A terminal status (Canceled, Fulfilled) outranks New.
pub(crate) fn rank(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::New => 0,
        OrderStatus::Canceled | OrderStatus::Fulfilled => 1,
    }
}

fn merge(existing: &Order, incoming: &ReportOrder, now: OffsetDateTime) -> Order {
    let reported = order_status_for(&incoming.amazon_status);
    let status = if rank(reported) >= rank(existing.status) {
        reported
    } else {
        existing.status
    };
    let lines = if incoming.last_updated == existing.last_updated {
        union_lines(&existing.lines, &incoming.lines)
    } else {
        carry_item_ids(&existing.lines, &incoming.lines)
    };
    Order {
        seller_id: existing.seller_id.clone(),
        marketplace_id: existing.marketplace_id.clone(),
        amazon_order_id: existing.amazon_order_id.clone(),
        merchant_order_id: incoming
            .merchant_order_id
            .clone()
            .or_else(|| existing.merchant_order_id.clone()),
        status,
        amazon_status: incoming.amazon_status.clone(),
        fulfillment_channel: incoming.fulfillment_channel,
        purchase_date: incoming.purchase_date,
        last_updated: incoming.last_updated,
        sales_channel: incoming
            .sales_channel
            .clone()
            .or_else(|| existing.sales_channel.clone()),
        ship_service_level: incoming
            .ship_service_level
            .clone()
            .or_else(|| existing.ship_service_level.clone()),
        is_business_order: incoming.is_business_order,
        currency: incoming
            .currency
            .clone()
            .or_else(|| existing.currency.clone()),
        lines,
        ship_to: merge_ship_to(&existing.ship_to, &incoming.ship_to),
        buyer: existing.buyer.clone(),
        recipient: existing.recipient.clone(),
        version: existing.version,
        created_at: existing.created_at,
        updated_at: now,
    }
}

fn merge_ship_to(held: &Address, report: &Address) -> Address {
    let pick = |r: &Option<String>, h: &Option<String>| r.clone().or_else(|| h.clone());
    Address {
        name: pick(&report.name, &held.name),
        lines: if report.lines.is_empty() {
            held.lines.clone()
        } else {
            report.lines.clone()
        },
        city: pick(&report.city, &held.city),
        state: pick(&report.state, &held.state),
        postal_code: pick(&report.postal_code, &held.postal_code),
        country: pick(&report.country, &held.country),
        phone: pick(&report.phone, &held.phone),
    }
}

/// A report line over a held one: the report's values, keeping what the report leaves empty
/// (notably the order-item id from enrichment).
fn overlay(held: &OrderLine, report: &OrderLine) -> OrderLine {
    let pick = |r: &Option<String>, h: &Option<String>| r.clone().or_else(|| h.clone());
    OrderLine {
        sku: pick(&report.sku, &held.sku),
        asin: pick(&report.asin, &held.asin),
        product_name: pick(&report.product_name, &held.product_name),
        quantity: report.quantity,
        item_status: pick(&report.item_status, &held.item_status),
        item_price: report.item_price.or(held.item_price),
        order_item_id: pick(&report.order_item_id, &held.order_item_id),
    }
}

/// Two lines that name different products (both have a SKU and they differ, or both an ASIN
/// and they differ) are never matched by position.
fn conflicts(a: &OrderLine, b: &OrderLine) -> bool {
    let differ = |x: &Option<String>, y: &Option<String>| x.is_some() && y.is_some() && x != y;
    differ(&a.sku, &b.sku) || differ(&a.asin, &b.asin)
}

/// Same line for the union of two parts of one report order: equal order-item ids, or (when
/// either lacks an id) equal SKU and ASIN.
fn same_line(a: &OrderLine, b: &OrderLine) -> bool {
    match (&a.order_item_id, &b.order_item_id) {
        (Some(x), Some(y)) => x == y,
        _ => a.sku == b.sku && a.asin == b.asin,
    }
}

fn union_lines(held: &[OrderLine], report: &[OrderLine]) -> Vec<OrderLine> {
    let mut out = held.to_vec();
    let mut taken = vec![false; held.len()];
    for line in report {
        match (0..held.len()).find(|&i| !taken[i] && same_line(&held[i], line)) {
            Some(i) => {
                taken[i] = true;
                out[i] = overlay(&held[i], line);
            }
            None => out.push(line.clone()),
        }
    }
    out
}

/// The report's lines, each laid over the held line it matches (one to one): same order-item
/// id, else same SKU, else same ASIN, else same position when SKU and ASIN do not conflict.
fn carry_item_ids(held: &[OrderLine], report: &[OrderLine]) -> Vec<OrderLine> {
    let mut matched: Vec<Option<usize>> = vec![None; report.len()];
    let mut taken = vec![false; held.len()];
    type Same = fn(&OrderLine, &OrderLine) -> bool;
    let rules: [Same; 3] = [
        |h, r| h.order_item_id.is_some() && h.order_item_id == r.order_item_id,
        |h, r| r.order_item_id.is_none() && h.sku.is_some() && h.sku == r.sku,
        |h, r| r.order_item_id.is_none() && h.asin.is_some() && h.asin == r.asin,
    ];
    for same in rules {
        for (ri, line) in report.iter().enumerate() {
            if matched[ri].is_some() {
                continue;
            }
            if let Some(hi) = (0..held.len()).find(|&hi| !taken[hi] && same(&held[hi], line)) {
                matched[ri] = Some(hi);
                taken[hi] = true;
            }
        }
    }
    for (ri, line) in report.iter().enumerate() {
        if matched[ri].is_none()
            && line.order_item_id.is_none()
            && ri < held.len()
            && !taken[ri]
            && !conflicts(&held[ri], line)
        {
            matched[ri] = Some(ri);
            taken[ri] = true;
        }
    }
    report
        .iter()
        .zip(matched)
        .map(|(line, hi)| match hi {
            Some(hi) => overlay(&held[hi], line),
            None => line.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::{AmazonOrderId, FulfillmentChannel};
    use rust_decimal::Decimal;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-20 09:00 UTC);
    const T1: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);
    const LATER: OffsetDateTime = datetime!(2026-11-20 14:00 UTC);

    fn line(sku: &str, asin: &str, id: Option<&str>) -> OrderLine {
        OrderLine {
            sku: Some(sku.into()),
            asin: Some(asin.into()),
            product_name: Some(format!("Product {sku}")),
            quantity: 1,
            item_status: Some("Unshipped".into()),
            item_price: Some(Decimal::new(999, 2)),
            order_item_id: id.map(str::to_owned),
        }
    }

    fn report(
        status: AmazonOrderStatus,
        updated: OffsetDateTime,
        lines: Vec<OrderLine>,
    ) -> ReportOrder {
        let pending = status == AmazonOrderStatus::Pending;
        ReportOrder {
            amazon_order_id: AmazonOrderId::new("111-0000000-0000001"),
            merchant_order_id: None,
            purchase_date: datetime!(2026-11-20 08:00 UTC),
            last_updated: updated,
            amazon_status: status,
            fulfillment_channel: FulfillmentChannel::Merchant,
            sales_channel: Some("Amazon.com".into()),
            ship_service_level: Some("Standard".into()),
            is_business_order: false,
            currency: (!pending).then(|| "USD".into()),
            lines,
            ship_to: if pending {
                Address::default()
            } else {
                Address {
                    city: Some("SEATTLE".into()),
                    country: Some("US".into()),
                    ..Address::default()
                }
            },
            first_line: 2,
        }
    }

    fn seller() -> SellerId {
        SellerId::new("A1SIMSELLER0001")
    }

    fn marketplace() -> MarketplaceId {
        MarketplaceId::new("ATVPDKIKX0DER")
    }

    /// An order as stored after a first import of `r` and an enrichment, written at `NOW`.
    fn stored(r: &ReportOrder) -> Order {
        let ImportDecision::Create(mut order) =
            decide_import(None, r, &seller(), &marketplace(), NOW)
        else {
            panic!("not created");
        };
        order.version = 3;
        order.buyer.email = Some("x@marketplace.amazon.invalid".into());
        order
    }

    #[test]
    fn first_seen_orders_are_created_unless_already_closed() {
        let cases = [
            (AmazonOrderStatus::Pending, Some(OrderStatus::New)),
            (AmazonOrderStatus::Unshipped, Some(OrderStatus::New)),
            (AmazonOrderStatus::PartiallyShipped, Some(OrderStatus::New)),
            (
                AmazonOrderStatus::Other("InvoiceUnconfirmed".into()),
                Some(OrderStatus::New),
            ),
            (AmazonOrderStatus::Cancelled, None),
            (AmazonOrderStatus::Shipped, None),
        ];
        for (status, expected) in cases {
            let r = report(status.clone(), T0, vec![line("A", "B0A", None)]);

            let decision = decide_import(None, &r, &seller(), &marketplace(), NOW);

            match (decision, expected) {
                (ImportDecision::Create(o), Some(want)) => {
                    assert_eq!(o.status, want, "{status:?}");
                    assert_eq!(o.amazon_status, status);
                    assert_eq!(o.version, 0);
                    assert_eq!((o.created_at, o.updated_at), (NOW, NOW));
                    assert_eq!(o.last_updated, T0);
                    assert_eq!(o.seller_id, seller());
                    assert_eq!(o.marketplace_id, marketplace());
                    assert_eq!(o.lines, r.lines);
                    assert_eq!(o.buyer, Buyer::default());
                    assert_eq!(o.recipient, None);
                }
                (ImportDecision::Skipped(SkipReason::ClosedBeforeFirstSeen), None) => {}
                (other, _) => panic!("{status:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn fba_orders_are_created_and_flagged() {
        let mut r = report(
            AmazonOrderStatus::Unshipped,
            T0,
            vec![line("A", "B0A", None)],
        );
        r.fulfillment_channel = FulfillmentChannel::Amazon;

        let decision = decide_import(None, &r, &seller(), &marketplace(), NOW);

        let ImportDecision::Create(o) = decision else {
            panic!("{decision:?}")
        };
        assert!(o.is_fba());
        assert_eq!(o.status, OrderStatus::New);
    }

    #[test]
    fn an_older_row_is_stale() {
        let held = stored(&report(
            AmazonOrderStatus::Unshipped,
            T1,
            vec![line("A", "B0A", None)],
        ));
        let older = report(AmazonOrderStatus::Pending, T0, vec![line("A", "B0A", None)]);

        assert_eq!(
            decide_import(Some(&held), &older, &seller(), &marketplace(), LATER),
            ImportDecision::Stale
        );
    }

    #[test]
    fn reimport_of_an_unchanged_order_is_unchanged() {
        let r = report(
            AmazonOrderStatus::Unshipped,
            T0,
            vec![line("A", "B0A", None), line("B", "B0B", None)],
        );
        let mut held = stored(&r);
        // Enrichment since: ids and buyer filled; the same report row must still cost nothing.
        held.lines[0].order_item_id = Some("OI-1".into());
        held.lines[1].order_item_id = Some("OI-2".into());

        let decision = decide_import(Some(&held), &r, &seller(), &marketplace(), LATER);

        assert_eq!(decision, ImportDecision::Unchanged);
    }

    #[test]
    fn pending_to_unshipped_update_keeps_enrichment() {
        let pending = report(
            AmazonOrderStatus::Pending,
            T0,
            vec![line("A", "B0A", None), line("B", "B0B", None)],
        );
        let mut held = stored(&pending);
        held.lines[0].order_item_id = Some("OI-A".into());
        held.lines[1].order_item_id = Some("OI-B".into());
        let unshipped = report(
            AmazonOrderStatus::Unshipped,
            T1,
            vec![line("B", "B0B", None), line("A", "B0A", None)],
        );

        let decision = decide_import(Some(&held), &unshipped, &seller(), &marketplace(), LATER);

        let ImportDecision::Update(o) = decision else {
            panic!("{decision:?}")
        };
        assert_eq!(o.status, OrderStatus::New);
        assert_eq!(o.amazon_status, AmazonOrderStatus::Unshipped);
        assert_eq!(o.last_updated, T1);
        let ids: Vec<_> = o
            .lines
            .iter()
            .map(|l| (l.sku.as_deref(), l.order_item_id.as_deref()))
            .collect();
        assert_eq!(ids, [(Some("B"), Some("OI-B")), (Some("A"), Some("OI-A"))]);
        assert_eq!(o.buyer, held.buyer);
        assert_eq!(o.version, held.version, "the caller bumps the version");
        assert_eq!(o.created_at, held.created_at);
        assert_eq!(o.updated_at, LATER);
        assert_eq!(o.currency.as_deref(), Some("USD"));
        assert_eq!(o.ship_to.city.as_deref(), Some("SEATTLE"));
    }

    #[test]
    fn status_moves_forward_and_a_terminal_status_never_returns_to_new() {
        use AmazonOrderStatus as A;
        use OrderStatus as S;
        let cases = [
            (A::Pending, A::Unshipped, S::New),
            (A::Unshipped, A::PartiallyShipped, S::New),
            (A::Unshipped, A::Cancelled, S::Canceled),
            (A::Pending, A::Cancelled, S::Canceled),
            (A::PartiallyShipped, A::Shipped, S::Fulfilled),
            (A::Shipped, A::Unshipped, S::Fulfilled),
            (A::Shipped, A::Pending, S::Fulfilled),
            (A::Cancelled, A::Pending, S::Canceled),
            (A::Cancelled, A::Unshipped, S::Canceled),
        ];
        for (before, after, expected) in cases {
            let mut held = stored(&report(A::Unshipped, T0, vec![line("A", "B0A", None)]));
            held.amazon_status = before.clone();
            held.status = order_status_for(&before);
            let mut newer = report(after.clone(), T1, vec![line("A", "B0A", None)]);
            newer.ship_service_level = Some("Expedited".into());

            let decision = decide_import(Some(&held), &newer, &seller(), &marketplace(), LATER);

            let ImportDecision::Update(o) = decision else {
                panic!("{before:?}->{after:?}: {decision:?}")
            };
            assert_eq!(o.status, expected, "{before:?} -> {after:?}");
            assert_eq!(o.amazon_status, after, "Amazon's word is recorded as seen");
            assert_eq!(
                o.ship_service_level.as_deref(),
                Some("Expedited"),
                "other fields update"
            );
        }
    }

    #[test]
    fn a_non_adjacent_second_part_is_merged_into_the_first() {
        let first = report(
            AmazonOrderStatus::Unshipped,
            T0,
            vec![line("A", "B0A", None), line("B", "B0B", None)],
        );
        let held = stored(&first);
        let second = report(
            AmazonOrderStatus::Unshipped,
            T0,
            vec![line("C", "B0C", None)],
        );

        let decision = decide_import(Some(&held), &second, &seller(), &marketplace(), LATER);

        let ImportDecision::Update(o) = decision else {
            panic!("{decision:?}")
        };
        let skus: Vec<_> = o.lines.iter().map(|l| l.sku.as_deref()).collect();
        assert_eq!(skus, [Some("A"), Some("B"), Some("C")]);
        // Importing either part again changes nothing.
        for part in [&first, &second] {
            assert_eq!(
                decide_import(Some(&o), part, &seller(), &marketplace(), LATER),
                ImportDecision::Unchanged
            );
        }
    }

    #[test]
    fn union_matches_lines_by_item_id_then_sku_and_asin() {
        let held = vec![
            line("A", "B0A", Some("OI-1")),
            line("A", "B0A", Some("OI-2")),
            line("C", "B0C", None),
        ];
        let cases = [
            // same id, new price → replaced in place
            (
                vec![OrderLine {
                    item_price: Some(Decimal::new(5, 0)),
                    ..line("A", "B0A", Some("OI-2"))
                }],
                vec![Some("OI-1"), Some("OI-2"), None],
                3,
            ),
            // an unknown id with the same sku is a new line
            (
                vec![line("A", "B0A", Some("OI-3"))],
                vec![Some("OI-1"), Some("OI-2"), None, Some("OI-3")],
                4,
            ),
            // no id: same sku+asin as the id-less C → same line, C gains nothing
            (
                vec![line("C", "B0C", None)],
                vec![Some("OI-1"), Some("OI-2"), None],
                3,
            ),
            // id on a line that had none, matched by sku+asin → the id is taken
            (
                vec![line("C", "B0C", Some("OI-9"))],
                vec![Some("OI-1"), Some("OI-2"), Some("OI-9")],
                3,
            ),
        ];
        for (incoming, ids, len) in cases {
            let merged = union_lines(&held, &incoming);
            let got: Vec<_> = merged.iter().map(|l| l.order_item_id.as_deref()).collect();
            assert_eq!(got, ids, "{incoming:?}");
            assert_eq!(merged.len(), len);
        }
    }

    #[test]
    fn newer_lines_carry_item_ids_by_id_sku_asin_then_position() {
        let mut no_sku = line("X", "B0P", Some("OI-P"));
        no_sku.sku = None;
        no_sku.asin = None;
        type Case<'a> = (
            &'a str,
            Vec<OrderLine>,
            Vec<OrderLine>,
            Vec<Option<&'a str>>,
        );
        let cases: Vec<Case> = vec![
            (
                "by sku",
                vec![line("A", "B0A", Some("OI-A"))],
                vec![line("A", "B0Z", None)],
                vec![Some("OI-A")],
            ),
            (
                "by asin",
                vec![line("A", "B0A", Some("OI-A"))],
                vec![line("Z", "B0A", None)],
                vec![Some("OI-A")],
            ),
            (
                "by position when nothing names a product",
                vec![no_sku.clone()],
                vec![OrderLine {
                    sku: None,
                    asin: None,
                    ..line("", "", None)
                }],
                vec![Some("OI-P")],
            ),
            (
                "never across different products",
                vec![line("A", "B0A", Some("OI-A"))],
                vec![line("Z", "B0Z", None)],
                vec![None],
            ),
            (
                "one to one",
                vec![line("A", "B0A", Some("OI-1"))],
                vec![line("A", "B0A", None), line("A", "B0A", None)],
                vec![Some("OI-1"), None],
            ),
            (
                "the report's own id wins",
                vec![line("A", "B0A", Some("OI-OLD"))],
                vec![line("A", "B0A", Some("OI-NEW"))],
                vec![Some("OI-NEW")],
            ),
        ];
        for (name, held, incoming, ids) in cases {
            let got: Vec<Option<String>> = carry_item_ids(&held, &incoming)
                .into_iter()
                .map(|l| l.order_item_id)
                .collect();
            let want: Vec<Option<String>> = ids.into_iter().map(|i| i.map(str::to_owned)).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn empty_report_cells_never_erase_what_is_held() {
        let held = stored(&report(
            AmazonOrderStatus::Unshipped,
            T0,
            vec![line("A", "B0A", None)],
        ));
        let mut newer = report(
            AmazonOrderStatus::Unshipped,
            T1,
            vec![line("A", "B0A", None)],
        );
        newer.currency = None;
        newer.ship_to = Address::default();
        newer.sales_channel = None;
        newer.lines[0].item_price = None;

        let ImportDecision::Update(o) =
            decide_import(Some(&held), &newer, &seller(), &marketplace(), LATER)
        else {
            panic!()
        };

        assert_eq!(o.currency.as_deref(), Some("USD"));
        assert_eq!(o.ship_to.city.as_deref(), Some("SEATTLE"));
        assert_eq!(o.sales_channel.as_deref(), Some("Amazon.com"));
        assert_eq!(o.lines[0].item_price, Some(Decimal::new(999, 2)));
    }

    #[test]
    fn order_status_mapping() {
        use AmazonOrderStatus as A;
        let cases = [
            (A::Pending, OrderStatus::New),
            (A::Unshipped, OrderStatus::New),
            (A::PartiallyShipped, OrderStatus::New),
            (A::Other("Unfulfillable".into()), OrderStatus::New),
            (A::Cancelled, OrderStatus::Canceled),
            (A::Shipped, OrderStatus::Fulfilled),
        ];
        for (amazon, expected) in cases {
            assert_eq!(order_status_for(&amazon), expected, "{amazon:?}");
        }
    }
}
