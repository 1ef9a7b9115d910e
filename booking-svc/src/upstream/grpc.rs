//! The ports over gRPC: the catalogue read as the caller, the wallet's money moved as the
//! booking service's own identity, each call bounded by a deadline and carrying the trace.

use std::time::Duration;

use tonic::Request;
use tonic::codegen::InterceptedService;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use welfare_core::Money;
use welfare_proto::catalog::catalog_service_client::CatalogServiceClient;
use welfare_proto::catalog::{self as catalog_pb, GetListingRequest};
use welfare_proto::convert;
use welfare_proto::wallet::wallet_service_client::WalletServiceClient;
use welfare_proto::wallet::{self as wallet_pb};
use welfare_runtime::telemetry::TraceContextInterceptor;

use super::{
    BoxFuture, Caller, Catalogue, HoldRequest, HoldState, HoldView, ListingView, UpstreamError,
    Wallet, WalletView,
};

type Traced = InterceptedService<Channel, TraceContextInterceptor>;

/// A channel to `url` that connects on first use (so services that call each other can start in
/// any order) and gives up connecting after `timeout`.
pub fn lazy_channel(url: &str, timeout: Duration) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// A request with a deadline and, when given, a bearer token.
fn request<T>(
    message: T,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<Request<T>, UpstreamError> {
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    if let Some(token) = bearer {
        let value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
            UpstreamError::Unavailable("a bearer token that is not ASCII".to_owned())
        })?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

/// Runs a call, bounded by `timeout` on this side too (a server that accepted the connection
/// but never answers).
async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, UpstreamError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(UpstreamError::from_status(&status)),
        Err(_) => Err(UpstreamError::Timeout),
    }
}

/// The catalogue over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcCatalogue {
    client: CatalogServiceClient<Traced>,
    timeout: Duration,
}

impl GrpcCatalogue {
    pub fn new(channel: Channel, timeout: Duration) -> GrpcCatalogue {
        GrpcCatalogue {
            client: CatalogServiceClient::with_interceptor(channel, TraceContextInterceptor),
            timeout,
        }
    }
}

