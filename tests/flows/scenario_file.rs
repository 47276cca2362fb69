//! The example scenario file shipped with the simulator loads, and each of its sellers sees
//! exactly its own world through the SP-API client.

use std::collections::BTreeSet;
use std::time::Duration;

use spsync_sim::scenario::Scenario;
use spsync_sim::{SimOptions, SimServer};
use spsync_spapi::orders::{IncludedData, OrderTimeFilter, SearchOrdersQuery};
use spsync_spapi::{LwaCredentials, SpApiClient, SpApiConfig};

const TWO_SELLERS: &str = include_str!("../../shared/spapi-sim/scenarios/two-sellers.json");

fn client_for(server: &SimServer, refresh_token: &str) -> SpApiClient {
    let credentials = LwaCredentials::new("spsync-sim-client", "spsync-sim-secret", refresh_token);
    let mut config = SpApiConfig::from_urls(&server.url(), Some(&server.lwa_url()), credentials)
        .expect("endpoints");
    config.max_in_process_wait = Duration::ZERO;
    SpApiClient::new(config).expect("client")
}

#[tokio::test]
async fn each_seller_of_the_example_scenario_sees_only_its_own_orders() {
    let mut scenario = Scenario::from_json(TWO_SELLERS).expect("the example scenario parses");
    scenario.clock.speed = 0.0;
    let written: Vec<BTreeSet<String>> = scenario
        .sellers
        .iter()
        .map(|s| {
            s.orders
                .iter()
                .map(|o| o["orderId"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let marketplaces: Vec<Vec<String>> = scenario
        .sellers
        .iter()
        .map(|s| s.marketplace_ids.clone())
        .collect();
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .expect("simulator starts");
    server.sim().advance_clock(Duration::from_secs(300));
    let after = server.sim().clock.now() - time::Duration::days(5);

    for (i, refresh_token) in ["spsync-sim-refresh", "spsync-sim-refresh-eu"]
        .iter()
        .enumerate()
    {
        let api = client_for(&server, refresh_token);
        let mut query = SearchOrdersQuery::new(
            OrderTimeFilter::Created {
                after,
                before: None,
            },
            marketplaces[i].clone(),
        );
        query.included_data = vec![IncludedData::Buyer, IncludedData::Packages];

        let found = api
            .orders()
            .search_all_orders(&query, 10)
            .await
            .expect("searchOrders");

        let ids: BTreeSet<String> = found.orders.iter().map(|o| o.order_id.clone()).collect();
        assert!(
            ids.is_superset(&written[i]),
            "seller {i} sees its scenario orders: {ids:?}"
        );
        let others = &written[1 - i];
        assert!(
            ids.is_disjoint(others),
            "seller {i} never sees the other seller's orders"
        );
    }
}

#[tokio::test]
async fn a_pasted_v2026_order_comes_back_from_get_order_with_its_packages() {
    let mut scenario = Scenario::from_json(TWO_SELLERS).expect("parses");
    scenario.clock.speed = 0.0;
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .expect("simulator starts");
    let api = client_for(&server, "spsync-sim-refresh-eu");

    let order = api
        .orders()
        .get_order(
            "203-4400002-0000001",
            &[IncludedData::Packages, IncludedData::Recipient],
        )
        .await
        .expect("getOrder");

    let packages = order.packages.expect("PACKAGES requested");
    assert_eq!(packages.len(), 1);
    assert_eq!(
        packages[0].tracking_number.as_deref(),
        Some("00340434161094015902")
    );
    let address = order
        .recipient
        .and_then(|r| r.delivery_address)
        .expect("RECIPIENT requested");
    assert_eq!(address.city.as_deref(), Some("München"));
}
