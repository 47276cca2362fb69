//! Amazon's carrier codes, and how a carrier written by staff or by shipping software
//! (`fedex ground`, `U.S. Postal Service`, an AfterShip slug such as `ups-mi`) maps to one.
//!
//! The fulfilment feed's `carrier-code` (and confirmShipment's `carrierCode`) takes one of
//! Amazon's exact strings; a carrier Amazon does not list goes as `Other` with its real name in
//! `carrier-name` (1–50 characters). [`resolve_carrier`] makes that choice; [`carriers`] is the
//! table it works from.
//!
//! Source of the table (our own, written from the facts, not a copy of a file): spapi-facts §9
//! and its compilation `spapi-data/compiled/carrier-codes.tsv`. Codes come from amzn-base.xsd's
//! `CarrierCode` enumeration (revision 2012-03-21), later additions seen in integrator code and
//! the Seller Central help page 641 lists for Singapore and Australia; AfterShip slugs come from
//! AfterShip's `couriers.json` (2024-08-12). No current SP-API model enumerates carrier codes,
//! and the authoritative list (the "Data Definitions" tab of each marketplace's Shipping
//! Confirmation template) could not be retrieved, so the table is best effort.
//!
//! Choices made here:
//! * `Other` and `Otro` (Spanish) are the placeholder codes, not carriers: they are not in the
//!   table, and asking for them is [`CarrierError::Placeholder`].
//! * `DHL eCommerce`, listed only for Singapore, is the same carrier as `DHL Global Mail`, which
//!   every list carries (Singapore's too); the name resolves to `DHL Global Mail`, so the row
//!   is left out rather than have one spelling mean two codes.
//! * Several codes name one carrier (`UPS Mail Innovations` / `UPSMI`, `SagawaExpress` /
//!   `SAGAWA`, `YANWEN` / `Yanwen`, ...). Each exact code still resolves to itself; slugs,
//!   aliases and case-insensitive spellings go to one of them, the row listed first (the one
//!   with more sources) unless a slug spells the other's code (`sagawa` → `SAGAWA`).
//!   Marketplace-specific casing is not modelled.
//! * A bare `Hermes` stays `Other`: in the UK it means Evri (formerly Hermes UK), which is not
//!   Amazon's `Hermes Logistik Gruppe` (Hermes Germany).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use thiserror::Error;

/// Amazon's code for a carrier it does not list; the carrier's name goes in `carrier-name`.
pub const OTHER_CARRIER_CODE: &str = "Other";

/// Longest `carrier-name` Amazon takes with the `Other` code (the API's CarrierName: 1–50
/// characters).
pub const MAX_CARRIER_NAME: usize = 50;

/// One carrier Amazon lists, with the spellings that mean it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Carrier {
    /// Amazon's exact carrier-code, as the feed's `carrier-code` column takes it.
    pub code: &'static str,
    /// The carrier's usual name, for people.
    pub name: &'static str,
    /// AfterShip courier slugs for this carrier (a slug belongs to one row only).
    pub aftership_slugs: &'static [&'static str],
    /// Other names and spellings that mean this carrier (case, spaces and punctuation are
    /// ignored when matching).
    pub aliases: &'static [&'static str],
    /// Words of the carrier's own service names (`Priority Mail`, `Next Day Air`, `Tracked
    /// 24`) tolerated next to its name: `usps priority mail` is USPS.
    pub service_words: &'static [&'static str],
}

/// What a carrier written by a person or a program turns into on Amazon's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierChoice {
    /// A carrier Amazon lists: send its code.
    Known(&'static Carrier),
    /// A carrier Amazon does not list: send the code `Other` and this name in `carrier-name`.
    Other {
        /// The carrier's name as given (trimmed), at most [`MAX_CARRIER_NAME`] characters.
        carrier_name: String,
    },
}

