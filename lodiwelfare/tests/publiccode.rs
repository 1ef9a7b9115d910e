//! `publiccode.yml`, the metadata Italian public administrations find and reuse software by,
//! checked against the standard's rules (publiccode.yml core schema 0.4 and the Italian
//! extension 1.0): every mandatory key present with a value of its type, enumerations and
//! controlled vocabularies respected, text lengths within bounds, dates as YYYY-MM-DD — and
//! the facts it states kept equal to the workspace's (version, licence, repository).
#![allow(clippy::indexing_slicing)]

use yaml_serde::Value;

/// The standard's controlled vocabulary of categories (docs/standard/categories-list.rst).
const CATEGORIES: &[&str] = &[
    "accounting",
    "agile-project-management",
    "applicant-tracking",
    "application-development",
    "appointment-scheduling",
    "backup",
    "billing-and-invoicing",
    "blog",
    "budgeting",
    "business-intelligence",
    "business-process-management",
    "cad",
    "call-center-management",
    "cloud-management",
    "collaboration",
    "communications",
    "compliance-management",
    "contact-management",
    "content-management",
    "crm",
    "customer-service-and-support",
    "data-analytics",
    "data-collection",
    "data-visualization",
    "design",
    "design-system",
    "digital-asset-management",
    "digital-citizenship",
    "document-management",
    "donor-management",
    "e-commerce",
    "e-signature",
    "educational-content",
    "email-management",
    "email-marketing",
    "employee-management",
    "enterprise-project-management",
    "enterprise-social-networking",
    "erp",
    "event-management",
    "facility-management",
    "feedback-and-reviews-management",
    "financial-reporting",
    "fleet-management",
    "fundraising",
    "gamification",
    "geographic-information-systems",
    "grant-management",
    "graphic-design",
    "help-desk",
    "hr",
    "ide",
    "identity-management",
    "instant-messaging",
    "inventory-management",
    "it-asset-management",
    "it-development",
    "it-management",
    "it-security",
    "it-service-management",
    "knowledge-management",
    "learning-management-system",
    "marketing",
    "mind-mapping",
    "mobile-marketing",
    "mobile-payment",
    "network-management",
    "office",
    "online-booking",
    "online-community",
    "payment-gateway",
    "payroll",
    "predictive-analysis",
    "procurement",
    "productivity-suite",
    "project-collaboration",
    "project-management",
    "property-management",
    "real-estate-management",
    "remote-support",
    "resource-management",
    "sales-management",
    "seo",
    "service-desk",
    "social-media-management",
    "survey",
    "talent-management",
    "task-management",
    "taxes-management",
    "test-management",
    "time-management",
    "time-tracking",
    "translation",
    "video-conferencing",
    "video-editing",
    "visitor-management",
    "voip",
    "warehouse-management",
    "web-collaboration",
    "web-conferencing",
    "website-builder",
    "whistleblowing",
    "workflow-management",
];

/// The standard's scope list (docs/standard/scope-list.rst).
const SCOPES: &[&str] = &[
    "agriculture",
    "culture",
    "defence",
    "education",
    "emergency-services",
    "employment",
    "energy",
    "environment",
    "finance-and-economic-development",
    "foreign-affairs",
    "healthcare",
    "infrastructures",
    "justice",
    "local-authorities",
    "manufacturing",
    "research",
    "science-and-technology",
    "security",
    "society",
    "sport",
    "tourism",
    "transportation",
    "welfare",
];

const SOFTWARE_TYPES: &[&str] = &[
    "standalone/mobile",
    "standalone/iot",
    "standalone/desktop",
    "standalone/web",
    "standalone/backend",
    "standalone/other",
    "addon",
    "library",
    "configurationFiles",
];

