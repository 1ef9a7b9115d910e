//! `CatalogService` on a real server (port 0) over each backend: vetting and curation end to
//! end, authorization per role, idempotency and etags, freshness, pagination, eligibility and
//! quotes computed by `welfare-core`. Bad input on every RPC is `tests/bad_input.rs`.
#![allow(clippy::indexing_slicing)]

mod support;

use catalog_svc::store::{CatalogStore, SqlStore};
use support::*;
use tonic::Code;
use welfare_core::territory::Territory;
use welfare_proto::catalog::*;
use welfare_proto::common;

async fn a_listing_goes_from_draft_to_the_public_and_back(store: SqlStore) {
    let mut world = world(store).await;
    let operator = world.operator.clone();
    let client = &mut world.server.client.clone();
    let draft = world.draft(home_care()).await;
    assert_eq!(draft.state, i32::from(listing::State::Draft));
    assert_eq!(draft.provider_id, world.provider_id);
    assert_eq!(draft.etag, "v1");

    // Drafts are not public.
    let hidden = client
        .get_listing(GetListingRequest {
            id: draft.id.clone(),
        })
        .await
        .expect_err("draft is hidden");
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(reason(&hidden), "LISTING_NOT_FOUND");

    // Update with a field mask: only the title changes.
    let mut change = Listing {
        id: draft.id.clone(),
        etag: draft.etag.clone(),
        title: "Assistenza domiciliare per anziani".to_owned(),
        description: "ignored: not in the mask".to_owned(),
        ..Listing::default()
    };
    let updated = client
        .update_listing(call(
            UpdateListingRequest {
                listing: Some(change.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()],
                }),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.title, "Assistenza domiciliare per anziani");
    assert_eq!(updated.description, draft.description);
    assert_eq!(updated.pricing, draft.pricing);
    assert_eq!(updated.etag, "v2");

    // The old etag is stale now.
    change.title = "Titolo concorrente".to_owned();
    let stale = client
        .update_listing(call(
            UpdateListingRequest {
                listing: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()],
                }),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");

    // Submit, reject with a reason, rework, resubmit, approve.
    let submitted = client
        .submit_listing(call(
            SubmitListingRequest {
                id: draft.id.clone(),
                etag: "v2".to_owned(),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("submit")
        .into_inner();
    assert_eq!(submitted.state, i32::from(listing::State::Submitted));
    let rejected = client
        .reject_listing(call(
            RejectListingRequest {
                id: draft.id.clone(),
                reason: "Indicare gli orari del sabato".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(rejected.state, i32::from(listing::State::Rejected));
    assert_eq!(rejected.state_reason, "Indicare gli orari del sabato");
    let mut reworked = home_care();
    reworked.id = draft.id.clone();
    reworked.schedule.push(OpeningHours {
        weekday: Weekday::Saturday.into(),
        opens_minute: 9 * 60,
        closes_minute: 11 * 60,
    });
    client
        .update_listing(call(
            UpdateListingRequest {
                listing: Some(reworked),
                update_mask: None,
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("rework");
    let published = world.publish_draft(&draft.id).await;
    assert_eq!(published.state, i32::from(listing::State::Published));
    assert_eq!(published.schedule.len(), 2);
    assert!(published.verify_time.is_some());
    assert!(!published.stale);

    // Now anyone reads it, and it is listed publicly.
    let public = client
        .get_listing(GetListingRequest {
            id: draft.id.clone(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(public, published);
    let listed = client
        .list_listings(ListListingsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.listings, vec![published.clone()]);

    // A published listing is not editable.
    let frozen = client
        .update_listing(call(
            UpdateListingRequest {
                listing: Some(Listing {
                    id: draft.id.clone(),
                    title: "Nuovo titolo".to_owned(),
                    ..Listing::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()],
                }),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect_err("published is frozen");
    assert_eq!(frozen.code(), Code::FailedPrecondition);
    assert_eq!(reason(&frozen), "INVALID_TRANSITION");

    // Suspension takes it out; approval reinstates it; withdrawal is final.
    client
        .suspend_listing(call(
            SuspendListingRequest {
                id: draft.id.clone(),
                reason: "Segnalazione da verificare".to_owned(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("suspend");
    let gone = client
        .get_listing(GetListingRequest {
            id: draft.id.clone(),
        })
        .await
        .expect_err("suspended is hidden");
    assert_eq!(gone.code(), Code::NotFound);
    client
        .approve_listing(call(
            ApproveListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("reinstate");
    let withdrawn = client
        .withdraw_listing(call(
            WithdrawListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect("withdraw")
        .into_inner();
    assert_eq!(withdrawn.state, i32::from(listing::State::Withdrawn));
    let final_state = client
        .submit_listing(call(
            SubmitListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &operator,
        ))
        .await
        .expect_err("withdrawn is final");
    assert_eq!(reason(&final_state), "INVALID_TRANSITION");

    // Every change left one outbox row, in order.
    let outbox = world.server.store.outbox(0, 100).await.expect("outbox");
    let kinds: Vec<&str> = outbox.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "provider.registered",
            "provider.approved",
            "listing.created",
            "listing.updated",
            "listing.submitted",
            "listing.rejected",
            "listing.updated",
            "listing.submitted",
            "listing.published",
            "listing.suspended",
            "listing.published",
            "listing.withdrawn",
        ]
    );
}

async fn only_the_right_roles_act(store: SqlStore) {
    let mut world = world(store).await;
    let client = &mut world.server.client.clone();
    let other = register(client, "Associazione Altrove", VAT_NUMBERS[1]).await;
    approve_provider(client, &other.id).await;
    let stranger = operator_of(&other.id);
    let draft = world.draft(home_care()).await;
    let published = world.publish(swimming()).await;

    // Another provider's operator does not even see the draft...
    let status = client
        .submit_listing(call(
            SubmitListingRequest {
                id: draft.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &stranger,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(status.code(), Code::NotFound);
    // ...and may not withdraw a public listing that is not theirs.
    let status = client
        .withdraw_listing(call(
            WithdrawListingRequest {
                id: published.id.clone(),
                etag: String::new(),
                request_id: rid(),
            },
            &stranger,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_OWNER");
    // Nor create listings for another provider.
    let status = client
        .create_listing(call(
            CreateListingRequest {
                provider_id: world.provider_id.clone(),
                listing: Some(listening_line()),
                request_id: rid(),
            },
            &stranger,
        ))
        .await
        .expect_err("not their provider");
    assert_eq!(reason(&status), "NOT_OWNER");
    // Only a curator approves, rejects, suspends or verifies.
    for token in [world.operator.clone(), citizen()] {
        let status = client
            .verify_listing(call(
                VerifyListingRequest {
                    id: published.id.clone(),
                    etag: String::new(),
                    request_id: rid(),
                },
                &token,
            ))
            .await
            .expect_err("curators only");
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(reason(&status), "ROLE_REQUIRED");
        let status = client
            .suspend_provider(call(
                SuspendProviderRequest {
                    id: other.id.clone(),
                    reason: "Verifica documenti".to_owned(),
                    request_id: rid(),
                    etag: String::new(),
                },
                &token,
            ))
            .await
            .expect_err("curators only");
        assert_eq!(reason(&status), "ROLE_REQUIRED");
    }
    // Without a token, no mutation at all.
    let status = client
        .register_provider(RegisterProviderRequest {
            provider: Some(cooperative("Anonima", VAT_NUMBERS[2])),
            request_id: rid(),
        })
        .await
        .expect_err("anonymous");
    assert_eq!(status.code(), Code::Unauthenticated);
    // The owner sees its drafts in its own list; the public does not.
    let own = client
        .list_listings(call(
            ListListingsRequest {
                provider_id: world.provider_id.clone(),
                ..ListListingsRequest::default()
            },
            &world.operator,
        ))
        .await
        .expect("own list")
        .into_inner();
    assert_eq!(own.listings.len(), 2);
    let public = client
        .list_listings(ListListingsRequest {
            provider_id: world.provider_id.clone(),
            ..ListListingsRequest::default()
        })
        .await
        .expect("public list")
        .into_inner();
    assert_eq!(public.listings.len(), 1);
    let status = client
        .list_listings(ListListingsRequest {
            state: listing::State::Draft.into(),
            ..ListListingsRequest::default()
        })
        .await
        .expect_err("drafts are not public");
    assert_eq!(status.code(), Code::Unauthenticated);
    // Suspending the provider takes its listings out of the public catalogue.
    client
        .suspend_provider(call(
            SuspendProviderRequest {
                id: world.provider_id.clone(),
                reason: "Documentazione scaduta".to_owned(),
                request_id: rid(),
                etag: String::new(),
            },
            &curator(),
        ))
        .await
        .expect("suspend provider");
    let status = client
        .get_listing(GetListingRequest {
            id: published.id.clone(),
        })
        .await
        .expect_err("provider suspended");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .get_provider(GetProviderRequest {
            id: world.provider_id.clone(),
        })
        .await
        .expect_err("suspended provider is not public");
    assert_eq!(reason(&status), "PROVIDER_NOT_FOUND");
    let pending = client
        .list_providers(call(
            ListProvidersRequest {
                state: provider::State::Suspended.into(),
                ..ListProvidersRequest::default()
            },
            &curator(),
        ))
        .await
        .expect("curator lists suspended")
        .into_inner();
    assert_eq!(pending.providers.len(), 1);
    assert_eq!(pending.providers[0].state_reason, "Documentazione scaduta");
}

async fn retries_get_the_first_answer_and_create_nothing(store: SqlStore) {
    let mut server = serve(store).await;
    let registrant = token("registrant", &["citizen"], None);
    let request = RegisterProviderRequest {
        provider: Some(cooperative("Cooperativa Ripetuta", VAT_NUMBERS[3])),
        request_id: "register-once".to_owned(),
    };
    let first = server
        .client
        .register_provider(call(request.clone(), &registrant))
        .await
        .expect("first")
        .into_inner();
    let second = server
        .client
        .register_provider(call(request.clone(), &registrant))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, second);
    let all = server
        .client
        .list_providers(call(ListProvidersRequest::default(), &curator()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.providers.len(), 1);
    assert_eq!(server.store.outbox(0, 10).await.expect("outbox").len(), 1);
    // The same id with other content is refused.
    let mut changed = request.clone();
    changed.provider = Some(cooperative("Cooperativa Diversa", VAT_NUMBERS[4]));
    let status = server
        .client
        .register_provider(call(changed, &registrant))
        .await
        .expect_err("reused id");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");
    // A different request registering the same tax code is refused too.
    let status = server
        .client
        .register_provider(call(
            RegisterProviderRequest {
                provider: Some(cooperative("Cooperativa Gemella", VAT_NUMBERS[3])),
                request_id: "another".to_owned(),
            },
            &registrant,
        ))
        .await
        .expect_err("same tax code");
    assert_eq!(reason(&status), "TAX_CODE_TAKEN");
    // An approval retried after a later change still answers as the first time.
    let approve = ApproveProviderRequest {
        id: first.id.clone(),
        request_id: "approve-once".to_owned(),
        etag: first.etag.clone(),
    };
    let approved = server
        .client
        .approve_provider(call(approve.clone(), &curator()))
        .await
        .expect("approve")
        .into_inner();
    server
        .client
        .suspend_provider(call(
            SuspendProviderRequest {
                id: first.id.clone(),
                reason: "Controllo".to_owned(),
                request_id: "suspend".to_owned(),
                etag: approved.etag.clone(),
            },
            &curator(),
        ))
        .await
        .expect("suspend");
    let replayed = server
        .client
        .approve_provider(call(approve, &curator()))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed, approved);
    assert_eq!(server.store.outbox(0, 10).await.expect("outbox").len(), 3);
    // Concurrent identical retries: one provider.
    let request = RegisterProviderRequest {
        provider: Some(cooperative("Cooperativa Concorrente", VAT_NUMBERS[5])),
        request_id: "concurrent".to_owned(),
    };
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = server.client.clone();
        let request = call(request.clone(), &registrant);
        tasks.push(tokio::spawn(async move {
            client
                .register_provider(request)
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task").expect("register").id);
    }
    assert_eq!(ids.len(), 1);
}

/// A person who moves from one provider to another keeps no reach into the first: the same
/// subject bound to provider B repeating provider A's exact CreateListing is refused (not
/// answered with A's draft), and B's own request with the same id is B's own.
async fn a_replay_never_crosses_tenants(store: SqlStore) {
    let mut server = serve(store).await;
    let a = register(&mut server.client, "Cooperativa Alfa", VAT_NUMBERS[6]).await;
    let b = register(&mut server.client, "Cooperativa Beta", VAT_NUMBERS[7]).await;
    approve_provider(&mut server.client, &a.id).await;
    approve_provider(&mut server.client, &b.id).await;
    let as_a = token("giulia", &["provider_operator"], Some(&a.id));
    let as_b = token("giulia", &["provider_operator"], Some(&b.id));
    let request = CreateListingRequest {
        provider_id: a.id.clone(),
        listing: Some(home_care()),
        request_id: "draft-1".to_owned(),
    };
    let draft = server
        .client
        .create_listing(call(request.clone(), &as_a))
        .await
        .expect("A's draft")
        .into_inner();
    let status = server
        .client
        .create_listing(call(request.clone(), &as_b))
        .await
        .expect_err("bound to B, A's request is not answered");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(!status.message().contains(&draft.id), "{status:?}");
    let own = server
        .client
        .create_listing(call(
            CreateListingRequest {
                provider_id: b.id.clone(),
                ..request.clone()
            },
            &as_b,
        ))
        .await
        .expect("B's own request with the same id")
        .into_inner();
    assert_ne!(own.id, draft.id);
    assert_eq!(own.provider_id, b.id);
    // A's operator retrying still gets A's draft, byte for byte.
    let again = server
        .client
        .create_listing(call(request, &as_a))
        .await
        .expect("A's retry")
        .into_inner();
    assert_eq!(again, draft);
    // Edits too: B's binding cannot replay A's submission.
    let submit = SubmitListingRequest {
        id: draft.id.clone(),
        request_id: "submit-1".to_owned(),
        etag: draft.etag.clone(),
    };
    server
        .client
        .submit_listing(call(submit.clone(), &as_a))
        .await
        .expect("A submits");
    let status = server
        .client
        .submit_listing(call(submit, &as_b))
        .await
        .expect_err("B replays A's submission");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

async fn stale_listings_leave_the_public_until_verified(store: SqlStore) {
    let mut world = world(store).await;
    let client = &mut world.server.client.clone();
    let published = world.publish(swimming()).await;
    world.server.clock.advance_days(181);
    let status = client
        .get_listing(GetListingRequest {
            id: published.id.clone(),
        })
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::NotFound);
    let own = client
        .get_listing(call(
            GetListingRequest {
                id: published.id.clone(),
            },
            &world.operator,
        ))
        .await
        .expect("the owner still reads it")
        .into_inner();
    assert!(own.stale);
    let queue = client
        .list_listings(call(
            ListListingsRequest {
                stale_only: true,
                ..ListListingsRequest::default()
            },
            &curator(),
        ))
        .await
        .expect("queue")
        .into_inner();
    assert_eq!(queue.listings.len(), 1);
    let status = client
        .list_listings(call(
            ListListingsRequest {
                stale_only: true,
                ..ListListingsRequest::default()
            },
            &world.operator,
        ))
        .await
        .expect_err("curators only");
    assert_eq!(reason(&status), "ROLE_REQUIRED");
    let verified = client
        .verify_listing(call(
            VerifyListingRequest {
                id: published.id.clone(),
                etag: own.etag.clone(),
                request_id: rid(),
            },
            &curator(),
        ))
        .await
        .expect("verify")
        .into_inner();
    assert!(!verified.stale);
    let seconds = |listing: &Listing| listing.verify_time.as_ref().map(|t| t.seconds);
    assert!(seconds(&verified) > seconds(&published));
    client
        .get_listing(GetListingRequest {
            id: published.id.clone(),
        })
        .await
        .expect("public again");
}

async fn pages_cover_everything_once(store: SqlStore) {
    let mut world = world(store).await;
    let client = &mut world.server.client.clone();
    let mut created = Vec::new();
    for i in 0..25 {
        let mut listing = listening_line();
        listing.title = format!("Sportello di ascolto {i}");
        created.push(world.publish(listing).await.id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_listings(ListListingsRequest {
                page_size: 10,
                page_token: token.clone(),
                category: common::Category::Psicologico.into(),
                ..ListListingsRequest::default()
            })
            .await
            .expect("page")
            .into_inner();
        pages += 1;
        seen.extend(page.listings.into_iter().map(|l| l.id));
        if page.next_page_token.is_empty() {
            break;
        }
        // A token only works with the filters it was issued for.
        let status = client
            .list_listings(ListListingsRequest {
                page_size: 10,
                page_token: page.next_page_token.clone(),
                category: common::Category::Trasporto.into(),
                ..ListListingsRequest::default()
            })
            .await
            .expect_err("other filters");
        assert_eq!(fields(&status), ["page_token"]);
        // A token is the server's: another caller's, or one made by hand, is refused.
        let status = client
            .list_listings(call(
                ListListingsRequest {
                    page_size: 10,
                    page_token: page.next_page_token.clone(),
                    category: common::Category::Psicologico.into(),
                    ..ListListingsRequest::default()
                },
                &citizen(),
            ))
            .await
            .expect_err("another caller's token");
        assert_eq!(fields(&status), ["page_token"]);
        let (_, signature) = page.next_page_token.split_once('.').expect("signed");
        let last_seen = seen.last().expect("a page");
        // The last id with its final hex digit changed (to one it is not).
        let (kept, last) = last_seen.split_at(last_seen.len() - 1);
        let forged_id = format!("{kept}{}", if last == "0" { "1" } else { "0" });
        let forged = format!(
            "{}.{signature}",
            forged_id
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let status = client
            .list_listings(ListListingsRequest {
                page_size: 10,
                page_token: forged,
                category: common::Category::Psicologico.into(),
                ..ListListingsRequest::default()
            })
            .await
            .expect_err("forged");
        assert_eq!(fields(&status), ["page_token"]);
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    let capped = client
        .list_listings(ListListingsRequest {
            page_size: 1_000,
            ..ListListingsRequest::default()
        })
        .await
        .expect("capped")
        .into_inner();
    assert_eq!(capped.listings.len(), 25);
}

/// Every unit of the contract is stored, answered and quoted as the core words it: "3 notti",
/// "3 quote una tantum".
async fn every_price_unit_is_kept_and_quoted_in_its_words(store: SqlStore) {
    let mut world = world(store).await;
    let mut client = world.server.client.clone();
    for unit in welfare_core::pricing::Unit::ALL {
        let wire = welfare_proto::convert::unit_to_proto(Some(unit));
        let mut listing = swimming();
        listing.pricing = Some(Pricing {
            model: Some(pricing::Model::Fixed(pricing::Fixed {
                unit: wire,
                amount: eur(2_000),
            })),
            resident_discount_basis_points: 0,
        });
        let published = world.publish(listing).await;
        let stored = client
            .get_listing(GetListingRequest {
                id: published.id.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        let Some(pricing::Model::Fixed(fixed)) = stored.pricing.and_then(|p| p.model) else {
            panic!("a fixed price");
        };
        assert_eq!(fixed.unit, wire, "{unit:?}");
        let quote = client
            .quote_listing(QuoteListingRequest {
                listing_id: published.id.clone(),
                profile: Some(common::Profile {
                    beneficiary_age_years: Some(6),
                    ..common::Profile::default()
                }),
                quantity: 3,
                wallet_available: eur(0),
            })
            .await
            .expect("quote")
            .into_inner()
            .quote
            .expect("quote");
        assert_eq!(
            quote.lines[0].label,
            format!("Tariffa piena: 3 {} × € 20,00", unit.label_it(3))
        );
        assert_eq!(quote.total.map(|m| m.amount_cents), Some(6_000));
    }
}

async fn eligibility_and_quotes_come_from_the_core(store: SqlStore) {
    let mut world = world(store).await;
    let client = &mut world.server.client.clone();
    let published = world.publish(home_care()).await;
    let profile = common::Profile {
        residence_istat_code: Some(CODOGNO.to_owned()),
        beneficiary_age_years: Some(78),
        isee: eur(1_150_000),
        ..common::Profile::default()
    };
    let decision = client
        .check_eligibility(CheckEligibilityRequest {
            listing_id: published.id.clone(),
            profile: Some(profile.clone()),
        })
        .await
        .expect("check")
        .into_inner()
        .decision
        .expect("decision");
    let territory = Territory::lodi();
    let content = welfare_proto::convert::listing_content(&home_care(), "listing").expect("valid");
    let core_profile = welfare_proto::convert::profile(Some(&profile), "profile").expect("profile");
    let expected = content.eligibility.evaluate(&core_profile, &territory);
    assert_eq!(
        decision,
        welfare_proto::convert::decision_to_proto(&expected)
    );
    assert!(expected.is_eligible());

    let quote = client
        .quote_listing(QuoteListingRequest {
            listing_id: published.id.clone(),
            profile: Some(profile.clone()),
            quantity: 10,
            wallet_available: eur(5_000),
        })
        .await
        .expect("quote")
        .into_inner();
    let core_quote = content
        .pricing
        .quote(
            &core_profile,
            10,
            &territory,
            welfare_core::Money::from_cents(5_000).expect("amount"),
        )
        .expect("core quote");
    assert_eq!(
        quote.quote,
        Some(welfare_proto::convert::quote_to_proto(&core_quote))
    );
    // ISEE € 11.500 → € 12,00/h, −10% resident → € 10,80 × 10 = € 108,00; € 50 from the wallet.
    assert_eq!(core_quote.total.cents(), 10_800);
    assert_eq!(core_quote.due_from_family.cents(), 5_800);

    let young = common::Profile {
        residence_istat_code: Some(LODI.to_owned()),
        beneficiary_age_years: Some(40),
        ..common::Profile::default()
    };
    let refused = client
        .check_eligibility(CheckEligibilityRequest {
            listing_id: published.id.clone(),
            profile: Some(young),
        })
        .await
        .expect("check")
        .into_inner()
        .decision
        .expect("decision");
    assert_eq!(refused.reasons[0].code, "age_below_minimum");
    assert!(refused.reasons[0].message.contains("65"));

    let categories = client
        .list_categories(ListCategoriesRequest {})
        .await
        .expect("categories")
        .into_inner();
    assert_eq!(categories.categories.len(), 6);
    let municipalities = client
        .list_municipalities(ListMunicipalitiesRequest {})
        .await
        .expect("municipalities")
        .into_inner();
    assert_eq!(municipalities.municipalities.len(), 60);
    assert_eq!(municipalities.territory_name, "Ambito di Lodi");
    assert!(
        municipalities
            .municipalities
            .iter()
            .any(|m| m.name == "Codogno" && m.istat_code == CODOGNO)
    );
}

welfare_storage::on_every_backend!(
    support::open;
    a_listing_goes_from_draft_to_the_public_and_back,
    only_the_right_roles_act,
    retries_get_the_first_answer_and_create_nothing,
    a_replay_never_crosses_tenants,
    stale_listings_leave_the_public_until_verified,
    pages_cover_everything_once,
    eligibility_and_quotes_come_from_the_core,
    every_price_unit_is_kept_and_quoted_in_its_words,
);