/// A listing as the catalogue answered it, converted with the contract's own conversions.
pub fn listing_view(listing: &catalog_pb::Listing) -> Result<ListingView, UpstreamError> {
    let content = convert::listing_content(listing, "listing").map_err(|violations| {
        UpstreamError::Unavailable(format!(
            "the catalogue answered listing {} that does not convert: {}",
            listing.id,
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let published = listing.state == i32::from(catalog_pb::listing::State::Published);
    Ok(ListingView {
        id: listing.id.clone(),
        provider_id: listing.provider_id.clone(),
        content,
        bookable: published && !listing.stale,
    })
}

impl Catalogue for GrpcCatalogue {
    fn listing<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListingView>, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.client.clone();
            let message = GetListingRequest { id: id.to_owned() };
            let call = request(message, caller.bearer, self.timeout)?;
            match bounded(self.timeout, client.get_listing(call)).await {
                Ok(listing) => listing_view(&listing).map(Some),
                Err(UpstreamError::Refused {
                    code: tonic::Code::NotFound | tonic::Code::PermissionDenied,
                    ..
                }) => Ok(None),
                Err(error) => Err(error),
            }
        })
    }
}

/// The wallet over gRPC: reads as the booker, moves money as the booking service — on the
/// wallet's holds port when it has one (`wallet_svc::config::HoldsConfig`).
#[derive(Debug, Clone)]
pub struct GrpcWallet {
    client: WalletServiceClient<Traced>,
    /// For the hold RPCs.
    holds: WalletServiceClient<Traced>,
    /// The booking service's own token (role `booking_service`).
    token: String,
    timeout: Duration,
}

impl GrpcWallet {
    /// A wallet read on `channel` whose hold RPCs go to `holds`.
    pub fn new(channel: Channel, holds: Channel, token: String, timeout: Duration) -> GrpcWallet {
        GrpcWallet {
            client: WalletServiceClient::with_interceptor(channel, TraceContextInterceptor),
            holds: WalletServiceClient::with_interceptor(holds, TraceContextInterceptor),
            token,
            timeout,
        }
    }
}

fn corrupt(what: &str) -> UpstreamError {
    UpstreamError::Unavailable(format!(
        "the wallet answered a {what} that does not convert"
    ))
}

/// A hold as the wallet answered it.
pub fn hold_view(hold: &wallet_pb::Hold) -> Result<HoldView, UpstreamError> {
    use wallet_pb::hold::State as S;
    let state = match S::try_from(hold.state) {
        Ok(S::Pending) => HoldState::Pending,
        Ok(S::Captured) => HoldState::Captured,
        Ok(S::Released) => HoldState::Released,
        Ok(S::Expired) => HoldState::Expired,
        _ => return Err(corrupt("hold state")),
    };
    let money = |value: Option<&welfare_proto::common::Money>| {
        convert::non_negative_money(value, "amount").map_err(|_| corrupt("hold amount"))
    };
    Ok(HoldView {
        id: hold.id.clone(),
        booking_id: hold.booking_id.clone(),
        amount: money(hold.amount.as_ref())?,
        captured: money(hold.captured.as_ref())?,
        state,
    })
}

/// The wallet's request for a booking's hold.
pub fn hold_funds_request(hold: &HoldRequest) -> wallet_pb::HoldFundsRequest {
    wallet_pb::HoldFundsRequest {
        wallet_id: hold.wallet_id.clone(),
        amount: Some(convert::money_to_proto(hold.amount)),
        category: convert::category_to_proto(hold.category),
        tax_letter: convert::tax_letter_to_proto(hold.tax_letter),
        description: hold.description.clone(),
        booking_id: hold.booking_id.clone(),
        expire_time: Some(convert::timestamp_to_proto(hold.expires_at)),
        request_id: hold.request_id.clone(),
        provider_id: hold.provider_id.clone(),
    }
}

/// A wallet as the wallet service answered it.
pub fn wallet_view(wallet: &wallet_pb::Wallet) -> Result<WalletView, UpstreamError> {
    let available = convert::non_negative_money(wallet.available.as_ref(), "available")
        .map_err(|_| corrupt("balance"))?;
    let allowed_categories = wallet
        .allowed_categories
        .iter()
        .map(|&c| convert::category(c, "allowed_categories").map_err(|_| corrupt("category")))
        .collect::<Result<_, _>>()?;
    let expire_date = match &wallet.expire_date {
        None => None,
        Some(date) => Some(convert::date(Some(date), "expire_date").map_err(|_| corrupt("date"))?),
    };
    Ok(WalletView {
        id: wallet.id.clone(),
        employee_id: wallet.employee_id.clone(),
        available,
        allowed_categories,
        expire_date,
    })
}

impl Wallet for GrpcWallet {
    fn wallet<'a>(
        &'a self,
        caller: Caller<'a>,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WalletView>, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.client.clone();
            let message = wallet_pb::GetWalletRequest {
                id: id.to_owned(),
                ..Default::default()
            };
            let call = request(message, caller.bearer, self.timeout)?;
            match bounded(self.timeout, client.get_wallet(call)).await {
                Ok(wallet) => wallet_view(&wallet).map(Some),
                Err(UpstreamError::Refused {
                    code: tonic::Code::NotFound | tonic::Code::PermissionDenied,
                    ..
                }) => Ok(None),
                Err(error) => Err(error),
            }
        })
    }

    fn hold<'a>(&'a self, hold: &'a HoldRequest) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.holds.clone();
            let message = hold_funds_request(hold);
            let call = request(message, Some(&self.token), self.timeout)?;
            hold_view(&bounded(self.timeout, client.hold_funds(call)).await?)
        })
    }

    fn capture<'a>(
        &'a self,
        hold_id: &'a str,
        amount: Money,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.holds.clone();
            let message = wallet_pb::CaptureHoldRequest {
                hold_id: hold_id.to_owned(),
                amount: Some(convert::money_to_proto(amount)),
                request_id: request_id.to_owned(),
            };
            let call = request(message, Some(&self.token), self.timeout)?;
            hold_view(&bounded(self.timeout, client.capture_hold(call)).await?)
        })
    }

    fn release<'a>(
        &'a self,
        hold_id: &'a str,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<HoldView, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.holds.clone();
            let message = wallet_pb::ReleaseHoldRequest {
                hold_id: hold_id.to_owned(),
                request_id: request_id.to_owned(),
            };
            let call = request(message, Some(&self.token), self.timeout)?;
            hold_view(&bounded(self.timeout, client.release_hold(call)).await?)
        })
    }

    fn holds_of<'a>(
        &'a self,
        booking_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HoldView>, UpstreamError>> {
        Box::pin(async move {
            let mut client = self.holds.clone();
            let mut holds = Vec::new();
            let mut page_token = String::new();
            loop {
                let message = wallet_pb::ListHoldsRequest {
                    booking_id: booking_id.to_owned(),
                    page_size: 100,
                    page_token: page_token.clone(),
                };
                let call = request(message, Some(&self.token), self.timeout)?;
                let page = bounded(self.timeout, client.list_holds(call)).await?;
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
