//! One HSDS record read into the catalogue's terms: an organization into a provider, a service
//! into a listing's content, field by field, each problem a refusal's reason.

use serde::de::DeserializeOwned;
use serde_json::Value;
use welfare_core::Money;
use welfare_core::category::Subcategory;
use welfare_core::contact::{Email, Phone, Website};
use welfare_core::eligibility::{EligibilityRules, Rule};
use welfare_core::ids::ProviderId;
use welfare_core::listing::{
    Accessibility, BookingMode, Delivery, ListingContent, OpeningHours, Venue, Weekday,
};
use welfare_core::pricing::{PriceModel, Pricing, Unit};
use welfare_core::provider::{ProviderKind, ProviderStatus, RuntsNumber, TaxId};
use welfare_core::territory::{GeoPoint, IstatCode, Territory};
use welfare_core::time::Timestamp;

use super::super::{
    Fact, ISTAT_SCHEME, RUNTS_SCHEME, accessibility_it, subcategory_term_id, weekday_code,
};
use super::{Document, IMPORT_PRINCIPAL};
use crate::grpc::{NAME_MAX_CHARS, NAME_MIN_CHARS};
use crate::store::ProviderRecord;

/// A string field, or "" when absent or not a string.
pub(super) fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A non-empty string field, or `None`.
fn optional<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    Some(text(record, key).trim()).filter(|t| !t.is_empty())
}

/// The array field `key`'s objects (none when absent).
fn items<'a>(record: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    record
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

