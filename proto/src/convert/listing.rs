//! A listing's content: pricing, cancellation policy, booking mode, schedule, venue; and the
//! category tree.

use super::*;
use welfare_core::local_words::Lexicon;

pub(super) fn basis_points(value: u32, field: &str) -> Converted<BasisPoints> {
    BasisPoints::new(value).map_err(|e| violation(field, e))
}

/// A listing's pricing, checked: positive fixed prices, well-ordered ISEE bands.
pub fn pricing(value: Option<&pb::Pricing>, field: &str) -> Converted<Pricing> {
    use pb::pricing::Model as M;
    let value = required(value, field)?;
    let Some(model) = value.model.as_ref() else {
        return Err(violation(
            field,
            "a price model (free, fixed or isee_bands) is required",
        ));
    };
    let model = match model {
        M::Free(_) => PriceModel::Free,
        M::Fixed(fixed) => PriceModel::Fixed {
            unit: unit(fixed.unit, &child(field, "fixed.unit"))?,
            amount: positive_money(fixed.amount.as_ref(), &child(field, "fixed.amount"))?,
        },
        M::IseeBands(tariff) => {
            let bands_field = child(field, "isee_bands.bands");
            check_len(
                &tariff.bands,
                &bands_field,
                welfare_core::pricing::MAX_ISEE_BANDS,
            )?;
            let bands = tariff
                .bands
                .iter()
                .enumerate()
                .map(|(i, band)| {
                    let band_field = item(&bands_field, i);
                    Ok(IseeBand {
                        isee_up_to: optional_money(
                            band.isee_up_to.as_ref(),
                            &child(&band_field, "isee_up_to"),
                        )?,
                        amount: non_negative_money(
                            band.amount.as_ref(),
                            &child(&band_field, "amount"),
                        )?,
                    })
                })
                .collect::<Converted<Vec<_>>>()?;
            let bands = IseeBands::new(bands).map_err(|e| {
                use welfare_core::pricing::PricingError as E;
                match &e {
                    E::OpenBand { index } | E::BandOrder { index } | E::BandFees { index } => {
                        violation(&item(&bands_field, *index), e)
                    }
                    _ => violation(&bands_field, e),
                }
            })?;
            PriceModel::IseeBands {
                unit: unit(tariff.unit, &child(field, "isee_bands.unit"))?,
                bands,
            }
        }
    };
    let discount = match value.resident_discount_basis_points {
        0 => None,
        bp => Some(basis_points(
            bp,
            &child(field, "resident_discount_basis_points"),
        )?),
    };
    Pricing::new(model, discount).map_err(|e| violation(field, e))
}

pub fn pricing_to_proto(value: &Pricing) -> pb::Pricing {
    use pb::pricing::{self as p, Model as M};
    let model = match value.model() {
        PriceModel::Free => M::Free(p::Free {}),
        PriceModel::Fixed { unit, amount } => M::Fixed(p::Fixed {
            unit: unit_to_proto(Some(*unit)),
            amount: Some(money_to_proto(*amount)),
        }),
        PriceModel::IseeBands { unit, bands } => M::IseeBands(p::IseeBands {
            unit: unit_to_proto(Some(*unit)),
            bands: bands
                .bands()
                .iter()
                .map(|band| pb::IseeBand {
                    isee_up_to: band.isee_up_to.map(money_to_proto),
                    amount: Some(money_to_proto(band.amount)),
                })
                .collect(),
        }),
    };
    pb::Pricing {
        model: Some(model),
        resident_discount_basis_points: value.resident_discount().map_or(0, BasisPoints::get),
    }
}

/// A cancellation policy; unset is free cancellation at any time before the start.
pub fn cancellation_policy(
    value: Option<&pb::CancellationPolicy>,
    field: &str,
) -> Converted<CancellationPolicy> {
    use pb::cancellation_policy::LateFee as F;
    let Some(value) = value else {
        return Ok(CancellationPolicy::FLEXIBLE);
    };
    let late_fee = match &value.late_fee {
        None => LateFee::None,
        Some(F::LateFeeBasisPoints(bp)) => LateFee::Share {
            share: basis_points(*bp, &child(field, "late_fee_basis_points"))?,
        },
        Some(F::LateFeeAmount(amount)) => LateFee::Fixed {
            amount: positive_money(Some(amount), &child(field, "late_fee_amount"))?,
        },
    };
    CancellationPolicy::new(value.free_until_hours_before, late_fee)
        .map_err(|e| violation(&child(field, "free_until_hours_before"), e))
}

pub fn cancellation_policy_to_proto(value: &CancellationPolicy) -> pb::CancellationPolicy {
    use pb::cancellation_policy::LateFee as F;
    pb::CancellationPolicy {
        free_until_hours_before: value.free_until_hours_before(),
        late_fee: match value.late_fee() {
            LateFee::None => None,
            LateFee::Share { share } => Some(F::LateFeeBasisPoints(share.get())),
            LateFee::Fixed { amount } => Some(F::LateFeeAmount(money_to_proto(amount))),
        },
    }
}

