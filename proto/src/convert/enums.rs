//! Enumerations: categories, units, regimes, statuses, provider kinds.

use super::*;

/// Generates the two directions of an enum mapping: `$from` reads the wire value (UNSPECIFIED
/// is "is required", an unknown number is named), `$to` writes it.
macro_rules! enum_mapping {
    ($from:ident, $to:ident, $wire:ty, $core:ty, $what:literal, { $($w:ident => $c:path),* $(,)? }) => {
        pub fn $from(value: i32, field: &str) -> Converted<$core> {
            match <$wire>::try_from(value) {
                $(Ok(<$wire>::$w) => Ok($c),)*
                Ok(_) => Err(violation(field, "is required")),
                Err(_) => Err(violation(field, format!(concat!("unknown ", $what, " {}"), value))),
            }
        }

        pub fn $to(value: $core) -> i32 {
            let wire = match value {
                $($c => <$wire>::$w,)*
            };
            wire.into()
        }
    };
}

enum_mapping!(category, category_to_proto, common::Category, Category, "category", {
    SocioAssistenziale => Category::SocioAssistenziale,
    Sanitario => Category::Sanitario,
    CuraFigli => Category::CuraFigli,
    Trasporto => Category::Trasporto,
    Psicologico => Category::Psicologico,
    Commissioni => Category::Commissioni,
});

enum_mapping!(tax_letter, tax_letter_to_proto, common::TaxLetter, TaxLetter, "tax letter", {
    F => TaxLetter::F,
    FBis => TaxLetter::FBis,
    FTer => TaxLetter::FTer,
});

enum_mapping!(unit, unit_value_to_proto, common::Unit, Unit, "unit", {
    Hour => Unit::Hour,
    Session => Unit::Session,
    Meal => Unit::Meal,
    Day => Unit::Day,
    Month => Unit::Month,
    Trip => Unit::Trip,
    Week => Unit::Week,
    Night => Unit::Night,
    Visit => Unit::Visit,
    Delivery => Unit::Delivery,
    OneOff => Unit::OneOff,
});

/// A quote's or price's unit; UNSPECIFIED for free services.
pub fn unit_to_proto(value: Option<Unit>) -> i32 {
    value.map_or(common::Unit::Unspecified.into(), unit_value_to_proto)
}

enum_mapping!(delivery, delivery_to_proto, pb::Delivery, Delivery, "delivery mode", {
    AtHome => Delivery::AtHome,
    AtVenue => Delivery::AtVenue,
    Remote => Delivery::Remote,
});

enum_mapping!(weekday, weekday_to_proto, pb::Weekday, Weekday, "weekday", {
    Monday => Weekday::Monday,
    Tuesday => Weekday::Tuesday,
    Wednesday => Weekday::Wednesday,
    Thursday => Weekday::Thursday,
    Friday => Weekday::Friday,
    Saturday => Weekday::Saturday,
    Sunday => Weekday::Sunday,
});

enum_mapping!(accessibility, accessibility_to_proto, pb::Accessibility, Accessibility, "accessibility feature", {
    WheelchairAccess => Accessibility::WheelchairAccess,
    AccessibleToilet => Accessibility::AccessibleToilet,
    HearingLoop => Accessibility::HearingLoop,
    SignLanguage => Accessibility::SignLanguage,
    EasyRead => Accessibility::EasyRead,
    AccessibleTransport => Accessibility::AccessibleTransport,
});

enum_mapping!(regime, regime_to_proto, pb_wallet::Regime, Regime, "regime", {
    Art51C2Services => Regime::Art51C2Services,
    Art51C3FringeBenefit => Regime::Art51C3FringeBenefit,
});

enum_mapping!(booking_status, booking_status_to_proto, pb_booking::booking::State, BookingStatus, "booking state", {
    Held => BookingStatus::Held,
    Confirmed => BookingStatus::Confirmed,
    Completed => BookingStatus::Completed,
    Expired => BookingStatus::Expired,
    Cancelled => BookingStatus::Cancelled,
    Rejected => BookingStatus::Rejected,
    NoShow => BookingStatus::NoShow,
});

