//! Eligibility and quote of one profile against 10,000 listings: the work behind a search page
//! where every hit carries the person's decision and net price.
//!
//! Run: `cargo bench -p welfare-core --bench evaluate`
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use welfare_core::listing::OpeningHours;
use welfare_core::prelude::*;

const LISTINGS: usize = 10_000;

fn euros(value: i64) -> Money {
    Money::from_euros(value).expect("in range")
}

/// A varied catalogue: every category, all price models, zero to four rules per listing.
fn catalogue(territory: &Territory) -> Vec<ListingContent> {
    let comuni: Vec<IstatCode> = territory
        .municipalities()
        .iter()
        .map(|m| m.istat_code.clone())
        .collect();
    let subcategories = Subcategory::all();
    (0..LISTINGS)
        .map(|i| {
            let sub = &subcategories[i % subcategories.len()];
            let comune = comuni[i % comuni.len()].clone();
            let pricing = match i % 3 {
                0 => Pricing::free(),
                1 => Pricing::new(
                    PriceModel::Fixed {
                        unit: Unit::Hour,
                        amount: euros(15 + (i % 20) as i64),
                    },
                    None,
                )
                .expect("valid"),
                _ => Pricing::new(
                    PriceModel::IseeBands {
                        unit: Unit::Month,
                        bands: IseeBands::new(vec![
                            IseeBand {
                                isee_up_to: Some(euros(8_000)),
                                amount: euros(100),
                            },
                            IseeBand {
                                isee_up_to: Some(euros(15_000)),
                                amount: euros(200),
                            },
                            IseeBand {
                                isee_up_to: Some(euros(25_000)),
                                amount: euros(300),
                            },
                            IseeBand {
                                isee_up_to: None,
                                amount: euros(400),
                            },
                        ])
                        .expect("valid"),
                    },
                    Some(BasisPoints::new(1_000).expect("10%")),
                )
                .expect("valid"),
            };
            let mut rules = vec![Rule::ResidentInTerritory];
            if i % 2 == 0 {
                rules.push(Rule::IseeAtMost {
                    ceiling: euros(20_000 + (i % 7) as i64 * 1_000),
                });
            }
            if i % 5 == 0 {
                rules.push(Rule::BeneficiaryAge {
                    min_years: Some(65),
                    max_years: None,
                });
            }
            if i % 7 == 0 {
                rules.push(Rule::ResidentIn {
                    comuni: vec![comune.clone(), comuni[(i + 1) % comuni.len()].clone()],
                });
            }
            if sub.category == Category::CuraFigli {
                rules.push(Rule::ChildAged {
                    min_years: 0,
                    max_years: 10,
                });
            }
            ListingContent {
                title: format!("{} {i}", sub.label_it),
                description: "Servizio di prova".to_owned(),
                category: sub.category,
                subcategory: sub.code.to_owned(),
                delivery: vec![Delivery::AtHome],
                service_area: vec![comune],
                venue: None,
                schedule: vec![OpeningHours {
                    weekday: welfare_core::listing::Weekday::Monday,
                    opens_minute: 540,
                    closes_minute: 1_080,
                }],
                booking_mode: BookingMode::RequestAndConfirm,
                eligibility: EligibilityRules::new(rules).expect("valid"),
                pricing,
                cancellation_policy: CancellationPolicy::FLEXIBLE,
                languages: vec!["it".to_owned()],
                accessibility: Vec::new(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let territory = Territory::lodi();
    let listings = catalogue(&territory);
    let profile = Profile::new()
        .resident_in(IstatCode::parse("098019").expect("Codogno"))
        .aged(70)
        .with_isee(euros(12_000))
        .with_children_aged(vec![4]);
    let wallet = euros(300);

    let mut group = c.benchmark_group("assess");
    group.throughput(Throughput::Elements(LISTINGS as u64));
    group.bench_function("eligibility_and_quote_10k_listings", |b| {
        b.iter(|| {
            let mut eligible = 0usize;
            let mut due = 0i64;
            for listing in &listings {
                let assessment = assess(
                    &listing.eligibility,
                    &listing.pricing,
                    black_box(&profile),
                    2,
                    &territory,
                    wallet,
                );
                eligible += usize::from(assessment.decision.is_eligible());
                due += assessment.quote.expect("quote").due_from_family.cents();
            }
            black_box((eligible, due))
        })
    });
    group.bench_function("eligibility_only_10k_listings", |b| {
        b.iter(|| {
            listings
                .iter()
                .filter(|l| {
                    l.eligibility
                        .evaluate(black_box(&profile), &territory)
                        .is_eligible()
                })
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
