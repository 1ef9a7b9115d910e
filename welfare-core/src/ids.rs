//! Identifiers of the things the platform tracks. Services choose the values (UUIDs, ULIDs,
//! partner codes); the domain only guarantees they are short, printable and unambiguous.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest identifier accepted.
pub const MAX_ID_LEN: usize = 64;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is longer than {MAX_ID_LEN} characters")]
    TooLong,
    #[error("identifier may only hold letters, digits and - _ . : @")]
    Character,
}

fn check_id(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    let allowed =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@');
    if text.bytes().all(allowed) {
        Ok(())
    } else {
        Err(IdError::Character)
    }
}

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, IdError> {
                check_id(text)?;
                Ok($name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<$name, IdError> {
                $name::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<$name, IdError> {
                check_id(&text)?;
                Ok($name(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type! {
    /// A provider (ETS, comune, cooperative, company) registered in the catalogue.
    ProviderId;
    /// A provider's service listing.
    ListingId;
    /// A booking of a listing.
    BookingId;
    /// A company that funds welfare plans.
    CompanyId;
    /// A company's welfare plan for one year.
    PlanId;
    /// A person: citizen or employee, as the identity provider names them (the token subject).
    PersonId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_printable() {
        assert!(ListingId::parse("lst_01HZX3").is_ok());
        assert!(PersonId::parse("mario.rossi@example.it").is_ok());
        assert_eq!(ListingId::parse(""), Err(IdError::Empty));
        assert_eq!(ListingId::parse(&"a".repeat(65)), Err(IdError::TooLong));
        assert_eq!(ListingId::parse("a b"), Err(IdError::Character));
        assert!(serde_json::from_str::<ProviderId>("\"\"").is_err());
    }
}
