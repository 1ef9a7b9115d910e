//! The `catalog-svc` binary's operator commands: `migrate` creates the catalogue's database and
//! exits; `rebuild-index` fills Meilisearch from the catalogue (when `MEILI_URL` names a server;
//! reported skipped otherwise) and refuses what it cannot do with a message naming the problem.

mod support;

use std::process::Command;

use catalog_svc::search::SearchIndex;
use catalog_svc::search::meili::{MeiliConfig, MeiliIndex, Tuning};
use support::*;

fn catalog_svc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_catalog-svc"));
    // Only what each test sets: nothing from the developer's environment.
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Runs `command`, checks it exits with `code`, and returns what it wrote to stderr.
fn stderr_of_failing(command: &mut Command, code: i32) -> String {
    let output = command.output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    stderr
}

#[test]
fn an_unknown_argument_is_named() {
    let stderr = stderr_of_failing(catalog_svc().arg("rebuild-everything"), 2);
    assert!(
        stderr.contains("unknown argument \"rebuild-everything\""),
        "{stderr}"
    );
    assert!(stderr.contains("usage: catalog-svc"), "{stderr}");
}

/// `migrate`, what a deployment's migration Job runs: the database created and up to date, the
/// process gone with 0; a database it cannot open is a failure (1).
#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = std::env::temp_dir().join(format!("catalog-svc-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("catalog.db");
    let output = catalog_svc()
        .arg("migrate")
        .env(
            "LODIWELFARE__DATABASE__URL",
            format!("sqlite://{}?mode=rwc", file.display()),
        )
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("up to date"), "{stderr}");
    assert!(file.exists(), "the database was created");
    let stderr = stderr_of_failing(
        catalog_svc().arg("migrate").env(
            "LODIWELFARE__DATABASE__URL",
            format!("sqlite://{}?mode=ro", dir.join("missing.db").display()),
        ),
        1,
    );
    assert!(stderr.contains("catalog-svc:"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn rebuild_index_refuses_the_embedded_engine() {
    let (_store, url) = sqlite_at().await;
    let stderr = stderr_of_failing(
        catalog_svc()
            .arg("rebuild-index")
            .env("LODIWELFARE__DATABASE__URL", &url),
        1,
    );
    assert!(stderr.contains("a rebuild is for Meilisearch"), "{stderr}");
}

/// Runs `catalog-svc rebuild-index` on the catalogue at `url` and the Meilisearch index of
/// `config`.
fn rebuild_index(url: &str, config: &MeiliConfig) -> std::process::Output {
    catalog_svc()
        .arg("rebuild-index")
        .env("LODIWELFARE__DATABASE__URL", url)
        .env("LODIWELFARE__SEARCH__ENGINE", "meilisearch")
        .env("LODIWELFARE__SEARCH__MEILISEARCH__URL", &config.url)
        .env("LODIWELFARE__SEARCH__MEILISEARCH__INDEX", &config.index)
        .env(
            "LODIWELFARE__SEARCH__MEILISEARCH__API_KEY",
            config.api_key.clone().unwrap_or_default(),
        )
        .output()
        .expect("run")
}

#[tokio::test]
async fn rebuild_index_fills_meilisearch_from_the_catalogue() {
    let config = meili_config("cli");
    let _own = own_indexes(&config);
    let (store, url) = sqlite_at().await;
    let mut world = world(store).await;
    // The binary reads the real clock: the listings are verified today.
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let start = u64::try_from(start().unix_seconds()).expect("after 1970");
    world
        .server
        .clock
        .advance_days(i64::try_from((today - start) / 86_400).expect("days"));
    world.publish(swimming()).await;
    world.publish(home_care()).await;
    world.draft(listening_line()).await;
    let output = rebuild_index(&url, &config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("rebuilt with 2 listings"), "{stderr}");
    let index = MeiliIndex::open(&config, Tuning::Italian)
        .await
        .expect("open");
    assert_eq!(index.document_count().await.expect("count"), 2);
    let page = index
        .search(&catalog_svc::search::IndexQuery {
            text: "nuoto".to_owned(),
            ..catalog_svc::search::IndexQuery::everything(0, 10)
        })
        .await
        .expect("search");
    assert_eq!(page.total, 1);
    assert!(index.stamp().await.expect("stamp").is_some(), "stamped");
    // While a serving catalogue writes the index (holds its lease), the command asks that
    // writer to rebuild it: the stamp goes, which the writer notices.
    let consumer = format!("search-index/meilisearch/{}", config.index);
    let _held = catalog_svc::store::CatalogStore::lease(&world.server.store, &consumer)
        .await
        .expect("lease")
        .expect("nobody else holds it");
    let output = rebuild_index(&url, &config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("is written by a serving catalogue"),
        "{stderr}"
    );
    assert_eq!(
        index.stamp().await.expect("stamp"),
        None,
        "the stamp is gone"
    );
    assert_eq!(
        index.document_count().await.expect("count"),
        2,
        "searches go on"
    );
    index.delete().await.expect("delete");
}
