//! One integration test binary for the whole workspace (one link, ripgrep style).