/// The problems of a publiccode.yml document, each naming its key; empty when valid.
fn problems(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut problem = |key: &str, what: &str| found.push(format!("{key}: {what}"));
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let list = |value: &Value| -> Option<Vec<String>> {
        value.as_sequence().map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
    };
    let date = |value: &str| {
        let parts: Vec<&str> = value.split('-').collect();
        parts.len() == 3
            && parts[0].len() == 4
            && parts[1].len() == 2
            && parts[2].len() == 2
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && (1..=12).contains(&parts[1].parse::<u32>().unwrap_or(0))
            && (1..=31).contains(&parts[2].parse::<u32>().unwrap_or(0))
    };
    match text(&doc["publiccodeYmlVersion"]).as_deref() {
        Some("0.2" | "0.3" | "0.4") => {}
        other => problem("publiccodeYmlVersion", &format!("unsupported {other:?}")),
    }
    if text(&doc["name"]).is_none_or(|n| n.trim().is_empty()) {
        problem("name", "mandatory");
    }
    if text(&doc["url"]).is_none_or(|u| !u.starts_with("https://")) {
        problem("url", "mandatory, an https URL of the repository");
    }
    if let Some(released) = text(&doc["releaseDate"])
        && !date(&released)
    {
        problem("releaseDate", "YYYY-MM-DD");
    }
    match list(&doc["platforms"]) {
        Some(platforms) if !platforms.is_empty() => {}
        _ => problem("platforms", "mandatory, at least one"),
    }
    match list(&doc["categories"]) {
        Some(categories) if !categories.is_empty() => {
            for category in categories {
                if !CATEGORIES.contains(&category.as_str()) {
                    problem(
                        "categories",
                        &format!("{category} is not in the categories list"),
                    );
                }
            }
        }
        _ => problem("categories", "mandatory, at least one"),
    }
    if !matches!(
        text(&doc["developmentStatus"]).as_deref(),
        Some("concept" | "development" | "beta" | "stable" | "obsolete")
    ) {
        problem(
            "developmentStatus",
            "one of concept, development, beta, stable, obsolete",
        );
    }
    if !text(&doc["softwareType"]).is_some_and(|t| SOFTWARE_TYPES.contains(&t.as_str())) {
        problem("softwareType", "one of the standard's types");
    }
    for scope in list(&doc["intendedAudience"]["scope"]).unwrap_or_default() {
        if !SCOPES.contains(&scope.as_str()) {
            problem(
                "intendedAudience/scope",
                &format!("{scope} is not in the scope list"),
            );
        }
    }
    for country in list(&doc["intendedAudience"]["countries"]).unwrap_or_default() {
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_lowercase()) {
            problem(
                "intendedAudience/countries",
                &format!("{country}: ISO 3166-1 alpha-2, lowercase"),
            );
        }
    }
    match doc["description"].as_mapping() {
        Some(languages) if !languages.is_empty() => {
            for (language, description) in languages {
                let lang = language.as_str().unwrap_or_default();
                let key = |k: &str| format!("description/{lang}/{k}");
                match text(&description["shortDescription"]) {
                    Some(short) if !short.is_empty() && short.chars().count() <= 150 => {}
                    Some(short) => problem(
                        &key("shortDescription"),
                        &format!("1 to 150 characters, has {}", short.chars().count()),
                    ),
                    None => problem(&key("shortDescription"), "mandatory"),
                }
                match text(&description["longDescription"]) {
                    Some(long) if (150..=10_000).contains(&long.chars().count()) => {}
                    Some(long) => problem(
                        &key("longDescription"),
                        &format!("150 to 10000 characters, has {}", long.chars().count()),
                    ),
                    None => problem(&key("longDescription"), "mandatory"),
                }
                if list(&description["features"]).is_none_or(|f| f.is_empty()) {
                    problem(&key("features"), "mandatory, at least one");
                }
            }
        }
        _ => problem("description", "mandatory, at least one language"),
    }
    if text(&doc["legal"]["license"]).is_none_or(|l| l.is_empty()) {
        problem("legal/license", "mandatory, an SPDX expression");
    }
    let maintenance = text(&doc["maintenance"]["type"]);
    match maintenance.as_deref() {
        Some("internal" | "community") => {
            let contacts = doc["maintenance"]["contacts"].as_sequence();
            if contacts.is_none_or(|c| c.is_empty() || c.iter().any(|c| text(&c["name"]).is_none()))
            {
                problem(
                    "maintenance/contacts",
                    "mandatory for internal and community maintenance, each with a name",
                );
            }
        }
        Some("contract") => {
            let contractors = doc["maintenance"]["contractors"].as_sequence();
            if contractors.is_none_or(|c| {
                c.is_empty()
                    || c.iter().any(|c| {
                        text(&c["name"]).is_none() || text(&c["until"]).is_none_or(|u| !date(&u))
                    })
            }) {
                problem(
                    "maintenance/contractors",
                    "mandatory for contract maintenance, each with a name and until",
                );
            }
        }
        Some("none") => {}
        _ => problem(
            "maintenance/type",
            "one of internal, contract, community, none",
        ),
    }
    if !doc["localisation"]["localisationReady"].is_bool() {
        problem("localisation/localisationReady", "mandatory boolean");
    }
    if list(&doc["localisation"]["availableLanguages"]).is_none_or(|l| l.is_empty()) {
        problem("localisation/availableLanguages", "mandatory, at least one");
    }
    for kind in ["open", "proprietary", "hardware"] {
        for dependency in doc["dependsOn"][kind].as_sequence().into_iter().flatten() {
            if text(&dependency["name"]).is_none() {
                problem(&format!("dependsOn/{kind}"), "each dependency has a name");
            }
        }
    }
    let italian = &doc["it"];
    if !italian.is_null() {
        if text(&italian["countryExtensionVersion"]).as_deref() != Some("1.0") {
            problem("it/countryExtensionVersion", "\"1.0\"");
        }
        for (platform, value) in italian["piattaforme"].as_mapping().into_iter().flatten() {
            let name = platform.as_str().unwrap_or_default();
            if !["spid", "cie", "anpr", "pagopa", "io"].contains(&name) || !value.is_bool() {
                problem(
                    "it/piattaforme",
                    &format!("{name}: one of spid, cie, anpr, pagopa, io, a boolean"),
                );
            }
        }
    }
    found
}

