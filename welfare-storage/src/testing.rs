//! Fresh databases for the services' suites: a SQLite file in a temporary directory, and a
//! PostgreSQL database of its own on the server `DATABASE_URL` names (`scripts/test` starts
//! one). The PostgreSQL suites fail, rather than skip, without it: a suite that silently
//! passes proves nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A name no other suite of any process uses: `prefix`, the process id, a counter, the clock.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of a new SQLite file (`file` in a fresh temporary directory).
pub fn fresh_sqlite_url(prefix: &str, file: &str) -> String {
    let dir = std::env::temp_dir().join(unique_name(prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    format!("sqlite://{}?mode=rwc", dir.join(file).display())
}

/// The URL of a new, empty PostgreSQL database on the server `DATABASE_URL` names.
///
/// # Panics
/// Without `DATABASE_URL`, or when the server refuses: the suite fails rather than skips.
pub async fn fresh_postgres_url(prefix: &str) -> String {
    let admin_url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server: run the suite with scripts/test");
    let name = unique_name(prefix);
    on_server(&admin_url, &name, &[format!("CREATE DATABASE {name}")]).await
}

/// The URL of the database `name` on the server `admin_url` names, dropped if it existed and
/// created empty: a benchmark's database, the same name every run.
///
/// # Panics
/// When the server refuses.
pub async fn recreate_database(admin_url: &str, name: &str) -> String {
    let statements = [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ];
    on_server(admin_url, name, &statements).await
}

/// Runs `statements` on the server `admin_url` names and answers the URL of database `name`
/// there.
async fn on_server(admin_url: &str, name: &str, statements: &[String]) -> String {
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect to the PostgreSQL server");
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut admin)
            .await
            .expect("create the database");
    }
    let (base, _) = admin_url.rsplit_once('/').expect("a url with a path");
    format!("{base}/{name}")
}

/// Runs each named suite `async fn(T)` once per backend, with the `T` that `$open` (an async
/// function of a backend, given from the crate root) makes for it:
///
/// ```text
/// welfare_storage::on_every_backend!(support::open; a_suite, another_suite);
/// ```
#[macro_export]
macro_rules! on_every_backend {
    ($open:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                super::$name($open($crate::Backend::Sqlite).await).await;
            })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                super::$name($open($crate::Backend::Postgres).await).await;
            })*
        }
    };
}
