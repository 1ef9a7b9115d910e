//! The ports in process: the catalogue's and the wallet's own handlers called without the
//! network, with the caller's principal where the authentication layer would have put it. The
//! all-in-one process books through these; the saga's simulation puts its faults around them.
//! The answers and refusals are the services' own, exactly as over gRPC.

use std::fmt;

use tonic::{Request, Response, Status};
use welfare_core::Money;
use welfare_core::auth::{Principal, Role};
use welfare_core::ids::PersonId;
use welfare_proto::catalog as catalog_pb;
use welfare_proto::convert;
use welfare_proto::wallet::wallet_service_server::WalletService;
use welfare_proto::wallet::{self as wallet_pb};

use super::grpc::{hold_funds_request, hold_view, listing_view, wallet_view};
use super::{
    BoxFuture, Caller, Catalogue, HoldRequest, HoldView, ListingView, UpstreamError, Wallet,
    WalletView,
};

/// A request as the authentication layer leaves it: with `principal` in its extensions.
pub fn as_principal<T>(message: T, principal: Principal) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal);
    request
}

/// The booking service's own principal, as its token would name it.
pub fn booking_service() -> Principal {
    let subject = PersonId::parse(crate::startup::SERVICE_SUBJECT)
        .expect("the service's subject is a valid id");
    Principal::new(subject, vec![Role::BookingService])
}

/// A refusal or an outage, as the gRPC adapter would see it; a refusal to show something is
/// "no such thing".
fn missing_or<T>(status: &Status) -> Result<Option<T>, UpstreamError> {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::PermissionDenied => Ok(None),
        _ => Err(UpstreamError::from_status(status)),
    }
}

/// The catalogue's `GetListing` handler, called in process.
pub struct InProcessCatalogue<F> {
    get_listing: F,
}

impl<F> InProcessCatalogue<F> {
    pub fn new(get_listing: F) -> InProcessCatalogue<F> {
        InProcessCatalogue { get_listing }
    }
}

impl<F> fmt::Debug for InProcessCatalogue<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessCatalogue")
    }
}

impl<F, Fut> Catalogue for InProcessCatalogue<F>
where
    F: Fn(Request<catalog_pb::GetListingRequest>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Response<catalog_pb::Listing>, Status>> + Send,
{
    fn listing<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListingView>, UpstreamError>> {
        Box::pin(async move {
            let request = as_principal(
                catalog_pb::GetListingRequest { id: id.to_owned() },
                caller.principal.clone(),
            );
            match (self.get_listing)(request).await {
                Ok(listing) => listing_view(listing.get_ref()).map(Some),
                Err(status) => missing_or(&status),
            }
        })
    }
}

/// The wallet service's handlers, called in process: reads as the booker, money moved as the
/// booking service.
pub struct InProcessWallet<W> {
    api: W,
}

impl<W> InProcessWallet<W> {
    pub fn new(api: W) -> InProcessWallet<W> {
        InProcessWallet { api }
    }
}

impl<W> fmt::Debug for InProcessWallet<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessWallet")
    }
}

fn hold_answer(
    answer: Result<Response<wallet_pb::Hold>, Status>,
) -> Result<HoldView, UpstreamError> {
    match answer {
        Ok(hold) => hold_view(hold.get_ref()),
        Err(status) => Err(UpstreamError::from_status(&status)),
    }
}

impl<W: WalletService> Wallet for InProcessWallet<W> {
    fn wallet<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WalletView>, UpstreamError>> {
        Box::pin(async move {
            let request = wallet_pb::GetWalletRequest {
                id: id.to_owned(),
                ..Default::default()
            };
            match self
                .api
                .get_wallet(as_principal(request, caller.principal.clone()))
                .await
            {
                Ok(wallet) => wallet_view(wallet.get_ref()).map(Some),
                Err(status) => missing_or(&status),
            }
        })
    }

    fn hold<'a>(&'a self, hold: &'a HoldRequest) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let request = as_principal(hold_funds_request(hold), booking_service());
            hold_answer(self.api.hold_funds(request).await)
        })
    }

    fn capture<'a>(
        &'a self,
        hold_id: &'a str,
        amount: Money,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let request = wallet_pb::CaptureHoldRequest {
                hold_id: hold_id.to_owned(),
                amount: Some(convert::money_to_proto(amount)),
                request_id: request_id.to_owned(),
            };
            let answer = self
                .api
                .capture_hold(as_principal(request, booking_service()))
                .await;
            hold_answer(answer)
        })
    }

    fn release<'a>(
        &'a self,
        hold_id: &'a str,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let request = wallet_pb::ReleaseHoldRequest {
                hold_id: hold_id.to_owned(),
                request_id: request_id.to_owned(),
            };
            let answer = self
                .api
                .release_hold(as_principal(request, booking_service()))
                .await;
            hold_answer(answer)
        })
    }

    fn holds_of<'a>(
        &'a self,
        booking_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HoldView>, UpstreamError>> {
        Box::pin(async move {
            let mut holds = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = wallet_pb::ListHoldsRequest {
                    booking_id: booking_id.to_owned(),
                    page_size: 100,
                    page_token: page_token.clone(),
                };
                let page = self
                    .api
                    .list_holds(as_principal(request, booking_service()))
                    .await
                    .map_err(|status| UpstreamError::from_status(&status))?
                    .into_inner();
                for hold in &page.holds {
                    holds.push(hold_view(hold)?);
                }
                if page.next_page_token.is_empty() {
                    return Ok(holds);
                }
                page_token = page.next_page_token;
            }
        })
    }
}
