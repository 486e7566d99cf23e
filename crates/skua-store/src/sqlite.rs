//! SQLite implementation of the store.

/// The embedded SQLite store.
pub struct SqliteStore;