fn shipped() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../publiccode.yml");
    let text = std::fs::read_to_string(path).expect("publiccode.yml at the repository's root");
    yaml_serde::from_str(&text).expect("publiccode.yml is YAML")
}

#[test]
fn the_shipped_publiccode_yml_follows_the_standard_and_states_the_workspace_facts() {
    let doc = shipped();
    assert_eq!(problems(&doc), Vec::<String>::new());
    // The facts it states are the workspace's.
    assert_eq!(
        doc["softwareVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .expect("workspace manifest");
    let workspace: toml::Table = toml::from_str(&manifest).expect("toml");
    let package = &workspace["workspace"]["package"];
    assert_eq!(
        doc["legal"]["license"].as_str(),
        package["license"].as_str()
    );
    assert_eq!(doc["url"].as_str(), package["repository"].as_str());
}

/// The checker is not a rubber stamp: each broken rule is named.
#[test]
fn a_broken_publiccode_yml_is_refused_naming_each_rule() {
    let mut doc = shipped();
    let set = |doc: &mut Value, key: &str, value: Value| {
        doc.as_mapping_mut()
            .expect("a mapping")
            .insert(Value::from(key), value);
    };
    set(&mut doc, "developmentStatus", Value::from("finished"));
    set(
        &mut doc,
        "categories",
        yaml_serde::from_str("[welfare-management]").expect("yaml"),
    );
    set(&mut doc, "releaseDate", Value::from("02/12/2026"));
    doc["description"]["it"]
        .as_mapping_mut()
        .expect("it")
        .insert(
            Value::from("shortDescription"),
            Value::from("x".repeat(151)),
        );
    doc["maintenance"]
        .as_mapping_mut()
        .expect("maintenance")
        .remove("contacts");
    let found = problems(&doc);
    for key in [
        "developmentStatus",
        "categories: welfare-management",
        "releaseDate",
        "description/it/shortDescription",
        "maintenance/contacts",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(key)),
            "{key} not named in {found:?}"
        );
    }
    assert_eq!(found.len(), 5, "{found:?}");
}
