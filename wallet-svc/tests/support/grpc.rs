//! A `WalletService` on a real server (port 0) for the gRPC suites, with their tokens and
//! request builders.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tonic::transport::Channel;
use tonic::{Request, Status};
use tonic_types::StatusExt;
use wallet_svc::grpc::WalletApi;
use wallet_svc::ledger::Ledger;
use welfare_core::time::{Date, Timestamp};
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::*;
use welfare_runtime::Application;
use welfare_runtime::config::{RuntimeConfig, Secret};
use welfare_runtime::testing::{Serving, Tenant, serve_in_background, signed_token, with_bearer};

pub const SECRET: &str = "wallet-service-tests-hs256-secret-of-32b";

pub fn today() -> Timestamp {
    "2026-06-01"
        .parse::<Date>()
        .expect("date")
        .start()
        .plus_seconds(9 * 3_600)
}

pub struct Server {
    pub client: WalletServiceClient<Channel>,
    _serving: Serving,
}

pub async fn serve(ledger: Ledger) -> Server {
    let mut config = test_config();
    config.limits.rate_limit_per_second = 10_000;
    config.limits.rate_limit_burst = 10_000;
    serve_with(ledger, Arc::new(today), config).await
}

/// The runtime's defaults, on port 0 with the suites' token secret.
pub fn test_config() -> RuntimeConfig {
    let mut config = RuntimeConfig::default();
    config.server.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.auth.hs256_secret = Some(Secret::new(SECRET));
    config
}

pub async fn serve_with(
    ledger: Ledger,
    clock: wallet_svc::grpc::Clock,
    config: RuntimeConfig,
) -> Server {
    let api = WalletApi::new(ledger, clock);
    let services = api.into_services(config.limits.max_message_bytes);
    let app = Application::build(&config, services).await.expect("build");
    let serving = serve_in_background(app);
    let client = WalletServiceClient::connect(serving.url.clone())
        .await
        .expect("connect");
    Server {
        client,
        _serving: serving,
    }
}

pub fn token(subject: &str, roles: &[&str], company: Option<&str>) -> String {
    let tenant = company.map_or(Tenant::None, Tenant::Company);
    let exp = today().unix_seconds() + 10 * 365 * 86_400;
    signed_token(SECRET, subject, roles, tenant, exp)
}

pub fn admin() -> String {
    token("hr-acme", &["company_admin"], Some("acme"))
}

pub fn booking_service() -> String {
    token("booking-svc", &["booking_service"], None)
}

pub fn employee(name: &str) -> String {
    token(name, &["employee"], Some("acme"))
}

pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    with_bearer(message, bearer)
}

pub fn eur(cents: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    })
}

pub fn date(text: &str) -> Option<common::Date> {
    let d: Date = text.parse().expect("date");
    Some(welfare_proto::convert::date_to_proto(d))
}

pub fn plan(regime: Regime, year: i32, carry_over: bool) -> Plan {
    Plan {
        display_name: format!("Welfare {year}"),
        year,
        allowance_per_employee: eur(50_000),
        allowed_categories: vec![
            common::Category::CuraFigli.into(),
            common::Category::Sanitario.into(),
        ],
        regime: regime.into(),
        expire_date: date(&format!("{year}-12-31")),
        carry_over,
        ..Plan::default()
    }
}

pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub fn hold_request(
    wallet: &str,
    cents: i64,
    id: &str,
    category: common::Category,
) -> HoldFundsRequest {
    HoldFundsRequest {
        wallet_id: wallet.to_owned(),
        amount: eur(cents),
        category: category.into(),
        tax_letter: common::TaxLetter::FBis.into(),
        description: "Asilo nido".to_owned(),
        booking_id: "bk-1".to_owned(),
        expire_time: Some(welfare_proto::convert::timestamp_to_proto(
            today().plus_seconds(3_600),
        )),
        request_id: id.to_owned(),
        provider_id: "coop-lodi".to_owned(),
    }
}

/// A clock the test moves: starts at [`today`].
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(Arc::new(AtomicI64::new(today().unix_seconds())))
    }

    pub fn set(&self, date: &str) {
        let at: Date = date.parse().expect("date");
        self.0.store(
            at.start().plus_seconds(9 * 3_600).unix_seconds(),
            Ordering::SeqCst,
        );
    }

    pub fn clock(&self) -> wallet_svc::grpc::Clock {
        let now = Arc::clone(&self.0);
        Arc::new(move || Timestamp::from_unix_seconds(now.load(Ordering::SeqCst)))
    }
}

/// ExpireWallets of a plan as acme's admin, with an optional `as_of`.
pub async fn expire(
    client: &mut WalletServiceClient<Channel>,
    plan_id: &str,
    as_of: Option<&str>,
    request_id: &str,
) -> Result<ExpireWalletsResponse, Status> {
    client
        .expire_wallets(call(
            ExpireWalletsRequest {
                plan_id: plan_id.to_owned(),
                as_of: as_of.and_then(date),
                request_id: request_id.to_owned(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// acme's report for a year, as its admin.
pub async fn acme_report(client: &mut WalletServiceClient<Channel>, year: i32) -> CompanyReport {
    client
        .get_company_report(call(
            GetCompanyReportRequest {
                company_id: "acme".to_owned(),
                year,
            },
            &admin(),
        ))
        .await
        .expect("report")
        .into_inner()
}

/// acme's plan of 2026 under `regime`, funded for lucia (the default allowance, with dependent
/// children) and marco (200 euros): the plan and lucia's wallet.
pub async fn create_and_fund(
    client: &mut WalletServiceClient<Channel>,
    regime: Regime,
) -> (Plan, String) {
    let created = client
        .create_plan(call(
            CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(plan(regime, 2026, false)),
                request_id: "p-2026".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("create plan")
        .into_inner();
    let funded = client
        .fund_wallets(call(
            FundWalletsRequest {
                plan_id: created.id.clone(),
                fundings: vec![
                    Funding {
                        employee_id: "lucia".to_owned(),
                        amount: None,
                        has_dependent_children: true,
                    },
                    Funding {
                        employee_id: "marco".to_owned(),
                        amount: eur(20_000),
                        has_dependent_children: false,
                    },
                ],
                request_id: "fund-june".to_owned(),
            },
            &admin(),
        ))
        .await
        .expect("fund")
        .into_inner();
    assert_eq!(funded.funded_total, eur(70_000));
    let wallet = funded.results[0].wallet_id.clone();
    (created, wallet)
}