impl CarrierChoice {
    /// The feed's `carrier-code`: the carrier's Amazon code, or `Other`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Known(carrier) => carrier.code,
            Self::Other { .. } => OTHER_CARRIER_CODE,
        }
    }

    /// The carrier's name: the table's name for a known carrier, the given name for `Other`.
    pub fn carrier_name(&self) -> &str {
        match self {
            Self::Known(carrier) => carrier.name,
            Self::Other { carrier_name } => carrier_name,
        }
    }

    /// The table row, for a known carrier.
    pub fn carrier(&self) -> Option<&'static Carrier> {
        match self {
            Self::Known(carrier) => Some(carrier),
            Self::Other { .. } => None,
        }
    }
}

/// Why a carrier cannot be sent to Amazon at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CarrierError {
    /// Nothing but whitespace was given. Amazon requires a carrier on every line, so an empty
    /// carrier is invalid rather than an `Other` without a name.
    #[error("the carrier is empty; give an Amazon carrier code or the carrier's name")]
    Empty,
    /// `Other` (or Spanish `Otro`) was given: Amazon's placeholder code, not a carrier.
    #[error("'{0}' is Amazon's placeholder code, not a carrier; give the carrier's name")]
    Placeholder(String),
    /// The carrier is not one Amazon lists and its name is too long for `carrier-name`.
    #[error(
        "the carrier '{name}' is not one Amazon lists, and its name is {len} characters long; \
         Amazon's carrier-name takes at most {MAX_CARRIER_NAME}"
    )]
    NameTooLong {
        /// The name as given (trimmed).
        name: String,
        /// Its length in characters.
        len: usize,
    },
}

/// Amazon's carriers, in resolution priority order (for a spelling that fits two rows equally
/// well, the earlier row wins).
pub fn carriers() -> &'static [Carrier] {
    CARRIERS
}

/// Resolves a carrier as staff or shipping software write it.
///
/// In this order, first match wins:
/// 1. Amazon's exact code (`UPSMI`, `FedEx SmartPost`).
/// 2. An AfterShip slug, ignoring case (`ups-mi`, `dhl-global-mail`).
/// 3. Amazon's code ignoring case (`fedex`, `royal mail`).
/// 4. Spellings: the input is cut into words (letters and digits; case, spaces, hyphens and
///    punctuation ignored) and a carrier fits when a run of those words, glued together,
///    spells its code, name, a slug or an alias (`U.S. Postal Service`, `royalmail`), and
///    every other word is a company or service word: generic ones (`Express`, `Ground`,
///    `Inc`, `Ltd`, `Services`, `Parcel`, ...), any number, or the carrier's own
///    [`service_words`](Carrier::service_words). Of the carriers that fit, the one whose
///    spellings cover the most letters wins (`UPS Mail Innovations` is UPS Mail Innovations,
///    not UPS; `FedEx Ground Economy` is FedEx SmartPost), then the earlier row. A spelling
///    that mentions two carriers (`UPS / USPS`) fits neither.
/// 5. Otherwise `Other` with the trimmed input as carrier-name.
///
/// Errors: empty input ([`CarrierError::Empty`]), `Other` / `Otro` alone
/// ([`CarrierError::Placeholder`]), an unknown name over [`MAX_CARRIER_NAME`] characters
/// ([`CarrierError::NameTooLong`]).
///
/// ```
/// use spsync_domain::{CarrierChoice, resolve_carrier};
///
/// assert_eq!(resolve_carrier("usps priority mail").unwrap().code(), "USPS");
/// assert_eq!(resolve_carrier("UPS Mail Innovations").unwrap().code(), "UPS Mail Innovations");
/// assert_eq!(resolve_carrier("DHL eCommerce").unwrap().code(), "DHL Global Mail");
/// assert_eq!(
///     resolve_carrier(" Evri ").unwrap(),
///     CarrierChoice::Other { carrier_name: "Evri".into() }
/// );
/// ```
pub fn resolve_carrier(input: &str) -> Result<CarrierChoice, CarrierError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(CarrierError::Empty);
    }
    let found = CARRIERS
        .iter()
        .find(|c| c.code == input)
        .or_else(|| {
            CARRIERS.iter().find(|c| {
                c.aftership_slugs
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(input))
            })
        })
        .or_else(|| CARRIERS.iter().find(|c| c.code.eq_ignore_ascii_case(input)))
        .or_else(|| best_spelling_match(input));
    if let Some(carrier) = found {
        return Ok(CarrierChoice::Known(carrier));
    }
    if matches!(compact(input).as_str(), "other" | "otro") {
        return Err(CarrierError::Placeholder(input.to_owned()));
    }
    let len = input.chars().count();
    if len > MAX_CARRIER_NAME {
        return Err(CarrierError::NameTooLong {
            name: input.to_owned(),
            len,
        });
    }
    Ok(CarrierChoice::Other {
        carrier_name: input.to_owned(),
    })
}

