//! Configuration shared by every engine: the table prefix (and, on PostgreSQL, the schema).

use crate::error::{Error, Result};

/// The longest accepted table prefix (identifiers are at most 63 bytes on PostgreSQL and 64 on
/// MySQL; the longest table name adds 16 characters and index names a few more).
pub const MAX_PREFIX_LEN: usize = 30;

/// How a SQL store names its tables.
///
/// The prefix (and schema) are spliced into SQL text, so they are validated at construction:
/// only `[a-z0-9_]`, not starting with a digit. Anything else is refused with
/// [`Error::InvalidName`], which makes injection through configuration impossible.
///
/// ```
/// use mfa_store_sql::SqlStoreConfig;
/// let config = SqlStoreConfig::new("mfa_").unwrap();
/// assert_eq!(config.table_prefix(), "mfa_");
/// assert!(SqlStoreConfig::new("mfa; DROP TABLE users; --").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStoreConfig {
    table_prefix: String,
    schema: Option<String>,
}

impl Default for SqlStoreConfig {
    /// Tables named `mfa_totp_factors`, `mfa_challenges`, ... in the default schema.
    fn default() -> Self {
        Self {
            table_prefix: "mfa_".to_owned(),
            schema: None,
        }
    }
}

impl SqlStoreConfig {
    /// A configuration with this table prefix (may be empty) and the default schema.
    ///
    /// # Errors
    /// [`Error::InvalidName`] unless the prefix is `[a-z0-9_]*`, not starting with a digit, at
    /// most [`MAX_PREFIX_LEN`] characters.
    pub fn new(table_prefix: impl Into<String>) -> Result<Self> {
        let table_prefix = table_prefix.into();
        validate(&table_prefix, "table prefix", MAX_PREFIX_LEN, true)?;
        Ok(Self {
            table_prefix,
            schema: None,
        })
    }

    /// Puts the tables in this schema (PostgreSQL only; [`crate::PgStore::migrate`] creates it).
    /// The other engines ignore it: on MySQL a schema is a database, chosen by the URL.
    ///
    /// # Errors
    /// [`Error::InvalidName`] unless the name is `[a-z0-9_]+`, not starting with a digit, at most
    /// 63 characters.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Result<Self> {
        let schema = schema.into();
        validate(&schema, "schema", 63, false)?;
        self.schema = Some(schema);
        Ok(self)
    }

    /// The table prefix.
    #[must_use]
    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// The PostgreSQL schema, if one was set.
    #[must_use]
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// What `{p}` becomes in SQL text: `schema.prefix` or `prefix`.
    pub(crate) fn qualified_prefix(&self, use_schema: bool) -> String {
        match (&self.schema, use_schema) {
            (Some(schema), true) => format!("{schema}.{}", self.table_prefix),
            _ => self.table_prefix.clone(),
        }
    }
}

fn validate(name: &str, what: &'static str, max: usize, empty_ok: bool) -> Result<()> {
    let refused = Error::InvalidName { what, max };
    if name.len() > max || (name.is_empty() && !empty_ok) {
        return Err(refused);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(refused);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(refused);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in ["", "mfa_", "app2_mfa_", "_x"] {
            assert_eq!(SqlStoreConfig::new(ok).unwrap().table_prefix(), ok);
        }
        let config = SqlStoreConfig::new("mfa_")
            .unwrap()
            .with_schema("auth")
            .unwrap();
        assert_eq!(config.qualified_prefix(true), "auth.mfa_");
        assert_eq!(config.qualified_prefix(false), "mfa_");
    }

    #[test]
    fn refuses_hostile_names() {
        for bad in [
            "mfa; DROP TABLE users; --",
            "mfa_\"",
            "mfa`",
            "MFA_",
            "a b",
            "x'",
            "1abc",
            "é",
            "a.b",
            "a-b",
            "mfa_\0",
            &"a".repeat(MAX_PREFIX_LEN + 1),
        ] {
            assert!(
                matches!(SqlStoreConfig::new(bad), Err(Error::InvalidName { .. })),
                "{bad:?} must be refused"
            );
        }
        for bad in ["", "public; --", "Auth", "a.b"] {
            assert!(SqlStoreConfig::default().with_schema(bad).is_err());
        }
    }
}
