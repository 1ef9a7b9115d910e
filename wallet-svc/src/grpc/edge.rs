//! The edge: what a request says, parsed once (ids, amounts, pages, a plan's rules) with
//! each problem naming its field, and who may act on what, checked with `welfare-core`'s
//! policy so that another tenant's records answer as missing.

use welfare_core::Money;
use welfare_core::auth::{Action, Denied, Principal, Resource, authorize};
use welfare_core::category::Category;
use welfare_core::ids::{CompanyId, PersonId};
use welfare_core::wallet::{CarryOver, PlanRules};
use welfare_proto::convert::{self, FieldViolation, child};
use welfare_proto::wallet as pb;
use welfare_runtime::ServiceError;
use welfare_runtime::error::PreconditionViolation;

use crate::ledger::{LedgerError, MAX_ID_BYTES, MAX_TRANSFER_CENTS, clamped};
use crate::plans::{BatchError, Funding, MAX_WALLET_ID_BYTES, WalletOwner};

pub(super) fn id(value: &str, field: &str) -> Result<String, ServiceError> {
    bounded_id(value, field, MAX_ID_BYTES)
}

pub(super) fn wallet_id_field(value: &str, field: &str) -> Result<String, ServiceError> {
    bounded_id(value, field, MAX_WALLET_ID_BYTES)
}

pub(super) fn bounded_id(value: &str, field: &str, max: usize) -> Result<String, ServiceError> {
    id_field(value, field, max).map_err(ServiceError::from)
}

/// An id of at most `max` printable characters, trimmed.
pub(super) fn id_field(value: &str, field: &str, max: usize) -> Result<String, FieldViolation> {
    let value = value.trim();
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An amount the ledger will move: positive, at most [`MAX_TRANSFER_CENTS`].
pub(super) fn transfer_amount(
    value: Option<&welfare_proto::common::Money>,
    field: &str,
) -> Result<Money, FieldViolation> {
    let amount = convert::positive_money(value, field)?;
    if amount.cents() > MAX_TRANSFER_CENTS {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {}", clamped(MAX_TRANSFER_CENTS)),
        ));
    }
    Ok(amount)
}

pub(super) fn person(value: &str, field: &str) -> Result<PersonId, ServiceError> {
    PersonId::parse(value.trim()).map_err(|e| ServiceError::invalid(field, e))
}

pub(super) fn company(value: &str, field: &str) -> Result<CompanyId, ServiceError> {
    CompanyId::parse(value.trim()).map_err(|e| ServiceError::invalid(field, e))
}

pub(super) fn year(value: i32, field: &str) -> Result<i32, ServiceError> {
    if (welfare_core::wallet::MIN_PLAN_YEAR..=welfare_core::wallet::MAX_PLAN_YEAR).contains(&value)
    {
        Ok(value)
    } else {
        Err(ServiceError::invalid(field, "must be 2020 to 2100"))
    }
}

/// An offset page token (signed for `bound`, `welfare_runtime::page_token`), and the page size
/// clamped to its bounds.
pub(super) fn page(
    bound: u64,
    page_size: i32,
    page_token: &str,
    default: i64,
    max: i64,
) -> Result<(i64, i64), ServiceError> {
    if page_size < 0 {
        return Err(ServiceError::invalid("page_size", "must not be negative"));
    }
    let size = if page_size == 0 {
        default
    } else {
        i64::from(page_size).min(max)
    };
    let foreign = || ServiceError::from(welfare_runtime::page_token::refused());
    let offset = match welfare_runtime::page_token::open(page_token, bound) {
        Ok(None) => 0,
        Ok(Some(body)) => body
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(foreign)?,
        Err(()) => return Err(foreign()),
    };
    Ok((offset, size))
}

/// A listing's page for `principal`: what its tokens are bound to (the caller and `parts`),
/// then [`page`]'s offset and size.
pub(super) fn page_for(
    principal: &Principal,
    parts: &[&str],
    page_size: i32,
    page_token: &str,
    (default, max): (i64, i64),
) -> Result<(u64, i64, i64), ServiceError> {
    let bound = welfare_runtime::page_token::bound(principal, parts);
    let (offset, size) = page(bound, page_size, page_token, default, max)?;
    Ok((bound, offset, size))
}

pub(super) fn next_token(bound: u64, offset: i64, size: i64, returned: usize) -> String {
    if i64::try_from(returned).unwrap_or(0) < size {
        String::new()
    } else {
        welfare_runtime::page_token::seal(bound, &(offset + size).to_string())
    }
}

pub(super) fn check(
    principal: &Principal,
    action: Action,
    resource: Resource<'_>,
) -> Result<(), ServiceError> {
    authorize(principal, action, resource).map_err(ServiceError::from)
}

/// Checks `action` on a record of `company` the caller named by id. A caller outside that
/// company is refused exactly as if the record did not exist (`hidden`), so that ids are no
/// oracle of other tenants' records; one inside it (an employee asking for an admin's call)
/// is told it lacks the role. A missing token is said as such.
pub(super) fn check_hidden(
    principal: &Principal,
    action: Action,
    company: &CompanyId,
    resource: Resource<'_>,
    hidden: impl FnOnce() -> ServiceError,
) -> Result<(), ServiceError> {
    match authorize(principal, action, resource) {
        Ok(()) => Ok(()),
        Err(Denied::Unauthenticated) => Err(Denied::Unauthenticated.into()),
        Err(denied) if principal.company_id.as_ref() == Some(company) => Err(denied.into()),
        Err(_) => Err(hidden()),
    }
}

