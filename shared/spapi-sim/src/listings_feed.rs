//! JSON_LISTINGS_FEED validation and processing (being written).
