//! `welfare.wallet.v1.WalletService` over the ledger: requests are converted and checked at the
//! edge, authorised by `welfare-core`'s policy, applied by the ledger, and answered with the
//! contract's types and error reasons.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use welfare_core::Money;
use welfare_core::auth::{Action, Principal, Resource};
use welfare_core::category::Category;
use welfare_core::ids::CompanyId;
use welfare_core::time::{Date, Timestamp};
use welfare_core::wallet::{
    CarryOver, FringeBenefitUsage, Regime, check_spend, fringe_benefit_ceiling,
};
use welfare_proto::convert::{self};
use welfare_proto::wallet as pb;
use welfare_proto::wallet::wallet_service_server::WalletService;
use welfare_runtime::ServiceError;
use welfare_runtime::auth::principal;
use welfare_runtime::error::PreconditionViolation;

use welfare_runtime::uuid::new_uuid;

use crate::ledger::{FringeCharge, Hold, Ledger, LedgerError, NewHold, idempotency_key};
use crate::plans::{EXPIRING_SOON_DAYS, FundingOutcome, Plan, WalletOwner, wallet_id};

/// The default and largest page sizes.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
pub const DEFAULT_STATEMENT_PAGE_SIZE: i64 = 50;
pub const MAX_STATEMENT_PAGE_SIZE: i64 = 200;
/// Plans or wallet owners kept in memory before a cache starts over.
pub const MAX_CACHED_RECORDS: usize = 100_000;
/// The furthest ahead a hold may expire: a booking's hold lasts from booking (up to the
/// booking horizon ahead of the start) to the end of its completion window.
pub const MAX_HOLD_SECONDS: i64 = welfare_core::availability::Deadlines::MAX_WALLET_HOLD_SECONDS;
/// The longest statement description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

pub use welfare_runtime::clock::{Clock, system_clock};

mod cache;
mod commands;
mod edge;
mod ports;
mod wire;

use cache::Cache;
pub use ports::{HOLD_METHODS, holds_gate};

use commands::{
    CaptureHold, CreatePlan, ExpireWallets, FundWallets, HoldFunds, RefundCapture, ReleaseHold,
};
use edge::*;
use wire::*;

/// The wallet service.
#[derive(Clone)]
pub struct WalletApi {
    ledger: Ledger,
    clock: Clock,
    /// Plans never change once created: read each once.
    plans: Arc<Cache<Plan>>,
    /// Nor do a wallet's owner and plan.
    owners: Arc<Cache<WalletOwner>>,
    /// Holds placed here, for their fixed parts (wallet, amount, category): settling one then
    /// needs no read. Their state is always checked by the ledger itself.
    holds: Arc<Cache<Hold>>,
}

/// The wallet service's full gRPC name.
pub const SERVICE_NAME: &str = "welfare.wallet.v1.WalletService";

