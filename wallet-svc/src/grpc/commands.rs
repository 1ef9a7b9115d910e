//! Mutating requests parsed once into commands: a command exists only when every field of its
//! request is valid; otherwise the request is refused with every bad field named at once
//! (`INVALID_ARGUMENT` with a `BadRequest`), before anything is read or written.

use welfare_core::Money;
use welfare_core::category::{Category, TaxLetter};
use welfare_core::time::{Date, Timestamp};
use welfare_proto::convert::{self, FieldViolation};
use welfare_proto::wallet as pb;
use welfare_runtime::ServiceError;
use welfare_runtime::error::Violations;

use welfare_core::ids::PersonId;
use welfare_core::wallet::PlanRules;
use welfare_proto::convert::child;

use super::edge::{id_field, plan_rules};
use super::{MAX_DESCRIPTION_CHARS, MAX_HOLD_SECONDS};
use crate::ledger::MAX_ID_BYTES;
use crate::plans::MAX_WALLET_ID_BYTES;
use crate::plans::{Funding, MAX_FUNDING_BATCH};

use super::edge::transfer_amount;

fn request_id(value: &str) -> Result<String, FieldViolation> {
    id_field(value, "request_id", MAX_ID_BYTES)
}

/// HoldFunds: credit held for a booking.
#[derive(Debug)]
pub(super) struct HoldFunds {
    pub(super) request_id: String,
    pub(super) wallet_id: String,
    pub(super) amount: Money,
    pub(super) category: Category,
    pub(super) letter: TaxLetter,
    pub(super) booking_id: Option<String>,
    pub(super) expires: Timestamp,
    pub(super) provider_id: Option<String>,
}

impl HoldFunds {
    /// `now` bounds the deadline: in the future, at most [`MAX_HOLD_SECONDS`] ahead.
    pub(super) fn parse(
        request: &pb::HoldFundsRequest,
        now: Timestamp,
    ) -> Result<HoldFunds, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let wallet_id = v.keep(id_field(
            &request.wallet_id,
            "wallet_id",
            MAX_WALLET_ID_BYTES,
        ));
        let amount = v.keep(transfer_amount(request.amount.as_ref(), "amount"));
        let category = v.keep(convert::category(request.category, "category"));
        let letter = v.keep(convert::tax_letter(request.tax_letter, "tax_letter"));
        // Checked for the caller's sake; statements describe holds in their own words.
        v.keep(convert::text(
            &request.description,
            "description",
            0,
            MAX_DESCRIPTION_CHARS,
        ));
        let booking_id = if request.booking_id.is_empty() {
            Some(None)
        } else {
            v.keep(id_field(&request.booking_id, "booking_id", MAX_ID_BYTES))
                .map(Some)
        };
        let provider_id = if request.provider_id.is_empty() {
            Some(None)
        } else {
            v.keep(id_field(&request.provider_id, "provider_id", MAX_ID_BYTES))
                .map(Some)
        };
        let expires = v.keep(
            convert::timestamp(request.expire_time.as_ref(), "expire_time").and_then(|at| {
                let ahead = at.seconds_since(now);
                if ahead <= 0 || ahead > MAX_HOLD_SECONDS {
                    Err(FieldViolation::new(
                        "expire_time",
                        format!(
                            "must be in the future, at most {} days ahead",
                            MAX_HOLD_SECONDS / 86_400
                        ),
                    ))
                } else {
                    Ok(at)
                }
            }),
        );
        v.finish_with(|| {
            Some(HoldFunds {
                request_id: request_id?,
                wallet_id: wallet_id?,
                amount: amount?,
                category: category?,
                letter: letter?,
                booking_id: booking_id?,
                expires: expires?,
                provider_id: provider_id?,
            })
        })
    }
}

/// CaptureHold: the whole hold, or part of it (the rest released).
#[derive(Debug)]
pub(super) struct CaptureHold {
    pub(super) request_id: String,
    pub(super) hold_id: String,
    pub(super) amount: Option<Money>,
}

impl CaptureHold {
    pub(super) fn parse(request: &pb::CaptureHoldRequest) -> Result<CaptureHold, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let hold_id = v.keep(id_field(&request.hold_id, "hold_id", MAX_ID_BYTES));
        let amount = match &request.amount {
            None => Some(None),
            Some(amount) => v.keep(transfer_amount(Some(amount), "amount")).map(Some),
        };
        v.finish_with(|| {
            Some(CaptureHold {
                request_id: request_id?,
                hold_id: hold_id?,
                amount: amount?,
            })
        })
    }
}

