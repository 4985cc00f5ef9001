//! SQL text per engine: the table prefix spliced in, placeholders and identifier columns in the
//! engine's syntax. Statements are built once per store, so each one is a stable string that
//! the driver prepares once per connection and caches.

use std::fmt::Write as _;
use std::sync::Arc;

use sqlx::AssertSqlSafe;

use crate::SqlStoreConfig;

/// The database engine a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// PostgreSQL: `$n` placeholders.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    /// MySQL/MariaDB: `?` placeholders, identifiers stored as `VARBINARY`.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySql,
    /// SQLite: `?` placeholders.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
}

/// Turns statement templates into an engine's SQL.
#[derive(Debug, Clone)]
pub(crate) struct Dialect {
    engine: Engine,
    /// What `{p}` becomes: the (schema-qualified) table prefix.
    tables: String,
    /// What `{n}` becomes: the bare prefix, for index names.
    bare: String,
}

/// The identifier columns, which `@name` in a template marks: MySQL stores them as `VARBINARY`
/// (byte-exact comparison) and converts them back to text in select lists.
const IDENTIFIERS: [&str; 4] = ["user_id", "counter_key", "purpose", "id"];

impl Dialect {
    pub(crate) fn new(engine: Engine, config: &SqlStoreConfig) -> Self {
        Self {
            engine,
            tables: config.qualified_prefix(engine == Engine::Postgres),
            bare: config.table_prefix().to_owned(),
        }
    }

    /// The SQL of a template: `{p}` is the table prefix, `{n}` the bare prefix, `@col` an
    /// identifier column in a select list, `?` a placeholder (numbered `$1..` on PostgreSQL).
    pub(crate) fn sql(&self, template: &str) -> Arc<str> {
        let mut text = template
            .replace("{p}", &self.tables)
            .replace("{n}", &self.bare);
        for column in IDENTIFIERS {
            let marked = format!("@{column}");
            let plain = if self.engine == Engine::MySql {
                format!("CONVERT({column} USING utf8mb4)")
            } else {
                column.to_owned()
            };
            text = text.replace(&marked, &plain);
        }
        if self.engine == Engine::Postgres {
            text = number_placeholders(&text);
        }
        text.into()
    }

    /// `n` placeholders separated by commas, the first being parameter `first` (1-based).
    pub(crate) fn placeholders(&self, first: usize, n: usize) -> String {
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            if self.engine == Engine::Postgres {
                let _ = write!(out, "${}", first.saturating_add(i));
            } else {
                out.push('?');
            }
        }
        out
    }
}

/// Numbers `?` placeholders `$1, $2, ..` in order (our templates have no `?` in literals).
fn number_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len().saturating_add(16));
    let mut n = 0_usize;
    for c in text.chars() {
        if c == '?' {
            n = n.saturating_add(1);
            let _ = write!(out, "${n}");
        } else {
            out.push(c);
        }
    }
    out
}

/// A prepared statement's text as sqlx takes it (we vouch for it: only validated names are
/// spliced in, values always go through placeholders).
pub(crate) fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(sql))
}

/// Splits a migration file into statements (on `;` at the end of a line), substituting the
/// prefix.
pub(crate) fn migration_statements(dialect: &Dialect, file: &str) -> Vec<String> {
    let text = file
        .replace("{p}", &dialect.tables)
        .replace("{n}", &dialect.bare);
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_per_engine() {
        let config = SqlStoreConfig::new("t_").unwrap().with_schema("s").unwrap();
        let template = "SELECT @user_id, label FROM {p}x WHERE user_id = ? AND at > ?";
        assert_eq!(
            &*Dialect::new(Engine::Postgres, &config).sql(template),
            "SELECT user_id, label FROM s.t_x WHERE user_id = $1 AND at > $2"
        );
        assert_eq!(
            &*Dialect::new(Engine::MySql, &config).sql(template),
            "SELECT CONVERT(user_id USING utf8mb4), label FROM t_x WHERE user_id = ? AND at > ?"
        );
        assert_eq!(
            &*Dialect::new(Engine::Sqlite, &config).sql(template),
            "SELECT user_id, label FROM t_x WHERE user_id = ? AND at > ?"
        );
        assert_eq!(
            Dialect::new(Engine::Postgres, &config).placeholders(3, 2),
            "$3, $4"
        );
    }

    #[test]
    fn migrations_split_on_statement_ends() {
        let d = Dialect::new(Engine::Sqlite, &SqlStoreConfig::default());
        let got = migration_statements(
            &d,
            "-- c\nCREATE TABLE {p}a (\n x INT\n);\n\nCREATE INDEX {n}i ON {p}a (x);\n",
        );
        assert_eq!(
            got,
            [
                "CREATE TABLE mfa_a (\n x INT\n);\n",
                "CREATE INDEX mfa_i ON mfa_a (x);\n"
            ]
        );
    }
}
