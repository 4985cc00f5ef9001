//! SQL text per engine: statement templates written once, rendered with the table prefix, the
//! engine's placeholders, identifier columns and the few spellings that differ (upsert, batched
//! delete, greatest). Each engine describes itself with one [`Syntax`] constant.

use std::fmt::Write as _;

use crate::SqlStoreConfig;
use crate::db::Sql;

/// How one engine spells what the engines spell differently.
#[derive(Debug)]
pub struct Syntax {
    /// The engine's name, as migration templates tag its lines (`--[mysql] ...`).
    pub(crate) name: &'static str,
    /// `$1, $2, ..` (PostgreSQL) rather than `?`.
    pub(crate) numbered_placeholders: bool,
    /// Whether [`SqlStoreConfig::schema`] qualifies table names (PostgreSQL).
    pub(crate) schemas: bool,
    /// Identifier columns are binary (MySQL `VARBINARY`, compared byte for byte) and read back as
    /// text through `CONVERT(.. USING utf8mb4)`.
    pub(crate) binary_identifiers: bool,
    /// The two-argument maximum: `GREATEST` or `MAX`.
    pub(crate) greatest: &'static str,
    /// What ends the locking read of a read-modify-write transaction: ` FOR UPDATE`, or
    /// nothing where the transaction already holds the write lock (SQLite).
    pub(crate) for_update: &'static str,
    /// Upserts: `ON CONFLICT (..) DO UPDATE SET c = excluded.c` (false) or MySQL's
    /// `ON DUPLICATE KEY UPDATE c = VALUES(c)` (true).
    pub(crate) duplicate_key_update: bool,
    /// Batched deletes: `DELETE .. ORDER BY .. LIMIT` (MySQL, which refuses `LIMIT` in an `IN`
    /// subquery) rather than `DELETE .. WHERE key IN (SELECT key .. LIMIT ?)`.
    pub(crate) delete_limit: bool,
    /// What the type placeholders of the migration templates become (`{id}` → `TEXT`, ...).
    pub(crate) types: &'static [(&'static str, &'static str)],
    /// Whether `{varchar(N)}` in a migration template is `VARCHAR(N)` (else `TEXT`).
    pub(crate) varchar: bool,
}

/// Statement templates rendered for one engine and one configuration.
#[derive(Debug, Clone)]
pub struct Dialect {
    syntax: &'static Syntax,
    /// What `{p}` becomes: the (schema-qualified) table prefix.
    tables: String,
    /// What `{n}` becomes: the bare prefix, for index and routine names.
    bare: String,
}

/// The identifier columns, which `@name` marks in a select list.
const IDENTIFIERS: [&str; 5] = ["user_id", "counter_key", "purpose", "rp_id", "id"];

impl Dialect {
    pub(crate) fn new(syntax: &'static Syntax, config: &SqlStoreConfig) -> Self {
        Self {
            syntax,
            tables: config.qualified_prefix(syntax.schemas),
            bare: config.table_prefix().to_owned(),
        }
    }