/// ReleaseHold: the whole hold given back.
#[derive(Debug)]
pub(super) struct ReleaseHold {
    pub(super) request_id: String,
    pub(super) hold_id: String,
}

impl ReleaseHold {
    pub(super) fn parse(request: &pb::ReleaseHoldRequest) -> Result<ReleaseHold, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let hold_id = v.keep(id_field(&request.hold_id, "hold_id", MAX_ID_BYTES));
        v.finish_with(|| {
            Some(ReleaseHold {
                request_id: request_id?,
                hold_id: hold_id?,
            })
        })
    }
}

/// RefundCapture: part of a capture given back, with the reason.
#[derive(Debug)]
pub(super) struct RefundCapture {
    pub(super) request_id: String,
    pub(super) hold_id: String,
    pub(super) amount: Money,
    pub(super) reason: String,
}

impl RefundCapture {
    pub(super) fn parse(request: &pb::RefundCaptureRequest) -> Result<RefundCapture, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let hold_id = v.keep(id_field(&request.hold_id, "hold_id", MAX_ID_BYTES));
        let amount = v.keep(transfer_amount(request.amount.as_ref(), "amount"));
        let reason = v.keep(convert::text(
            &request.reason,
            "reason",
            0,
            MAX_DESCRIPTION_CHARS,
        ));
        v.finish_with(|| {
            Some(RefundCapture {
                request_id: request_id?,
                hold_id: hold_id?,
                amount: amount?,
                reason: reason?,
            })
        })
    }
}

/// ExpireWallets: a plan's year-end settlement, on the server's date.
#[derive(Debug)]
pub(super) struct ExpireWallets {
    pub(super) plan_id: String,
    pub(super) next_plan_id: Option<String>,
}

impl ExpireWallets {
    /// `today` is the server's date: a caller's `as_of` may only confirm it.
    pub(super) fn parse(
        request: &pb::ExpireWalletsRequest,
        today: Date,
    ) -> Result<ExpireWallets, ServiceError> {
        let mut v = Violations::default();
        v.keep(request_id(&request.request_id));
        let plan_id = v.keep(id_field(&request.plan_id, "plan_id", MAX_ID_BYTES));
        let next_plan_id = if request.next_plan_id.is_empty() {
            Some(None)
        } else {
            v.keep(id_field(
                &request.next_plan_id,
                "next_plan_id",
                MAX_ID_BYTES,
            ))
            .map(Some)
        };
        if let Some(as_of) = &request.as_of {
            v.keep(convert::date(Some(as_of), "as_of").and_then(|as_of| {
                if as_of > today {
                    Err(FieldViolation::new(
                        "as_of",
                        format!("is after today ({today}): expiry follows the server's date"),
                    ))
                } else {
                    Ok(as_of)
                }
            }));
        }
        v.finish_with(|| {
            Some(ExpireWallets {
                plan_id: plan_id?,
                next_plan_id: next_plan_id?,
            })
        })
    }
}

/// CreatePlan: a company's plan for a year (the company is authorised before this is parsed).
#[derive(Debug)]
pub(super) struct CreatePlan {
    pub(super) request_id: String,
    pub(super) display_name: String,
    pub(super) rules: PlanRules,
}

impl CreatePlan {
    pub(super) fn parse(request: &pb::CreatePlanRequest) -> Result<CreatePlan, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let (display_name, rules) = match &request.plan {
            None => {
                v.push(FieldViolation::new("plan", "is required"));
                (None, None)
            }
            Some(plan) => {
                let name = v.keep(convert::text(
                    &plan.display_name,
                    "plan.display_name",
                    PLAN_NAME_CHARS.0,
                    PLAN_NAME_CHARS.1,
                ));
                let rules = match plan_rules(plan) {
                    Ok(rules) => Some(rules),
                    Err(ServiceError::InvalidArgument(found)) => {
                        v.extend(found);
                        None
                    }
                    Err(other) => return Err(other),
                };
                (name, rules)
            }
        };
        v.finish_with(|| {
            Some(CreatePlan {
                request_id: request_id?,
                display_name: display_name?,
                rules: rules?,
            })
        })
    }
}

/// The fewest and most characters of a plan's name.
pub(super) const PLAN_NAME_CHARS: (usize, usize) = (3, 120);

/// FundWallets: a batch of employees to credit from a plan.
#[derive(Debug)]
pub(super) struct FundWallets {
    pub(super) request_id: String,
    pub(super) plan_id: String,
    pub(super) fundings: Vec<Funding>,
}

