//! The built-in sample seller: what `spsync-sim` serves without a scenario file and what
//! `SimServer::start_sample` starts.
//!
//! One US seller, `A1SIMSELLER0001` in `ATVPDKIKX0DER`, with LWA client id
//! `spsync-sim-client`, client secret `spsync-sim-secret` and refresh token
//! `spsync-sim-refresh`. Its world, relative to the clock start:
//! - 32 listings: merchant-fulfilled ones in stock, some out of stock, some without a price,
//!   some inactive, and some fulfilled by Amazon (`AMAZON_NA`);
//! - 34 orders over the last 3 days in every status: PENDING (a few minutes old), UNSHIPPED,
//!   PARTIALLY_SHIPPED with one package, SHIPPED with one or two packages, CANCELLED (by the
//!   buyer while pending, and by the seller), and Amazon-fulfilled UNSHIPPED and SHIPPED, one
//!   Amazon Business order, one with the seller's own order id;
//! - a modest generator (2 orders an hour, 30 pending minutes) that keeps it moving.
//!
//! The orders are made with [`crate::world::build_order`] and moved with the same
//! transitions the generator uses, from a fixed seed: the same start gives the same world.

use time::{Duration, OffsetDateTime};

use crate::scenario::{ClockSpec, Credentials, GeneratorSpec, ListingSpec, Scenario, SellerSpec};
use crate::state::Rng;
use crate::world::{
    self, FulfilledBy, OrderLine, OrderSpec, PackageSpec, cancel_order, release_order,
    ship_by_amazon, ship_order_items,
};

/// Seller id of the sample seller.
pub const SELLER_ID: &str = "A1SIMSELLER0001";
/// Marketplace of the sample seller (Amazon.com).
pub const MARKETPLACE_ID: &str = "ATVPDKIKX0DER";
/// LWA client id accepted for the sample seller.
pub const CLIENT_ID: &str = "spsync-sim-client";
/// LWA client secret accepted for the sample seller.
pub const CLIENT_SECRET: &str = "spsync-sim-secret";
/// Refresh token of the sample seller.
pub const REFRESH_TOKEN: &str = "spsync-sim-refresh";

/// The sample scenario starting at the current time (whole seconds).
pub fn scenario() -> Scenario {
    let now = OffsetDateTime::now_utc();
    scenario_at(now.replace_nanosecond(0).unwrap_or(now))
}

/// The sample scenario with its clock starting at `start`; every order is dated relative to it.
pub fn scenario_at(start: OffsetDateTime) -> Scenario {
    let listings = listings(start);
    let orders = orders(start, &listings);
    Scenario {
        clock: ClockSpec {
            start: Some(start),
            speed: 1.0,
        },
        timing: Default::default(),
        sellers: vec![SellerSpec {
            seller_id: SELLER_ID.into(),
            credentials: Credentials {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                refresh_token: REFRESH_TOKEN.into(),
            },
            marketplace_ids: vec![MARKETPLACE_ID.into()],
            listings,
            orders,
            generator: Some(GeneratorSpec {
                orders_per_hour: 2.0,
                pending_minutes: 30,
                cancel_ratio: 0.05,
                fba_ratio: 0.15,
                seed: 20_261_120,
                backfill_hours: 0,
            }),
        }],
    }
}

/// (sku, asin, title, price, quantity, fulfillment channel, status)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
    &'static str,
    &'static str,
);

