//! One service error type and its fixed mapping to `google.rpc.Status`: an `ErrorInfo` with a
//! stable `reason` (domain [`ERROR_DOMAIN`]) on every error, a `BadRequest` naming each field
//! for invalid input, a `PreconditionFailure` listing what failed for refusals.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use welfare_core::listing::FieldViolation;

/// How long a caller refused with `RESOURCE_EXHAUSTED` or `UNAVAILABLE` is told to wait before
/// retrying (`google.rpc.RetryInfo`): a rate-limit bucket gains a call within it, and a
/// shed server has finished most calls in flight.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The `ErrorInfo.domain` of every LodiWelfare error.
pub const ERROR_DOMAIN: &str = "lodiwelfare.it";

/// One thing that failed a precondition: its type (e.g. "ELIGIBILITY"), subject (a code) and
/// description (for people, in Italian where a citizen reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    pub kind: String,
    pub subject: String,
    pub description: String,
}

/// What went wrong in a service call. Messages are lowercase, without trailing punctuation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid argument: {}", summary(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
        violations: Vec<PreconditionViolation>,
    },
    #[error("{message}")]
    Aborted {
        reason: &'static str,
        message: String,
    },
    #[error("permission denied: {reason}")]
    PermissionDenied { reason: &'static str },
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    #[error("service unavailable: {message}")]
    Unavailable { message: String },
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// A failure the caller cannot fix; the context is logged, never sent.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

fn summary(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, problem: impl ToString) -> ServiceError {
        ServiceError::InvalidArgument(vec![FieldViolation::new(field, problem)])
    }

    /// The gRPC code: a small fixed mapping.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::InvalidArgument(_) => Code::InvalidArgument,
            ServiceError::NotFound { .. } => Code::NotFound,
            ServiceError::AlreadyExists { .. } => Code::AlreadyExists,
            ServiceError::FailedPrecondition { .. } => Code::FailedPrecondition,
            ServiceError::Aborted { .. } => Code::Aborted,
            ServiceError::PermissionDenied { .. } => Code::PermissionDenied,
            ServiceError::Unauthenticated { .. } => Code::Unauthenticated,
            ServiceError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ServiceError::Unavailable { .. } => Code::Unavailable,
            ServiceError::DeadlineExceeded => Code::DeadlineExceeded,
            ServiceError::Unexpected(_) => Code::Internal,
        }
    }

    /// The stable reason clients switch on.
    pub fn reason(&self) -> String {
        match self {
            ServiceError::InvalidArgument(_) => "INVALID_ARGUMENT".to_owned(),
            ServiceError::NotFound { resource, .. } => {
                format!(
                    "{}_NOT_FOUND",
                    resource.to_ascii_uppercase().replace([' ', '-'], "_")
                )
            }
            ServiceError::AlreadyExists { reason, .. }
            | ServiceError::FailedPrecondition { reason, .. }
            | ServiceError::Aborted { reason, .. }
            | ServiceError::PermissionDenied { reason }
            | ServiceError::Unauthenticated { reason, .. }
            | ServiceError::ResourceExhausted { reason, .. } => (*reason).to_owned(),
            ServiceError::Unavailable { .. } => "UNAVAILABLE".to_owned(),
            ServiceError::DeadlineExceeded => "DEADLINE_EXCEEDED".to_owned(),
            ServiceError::Unexpected(_) => "INTERNAL".to_owned(),
        }
    }

    /// The status sent to the client, with its details.
    pub fn to_status(&self) -> Status {
        let mut details = ErrorDetails::new();
        let mut metadata = std::collections::HashMap::new();
        if let ServiceError::NotFound { resource, id } = self {
            metadata.insert("resource".to_owned(), (*resource).to_owned());
            metadata.insert("id".to_owned(), id.clone());
        }
        details.set_error_info(self.reason(), ERROR_DOMAIN, metadata);
        match self {
            ServiceError::InvalidArgument(violations) => {
                for violation in violations {
                    details.add_bad_request_violation(
                        violation.field.clone(),
                        violation.problem.clone(),
                    );
                }
            }
            ServiceError::FailedPrecondition { violations, .. } => {
                for v in violations {
                    details.add_precondition_failure_violation(
                        v.kind.clone(),
                        v.subject.clone(),
                        v.description.clone(),
                    );
                }
            }
            ServiceError::ResourceExhausted { .. } | ServiceError::Unavailable { .. } => {
                details.set_retry_info(Some(RETRY_AFTER));
            }
            _ => {}
        }
        let message = match self {
            ServiceError::Unexpected(context) => {
                tracing::error!(error.context = %context, "unexpected error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        Status::with_error_details(self.code(), message, details)
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        error.to_status()
    }
}

impl From<FieldViolation> for ServiceError {
    fn from(violation: FieldViolation) -> ServiceError {
        ServiceError::InvalidArgument(vec![violation])
    }
}

/// Every problem of a request at once: the edge keeps each field's parse, and the request is
/// refused with all the violations found (`INVALID_ARGUMENT` with a `BadRequest` naming each
/// field), or accepted when there are none.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// The value when `result` parsed; otherwise its violation is kept and `None` returned.
    pub fn keep<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        result.map_err(|v| self.0.push(v)).ok()
    }

    pub fn push(&mut self, violation: FieldViolation) {
        self.0.push(violation);
    }

    pub fn extend(&mut self, violations: Vec<FieldViolation>) {
        self.0.extend(violations);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was wrong; otherwise the request's refusal with every violation.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }
    /// The command `build` makes from the values kept: the refusal with every violation when
    /// there is one. Every `None` that `keep` returned left a violation, so with none recorded
    /// `build` has all its values (`Some`); `None` there is a defect of the edge, said as such.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ServiceError> {
        self.finish()?;
        build().ok_or_else(|| {
            ServiceError::Unexpected("a field parsed to nothing without a violation".to_owned())
        })
    }
}

