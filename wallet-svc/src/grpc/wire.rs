//! The ledger's records and errors on the wire: plans, holds, and the contract's error
//! reasons.

use welfare_core::category::Category;
use welfare_core::time::Timestamp;
use welfare_core::wallet::CarryOver;
use welfare_proto::convert;
use welfare_proto::wallet as pb;
use welfare_runtime::ServiceError;

use crate::ledger::{Hold, HoldState, LedgerError};
use crate::plans::Plan;

/// The ledger's errors on the wire.
impl From<LedgerError> for ServiceError {
    fn from(error: LedgerError) -> ServiceError {
        let reason = error.reason();
        match error {
            LedgerError::Invalid { field, problem } => ServiceError::invalid(field, problem),
            LedgerError::WalletNotFound(id) => ServiceError::NotFound {
                resource: "wallet",
                id,
            },
            LedgerError::HoldNotFound(id) => ServiceError::NotFound {
                resource: "hold",
                id,
            },
            LedgerError::PlanNotFound(id) => ServiceError::NotFound {
                resource: "plan",
                id,
            },
            LedgerError::IdReused(_) => ServiceError::AlreadyExists {
                reason,
                message: "the request id was already used for a request with other fields"
                    .to_owned(),
            },
            other @ (LedgerError::InsufficientFunds { .. }
            | LedgerError::PlanNotExpired { .. }
            | LedgerError::WalletLimit { .. }
            | LedgerError::HoldNotPending { .. }
            | LedgerError::HoldExpired(_)
            | LedgerError::CaptureExceedsHold { .. }
            | LedgerError::RefundExceedsCapture { .. }
            | LedgerError::FringeCeiling { .. }) => ServiceError::FailedPrecondition {
                reason,
                message: other.to_string(),
                violations: Vec::new(),
            },
            other @ (LedgerError::Database(_) | LedgerError::Connect(_)) => {
                ServiceError::Unexpected(other.to_string())
            }
        }
    }
}

pub(super) fn plan_to_proto(plan: &Plan, (funded_employees, funded_total): (i64, i64)) -> pb::Plan {
    let rules = &plan.rules;
    let (carry_over, carry_over_max) = match rules.carry_over() {
        CarryOver::None => (false, None),
        CarryOver::NextYear { max } => (true, max.map(convert::money_to_proto)),
    };
    pb::Plan {
        id: plan.id.clone(),
        company_id: plan.company_id.clone(),
        display_name: plan.display_name.clone(),
        year: rules.year(),
        allowance_per_employee: Some(convert::money_to_proto(rules.allowance_per_employee())),
        allowed_categories: rules
            .allowed_categories()
            .iter()
            .map(|&c| convert::category_to_proto(c))
            .collect(),
        regime: convert::regime_to_proto(rules.regime()),
        expire_date: Some(convert::date_to_proto(rules.expires_on())),
        carry_over,
        carry_over_max,
        funded_employees,
        funded_total: Some(convert::cents_to_proto(funded_total)),
        create_time: Some(convert::timestamp_to_proto(Timestamp::from_unix_seconds(
            plan.created_at,
        ))),
        etag: format!("{}-{}", plan.created_at, funded_total),
    }
}

/// A tax letter as the ledger stores it; anything else is a defect, not a default.
pub(super) fn stored_letter(code: &str) -> Result<welfare_core::category::TaxLetter, ServiceError> {
    welfare_core::category::TaxLetter::from_code(code)
        .ok_or_else(|| ServiceError::Unexpected(format!("stored tax letter {code:?}")))
}

pub(super) fn hold_to_proto(hold: &Hold) -> Result<pb::Hold, ServiceError> {
    use pb::hold::State as S;
    let state = match hold.state {
        HoldState::Pending => S::Pending,
        HoldState::Captured => S::Captured,
        HoldState::Released => S::Released,
        HoldState::Expired => S::Expired,
    };
    let category = hold
        .category
        .parse::<Category>()
        .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
    let letter = stored_letter(&hold.tax_letter)?;
    Ok(pb::Hold {
        id: hold.id.clone(),
        wallet_id: hold.wallet_id.clone(),
        amount: Some(convert::money_to_proto(hold.amount)),
        captured: Some(convert::money_to_proto(hold.captured)),
        released: Some(convert::money_to_proto(hold.released)),
        state: state.into(),
        expire_time: Some(convert::timestamp_to_proto(Timestamp::from_unix_seconds(
            hold.expires_at,
        ))),
        category: convert::category_to_proto(category),
        tax_letter: convert::tax_letter_to_proto(letter),
        booking_id: hold.booking_id.clone().unwrap_or_default(),
        refunded: Some(convert::money_to_proto(hold.refunded)),
        provider_id: hold.provider_id.clone().unwrap_or_default(),
    })
}
