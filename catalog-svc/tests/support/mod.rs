//! What the catalogue suites share: fresh stores (a SQLite file in a temporary directory, or a
//! PostgreSQL database of its own on the server `DATABASE_URL` names — the PostgreSQL suites
//! fail, rather than skip, without it), a real server on port 0 with a clock the test moves,
//! tokens for each role, and realistic listings.
#![allow(dead_code, unreachable_pub, clippy::indexing_slicing)]

pub mod json_schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use catalog_svc::grpc::CatalogApi;
use catalog_svc::local_words::LocalWords;
use catalog_svc::search::SearchIndex;
use catalog_svc::search::embedded::EmbeddedIndex;
use catalog_svc::search::indexer::Indexer;
use catalog_svc::search::meili::{MeiliConfig, MeiliIndex, Tuning};
use catalog_svc::store::{CatalogStore, SqlStore};
use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_types::StatusExt;
use welfare_core::territory::Territory;
use welfare_core::time::{Date, Timestamp};
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::*;
use welfare_proto::common;
use welfare_runtime::Application;
use welfare_runtime::config::{RuntimeConfig, Secret};
use welfare_runtime::testing::{Serving, Tenant, serve_in_background, signed_token, with_bearer};
use welfare_storage::Backend;
use welfare_storage::testing::{fresh_postgres_url, fresh_sqlite_url, unique_name};

pub const SECRET: &str = "catalog-service-tests-hs256-secret-32b";

pub async fn sqlite() -> SqlStore {
    sqlite_at().await.0
}

/// A fresh SQLite store and its URL, for a process of its own to open.
pub async fn sqlite_at() -> (SqlStore, String) {
    let url = fresh_sqlite_url("lodiwelfare_catalog", "catalog.db");
    (SqlStore::connect(&url, 4).await.expect("sqlite store"), url)
}

pub async fn postgres() -> SqlStore {
    let url = fresh_postgres_url("catalog_test").await;
    SqlStore::connect(&url, 8).await.expect("postgres store")
}

/// A fresh store on `backend`, for `welfare_storage::on_every_backend!`.
pub async fn open(backend: Backend) -> SqlStore {
    match backend {
        Backend::Sqlite => sqlite().await,
        Backend::Postgres => postgres().await,
    }
}

/// 2026-06-01 09:00 UTC.
pub fn start() -> Timestamp {
    "2026-06-01"
        .parse::<Date>()
        .expect("date")
        .start()
        .plus_seconds(9 * 3_600)
}

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(Arc::new(AtomicI64::new(start().unix_seconds())))
    }

    pub fn advance_days(&self, days: i64) {
        self.0.fetch_add(days * 86_400, Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.0.load(Ordering::SeqCst))
    }

    /// Moves the clock to today's date (whole days): for tests whose binaries read the real
    /// clock, so that listings published now count as verified today.
    pub fn advance_to_today(&self) {
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let start = u64::try_from(start().unix_seconds()).expect("after 1970");
        self.advance_days(i64::try_from((today - start) / 86_400).expect("days"));
    }
}

pub struct Server<S, I = EmbeddedIndex> {
    pub client: CatalogServiceClient<Channel>,
    pub clock: TestClock,
    pub store: S,
    pub index: I,
    pub indexer: Indexer<S, I>,
    _serving: Serving,
}

pub async fn serve<S: CatalogStore>(store: S) -> Server<S> {
    serve_with(store, EmbeddedIndex::new().expect("index")).await
}

/// A server searching `index`.
pub async fn serve_with<S: CatalogStore, I: SearchIndex>(store: S, index: I) -> Server<S, I> {
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    config.limits.rate_limit_per_second = 100_000;
    config.limits.rate_limit_burst = 100_000;
    let clock = TestClock::new();
    let reading = clock.clone();
    let territory = Arc::new(Territory::lodi());
    let clock_fn: welfare_runtime::clock::Clock = Arc::new(move || reading.now());
    let words = LocalWords::default();
    let indexer = Indexer::new(
        store.clone(),
        index.clone(),
        Arc::clone(&territory),
        Arc::clone(&clock_fn),
        words.clone(),
    );
    let api = CatalogApi::new(store.clone(), index.clone(), territory, clock_fn, words);
    let services = api.into_services(config.limits.max_message_bytes);
    let app = Application::build(&config, services).await.expect("build");
    let serving = serve_in_background(app);
    let client = CatalogServiceClient::connect(serving.url.clone())
        .await
        .expect("connect");
    Server {
        client,
        clock,
        store,
        index,
        indexer,
        _serving: serving,
    }
}