const LISTINGS: &[Row] = &[
    (
        "MUG-BLU-12",
        "B0C7QX2M1A",
        "Stoneware Coffee Mug, 12 oz, Speckled Blue",
        Some("14.99"),
        24,
        "DEFAULT",
        "Active",
    ),
    (
        "MUG-GRN-12",
        "B0C7QX3K8P",
        "Stoneware Coffee Mug, 12 oz, Sage Green",
        Some("14.99"),
        18,
        "DEFAULT",
        "Active",
    ),
    (
        "MUG-SET-4",
        "B0C7QZ9T4D",
        "Stoneware Mug Set of 4, Assorted Glazes",
        Some("49.50"),
        7,
        "DEFAULT",
        "Active",
    ),
    (
        "BOWL-RAM-6",
        "B0CB1L7N2R",
        "Ceramic Ramen Bowl with Chopsticks, 6 in",
        Some("22.00"),
        11,
        "DEFAULT",
        "Active",
    ),
    (
        "PLATE-DIN-2",
        "B0CB1M4W6E",
        "Dinner Plates, Matte White, Set of 2",
        Some("27.95"),
        9,
        "DEFAULT",
        "Active",
    ),
    (
        "TEAPOT-1L",
        "B0CD4H8J3S",
        "Cast Iron Teapot with Infuser, 1 L",
        Some("39.00"),
        5,
        "DEFAULT",
        "Active",
    ),
    (
        "TEA-INF-SS",
        "B0CD4J2Q7V",
        "Stainless Steel Tea Infuser, Fine Mesh",
        Some("8.49"),
        60,
        "DEFAULT",
        "Active",
    ),
    (
        "COAST-CORK-6",
        "B0CF2K5P9B",
        "Cork Coasters, Set of 6",
        Some("11.25"),
        40,
        "DEFAULT",
        "Active",
    ),
    (
        "TRIVET-OAK",
        "B0CF2L8R1C",
        "Oak Trivet, Round, 8 in",
        Some("16.80"),
        14,
        "DEFAULT",
        "Active",
    ),
    (
        "NAPKIN-LIN-4",
        "B0CG6N3T5F",
        "Linen Napkins, Natural, Set of 4",
        Some("24.00"),
        20,
        "DEFAULT",
        "Active",
    ),
    (
        "APRON-CNV",
        "B0CG6P7V2G",
        "Canvas Kitchen Apron with Pockets",
        Some("29.99"),
        12,
        "DEFAULT",
        "Active",
    ),
    (
        "TOWEL-WAF-2",
        "B0CH8Q1X4H",
        "Waffle Weave Dish Towels, Set of 2",
        Some("13.50"),
        33,
        "DEFAULT",
        "Active",
    ),
    (
        "BOARD-WAL-L",
        "B0CH8R6Z8J",
        "Walnut Cutting Board, Large, 18 x 12 in",
        Some("64.00"),
        4,
        "DEFAULT",
        "Active",
    ),
    (
        "SPOON-OLV-3",
        "B0CJ2S4A6K",
        "Olive Wood Spoons, Set of 3",
        Some("18.75"),
        26,
        "DEFAULT",
        "Active",
    ),
    (
        "JAR-GLS-1L",
        "B0CJ2T9C3L",
        "Glass Storage Jar with Bamboo Lid, 1 L",
        Some("12.40"),
        45,
        "DEFAULT",
        "Active",
    ),
    (
        "JAR-GLS-SET",
        "B0CJ2V1E7M",
        "Glass Storage Jars, Set of 3",
        Some("31.90"),
        8,
        "DEFAULT",
        "Active",
    ),
    (
        "CANDLE-SOY-8",
        "B0CK5W3G2N",
        "Soy Candle, Cedar and Sage, 8 oz",
        Some("19.00"),
        16,
        "DEFAULT",
        "Active",
    ),
    (
        "VASE-BUD-S",
        "B0CK5X8J6P",
        "Ceramic Bud Vase, Small",
        Some("15.60"),
        10,
        "DEFAULT",
        "Active",
    ),
    (
        "BASKET-SEA",
        "B0CL7Y2L9Q",
        "Seagrass Storage Basket, Medium",
        Some("34.00"),
        6,
        "DEFAULT",
        "Active",
    ),
    (
        "THROW-WOOL",
        "B0CL7Z5N1R",
        "Wool Throw Blanket, Oatmeal, 50 x 60 in",
        Some("89.00"),
        3,
        "DEFAULT",
        "Active",
    ),
    (
        "PILLOW-CVR-18",
        "B0CM9A7Q4S",
        "Linen Pillow Cover, 18 x 18 in",
        Some("21.50"),
        22,
        "DEFAULT",
        "Active",
    ),
    (
        "MUG-GRY-16",
        "B0CN1B4S8T",
        "Stoneware Coffee Mug, 16 oz, Charcoal",
        Some("16.49"),
        0,
        "DEFAULT",
        "Active",
    ),
    (
        "PLANTER-TC-6",
        "B0CN1C9U2V",
        "Terracotta Planter with Saucer, 6 in",
        Some("17.25"),
        0,
        "DEFAULT",
        "Active",
    ),
    (
        "SOAP-DISH",
        "B0CP3D6W5W",
        "Ceramic Soap Dish with Drain",
        Some("9.95"),
        0,
        "DEFAULT",
        "Active",
    ),
    (
        "BOWL-NEST-3",
        "B0CP3E2Y7X",
        "Nesting Mixing Bowls, Set of 3",
        None,
        5,
        "DEFAULT",
        "Active",
    ),
    (
        "CARAFE-1L",
        "B0CQ5F8A3Y",
        "Glass Water Carafe with Cup, 1 L",
        None,
        0,
        "DEFAULT",
        "Active",
    ),
    (
        "MUG-HOL-12",
        "B0CR7G1C6Z",
        "Holiday Mug, 12 oz, Red",
        Some("15.99"),
        0,
        "DEFAULT",
        "Inactive",
    ),
    (
        "CANDLE-PUMP",
        "B0CR7H4E9A",
        "Soy Candle, Pumpkin Spice, 8 oz",
        Some("19.00"),
        2,
        "DEFAULT",
        "Inactive",
    ),
    (
        "FRENCH-PRESS",
        "B0CS9J7G2B",
        "French Press Coffee Maker, 34 oz",
        Some("32.00"),
        0,
        "AMAZON_NA",
        "Active",
    ),
    (
        "KETTLE-GOOSE",
        "B0CS9K3J5C",
        "Gooseneck Kettle, Stainless, 1 L",
        Some("44.95"),
        0,
        "AMAZON_NA",
        "Active",
    ),
    (
        "GRINDER-BURR",
        "B0CT2L6L8D",
        "Manual Burr Coffee Grinder",
        Some("38.50"),
        0,
        "AMAZON_NA",
        "Active",
    ),
    (
        "SCALE-COFFEE",
        "B0CT2M9N1E",
        "Coffee Scale with Timer",
        Some("26.99"),
        0,
        "AMAZON_NA",
        "Inactive",
    ),
];