/// Parses the request's `company_id` and checks `action` on that company.
pub(super) fn check_company(
    principal: &Principal,
    action: Action,
    company_id: &str,
) -> Result<CompanyId, ServiceError> {
    let company = company(company_id, "company_id")?;
    check(principal, action, Resource::Company { id: &company })?;
    Ok(company)
}

/// Checks `action` on a stored wallet, reached through `what` (the wallet itself, or one of its
/// holds, with the id the caller gave); a refusal answers as if `what` did not exist.
pub(super) fn check_wallet(
    principal: &Principal,
    action: Action,
    owner: &WalletOwner,
    what: (&'static str, &str),
) -> Result<(), ServiceError> {
    let stored = |e| ServiceError::Unexpected(format!("stored wallet {}: {e}", owner.id));
    let employee = PersonId::parse(&owner.employee_id).map_err(stored)?;
    let company = CompanyId::parse(&owner.company_id).map_err(stored)?;
    check_hidden(
        principal,
        action,
        &company,
        wallet_resource(&employee, &company),
        || ServiceError::NotFound {
            resource: what.0,
            id: what.1.to_owned(),
        },
    )
}

pub(super) fn wallet_resource<'a>(employee: &'a PersonId, company: &'a CompanyId) -> Resource<'a> {
    Resource::Wallet {
        employee,
        company_id: company,
    }
}

/// The plan's rules from the wire, each problem naming its field.
pub(super) fn plan_rules(plan: &pb::Plan) -> Result<PlanRules, ServiceError> {
    let mut violations = Vec::new();
    let allowance = transfer_amount(
        plan.allowance_per_employee.as_ref(),
        "plan.allowance_per_employee",
    )
    .map_err(|v| violations.push(v))
    .ok();
    let categories: Vec<Category> = plan
        .allowed_categories
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| {
            convert::category(c, &format!("plan.allowed_categories[{i}]"))
                .map_err(|v| violations.push(v))
                .ok()
        })
        .collect();
    let regime = convert::regime(plan.regime, "plan.regime")
        .map_err(|v| violations.push(v))
        .ok();
    let expires = convert::date(plan.expire_date.as_ref(), "plan.expire_date")
        .map_err(|v| violations.push(v))
        .ok();
    let carry_max = convert::optional_money(plan.carry_over_max.as_ref(), "plan.carry_over_max")
        .map_err(|v| violations.push(v))
        .ok();
    if !plan.carry_over && plan.carry_over_max.is_some() {
        violations.push(FieldViolation::new(
            "plan.carry_over_max",
            "only with carry_over",
        ));
    }
    let (Some(allowance), Some(regime), Some(expires), Some(carry_max)) =
        (allowance, regime, expires, carry_max)
    else {
        return Err(ServiceError::InvalidArgument(violations));
    };
    if !violations.is_empty() {
        return Err(ServiceError::InvalidArgument(violations));
    }
    let carry_over = if plan.carry_over {
        CarryOver::NextYear { max: carry_max }
    } else {
        CarryOver::None
    };
    PlanRules::new(
        plan.year, allowance, categories, regime, expires, carry_over,
    )
    .map_err(|e| {
        use welfare_core::wallet::PlanError as E;
        let field = match e {
            E::Year => "plan.year",
            E::Allowance | E::AboveCeiling { .. } => "plan.allowance_per_employee",
            E::Categories => "plan.allowed_categories",
            E::Expiry => "plan.expire_date",
            E::CarryOverMax => "plan.carry_over_max",
        };
        ServiceError::invalid(field, e)
    })
}

/// A refused funding batch on the wire: the employee it failed on named by position.
pub(super) fn batch_error(error: BatchError, fundings: &[Funding]) -> ServiceError {
    let (index, error) = match error {
        BatchError::Ledger(error) => return error.into(),
        // Raced twice in a row: the other batches with this request id are still committing.
        BatchError::Raced => {
            return ServiceError::Aborted {
                reason: "CONCURRENT_REQUEST",
                message: "batches with this request id are being written concurrently: \
                          send it again"
                    .to_owned(),
            };
        }
        BatchError::Funding { index, error } => (index, error),
    };
    let field = format!("fundings[{index}]");
    let employee = fundings
        .get(index)
        .map_or("", |funding| funding.employee_id.as_str());
    match error {
        LedgerError::Invalid {
            field: inner,
            problem,
        } => ServiceError::invalid(child(&field, inner), problem),
        LedgerError::IdReused(_) => ServiceError::AlreadyExists {
            reason: "REQUEST_ID_REUSED",
            message: format!(
                "{field}: employee {employee} was funded under this request id with another amount; \
                 nothing in the batch was funded"
            ),
        },
        error @ LedgerError::WalletLimit { .. } => ServiceError::FailedPrecondition {
            reason: error.reason(),
            message: format!("{field}: {error}; nothing in the batch was funded"),
            violations: vec![PreconditionViolation {
                kind: "WALLET".to_owned(),
                subject: child(&field, "amount"),
                description: format!(
                    "Il credito di {employee} supererebbe il massimo di {} per portafoglio",
                    clamped(crate::ledger::MAX_WALLET_BALANCE_CENTS)
                ),
            }],
        },
        other => other.into(),
    }
}
