//! Stored record types.
