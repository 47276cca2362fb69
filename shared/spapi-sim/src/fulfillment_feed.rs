//! POST_FLAT_FILE_FULFILLMENT_DATA processing (being written).
