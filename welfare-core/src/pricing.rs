//! Prices: free, fixed per unit, or by ISEE band (the lower the ISEE, the lower the fee), an
//! optional discount for residents of the territory, and itemised quotes.

use serde::{Deserialize, Serialize};

use crate::eligibility::Profile;
use crate::money::{BasisPoints, Money, MoneyError};
use crate::territory::Territory;

/// The most ISEE bands a tariff may have.
pub const MAX_ISEE_BANDS: usize = 20;
/// The most units one quote may cover.
pub const MAX_QUANTITY: u32 = 1_000;

/// What a price is charged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Hour,
    Session,
    Meal,
    Day,
    Month,
    Trip,
    Week,
    Night,
    /// A visit at home (a doctor's, a podiatrist's).
    Visit,
    /// One delivery (of shopping, medicines, meals in bulk).
    Delivery,
    /// A fee paid once (an enrolment, an assessment, a device's set-up).
    OneOff,
}

impl Unit {
    pub const ALL: [Unit; 11] = [
        Unit::Hour,
        Unit::Session,
        Unit::Meal,
        Unit::Day,
        Unit::Month,
        Unit::Trip,
        Unit::Week,
        Unit::Night,
        Unit::Visit,
        Unit::Delivery,
        Unit::OneOff,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Unit::Hour => "hour",
            Unit::Session => "session",
            Unit::Meal => "meal",
            Unit::Day => "day",
            Unit::Month => "month",
            Unit::Trip => "trip",
            Unit::Week => "week",
            Unit::Night => "night",
            Unit::Visit => "visit",
            Unit::Delivery => "delivery",
            Unit::OneOff => "one_off",
        }
    }

    /// The Italian word, singular or plural by quantity: "1 ora", "3 notti", "2 quote una
    /// tantum".
    pub const fn label_it(self, quantity: u32) -> &'static str {
        let (one, many) = match self {
            Unit::Hour => ("ora", "ore"),
            Unit::Session => ("seduta", "sedute"),
            Unit::Meal => ("pasto", "pasti"),
            Unit::Day => ("giorno", "giorni"),
            Unit::Month => ("mese", "mesi"),
            Unit::Trip => ("viaggio", "viaggi"),
            Unit::Week => ("settimana", "settimane"),
            Unit::Night => ("notte", "notti"),
            Unit::Visit => ("visita", "visite"),
            Unit::Delivery => ("consegna", "consegne"),
            Unit::OneOff => ("quota una tantum", "quote una tantum"),
        };
        if quantity == 1 { one } else { many }
    }

    /// How a tariff names what it is charged for: "per ora", "per notte", "una tantum".
    pub const fn per_it(self) -> &'static str {
        match self {
            Unit::Hour => "per ora",
            Unit::Session => "per seduta",
            Unit::Meal => "per pasto",
            Unit::Day => "per giorno",
            Unit::Month => "per mese",
            Unit::Trip => "per viaggio",
            Unit::Week => "per settimana",
            Unit::Night => "per notte",
            Unit::Visit => "per visita",
            Unit::Delivery => "per consegna",
            Unit::OneOff => "una tantum",
        }
    }
}

/// One ISEE band: the fee for households whose ISEE is at most `isee_up_to` (the last band
/// has no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IseeBand {
    pub isee_up_to: Option<Money>,
    pub amount: Money,
}

/// A municipal tariff by ISEE: thresholds strictly increasing, fees never decreasing, the last
/// band open-ended. The last band is the full ("list") price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<IseeBand>", into = "Vec<IseeBand>")]
pub struct IseeBands(Vec<IseeBand>);

impl IseeBands {
    pub fn new(bands: Vec<IseeBand>) -> Result<IseeBands, PricingError> {
        if bands.is_empty() || bands.len() > MAX_ISEE_BANDS {
            return Err(PricingError::BandCount);
        }
        let last = bands.len() - 1;
        let mut previous: Option<&IseeBand> = None;
        for (index, band) in bands.iter().enumerate() {
            if band.amount.is_negative() {
                return Err(PricingError::NegativeAmount);
            }
            match (band.isee_up_to, index == last) {
                (None, true) => {}
                (Some(_), true) | (None, false) => return Err(PricingError::OpenBand { index }),
                (Some(up_to), false) if up_to.is_negative() => {
                    return Err(PricingError::BandOrder { index });
                }
                (Some(_), false) => {}
            }
            if let Some(previous) = previous {
                let thresholds_rise = match (previous.isee_up_to, band.isee_up_to) {
                    (Some(low), Some(high)) => low < high,
                    _ => true,
                };
                if !thresholds_rise {
                    return Err(PricingError::BandOrder { index });
                }
                if band.amount < previous.amount {
                    return Err(PricingError::BandFees { index });
                }
            }
            previous = Some(band);
        }
        Ok(IseeBands(bands))
    }

