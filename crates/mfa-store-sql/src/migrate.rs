//! The embedded migrations and the one runner every engine uses.
//!
//! Each migration is one template for all engines (`migrations/NNNN_*.sql`), plus, where an
//! engine needs something the others do not, a file of its own (`migrations/<engine>/..`).
//! A template is rendered per engine: `{p}`/`{n}` become the table prefix, the type placeholders
//! the engine's types ([`Syntax::types`](crate::dialect::Syntax)), and a line tagged
//! `--[engine,..]` stays only for those engines. Versions are recorded in
//! `<prefix>schema_migrations`. How the runner is made safe against concurrent callers differs
//! per engine (one transaction under a lock, or a named lock), so each engine's `migrate` wraps
//! [`apply`].

use crate::db::{Arg, Db, On};
use crate::dialect::Dialect;
use crate::{Error, Result};

/// One schema version.
#[derive(Debug)]
pub(crate) struct Migration {
    /// The version recorded once it is applied.
    pub(crate) version: i64,
    /// The template every engine runs.
    pub(crate) shared: &'static str,
    /// Statements only one engine runs after the shared ones: `(engine name, template)`.
    pub(crate) only: &'static [(&'static str, &'static str)],
}

/// Every migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        shared: include_str!("../migrations/0001_init.sql"),
        only: &[],
    },
    Migration {
        version: 2,
        shared: include_str!("../migrations/0002_confirmed_at_actor.sql"),
        only: &[(
            "mysql",
            include_str!("../migrations/mysql/0002_take_counters.sql"),
        )],
    },
    Migration {
        version: 3,
        shared: include_str!("../migrations/0003_challenge_plan.sql"),
        only: &[
            (
                "postgres",
                include_str!("../migrations/postgres/0003_flow.sql"),
            ),
            ("mysql", include_str!("../migrations/mysql/0003_flow.sql")),
        ],
    },
    Migration {
        version: 4,
        shared: include_str!("../migrations/0004_webauthn.sql"),
        only: &[],
    },
    Migration {
        version: 5,
        shared: include_str!("../migrations/0005_lean_flow.sql"),
        only: &[(
            "postgres",
            include_str!("../migrations/postgres/0005_flow.sql"),
        )],
    },
];

/// The newest version this crate knows.
pub(crate) fn newest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Applies every migration newer than the recorded version, on `conn`, which the caller has
/// made safe against concurrent runners (a transaction under a lock, or a named lock).
///
/// `already_applied` names the errors a statement may fail with because an interrupted earlier
/// run applied it (MySQL, whose DDL commits as it goes); such a statement is skipped.
///
/// # Errors
/// [`Error::Database`] for a failed statement; [`Error::SchemaTooNew`] if the database holds a
/// version newer than this crate knows.
pub(crate) async fn apply<D: Db>(
    conn: &mut D::Connection,
    dialect: &Dialect,
    already_applied: fn(&sqlx::Error) -> bool,
) -> Result<()> {
    let table = render(
        dialect,
        "CREATE TABLE IF NOT EXISTS {p}schema_migrations \
         (version BIGINT NOT NULL PRIMARY KEY){table};",
    );
    for statement in table {
        D::execute_raw(&mut *conn, statement).await?;
    }
    let max = dialect.sql("SELECT MAX(version) FROM {p}schema_migrations");
    let row = D::fetch_optional(On::Tx(&mut *conn), &max, &[]).await?;
    let current = match row {
        Some(row) => D::int(&row, 0)?.unwrap_or(0),
        None => 0,
    };
    if current > newest() {
        return Err(Error::SchemaTooNew {
            found: current,
            known: newest(),
        });
    }
    let record = dialect.sql("INSERT INTO {p}schema_migrations (version) VALUES (?)");
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in statements(dialect, migration) {
            match D::execute_raw(&mut *conn, statement).await {
                Err(e) if already_applied(&e) => {}
                other => other?,
            }
        }
        D::execute(On::Tx(&mut *conn), &record, &[Arg::Int(migration.version)]).await?;
    }
    Ok(())
}

/// The statements of `migration` for the dialect's engine, in order.
pub(crate) fn statements(dialect: &Dialect, migration: &Migration) -> Vec<String> {
    let engine = dialect.syntax().name;
    let mut out = render(dialect, migration.shared);
    for (only, template) in migration.only {
        if *only == engine {
            out.extend(render(dialect, template));
        }
    }
    out
}