impl FundWallets {
    pub(super) fn parse(request: &pb::FundWalletsRequest) -> Result<FundWallets, ServiceError> {
        let mut v = Violations::default();
        let request_id = v.keep(request_id(&request.request_id));
        let plan_id = v.keep(id_field(&request.plan_id, "plan_id", MAX_ID_BYTES));
        if request.fundings.is_empty() || request.fundings.len() > MAX_FUNDING_BATCH {
            v.push(FieldViolation::new(
                "fundings",
                format!("must hold 1 to {MAX_FUNDING_BATCH} employees"),
            ));
        }
        let mut fundings = Vec::with_capacity(request.fundings.len());
        let mut seen = std::collections::HashSet::new();
        for (i, funding) in request.fundings.iter().enumerate() {
            let field = format!("fundings[{i}]");
            let employee = v.keep(
                PersonId::parse(funding.employee_id.trim())
                    .map_err(|e| FieldViolation::new(child(&field, "employee_id"), e)),
            );
            if let Some(employee) = &employee
                && !seen.insert(employee.clone())
            {
                v.push(FieldViolation::new(
                    child(&field, "employee_id"),
                    "appears twice in the batch",
                ));
            }
            let amount = match &funding.amount {
                None => Some(None),
                Some(amount) => v
                    .keep(transfer_amount(Some(amount), &child(&field, "amount")))
                    .map(Some),
            };
            if let (Some(employee), Some(amount)) = (employee, amount) {
                fundings.push(Funding {
                    employee_id: employee.to_string(),
                    amount,
                    has_dependent_children: funding.has_dependent_children,
                });
            }
        }
        v.finish_with(|| {
            Some(FundWallets {
                request_id: request_id?,
                plan_id: plan_id?,
                fundings,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(error: ServiceError) -> Vec<String> {
        match error {
            ServiceError::InvalidArgument(violations) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_hold_request_names_every_bad_field_at_once() {
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        let request = pb::HoldFundsRequest {
            wallet_id: String::new(),
            amount: None,
            category: 0,
            tax_letter: 0,
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            booking_id: "with space".to_owned(),
            expire_time: Some(convert::timestamp_to_proto(now)),
            request_id: String::new(),
            provider_id: "a provider".to_owned(),
        };
        assert_eq!(
            fields(HoldFunds::parse(&request, now).expect_err("bad")),
            [
                "request_id",
                "wallet_id",
                "amount",
                "category",
                "tax_letter",
                "description",
                "booking_id",
                "provider_id",
                "expire_time"
            ]
        );
    }

    #[test]
    fn a_funding_batch_names_every_bad_employee() {
        let request = pb::FundWalletsRequest {
            plan_id: "p".to_owned(),
            fundings: vec![
                pb::Funding {
                    employee_id: "anna".to_owned(),
                    ..Default::default()
                },
                pb::Funding {
                    employee_id: "anna".to_owned(),
                    amount: Some(convert::money_to_proto(
                        Money::from_cents(-1).expect("cents"),
                    )),
                    ..Default::default()
                },
                pb::Funding {
                    employee_id: "has space".to_owned(),
                    ..Default::default()
                },
            ],
            request_id: String::new(),
        };
        assert_eq!(
            fields(FundWallets::parse(&request).expect_err("bad")),
            [
                "request_id",
                "fundings[1].employee_id",
                "fundings[1].amount.amount_cents",
                "fundings[2].employee_id"
            ]
        );
    }

    #[test]
    fn a_valid_request_becomes_its_command() {
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        let request = pb::CaptureHoldRequest {
            hold_id: " h-1 ".to_owned(),
            amount: Some(convert::money_to_proto(
                Money::from_cents(500).expect("cents"),
            )),
            request_id: "c-1".to_owned(),
        };
        let command = CaptureHold::parse(&request).expect("valid");
        assert_eq!(command.hold_id, "h-1");
        assert_eq!(command.amount.map(Money::cents), Some(500));
        let expire = pb::ExpireWalletsRequest {
            plan_id: String::new(),
            as_of: Some(convert::date_to_proto(
                now.date().expect("date").plus_days(1).expect("date"),
            )),
            next_plan_id: "x y".to_owned(),
            request_id: String::new(),
        };
        assert_eq!(
            fields(ExpireWallets::parse(&expire, now.date().expect("date")).expect_err("bad")),
            ["request_id", "plan_id", "next_plan_id", "as_of"]
        );
    }
}