    pub fn bands(&self) -> &[IseeBand] {
        &self.0
    }

    /// The band that applies to an ISEE; the top band when the ISEE is unknown.
    pub fn band_for(&self, isee: Option<Money>) -> &IseeBand {
        let top = self.0.last();
        let found = isee.and_then(|isee| {
            self.0
                .iter()
                .find(|band| band.isee_up_to.is_none_or(|up_to| isee <= up_to))
        });
        // `new` guarantees at least one band.
        found.or(top).unwrap_or(&IseeBand {
            isee_up_to: None,
            amount: Money::ZERO,
        })
    }

    /// The full price: the top band's fee.
    pub fn list_amount(&self) -> Money {
        self.0.last().map_or(Money::ZERO, |band| band.amount)
    }
}

impl TryFrom<Vec<IseeBand>> for IseeBands {
    type Error = PricingError;
    fn try_from(bands: Vec<IseeBand>) -> Result<IseeBands, PricingError> {
        IseeBands::new(bands)
    }
}

impl From<IseeBands> for Vec<IseeBand> {
    fn from(bands: IseeBands) -> Vec<IseeBand> {
        bands.0
    }
}

/// How a listing is priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum PriceModel {
    Free,
    Fixed { unit: Unit, amount: Money },
    IseeBands { unit: Unit, bands: IseeBands },
}

/// A listing's price model and its optional discount for residents of the territory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPricing", into = "RawPricing")]
pub struct Pricing {
    model: PriceModel,
    resident_discount: Option<BasisPoints>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPricing {
    model: PriceModel,
    #[serde(default)]
    resident_discount: Option<BasisPoints>,
}

/// An inconsistent price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("price must be positive (use the free model for free services)")]
    NonPositiveFixed,
    #[error("amounts must not be negative")]
    NegativeAmount,
    #[error("a tariff needs 1 to {MAX_ISEE_BANDS} ISEE bands")]
    BandCount,
    #[error("band {index}: only the last band is open-ended, and it must be")]
    OpenBand { index: usize },
    #[error("band {index}: ISEE thresholds must rise strictly")]
    BandOrder { index: usize },
    #[error("band {index}: a higher ISEE may not pay less than a lower one")]
    BandFees { index: usize },
    #[error("a free service cannot have a resident discount")]
    DiscountOnFree,
    #[error("resident discount must be above 0%")]
    ZeroDiscount,
    #[error("quantity must be between 1 and {MAX_QUANTITY}")]
    Quantity,
    #[error("amount out of range: {0}")]
    Money(#[from] MoneyError),
}

impl Pricing {
    pub fn new(
        model: PriceModel,
        resident_discount: Option<BasisPoints>,
    ) -> Result<Pricing, PricingError> {
        if let PriceModel::Fixed { amount, .. } = &model
            && !amount.is_positive()
        {
            return Err(PricingError::NonPositiveFixed);
        }
        match resident_discount {
            Some(_) if model == PriceModel::Free => return Err(PricingError::DiscountOnFree),
            Some(share) if share == BasisPoints::ZERO => return Err(PricingError::ZeroDiscount),
            _ => {}
        }
        Ok(Pricing {
            model,
            resident_discount,
        })
    }

    /// A free service.
    pub fn free() -> Pricing {
        Pricing {
            model: PriceModel::Free,
            resident_discount: None,
        }
    }

    pub fn model(&self) -> &PriceModel {
        &self.model
    }

    pub fn resident_discount(&self) -> Option<BasisPoints> {
        self.resident_discount
    }

    pub fn is_free(&self) -> bool {
        self.model == PriceModel::Free
    }

