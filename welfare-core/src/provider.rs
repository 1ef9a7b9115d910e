//! Providers: who publishes services, their Italian tax identifiers and their vetting status.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::ProviderId;
use crate::territory::IstatCode;

/// Month letters of the personal tax code, January to December.
const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";
/// Letters that replace the digits 0–9 in a personal tax code affected by omocodia.
const OMOCODIA_LETTERS: &[u8; 10] = b"LMNPQRSTUV";
/// Positions that hold digits (or their omocodia letters), rightmost first: the order in
/// which the Agenzia delle Entrate substitutes them.
const OMOCODIA_POSITIONS: [usize; 7] = [14, 13, 12, 10, 9, 7, 6];
/// Check-character values of characters in odd positions (1st, 3rd, …): A/0 to Z.
const ODD_VALUES: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Why a tax identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    #[error("tax code must be 16 characters (personal) or 11 digits (company), got {0}")]
    Length(usize),
    #[error("character {position} of the tax code is not allowed there")]
    Character { position: usize },
    #[error("tax code has an impossible birth date")]
    BirthDate,
    #[error("tax code check character is wrong")]
    CheckCharacter,
    #[error("VAT number check digit is wrong")]
    CheckDigit,
    #[error("VAT number office code {0:03} does not exist")]
    OfficeCode(u16),
}

/// A personal tax code (codice fiscale) of 16 characters, omocodia included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalTaxCode(String);