/// Renders a template for the dialect's engine and splits it into statements.
///
/// A statement ends at a line ending with the delimiter, `;` unless a `DELIMITER x` line (as in
/// the `mysql` client) changed it for a routine body; a delimiter other than `;` is dropped.
/// Comment lines (`--`) and blank lines are left out.
pub(crate) fn render(dialect: &Dialect, template: &str) -> Vec<String> {
    let syntax = dialect.syntax();
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut delimiter = ";".to_owned();
    for line in template.lines() {
        let Some(line) = for_engine(line, syntax.name) else {
            continue;
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        if let Some(next) = trimmed.strip_prefix("DELIMITER ") {
            next.trim().clone_into(&mut delimiter);
            continue;
        }
        let Some(body) = trimmed.strip_suffix(delimiter.as_str()) else {
            current.push_str(line);
            current.push('\n');
            continue;
        };
        if delimiter == ";" {
            current.push_str(line);
        } else {
            current.push_str(body);
        }
        current.push('\n');
        statements.push(types(dialect, &std::mem::take(&mut current)));
    }
    if !current.trim().is_empty() {
        statements.push(types(dialect, &current));
    }
    statements
}

/// The line as this engine sees it: untagged lines as they are, a line tagged `--[a,b] ..` only
/// if the engine is one of `a`, `b`.
fn for_engine<'l>(line: &'l str, engine: &str) -> Option<&'l str> {
    let Some(tagged) = line.trim_start().strip_prefix("--[") else {
        return Some(line);
    };
    let (tags, rest) = tagged.split_once(']')?;
    tags.split(',')
        .any(|tag| tag.trim() == engine)
        .then_some(rest)
}

/// Replaces the names and type placeholders of a rendered statement.
fn types(dialect: &Dialect, statement: &str) -> String {
    let syntax = dialect.syntax();
    let mut text = dialect
        .names(statement)
        .replace("{greatest}", syntax.greatest);
    for (placeholder, spelling) in syntax.types {
        text = text.replace(placeholder, spelling);
    }
    // `{varchar(N)}`: a bounded string where the engine needs a bound (MySQL keys), else TEXT.
    while let Some(start) = text.find("{varchar(") {
        let rest = text.get(start..).unwrap_or_default();
        let (Some(len), Some(n)) = (
            rest.find(")}"),
            rest.get(9..).and_then(|r| r.split(')').next()),
        ) else {
            break;
        };
        let spelling = if syntax.varchar {
            format!("VARCHAR({n})")
        } else {
            "TEXT".to_owned()
        };
        text.replace_range(
            start..start.saturating_add(len).saturating_add(2),
            &spelling,
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlStoreConfig;
    use crate::dialect::Syntax;
    use crate::dialect::tests::{BINARY, NUMBERED};

    #[test]
    fn tagged_lines_and_types_per_engine() {
        let template = "CREATE TABLE {p}t (\n    id {id} NOT NULL,\n    k {varchar(16)},\n\
                        --[mysql] KEY {n}t_k (k),\n    x BIGINT\n);\n\
                        --[postgres,sqlite] CREATE INDEX {n}t_k ON {p}t (k);\n";
        let config = SqlStoreConfig::new("a_").unwrap();
        let pg = render(&Dialect::new(&NUMBERED, &config), template);
        assert_eq!(
            pg,
            [
                "CREATE TABLE a_t (\n    id TEXT NOT NULL,\n    k TEXT,\n    x BIGINT\n);\n",
                " CREATE INDEX a_t_k ON a_t (k);\n"
            ]
        );
        let my = render(&Dialect::new(&BINARY, &config), template);
        assert_eq!(
            my,
            [
                "CREATE TABLE a_t (\n    id VARBINARY(255) NOT NULL,\n    k VARCHAR(16),\n \
              KEY a_t_k (k),\n    x BIGINT\n);\n"
            ]
        );
    }

    #[test]
    fn delimiters_keep_routine_bodies_whole() {
        let template = "-- c\nDROP PROCEDURE IF EXISTS {n}p;\nDELIMITER $$\n\
                        CREATE PROCEDURE {n}p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND $$\n\
                        DELIMITER ;\nSELECT 3;\n";
        let got = render(&Dialect::new(&BINARY, &SqlStoreConfig::default()), template);
        assert_eq!(
            got,
            [
                "DROP PROCEDURE IF EXISTS mfa_p;\n",
                "CREATE PROCEDURE mfa_p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND \n",
                "SELECT 3;\n"
            ]
        );
    }

    #[test]
    fn versions_are_ordered_and_every_template_renders() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<i64> = (1..=newest()).collect();
        assert_eq!(versions, expected);
        let engines: &[&Syntax] = &[
            #[cfg(feature = "postgres")]
            &crate::postgres::SYNTAX,
            #[cfg(feature = "mysql")]
            &crate::mysql::SYNTAX,
            #[cfg(feature = "sqlite")]
            &crate::sqlite::SYNTAX,
        ];
        for syntax in engines {
            let d = Dialect::new(syntax, &SqlStoreConfig::default());
            for m in MIGRATIONS {
                for statement in statements(&d, m) {
                    assert!(!statement.contains('{'), "unrendered: {statement}");
                }
            }
        }
    }
}