enum_mapping!(provider_status, provider_status_to_proto, pb::provider::State, ProviderStatus, "provider state", {
    Pending => ProviderStatus::Pending,
    Approved => ProviderStatus::Approved,
    Suspended => ProviderStatus::Suspended,
});

/// A filter field: UNSPECIFIED (0) is no filter.
pub(super) fn filter<T>(
    value: i32,
    field: &str,
    read: fn(i32, &str) -> Converted<T>,
) -> Converted<Option<T>> {
    if value == 0 {
        Ok(None)
    } else {
        read(value, field).map(Some)
    }
}

/// A booking state filter; `None` for UNSPECIFIED (no filter).
pub fn booking_status_filter(value: i32, field: &str) -> Converted<Option<BookingStatus>> {
    filter(value, field, booking_status)
}

/// A provider state filter; `None` for UNSPECIFIED.
pub fn provider_status_filter(value: i32, field: &str) -> Converted<Option<ProviderStatus>> {
    filter(value, field, provider_status)
}

/// A listing's state and the curator's reason, for the wire.
pub fn listing_status_to_proto(value: &ListingStatus) -> (i32, String) {
    use pb::listing::State as S;
    let (state, reason) = match value {
        ListingStatus::Draft => (S::Draft, ""),
        ListingStatus::Submitted => (S::Submitted, ""),
        ListingStatus::Published => (S::Published, ""),
        ListingStatus::Rejected { reason } => (S::Rejected, reason.as_str()),
        ListingStatus::Suspended { reason } => (S::Suspended, reason.as_str()),
        ListingStatus::Withdrawn => (S::Withdrawn, ""),
    };
    (state.into(), reason.to_owned())
}

/// A listing state filter, as its stable code; `None` for UNSPECIFIED.
pub fn listing_status_filter(value: i32, field: &str) -> Converted<Option<&'static str>> {
    use pb::listing::State as S;
    Ok(Some(match S::try_from(value) {
        Ok(S::Unspecified) => return Ok(None),
        Ok(S::Draft) => "draft",
        Ok(S::Submitted) => "submitted",
        Ok(S::Published) => "published",
        Ok(S::Rejected) => "rejected",
        Ok(S::Suspended) => "suspended",
        Ok(S::Withdrawn) => "withdrawn",
        Err(_) => return Err(violation(field, format!("unknown listing state {value}"))),
    }))
}

/// A provider's kind with the facts it requires.
pub fn provider_kind(
    kind: i32,
    runts_number: &str,
    comune: &str,
    field: &str,
) -> Converted<ProviderKind> {
    use pb::ProviderKind as K;
    Ok(match K::try_from(kind) {
        Ok(K::Ets) => ProviderKind::Ets {
            runts_number: RuntsNumber::parse(runts_number)
                .map_err(|e| violation(&child(field, "runts_number"), e))?,
        },
        Ok(K::Comune) => ProviderKind::Comune {
            istat_code: istat_code(comune, &child(field, "comune_istat_code"))?,
        },
        Ok(K::AziendaSpeciale) => ProviderKind::AziendaSpeciale,
        Ok(K::CooperativaSociale) => ProviderKind::CooperativaSociale,
        Ok(K::Company) => ProviderKind::Company,
        Ok(K::Unspecified) => return Err(violation(&child(field, "kind"), "is required")),
        Err(_) => {
            return Err(violation(
                &child(field, "kind"),
                format!("unknown provider kind {kind}"),
            ));
        }
    })
}

/// The wire kind, RUNTS number and comune of a provider kind.
pub fn provider_kind_to_proto(kind: &ProviderKind) -> (i32, String, String) {
    use pb::ProviderKind as K;
    let (wire, runts, comune) = match kind {
        ProviderKind::Ets { runts_number } => {
            (K::Ets, runts_number.as_str().to_owned(), String::new())
        }
        ProviderKind::Comune { istat_code } => (K::Comune, String::new(), istat_code.to_string()),
        ProviderKind::AziendaSpeciale => (K::AziendaSpeciale, String::new(), String::new()),
        ProviderKind::CooperativaSociale => (K::CooperativaSociale, String::new(), String::new()),
        ProviderKind::Company => (K::Company, String::new(), String::new()),
    };
    (wire.into(), runts, comune)
}
