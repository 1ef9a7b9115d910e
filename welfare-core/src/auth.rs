//! Authorization: `authorize(principal, action, resource)` for every role, ownership included.
//! Services authenticate the caller and describe the resource; this module decides.

use serde::{Deserialize, Serialize};

use crate::ids::{CompanyId, PersonId, ProviderId};

/// A role a principal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A resident who finds and books services.
    Citizen,
    /// An employee of a participating company, with a welfare wallet.
    Employee,
    /// Manages one company's plans and funds its employees.
    CompanyAdmin,
    /// Works for one provider: edits its listings, manages its bookings.
    ProviderOperator,
    /// The Ufficio di Piano: vets providers and listings.
    Curator,
    /// Platform operations staff.
    Operator,
    /// A partner system (HR and payroll, ETS software, municipal portal), acting for the
    /// company or provider it is bound to.
    PartnerSystem,
    /// The booking service's own identity: the only caller that places and settles holds.
    BookingService,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Citizen,
        Role::Employee,
        Role::CompanyAdmin,
        Role::ProviderOperator,
        Role::Curator,
        Role::Operator,
        Role::PartnerSystem,
        Role::BookingService,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Employee => "employee",
            Role::CompanyAdmin => "company_admin",
            Role::ProviderOperator => "provider_operator",
            Role::Curator => "curator",
            Role::Operator => "operator",
            Role::PartnerSystem => "partner_system",
            Role::BookingService => "booking_service",
        }
    }

    /// Parses a role code as carried in tokens.
    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.code() == code)
    }
}

/// Who is calling: an authenticated subject with roles and tenancy, or nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// `None` for an anonymous caller.
    pub subject: Option<PersonId>,
    pub roles: Vec<Role>,
    /// The provider a provider operator (or a partner system) acts for.
    pub provider_id: Option<ProviderId>,
    /// The company a company admin, an employee (or a partner system) belongs to.
    pub company_id: Option<CompanyId>,
}

impl Principal {
    /// An unauthenticated caller: may read the public catalogue only.
    pub fn anonymous() -> Principal {
        Principal {
            subject: None,
            roles: Vec::new(),
            provider_id: None,
            company_id: None,
        }
    }

    /// An authenticated caller with the given roles and no tenancy.
    pub fn new(subject: PersonId, roles: Vec<Role>) -> Principal {
        Principal {
            subject: Some(subject),
            roles,
            provider_id: None,
            company_id: None,
        }
    }

    pub fn for_provider(mut self, provider_id: ProviderId) -> Principal {
        self.provider_id = Some(provider_id);
        self
    }

    pub fn for_company(mut self, company_id: CompanyId) -> Principal {
        self.company_id = Some(company_id);
        self
    }

    pub fn has(&self, role: Role) -> bool {
        self.subject.is_some() && self.roles.contains(&role)
    }

    /// Whether the caller is one of the platform's own services (the booking service), which
    /// act for every person at once and so are not limited like a person.
    pub fn is_service(&self) -> bool {
        self.has(Role::BookingService)
    }

    fn is(&self, person: &PersonId) -> bool {
        self.subject.as_ref() == Some(person)
    }

    /// Acts for `provider`: its operator, or a partner system bound to it.
    fn acts_for_provider(&self, provider: &ProviderId) -> bool {
        (self.has(Role::ProviderOperator) || self.has(Role::PartnerSystem))
            && self.provider_id.as_ref() == Some(provider)
    }

