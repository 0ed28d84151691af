//! PROXY protocol v1 and v2 (placeholder, being written).