/// The Meilisearch server the Meilisearch suites run against: `MEILI_URL` (and
/// `MEILI_MASTER_KEY`). Without one they fail: `scripts/test` leaves them out then, and nextest
/// reports them skipped.
pub fn meili_config(index: &str) -> MeiliConfig {
    let url = std::env::var("MEILI_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(
            "MEILI_URL is not set: this suite runs against a real Meilisearch server \
             (scripts/test skips it without one)",
        );
    MeiliConfig {
        url,
        api_key: std::env::var("MEILI_MASTER_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        index: unique_name(&format!("{TEST_INDEX_PREFIX}{index}")),
        task_timeout: std::time::Duration::from_secs(120),
    }
}

/// What the names of the suites' Meilisearch indexes start with.
const TEST_INDEX_PREFIX: &str = "test_";

/// The Meilisearch indexes a test created, deleted when this is dropped — at the test's end,
/// or while it unwinds from a failure: its own index and those named after it (`<uid>__state`,
/// a rebuild's `<uid>__rebuild_…`), never another run's.
pub struct OwnIndexes {
    config: MeiliConfig,
}

/// Deletes the indexes of `config`'s index when dropped.
pub fn own_indexes(config: &MeiliConfig) -> OwnIndexes {
    OwnIndexes {
        config: config.clone(),
    }
}

impl OwnIndexes {
    /// The test's own index.
    pub fn uid(&self) -> &str {
        &self.config.index
    }
}

impl Drop for OwnIndexes {
    fn drop(&mut self) {
        let config = self.config.clone();
        // Dropped inside the test's runtime, perhaps while unwinding: a runtime of its own, on
        // a thread of its own.
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(delete_own_indexes(&config)))
        })
        .join();
        if !matches!(deleted, Ok(Ok(Ok(())))) {
            eprintln!("could not delete the test's Meilisearch indexes: {deleted:?}");
        }
    }
}

async fn delete_own_indexes(config: &MeiliConfig) -> Result<(), meilisearch_sdk::errors::Error> {
    let client = meilisearch_sdk::client::Client::new(config.url.clone(), config.api_key.clone())?;
    let mut query = meilisearch_sdk::indexes::IndexesQuery::new(&client);
    query.with_limit(1_000);
    let named_after = format!("{}__", config.index);
    for index in client.list_all_indexes_with(&query).await?.results {
        if index.uid == config.index || index.uid.starts_with(&named_after) {
            client
                .delete_index(&index.uid)
                .await?
                .wait_for_completion(&client, None, None)
                .await?;
        }
    }
    Ok(())
}

/// A fresh Meilisearch index of its own on the server of [`meili_config`], deleted with the
/// returned guard.
pub async fn meili(index: &str, tuning: Tuning) -> (MeiliIndex, OwnIndexes) {
    let config = meili_config(index);
    let own = own_indexes(&config);
    let index = MeiliIndex::open(&config, tuning)
        .await
        .expect("Meilisearch");
    (index, own)
}

pub fn token(subject: &str, roles: &[&str], provider: Option<&str>) -> String {
    let tenant = provider.map_or(Tenant::None, Tenant::Provider);
    let exp = start().unix_seconds() + 10 * 365 * 86_400;
    signed_token(SECRET, subject, roles, tenant, exp)
}

pub fn curator() -> String {
    token("ufficio-di-piano", &["curator"], None)
}

pub fn operator_of(provider: &str) -> String {
    token(
        &format!("op-{provider}"),
        &["provider_operator"],
        Some(provider),
    )
}

pub fn citizen() -> String {
    token("maria", &["citizen"], None)
}

/// A request with a bearer token.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// The fields a `BadRequest` names.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub fn eur(cents: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    })
}