    /// The unit the price is charged per (`None` when free).
    pub fn unit(&self) -> Option<Unit> {
        match &self.model {
            PriceModel::Free => None,
            PriceModel::Fixed { unit, .. } | PriceModel::IseeBands { unit, .. } => Some(*unit),
        }
    }

    /// The full price of one unit, before any reduction.
    pub fn list_unit_amount(&self) -> Money {
        match &self.model {
            PriceModel::Free => Money::ZERO,
            PriceModel::Fixed { amount, .. } => *amount,
            PriceModel::IseeBands { bands, .. } => bands.list_amount(),
        }
    }

    /// Quotes `quantity` units for a profile. `wallet_available` is what the person's welfare
    /// wallet may put towards this listing (zero without a wallet, or when the plan does not
    /// cover the category); the wallet never pays more than the total.
    pub fn quote(
        &self,
        profile: &Profile,
        quantity: u32,
        territory: &Territory,
        wallet_available: Money,
    ) -> Result<Quote, PricingError> {
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(PricingError::Quantity);
        }
        if wallet_available.is_negative() {
            return Err(PricingError::NegativeAmount);
        }
        let mut lines = Vec::with_capacity(3);
        let mut notes = Vec::new();
        let list_unit = self.list_unit_amount();
        let list_total = list_unit.checked_mul(quantity)?;
        lines.push(QuoteLine {
            kind: QuoteLineKind::ListPrice {
                unit: self.unit(),
                quantity,
                unit_amount: list_unit,
            },
            amount: list_total,
        });
        let mut running = list_total;
        if let PriceModel::IseeBands { bands, .. } = &self.model {
            if profile.isee.is_none() {
                notes.push(QuoteNote::IseeNotDeclared);
            }
            let band = bands.band_for(profile.isee);
            let band_total = band.amount.checked_mul(quantity)?;
            if band_total != list_total {
                let amount = band_total.checked_sub(list_total)?;
                lines.push(QuoteLine {
                    kind: QuoteLineKind::IseeBand {
                        isee_up_to: band.isee_up_to,
                    },
                    amount,
                });
                running = band_total;
            }
        }
        if let Some(share) = self.resident_discount {
            match profile.is_resident_of(territory) {
                Some(true) => {
                    let discount = running.share(share);
                    if discount.is_positive() {
                        lines.push(QuoteLine {
                            kind: QuoteLineKind::ResidentDiscount {
                                share,
                                territory: territory.name().to_owned(),
                            },
                            amount: discount.checked_neg(),
                        });
                        running = running.checked_sub(discount)?;
                    }
                }
                Some(false) => {}
                None => notes.push(QuoteNote::ResidenceNotDeclared),
            }
        }
        let wallet_coverage = wallet_available.min(running);
        Ok(Quote {
            quantity,
            unit: self.unit(),
            lines,
            total: running,
            wallet_coverage,
            due_from_family: running.checked_sub(wallet_coverage)?,
            notes,
        })
    }
}

impl TryFrom<RawPricing> for Pricing {
    type Error = PricingError;
    fn try_from(raw: RawPricing) -> Result<Pricing, PricingError> {
        Pricing::new(raw.model, raw.resident_discount)
    }
}

impl From<Pricing> for RawPricing {
    fn from(pricing: Pricing) -> RawPricing {
        RawPricing {
            model: pricing.model,
            resident_discount: pricing.resident_discount,
        }
    }
}

/// An itemised quote. `lines` add up to `total`; `wallet_coverage + due_from_family = total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub quantity: u32,
    pub unit: Option<Unit>,
    pub lines: Vec<QuoteLine>,
    pub total: Money,
    pub wallet_coverage: Money,
    pub due_from_family: Money,
    pub notes: Vec<QuoteNote>,
}

impl Quote {
    /// The quote's lines as a person reads them, in Italian, ending with the wallet share and
    /// what the family pays.
    pub fn summary_it(&self) -> Vec<(String, Money)> {
        let mut out: Vec<(String, Money)> = self
            .lines
            .iter()
            .map(|line| (line.label_it(), line.amount))
            .collect();
        out.push(("Totale".to_owned(), self.total));
        if self.wallet_coverage.is_positive() {
            out.push((
                "Coperto dal credito welfare".to_owned(),
                self.wallet_coverage.checked_neg(),
            ));
        }
        out.push(("A carico della famiglia".to_owned(), self.due_from_family));
        out
    }
}