/// Words that never name a carrier and may stand next to any carrier's name.
const GENERIC_WORDS: &[&str] = &[
    "express",
    "ground",
    "parcel",
    "parcels",
    "service",
    "services",
    "courier",
    "couriers",
    "logistics",
    "solutions",
    "shipping",
    "delivery",
    "worldwide",
    "international",
    "intl",
    "group",
    "the",
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "co",
    "corp",
    "corporation",
    "company",
];

/// Inputs with more words than this are not matched by spelling (they are not carrier names,
/// and the run search is quadratic).
const MAX_WORDS: usize = 16;
/// Longest run of input words glued together to spell one phrase (`U S Postal Service`).
const MAX_RUN: usize = 8;

/// Lowercase letters and digits only: the form spellings are compared in.
fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The input's words: runs of letters and digits, lowercased.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Compact spelling → rows it spells (in table order), built once from the table.
fn spellings() -> &'static HashMap<String, Vec<usize>> {
    static INDEX: OnceLock<HashMap<String, Vec<usize>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, carrier) in CARRIERS.iter().enumerate() {
            let phrases = [carrier.code, carrier.name]
                .into_iter()
                .chain(carrier.aftership_slugs.iter().copied())
                .chain(carrier.aliases.iter().copied());
            for phrase in phrases {
                let rows = index.entry(compact(phrase)).or_default();
                if !rows.contains(&i) {
                    rows.push(i);
                }
            }
        }
        index
    })
}

fn is_tolerated(word: &str, carrier: &Carrier) -> bool {
    word.chars().all(|c| c.is_ascii_digit())
        || GENERIC_WORDS.contains(&word)
        || carrier.service_words.contains(&word)
}

/// Step 4 of [`resolve_carrier`].
fn best_spelling_match(input: &str) -> Option<&'static Carrier> {
    let words = words(input);
    if words.is_empty() || words.len() > MAX_WORDS {
        return None;
    }
    let index = spellings();
    // Row → bit mask of the input words its spellings cover.
    let mut covered: BTreeMap<usize, u32> = BTreeMap::new();
    for start in 0..words.len() {
        let mut run = String::new();
        for (end, word) in words.iter().enumerate().skip(start).take(MAX_RUN) {
            run.push_str(word);
            if let Some(rows) = index.get(&run) {
                let mask = ((1u32 << (end + 1)) - 1) & !((1u32 << start) - 1);
                for &row in rows {
                    *covered.entry(row).or_default() |= mask;
                }
            }
        }
    }
    let mut best: Option<(usize, usize)> = None; // (letters covered, row)
    for (row, mask) in covered {
        let carrier = &CARRIERS[row];
        let fits = words
            .iter()
            .enumerate()
            .all(|(k, w)| mask & (1 << k) != 0 || is_tolerated(w, carrier));
        if !fits {
            continue;
        }
        let score: usize = words
            .iter()
            .enumerate()
            .filter(|(k, _)| mask & (1 << k) != 0)
            .map(|(_, w)| w.chars().count())
            .sum();
        // Rows come in table order, so a tie keeps the earlier row.
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, row));
        }
    }
    best.map(|(_, row)| &CARRIERS[row])
}

const fn row(
    code: &'static str,
    name: &'static str,
    aftership_slugs: &'static [&'static str],
    aliases: &'static [&'static str],
    service_words: &'static [&'static str],
) -> Carrier {
    Carrier {
        code,
        name,
        aftership_slugs,
        aliases,
        service_words,
    }
}