fn listings(start: OffsetDateTime) -> Vec<ListingSpec> {
    LISTINGS
        .iter()
        .enumerate()
        .map(
            |(i, (sku, asin, title, price, quantity, channel, status))| ListingSpec {
                sku: (*sku).into(),
                asin: (*asin).into(),
                title: (*title).into(),
                price: price.map(str::to_owned),
                currency: Some("USD".into()),
                quantity: *quantity,
                marketplace_id: MARKETPLACE_ID.into(),
                fulfillment_channel: (*channel).into(),
                status: (*status).into(),
                product_type: "HOME".into(),
                lead_time_days: (*channel == "DEFAULT").then_some(2),
                condition: "new".into(),
                open_date: Some(start - Duration::days(40 + 11 * i as i64)),
            },
        )
        .collect()
}

/// What happens to one sample order.
#[derive(Debug, Clone, Copy)]
enum Story {
    Pending,
    Unshipped,
    /// Two lines, the first shipped.
    PartiallyShipped,
    /// Shipped in this many packages.
    Shipped(u8),
    BuyerCancelled,
    SellerCancelled,
    AmazonUnshipped,
    AmazonShipped,
}

/// (minutes before start, story)
const STORIES: &[(i64, Story)] = &[
    (6, Story::Pending),
    (14, Story::Pending),
    (23, Story::Pending),
    (95, Story::AmazonUnshipped),
    (55, Story::Unshipped),
    (3 * 60, Story::Unshipped),
    (7 * 60, Story::Unshipped),
    (11 * 60, Story::Unshipped),
    (18 * 60, Story::Unshipped),
    (26 * 60, Story::Unshipped),
    (33 * 60, Story::Unshipped),
    (41 * 60, Story::Unshipped),
    (20 * 60, Story::PartiallyShipped),
    (47 * 60, Story::PartiallyShipped),
    (30 * 60, Story::Shipped(1)),
    (36 * 60, Story::Shipped(1)),
    (44 * 60, Story::Shipped(2)),
    (50 * 60, Story::Shipped(1)),
    (53 * 60, Story::Shipped(1)),
    (57 * 60, Story::Shipped(2)),
    (61 * 60, Story::Shipped(1)),
    (64 * 60, Story::Shipped(1)),
    (67 * 60, Story::Shipped(1)),
    (70 * 60, Story::Shipped(1)),
    (5 * 60, Story::BuyerCancelled),
    (29 * 60, Story::BuyerCancelled),
    (52 * 60, Story::BuyerCancelled),
    (38 * 60, Story::SellerCancelled),
    (4 * 60, Story::AmazonUnshipped),
    (15 * 60, Story::AmazonShipped),
    (27 * 60, Story::AmazonShipped),
    (39 * 60, Story::AmazonShipped),
    (58 * 60, Story::AmazonShipped),
    (68 * 60, Story::AmazonShipped),
];

