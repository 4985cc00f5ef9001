//! `SqliteStore::throwaway()`: a store in a SQLite file of its own.

use sqlx::Sqlite;

use super::{Removal, TAG, Throwaway};
use crate::{SqlStoreConfig, SqliteStore};

impl SqliteStore {
    /// A migrated store (prefix `mfa_`) in a new database file (WAL mode, a pool of 8) in a
    /// temporary directory, removed with the returned [`Throwaway`].
    ///
    /// # Panics
    /// If the directory or the database cannot be created and migrated.
    pub async fn throwaway() -> Throwaway<Sqlite> {
        let dir = tempfile::Builder::new()
            .prefix(TAG)
            .tempdir()
            .expect("a temporary directory");
        let path = dir.path().join("mfa.db");
        let store = SqliteStore::open(&path, SqlStoreConfig::default())
            .await
            .expect("a SQLite file in the temporary directory");
        let throwaway = Throwaway {
            store,
            name: path.display().to_string(),
            removal: Some(Removal::Directory(dir)),
        };
        throwaway
            .migrate()
            .await
            .expect("migrating a throwaway file");
        throwaway
    }
}
