//! Support code for the cross-crate test binary (`flows`): contract-suite helpers.