/// Valid partite IVA, one per test provider.
pub const VAT_NUMBERS: [&str; 8] = [
    "01234560983",
    "09876540981",
    "05555550986",
    "02223330982",
    "04441110980",
    "07778880984",
    "01112220981",
    "03339990982",
];

pub fn cooperative(name: &str, vat: &str) -> Provider {
    Provider {
        display_name: name.to_owned(),
        kind: ProviderKind::CooperativaSociale.into(),
        tax_code: vat.to_owned(),
        contact_email: "info@example.it".to_owned(),
        contact_phone: "+39 0371 123456".to_owned(),
        website_url: "https://www.example.it".to_owned(),
        ..Provider::default()
    }
}

pub const LODI: &str = "098031";
pub const CODOGNO: &str = "098019";

/// Home care for residents over 65, priced by ISEE band, 10% off for residents.
pub fn home_care() -> Listing {
    Listing {
        title: "Assistenza domiciliare anziani".to_owned(),
        description: "Aiuto nella cura della persona e della casa per anziani soli.".to_owned(),
        category: common::Category::SocioAssistenziale.into(),
        subcategory: "sad".to_owned(),
        delivery: vec![Delivery::AtHome.into()],
        service_area: vec![LODI.to_owned(), CODOGNO.to_owned()],
        schedule: vec![OpeningHours {
            weekday: Weekday::Monday.into(),
            opens_minute: 9 * 60,
            closes_minute: 12 * 60,
        }],
        booking_mode: Some(BookingMode {
            mode: Some(booking_mode::Mode::RequestAndConfirm(
                booking_mode::RequestAndConfirm {},
            )),
        }),
        eligibility_rules: vec![
            EligibilityRule {
                rule: Some(eligibility_rule::Rule::ResidentInTerritory(
                    eligibility_rule::Flag {},
                )),
            },
            EligibilityRule {
                rule: Some(eligibility_rule::Rule::BeneficiaryAge(
                    eligibility_rule::AgeRange {
                        min_years: Some(65),
                        max_years: None,
                    },
                )),
            },
        ],
        pricing: Some(Pricing {
            model: Some(pricing::Model::IseeBands(pricing::IseeBands {
                unit: common::Unit::Hour.into(),
                bands: vec![
                    IseeBand {
                        isee_up_to: eur(800_000),
                        amount: eur(600),
                    },
                    IseeBand {
                        isee_up_to: eur(1_500_000),
                        amount: eur(1_200),
                    },
                    IseeBand {
                        isee_up_to: None,
                        amount: eur(1_950),
                    },
                ],
            })),
            resident_discount_basis_points: 1_000,
        }),
        languages: vec!["it".to_owned()],
        ..Listing::default()
    }
}

/// A swimming course at a venue in Lodi for children 3 to 10, fixed price per session.
pub fn swimming() -> Listing {
    Listing {
        title: "Corso di nuoto per bambini".to_owned(),
        description: "Acquaticità e nuoto in piscina coperta, gruppi per età.".to_owned(),
        category: common::Category::CuraFigli.into(),
        subcategory: "attivita-sportive".to_owned(),
        delivery: vec![Delivery::AtVenue.into()],
        venue: Some(Venue {
            address: "Via Piermarini 12".to_owned(),
            istat_code: LODI.to_owned(),
            location: Some(common::GeoPoint {
                latitude: 45.3097,
                longitude: 9.5037,
            }),
        }),
        schedule: vec![OpeningHours {
            weekday: Weekday::Saturday.into(),
            opens_minute: 10 * 60,
            closes_minute: 11 * 60 + 30,
        }],
        booking_mode: Some(BookingMode {
            mode: Some(booking_mode::Mode::Slots(booking_mode::Slots {
                capacity_per_slot: 12,
            })),
        }),
        eligibility_rules: vec![EligibilityRule {
            rule: Some(eligibility_rule::Rule::BeneficiaryAge(
                eligibility_rule::AgeRange {
                    min_years: Some(3),
                    max_years: Some(10),
                },
            )),
        }],
        pricing: Some(Pricing {
            model: Some(pricing::Model::Fixed(pricing::Fixed {
                unit: common::Unit::Session.into(),
                amount: eur(1_250),
            })),
            resident_discount_basis_points: 0,
        }),
        languages: vec!["it".to_owned(), "en".to_owned()],
        accessibility: vec![Accessibility::WheelchairAccess.into()],
        ..Listing::default()
    }
}

