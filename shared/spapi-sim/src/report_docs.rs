//! Flat-file report generation (being written).