pub(super) fn provider(
    record: &Value,
    territory: &Territory,
    now: Timestamp,
) -> Result<ProviderRecord, String> {
    let id = ProviderId::parse(text(record, "id")).map_err(|e| format!("id: {e}"))?;
    let name = text(record, "name").trim();
    let chars = name.chars().count();
    if !(NAME_MIN_CHARS..=NAME_MAX_CHARS).contains(&chars) {
        return Err(format!(
            "name must be {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters"
        ));
    }
    let tax_id = optional(record, "tax_id")
        .ok_or("no tax_id: a provider is vetted by its partita IVA or codice fiscale")?;
    let tax_id = TaxId::parse(tax_id).map_err(|e| format!("tax_id: {e}"))?;
    let kind = provider_kind(record, territory)?;
    let contact_email = optional(record, "email")
        .map(Email::parse)
        .transpose()
        .map_err(|e| format!("email: {e}"))?;
    let website_url = optional(record, "website")
        .map(Website::parse)
        .transpose()
        .map_err(|e| format!("website: {e}"))?;
    let contact_phone = items(record, "phones")
        .find_map(|phone| optional(phone, "number"))
        .map(Phone::parse)
        .transpose()
        .map_err(|e| format!("phones: {e}"))?;
    Ok(ProviderRecord {
        id,
        display_name: name.to_owned(),
        kind,
        tax_id,
        contact_email,
        contact_phone,
        website_url,
        status: ProviderStatus::Pending,
        state_reason: String::new(),
        registered_by: IMPORT_PRINCIPAL.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// The kind of provider an organization is: its RUNTS number or ISTAT code among its
/// identifiers, or its legal status naming one of the other kinds.
fn provider_kind(record: &Value, territory: &Territory) -> Result<ProviderKind, String> {
    for identifier in items(record, "organization_identifiers") {
        let value = text(identifier, "identifier").trim();
        match text(identifier, "identifier_scheme") {
            RUNTS_SCHEME => {
                let runts_number =
                    RuntsNumber::parse(value).map_err(|e| format!("RUNTS number: {e}"))?;
                return Ok(ProviderKind::Ets { runts_number });
            }
            ISTAT_SCHEME => {
                let istat_code = IstatCode::parse(value).map_err(|e| format!("ISTAT code: {e}"))?;
                if !territory.contains(&istat_code) {
                    return Err(format!(
                        "comune {istat_code} is not in the {}",
                        territory.name()
                    ));
                }
                return Ok(ProviderKind::Comune { istat_code });
            }
            _ => {}
        }
    }
    let status = text(record, "legal_status").trim();
    let others = [
        ProviderKind::AziendaSpeciale,
        ProviderKind::CooperativaSociale,
        ProviderKind::Company,
    ];
    if let Some(kind) = others.iter().find(|kind| {
        status.eq_ignore_ascii_case(kind.label_it()) || status.eq_ignore_ascii_case(kind.code())
    }) {
        return Ok(kind.clone());
    }
    if status.eq_ignore_ascii_case("Ente del Terzo Settore") || status.eq_ignore_ascii_case("ets") {
        return Err(format!(
            "a third-sector body needs its RUNTS number among organization_identifiers \
             (identifier_scheme {RUNTS_SCHEME})"
        ));
    }
    if status.eq_ignore_ascii_case("comune") {
        return Err(format!(
            "a comune needs its ISTAT code among organization_identifiers (identifier_scheme \
             {ISTAT_SCHEME})"
        ));
    }
    Err(format!(
        "legal_status {status:?} is not a kind of provider: one of Ente del Terzo Settore \
         (with its RUNTS number), Comune (with its ISTAT code), {}",
        others
            .iter()
            .map(ProviderKind::label_it)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A fact carried as an attribute of the service, if the file has it.
fn fact<T: DeserializeOwned>(service: &Value, fact: Fact) -> Result<Option<T>, String> {
    let term = fact.term_id();
    let Some(attribute) =
        items(service, "attributes").find(|attribute| text(attribute, "taxonomy_term_id") == term)
    else {
        return Ok(None);
    };
    serde_json::from_str(text(attribute, "value"))
        .map(Some)
        .map_err(|e| format!("attribute {}: {e}", fact.code()))
}

pub(super) fn content(
    service: &Value,
    document: &Document,
    territory: &Territory,
) -> Result<ListingContent, String> {
    match text(service, "status") {
        "" | "active" => {}
        other => return Err(format!("status {other}: only active services are imported")),
    }
    let title = text(service, "name").trim().to_owned();
    let subcategory = subcategory(service, document, &title)?;
    let mut description = text(service, "description").trim().to_owned();
    let venue = venue(service, document, territory)?;
    let delivery = match fact(service, Fact::Delivery)? {
        Some(delivery) => delivery,
        None if venue.is_some() => vec![Delivery::AtVenue],
        None => {
            return Err(
                "no location and no delivery attribute: how the service reaches \
                        people is unknown"
                    .to_owned(),
            );
        }
    };
    let eligibility = match fact(service, Fact::Eligibility)? {
        Some(rules) => rules,
        None => {
            if let Some(text) = optional(service, "eligibility_description") {
                description.push_str(&format!("\n\nRequisiti (da verificare): {text}"));
            }
            age_rules(service)?
        }
    };
    let pricing = match fact(service, Fact::Pricing)? {
        Some(pricing) => pricing,
        None => pricing(service)?,
    };
    let accessibility = match fact(service, Fact::Accessibility)? {
        Some(accessibility) => accessibility,
        None => location_of(service, document)
            .map(|location| {
                items(location, "accessibility")
                    .filter_map(|a| {
                        let description = text(a, "description");
                        Accessibility::ALL
                            .into_iter()
                            .find(|f| accessibility_it(*f) == description)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut languages: Vec<String> = items(service, "languages")
        .filter_map(|language| optional(language, "code"))
        .map(str::to_owned)
        .collect();
    if languages.is_empty() {
        languages.push("it".to_owned());
    }
    let content = ListingContent {
        title,
        description,
        category: subcategory.category,
        subcategory: subcategory.code.to_owned(),
        delivery,
        service_area: service_area(service, territory)?,
        venue,
        schedule: schedule(service)?,
        booking_mode: fact(service, Fact::BookingMode)?.unwrap_or(BookingMode::RequestAndConfirm),
        eligibility,
        pricing,
        cancellation_policy: fact(service, Fact::CancellationPolicy)?.unwrap_or_default(),
        languages,
        accessibility,
    };
    content.validate(territory).map_err(|violations| {
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok(content)
}

/// The subcategory: LodiWelfare's own term among the service's attributes, or the one
/// subcategory a foreign term's code or name (or, failing those, the service's name) names.
fn subcategory(
    service: &Value,
    document: &Document,
    title: &str,
) -> Result<&'static Subcategory, String> {
    let mut named = Vec::new();
    for attribute in items(service, "attributes") {
        let term_id = text(attribute, "taxonomy_term_id");
        if let Some(own) = Subcategory::all()
            .iter()
            .find(|sub| subcategory_term_id(sub.code) == term_id)
        {
            return Ok(own);
        }
        let term = attribute
            .get("taxonomy_term")
            .or_else(|| document.terms.get(term_id));
        if let Some(term) = term {
            if let Ok(sub) = Subcategory::find(text(term, "code")) {
                return Ok(sub);
            }
            named.extend(Subcategory::mentioned_in(text(term, "name")));
        }
    }
    if named.is_empty() {
        named = Subcategory::mentioned_in(title);
    }
    named.sort_by_key(|sub| sub.code);
    named.dedup_by_key(|sub| sub.code);
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(
            "no taxonomy term or name of the service names a LodiWelfare subcategory".to_owned(),
        ),
        many => Err(format!(
            "its taxonomy terms name {} subcategories ({}): the import takes one",
            many.len(),
            many.iter().map(|s| s.code).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The service's one location, if it has one.
fn location_of<'a>(service: &Value, document: &'a Document) -> Option<&'a Value> {
    items(service, "service_at_locations")
        .find_map(|link| document.locations.get(text(link, "location_id")))
}

fn venue(
    service: &Value,
    document: &Document,
    territory: &Territory,
) -> Result<Option<Venue>, String> {
    let links: Vec<&Value> = items(service, "service_at_locations").collect();
    let link = match links.as_slice() {
        [] => return Ok(None),
        [one] => one,
        many => {
            return Err(format!(
                "{} locations: a listing has one venue; split the service",
                many.len()
            ));
        }
    };
    let location_id = text(link, "location_id");
    let location = document
        .locations
        .get(location_id)
        .ok_or_else(|| format!("location {location_id:?} is not in the file"))?;
    let address = items(location, "addresses")
        .next()
        .ok_or_else(|| format!("location {location_id} has no address"))?;
    let city = text(address, "city").trim();
    let postal_code = text(address, "postal_code").trim();
    let comune = territory
        .find_by_name(city)
        .or_else(|| {
            territory.municipalities().iter().find(|m| {
                !postal_code.is_empty() && m.postal_codes.iter().any(|p| p == postal_code)
            })
        })
        .ok_or_else(|| {
            format!(
                "location {location_id}: {city:?} ({postal_code}) is not a comune of the {}",
                territory.name()
            )
        })?;
    let (Some(lat), Some(lon)) = (
        location.get("latitude").and_then(Value::as_f64),
        location.get("longitude").and_then(Value::as_f64),
    ) else {
        return Err(format!(
            "location {location_id} has no latitude and longitude"
        ));
    };
    let point = GeoPoint::new(lat, lon).map_err(|e| format!("location {location_id}: {e}"))?;
    Ok(Some(Venue {
        address: text(address, "address_1").trim().to_owned(),
        comune: comune.istat_code.clone(),
        location: point,
    }))
}

/// `minimum_age` and `maximum_age` as a rule on the beneficiary's age.
fn age_rules(service: &Value) -> Result<EligibilityRules, String> {
    let age = |key: &str| -> Result<Option<u8>, String> {
        match service.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .and_then(|years| u8::try_from(years).ok())
                .map(Some)
                .ok_or_else(|| format!("{key} {value} is not an age in years")),
        }
    };
    let (min_years, max_years) = (age("minimum_age")?, age("maximum_age")?);
    let rules = if min_years.is_none() && max_years.is_none() {
        Vec::new()
    } else {
        vec![Rule::BeneficiaryAge {
            min_years,
            max_years,
        }]
    };
    EligibilityRules::new(rules).map_err(|e| format!("minimum_age, maximum_age: {e}"))
}

/// One cost option as the tariff: free at 0, otherwise a price per the unit its label names.
fn pricing(service: &Value) -> Result<Pricing, String> {
    let options: Vec<&Value> = items(service, "cost_options").collect();
    let option = match options.as_slice() {
        [] => {
            return Err(
                "no cost_options and no pricing attribute: the tariff is unknown".to_owned(),
            );
        }
        [one] => one,
        many => {
            return Err(format!(
                "{} cost options without a pricing attribute: the import reads one price; \
                 enter ISEE bands by hand",
                many.len()
            ));
        }
    };
    if let Some(currency) = optional(option, "currency")
        && currency != "EUR"
    {
        return Err(format!("cost option in {currency}: only EUR is accepted"));
    }
    let amount = option
        .get("amount")
        .and_then(Value::as_f64)
        .ok_or("the cost option has no amount")?;
    let cents = (amount * 100.0).round();
    if !cents.is_finite() || (amount * 100.0 - cents).abs() > 1e-6 {
        return Err(format!("amount {amount} is not a sum in euro and cents"));
    }
    // In range: Money refuses what it cannot hold.
    #[allow(clippy::cast_possible_truncation)]
    let amount = Money::from_cents(cents as i64).map_err(|e| format!("amount: {e}"))?;
    let model = if amount == Money::ZERO {
        PriceModel::Free
    } else {
        let label = welfare_core::text::fold(text(option, "option"));
        let unit = Unit::ALL
            .into_iter()
            .find(|unit| {
                let phrase = format!(" {} ", welfare_core::text::fold(unit.per_it()));
                format!(" {label} ").contains(&phrase)
            })
            .ok_or_else(|| {
                format!(
                    "cost option {:?} names no unit: \"{}\"",
                    text(option, "option"),
                    Unit::ALL.map(Unit::per_it).join("\", \"")
                )
            })?;
        PriceModel::Fixed { unit, amount }
    };
    Pricing::new(model, None).map_err(|e| format!("cost option: {e}"))
}

fn service_area(service: &Value, territory: &Territory) -> Result<Vec<IstatCode>, String> {
    let mut codes = Vec::new();
    for area in items(service, "service_areas") {
        let name = text(area, "name").trim();
        if text(area, "extent_type") == "istat" {
            let code = IstatCode::parse(text(area, "extent"))
                .map_err(|e| format!("service area {name:?}: {e}"))?;
            if !territory.contains(&code) {
                return Err(format!(
                    "service area {code} is not a comune of the {}",
                    territory.name()
                ));
            }
            codes.push(code);
        } else if name.eq_ignore_ascii_case(territory.name()) {
            // The whole territory.
            return Ok(Vec::new());
        } else {
            let comune = territory.find_by_name(name).ok_or_else(|| {
                format!(
                    "service area {name:?} is not a comune of the {}",
                    territory.name()
                )
            })?;
            codes.push(comune.istat_code.clone());
        }
    }
    Ok(codes)
}

fn schedule(service: &Value) -> Result<Vec<OpeningHours>, String> {
    let mut hours = Vec::new();
    for entry in items(service, "schedules") {
        match text(entry, "freq") {
            "" | "WEEKLY" => {}
            other => {
                return Err(format!(
                    "schedule with freq {other}: only weekly opening hours are imported"
                ));
            }
        }
        let opens_minute = minutes(text(entry, "opens_at"))?;
        let closes_minute = minutes(text(entry, "closes_at"))?;
        for day in text(entry, "byday").split(',').map(str::trim) {
            let weekday = Weekday::ALL
                .into_iter()
                .find(|w| weekday_code(*w) == day)
                .ok_or_else(|| format!("schedule byday {day:?} is not MO, TU … SU"))?;
            hours.push(OpeningHours {
                weekday,
                opens_minute,
                closes_minute,
            });
        }
    }
    Ok(hours)
}

/// "HH:MM" (or "HH:MM:SS") as minutes after midnight.
fn minutes(clock: &str) -> Result<u16, String> {
    let mut parts = clock.split(':');
    let (Some(h), Some(m)) = (parts.next(), parts.next()) else {
        return Err(format!("schedule time {clock:?} is not HH:MM"));
    };
    match (h.parse::<u16>(), m.parse::<u16>()) {
        (Ok(h), Ok(m)) if h <= 24 && m < 60 && h * 60 + m <= 1_440 => Ok(h * 60 + m),
        _ => Err(format!("schedule time {clock:?} is not HH:MM")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use welfare_core::Money;
    use welfare_core::pricing::{PriceModel, Unit};

    #[test]
    fn opening_times_are_read_as_minutes() {
        assert_eq!(minutes("09:30"), Ok(570));
        assert_eq!(minutes("24:00"), Ok(1_440));
        assert_eq!(minutes("18:00:00"), Ok(1_080));
        for bad in ["", "9", "25:00", "24:01", "aa:bb", "10:60"] {
            assert!(minutes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_cost_option_is_a_price_per_the_unit_its_label_names() {
        let service = |option: Value| serde_json::json!({"cost_options": [option]});
        let fixed = pricing(&service(
            serde_json::json!({"option": "Tariffa per ora", "amount": 18.5, "currency": "EUR"}),
        ))
        .expect("fixed");
        assert_eq!(
            fixed.model(),
            &PriceModel::Fixed {
                unit: Unit::Hour,
                amount: Money::from_cents(1_850).expect("money")
            }
        );
        let free = pricing(&service(
            serde_json::json!({"option": "Gratuito", "amount": 0}),
        ))
        .expect("free");
        assert_eq!(free.model(), &PriceModel::Free);
        for (bad, reason) in [
            (
                serde_json::json!({"option": "Quota", "amount": 10}),
                "names no unit",
            ),
            (
                serde_json::json!({"option": "per ora", "amount": 1.005}),
                "euro and cents",
            ),
            (
                serde_json::json!({"option": "per ora", "amount": 3, "currency": "USD"}),
                "EUR",
            ),
            (serde_json::json!({"option": "per ora"}), "no amount"),
            (
                serde_json::json!({"option": "per ora", "amount": -4}),
                "cost option",
            ),
        ] {
            let error = pricing(&service(bad.clone())).expect_err("refused");
            assert!(error.contains(reason), "{bad}: {error}");
        }
        assert!(pricing(&serde_json::json!({})).is_err());
    }
}