/// A free listening line by phone.
pub fn listening_line() -> Listing {
    Listing {
        title: "Sportello di ascolto telefonico".to_owned(),
        description: "Colloqui gratuiti con una psicologa, al telefono.".to_owned(),
        category: common::Category::Psicologico.into(),
        subcategory: "supporto-psicologico".to_owned(),
        delivery: vec![Delivery::Remote.into()],
        booking_mode: Some(BookingMode {
            mode: Some(booking_mode::Mode::RequestAndConfirm(
                booking_mode::RequestAndConfirm {},
            )),
        }),
        pricing: Some(Pricing {
            model: Some(pricing::Model::Free(pricing::Free {})),
            resident_discount_basis_points: 0,
        }),
        languages: vec!["it".to_owned()],
        ..Listing::default()
    }
}

/// Everything a world of tests needs: a server, an approved provider and its operator.
pub struct World<S, I = EmbeddedIndex> {
    pub server: Server<S, I>,
    pub provider_id: String,
    pub operator: String,
}

static REQUEST: AtomicUsize = AtomicUsize::new(0);

/// A fresh request id.
pub fn rid() -> String {
    format!("req-{}", REQUEST.fetch_add(1, Ordering::Relaxed))
}

pub async fn register(
    client: &mut CatalogServiceClient<Channel>,
    name: &str,
    vat: &str,
) -> Provider {
    client
        .register_provider(call(
            RegisterProviderRequest {
                provider: Some(cooperative(name, vat)),
                request_id: rid(),
            },
            &token("registrant", &["citizen"], None),
        ))
        .await
        .expect("register")
        .into_inner()
}

pub async fn approve_provider(client: &mut CatalogServiceClient<Channel>, id: &str) -> Provider {
    client
        .approve_provider(call(
            ApproveProviderRequest {
                id: id.to_owned(),
                request_id: rid(),
                etag: String::new(),
            },
            &curator(),
        ))
        .await
        .expect("approve provider")
        .into_inner()
}

pub async fn world<S: CatalogStore>(store: S) -> World<S> {
    world_with(store, EmbeddedIndex::new().expect("index")).await
}

/// A world searching `index`.
pub async fn world_with<S: CatalogStore, I: SearchIndex>(store: S, index: I) -> World<S, I> {
    let mut server = serve_with(store, index).await;
    let provider = register(
        &mut server.client,
        "Cooperativa Il Melograno",
        VAT_NUMBERS[0],
    )
    .await;
    approve_provider(&mut server.client, &provider.id).await;
    World {
        operator: operator_of(&provider.id),
        provider_id: provider.id,
        server,
    }
}

impl<S: CatalogStore, I: SearchIndex> World<S, I> {
    pub async fn draft(&mut self, listing: Listing) -> Listing {
        self.server
            .client
            .create_listing(call(
                CreateListingRequest {
                    provider_id: self.provider_id.clone(),
                    listing: Some(listing),
                    request_id: rid(),
                },
                &self.operator,
            ))
            .await
            .expect("create listing")
            .into_inner()
    }

    /// Creates, submits and approves a listing.
    pub async fn publish(&mut self, listing: Listing) -> Listing {
        let draft = self.draft(listing).await;
        self.publish_draft(&draft.id).await
    }

    pub async fn publish_draft(&mut self, id: &str) -> Listing {
        self.server
            .client
            .submit_listing(call(
                SubmitListingRequest {
                    id: id.to_owned(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &self.operator,
            ))
            .await
            .expect("submit");
        self.server
            .client
            .approve_listing(call(
                ApproveListingRequest {
                    id: id.to_owned(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &curator(),
            ))
            .await
            .expect("approve listing")
            .into_inner()
    }

    /// Outbox rows written so far.
    pub async fn outbox_len(&self) -> usize {
        self.server
            .store
            .outbox(0, 1_000_000)
            .await
            .expect("outbox")
            .len()
    }
}