/// One line of a quote: what it is, and its signed amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    pub kind: QuoteLineKind,
    pub amount: Money,
}

/// The kind of a quote line, with what its Italian label needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuoteLineKind {
    ListPrice {
        unit: Option<Unit>,
        quantity: u32,
        unit_amount: Money,
    },
    IseeBand {
        isee_up_to: Option<Money>,
    },
    ResidentDiscount {
        share: BasisPoints,
        territory: String,
    },
}

impl QuoteLine {
    /// The stable code of the line.
    pub fn code(&self) -> &'static str {
        match self.kind {
            QuoteLineKind::ListPrice { .. } => "list_price",
            QuoteLineKind::IseeBand { .. } => "isee_band",
            QuoteLineKind::ResidentDiscount { .. } => "resident_discount",
        }
    }

    /// The label a person reads, in Italian.
    pub fn label_it(&self) -> String {
        match &self.kind {
            QuoteLineKind::ListPrice { unit: None, .. } => "Servizio gratuito".to_owned(),
            QuoteLineKind::ListPrice {
                unit: Some(unit),
                quantity,
                unit_amount,
            } => {
                format!(
                    "Tariffa piena: {quantity} {} × {unit_amount}",
                    unit.label_it(*quantity)
                )
            }
            QuoteLineKind::IseeBand {
                isee_up_to: Some(up_to),
            } => {
                format!("Tariffa agevolata per ISEE fino a {up_to}")
            }
            QuoteLineKind::IseeBand { isee_up_to: None } => "Tariffa per fascia ISEE".to_owned(),
            QuoteLineKind::ResidentDiscount { share, territory } => {
                format!("Sconto residenti {territory} ({share})")
            }
        }
    }
}

/// Something the person should know about a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteNote {
    IseeNotDeclared,
    ResidenceNotDeclared,
}

