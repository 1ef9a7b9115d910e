//! The two services a booking depends on, behind ports: the catalogue (the listing a booking is
//! for) and the wallet (the credit it holds). [`grpc`] reaches them over gRPC (distributed
//! mode); [`in_process`] calls their handlers in the same process (the all-in-one binary, and
//! the saga's simulation, which puts its faults around them).

use std::future::Future;
use std::pin::Pin;

use welfare_core::Money;
use welfare_core::category::{Category, TaxLetter};
use welfare_core::listing::ListingContent;
use welfare_core::time::{Date, Timestamp};

pub mod grpc;
pub mod in_process;

/// Who a read is made for: the caller's principal (what an in-process service checks) and the
/// bearer token it came with (what a service over gRPC checks), so the other service answers
/// exactly as it would the caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub principal: &'a welfare_core::auth::Principal,
    pub bearer: Option<&'a str>,
}

/// A boxed future, so the ports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A listing as the catalogue shows it to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingView {
    pub id: String,
    pub provider_id: String,
    pub content: ListingContent,
    /// Published and verified within the territory's window.
    pub bookable: bool,
}

/// Why a call to another service did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The service answered no, for good: the same call will be refused again.
    #[error("{message}")]
    Refused {
        code: tonic::Code,
        reason: String,
        message: String,
    },
    /// It is down, overloaded or failed in a way that says nothing of what it did.
    #[error("{0}")]
    Unavailable(String),
    /// It did not answer in time: the call may or may not have taken effect.
    #[error("no answer in time")]
    Timeout,
}

impl UpstreamError {
    /// Sorts a gRPC status: refusals the caller must not retry apart from outcomes that are
    /// unknown (the call may have been applied).
    pub fn from_status(status: &tonic::Status) -> UpstreamError {
        use tonic::Code;
        match status.code() {
            Code::DeadlineExceeded | Code::Cancelled => UpstreamError::Timeout,
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unauthenticated => {
                let reason = tonic_types::StatusExt::get_details_error_info(status)
                    .map(|info| info.reason)
                    .unwrap_or_default();
                UpstreamError::Refused {
                    code: status.code(),
                    reason,
                    message: status.message().to_owned(),
                }
            }
            _ => UpstreamError::Unavailable(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// Reads listings from the catalogue.
pub trait Catalogue: Send + Sync + std::fmt::Debug {
    /// The listing as the caller may see it: `None` when the catalogue shows them no such
    /// listing.
    fn listing<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListingView>, UpstreamError>>;
}

/// A wallet as its owner reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletView {
    pub id: String,
    pub employee_id: String,
    pub available: Money,
    pub allowed_categories: Vec<Category>,
    pub expire_date: Option<Date>,
}

/// A hold to place for a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub wallet_id: String,
    pub amount: Money,
    pub category: Category,
    pub tax_letter: TaxLetter,
    pub description: String,
    pub booking_id: String,
    /// The listing's provider: whom the captured credit is owed to.
    pub provider_id: String,
    pub expires_at: Timestamp,
    /// Derived from the booking: a retry can never hold twice.
    pub request_id: String,
}

/// Where a hold stands in the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    Pending,
    Captured,
    Released,
    Expired,
}

/// A hold as the wallet answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldView {
    pub id: String,
    pub booking_id: String,
    pub amount: Money,
    pub captured: Money,
    pub state: HoldState,
}

/// The wallet's side of a booking. Every call that moves money carries a request id derived
/// from the booking, so the wallet applies it once however often it is sent.
pub trait Wallet: Send + Sync + std::fmt::Debug {
    /// The wallet as the booker may read it: `None` when it is not theirs to read.
    fn wallet<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WalletView>, UpstreamError>>;
    fn hold<'a>(
        &'a self,
        request: &'a HoldRequest,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>>;
    /// Captures `amount` of the hold and releases the rest.
    fn capture<'a>(
        &'a self,
        hold_id: &'a str,
        amount: Money,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>>;
    fn release<'a>(
        &'a self,
        hold_id: &'a str,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>>;
    /// Every hold placed for a booking, in any wallet.
    fn holds_of<'a>(
        &'a self,
        booking_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HoldView>, UpstreamError>>;
}