impl From<Vec<FieldViolation>> for ServiceError {
    fn from(violations: Vec<FieldViolation>) -> ServiceError {
        ServiceError::InvalidArgument(violations)
    }
}

impl From<welfare_core::auth::Denied> for ServiceError {
    fn from(denied: welfare_core::auth::Denied) -> ServiceError {
        match denied {
            welfare_core::auth::Denied::Unauthenticated => ServiceError::Unauthenticated {
                reason: "UNAUTHENTICATED",
                message: "this call needs a bearer token".to_owned(),
            },
            other => ServiceError::PermissionDenied {
                reason: other.code(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_are_all_kept_and_a_command_is_built_only_without_any() {
        let mut violations = Violations::default();
        let a: Option<i32> = violations.keep(Err(FieldViolation::new("a", "bad")));
        let b = violations.keep(Ok::<_, FieldViolation>(2));
        let c: Option<i32> = violations.keep(Err(FieldViolation::new("c", "bad")));
        let refused = violations
            .finish_with(|| Some((a?, b?, c?)))
            .expect_err("two bad fields");
        match refused {
            ServiceError::InvalidArgument(found) => {
                let fields: Vec<&str> = found.iter().map(|v| v.field.as_str()).collect();
                assert_eq!(fields, ["a", "c"]);
            }
            other => panic!("{other:?}"),
        }
        let mut clean = Violations::default();
        let x = clean.keep(Ok::<_, FieldViolation>(1));
        assert_eq!(clean.finish_with(|| Some(x? + 1)).expect("built"), 2);
        let defect = Violations::default().finish_with(|| None::<i32>);
        assert!(matches!(defect, Err(ServiceError::Unexpected(_))));
    }

    #[test]
    fn invalid_input_names_every_field() {
        let error = ServiceError::InvalidArgument(vec![
            FieldViolation::new("listing.title", "must be 3 to 120 characters"),
            FieldViolation::new("listing.category", "is required"),
        ]);
        let status = error.to_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("INVALID_ARGUMENT", ERROR_DOMAIN)
        );
        let fields: Vec<_> = details
            .bad_request()
            .expect("bad request")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["listing.title", "listing.category"]);
    }

    #[test]
    fn not_found_reasons_name_the_resource() {
        let status = ServiceError::NotFound {
            resource: "listing",
            id: "l-1".to_owned(),
        }
        .to_status();
        assert_eq!(status.code(), Code::NotFound);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "LISTING_NOT_FOUND");
        assert_eq!(info.metadata.get("id").map(String::as_str), Some("l-1"));
    }

    #[test]
    fn unexpected_errors_keep_their_context_private() {
        let status = ServiceError::Unexpected("connection reset by db-3".to_owned()).to_status();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("db-3"));
    }

    #[test]
    fn refusals_worth_retrying_say_when() {
        for error in [
            ServiceError::ResourceExhausted {
                reason: "RATE_LIMITED",
                message: "slow down".to_owned(),
            },
            ServiceError::Unavailable {
                message: "at the concurrency limit".to_owned(),
            },
        ] {
            let details = error.to_status().get_error_details();
            let retry = details.retry_info().expect("retry info");
            assert_eq!(retry.retry_delay, Some(RETRY_AFTER), "{error}");
        }
        let not_found = ServiceError::NotFound {
            resource: "listing",
            id: "l-1".to_owned(),
        };
        assert!(
            not_found
                .to_status()
                .get_error_details()
                .retry_info()
                .is_none()
        );
    }
}
