//! Which SP-API region serves a marketplace ("Marketplace IDs" and "SP-API endpoints" in
//! Amazon's developer guide), to register the simulator's sellers the way an operator would.

/// The SP-API region (`na`, `eu`, `fe`) of a marketplace id; `None` when unknown.
pub fn region_of(marketplace_id: &str) -> Option<&'static str> {
    const NA: &[&str] = &[
        "A2EUQ1WTGCTBG2",
        "ATVPDKIKX0DER",
        "A1AM78C64UM0Y8",
        "A2Q3Y263D00KWC",
    ];
    const EU: &[&str] = &[
        "A28R8C7NBKEWEA",
        "A1RKKUPIHCS9HS",
        "A1F83G8C2ARO7P",
        "A13V1IB3VIYZZH",
        "AMEN7PMS3EDWL",
        "A1805IZSGTT6HS",
        "A1PA6795UKMFR9",
        "APJ6JRA9NG5V4",
        "A2NODRKZP88ZB9",
        "AE08WJ6YKNBMC",
        "A1C3SOZRARQ6R3",
        "ARBP9OOSHTCHU",
        "A33AVAJ2PDY3EV",
        "A17E79C6D8DWNP",
        "A2VIGQ35RCS4UG",
        "A21TJRUUN4KGV",
    ];
    const FE: &[&str] = &["A19VAU5U5O7RUS", "A39IBJ37TRP1C6", "A1VC38T7YXB528"];
    [("na", NA), ("eu", EU), ("fe", FE)]
        .into_iter()
        .find(|(_, ids)| ids.contains(&marketplace_id))
        .map(|(region, _)| region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marketplaces_map_to_their_region() {
        assert_eq!(region_of("ATVPDKIKX0DER"), Some("na"));
        assert_eq!(region_of("A1F83G8C2ARO7P"), Some("eu"));
        assert_eq!(region_of("A1PA6795UKMFR9"), Some("eu"));
        assert_eq!(region_of("A1VC38T7YXB528"), Some("fe"));
        assert_eq!(region_of("NOPE"), None);
    }
}