    /// Acts for `company`: its admin, or a partner system bound to it.
    fn acts_for_company(&self, company: &CompanyId) -> bool {
        (self.has(Role::CompanyAdmin) || self.has(Role::PartnerSystem))
            && self.company_id.as_ref() == Some(company)
    }
}

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Catalogue.
    RegisterProvider,
    ReadProvider,
    ApproveProvider,
    SuspendProvider,
    /// Change a provider's details (contacts, and its identity, which is then vetted again).
    UpdateProvider,
    CreateListing,
    UpdateListing,
    SubmitListing,
    WithdrawListing,
    ApproveListing,
    RejectListing,
    SuspendListing,
    VerifyListing,
    ReadListing,
    /// Search, categories, municipalities, eligibility checks, quotes, open-data export.
    BrowseCatalog,
    /// Why each hit of a search matched (curators tuning synonyms).
    ExplainSearch,
    /// Add, change or remove the Ambito's local words for services and situations.
    ManageLocalWords,
    // Bookings.
    ManageSlots,
    CreateBooking,
    ReadBooking,
    ConfirmBooking,
    RejectBooking,
    CompleteBooking,
    MarkNoShow,
    CancelBooking,
    // Wallets.
    ManagePlans,
    FundWallets,
    ReadCompanyReport,
    ReadWalletBalance,
    ReadWalletTransactions,
    ReadEmployeeTaxReport,
    PlaceHold,
    SettleHold,
    /// A hold, or (on the platform) the holds of a booking across wallets: what the booking
    /// service's recovery reads.
    ReadHolds,
    RefundCapture,
    ExpireWallets,
    /// What the platform owes a provider from welfare credit.
    ReadProviderPayable,
    // Operations.
    Operate,
}

/// What the action is done to, with what ownership needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The public catalogue as a whole.
    Catalog,
    /// A provider, with whether it is approved (public) or not.
    Provider { id: &'a ProviderId, approved: bool },
    /// A listing, with its provider and whether citizens may see it.
    Listing {
        provider_id: &'a ProviderId,
        public: bool,
    },
    /// A booking: who booked it, and whose listing it is.
    Booking {
        booker: &'a PersonId,
        provider_id: &'a ProviderId,
    },
    /// A new booking made for `booker`.
    NewBooking { booker: &'a PersonId },
    /// A company's plans, funding and reports.
    Company { id: &'a CompanyId },
    /// An employee's wallet at a company.
    Wallet {
        employee: &'a PersonId,
        company_id: &'a CompanyId,
    },
    /// The platform itself (reindexing, sweeps, exports for operations).
    Platform,
}

/// Why access was denied; `code()` is the stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("authentication required")]
    Unauthenticated,
    #[error("the caller's roles do not allow this action")]
    RoleRequired,
    #[error("the caller does not own this resource")]
    NotOwner,
    #[error("the action does not apply to this kind of resource")]
    WrongResource,
}

impl Denied {
    pub const fn code(self) -> &'static str {
        match self {
            Denied::Unauthenticated => "UNAUTHENTICATED",
            Denied::RoleRequired => "ROLE_REQUIRED",
            Denied::NotOwner => "NOT_OWNER",
            Denied::WrongResource => "WRONG_RESOURCE",
        }
    }
}

