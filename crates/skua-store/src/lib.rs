//! skua-store: persistence behind one trait ([`Store`]), with an embedded SQLite
//! implementation ([`SqliteStore`]) as the default. PostgreSQL can follow behind the same trait.
//!
//! Architecture invariant: every write that must not be seen half-done (a series with its
//! samples, a run with its results) is one transaction.

mod sqlite;
mod store;
mod types;

pub use sqlite::{SCHEMA_VERSION, SqliteStore};
pub use store::Store;
pub use types::*;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// Stored JSON could not be (de)serialised.
    #[error("stored JSON is malformed: {0}")]
    Json(#[from] serde_json::Error),
    /// The store file was written by an incompatible version of skua.
    #[error("store schema version {found} is not supported (this skua reads version {expected})")]
    Schema {
        /// Version found in the file.
        found: i64,
        /// Version this build understands.
        expected: i64,
    },
    /// A requested object does not exist.
    #[error("{0} not found in the store")]
    NotFound(String),
    /// Stored data violates an invariant (e.g. a bad step).
    #[error("stored data is invalid: {0}")]
    Invalid(String),
}