impl PersonalTaxCode {
    /// Parses a personal tax code, ignoring case and surrounding spaces.
    pub fn parse(text: &str) -> Result<PersonalTaxCode, TaxIdError> {
        let code = text.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        if bytes.len() != 16 || !code.is_ascii() {
            return Err(TaxIdError::Length(code.chars().count()));
        }
        let mut digits_seen = false;
        // Walking rightmost-first, a substituted letter may not follow a kept digit.
        for &position in &OMOCODIA_POSITIONS {
            let byte = bytes.get(position).copied().unwrap_or_default();
            if byte.is_ascii_digit() {
                digits_seen = true;
            } else if !OMOCODIA_LETTERS.contains(&byte) || digits_seen {
                return Err(TaxIdError::Character {
                    position: position + 1,
                });
            }
        }
        for (position, &byte) in bytes.iter().enumerate() {
            let letter_expected = !OMOCODIA_POSITIONS.contains(&position);
            if letter_expected && !byte.is_ascii_uppercase() {
                return Err(TaxIdError::Character {
                    position: position + 1,
                });
            }
        }
        let month = bytes.get(8).copied().unwrap_or_default();
        if !MONTH_LETTERS.contains(&month) {
            return Err(TaxIdError::Character { position: 9 });
        }
        let day = decoded_number(bytes, 9, 10);
        if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
            return Err(TaxIdError::BirthDate);
        }
        if bytes.get(15).copied() != Some(check_character(bytes)) {
            return Err(TaxIdError::CheckCharacter);
        }
        Ok(PersonalTaxCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cadastral code of the birthplace (a comune, or `Z…` for a foreign country).
    pub fn birthplace_code(&self) -> String {
        let bytes = self.0.as_bytes();
        let mut out = String::with_capacity(4);
        out.push(char::from(bytes.get(11).copied().unwrap_or(b'?')));
        for position in 12..15 {
            out.push(char::from(
                b'0' + decode_digit(bytes.get(position).copied().unwrap_or(b'0')),
            ));
        }
        out
    }
}

/// The digit a position holds, decoding an omocodia letter.
fn decode_digit(byte: u8) -> u8 {
    match OMOCODIA_LETTERS.iter().position(|&l| l == byte) {
        Some(index) => u8::try_from(index).unwrap_or(0),
        None => byte.saturating_sub(b'0'),
    }
}

fn decoded_number(bytes: &[u8], tens: usize, units: usize) -> u8 {
    let digit = |p: usize| decode_digit(bytes.get(p).copied().unwrap_or(b'0'));
    digit(tens) * 10 + digit(units)
}

/// The check character over the first 15 characters (uppercase ASCII letters and digits).
fn check_character(bytes: &[u8]) -> u8 {
    let sum: u32 = bytes
        .iter()
        .take(15)
        .enumerate()
        .map(|(index, &byte)| {
            let ordinal = if byte.is_ascii_digit() {
                byte - b'0'
            } else {
                byte.wrapping_sub(b'A')
            };
            let ordinal = usize::from(ordinal.min(25));
            // Index 0 is the first, odd, position.
            if index % 2 == 0 {
                u32::from(ODD_VALUES.get(ordinal).copied().unwrap_or(0))
            } else {
                u32::try_from(ordinal).unwrap_or(0)
            }
        })
        .sum();
    b'A' + u8::try_from(sum % 26).unwrap_or(0)
}

/// An 11-digit numeric tax code: a VAT number (partita IVA) or the tax code of an
/// organisation, with its Luhn check digit and a real office code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VatNumber(String);

impl VatNumber {
    /// Parses an 11-digit code, ignoring surrounding spaces and an `IT` prefix.
    pub fn parse(text: &str) -> Result<VatNumber, TaxIdError> {
        let trimmed = text.trim();
        let code = trimmed
            .strip_prefix("IT")
            .or_else(|| trimmed.strip_prefix("it"))
            .unwrap_or(trimmed);
        let bytes = code.as_bytes();
        if bytes.len() != 11 {
            return Err(TaxIdError::Length(code.chars().count()));
        }
        if let Some(position) = bytes.iter().position(|b| !b.is_ascii_digit()) {
            return Err(TaxIdError::Character {
                position: position + 1,
            });
        }
        let digits: Vec<u32> = bytes.iter().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits
            .iter()
            .take(10)
            .enumerate()
            .map(|(index, &digit)| {
                if index % 2 == 0 {
                    digit
                } else {
                    let doubled = digit * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                }
            })
            .sum();
        if digits.get(10).copied() != Some((10 - sum % 10) % 10) {
            return Err(TaxIdError::CheckDigit);
        }
        let office = digits
            .get(7..10)
            .map_or(0, |d| d.iter().fold(0, |acc, &x| acc * 10 + x));
        let office = u16::try_from(office).unwrap_or(0);
        if !matches!(office, 1..=100 | 120 | 121 | 888 | 999) {
            return Err(TaxIdError::OfficeCode(office));
        }
        Ok(VatNumber(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A provider's tax identifier: personal (sole traders) or numeric (organisations).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TaxId {
    Personal(PersonalTaxCode),
    Numeric(VatNumber),
}

impl TaxId {
    /// Parses either form, chosen by length.
    pub fn parse(text: &str) -> Result<TaxId, TaxIdError> {
        let trimmed = text.trim();
        if trimmed.len() == 16 {
            PersonalTaxCode::parse(trimmed).map(TaxId::Personal)
        } else {
            VatNumber::parse(trimmed).map(TaxId::Numeric)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaxId::Personal(code) => code.as_str(),
            TaxId::Numeric(code) => code.as_str(),
        }
    }
}

macro_rules! string_conversions {
    ($($ty:ty),*) => {$(
        impl FromStr for $ty {
            type Err = TaxIdError;
            fn from_str(text: &str) -> Result<Self, TaxIdError> {
                <$ty>::parse(text)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = TaxIdError;
            fn try_from(text: String) -> Result<Self, TaxIdError> {
                <$ty>::parse(&text)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.as_str().to_owned()
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

string_conversions!(PersonalTaxCode, VatNumber, TaxId);

/// A RUNTS registration number (Registro Unico Nazionale del Terzo Settore).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuntsNumber(String);

/// A RUNTS number must be 1 to 12 digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RUNTS number {0:?} is not 1 to 12 digits")]
pub struct InvalidRuntsNumber(pub String);

impl RuntsNumber {
    pub fn parse(text: &str) -> Result<RuntsNumber, InvalidRuntsNumber> {
        let text = text.trim();
        if (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(RuntsNumber(text.to_owned()))
        } else {
            Err(InvalidRuntsNumber(text.chars().take(20).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuntsNumber {
    type Error = InvalidRuntsNumber;
    fn try_from(text: String) -> Result<RuntsNumber, InvalidRuntsNumber> {
        RuntsNumber::parse(&text)
    }
}

impl From<RuntsNumber> for String {
    fn from(value: RuntsNumber) -> String {
        value.0
    }
}

/// What kind of body a provider is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderKind {
    /// A third-sector body (Ente del Terzo Settore) registered in the RUNTS.
    Ets { runts_number: RuntsNumber },
    /// A municipality of the territory.
    Comune { istat_code: IstatCode },
    /// An azienda speciale or ASP (public company for personal services).
    AziendaSpeciale,
    /// A social cooperative (L. 381/1991).
    CooperativaSociale,
    /// A private company.
    Company,
}

impl ProviderKind {
    /// The stable code of the kind.
    pub const fn code(&self) -> &'static str {
        match self {
            ProviderKind::Ets { .. } => "ets",
            ProviderKind::Comune { .. } => "comune",
            ProviderKind::AziendaSpeciale => "azienda_speciale",
            ProviderKind::CooperativaSociale => "cooperativa_sociale",
            ProviderKind::Company => "company",
        }
    }

    pub const fn label_it(&self) -> &'static str {
        match self {
            ProviderKind::Ets { .. } => "Ente del Terzo Settore",
            ProviderKind::Comune { .. } => "Comune",
            ProviderKind::AziendaSpeciale => "Azienda speciale / ASP",
            ProviderKind::CooperativaSociale => "Cooperativa sociale",
            ProviderKind::Company => "Impresa",
        }
    }
}

/// The vetting status of a provider: only approved providers reach citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    Pending,
    Approved,
    Suspended,
}

/// What the Ufficio di Piano does to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderAction {
    Approve,
    Suspend,
}

/// A transition that the provider workflow does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a provider that is {from:?} cannot be {action:?}d")]
pub struct InvalidProviderTransition {
    pub from: ProviderStatus,
    pub action: ProviderAction,
}

impl ProviderStatus {
    /// The stable code of the status.
    pub const fn code(self) -> &'static str {
        match self {
            ProviderStatus::Pending => "pending",
            ProviderStatus::Approved => "approved",
            ProviderStatus::Suspended => "suspended",
        }
    }

    /// The status with this stable code.
    pub fn from_code(code: &str) -> Option<ProviderStatus> {
        [
            ProviderStatus::Pending,
            ProviderStatus::Approved,
            ProviderStatus::Suspended,
        ]
        .into_iter()
        .find(|status| status.code() == code)
    }

    /// `pending → approved → suspended`, and a suspended provider approved again once the
    /// Ufficio di Piano is satisfied.
    pub fn apply(
        self,
        action: ProviderAction,
    ) -> Result<ProviderStatus, InvalidProviderTransition> {
        match (self, action) {
            (ProviderStatus::Pending | ProviderStatus::Suspended, ProviderAction::Approve) => {
                Ok(ProviderStatus::Approved)
            }
            (ProviderStatus::Approved, ProviderAction::Suspend) => Ok(ProviderStatus::Suspended),
            (from, action) => Err(InvalidProviderTransition { from, action }),
        }
    }
}

/// A provider as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    pub kind: ProviderKind,
    pub tax_id: TaxId,
    pub status: ProviderStatus,
}

/// What a provider reads when a change of its identity sent it back to the Ufficio di Piano.
pub const IDENTITY_CHANGED_REASON: &str =
    "Dati identificativi modificati: in attesa di una nuova verifica dell'Ufficio di Piano";

impl Provider {
    /// Whether `changed` names another body than `self`: another name, kind (with its RUNTS
    /// number or comune) or tax code — what the Ufficio di Piano vetted. Contacts are not part
    /// of it.
    pub fn identity_differs(&self, changed: &Provider) -> bool {
        self.name != changed.name || self.kind != changed.kind || self.tax_id != changed.tax_id
    }

    /// The status once the provider's details become `changed`'s: an approved provider whose
    /// identity changed is pending again — its listings leave search until the Ufficio di
    /// Piano approves the new identity; a pending one stays pending, a suspended one stays
    /// suspended (its suspension stands), and contacts alone change nothing.
    pub fn status_after_change(&self, changed: &Provider) -> ProviderStatus {
        match self.status {
            ProviderStatus::Approved if self.identity_differs(changed) => ProviderStatus::Pending,
            status => status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_identity_is_vetted_again_new_contacts_are_not() {
        let vat = |code: &str| TaxId::parse(code).expect("tax id");
        let approved = Provider {
            id: ProviderId::parse("p-1").expect("id"),
            name: "Cooperativa Sociale Il Sentiero".to_owned(),
            kind: ProviderKind::CooperativaSociale,
            tax_id: vat("01234560983"),
            status: ProviderStatus::Approved,
        };
        assert_eq!(
            approved.status_after_change(&approved.clone()),
            ProviderStatus::Approved,
            "contacts only"
        );
        let renamed = Provider {
            name: "Il Sentiero Onlus".to_owned(),
            ..approved.clone()
        };
        let retaxed = Provider {
            tax_id: vat("12345670017"),
            ..approved.clone()
        };
        let rekinded = Provider {
            kind: ProviderKind::AziendaSpeciale,
            ..approved.clone()
        };
        for changed in [&renamed, &retaxed, &rekinded] {
            assert!(approved.identity_differs(changed));
            assert_eq!(
                approved.status_after_change(changed),
                ProviderStatus::Pending
            );
        }
        for status in [ProviderStatus::Pending, ProviderStatus::Suspended] {
            let provider = Provider {
                status,
                ..approved.clone()
            };
            assert_eq!(provider.status_after_change(&retaxed), status);
        }
    }

    #[test]
    fn provider_statuses_round_trip_through_their_codes() {
        for status in [
            ProviderStatus::Pending,
            ProviderStatus::Approved,
            ProviderStatus::Suspended,
        ] {
            assert_eq!(ProviderStatus::from_code(status.code()), Some(status));
        }
        assert_eq!(ProviderStatus::from_code("deleted"), None);
    }

    #[test]
    fn accepts_real_personal_codes_and_their_omocodie() {
        for code in [
            "RSSMRA85T10A562S",
            "rssmra85t10a562s",
            "RSSMRA85T10A56NH",
            "RSSMRAURTMLARSNL",
        ] {
            assert!(PersonalTaxCode::parse(code).is_ok(), "{code}");
        }
        let code = PersonalTaxCode::parse("RSSMRA85T10A56NH").expect("omocodia");
        assert_eq!(code.birthplace_code(), "A562");
    }

    #[test]
    fn refuses_broken_personal_codes() {
        assert_eq!(
            PersonalTaxCode::parse("RSSMRA85T10A562T"),
            Err(TaxIdError::CheckCharacter)
        );
        assert_eq!(
            PersonalTaxCode::parse("RSSMRA85T10A562"),
            Err(TaxIdError::Length(15))
        );
        assert_eq!(
            PersonalTaxCode::parse("RSSMRA85Z10A562S"),
            Err(TaxIdError::Character { position: 9 })
        );
        assert_eq!(
            PersonalTaxCode::parse("RSSMRA85T35A562S"),
            Err(TaxIdError::BirthDate)
        );
        // A letter in place of a digit to the left of a kept digit is not omocodia.
        assert!(PersonalTaxCode::parse("RSSMRAL5T10A562S").is_err());
    }

    #[test]
    fn checks_vat_numbers() {
        assert!(VatNumber::parse("01114601006").is_ok());
        assert!(VatNumber::parse("IT01114601006").is_ok());
        assert_eq!(VatNumber::parse("01114601007"), Err(TaxIdError::CheckDigit));
        assert_eq!(VatNumber::parse("0111460100"), Err(TaxIdError::Length(10)));
        assert_eq!(
            VatNumber::parse("0111460100A"),
            Err(TaxIdError::Character { position: 11 })
        );
        assert_eq!(
            VatNumber::parse("00000000000"),
            Err(TaxIdError::OfficeCode(0))
        );
    }

    #[test]
    fn tax_ids_pick_their_form_by_length() {
        assert!(matches!(
            TaxId::parse("RSSMRA85T10A562S"),
            Ok(TaxId::Personal(_))
        ));
        assert!(matches!(TaxId::parse("01114601006"), Ok(TaxId::Numeric(_))));
        assert!(TaxId::parse("").is_err());
        let json = serde_json::to_string(&TaxId::parse("01114601006").expect("ok")).expect("json");
        assert_eq!(json, "\"01114601006\"");
    }

    #[test]
    fn providers_follow_their_workflow() {
        use ProviderAction::*;
        use ProviderStatus::*;
        assert_eq!(Pending.apply(Approve), Ok(Approved));
        assert_eq!(Approved.apply(Suspend), Ok(Suspended));
        assert_eq!(Suspended.apply(Approve), Ok(Approved));
        assert!(Pending.apply(Suspend).is_err());
        assert!(Approved.apply(Approve).is_err());
    }
}