/// Decides whether `principal` may do `action` on `resource`.
///
/// The rules in brief: anyone reads the public catalogue; a provider operator manages only its
/// own provider's listings, slots and bookings; only a curator vets providers and listings; a
/// company admin manages only its own company's plans and wallets; an employee or citizen sees
/// only their own bookings and wallet; only the booking service places and settles holds;
/// operators run the platform. A company admin sees balances but never an employee's
/// transactions, which would reveal what services they use.
pub fn authorize(
    principal: &Principal,
    action: Action,
    resource: Resource<'_>,
) -> Result<(), Denied> {
    use Action as A;
    use Resource as R;

    let allow = |ok: bool, otherwise: Denied| if ok { Ok(()) } else { Err(otherwise) };
    let oversight = principal.has(Role::Curator) || principal.has(Role::Operator);

    // Public reads need no identity.
    match (action, resource) {
        (A::BrowseCatalog, R::Catalog) => return Ok(()),
        (A::ReadProvider, R::Provider { approved: true, .. }) => return Ok(()),
        (A::ReadListing, R::Listing { public: true, .. }) => return Ok(()),
        _ => {}
    }
    if principal.subject.is_none() {
        return Err(Denied::Unauthenticated);
    }
    let owner_or_role = |owns: bool, role_ok: bool| match (owns, role_ok) {
        (true, _) => Ok(()),
        (false, true) => Err(Denied::NotOwner),
        (false, false) => Err(Denied::RoleRequired),
    };
    let provider_side = principal.has(Role::ProviderOperator) || principal.has(Role::PartnerSystem);
    let company_side = principal.has(Role::CompanyAdmin) || principal.has(Role::PartnerSystem);

    match (action, resource) {
        (A::RegisterProvider, R::Catalog) => {
            allow(!principal.has(Role::BookingService), Denied::RoleRequired)
        }
        (A::ReadProvider, R::Provider { id, .. }) => {
            if oversight {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_provider(id), provider_side)
            }
        }
        (A::ExplainSearch | A::ManageLocalWords, R::Catalog) => {
            allow(principal.has(Role::Curator), Denied::RoleRequired)
        }
        (A::ApproveProvider | A::SuspendProvider, R::Provider { .. })
        | (
            A::ApproveListing | A::RejectListing | A::SuspendListing | A::VerifyListing,
            R::Listing { .. },
        ) => allow(principal.has(Role::Curator), Denied::RoleRequired),
        (A::CreateListing | A::ManageSlots | A::UpdateProvider, R::Provider { id, .. }) => {
            owner_or_role(principal.acts_for_provider(id), provider_side)
        }
        (A::ReadProviderPayable, R::Provider { id, .. }) => {
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_provider(id), provider_side)
            }
        }
        (A::UpdateListing | A::SubmitListing, R::Listing { provider_id, .. }) => {
            owner_or_role(principal.acts_for_provider(provider_id), provider_side)
        }
        (A::WithdrawListing, R::Listing { provider_id, .. }) => {
            if principal.has(Role::Curator) {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_provider(provider_id), provider_side)
            }
        }
        (A::ReadListing, R::Listing { provider_id, .. }) => {
            if oversight {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_provider(provider_id), provider_side)
            }
        }
        (A::CreateBooking, R::NewBooking { booker }) => {
            let booker_role = principal.has(Role::Citizen) || principal.has(Role::Employee);
            owner_or_role(booker_role && principal.is(booker), booker_role)
        }
        (
            A::ReadBooking | A::CancelBooking,
            R::Booking {
                booker,
                provider_id,
            },
        ) => {
            let booker_role = principal.has(Role::Citizen) || principal.has(Role::Employee);
            let owns =
                (booker_role && principal.is(booker)) || principal.acts_for_provider(provider_id);
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(owns, booker_role || provider_side)
            }
        }
        (
            A::ConfirmBooking | A::RejectBooking | A::CompleteBooking | A::MarkNoShow,
            R::Booking { provider_id, .. },
        ) => owner_or_role(principal.acts_for_provider(provider_id), provider_side),
        (A::ManagePlans | A::FundWallets, R::Company { id }) => {
            owner_or_role(principal.acts_for_company(id), company_side)
        }
        (A::ReadCompanyReport, R::Company { id }) => {
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_company(id), company_side)
            }
        }
        (A::ExpireWallets, R::Company { id }) => {
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(principal.acts_for_company(id), company_side)
            }
        }
        (
            A::ReadWalletBalance | A::ReadEmployeeTaxReport,
            R::Wallet {
                employee,
                company_id,
            },
        ) => {
            let own = principal.has(Role::Employee) && principal.is(employee);
            let owns = own || principal.acts_for_company(company_id);
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(owns, principal.has(Role::Employee) || company_side)
            }
        }
        (A::ReadWalletTransactions, R::Wallet { employee, .. }) => {
            let employee_role = principal.has(Role::Employee);
            if principal.has(Role::Operator) {
                Ok(())
            } else {
                owner_or_role(employee_role && principal.is(employee), employee_role)
            }
        }
        (A::PlaceHold | A::SettleHold, R::Wallet { .. }) => {
            allow(principal.has(Role::BookingService), Denied::RoleRequired)
        }
        (A::ReadHolds, R::Wallet { employee, .. }) => {
            let own = principal.has(Role::Employee) && principal.is(employee);
            if principal.has(Role::BookingService) || principal.has(Role::Operator) || own {
                Ok(())
            } else {
                owner_or_role(false, principal.has(Role::Employee))
            }
        }
        (A::ReadHolds, R::Platform) => allow(
            principal.has(Role::BookingService) || principal.has(Role::Operator),
            Denied::RoleRequired,
        ),
        (A::RefundCapture, R::Wallet { .. }) => allow(
            principal.has(Role::BookingService) || principal.has(Role::Operator),
            Denied::RoleRequired,
        ),
        (A::Operate, R::Platform) => allow(principal.has(Role::Operator), Denied::RoleRequired),
        _ => Err(Denied::WrongResource),
    }
}