impl QuoteNote {
    pub const fn code(self) -> &'static str {
        match self {
            QuoteNote::IseeNotDeclared => "isee_not_declared",
            QuoteNote::ResidenceNotDeclared => "residence_not_declared",
        }
    }

    pub const fn message_it(self) -> &'static str {
        match self {
            QuoteNote::IseeNotDeclared => {
                "ISEE non indicato: si applica la tariffa piena. Indicalo per una tariffa agevolata."
            }
            QuoteNote::ResidenceNotDeclared => {
                "Comune di residenza non indicato: lo sconto per i residenti non è applicato."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_has_its_code_words_and_tariff_phrase() {
        let mut codes = std::collections::HashSet::new();
        for unit in Unit::ALL {
            assert!(codes.insert(unit.code()));
            let json = format!("\"{}\"", unit.code());
            assert_eq!(serde_json::from_str::<Unit>(&json).ok(), Some(unit));
            assert_ne!(unit.label_it(1), unit.label_it(2));
            assert!(unit.per_it().ends_with(unit.label_it(1)) || unit == Unit::OneOff);
        }
        assert_eq!(Unit::Night.label_it(3), "notti");
        assert_eq!(Unit::OneOff.per_it(), "una tantum");
    }
    use crate::territory::IstatCode;

    fn euros(value: i64) -> Money {
        Money::from_euros(value).expect("in range")
    }

    fn band(up_to: Option<i64>, fee: i64) -> IseeBand {
        IseeBand {
            isee_up_to: up_to.map(euros),
            amount: euros(fee),
        }
    }

    fn nido_tariff() -> Pricing {
        let bands = IseeBands::new(vec![
            band(Some(8_000), 150),
            band(Some(20_000), 300),
            band(None, 450),
        ])
        .expect("valid bands");
        Pricing::new(
            PriceModel::IseeBands {
                unit: Unit::Month,
                bands,
            },
            Some(BasisPoints::new(1_000).expect("10%")),
        )
        .expect("valid pricing")
    }

    fn resident() -> Profile {
        Profile::new().resident_in(IstatCode::parse("098031").expect("Lodi"))
    }

    #[test]
    fn isee_bands_and_resident_discount_are_itemised() {
        let territory = Territory::lodi();
        let quote = nido_tariff()
            .quote(
                &resident().with_isee(euros(12_000)),
                2,
                &territory,
                euros(100),
            )
            .expect("quote");
        let codes: Vec<_> = quote.lines.iter().map(QuoteLine::code).collect();
        assert_eq!(codes, ["list_price", "isee_band", "resident_discount"]);
        let amounts: Vec<_> = quote.lines.iter().map(|l| l.amount).collect();
        assert_eq!(amounts, [euros(900), euros(-300), euros(-60)]);
        assert_eq!(quote.total, euros(540));
        assert_eq!(quote.wallet_coverage, euros(100));
        assert_eq!(quote.due_from_family, euros(440));
        assert_eq!(
            quote.lines.first().map(QuoteLine::label_it).as_deref(),
            Some("Tariffa piena: 2 mesi × € 450,00")
        );
        assert_eq!(
            quote.lines.get(2).map(QuoteLine::label_it).as_deref(),
            Some("Sconto residenti Ambito di Lodi (10%)")
        );
    }

    #[test]
    fn unknown_isee_pays_the_full_tariff_and_is_told_so() {
        let territory = Territory::lodi();
        let quote = nido_tariff()
            .quote(&Profile::new(), 1, &territory, Money::ZERO)
            .expect("quote");
        assert_eq!(quote.total, euros(450));
        assert_eq!(
            quote.notes,
            [QuoteNote::IseeNotDeclared, QuoteNote::ResidenceNotDeclared]
        );
    }

    #[test]
    fn the_wallet_never_pays_more_than_the_total() {
        let territory = Territory::lodi();
        let pricing = Pricing::new(
            PriceModel::Fixed {
                unit: Unit::Hour,
                amount: euros(20),
            },
            None,
        )
        .expect("valid");
        let quote = pricing
            .quote(&Profile::new(), 3, &territory, euros(1_000))
            .expect("quote");
        assert_eq!(quote.wallet_coverage, euros(60));
        assert_eq!(quote.due_from_family, Money::ZERO);
        let free = Pricing::free()
            .quote(&Profile::new(), 1, &territory, euros(10))
            .expect("quote");
        assert_eq!(
            (free.total, free.wallet_coverage),
            (Money::ZERO, Money::ZERO)
        );
        assert_eq!(
            free.lines.first().map(QuoteLine::label_it).as_deref(),
            Some("Servizio gratuito")
        );
    }

    #[test]
    fn refuses_tariffs_that_make_no_sense() {
        assert_eq!(IseeBands::new(vec![]), Err(PricingError::BandCount));
        assert_eq!(
            IseeBands::new(vec![
                band(Some(10_000), 100),
                band(Some(5_000), 200),
                band(None, 300)
            ]),
            Err(PricingError::BandOrder { index: 1 })
        );
        assert_eq!(
            IseeBands::new(vec![band(Some(10_000), 300), band(None, 200)]),
            Err(PricingError::BandFees { index: 1 })
        );
        assert_eq!(
            IseeBands::new(vec![band(Some(10_000), 100)]),
            Err(PricingError::OpenBand { index: 0 })
        );
        assert_eq!(
            IseeBands::new(vec![band(None, 100), band(None, 200)]),
            Err(PricingError::OpenBand { index: 0 })
        );
        assert_eq!(
            Pricing::new(
                PriceModel::Fixed {
                    unit: Unit::Hour,
                    amount: Money::ZERO
                },
                None
            ),
            Err(PricingError::NonPositiveFixed)
        );
        assert_eq!(
            Pricing::new(PriceModel::Free, Some(BasisPoints::HUNDRED_PERCENT)),
            Err(PricingError::DiscountOnFree)
        );
        let territory = Territory::lodi();
        assert_eq!(
            nido_tariff().quote(&Profile::new(), 0, &territory, Money::ZERO),
            Err(PricingError::Quantity)
        );
    }

    #[test]
    fn pricing_round_trips_through_json() {
        let json = serde_json::to_string(&nido_tariff()).expect("json");
        let back: Pricing = serde_json::from_str(&json).expect("back");
        assert_eq!(back, nido_tariff());
        let bad = r#"{"model":{"model":"fixed","unit":"hour","amount":-5}}"#;
        assert!(serde_json::from_str::<Pricing>(bad).is_err());
    }
}