    /// The engine's syntax.
    pub(crate) fn syntax(&self) -> &'static Syntax {
        self.syntax
    }

    /// What `{p}` becomes: `schema.prefix` or `prefix`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn tables(&self) -> &str {
        &self.tables
    }

    /// The SQL of a template: `{p}` is the table prefix, `{n}` the bare prefix, `{greatest}` and
    /// `{for_update}` the engine's spellings, `@col` an identifier column in a select list, `?` a
    /// placeholder (numbered `$1..` on PostgreSQL; templates have no `?` in literals).
    pub(crate) fn sql(&self, template: &str) -> Sql {
        self.text(template).into()
    }

    /// [`sql`](Self::sql) as a `String`, for statements completed per call.
    pub(crate) fn text(&self, template: &str) -> String {
        let mut text = self
            .names(template)
            .replace("{greatest}", self.syntax.greatest)
            .replace("{for_update}", self.syntax.for_update);
        for column in IDENTIFIERS {
            let marked = format!("@{column}");
            if self.syntax.binary_identifiers {
                text = text.replace(&marked, &format!("CONVERT({column} USING utf8mb4)"));
            } else {
                text = text.replace(&marked, column);
            }
        }
        if self.syntax.numbered_placeholders {
            text = number_placeholders(&text, 1);
        }
        text
    }

    /// `template` with only `{p}` and `{n}` replaced (migrations).
    pub(crate) fn names(&self, template: &str) -> String {
        template
            .replace("{p}", &self.tables)
            .replace("{n}", &self.bare)
    }

    /// `n` placeholders separated by commas, the first being parameter `first` (1-based).
    pub(crate) fn placeholders(&self, first: usize, n: usize) -> String {
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            if self.syntax.numbered_placeholders {
                let _ = write!(out, "${}", first.saturating_add(i));
            } else {
                out.push('?');
            }
        }
        out
    }

    /// `n` rows of `width` placeholders each, numbered from `first`, each wrapped by `row`.
    pub(crate) fn value_rows(
        &self,
        first: usize,
        n: usize,
        width: usize,
        row: impl Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            let start = first.saturating_add(i.saturating_mul(width));
            out.push_str(&row(&self.placeholders(start, width)));
        }
        out
    }

    /// The upsert clause that replaces `columns` of the row whose `conflict` key already exists.
    pub(crate) fn upsert(&self, conflict: &str, columns: &[&str]) -> String {
        let sets: Vec<String> = columns
            .iter()
            .map(|c| {
                if self.syntax.duplicate_key_update {
                    format!("{c} = VALUES({c})")
                } else {
                    format!("{c} = excluded.{c}")
                }
            })
            .collect();
        if self.syntax.duplicate_key_update {
            format!("ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        } else {
            format!("ON CONFLICT ({conflict}) DO UPDATE SET {}", sets.join(", "))
        }
    }

    /// Deletes at most `?2` rows of `table` expired at `?1`; `key` is its primary key.
    pub(crate) fn purge(&self, table: &str, key: &str) -> Sql {
        if self.syntax.delete_limit {
            self.sql(&format!(
                "DELETE FROM {{p}}{table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"
            ))
        } else {
            self.sql(&format!(
                "DELETE FROM {{p}}{table} WHERE ({key}) IN \
                 (SELECT {key} FROM {{p}}{table} WHERE expires_at <= ? LIMIT ?)"
            ))
        }
    }
}

/// Numbers `?` placeholders `$first, ..` in order.
pub(crate) fn number_placeholders(text: &str, first: usize) -> String {
    let mut out = String::with_capacity(text.len().saturating_add(16));
    let mut n = first;
    for c in text.chars() {
        if c == '?' {
            let _ = write!(out, "${n}");
            n = n.saturating_add(1);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const NUMBERED: Syntax = Syntax {
        name: "postgres",
        numbered_placeholders: true,
        schemas: true,
        binary_identifiers: false,
        greatest: "GREATEST",
        for_update: " FOR UPDATE",
        duplicate_key_update: false,
        delete_limit: false,
        types: &[("{id}", "TEXT")],
        varchar: false,
    };

    pub(crate) const BINARY: Syntax = Syntax {
        name: "mysql",
        numbered_placeholders: false,
        schemas: false,
        binary_identifiers: true,
        greatest: "GREATEST",
        for_update: " FOR UPDATE",
        duplicate_key_update: true,
        delete_limit: true,
        types: &[("{id}", "VARBINARY(255)")],
        varchar: true,
    };

    #[test]
    fn templates_per_engine() {
        let config = SqlStoreConfig::new("t_").unwrap().with_schema("s").unwrap();
        let template = "SELECT @user_id, label FROM {p}x WHERE user_id = ? AND at > ?{for_update}";
        assert_eq!(
            &*Dialect::new(&NUMBERED, &config).sql(template),
            "SELECT user_id, label FROM s.t_x WHERE user_id = $1 AND at > $2 FOR UPDATE"
        );
        assert_eq!(
            &*Dialect::new(&BINARY, &config).sql(template),
            "SELECT CONVERT(user_id USING utf8mb4), label FROM t_x \
             WHERE user_id = ? AND at > ? FOR UPDATE"
        );
        assert_eq!(
            Dialect::new(&NUMBERED, &config).placeholders(3, 2),
            "$3, $4"
        );
    }

    #[test]
    fn upserts_and_purges() {
        let config = SqlStoreConfig::default();
        let pg = Dialect::new(&NUMBERED, &config);
        let my = Dialect::new(&BINARY, &config);
        assert_eq!(
            pg.upsert("k", &["a", "b"]),
            "ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        assert_eq!(
            my.upsert("k", &["a"]),
            "ON DUPLICATE KEY UPDATE a = VALUES(a)"
        );
        assert_eq!(
            &*pg.purge("t", "id"),
            "DELETE FROM mfa_t WHERE (id) IN (SELECT id FROM mfa_t WHERE expires_at <= $1 LIMIT $2)"
        );
        assert!(my.purge("t", "id").ends_with("ORDER BY expires_at LIMIT ?"));
    }
}
