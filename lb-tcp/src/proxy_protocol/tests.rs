//! Tests: read_header over scripted IO, property tests.
