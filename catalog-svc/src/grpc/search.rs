//! `SearchListings`: the request checked field by field, the query text read for a comune and
//! an age (explicit filters win), the index asked, and every hit shown as the store has it now
//! (`store::CurrentListings`: a copy kept from an earlier search when nothing has been written
//! since, else checked with the store) and evaluated for the person by `welfare-core`. What an index
//! can only approximate — eligibility for a profile, the price the profile pays — is
//! post-filtered exactly, reading further into the index until the page is full (the page token
//! remembers how far).

use prost::Message;
use welfare_core::Money;
use welfare_core::assess::{Assessment, assess};
use welfare_core::auth::{Action, Principal, Resource, authorize};
use welfare_core::category::Subcategory;
use welfare_core::eligibility::{Decision, Profile};
use welfare_core::listing::FieldViolation;
use welfare_core::need;
use welfare_core::pricing::MAX_QUANTITY;
use welfare_core::query::read_query;
use welfare_core::spelling;
use welfare_core::territory::GeoPoint;
use welfare_proto::catalog as pb;
use welfare_proto::convert;
use welfare_runtime::ServiceError;

use super::explain::Explainer;
use super::{
    CatalogApi, Violations, denied, listing_id, page_token, profile, provider_id, read_page_token,
};
use crate::search::answering::{Tier, Tiers, search_answering, tiers as tiers_of};
use crate::search::{IndexError, IndexQuery, Order, SearchIndex};
use crate::store::CatalogStore;

/// The longest query text.
pub(crate) const MAX_QUERY_CHARS: usize = 200;
/// The default and largest search page sizes.
pub(crate) const DEFAULT_SEARCH_PAGE: usize = 10;
pub(crate) const MAX_SEARCH_PAGE: usize = 50;
/// Index hits read per round while post-filtering.
const ROUND: usize = 50;
/// How far past the requested page the service reads before giving up on filling it.
const MAX_SCANNED: usize = 5_000;

impl From<IndexError> for ServiceError {
    fn from(error: IndexError) -> ServiceError {
        ServiceError::Unavailable {
            message: error.to_string(),
        }
    }
}

/// A checked search request.
struct Checked {
    query: IndexQuery,
    profile: Option<Profile>,
    eligible_only: bool,
    max_price: Option<Money>,
    quantity: u32,
    wallet: Money,
    page_size: usize,
    interpretation: pb::QueryInterpretation,
    /// The subcategories answering the situations described, by tier (none without one).
    tiers: Tiers,
    /// With `explain` (a curator's): what explains each hit.
    explainer: Option<Explainer>,
    /// The request's fingerprint, for page tokens.
    fingerprint: u64,
}

/// What a page token is bound to: every field of the request but the token.
fn fingerprint_of(message: &pb::SearchListingsRequest) -> u64 {
    use std::fmt::Write as _;
    let mut rest = message.clone();
    rest.page_token.clear();
    let bytes = rest.encode_to_vec();
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in &bytes {
        let _ = write!(hex, "{byte:02x}");
    }
    super::fingerprint(&[&hex])
}

impl<S: CatalogStore, I: SearchIndex> CatalogApi<S, I> {
    /// The short typos of a search text and the service words they are read as (see
    /// `welfare_core::spelling`), asking the index how many listings have each word.
    async fn corrections(&self, query: &str) -> Result<Vec<(String, String)>, ServiceError> {
        // Most texts have no suspect at all: reading the comune out is left to those that do.
        if query.chars().count() > MAX_QUERY_CHARS || spelling::suspects(query).is_empty() {
            return Ok(Vec::new());
        }
        let suspects = spelling::suspects(&read_query(query, &self.territory).remaining);
        if suspects.is_empty() {
            return Ok(Vec::new());
        }
        let counts = self.index.word_counts(&suspects).await?;
        let mut corrections = Vec::new();
        for (typed, count) in suspects.into_iter().zip(counts) {
            let candidates = spelling::candidates(&typed);
            if count > 0 || candidates.is_empty() {
                continue;
            }
            let counts = self.index.word_counts(&candidates).await?;
            let counted: Vec<(String, u64)> = candidates.into_iter().zip(counts).collect();
            if let Some(corrected) = spelling::choose(&counted) {
                corrections.push((typed, corrected.to_owned()));
            }
        }
        Ok(corrections)
    }