impl std::fmt::Debug for WalletApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletApi")
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl WalletApi {
    pub fn new(ledger: Ledger, clock: Clock) -> WalletApi {
        WalletApi {
            ledger,
            clock,
            plans: Arc::default(),
            owners: Arc::default(),
            holds: Arc::default(),
        }
    }

    /// The service as the runtime serves it: its routes (requests up to `max_message_bytes`)
    /// and its name for health and reflection. No method is open to anonymous callers. Serve
    /// it gated by [`holds_gate`] to split the hold RPCs off to a port of their own.
    pub fn into_services(self, max_message_bytes: usize) -> welfare_runtime::ServiceSet {
        welfare_runtime::ServiceSet::new(
            tonic::service::Routes::new(
                pb::wallet_service_server::WalletServiceServer::new(self)
                    .max_decoding_message_size(max_message_bytes),
            ),
            Vec::new(),
            vec![SERVICE_NAME.to_owned()],
        )
    }

    /// A plan, from the cache or the database.
    async fn plan(&self, id: &str) -> Result<Arc<Plan>, ServiceError> {
        match self.plans.get(id) {
            Some(plan) => Ok(plan),
            None => Ok(self.plans.insert(id, self.ledger.get_plan(id).await?)),
        }
    }

    /// A wallet's owner and plan, from the cache or the database.
    async fn owner(&self, wallet_id: &str) -> Result<Arc<WalletOwner>, ServiceError> {
        match self.owners.get(wallet_id) {
            Some(owner) => Ok(owner),
            None => Ok(self
                .owners
                .insert(wallet_id, self.ledger.wallet_owner(wallet_id).await?)),
        }
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn today(&self) -> Result<Date, ServiceError> {
        self.now()
            .date()
            .ok_or_else(|| ServiceError::Unexpected("clock outside 1900-2200".to_owned()))
    }
}

impl WalletApi {
    async fn plan_for(
        &self,
        principal: &Principal,
        plan_id: &str,
        action: Action,
    ) -> Result<Arc<Plan>, ServiceError> {
        let plan_id = id(plan_id, "plan_id")?;
        let plan = self.plan(&plan_id).await?;
        let company = CompanyId::parse(&plan.company_id)
            .map_err(|e| ServiceError::Unexpected(format!("stored plan {}: {e}", plan.id)))?;
        check_hidden(
            principal,
            action,
            &company,
            Resource::Company { id: &company },
            || ServiceError::NotFound {
                resource: "plan",
                id: plan_id.clone(),
            },
        )?;
        Ok(plan)
    }

    async fn hold_for(
        &self,
        principal: &Principal,
        hold_id: &str,
        action: Action,
    ) -> Result<Arc<Hold>, ServiceError> {
        let hold_id = id(hold_id, "hold_id")?;
        let hold = match self.holds.get(&hold_id) {
            Some(hold) => hold,
            None => Arc::new(self.ledger.get_hold(&hold_id).await?),
        };
        let wallet = self.owner(&hold.wallet_id).await?;
        check_wallet(principal, action, &wallet, ("hold", &hold_id))?;
        Ok(hold)
    }

    async fn wallet_to_proto(
        &self,
        view: &crate::plans::WalletView,
    ) -> Result<pb::Wallet, ServiceError> {
        let plan = self.plan(&view.plan_id).await?;
        let available = view.balance.available();
        let days_left =
            plan.rules.expires_on().days_since_epoch() - self.today()?.days_since_epoch();
        let expiring_soon = if (0..=EXPIRING_SOON_DAYS).contains(&days_left) {
            available
        } else {
            Money::ZERO
        };
        Ok(pb::Wallet {
            id: view.id.clone(),
            employee_id: view.employee_id.clone(),
            company_id: view.company_id.clone(),
            plan_id: view.plan_id.clone(),
            year: plan.rules.year(),
            available: Some(convert::money_to_proto(available)),
            pending: Some(convert::cents_to_proto(view.balance.debits_pending)),
            spent: Some(convert::cents_to_proto(view.spent)),
            credited: Some(convert::cents_to_proto(view.credited)),
            expiring_soon: Some(convert::money_to_proto(expiring_soon)),
            expire_date: Some(convert::date_to_proto(plan.rules.expires_on())),
            allowed_categories: plan
                .rules
                .allowed_categories()
                .iter()
                .map(|&c| convert::category_to_proto(c))
                .collect(),
            regime: convert::regime_to_proto(plan.rules.regime()),
        })
    }
}

/// What a handler answers: its response, or the status of its refusal.
type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl WalletService for WalletApi {
    async fn create_plan(&self, request: Request<pb::CreatePlanRequest>) -> RpcResult<pb::Plan> {
        let principal = principal(&request);
        let request = request.into_inner();
        let company = check_company(&principal, Action::ManagePlans, &request.company_id)?;
        let CreatePlan {
            request_id,
            display_name,
            rules,
        } = CreatePlan::parse(&request)?;
        let now = self.now().unix_seconds();
        let plan = self
            .ledger
            .create_plan(company.as_str(), &request_id, &display_name, &rules, now)
            .await
            .map_err(ServiceError::from)?;
        let plan = plan.into_inner();
        let funding = self
            .ledger
            .plan_funding(&plan)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(plan_to_proto(&plan, funding)))
    }

    async fn get_plan(&self, request: Request<pb::GetPlanRequest>) -> RpcResult<pb::Plan> {
        let principal = principal(&request);
        let plan = self
            .plan_for(&principal, &request.get_ref().id, Action::ManagePlans)
            .await?;
        let funding = self
            .ledger
            .plan_funding(&plan)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(plan_to_proto(&plan, funding)))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> RpcResult<pb::ListPlansResponse> {
        let principal = principal(&request);
        let request = request.into_inner();
        let company = check_company(&principal, Action::ManagePlans, &request.company_id)?;
        let year_filter = if request.year == 0 {
            None
        } else {
            Some(year(request.year, "year")?)
        };
        let year_text = request.year.to_string();
        let (bound, offset, size) = page_for(
            &principal,
            &["plans", &request.company_id, &year_text],
            request.page_size,
            &request.page_token,
            (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        )?;
        let plans = self
            .ledger
            .list_plans(company.as_str(), year_filter, offset, size)
            .await
            .map_err(ServiceError::from)?;
        let mut out = Vec::with_capacity(plans.len());
        for plan in &plans {
            out.push(plan_to_proto(
                plan,
                self.ledger
                    .plan_funding(plan)
                    .await
                    .map_err(ServiceError::from)?,
            ));
        }
        Ok(Response::new(pb::ListPlansResponse {
            next_page_token: next_token(bound, offset, size, plans.len()),
            plans: out,
        }))
    }

    async fn fund_wallets(
        &self,
        request: Request<pb::FundWalletsRequest>,
    ) -> RpcResult<pb::FundWalletsResponse> {
        let principal = principal(&request);
        let FundWallets {
            request_id,
            plan_id,
            fundings,
        } = FundWallets::parse(request.get_ref())?;
        let plan = self
            .plan_for(&principal, &plan_id, Action::FundWallets)
            .await?;
        if plan.rules.is_expired(self.today()?) {
            return Err(ServiceError::FailedPrecondition {
                reason: "PLAN_EXPIRED",
                message: format!("plan {} expired on {}", plan.id, plan.rules.expires_on()),
                violations: Vec::new(),
            }
            .into());
        }
        let now = self.now().unix_seconds();
        let results = self
            .ledger
            .fund_wallets(&plan, &request_id, &fundings, now)
            .await
            .map_err(|error| batch_error(error, &fundings))?;
        let mut total = Money::ZERO;
        let mut out = Vec::with_capacity(results.len());
        for (employee_id, outcome) in results {
            use pb::funding_result::Outcome as O;
            let (wallet_id, outcome, reason) = match outcome {
                FundingOutcome::Funded { wallet_id, amount } => {
                    total = total
                        .checked_add(amount)
                        .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
                    (wallet_id, O::Funded, "")
                }
                FundingOutcome::AlreadyFunded { wallet_id } => (wallet_id, O::AlreadyFunded, ""),
            };
            out.push(pb::FundingResult {
                employee_id,
                wallet_id,
                outcome: outcome.into(),
                error_reason: reason.to_owned(),
            });
        }
        Ok(Response::new(pb::FundWalletsResponse {
            results: out,
            funded_total: Some(convert::money_to_proto(total)),
        }))
    }

    async fn get_wallet(&self, request: Request<pb::GetWalletRequest>) -> RpcResult<pb::Wallet> {
        let principal = principal(&request);
        let request = request.into_inner();
        let wallet = if !request.id.is_empty() {
            wallet_id_field(&request.id, "id")?
        } else {
            let employee = if request.employee_id.is_empty() {
                principal
                    .subject
                    .clone()
                    .ok_or_else(|| ServiceError::invalid("employee_id", "is required"))?
            } else {
                person(&request.employee_id, "employee_id")?
            };
            wallet_id(&id(&request.plan_id, "plan_id")?, employee.as_str())
        };
        let view = self
            .ledger
            .wallet_view(&wallet)
            .await
            .map_err(ServiceError::from)?;
        check_wallet(
            &principal,
            Action::ReadWalletBalance,
            &view.owner(),
            ("wallet", &wallet),
        )?;
        Ok(Response::new(self.wallet_to_proto(&view).await?))
    }

    async fn list_wallets(
        &self,
        request: Request<pb::ListWalletsRequest>,
    ) -> RpcResult<pb::ListWalletsResponse> {
        let principal = principal(&request);
        let request = request.into_inner();
        let plan = self
            .plan_for(&principal, &request.plan_id, Action::ManagePlans)
            .await?;
        let (bound, offset, size) = page_for(
            &principal,
            &["wallets", &plan.id],
            request.page_size,
            &request.page_token,
            (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        )?;
        let ids = self
            .ledger
            .plan_wallet_ids(&plan.id, offset, size)
            .await
            .map_err(ServiceError::from)?;
        let mut wallets = Vec::with_capacity(ids.len());
        for id in &ids {
            let view = self
                .ledger
                .wallet_view(id)
                .await
                .map_err(ServiceError::from)?;
            wallets.push(self.wallet_to_proto(&view).await?);
        }
        Ok(Response::new(pb::ListWalletsResponse {
            next_page_token: next_token(bound, offset, size, ids.len()),
            wallets,
        }))
    }

    async fn list_wallet_transactions(
        &self,
        request: Request<pb::ListWalletTransactionsRequest>,
    ) -> RpcResult<pb::ListWalletTransactionsResponse> {
        let principal = principal(&request);
        let request = request.into_inner();
        let wallet_id = wallet_id_field(&request.wallet_id, "wallet_id")?;
        let wallet = self
            .ledger
            .wallet_view(&wallet_id)
            .await
            .map_err(ServiceError::from)?;
        check_wallet(
            &principal,
            Action::ReadWalletTransactions,
            &wallet.owner(),
            ("wallet", &wallet_id),
        )?;
        let (bound, offset, size) = page_for(
            &principal,
            &["transactions", &wallet_id],
            request.page_size,
            &request.page_token,
            (DEFAULT_STATEMENT_PAGE_SIZE, MAX_STATEMENT_PAGE_SIZE),
        )?;
        let lines = self
            .ledger
            .statement(&wallet.id, offset, size)
            .await
            .map_err(ServiceError::from)?;
        // In cents, saturating: no stored state can make a statement fail.
        let mut balance = wallet.balance.available().cents();
        let mut transactions = Vec::with_capacity(lines.len());
        // Newest first: the balance after the newest line is today's; walk back from it over
        // the lines of the pages before this one.
        if offset > 0 {
            let newer = self
                .ledger
                .statement(&wallet.id, 0, offset)
                .await
                .map_err(ServiceError::from)?;
            for line in &newer {
                balance = balance.saturating_sub(line.amount.cents());
            }
        }
        for line in lines {
            use pb::wallet_transaction::Kind as K;
            let incoming = line.amount.is_positive();
            let (kind, description) = match line.kind.as_str() {
                "funding" => (K::Funding, "Accredito del credito welfare aziendale"),
                "hold" => (K::Hold, "Credito riservato per una prenotazione"),
                "capture" => (K::Capture, "Pagamento del servizio"),
                "release" => (K::Release, "Credito riservato restituito"),
                "expire" => (K::HoldExpired, "Prenotazione scaduta: credito restituito"),
                "refund" => (K::Refund, "Rimborso"),
                "carry_over" if incoming => {
                    (K::CarryOverIn, "Credito riportato dall'anno precedente")
                }
                "carry_over" => (K::CarryOverOut, "Credito riportato all'anno successivo"),
                "return" => (
                    K::ReturnedToCompany,
                    "Credito non utilizzato restituito all'azienda",
                ),
                _ => (K::Unspecified, "Movimento"),
            };
            let category = line
                .category
                .as_deref()
                .and_then(|c| c.parse::<Category>().ok());
            transactions.push(pb::WalletTransaction {
                id: line.id,
                kind: kind.into(),
                amount: Some(convert::money_to_proto(line.amount)),
                balance_after: Some(convert::cents_to_proto(balance)),
                description: description.to_owned(),
                booking_id: line.booking_id.unwrap_or_default(),
                category: category.map_or(0, convert::category_to_proto),
                create_time: Some(convert::timestamp_to_proto(Timestamp::from_unix_seconds(
                    line.created_at,
                ))),
            });
            balance = balance.saturating_sub(line.amount.cents());
        }
        Ok(Response::new(pb::ListWalletTransactionsResponse {
            next_page_token: next_token(bound, offset, size, transactions.len()),
            transactions,
        }))
    }

    async fn hold_funds(&self, request: Request<pb::HoldFundsRequest>) -> RpcResult<pb::Hold> {
        let principal = principal(&request);
        let now = self.now();
        let HoldFunds {
            request_id,
            wallet_id,
            amount,
            category,
            letter,
            booking_id,
            expires,
            provider_id,
        } = HoldFunds::parse(request.get_ref(), now)?;
        let view = self.owner(&wallet_id).await?;
        check_wallet(&principal, Action::PlaceHold, &view, ("wallet", &wallet_id))?;
        let plan = self.plan(&view.plan_id).await?;
        // Whether the employee has dependent children can change with a funding: read it
        // fresh, and only where it matters (fringe-benefit plans).
        let has_dependent_children = plan.rules.regime() == Regime::Art51C3FringeBenefit
            && self
                .ledger
                .wallet_owner(&view.id)
                .await
                .map_err(ServiceError::from)?
                .has_dependent_children;
        // The ceiling itself is enforced by the ledger under the usage row's lock; here the
        // plan's coverage and expiry are checked, with no usage so only the ceiling's size counts.
        let usage = FringeBenefitUsage {
            used_this_year: Money::ZERO,
            has_dependent_children,
        };
        if let Err(refusal) = check_spend(
            &plan.rules,
            category,
            letter,
            amount,
            self.today()?,
            Some(usage),
        ) {
            return Err(ServiceError::FailedPrecondition {
                reason: refusal.code(),
                message: refusal.to_string(),
                violations: vec![PreconditionViolation {
                    kind: "WALLET".to_owned(),
                    subject: refusal.code().to_owned(),
                    description: refusal.message_it(),
                }],
            }
            .into());
        }
        let fringe = (plan.rules.regime() == Regime::Art51C3FringeBenefit).then(|| FringeCharge {
            year: plan.rules.year(),
            ceiling: fringe_benefit_ceiling(plan.rules.year(), has_dependent_children),
        });
        // Authorised first, then keyed by the wallet: a retry finds its hold, and no request id
        // of one wallet's reaches another's.
        let hold = NewHold {
            id: new_uuid(),
            key: idempotency_key(&["hold", &view.id, &request_id]),
            wallet_id: view.id.clone(),
            amount,
            expires_at: expires.unix_seconds(),
            category: category.code().to_owned(),
            tax_letter: letter.code().to_owned(),
            booking_id,
            fringe,
            provider_id,
        };
        let hold = self
            .ledger
            .hold(&hold, now.unix_seconds())
            .await
            .map_err(ServiceError::from)?
            .into_inner();
        let answer = hold_to_proto(&hold)?;
        self.holds.insert(&hold.id.clone(), hold);
        Ok(Response::new(answer))
    }

    async fn capture_hold(&self, request: Request<pb::CaptureHoldRequest>) -> RpcResult<pb::Hold> {
        let principal = principal(&request);
        let command = CaptureHold::parse(request.get_ref())?;
        let hold = self
            .hold_for(&principal, &command.hold_id, Action::SettleHold)
            .await?;
        let now = self.now().unix_seconds();
        let key = idempotency_key(&["resolve", &hold.id, &command.request_id]);
        let hold = self
            .ledger
            .capture_hold(&key, &hold, command.amount, now)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(hold_to_proto(&hold.into_inner())?))
    }

    async fn release_hold(&self, request: Request<pb::ReleaseHoldRequest>) -> RpcResult<pb::Hold> {
        let principal = principal(&request);
        let command = ReleaseHold::parse(request.get_ref())?;
        let hold = self
            .hold_for(&principal, &command.hold_id, Action::SettleHold)
            .await?;
        let now = self.now().unix_seconds();
        let key = idempotency_key(&["resolve", &hold.id, &command.request_id]);
        let hold = self
            .ledger
            .release_hold(&key, &hold, now)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(hold_to_proto(&hold.into_inner())?))
    }

    async fn refund_capture(
        &self,
        request: Request<pb::RefundCaptureRequest>,
    ) -> RpcResult<pb::Refund> {
        let principal = principal(&request);
        let RefundCapture {
            request_id,
            hold_id,
            amount,
            reason,
        } = RefundCapture::parse(request.get_ref())?;
        let hold = self
            .hold_for(&principal, &hold_id, Action::RefundCapture)
            .await?;
        let now = self.now();
        let key = idempotency_key(&["refund", &hold.id, &request_id]);
        self.ledger
            .refund(&key, &hold.id, amount, now.unix_seconds())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::Refund {
            id: request_id,
            hold_id: hold.id.clone(),
            wallet_id: hold.wallet_id.clone(),
            amount: Some(convert::money_to_proto(amount)),
            reason,
            create_time: Some(convert::timestamp_to_proto(now)),
        }))
    }

    async fn get_hold(&self, request: Request<pb::GetHoldRequest>) -> RpcResult<pb::Hold> {
        let principal = principal(&request);
        let hold_id = id(&request.get_ref().id, "id")?;
        // Read fresh: a hold's state is never taken from the cache.
        let hold = self
            .ledger
            .get_hold(&hold_id)
            .await
            .map_err(ServiceError::from)?;
        let owner = self.owner(&hold.wallet_id).await?;
        check_wallet(&principal, Action::ReadHolds, &owner, ("hold", &hold_id))?;
        Ok(Response::new(hold_to_proto(&hold)?))
    }

    async fn list_holds(
        &self,
        request: Request<pb::ListHoldsRequest>,
    ) -> RpcResult<pb::ListHoldsResponse> {
        let principal = principal(&request);
        let request = request.into_inner();
        check(&principal, Action::ReadHolds, Resource::Platform)?;
        let booking_id = id(&request.booking_id, "booking_id")?;
        let (bound, offset, size) = page_for(
            &principal,
            &["holds", &booking_id],
            request.page_size,
            &request.page_token,
            (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        )?;
        let holds = self
            .ledger
            .holds_of_booking(&booking_id, offset, size)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListHoldsResponse {
            next_page_token: next_token(bound, offset, size, holds.len()),
            holds: holds
                .iter()
                .map(hold_to_proto)
                .collect::<Result<_, ServiceError>>()?,
        }))
    }

    async fn expire_wallets(
        &self,
        request: Request<pb::ExpireWalletsRequest>,
    ) -> RpcResult<pb::ExpireWalletsResponse> {
        let principal = principal(&request);
        // The server's clock decides; a caller's date may only confirm it.
        let today = self.today()?;
        let command = ExpireWallets::parse(request.get_ref(), today)?;
        let plan = self
            .plan_for(&principal, &command.plan_id, Action::ExpireWallets)
            .await?;
        let next = if let Some(next_id) = command.next_plan_id {
            let next = self.plan(&next_id).await?;
            if next.company_id != plan.company_id {
                // Another company's plan is answered as one that does not exist.
                return Err(ServiceError::from(LedgerError::PlanNotFound(next_id)).into());
            }
            if next.rules.year() != plan.rules.year() + 1 {
                return Err(ServiceError::invalid(
                    "next_plan_id",
                    "must be the same company's plan for the next year",
                )
                .into());
            }
            Some(next)
        } else {
            None
        };
        if matches!(plan.rules.carry_over(), CarryOver::NextYear { .. }) && next.is_none() {
            return Err(ServiceError::invalid(
                "next_plan_id",
                "is required: the plan carries balances over",
            )
            .into());
        }
        let now = self.now().unix_seconds();
        let settled = self
            .ledger
            .settle_plan(&plan, next.as_deref(), today, now)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ExpireWalletsResponse {
            wallets_settled: settled.wallets_settled,
            carried_over: Some(convert::cents_to_proto(settled.carried_over)),
            returned_to_company: Some(convert::cents_to_proto(settled.returned)),
            holds_pending: settled.holds_pending,
            ..pb::ExpireWalletsResponse::default()
        }))
    }

    async fn get_employee_tax_report(
        &self,
        request: Request<pb::GetEmployeeTaxReportRequest>,
    ) -> RpcResult<pb::EmployeeTaxReport> {
        let principal = principal(&request);
        let request = request.into_inner();
        let employee = person(&request.employee_id, "employee_id")?;
        let company = company(&request.company_id, "company_id")?;
        let year = year(request.year, "year")?;
        check(
            &principal,
            Action::ReadEmployeeTaxReport,
            wallet_resource(&employee, &company),
        )?;
        let report = self
            .ledger
            .tax_report(employee.as_str(), company.as_str(), year)
            .await
            .map_err(ServiceError::from)?;
        let services = report
            .services
            .iter()
            .map(|(letter, amount)| {
                Ok(pb::employee_tax_report::LetterTotal {
                    tax_letter: convert::tax_letter_to_proto(stored_letter(letter)?),
                    amount: Some(convert::money_to_proto(*amount)),
                })
            })
            .collect::<Result<_, ServiceError>>()?;
        Ok(Response::new(pb::EmployeeTaxReport {
            employee_id: employee.to_string(),
            company_id: company.to_string(),
            year,
            services,
            fringe_benefits: Some(convert::money_to_proto(report.fringe_benefits)),
            fringe_benefit_ceiling: Some(convert::money_to_proto(report.fringe_benefit_ceiling)),
        }))
    }

    async fn get_provider_payable(
        &self,
        request: Request<pb::GetProviderPayableRequest>,
    ) -> RpcResult<pb::ProviderPayable> {
        let principal = principal(&request);
        let provider = welfare_core::ids::ProviderId::parse(request.get_ref().provider_id.trim())
            .map_err(|e| ServiceError::invalid("provider_id", e))?;
        check(
            &principal,
            Action::ReadProviderPayable,
            Resource::Provider {
                id: &provider,
                approved: true,
            },
        )?;
        let (captured, refunded) = self
            .ledger
            .provider_payable(provider.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ProviderPayable {
            provider_id: provider.as_str().to_owned(),
            captured: Some(convert::cents_to_proto(captured)),
            refunded: Some(convert::cents_to_proto(refunded)),
            payable: Some(convert::cents_to_proto(captured.saturating_sub(refunded))),
        }))
    }

    async fn get_company_report(
        &self,
        request: Request<pb::GetCompanyReportRequest>,
    ) -> RpcResult<pb::CompanyReport> {
        let principal = principal(&request);
        let request = request.into_inner();
        let company = company(&request.company_id, "company_id")?;
        let year = year(request.year, "year")?;
        check(
            &principal,
            Action::ReadCompanyReport,
            Resource::Company { id: &company },
        )?;
        let plans = self
            .ledger
            .company_report(company.as_str(), year)
            .await
            .map_err(ServiceError::from)?;
        let money = |cents: i64| Some(convert::cents_to_proto(cents));
        Ok(Response::new(pb::CompanyReport {
            company_id: company.to_string(),
            year,
            plans: plans
                .into_iter()
                .map(|p| pb::company_report::PlanTotals {
                    plan_id: p.plan_id,
                    display_name: p.display_name,
                    employees: p.employees,
                    funded: money(p.funded),
                    spent: money(p.spent),
                    pending: money(p.pending),
                    available: money(p.available),
                    returned: money(p.returned),
                    carried_over: money(p.carried_over),
                })
                .collect(),
        }))
    }
}
