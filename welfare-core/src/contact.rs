//! How a provider is reached — an e-mail address, a phone number, a website — each parsed once
//! into a type that can only hold a valid value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest e-mail address (RFC 5321's path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// The longest phone number as written, spaces included.
pub const PHONE_MAX_CHARS: usize = 30;
/// The fewest and most digits of a phone number (E.164 allows 15).
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;
/// The longest website address.
pub const URL_MAX_CHARS: usize = 2_000;

/// Why a contact detail was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("is not an e-mail address")]
    Email,
    #[error("must be 6 to 15 digits, with spaces and a leading + allowed")]
    Phone,
    #[error("must be an https:// address")]
    Website,
    #[error("must be at most {0} characters")]
    TooLong(usize),
}

fn bounded(text: &str, max: usize) -> Result<&str, ContactError> {
    let text = text.trim();
    if text.chars().count() > max {
        Err(ContactError::TooLong(max))
    } else {
        Ok(text)
    }
}

macro_rules! contact_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ContactError;
            fn try_from(text: String) -> Result<$name, ContactError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

contact_type!(
    /// An e-mail address: one `@`, a local part, a domain with a dot inside, no spaces.
    Email
);
contact_type!(
    /// A phone number: 6 to 15 digits, spaces between them, an optional leading `+`.
    Phone
);
contact_type!(
    /// A website: an `https://` address whose host has a dot.
    Website
);

impl Email {
    pub fn parse(text: &str) -> Result<Email, ContactError> {
        let text = bounded(text, EMAIL_MAX_CHARS)?;
        let valid = text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain.contains('.')
                && !domain.contains('@')
        }) && !text.chars().any(char::is_whitespace);
        if valid {
            Ok(Email(text.to_owned()))
        } else {
            Err(ContactError::Email)
        }
    }
}

impl Phone {
    pub fn parse(text: &str) -> Result<Phone, ContactError> {
        let text = bounded(text, PHONE_MAX_CHARS)?;
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let allowed = text
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
        if allowed && PHONE_DIGITS.contains(&digits) {
            Ok(Phone(text.to_owned()))
        } else {
            Err(ContactError::Phone)
        }
    }
}

impl Website {
    pub fn parse(text: &str) -> Result<Website, ContactError> {
        let text = bounded(text, URL_MAX_CHARS)?;
        let host = text
            .strip_prefix("https://")
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
        match host {
            Some(host) if host.contains('.') && !text.chars().any(char::is_whitespace) => {
                Ok(Website(text.to_owned()))
            }
            _ => Err(ContactError::Website),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_parsed_once() {
        assert_eq!(
            Email::parse(" info@coop-arcobaleno.it ").map(|e| e.to_string()),
            Ok("info@coop-arcobaleno.it".to_owned())
        );
        for bad in ["", "info", "@x.it", "a@b", "a b@c.it", "a@.it", "a@b.it."] {
            assert_eq!(Email::parse(bad), Err(ContactError::Email), "{bad}");
        }
        assert!(Phone::parse("+39 0371 123456").is_ok());
        for bad in ["12", "0371-123456", "39+0371123456", "1234567890123456"] {
            assert_eq!(Phone::parse(bad), Err(ContactError::Phone), "{bad}");
        }
        assert!(Website::parse("https://www.comune.lodi.it/servizi").is_ok());
        for bad in [
            "http://www.comune.lodi.it",
            "https://localhost",
            "https://a b.it",
        ] {
            assert_eq!(Website::parse(bad), Err(ContactError::Website), "{bad}");
        }
        let long = format!("https://{}.it", "a".repeat(URL_MAX_CHARS));
        assert_eq!(
            Website::parse(&long),
            Err(ContactError::TooLong(URL_MAX_CHARS))
        );
    }

    #[test]
    fn a_stored_contact_is_parsed_again_when_read() {
        let email: Result<Email, _> = serde_json::from_str("\"not an address\"");
        assert!(email.is_err());
        let phone: Phone = serde_json::from_str("\"+39 0371 1\"").expect("valid");
        assert_eq!(phone.as_str(), "+39 0371 1");
    }
}