    fn check_search(
        &self,
        principal: &Principal,
        m: &pb::SearchListingsRequest,
        corrections: &[(String, String)],
    ) -> Result<Checked, ServiceError> {
        let mut v = Violations::default();
        let text = v.keep(convert::text(&m.query, "query", 0, MAX_QUERY_CHARS));
        let categories: Vec<_> = m
            .categories
            .iter()
            .enumerate()
            .filter_map(|(i, c)| v.keep(convert::category(*c, &format!("categories[{i}]"))))
            .collect();
        let subcategories: Vec<String> = m
            .subcategories
            .iter()
            .enumerate()
            .filter_map(|(i, code)| {
                v.keep(
                    Subcategory::find(code)
                        .map(|s| s.code.to_owned())
                        .map_err(|e| FieldViolation::new(format!("subcategories[{i}]"), e)),
                )
            })
            .collect();
        let comune = |value: &str, field: &str, v: &mut Violations| {
            if value.is_empty() {
                return None;
            }
            let code = v.keep(convert::istat_code(value, field))?;
            if self.territory.contains(&code) {
                Some(code)
            } else {
                v.keep::<()>(Err(FieldViolation::new(
                    field,
                    format!("comune {code} is not in the {}", self.territory.name()),
                )));
                None
            }
        };
        let served = comune(&m.served_istat_code, "served_istat_code", &mut v);
        let near_comune = comune(&m.near_istat_code, "near_istat_code", &mut v);
        let max_price = v
            .keep(
                convert::optional_money(m.max_price.as_ref(), "max_price").and_then(|amount| {
                    match amount {
                        Some(a) if a.is_negative() => {
                            Err(FieldViolation::new("max_price", "must not be negative"))
                        }
                        other => Ok(other),
                    }
                }),
            )
            .flatten();
        let age = match m.beneficiary_age_years {
            Some(age) if age > u32::from(welfare_core::eligibility::MAX_AGE_YEARS) => {
                v.keep::<()>(Err(FieldViolation::new(
                    "beneficiary_age_years",
                    "must be 0 to 120 years",
                )));
                None
            }
            other => other.and_then(|a| u8::try_from(a).ok()),
        };
        let provider = if m.provider_id.is_empty() {
            None
        } else {
            v.keep(provider_id(&m.provider_id, "provider_id"))
        };
        let person = match &m.profile {
            Some(_) => v.keep(profile(m.profile.as_ref())),
            None => None,
        };
        if m.eligible_only && m.profile.is_none() {
            v.keep::<()>(Err(FieldViolation::new(
                "eligible_only",
                "needs a profile to decide eligibility",
            )));
        }
        let near_point = match &m.near_point {
            Some(point) => v.keep(convert::geo_point(Some(point), "near_point")),
            None => None,
        };
        if near_point.is_some() && near_comune.is_some() {
            v.keep::<()>(Err(FieldViolation::new(
                "near_istat_code",
                "give a point or a comune, not both",
            )));
        }
        let origin: Option<GeoPoint> = near_point.or_else(|| {
            near_comune
                .as_ref()
                .and_then(|code| self.territory.municipality(code))
                .map(|m| m.centroid)
        });
        let order = match pb::SearchOrder::try_from(m.order_by) {
            Ok(pb::SearchOrder::Unspecified | pb::SearchOrder::Relevance) => Some(Order::Relevance),
            Ok(pb::SearchOrder::Distance) => {
                if origin.is_none() && near_point.is_none() && m.near_istat_code.is_empty() {
                    v.keep::<()>(Err(FieldViolation::new(
                        "order_by",
                        "ordering by distance needs near_point or near_istat_code",
                    )));
                }
                Some(Order::Distance)
            }
            Ok(pb::SearchOrder::Price) => Some(Order::Price),
            Err(_) => {
                v.keep::<()>(Err(FieldViolation::new(
                    "order_by",
                    format!("unknown order {}", m.order_by),
                )));
                None
            }
        };
        let page_size = match m.page_size {
            0 => Some(DEFAULT_SEARCH_PAGE),
            size if size < 0 => {
                v.keep::<()>(Err(FieldViolation::new(
                    "page_size",
                    "must not be negative",
                )));
                None
            }
            size => Some(
                usize::try_from(size)
                    .unwrap_or(MAX_SEARCH_PAGE)
                    .min(MAX_SEARCH_PAGE),
            ),
        };
        let quantity = match m.quote_quantity {
            0 => 1,
            q if q > MAX_QUANTITY => {
                v.keep::<()>(Err(FieldViolation::new(
                    "quote_quantity",
                    format!("must be at most {MAX_QUANTITY}"),
                )));
                1
            }
            q => q,
        };
        let wallet = v
            .keep(
                convert::optional_money(m.wallet_available.as_ref(), "wallet_available").and_then(
                    |amount| match amount {
                        Some(a) if a.is_negative() => Err(FieldViolation::new(
                            "wallet_available",
                            "must not be negative",
                        )),
                        other => Ok(other.unwrap_or(Money::ZERO)),
                    },
                ),
            )
            .unwrap_or(Money::ZERO);
        let fingerprint = fingerprint_of(m);
        let offset = v
            .keep(read_page_token(&m.page_token, fingerprint))
            .flatten()
            .map(|offset| {
                offset.parse::<usize>().map_err(|_| {
                    FieldViolation::new("page_token", "is not a token from this search")
                })
            });
        let offset = match offset {
            Some(parsed) => v.keep(parsed),
            None => Some(0),
        };
        let (text, order, page_size, offset) =
            v.finish_with(|| Some((text?, order?, page_size?, offset?)))?;
        let text = if corrections.is_empty() {
            text
        } else {
            spelling::apply(&text, corrections)
        };
        let reading = read_query(&text, &self.territory);
        if m.explain {
            authorize(principal, Action::ExplainSearch, Resource::Catalog).map_err(denied)?;
        }
        let lexicon = self.words.current();
        let situations = lexicon.situations_in(&text);
        let mentioned = lexicon.mentioned_in(&text);
        // Explicit filters win over what the text says; only what is applied is echoed.
        let text_comune = reading.comune.filter(|_| served.is_none());
        let text_age = reading.age_years.filter(|_| age.is_none());
        let interpretation = pb::QueryInterpretation {
            istat_code: text_comune
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            comune_name: text_comune
                .as_ref()
                .and_then(|code| self.territory.municipality(code))
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            age_years: text_age.map(u32::from),
            remaining_query: reading.remaining.clone(),
            situations: situations
                .iter()
                .map(|r| pb::SituationReading {
                    code: r.situation.code.to_owned(),
                    label: r.situation.label_it.to_owned(),
                    phrase: r.phrase.clone(),
                    subcategories: need::answers(std::slice::from_ref(r))
                        .iter()
                        .map(|(sub, _)| sub.code.to_owned())
                        .collect(),
                })
                .collect(),
            corrections: corrections
                .iter()
                .map(|(typed, corrected)| pb::Correction {
                    typed: typed.clone(),
                    corrected: corrected.clone(),
                })
                .collect(),
        };
        // A service named outright ("malato terminale", "badante") first, ranked by the
        // text; then, for a situation described, the services that answer it, best answers
        // first; then the text's other matches.
        let mut tiers = Tiers::new();
        if !mentioned.is_empty() {
            tiers.push(Tier {
                subcategories: mentioned.iter().map(|s| s.code.to_owned()).collect(),
                with_text: true,
            });
        }
        let preferences: Vec<(&str, u16)> = need::answers(&situations)
            .iter()
            .map(|(sub, weight)| (sub.code, *weight))
            .filter(|(code, _)| !mentioned.iter().any(|s| s.code == *code))
            .collect();
        tiers.extend(tiers_of(&preferences));
        let now = self.now();
        let query = IndexQuery {
            text: reading.remaining,
            boost_subcategories: mentioned.iter().map(|s| s.code.to_owned()).collect(),
            categories,
            subcategories,
            excluded_subcategories: Vec::new(),
            served: served.or(text_comune).map(|code| code.to_string()),
            free_only: m.free_only,
            max_price_cents: max_price.map(Money::cents),
            age: age.or(text_age),
            provider_id: provider.map(|p| p.to_string()),
            fresh_since: self.fresh_since(now).unix_seconds(),
            origin,
            order,
            offset,
            limit: ROUND,
        };
        let explainer = m
            .explain
            .then(|| Explainer::new(&text, &query.text, situations, tiers.clone(), lexicon));
        Ok(Checked {
            query,
            explainer,
            profile: person,
            eligible_only: m.eligible_only,
            max_price,
            quantity,
            wallet,
            page_size,
            interpretation,
            tiers,
            fingerprint,
        })
    }