fn carrier(rng: &mut Rng, n: usize) -> PackageSpec {
    let alnum = |rng: &mut Rng, len: usize| -> String {
        (0..len)
            .map(|_| {
                let c = rng.below(36) as u8;
                char::from(if c < 10 { b'0' + c } else { b'A' + c - 10 })
            })
            .collect()
    };
    let digits = |rng: &mut Rng, len: usize| -> String {
        (0..len)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    let (carrier, service, tracking) = match rng.below(3) {
        0 => ("UPS", "UPS Ground", format!("1Z{}", alnum(rng, 16))),
        1 => (
            "USPS",
            "USPS Ground Advantage",
            format!("9400{}", digits(rng, 18)),
        ),
        _ => ("FedEx", "FedEx Ground", digits(rng, 12)),
    };
    PackageSpec {
        package_reference_id: n.to_string(),
        carrier: carrier.into(),
        shipping_service: service.into(),
        tracking_number: tracking,
    }
}

fn orders(start: OffsetDateTime, listings: &[ListingSpec]) -> Vec<serde_json::Value> {
    let mut rng = Rng::new(0x5A3B_1E00_2026);
    let sellable = |fba: bool| -> Vec<&ListingSpec> {
        listings
            .iter()
            .filter(|l| {
                l.status == "Active"
                    && l.price.is_some()
                    && ((l.fulfillment_channel != "DEFAULT") == fba)
                    && (fba || l.quantity > 0)
            })
            .collect()
    };
    let (merchant, amazon) = (sellable(false), sellable(true));
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (index, (minutes_ago, story)) in STORIES.iter().enumerate() {
        let fba = matches!(story, Story::AmazonUnshipped | Story::AmazonShipped);
        let pool = if fba { &amazon } else { &merchant };
        let line_count = match story {
            Story::PartiallyShipped | Story::Shipped(2) => 2,
            _ if index % 5 == 0 => 2,
            _ => 1,
        };
        let first = rng.below(pool.len() as u64) as usize;
        let lines: Vec<OrderLine> = (0..line_count)
            .filter_map(|k| {
                let listing = pool[(first + k * 7) % pool.len()];
                let quantity = 1 + (rng.below(10) / 7) as u32;
                OrderLine::from_listing(listing, world::random_order_item_id(&mut rng), quantity)
            })
            .collect();
        let mut order_id = world::random_order_id(&mut rng, MARKETPLACE_ID);
        while !seen.insert(order_id.clone()) {
            order_id = world::random_order_id(&mut rng, MARKETPLACE_ID);
        }
        let created = start - Duration::minutes(*minutes_ago);
        let spec = OrderSpec {
            order_id,
            marketplace_id: MARKETPLACE_ID.into(),
            created,
            lines,
            fulfilled_by: if fba {
                FulfilledBy::Amazon
            } else {
                FulfilledBy::Merchant
            },
            service_level: if index % 4 == 1 {
                "EXPEDITED"
            } else {
                "STANDARD"
            }
            .into(),
            customer: world::random_customer(&mut rng, "US"),
            seller_order_id: (index == 6).then(|| "SHOP-10042".to_string()),
            prime: fba || index % 3 == 0,
            business: (index == 9)
                .then(|| ("Lakeside Cafe LLC".to_string(), "PO-448120".to_string())),
        };
        let mut order = world::build_order(&spec);
        let released = created + Duration::minutes(30);
        let shipped = released + Duration::hours(3 + (index as i64 % 5));
        let item_ids: Vec<(String, u64)> = spec
            .lines
            .iter()
            .map(|l| (l.order_item_id.clone(), u64::from(l.quantity)))
            .collect();
        match story {
            Story::Pending => {}
            Story::Unshipped | Story::AmazonUnshipped => release_order(&mut order, released),
            Story::PartiallyShipped => {
                release_order(&mut order, released);
                ship_order_items(&mut order, shipped, &item_ids[..1], &carrier(&mut rng, 1));
            }
            Story::Shipped(packages) => {
                release_order(&mut order, released);
                if *packages >= 2 && item_ids.len() >= 2 {
                    ship_order_items(&mut order, shipped, &item_ids[..1], &carrier(&mut rng, 1));
                    ship_order_items(
                        &mut order,
                        shipped + Duration::hours(5),
                        &item_ids[1..],
                        &carrier(&mut rng, 2),
                    );
                } else {
                    ship_order_items(&mut order, shipped, &item_ids, &carrier(&mut rng, 1));
                }
            }
            Story::BuyerCancelled => cancel_order(
                &mut order,
                released,
                "BUYER",
                "Buyer cancelled before payment was authorised",
            ),
            Story::SellerCancelled => {
                release_order(&mut order, released);
                cancel_order(&mut order, shipped, "MERCHANT", "Out of stock");
            }
            Story::AmazonShipped => {
                release_order(&mut order, released);
                ship_by_amazon(&mut order, shipped);
            }
        }
        out.push(order);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use crate::world::{fulfilled_by, order_status, order_time};
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-11-20 09:30 UTC);

    #[test]
    fn sample_seller_has_the_documented_identity() {
        let s = scenario_at(START);
        let seller = &s.sellers[0];

        assert_eq!(s.sellers.len(), 1);
        assert_eq!(seller.seller_id, "A1SIMSELLER0001");
        assert_eq!(seller.marketplace_ids, ["ATVPDKIKX0DER"]);
        assert_eq!(seller.credentials.client_id, "spsync-sim-client");
        assert_eq!(seller.credentials.client_secret, "spsync-sim-secret");
        assert_eq!(seller.credentials.refresh_token, "spsync-sim-refresh");
        assert_eq!(s.clock.start, Some(START));
        assert!(seller.generator.is_some());
    }

    #[test]
    fn sample_orders_cover_every_status_over_the_last_three_days() {
        let s = scenario_at(START);
        let orders = &s.sellers[0].orders;
        let has = |status: &str, by: &str| {
            orders
                .iter()
                .any(|o| order_status(o) == status && fulfilled_by(o) == by)
        };

        assert!(orders.len() >= 24, "{}", orders.len());
        for status in [
            "PENDING",
            "UNSHIPPED",
            "PARTIALLY_SHIPPED",
            "SHIPPED",
            "CANCELLED",
        ] {
            assert!(has(status, "MERCHANT"), "no merchant {status} order");
        }
        assert!(has("SHIPPED", "AMAZON"));
        for o in orders {
            assert!(crate::orders::validate_scenario_order(o).is_ok());
            let created = order_time(o, "createdTime").unwrap();
            assert!(created <= START && created >= START - Duration::days(3));
            assert!(order_time(o, "lastUpdatedTime").unwrap() <= START);
            let status = order_status(o);
            let packages = o["packages"].as_array().map_or(0, Vec::len);
            match (status, fulfilled_by(o)) {
                ("PARTIALLY_SHIPPED" | "SHIPPED", "MERCHANT") => assert!(packages >= 1),
                _ => assert_eq!(packages, 0, "{status}"),
            }
        }
        assert!(
            orders
                .iter()
                .any(|o| o["packages"].as_array().is_some_and(|p| p.len() == 2))
        );
    }

    #[test]
    fn sample_listings_are_varied() {
        let s = scenario_at(START);
        let l = &s.sellers[0].listings;

        assert!(l.len() >= 24);
        assert!(l.iter().any(|l| l.status == "Inactive"));
        assert!(l.iter().any(|l| l.fulfillment_channel == "AMAZON_NA"));
        assert!(l.iter().any(|l| l.price.is_none()));
        assert!(
            l.iter()
                .any(|l| l.quantity == 0 && l.fulfillment_channel == "DEFAULT")
        );
    }

    #[test]
    fn sample_is_the_same_for_the_same_start_and_loads() {
        let a = scenario_at(START);
        let b = scenario_at(START);

        assert_eq!(a.sellers[0].orders, b.sellers[0].orders);
        let mut st = State::from_scenario(&a, START).unwrap();
        crate::world::advance(&mut st, START);
        let pending = st.sellers[SELLER_ID]
            .orders
            .values()
            .filter(|o| order_status(o) == "PENDING")
            .count();
        assert_eq!(
            pending, 3,
            "sample Pending orders stay Pending at the start"
        );
    }
}
