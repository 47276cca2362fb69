//! SP-API client (placeholder: being written).