    pub(super) async fn search(
        &self,
        principal: &Principal,
        m: &pb::SearchListingsRequest,
    ) -> Result<pb::SearchListingsResponse, ServiceError> {
        let corrections = self.corrections(&m.query).await?;
        let mut checked = self.check_search(principal, m, &corrections)?;
        let now = self.now();
        let first_offset = checked.query.offset;
        let mut hits = Vec::new();
        // Each hit's rank class and the person's eligibility, for `eligible_first`.
        let mut order: Vec<(u32, u8)> = Vec::new();
        let mut facets = Vec::new();
        let mut total = 0;
        let mut next_offset = None;
        // The price check of "max price" without a profile uses an empty one (list prices).
        let anyone = Profile::default();
        let person = checked.profile.as_ref().unwrap_or(&anyone);
        'rounds: loop {
            let page = search_answering(&self.index, &checked.query, &checked.tiers).await?;
            if checked.query.offset == first_offset {
                facets = page.facets.clone();
                total = page.total;
            }
            let round = page.hits.len();
            // The listings are read in batches of what the page still lacks.
            let mut loaded: std::collections::HashMap<String, _> = std::collections::HashMap::new();
            for (position, hit) in page.hits.iter().enumerate() {
                if hits.len() == checked.page_size {
                    next_offset = Some(checked.query.offset + position);
                    break 'rounds;
                }
                if !loaded.contains_key(&hit.id) {
                    let wanted = checked.page_size - hits.len();
                    let ids: Vec<_> = page
                        .hits
                        .iter()
                        .skip(position)
                        .take(wanted)
                        .filter_map(|h| listing_id(&h.id, "id").ok())
                        .collect();
                    for (record, status) in self.current.current(&ids).await? {
                        loaded.insert(record.listing.id.to_string(), (record, status));
                    }
                }
                let Some((record, provider_status)) = loaded.remove(&hit.id) else {
                    continue;
                };
                if !record
                    .listing
                    .is_public(provider_status, now, &self.territory)
                {
                    continue;
                }
                let content = &record.listing.content;
                // The decision and the quote for the person, together, by `welfare-core`.
                let assessment = checked.profile.as_ref().map(|p| {
                    assess(
                        &content.eligibility,
                        &content.pricing,
                        p,
                        checked.quantity,
                        &self.territory,
                        checked.wallet,
                    )
                });
                let (decision, quote) = match assessment {
                    Some(Assessment { decision, quote }) => (Some(decision), quote.ok()),
                    None => (None, None),
                };
                if checked.eligible_only && !matches!(decision, Some(Decision::Eligible)) {
                    continue;
                }
                if let Some(max) = checked.max_price {
                    let unit = content
                        .pricing
                        .quote(person, 1, &self.territory, Money::ZERO)
                        .map(|q| q.total);
                    if unit.is_ok_and(|unit| unit > max) {
                        continue;
                    }
                }
                let explanation = checked
                    .explainer
                    .as_mut()
                    .map(|explainer| explainer.explain(&record.listing, &self.territory));
                order.push((hit.class, decision.as_ref().map_or(0, Decision::precedence)));
                hits.push(pb::SearchHit {
                    explanation,
                    listing: Some(self.listing_to_proto(&record, now)),
                    score: hit.score,
                    distance_meters: hit.distance_m,
                    decision: decision.as_ref().map(convert::decision_to_proto),
                    quote: quote.as_ref().map(convert::quote_to_proto),
                });
            }
            checked.query.offset += round;
            let scanned = checked.query.offset - first_offset;
            if round < ROUND || scanned >= MAX_SCANNED {
                if round == ROUND {
                    next_offset = Some(checked.query.offset);
                }
                break;
            }
        }
        if checked.profile.is_some() && checked.query.order == Order::Relevance {
            hits = eligible_first(hits, &order);
        }
        let fingerprint = checked.fingerprint;
        Ok(pb::SearchListingsResponse {
            hits,
            facets: facets
                .into_iter()
                .map(|facet| pb::Facet {
                    field: facet.field.to_owned(),
                    buckets: facet
                        .buckets
                        .into_iter()
                        .map(|(value, count)| pb::facet::Bucket {
                            label: self.facet_label(facet.field, &value),
                            value,
                            count: i64::try_from(count).unwrap_or(i64::MAX),
                        })
                        .collect(),
                })
                .collect(),
            interpretation: Some(checked.interpretation),
            total_size: i64::try_from(total).unwrap_or(i64::MAX),
            next_page_token: next_offset
                .map(|offset| page_token(fingerprint, &offset.to_string()))
                .unwrap_or_default(),
        })
    }

    fn facet_label(&self, field: &str, value: &str) -> String {
        match field {
            "category" => value
                .parse::<welfare_core::category::Category>()
                .map(|c| c.label_it().to_owned())
                .unwrap_or_default(),
            "subcategory" => Subcategory::find(value)
                .map(|s| s.label_it.to_owned())
                .unwrap_or_default(),
            "comune" => welfare_core::territory::IstatCode::parse(value)
                .ok()
                .and_then(|code| self.territory.municipality(&code).map(|m| m.name.clone()))
                .unwrap_or_default(),
            "price" if value == "free" => "Gratuito".to_owned(),
            "price" => "A pagamento".to_owned(),
            _ => String::new(),
        }
    }
}

/// Among neighbouring hits of one rank class (equally relevant), those the person is eligible
/// for first, then those they may be, then the others; the index's order otherwise.
fn eligible_first(hits: Vec<pb::SearchHit>, order: &[(u32, u8)]) -> Vec<pb::SearchHit> {
    let mut ranked: Vec<((u32, u8), pb::SearchHit)> = order.iter().copied().zip(hits).collect();
    for run in ranked.chunk_by_mut(|(a, _), (b, _)| a.0 == b.0) {
        // Stable: the index's order among hits of one precedence.
        run.sort_by_key(|((_, precedence), _)| *precedence);
    }
    ranked.into_iter().map(|(_, hit)| hit).collect()
}
