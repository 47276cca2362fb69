//! The built-in sample seller (being written).

use crate::scenario::{Credentials, Scenario, SellerSpec};

/// The built-in sample scenario.
pub fn scenario() -> Scenario {
    Scenario {
        clock: Default::default(),
        timing: Default::default(),
        sellers: vec![SellerSpec {
            seller_id: "A1SIMSELLER0001".into(),
            credentials: Credentials {
                client_id: "spsync-sim-client".into(),
                client_secret: "spsync-sim-secret".into(),
                refresh_token: "spsync-sim-refresh".into(),
            },
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            listings: vec![],
            orders: vec![],
            generator: None,
        }],
    }
}
