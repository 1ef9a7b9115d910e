//! A platform seeded as its users would seed it, through the public calls: an approved provider,
//! a published listing, a company plan. Shared by the booking suites, the all-in-one suite and
//! the booking benchmark, so they all book the same course.
//!
//! # Panics
//! Every function panics when a call is refused: a seed that fails is a broken test.

use tonic::transport::Channel;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{self as cpb};
use welfare_proto::common;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wpb};

use super::{Tenant, signed_token, with_bearer};

/// A token signed with `secret`, valid for a day of the system clock.
pub fn token(secret: &str, subject: &str, roles: &[&str], tenant: Tenant<'_>) -> String {
    let exp = crate::clock::system_clock()().unix_seconds() + 86_400;
    signed_token(secret, subject, roles, tenant, exp)
}

/// The token of a provider's operator (subject `op-<provider>`).
pub fn operator_of(secret: &str, provider: &str) -> String {
    token(
        secret,
        &format!("op-{provider}"),
        &["provider_operator"],
        Tenant::Provider(provider),
    )
}

/// The Ufficio di Piano's token.
pub fn curator(secret: &str) -> String {
    token(secret, "ufficio-di-piano", &["curator"], Tenant::None)
}

/// Euro cents on the wire.
pub fn eur(cents: i64) -> Option<common::Money> {
    Some(common::Money {
        currency_code: "EUR".to_owned(),
        amount_cents: cents,
    })
}

/// A swimming course in Lodi for children 3 to 10, € 12.50 a session, booked by slot with
/// `capacity_per_slot` seats; free to cancel until 24 hours before, then half the price.
pub fn swimming_course(capacity_per_slot: u32) -> cpb::Listing {
    cpb::Listing {
        title: "Corso di nuoto per bambini".to_owned(),
        description: "Acquaticità e nuoto in piscina coperta, gruppi per età.".to_owned(),
        category: common::Category::CuraFigli.into(),
        subcategory: "attivita-sportive".to_owned(),
        delivery: vec![cpb::Delivery::AtVenue.into()],
        venue: Some(cpb::Venue {
            address: "Via Piermarini 12".to_owned(),
            istat_code: "098031".to_owned(),
            location: Some(common::GeoPoint {
                latitude: 45.3097,
                longitude: 9.5037,
            }),
        }),
        booking_mode: Some(cpb::BookingMode {
            mode: Some(cpb::booking_mode::Mode::Slots(cpb::booking_mode::Slots {
                capacity_per_slot,
            })),
        }),
        eligibility_rules: vec![cpb::EligibilityRule {
            rule: Some(cpb::eligibility_rule::Rule::BeneficiaryAge(
                cpb::eligibility_rule::AgeRange {
                    min_years: Some(3),
                    max_years: Some(10),
                },
            )),
        }],
        pricing: Some(cpb::Pricing {
            model: Some(cpb::pricing::Model::Fixed(cpb::pricing::Fixed {
                unit: common::Unit::Session.into(),
                amount: eur(1_250),
            })),
            resident_discount_basis_points: 0,
        }),
        cancellation_policy: Some(cpb::CancellationPolicy {
            free_until_hours_before: 24,
            late_fee: Some(cpb::cancellation_policy::LateFee::LateFeeBasisPoints(5_000)),
        }),
        languages: vec!["it".to_owned()],
        ..cpb::Listing::default()
    }
}

/// A provider registered by a citizen and approved by the curator: its id.
pub async fn approved_provider(
    catalog: &mut CatalogServiceClient<Channel>,
    secret: &str,
    name: &str,
    vat_number: &str,
) -> String {
    let provider = catalog
        .register_provider(with_bearer(
            cpb::RegisterProviderRequest {
                provider: Some(cpb::Provider {
                    display_name: name.to_owned(),
                    kind: cpb::ProviderKind::CooperativaSociale.into(),
                    tax_code: vat_number.to_owned(),
                    contact_email: "info@example.it".to_owned(),
                    contact_phone: "+39 0371 123456".to_owned(),
                    website_url: "https://www.example.it".to_owned(),
                    ..cpb::Provider::default()
                }),
                request_id: format!("register-{vat_number}"),
            },
            &token(secret, "registrant", &["citizen"], Tenant::None),
        ))
        .await
        .expect("register the provider")
        .into_inner();
    catalog
        .approve_provider(with_bearer(
            cpb::ApproveProviderRequest {
                id: provider.id.clone(),
                request_id: format!("approve-{}", provider.id),
                etag: String::new(),
            },
            &curator(secret),
        ))
        .await
        .expect("approve the provider");
    provider.id
}

/// `listing` created by the provider's operator, submitted and approved: its id.
pub async fn published_listing(
    catalog: &mut CatalogServiceClient<Channel>,
    secret: &str,
    provider_id: &str,
    listing: cpb::Listing,
) -> String {
    let operator = operator_of(secret, provider_id);
    let draft = catalog
        .create_listing(with_bearer(
            cpb::CreateListingRequest {
                provider_id: provider_id.to_owned(),
                request_id: format!(
                    "create-{:016x}",
                    crate::edge::fingerprint(&[&listing.title])
                ),
                listing: Some(listing),
            },
            &operator,
        ))
        .await
        .expect("create the listing")
        .into_inner();
    catalog
        .submit_listing(with_bearer(
            cpb::SubmitListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: format!("submit-{}", draft.id),
            },
            &operator,
        ))
        .await
        .expect("submit the listing");
    catalog
        .approve_listing(with_bearer(
            cpb::ApproveListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: format!("publish-{}", draft.id),
            },
            &curator(secret),
        ))
        .await
        .expect("publish the listing");
    draft.id
}

/// Company `acme`'s plan of `year` (expiring at its end), paying `allowance_cents` an employee
/// for `categories`, created by its admin: its id.
pub async fn plan(
    wallet: &mut WalletServiceClient<Channel>,
    secret: &str,
    year: i32,
    allowance_cents: i64,
    categories: &[common::Category],
) -> String {
    wallet
        .create_plan(with_bearer(
            wpb::CreatePlanRequest {
                company_id: "acme".to_owned(),
                plan: Some(wpb::Plan {
                    display_name: format!("Welfare {year}"),
                    year,
                    allowance_per_employee: eur(allowance_cents),
                    allowed_categories: categories.iter().map(|&c| c.into()).collect(),
                    regime: wpb::Regime::Art51C2Services.into(),
                    expire_date: Some(common::Date {
                        year,
                        month: 12,
                        day: 31,
                    }),
                    ..wpb::Plan::default()
                }),
                request_id: format!("plan-{year}"),
            },
            &token(
                secret,
                "hr-acme",
                &["company_admin"],
                Tenant::Company("acme"),
            ),
        ))
        .await
        .expect("create the plan")
        .into_inner()
        .id
}