/// The table. Service words are lowercase single words. Rows sharing a carrier keep the
/// slugs and aliases on one of them (see the module notes).
static CARRIERS: &[Carrier] = &[
    // --- United States ---
    row(
        "USPS",
        "USPS",
        &["usps"],
        &[
            "United States Postal Service",
            "US Postal Service",
            "US Postal",
            "US Mail",
        ],
        &[
            "priority",
            "mail",
            "first",
            "class",
            "ground",
            "advantage",
            "media",
            "library",
            "retail",
            "select",
            "certified",
            "package",
            "flat",
            "rate",
            "commercial",
            "plus",
            "registered",
        ],
    ),
    row(
        "UPS",
        "UPS",
        &["ups"],
        &["United Parcel Service"],
        &[
            "next",
            "day",
            "air",
            "saver",
            "early",
            "am",
            "2nd",
            "3rd",
            "select",
            "standard",
            "expedited",
            "surepost",
            "freight",
        ],
    ),
    // UPS Mail Innovations: two codes for one service; the spelled-out one is the preferred.
    row(
        "UPS Mail Innovations",
        "UPS Mail Innovations",
        &["ups-mi"],
        &["Mail Innovations"],
        &["expedited", "priority", "first", "class", "select"],
    ),
    row("UPSMI", "UPS Mail Innovations", &[], &[], &[]),
    row(
        "FedEx",
        "FedEx",
        &["fedex"],
        &["Federal Express"],
        &[
            "home",
            "priority",
            "overnight",
            "standard",
            "first",
            "2day",
            "day",
            "economy",
            "freight",
            "one",
            "rate",
            "saver",
        ],
    ),
    // SmartPost was renamed FedEx Ground Economy in 2020; its numbers track under `fedex`.
    row(
        "FedEx SmartPost",
        "FedEx SmartPost",
        &[],
        &["SmartPost", "FedEx Ground Economy"],
        &[],
    ),
    row("OnTrac", "OnTrac", &["ontrac"], &[], &["ground"]),
    row("Lasership", "LaserShip", &["lasership"], &[], &[]),
    row("OSM", "OSM Worldwide", &["osm-worldwide"], &[], &[]),
    row(
        "Newgistics",
        "Newgistics",
        &["newgistics"],
        &["Pitney Bowes Newgistics"],
        &[],
    ),
    row("Streamlite", "Streamlite", &[], &[], &[]),
    row("Blue Package", "Blue Package Delivery", &[], &[], &[]),
    // --- DHL and the Deutsche Post group ---
    // `dhl` is DHL Express; DHL Paket (Germany, slug `dhl-germany`) ships under the same code.
    row(
        "DHL",
        "DHL Express",
        &["dhl", "dhl-germany"],
        &["DHL Paket"],
        &["paket"],
    ),
    // DHL eCommerce (US) is the former DHL Global Mail; AfterShip names the slug DHL eCommerce.
    row(
        "DHL Global Mail",
        "DHL Global Mail",
        &["dhl-global-mail", "dhl-global-mail-asia"],
        &["DHL eCommerce", "DHL GM"],
        &[],
    ),
    row(
        "Smartmail",
        "DHL SmartMail",
        &[],
        &["DHL SmartMail"],
        &["parcel", "expedited", "plus"],
    ),
    row(
        "Deutsche Post",
        "Deutsche Post",
        &["deutsch-post"],
        &["Warenpost"],
        &["brief", "mail"],
    ),
    // --- Canada ---
    row(
        "Canada Post",
        "Canada Post",
        &["canada-post"],
        &["Postes Canada"],
        &[
            "expedited",
            "regular",
            "xpresspost",
            "priority",
            "tracked",
            "packet",
            "small",
        ],
    ),
    // --- United Kingdom and Ireland ---
    row(
        "Royal Mail",
        "Royal Mail",
        &["royal-mail"],
        &[],
        &[
            "tracked",
            "special",
            "first",
            "second",
            "class",
            "1st",
            "2nd",
            "signed",
            "for",
            "guaranteed",
            "by",
            "1pm",
            "9am",
        ],
    ),
    row(
        "Parcelforce",
        "Parcelforce Worldwide",
        &["parcel-force"],
        &[],
        &["am", "globalexpress"],
    ),
    row("Yodel", "Yodel", &["yodel"], &[], &["direct", "xpect"]),
    row("City Link", "City Link", &["city-link"], &[], &[]),
    row("Target", "Target Express", &[], &[], &[]),
    row("Parcelnet", "Parcelnet", &[], &[], &[]),
    // --- Continental Europe ---
    row(
        "DPD",
        "DPD",
        &["dpd", "dpd-uk", "dpd-de", "dpd-at"],
        &[],
        &["classic", "predict"],
    ),
    row(
        "GLS",
        "GLS",
        &["gls", "gls-italy", "gls-spain", "gls-us"],
        &["General Logistics Systems"],
        &[],
    ),
    row(
        "TNT",
        "TNT",
        &["tnt", "tnt-uk", "tnt-it", "tnt-fr", "tnt-au"],
        &[],
        &["economy"],
    ),
    row(
        "GO!",
        "GO! General Overnight",
        &[],
        &["General Overnight"],
        &[],
    ),
    // Hermes Germany; a bare "Hermes" is left as Other (see the module notes).
    row(
        "Hermes Logistik Gruppe",
        "Hermes Germany",
        &["hermes-de"],
        &["Hermes Logistik", "Hermes DE"],
        &[],
    ),
    row(
        "La Poste",
        "La Poste (Colissimo)",
        &["la-poste-colissimo"],
        &["Colissimo"],
        &[],
    ),
    row("Chronopost", "Chronopost", &["chronopost-france"], &[], &[]),
    row(
        "Poste Italiane",
        "Poste Italiane",
        &["poste-italiane"],
        &[],
        &["crono", "pacco"],
    ),
    row("SDA", "SDA", &["italy-sda"], &["Italy SDA"], &[]),
    row("Seur", "Seur", &["spanish-seur"], &[], &[]),
    row(
        "Correos",
        "Correos",
        &["spain-correos-es"],
        &["Correos de España", "Correos de Espana"],
        &[],
    ),
    // Chrono Express is Correos Express (low confidence in the compiled table).
    row(
        "Chrono Express",
        "Correos Express",
        &["correosexpress"],
        &["Correos Express"],
        &[],
    ),
    row("MRW", "MRW", &["mrw-spain"], &[], &[]),
    row("Nacex", "Nacex", &["nacex-spain"], &[], &[]),
    row("Endopack", "Endopack", &[], &[], &[]),
    row("Amazon Shipping", "Amazon Shipping", &["amazon"], &[], &[]),
    // --- Japan: each carrier has a CamelCase and an upper-case code ---
    row(
        "YamatoTransport",
        "Yamato Transport",
        &["taqbin-jp"],
        &["TA-Q-BIN", "Kuroneko Yamato", "ヤマト運輸"],
        &[],
    ),
    row("YAMATO", "Yamato Transport", &[], &[], &[]),
    row("SagawaExpress", "Sagawa Express", &[], &["佐川急便"], &[]),
    // The slug spells this code, so it goes with it: `sagawa` and `SAGAWA` agree.
    row("SAGAWA", "Sagawa Express", &["sagawa"], &[], &[]),
    row(
        "NipponExpress",
        "Nippon Express",
        &["nippon-express"],
        &["日本通運"],
        &[],
    ),
    row("NITTSU", "Nippon Express", &[], &[], &[]),
    // Japan Post Yu-Pack / Express; AfterShip's `japan-post` is the closest slug.
    row(
        "JP_EXPRESS",
        "Japan Post",
        &["japan-post"],
        &["Yu-Pack", "日本郵便", "ゆうパック"],
        &[],
    ),
    row("FEDEX_JP", "FedEx Japan", &[], &[], &[]),
    // --- India ---
    row("BlueDart", "Blue Dart", &["bluedart"], &[], &[]),
    row("AFL/Fedex", "AFL FedEx", &[], &[], &[]),
    row(
        "India Post",
        "India Post",
        &["india-post", "india-post-int"],
        &[],
        &["speed", "post"],
    ),
    row(
        "Professional",
        "Professional Couriers",
        &["professional-couriers"],
        &["TPC"],
        &[],
    ),
    row("DTDC", "DTDC", &["dtdc"], &[], &[]),
    row("Overnite Express", "Overnite Express", &[], &[], &[]),
    row("First Flight", "First Flight", &["first-flight"], &[], &[]),
    row("Delhivery", "Delhivery", &["delhivery"], &[], &[]),
    // --- Middle East, Asia-Pacific, Latin America ---
    row("Aramex", "Aramex", &["aramex"], &[], &[]),
    // AfterShip now names `fastway-au` "Aramex Australia"; Amazon's list keeps Fastway.
    row(
        "Fastway",
        "Fastway",
        &["fastway-au", "fastway-ireland", "fastway-nz", "fastway-za"],
        &[],
        &[],
    ),
    row(
        "Australia Post",
        "Australia Post",
        &["australia-post"],
        &["AusPost"],
        &["parcel", "post", "eparcel"],
    ),
    row("AUSSIE_POST", "Australia Post", &[], &[], &[]),
    // Seller Central help 641, Australia's list (the slug stays on Australia Post).
    row(
        "Australia Post-Consignment",
        "Australia Post (consignment)",
        &[],
        &[],
        &[],
    ),
    row(
        "Australia Post-ArticleId",
        "Australia Post (article id)",
        &[],
        &[],
        &[],
    ),
    row(
        "Couriers Please",
        "Couriers Please",
        &["couriers-please"],
        &[],
        &[],
    ),
    row("Sendle", "Sendle", &["sendle"], &[], &[]),
    row(
        "Toll Global Express",
        "Toll Global Express",
        &["toll-global-express"],
        &[],
        &[],
    ),
    row(
        "China Post",
        "China Post",
        &["china-post"],
        &[],
        &["air", "mail"],
    ),
    row(
        "EUB",
        "China Post ePacket",
        &["china-ems"],
        &["ePacket", "China EMS"],
        &[],
    ),
    row("Yun Express", "YunExpress", &["yunexpress"], &[], &[]),
    row("4PX", "4PX", &["4px"], &[], &[]),
    // Casing differs by marketplace (YANWEN in the later lists and Australia's, Yanwen in
    // Singapore's); both are kept, the first is the default.
    row("YANWEN", "Yanwen", &["yanwen"], &[], &[]),
    row("Yanwen", "Yanwen", &[], &[], &[]),
    row(
        "SF Express",
        "SF Express",
        &["sf-express"],
        &["Shunfeng"],
        &[],
    ),
    row(
        "Ninjavan",
        "Ninja Van",
        &["ninjavan", "ninjavan-my", "ninjavan-id"],
        &[],
        &[],
    ),
    row("Qxpress", "Qxpress", &["qxpress"], &[], &[]),
    row(
        "Singapore Post",
        "Singapore Post",
        &["singapore-post"],
        &["SingPost"],
        &[],
    ),
    row(
        "Correios",
        "Correios",
        &["brazil-correios"],
        &["Correios do Brasil"],
        &["sedex", "pac"],
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn code_of(input: &str) -> &'static str {
        match resolve_carrier(input) {
            Ok(choice) => choice.code(),
            Err(e) => panic!("{input:?} did not resolve: {e}"),
        }
    }

    #[test]
    fn every_row_resolves_from_its_own_code() {
        for carrier in carriers() {
            assert_eq!(code_of(carrier.code), carrier.code);
        }
    }

    #[test]
    fn every_row_resolves_from_each_of_its_slugs_in_any_case() {
        for carrier in carriers() {
            for slug in carrier.aftership_slugs {
                assert_eq!(code_of(slug), carrier.code, "slug {slug}");
                assert_eq!(code_of(&slug.to_uppercase()), carrier.code, "slug {slug}");
            }
        }
    }

    #[test]
    fn every_row_resolves_from_each_of_its_aliases_in_any_case_and_spacing() {
        for carrier in carriers() {
            for alias in carrier.aliases {
                assert_eq!(code_of(alias), carrier.code, "alias {alias}");
                assert_eq!(
                    code_of(&alias.to_lowercase()),
                    carrier.code,
                    "alias {alias}"
                );
                assert_eq!(
                    code_of(&alias.to_uppercase()),
                    carrier.code,
                    "alias {alias}"
                );
                let squashed: String = alias.chars().filter(|c| *c != ' ').collect();
                assert_eq!(code_of(&squashed), carrier.code, "alias {alias}");
            }
        }
    }

    #[test]
    fn every_code_resolves_in_other_cases_to_a_row_of_the_same_code() {
        for carrier in carriers() {
            for variant in [carrier.code.to_lowercase(), carrier.code.to_uppercase()] {
                let got = code_of(&variant);
                assert!(
                    got.eq_ignore_ascii_case(carrier.code),
                    "{variant} gave {got}, expected {}",
                    carrier.code
                );
            }
        }
    }

    #[test]
    fn every_name_resolves_to_a_row_of_that_name() {
        for carrier in carriers() {
            let choice = resolve_carrier(carrier.name).expect("a name resolves");
            assert_eq!(choice.carrier_name(), carrier.name, "name {}", carrier.name);
            assert!(choice.carrier().is_some(), "name {}", carrier.name);
        }
    }

    #[test]
    fn a_carrier_with_its_service_words_resolves_to_it() {
        for carrier in carriers() {
            if carrier.service_words.is_empty() {
                continue;
            }
            for words in carrier.service_words.chunks(3) {
                let input = format!("{} {}", carrier.name, words.join(" "));
                assert_eq!(code_of(&input), carrier.code, "input {input}");
            }
        }
    }

    #[test]
    fn the_table_is_consistent() {
        let mut codes = HashSet::new();
        let mut slugs = HashSet::new();
        for carrier in carriers() {
            assert!(codes.insert(carrier.code), "code {} twice", carrier.code);
            assert_ne!(carrier.code, OTHER_CARRIER_CODE);
            for slug in carrier.aftership_slugs {
                assert!(slugs.insert(*slug), "slug {slug} on two rows");
                assert_eq!(*slug, slug.to_lowercase());
            }
            for word in carrier.service_words {
                assert_eq!(words(word), vec![word.to_string()], "service word {word}");
            }
        }
        // The 27 the issue's seed counts, and every code of the compiled table (78 rows) less
        // Other, Otro and DHL eCommerce (see the module notes).
        assert!(carriers().len() >= 27);
        assert_eq!(carriers().len(), 75);
        for code in [
            "USPS",
            "UPS",
            "UPS Mail Innovations",
            "UPSMI",
            "FedEx",
            "FedEx SmartPost",
            "DHL",
            "DHL Global Mail",
            "OnTrac",
            "Canada Post",
            "Royal Mail",
            "Parcelforce",
        ] {
            assert!(codes.contains(code), "{code} missing");
        }
    }

    #[test]
    fn real_world_spellings_resolve_to_the_expected_code() {
        let cases: &[(&str, &str)] = &[
            ("fedex ground", "FedEx"),
            ("FedEx Express", "FedEx"),
            ("FEDEX HOME DELIVERY", "FedEx"),
            ("FedEx® 2Day", "FedEx"),
            ("Federal Express Corporation", "FedEx"),
            ("FedEx SmartPost", "FedEx SmartPost"),
            ("fedex smart post", "FedEx SmartPost"),
            ("FedEx Ground Economy", "FedEx SmartPost"),
            ("united parcel service", "UPS"),
            ("UPS Ground", "UPS"),
            ("UPS Next Day Air Saver", "UPS"),
            ("UPS SurePost", "UPS"),
            ("UPS Mail Innovations", "UPS Mail Innovations"),
            ("ups mail-innovations", "UPS Mail Innovations"),
            ("UPS MI", "UPS Mail Innovations"),
            ("UPS Mail Innovations Expedited", "UPS Mail Innovations"),
            ("upsmi", "UPSMI"),
            ("U.S. Postal Service", "USPS"),
            ("United States Postal Service", "USPS"),
            ("usps priority mail", "USPS"),
            ("USPS First-Class Package Service", "USPS"),
            ("USPS Ground Advantage", "USPS"),
            ("royalmail", "Royal Mail"),
            ("Royal Mail Tracked 24", "Royal Mail"),
            ("ROYAL MAIL 1st Class Signed For", "Royal Mail"),
            ("Parcel Force", "Parcelforce"),
            ("Parcelforce Worldwide Express 48", "Parcelforce"),
            ("DHL eCommerce", "DHL Global Mail"),
            ("DHL eCommerce Solutions", "DHL Global Mail"),
            ("dhl global mail", "DHL Global Mail"),
            ("DHL Express", "DHL"),
            ("DHL Express Worldwide", "DHL"),
            ("DHL Paket", "DHL"),
            ("DHL SmartMail Parcel Plus Expedited", "Smartmail"),
            ("Canada Post / Postes Canada", "Canada Post"),
            ("Canada Post Xpresspost", "Canada Post"),
            ("On-Trac", "OnTrac"),
            ("OnTrac Ground", "OnTrac"),
            ("LaserShip Inc.", "Lasership"),
            ("Deutsche Post AG", "Deutsche Post"),
            ("Hermes Germany GmbH", "Hermes Logistik Gruppe"),
            ("Colissimo", "La Poste"),
            ("Correos Express", "Chrono Express"),
            ("Correos", "Correos"),
            ("Yanwen", "Yanwen"),
            ("yanwen", "YANWEN"),
            ("Yamato", "YAMATO"),
            ("ヤマト運輸", "YamatoTransport"),
            ("Japan Post", "JP_EXPRESS"),
            ("China Post ePacket", "EUB"),
            ("China Post Air Mail", "China Post"),
            ("Aus Post", "Australia Post"),
            ("australia post consignment", "Australia Post-Consignment"),
            ("Ninja Van", "Ninjavan"),
            ("SF-Express", "SF Express"),
        ];
        for (input, code) in cases {
            assert_eq!(code_of(input), *code, "input {input:?}");
        }
    }

    #[test]
    fn unknown_carriers_go_as_other_with_the_trimmed_name() {
        for (input, name) in [
            ("  Evri ", "Evri"),
            ("Hermes", "Hermes"),
            ("UPS / USPS", "UPS / USPS"),
            ("FedExGround", "FedExGround"),
            ("Speedy Couriers Ltd", "Speedy Couriers Ltd"),
            ("Ground", "Ground"),
        ] {
            let choice = resolve_carrier(input).expect("resolves");
            assert_eq!(
                choice,
                CarrierChoice::Other {
                    carrier_name: name.into()
                },
                "input {input:?}"
            );
            assert_eq!(choice.code(), "Other");
            assert_eq!(choice.carrier_name(), name);
        }
    }

    #[test]
    fn empty_carrier_is_invalid() {
        assert_eq!(resolve_carrier(""), Err(CarrierError::Empty));
        assert_eq!(resolve_carrier(" \t "), Err(CarrierError::Empty));
    }

    #[test]
    fn the_placeholder_codes_are_not_carriers() {
        for input in ["Other", "other", " OTHER ", "Otro"] {
            assert_eq!(
                resolve_carrier(input),
                Err(CarrierError::Placeholder(input.trim().into()))
            );
        }
    }

    #[test]
    fn an_unknown_name_over_fifty_characters_is_refused() {
        let fifty = "x".repeat(50);
        assert_eq!(
            resolve_carrier(&fifty),
            Ok(CarrierChoice::Other {
                carrier_name: fifty.clone()
            })
        );
        let long = format!("{fifty}y");
        assert_eq!(
            resolve_carrier(&long),
            Err(CarrierError::NameTooLong {
                name: long,
                len: 51
            })
        );
    }

    #[test]
    fn a_long_input_naming_a_carrier_is_still_matched_up_to_the_word_limit() {
        let input = format!("UPS {}", "ground ".repeat(MAX_WORDS - 1));
        assert_eq!(code_of(&input), "UPS");
        let input = format!("UPS {}", "ground ".repeat(MAX_WORDS));
        assert!(matches!(
            resolve_carrier(&input),
            Err(CarrierError::NameTooLong { .. })
        ));
    }
}
