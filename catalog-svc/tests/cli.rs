//! The `catalog-svc` binary's operator commands: `migrate` creates the catalogue's database and
//! exits; `rebuild-index` fills Meilisearch from the catalogue (when `MEILI_URL` names a server;
//! reported skipped otherwise) and refuses what it cannot do with a message naming the problem.

mod support;

use std::process::Command;
use std::sync::Arc;

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
    rebuild_index_command(url, config).output().expect("run")
}

/// The command [`rebuild_index`] runs.
fn rebuild_index_command(url: &str, config: &MeiliConfig) -> Command {
    let mut command = catalog_svc();
    command
        .arg("rebuild-index")
        .env("LODIWELFARE__DATABASE__URL", url)
        .env("LODIWELFARE__SEARCH__ENGINE", "meilisearch")
        .env("LODIWELFARE__SEARCH__MEILISEARCH__URL", &config.url)
        .env("LODIWELFARE__SEARCH__MEILISEARCH__INDEX", &config.index)
        .env(
            "LODIWELFARE__SEARCH__MEILISEARCH__API_KEY",
            config.api_key.clone().unwrap_or_default(),
        );
    command
}

#[tokio::test]
async fn rebuild_index_fills_meilisearch_from_the_catalogue() {
    let config = meili_config("cli");
    let _own = own_indexes(&config);
    let (store, url) = sqlite_at().await;
    let mut world = world(store).await;
    // The binary reads the real clock: the listings are verified today.
    world.server.clock.advance_to_today();
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

/// Meilisearch behind TLS (`https://`), its certificate issued by the Ambito's own authority:
/// trusted through `SSL_CERT_FILE`, as the catalogue's pod is given it; refused without it.
#[tokio::test]
async fn rebuild_index_reaches_meilisearch_over_tls() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use welfare_runtime::testing::pki::{TestPki, Usage};

    let config = meili_config("cli_tls");
    let _own = own_indexes(&config);
    let dir = std::env::temp_dir().join(format!("lodiwelfare-meili-tls-{}", config.index));
    let pki = TestPki::new(&dir, "ambito");
    let issued = pki.issue("meilisearch", &["localhost"], Usage::Server);
    // A TLS front for the test's Meilisearch, as an ingress would put it: HTTP/1.1 inside.
    let mut front_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        CertificateDer::pem_file_iter(&issued.cert_file)
            .expect("certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate"),
        PrivateKeyDer::from_pem_file(&issued.key_file).expect("key"),
    )
    .expect("front");
    front_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(front_config));
    let upstream = config
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let front = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut client) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });

    let (store, url) = sqlite_at().await;
    let mut world = world(store).await;
    world.server.clock.advance_to_today();
    world.publish(swimming()).await;
    let over_tls = MeiliConfig {
        url: format!("https://localhost:{port}"),
        ..config.clone()
    };
    let run = |trusted: Option<std::path::PathBuf>| {
        let over_tls = over_tls.clone();
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = rebuild_index_command(&url, &over_tls);
            if let Some(ca) = trusted {
                command.env("SSL_CERT_FILE", ca);
            }
            command.output().expect("run")
        })
    };
    let refused = run(None).await.expect("joined");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "an unknown authority: {stderr}"
    );
    let rebuilt = run(Some(pki.ca_file())).await.expect("joined");
    let stderr = String::from_utf8_lossy(&rebuilt.stderr);
    assert!(rebuilt.status.success(), "{stderr}");
    assert!(stderr.contains("rebuilt with 1 listings"), "{stderr}");
    let index = MeiliIndex::open(&config, Tuning::Italian)
        .await
        .expect("open");
    assert_eq!(index.document_count().await.expect("count"), 1);
    front.abort();
    std::fs::remove_dir_all(&dir).ok();
}
