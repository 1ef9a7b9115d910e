//! `CatalogService` on a real server (port 0) over each backend: bad input on every RPC — each
//! refusal with its code, reason or field, and nothing written.
#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::SqlStore;
use support::*;
use tonic::Code;
use welfare_proto::catalog::*;
use welfare_proto::common;

/// One bad request: the RPC, the token, and the code and field expected.
struct Bad {
    what: &'static str,
    code: Code,
    field: Option<&'static str>,
    status: tonic::Status,
}

async fn bad_input_is_named_and_writes_nothing(store: SqlStore) {
    let mut world = world(store).await;
    let c = &mut world.server.client.clone();
    let operator = world.operator.clone();
    let draft = world.draft(home_care()).await;
    let published = world.publish(swimming()).await;
    let before = world.outbox_len().await;
    let unknown = "0190f0e8-0000-7000-8000-000000000000".to_owned();
    let mut cases: Vec<Bad> = Vec::new();
    macro_rules! bad {
        ($what:expr, $code:expr, $field:expr, $call:expr) => {
            cases.push(Bad {
                what: $what,
                code: $code,
                field: $field,
                status: $call.await.expect_err($what),
            });
        };
    }
    let with = |f: fn(&mut Listing)| {
        let mut listing = home_care();
        f(&mut listing);
        listing
    };
    let create = |listing: Listing| {
        call(
            CreateListingRequest {
                provider_id: world.provider_id.clone(),
                listing: Some(listing),
                request_id: rid(),
            },
            &operator,
        )
    };
    let register_with = |f: fn(&mut Provider)| {
        let mut provider = cooperative("Cooperativa Nuova", VAT_NUMBERS[6]);
        f(&mut provider);
        call(
            RegisterProviderRequest {
                provider: Some(provider),
                request_id: rid(),
            },
            &citizen(),
        )
    };

    // RegisterProvider
    bad!(
        "empty name",
        Code::InvalidArgument,
        Some("provider.display_name"),
        c.register_provider(register_with(|p| p.display_name = "  ".to_owned()))
    );
    bad!(
        "oversized name",
        Code::InvalidArgument,
        Some("provider.display_name"),
        c.register_provider(register_with(|p| p.display_name = "x".repeat(201)))
    );
    bad!(
        "invalid tax code",
        Code::InvalidArgument,
        Some("provider.tax_code"),
        c.register_provider(register_with(|p| p.tax_code = "01234560984".to_owned()))
    );
    bad!(
        "invalid personal tax code",
        Code::InvalidArgument,
        Some("provider.tax_code"),
        c.register_provider(register_with(|p| p.tax_code = "RSSMRA85T10A562T".to_owned()))
    );
    bad!(
        "no kind",
        Code::InvalidArgument,
        Some("provider.kind"),
        c.register_provider(register_with(|p| p.kind = 0))
    );
    bad!(
        "ETS without RUNTS",
        Code::InvalidArgument,
        Some("provider.runts_number"),
        c.register_provider(register_with(|p| p.kind = ProviderKind::Ets.into()))
    );
    bad!(
        "comune outside the territory",
        Code::InvalidArgument,
        Some("provider.comune_istat_code"),
        c.register_provider(register_with(|p| {
            p.kind = ProviderKind::Comune.into();
            p.comune_istat_code = "015146".to_owned();
        }))
    );
    bad!(
        "bad e-mail",
        Code::InvalidArgument,
        Some("provider.contact_email"),
        c.register_provider(register_with(
            |p| p.contact_email = "info at coop".to_owned()
        ))
    );
    bad!(
        "bad website",
        Code::InvalidArgument,
        Some("provider.website_url"),
        c.register_provider(register_with(|p| p.website_url = "ftp://coop.it".to_owned()))
    );
    bad!(
        "no request id",
        Code::InvalidArgument,
        Some("request_id"),
        c.register_provider(call(
            RegisterProviderRequest {
                provider: Some(cooperative("Cooperativa", VAT_NUMBERS[6])),
                request_id: String::new(),
            },
            &citizen()
        ))
    );
    bad!(
        "no provider",
        Code::InvalidArgument,
        Some("provider"),
        c.register_provider(call(
            RegisterProviderRequest {
                provider: None,
                request_id: rid(),
            },
            &citizen()
        ))
    );
    // GetProvider, ListProviders, ApproveProvider, SuspendProvider
    bad!(
        "empty provider id",
        Code::InvalidArgument,
        Some("id"),
        c.get_provider(GetProviderRequest { id: String::new() })
    );
    bad!(
        "unknown provider",
        Code::NotFound,
        None,
        c.get_provider(GetProviderRequest {
            id: unknown.clone()
        })
    );
    bad!(
        "negative page size",
        Code::InvalidArgument,
        Some("page_size"),
        c.list_providers(ListProvidersRequest {
            page_size: -1,
            ..ListProvidersRequest::default()
        })
    );
    bad!(
        "unknown provider state",
        Code::InvalidArgument,
        Some("state"),
        c.list_providers(ListProvidersRequest {
            state: 42,
            ..ListProvidersRequest::default()
        })
    );
    bad!(
        "forged page token",
        Code::InvalidArgument,
        Some("page_token"),
        c.list_providers(ListProvidersRequest {
            page_token: "abc".to_owned(),
            ..ListProvidersRequest::default()
        })
    );
    bad!(
        "approve unknown provider",
        Code::NotFound,
        None,
        c.approve_provider(call(
            ApproveProviderRequest {
                id: unknown.clone(),
                request_id: rid(),
                etag: String::new()
            },
            &curator()
        ))
    );
    bad!(
        "approve with a forged etag",
        Code::InvalidArgument,
        Some("etag"),
        c.approve_provider(call(
            ApproveProviderRequest {
                id: world.provider_id.clone(),
                request_id: rid(),
                etag: "xyz".to_owned()
            },
            &curator()
        ))
    );
    bad!(
        "approve an approved provider",
        Code::FailedPrecondition,
        None,
        c.approve_provider(call(
            ApproveProviderRequest {
                id: world.provider_id.clone(),
                request_id: rid(),
                etag: String::new()
            },
            &curator()
        ))
    );
    bad!(
        "suspend without reason",
        Code::InvalidArgument,
        Some("reason"),
        c.suspend_provider(call(
            SuspendProviderRequest {
                id: world.provider_id.clone(),
                reason: String::new(),
                request_id: rid(),
                etag: String::new()
            },
            &curator()
        ))
    );
    bad!(
        "suspend with a stale etag",
        Code::Aborted,
        None,
        c.suspend_provider(call(
            SuspendProviderRequest {
                id: world.provider_id.clone(),
                reason: "x".to_owned(),
                request_id: rid(),
                etag: "v1".to_owned()
            },
            &curator()
        ))
    );
    // UpdateProvider
    bad!(
        "update without a provider",
        Code::InvalidArgument,
        Some("provider"),
        c.update_provider(call(
            UpdateProviderRequest {
                provider: None,
                update_mask: None,
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "update an unknown provider",
        Code::NotFound,
        None,
        c.update_provider(call(
            UpdateProviderRequest {
                provider: Some(Provider {
                    id: unknown.clone(),
                    ..cooperative("Sconosciuta", VAT_NUMBERS[6])
                }),
                update_mask: None,
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "update with an empty name",
        Code::InvalidArgument,
        Some("provider.display_name"),
        c.update_provider(call(
            UpdateProviderRequest {
                provider: Some(Provider {
                    id: world.provider_id.clone(),
                    ..cooperative("", VAT_NUMBERS[0])
                }),
                update_mask: None,
                request_id: rid()
            },
            &operator
        ))
    );
    // CreateListing
    bad!(
        "empty title",
        Code::InvalidArgument,
        Some("listing.title"),
        c.create_listing(create(with(|l| l.title = String::new())))
    );
    bad!(
        "oversized description",
        Code::InvalidArgument,
        Some("listing.description"),
        c.create_listing(create(with(|l| l.description = "x".repeat(4_001))))
    );
    bad!(
        "unknown category",
        Code::InvalidArgument,
        Some("listing.category"),
        c.create_listing(create(with(|l| l.category = 99)))
    );
    bad!(
        "unknown subcategory",
        Code::InvalidArgument,
        Some("listing.subcategory"),
        c.create_listing(create(with(|l| l.subcategory = "astrologia".to_owned())))
    );
    bad!(
        "comune outside the territory",
        Code::InvalidArgument,
        Some("listing.service_area[1]"),
        c.create_listing(create(with(|l| l.service_area[1] = "015146".to_owned())))
    );
    bad!(
        "negative price",
        Code::InvalidArgument,
        Some("listing.pricing.isee_bands.bands[0].amount"),
        c.create_listing(create(with(|l| {
            if let Some(pricing::Model::IseeBands(b)) =
                l.pricing.as_mut().and_then(|p| p.model.as_mut())
            {
                b.bands[0].amount = eur(-100);
            }
        })))
    );
    bad!(
        "out-of-order ISEE bands",
        Code::InvalidArgument,
        Some("listing.pricing.isee_bands.bands"),
        c.create_listing(create(with(|l| {
            if let Some(pricing::Model::IseeBands(b)) =
                l.pricing.as_mut().and_then(|p| p.model.as_mut())
            {
                b.bands[1].isee_up_to = eur(100_000);
            }
        })))
    );
    bad!(
        "no pricing",
        Code::InvalidArgument,
        Some("listing.pricing"),
        c.create_listing(create(with(|l| l.pricing = None)))
    );
    bad!(
        "unknown provider",
        Code::NotFound,
        None,
        c.create_listing(call(
            CreateListingRequest {
                provider_id: unknown.clone(),
                listing: Some(home_care()),
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "bad provider id",
        Code::InvalidArgument,
        Some("provider_id"),
        c.create_listing(call(
            CreateListingRequest {
                provider_id: "no spaces allowed".to_owned(),
                listing: Some(home_care()),
                request_id: rid()
            },
            &operator
        ))
    );
    // UpdateListing
    bad!(
        "update unknown listing",
        Code::NotFound,
        None,
        c.update_listing(call(
            UpdateListingRequest {
                listing: Some(Listing {
                    id: unknown.clone(),
                    ..home_care()
                }),
                update_mask: None,
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "update an output-only field",
        Code::InvalidArgument,
        Some("update_mask.paths[0]"),
        c.update_listing(call(
            UpdateListingRequest {
                listing: Some(Listing {
                    id: draft.id.clone(),
                    ..home_care()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["state".to_owned()]
                }),
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "update to an empty title",
        Code::InvalidArgument,
        Some("listing.title"),
        c.update_listing(call(
            UpdateListingRequest {
                listing: Some(Listing {
                    id: draft.id.clone(),
                    ..Listing::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()]
                }),
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "update without a listing",
        Code::InvalidArgument,
        Some("listing"),
        c.update_listing(call(
            UpdateListingRequest {
                listing: None,
                update_mask: None,
                request_id: rid()
            },
            &operator
        ))
    );
    // Curation steps
    bad!(
        "submit unknown",
        Code::NotFound,
        None,
        c.submit_listing(call(
            SubmitListingRequest {
                id: unknown.clone(),
                etag: String::new(),
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "submit without request id",
        Code::InvalidArgument,
        Some("request_id"),
        c.submit_listing(call(
            SubmitListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: String::new()
            },
            &operator
        ))
    );
    bad!(
        "approve a draft",
        Code::FailedPrecondition,
        None,
        c.approve_listing(call(
            ApproveListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid()
            },
            &curator()
        ))
    );
    bad!(
        "reject without reason",
        Code::InvalidArgument,
        Some("reason"),
        c.reject_listing(call(
            RejectListingRequest {
                id: draft.id.clone(),
                reason: " ".to_owned(),
                etag: String::new(),
                request_id: rid()
            },
            &curator()
        ))
    );
    bad!(
        "suspend with oversized reason",
        Code::InvalidArgument,
        Some("reason"),
        c.suspend_listing(call(
            SuspendListingRequest {
                id: published.id.clone(),
                reason: "x".repeat(1_001),
                etag: String::new(),
                request_id: rid()
            },
            &curator()
        ))
    );
    bad!(
        "withdraw with a stale etag",
        Code::Aborted,
        None,
        c.withdraw_listing(call(
            WithdrawListingRequest {
                id: draft.id.clone(),
                etag: "v9".to_owned(),
                request_id: rid()
            },
            &operator
        ))
    );
    bad!(
        "verify a draft",
        Code::FailedPrecondition,
        None,
        c.verify_listing(call(
            VerifyListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid()
            },
            &curator()
        ))
    );
    // Reads
    bad!(
        "get listing without id",
        Code::InvalidArgument,
        Some("id"),
        c.get_listing(GetListingRequest { id: String::new() })
    );
    bad!(
        "get unknown listing",
        Code::NotFound,
        None,
        c.get_listing(GetListingRequest {
            id: unknown.clone()
        })
    );
    bad!(
        "list by unknown category",
        Code::InvalidArgument,
        Some("category"),
        c.list_listings(ListListingsRequest {
            category: 77,
            ..ListListingsRequest::default()
        })
    );
    bad!(
        "list by unknown state",
        Code::InvalidArgument,
        Some("state"),
        c.list_listings(ListListingsRequest {
            state: 77,
            ..ListListingsRequest::default()
        })
    );
    bad!(
        "check unknown listing",
        Code::NotFound,
        None,
        c.check_eligibility(CheckEligibilityRequest {
            listing_id: unknown.clone(),
            profile: None
        })
    );
    bad!(
        "check with an impossible age",
        Code::InvalidArgument,
        Some("profile.beneficiary_age_years"),
        c.check_eligibility(CheckEligibilityRequest {
            listing_id: published.id.clone(),
            profile: Some(common::Profile {
                beneficiary_age_years: Some(300),
                ..common::Profile::default()
            })
        })
    );
    bad!(
        "check with a negative ISEE",
        Code::InvalidArgument,
        Some("profile.isee"),
        c.check_eligibility(CheckEligibilityRequest {
            listing_id: published.id.clone(),
            profile: Some(common::Profile {
                isee: eur(-1),
                ..common::Profile::default()
            })
        })
    );
    bad!(
        "quote zero units",
        Code::InvalidArgument,
        Some("quantity"),
        c.quote_listing(QuoteListingRequest {
            listing_id: published.id.clone(),
            profile: None,
            quantity: 0,
            wallet_available: None
        })
    );
    bad!(
        "quote with negative credit",
        Code::InvalidArgument,
        Some("wallet_available"),
        c.quote_listing(QuoteListingRequest {
            listing_id: published.id.clone(),
            profile: None,
            quantity: 1,
            wallet_available: eur(-5)
        })
    );
    bad!(
        "quote in dollars",
        Code::InvalidArgument,
        Some("wallet_available"),
        c.quote_listing(QuoteListingRequest {
            listing_id: published.id.clone(),
            profile: None,
            quantity: 1,
            wallet_available: Some(common::Money {
                currency_code: "USD".to_owned(),
                amount_cents: 1
            })
        })
    );
    bad!(
        "quote a draft",
        Code::NotFound,
        None,
        c.quote_listing(QuoteListingRequest {
            listing_id: draft.id.clone(),
            profile: None,
            quantity: 1,
            wallet_available: None
        })
    );

    let mut failures = Vec::new();
    for case in &cases {
        let named = fields(&case.status);
        let field_ok = match case.field {
            Some(field) => named.iter().any(|f| f.starts_with(field)),
            None => true,
        };
        if case.status.code() != case.code || !field_ok {
            failures.push(format!(
                "{}: got {:?} {:?} naming {named:?}, expected {:?} naming {:?}",
                case.what,
                case.status.code(),
                case.status.message(),
                case.code,
                case.field
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(world.outbox_len().await, before, "a refused request wrote");
    // Nothing changed on the listings either.
    let unchanged = c
        .get_listing(call(
            GetListingRequest {
                id: draft.id.clone(),
            },
            &operator,
        ))
        .await
        .expect("draft")
        .into_inner();
    assert_eq!(unchanged, draft);
}

welfare_storage::on_every_backend!(support::open; bad_input_is_named_and_writes_nothing);