pub(super) fn booking_mode(value: Option<&pb::BookingMode>, field: &str) -> Converted<BookingMode> {
    use pb::booking_mode::Mode as M;
    let value = required(value, field)?;
    match value.mode.as_ref() {
        Some(M::Slots(slots)) => Ok(BookingMode::Slots {
            capacity_per_slot: slots.capacity_per_slot,
        }),
        Some(M::RequestAndConfirm(_)) => Ok(BookingMode::RequestAndConfirm),
        Some(M::Enrolment(enrolment)) => Ok(BookingMode::Enrolment {
            places: enrolment.places,
        }),
        None => Err(violation(
            field,
            "a mode (slots, request_and_confirm or enrolment) is required",
        )),
    }
}

pub(super) fn booking_mode_to_proto(value: BookingMode) -> pb::BookingMode {
    use pb::booking_mode::{self as b, Mode as M};
    let mode = match value {
        BookingMode::Slots { capacity_per_slot } => M::Slots(b::Slots { capacity_per_slot }),
        BookingMode::RequestAndConfirm => M::RequestAndConfirm(b::RequestAndConfirm {}),
        BookingMode::Enrolment { places } => M::Enrolment(b::Enrolment { places }),
    };
    pb::BookingMode { mode: Some(mode) }
}

pub(super) fn minute(value: u32, field: &str) -> Converted<u16> {
    u16::try_from(value)
        .ok()
        .filter(|m| *m <= 1_440)
        .ok_or_else(|| violation(field, "must be 0 to 1440"))
}

