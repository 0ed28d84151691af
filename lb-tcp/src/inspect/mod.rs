//! Content inspection (placeholder, being written).