/// Who `principal` is to a booking made by `booker` of a listing of `provider`, for the
/// booking state machine: its provider's operator (or partner system), the booker, or platform
/// operations; `None` when none of them (then [`authorize`] has refused already).
pub fn booking_actor(
    principal: &Principal,
    booker: &PersonId,
    provider: &ProviderId,
) -> Option<crate::booking::BookingActor> {
    use crate::booking::BookingActor;
    if principal.acts_for_provider(provider) {
        Some(BookingActor::Provider)
    } else if (principal.has(Role::Citizen) || principal.has(Role::Employee))
        && principal.is(booker)
    {
        Some(BookingActor::Booker)
    } else if principal.has(Role::Operator) {
        Some(BookingActor::Operator)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str) -> PersonId {
        PersonId::parse(id).expect("valid id")
    }

    fn provider(id: &str) -> ProviderId {
        ProviderId::parse(id).expect("valid id")
    }

    fn company(id: &str) -> CompanyId {
        CompanyId::parse(id).expect("valid id")
    }

    #[test]
    fn a_provider_reads_only_its_own_payable() {
        let ours = provider("coop-1");
        let own = Resource::Provider {
            id: &ours,
            approved: true,
        };
        let operator =
            Principal::new(person("op"), vec![Role::ProviderOperator]).for_provider(ours.clone());
        let other = Principal::new(person("op2"), vec![Role::ProviderOperator])
            .for_provider(provider("coop-2"));
        let staff = Principal::new(person("ops"), vec![Role::Operator]);
        let citizen = Principal::new(person("anna"), vec![Role::Citizen]);
        let read = |p: &Principal| authorize(p, Action::ReadProviderPayable, own);
        assert_eq!(read(&operator), Ok(()));
        assert_eq!(read(&staff), Ok(()));
        assert_eq!(read(&other), Err(Denied::NotOwner));
        assert_eq!(read(&citizen), Err(Denied::RoleRequired));
    }

    #[test]
    fn a_booking_knows_who_acts_on_it() {
        use crate::booking::BookingActor;
        let (anna, coop) = (person("anna"), provider("coop-1"));
        let operator =
            Principal::new(person("op"), vec![Role::ProviderOperator]).for_provider(coop.clone());
        let booker = Principal::new(anna.clone(), vec![Role::Citizen]);
        let stranger = Principal::new(person("bruno"), vec![Role::Citizen]);
        let other_provider = Principal::new(person("op2"), vec![Role::ProviderOperator])
            .for_provider(provider("coop-2"));
        let staff = Principal::new(person("ops"), vec![Role::Operator]);
        assert_eq!(
            booking_actor(&operator, &anna, &coop),
            Some(BookingActor::Provider)
        );
        assert_eq!(
            booking_actor(&booker, &anna, &coop),
            Some(BookingActor::Booker)
        );
        assert_eq!(
            booking_actor(&staff, &anna, &coop),
            Some(BookingActor::Operator)
        );
        assert_eq!(booking_actor(&stranger, &anna, &coop), None);
        assert_eq!(booking_actor(&other_provider, &anna, &coop), None);
    }

    #[test]
    fn a_provider_edits_only_its_own_listings() {
        let ours = provider("coop-1");
        let theirs = provider("coop-2");
        let operator =
            Principal::new(person("anna"), vec![Role::ProviderOperator]).for_provider(ours.clone());
        let own = Resource::Listing {
            provider_id: &ours,
            public: false,
        };
        let other = Resource::Listing {
            provider_id: &theirs,
            public: false,
        };
        assert_eq!(authorize(&operator, Action::UpdateListing, own), Ok(()));
        assert_eq!(
            authorize(&operator, Action::UpdateListing, other),
            Err(Denied::NotOwner)
        );
        assert_eq!(
            authorize(&operator, Action::ApproveListing, own),
            Err(Denied::RoleRequired)
        );
        assert_eq!(
            authorize(&operator, Action::ReadListing, other),
            Err(Denied::NotOwner)
        );
    }

    #[test]
    fn only_a_curator_vets() {
        let curator = Principal::new(person("udp"), vec![Role::Curator]);
        let id = provider("coop-1");
        assert_eq!(
            authorize(
                &curator,
                Action::ApproveProvider,
                Resource::Provider {
                    id: &id,
                    approved: false
                }
            ),
            Ok(())
        );
        let citizen = Principal::new(person("mario"), vec![Role::Citizen]);
        assert_eq!(
            authorize(
                &citizen,
                Action::ApproveProvider,
                Resource::Provider {
                    id: &id,
                    approved: false
                }
            ),
            Err(Denied::RoleRequired)
        );
    }

    #[test]
    fn only_a_curator_manages_local_words() {
        let curator = Principal::new(person("udp"), vec![Role::Curator]);
        assert_eq!(
            authorize(&curator, Action::ManageLocalWords, Resource::Catalog),
            Ok(())
        );
        for role in [Role::Citizen, Role::Operator, Role::ProviderOperator] {
            let other = Principal::new(person("x"), vec![role]);
            assert_eq!(
                authorize(&other, Action::ManageLocalWords, Resource::Catalog),
                Err(Denied::RoleRequired),
                "{role:?}"
            );
        }
        assert!(
            authorize(
                &Principal::anonymous(),
                Action::ManageLocalWords,
                Resource::Catalog
            )
            .is_err()
        );
    }

    #[test]
    fn the_public_reads_only_the_public_catalogue() {
        let anonymous = Principal::anonymous();
        let id = provider("coop-1");
        assert_eq!(
            authorize(&anonymous, Action::BrowseCatalog, Resource::Catalog),
            Ok(())
        );
        assert_eq!(
            authorize(
                &anonymous,
                Action::ReadListing,
                Resource::Listing {
                    provider_id: &id,
                    public: true
                }
            ),
            Ok(())
        );
        assert_eq!(
            authorize(
                &anonymous,
                Action::ReadListing,
                Resource::Listing {
                    provider_id: &id,
                    public: false
                }
            ),
            Err(Denied::Unauthenticated)
        );
    }

    #[test]
    fn a_citizen_sees_only_their_own_bookings() {
        let mario = Principal::new(person("mario"), vec![Role::Citizen]);
        let id = provider("coop-1");
        let own = Resource::Booking {
            booker: &person("mario"),
            provider_id: &id,
        };
        let other = Resource::Booking {
            booker: &person("lucia"),
            provider_id: &id,
        };
        assert_eq!(authorize(&mario, Action::ReadBooking, own), Ok(()));
        assert_eq!(
            authorize(&mario, Action::ReadBooking, other),
            Err(Denied::NotOwner)
        );
        assert_eq!(
            authorize(&mario, Action::ConfirmBooking, own),
            Err(Denied::RoleRequired)
        );
        assert_eq!(
            authorize(
                &mario,
                Action::CreateBooking,
                Resource::NewBooking {
                    booker: &person("lucia")
                }
            ),
            Err(Denied::NotOwner)
        );
    }

    #[test]
    fn a_company_funds_only_its_own_employees_and_never_reads_their_spending() {
        let acme = company("acme");
        let admin =
            Principal::new(person("hr"), vec![Role::CompanyAdmin]).for_company(acme.clone());
        let other = company("globex");
        assert_eq!(
            authorize(&admin, Action::FundWallets, Resource::Company { id: &acme }),
            Ok(())
        );
        assert_eq!(
            authorize(
                &admin,
                Action::FundWallets,
                Resource::Company { id: &other }
            ),
            Err(Denied::NotOwner)
        );
        let wallet = Resource::Wallet {
            employee: &person("lucia"),
            company_id: &acme,
        };
        assert_eq!(authorize(&admin, Action::ReadWalletBalance, wallet), Ok(()));
        assert_eq!(
            authorize(&admin, Action::ReadWalletTransactions, wallet),
            Err(Denied::RoleRequired)
        );
        let lucia = Principal::new(person("lucia"), vec![Role::Employee]).for_company(acme.clone());
        assert_eq!(
            authorize(&lucia, Action::ReadWalletTransactions, wallet),
            Ok(())
        );
        assert_eq!(
            authorize(&lucia, Action::PlaceHold, wallet),
            Err(Denied::RoleRequired)
        );
        let booking = Principal::new(person("booking-svc"), vec![Role::BookingService]);
        assert_eq!(authorize(&booking, Action::PlaceHold, wallet), Ok(()));
    }

    #[test]
    fn holds_are_read_by_the_booking_service_operators_and_their_employee() {
        let acme = company("acme");
        let wallet = Resource::Wallet {
            employee: &person("lucia"),
            company_id: &acme,
        };
        let booking = Principal::new(person("booking-svc"), vec![Role::BookingService]);
        let lucia = Principal::new(person("lucia"), vec![Role::Employee]).for_company(acme.clone());
        let marco = Principal::new(person("marco"), vec![Role::Employee]).for_company(acme.clone());
        let admin =
            Principal::new(person("hr"), vec![Role::CompanyAdmin]).for_company(acme.clone());
        assert_eq!(authorize(&booking, Action::ReadHolds, wallet), Ok(()));
        assert_eq!(authorize(&lucia, Action::ReadHolds, wallet), Ok(()));
        assert_eq!(
            authorize(&marco, Action::ReadHolds, wallet),
            Err(Denied::NotOwner)
        );
        assert_eq!(
            authorize(&admin, Action::ReadHolds, wallet),
            Err(Denied::RoleRequired)
        );
        assert_eq!(
            authorize(&booking, Action::ReadHolds, Resource::Platform),
            Ok(())
        );
        assert_eq!(
            authorize(&lucia, Action::ReadHolds, Resource::Platform),
            Err(Denied::RoleRequired)
        );
    }

    #[test]
    fn a_partner_system_acts_only_for_its_tenant() {
        let acme = company("acme");
        let payroll =
            Principal::new(person("payroll"), vec![Role::PartnerSystem]).for_company(acme.clone());
        let wallet = Resource::Wallet {
            employee: &person("lucia"),
            company_id: &acme,
        };
        assert_eq!(
            authorize(&payroll, Action::ReadEmployeeTaxReport, wallet),
            Ok(())
        );
        let id = provider("coop-1");
        assert_eq!(
            authorize(
                &payroll,
                Action::CreateListing,
                Resource::Provider {
                    id: &id,
                    approved: true
                }
            ),
            Err(Denied::NotOwner)
        );
    }
}