/// The content of a listing as a provider writes it. Every field is converted and every
/// violation reported, not only the first; the territory checks (comuni, venue) are left to
/// [`ListingContent::validate`], which the service runs next.
pub fn listing_content(
    value: &pb::Listing,
    field: &str,
) -> Result<ListingContent, Vec<FieldViolation>> {
    fn keep<T>(violations: &mut Vec<FieldViolation>, result: Converted<T>) -> Option<T> {
        result.map_err(|v| violations.push(v)).ok()
    }
    let mut violations = Vec::new();
    let title = keep(
        &mut violations,
        text(
            &value.title,
            &child(field, "title"),
            0,
            welfare_core::listing::TITLE_MAX_CHARS,
        ),
    );
    let description = keep(
        &mut violations,
        text(
            &value.description,
            &child(field, "description"),
            0,
            welfare_core::listing::DESCRIPTION_MAX_CHARS,
        ),
    );
    let category = keep(
        &mut violations,
        category(value.category, &child(field, "category")),
    );
    let subcategory = keep(
        &mut violations,
        text(&value.subcategory, &child(field, "subcategory"), 1, 60),
    );
    let delivery = keep(
        &mut violations,
        check_len(&value.delivery, &child(field, "delivery"), 3).and_then(|()| {
            value
                .delivery
                .iter()
                .enumerate()
                .map(|(i, &d)| delivery(d, &item(&child(field, "delivery"), i)))
                .collect()
        }),
    );
    let area_field = child(field, "service_area");
    let service_area = keep(
        &mut violations,
        check_len(
            &value.service_area,
            &area_field,
            welfare_core::listing::MAX_SERVICE_AREA,
        )
        .and_then(|()| {
            value
                .service_area
                .iter()
                .enumerate()
                .map(|(i, code)| istat_code(code, &item(&area_field, i)))
                .collect()
        }),
    );
    let venue = keep(
        &mut violations,
        value
            .venue
            .as_ref()
            .map(|venue| {
                let venue_field = child(field, "venue");
                Ok(Venue {
                    address: text(
                        &venue.address,
                        &child(&venue_field, "address"),
                        0,
                        welfare_core::listing::ADDRESS_MAX_CHARS,
                    )?,
                    comune: istat_code(&venue.istat_code, &child(&venue_field, "istat_code"))?,
                    location: geo_point(venue.location.as_ref(), &child(&venue_field, "location"))?,
                })
            })
            .transpose(),
    );
    let schedule_field = child(field, "schedule");
    let schedule = keep(
        &mut violations,
        check_len(
            &value.schedule,
            &schedule_field,
            welfare_core::listing::MAX_SCHEDULE_ENTRIES,
        )
        .and_then(|()| {
            value
                .schedule
                .iter()
                .enumerate()
                .map(|(i, hours)| {
                    let f = item(&schedule_field, i);
                    Ok(OpeningHours {
                        weekday: weekday(hours.weekday, &child(&f, "weekday"))?,
                        opens_minute: minute(hours.opens_minute, &child(&f, "opens_minute"))?,
                        closes_minute: minute(hours.closes_minute, &child(&f, "closes_minute"))?,
                    })
                })
                .collect()
        }),
    );
    let booking_mode = keep(
        &mut violations,
        booking_mode(value.booking_mode.as_ref(), &child(field, "booking_mode")),
    );
    let eligibility = keep(
        &mut violations,
        eligibility_rules(&value.eligibility_rules, &child(field, "eligibility_rules")),
    );
    let pricing = keep(
        &mut violations,
        pricing(value.pricing.as_ref(), &child(field, "pricing")),
    );
    let cancellation_policy = keep(
        &mut violations,
        cancellation_policy(
            value.cancellation_policy.as_ref(),
            &child(field, "cancellation_policy"),
        ),
    );
    let languages = keep(
        &mut violations,
        check_len(
            &value.languages,
            &child(field, "languages"),
            welfare_core::listing::MAX_LANGUAGES,
        )
        .map(|()| {
            value
                .languages
                .iter()
                .map(|l| l.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        }),
    );
    let access_field = child(field, "accessibility");
    let accessibility = keep(
        &mut violations,
        check_len(&value.accessibility, &access_field, 6).and_then(|()| {
            value
                .accessibility
                .iter()
                .enumerate()
                .map(|(i, &a)| accessibility(a, &item(&access_field, i)))
                .collect()
        }),
    );
    match (
        title,
        description,
        category,
        subcategory,
        delivery,
        service_area,
        venue,
        schedule,
        booking_mode,
        eligibility,
        pricing,
        cancellation_policy,
        languages,
        accessibility,
    ) {
        (
            Some(title),
            Some(description),
            Some(category),
            Some(subcategory),
            Some(delivery),
            Some(service_area),
            Some(venue),
            Some(schedule),
            Some(booking_mode),
            Some(eligibility),
            Some(pricing),
            Some(cancellation_policy),
            Some(languages),
            Some(accessibility),
        ) if violations.is_empty() => Ok(ListingContent {
            title,
            description,
            category,
            subcategory,
            delivery,
            service_area,
            venue,
            schedule,
            booking_mode,
            eligibility,
            pricing,
            cancellation_policy,
            languages,
            accessibility,
        }),
        _ => Err(violations),
    }
}

/// Writes a listing's content into its wire form (identity, state and times are the service's).
pub fn listing_content_to_proto(value: &ListingContent, out: &mut pb::Listing) {
    out.title.clone_from(&value.title);
    out.description.clone_from(&value.description);
    out.category = category_to_proto(value.category);
    out.subcategory.clone_from(&value.subcategory);
    out.delivery = value
        .delivery
        .iter()
        .map(|&d| delivery_to_proto(d))
        .collect();
    out.service_area = value.service_area.iter().map(ToString::to_string).collect();
    out.venue = value.venue.as_ref().map(|venue| pb::Venue {
        address: venue.address.clone(),
        istat_code: venue.comune.to_string(),
        location: Some(geo_point_to_proto(venue.location)),
    });
    out.schedule = value
        .schedule
        .iter()
        .map(|hours| pb::OpeningHours {
            weekday: weekday_to_proto(hours.weekday),
            opens_minute: u32::from(hours.opens_minute),
            closes_minute: u32::from(hours.closes_minute),
        })
        .collect();
    out.booking_mode = Some(booking_mode_to_proto(value.booking_mode));
    out.eligibility_rules = eligibility_rules_to_proto(&value.eligibility);
    out.pricing = Some(pricing_to_proto(&value.pricing));
    out.cancellation_policy = Some(cancellation_policy_to_proto(&value.cancellation_policy));
    out.languages.clone_from(&value.languages);
    out.accessibility = value
        .accessibility
        .iter()
        .map(|&a| accessibility_to_proto(a))
        .collect();
}

/// The six categories with their subcategories, for `ListCategories`, each subcategory with
/// the Ambito's local words for it.
pub fn categories_to_proto(lexicon: &Lexicon) -> Vec<pb::CategoryInfo> {
    Category::ALL
        .into_iter()
        .map(|category| pb::CategoryInfo {
            category: category_to_proto(category),
            code: category.code().to_owned(),
            label: category.label_it().to_owned(),
            subcategories: category
                .subcategories()
                .map(|sub: &Subcategory| pb::Subcategory {
                    code: sub.code.to_owned(),
                    label: sub.label_it.to_owned(),
                    synonyms: sub.synonyms.iter().map(|s| (*s).to_owned()).collect(),
                    default_tax_letter: tax_letter_to_proto(sub.tax_letter),
                    description: sub.description_it.to_owned(),
                    typical_min_age_years: u32::from(sub.ages.min_years),
                    typical_max_age_years: u32::from(sub.ages.max_years),
                    local_synonyms: lexicon.synonyms_of(sub.code).map(str::to_owned).collect(),
                })
                .collect(),
        })
        .collect()
}
