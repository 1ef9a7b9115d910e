//! The territory an Ambito serves: its municipalities by ISTAT code, their names, postal codes
//! and centroids. The default is the Ambito di Lodi; another Ambito is a different value.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::fold;

/// The 60 comuni of the Ambito di Lodi, as shipped with the platform.
const LODI_CSV: &str = include_str!("../data/comuni-lodi.csv");

/// Days after which a listing not re-verified by the Ufficio di Piano leaves search.
pub const DEFAULT_FRESHNESS_WINDOW_DAYS: u32 = 180;
/// The longest freshness window a territory may configure.
pub const MAX_FRESHNESS_WINDOW_DAYS: u32 = 3 * 365;
/// The most municipalities one territory may hold (Italy has under 8,000).
pub const MAX_MUNICIPALITIES: usize = 10_000;
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A municipality's six-digit ISTAT code (`098031` is Lodi).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IstatCode(String);

/// Why an ISTAT code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ISTAT code {0:?} is not six digits")]
pub struct InvalidIstatCode(pub String);

impl IstatCode {
    pub fn parse(code: &str) -> Result<IstatCode, InvalidIstatCode> {
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(IstatCode(code.to_owned()))
        } else {
            Err(InvalidIstatCode(code.chars().take(20).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IstatCode {
    type Err = InvalidIstatCode;
    fn from_str(code: &str) -> Result<IstatCode, InvalidIstatCode> {
        IstatCode::parse(code)
    }
}

impl TryFrom<String> for IstatCode {
    type Error = InvalidIstatCode;
    fn try_from(code: String) -> Result<IstatCode, InvalidIstatCode> {
        IstatCode::parse(&code)
    }
}

impl From<IstatCode> for String {
    fn from(code: IstatCode) -> String {
        code.0
    }
}

impl fmt::Display for IstatCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point on Earth in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint", into = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

#[derive(Serialize, Deserialize)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

/// Why coordinates were refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "coordinates ({lat}, {lon}) are not a latitude in [-90, 90] and a longitude in [-180, 180]"
)]
pub struct InvalidCoordinates {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<GeoPoint, InvalidCoordinates> {
        if lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
            Ok(GeoPoint { lat, lon })
        } else {
            Err(InvalidCoordinates { lat, lon })
        }
    }

    pub const fn lat(self) -> f64 {
        self.lat
    }

    pub const fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle (haversine) distance in metres.
    pub fn distance_m(self, other: GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.lon - self.lon).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = InvalidCoordinates;
    fn try_from(raw: RawPoint) -> Result<GeoPoint, InvalidCoordinates> {
        GeoPoint::new(raw.lat, raw.lon)
    }
}

impl From<GeoPoint> for RawPoint {
    fn from(point: GeoPoint) -> RawPoint {
        RawPoint {
            lat: point.lat,
            lon: point.lon,
        }
    }
}

/// One municipality (comune) of the territory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Municipality {
    pub istat_code: IstatCode,
    pub name: String,
    /// The cadastral (Belfiore) code, as used in personal tax codes: `E648` is Lodi.
    pub cadastral_code: String,
    pub postal_codes: Vec<String>,
    pub population: u32,
    pub centroid: GeoPoint,
}

/// The settings of a territory, as configured: the serialized form of [`Territory`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerritoryConfig {
    pub name: String,
    pub freshness_window_days: u32,
    pub municipalities: Vec<Municipality>,
}

/// Why a territory could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TerritoryError {
    #[error("territory name is empty")]
    EmptyName,
    #[error("territory has no municipalities")]
    NoMunicipalities,
    #[error("territory has more than {MAX_MUNICIPALITIES} municipalities")]
    TooManyMunicipalities,
    #[error("freshness window of {0} days is outside 1-{MAX_FRESHNESS_WINDOW_DAYS}")]
    FreshnessWindow(u32),
    #[error("ISTAT code {0} appears twice")]
    DuplicateCode(IstatCode),
    #[error("municipality name {0:?} appears twice")]
    DuplicateName(String),
    #[error("municipality {0} has an empty name")]
    EmptyMunicipalityName(IstatCode),
    #[error("line {line}: {problem}")]
    Csv { line: usize, problem: String },
}

/// A territory: a validated set of municipalities with lookups by code and by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "TerritoryConfig", into = "TerritoryConfig")]
pub struct Territory {
    config: TerritoryConfig,
    by_code: HashMap<IstatCode, usize>,
    by_folded_name: HashMap<String, usize>,
}

impl PartialEq for Territory {
    fn eq(&self, other: &Territory) -> bool {
        self.config == other.config
    }
}

impl Territory {
    /// Builds a territory, refusing duplicates and empty names.
    pub fn new(config: TerritoryConfig) -> Result<Territory, TerritoryError> {
        if config.name.trim().is_empty() {
            return Err(TerritoryError::EmptyName);
        }
        if config.municipalities.is_empty() {
            return Err(TerritoryError::NoMunicipalities);
        }
        if config.municipalities.len() > MAX_MUNICIPALITIES {
            return Err(TerritoryError::TooManyMunicipalities);
        }
        if !(1..=MAX_FRESHNESS_WINDOW_DAYS).contains(&config.freshness_window_days) {
            return Err(TerritoryError::FreshnessWindow(
                config.freshness_window_days,
            ));
        }
        let mut by_code = HashMap::with_capacity(config.municipalities.len());
        let mut by_folded_name = HashMap::with_capacity(config.municipalities.len());
        for (index, municipality) in config.municipalities.iter().enumerate() {
            let folded = fold(&municipality.name);
            if folded.is_empty() {
                return Err(TerritoryError::EmptyMunicipalityName(
                    municipality.istat_code.clone(),
                ));
            }
            if by_code
                .insert(municipality.istat_code.clone(), index)
                .is_some()
            {
                return Err(TerritoryError::DuplicateCode(
                    municipality.istat_code.clone(),
                ));
            }
            if by_folded_name.insert(folded, index).is_some() {
                return Err(TerritoryError::DuplicateName(municipality.name.clone()));
            }
        }
        Ok(Territory {
            config,
            by_code,
            by_folded_name,
        })
    }

    /// The Ambito di Lodi: the 60 comuni of the Provincia di Lodi.
    pub fn lodi() -> Territory {
        // The shipped file is checked by the tests; failing here would be a build defect.
        Territory::from_csv("Ambito di Lodi", DEFAULT_FRESHNESS_WINDOW_DAYS, LODI_CSV)
            .unwrap_or_else(|error| panic!("shipped comuni-lodi.csv is invalid: {error}"))
    }

    /// Reads a territory from CSV with the columns
    /// `istat_code,name,cadastral_code,postal_codes,population_2011,lat,lon`
    /// (postal codes separated by `;` or spaces; names may be quoted).
    pub fn from_csv(
        name: &str,
        freshness_window_days: u32,
        csv: &str,
    ) -> Result<Territory, TerritoryError> {
        let mut municipalities = Vec::new();
        for (index, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let csv_error = |problem: String| TerritoryError::Csv {
                line: index + 1,
                problem,
            };
            let fields = split_csv_line(line);
            let [code, comune, cadastral, postal, population, lat, lon] = fields.as_slice() else {
                return Err(csv_error(format!(
                    "expected 7 fields, found {}",
                    fields.len()
                )));
            };
            let istat_code = IstatCode::parse(code).map_err(|e| csv_error(e.to_string()))?;
            let population = population
                .trim()
                .parse()
                .map_err(|_| csv_error(format!("population {population:?} is not a number")))?;
            let coordinate = |text: &str| {
                text.trim()
                    .parse::<f64>()
                    .map_err(|_| csv_error(format!("coordinate {text:?} is not a number")))
            };
            let centroid = GeoPoint::new(coordinate(lat)?, coordinate(lon)?)
                .map_err(|e| csv_error(e.to_string()))?;
            municipalities.push(Municipality {
                istat_code,
                name: comune.trim().to_owned(),
                cadastral_code: cadastral.trim().to_owned(),
                postal_codes: postal
                    .split([';', ' '])
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                population,
                centroid,
            });
        }
        Territory::new(TerritoryConfig {
            name: name.to_owned(),
            freshness_window_days,
            municipalities,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Days a listing stays fresh after verification.
    pub fn freshness_window_days(&self) -> u32 {
        self.config.freshness_window_days
    }

    /// The oldest verification still fresh at `now`: a listing verified before it is stale.
    pub fn fresh_since(&self, now: crate::time::Timestamp) -> crate::time::Timestamp {
        now.plus_seconds(-i64::from(self.freshness_window_days()) * crate::time::SECONDS_PER_DAY)
    }

    /// The same territory with another freshness window.
    pub fn with_freshness_window_days(self, days: u32) -> Result<Territory, TerritoryError> {
        Territory::new(TerritoryConfig {
            freshness_window_days: days,
            ..self.config
        })
    }

    pub fn municipalities(&self) -> &[Municipality] {
        &self.config.municipalities
    }

    pub fn contains(&self, code: &IstatCode) -> bool {
        self.by_code.contains_key(code)
    }

    pub fn municipality(&self, code: &IstatCode) -> Option<&Municipality> {
        self.by_code
            .get(code)
            .and_then(|&index| self.config.municipalities.get(index))
    }

    /// Finds a municipality by name, ignoring case, accents, apostrophes and hyphens. An exact
    /// match wins; otherwise a name that starts with the given words and is the only one to do
    /// so ("Sant'Angelo" finds Sant'Angelo Lodigiano, "San" finds nothing: too many).
    pub fn find_by_name(&self, name: &str) -> Option<&Municipality> {
        let folded = fold(name);
        if folded.is_empty() {
            return None;
        }
        if let Some(&index) = self.by_folded_name.get(&folded) {
            return self.config.municipalities.get(index);
        }
        let prefix = format!("{folded} ");
        let mut matches = self
            .by_folded_name
            .iter()
            .filter(|(candidate, _)| candidate.starts_with(&prefix));
        match (matches.next(), matches.next()) {
            (Some((_, &index)), None) => self.config.municipalities.get(index),
            _ => None,
        }
    }

    /// The municipality whose whole name, folded (`text::fold`), is exactly `folded`.
    pub fn find_by_folded_name(&self, folded: &str) -> Option<&Municipality> {
        self.by_folded_name
            .get(folded)
            .and_then(|&index| self.config.municipalities.get(index))
    }

    /// Finds a municipality by its cadastral (Belfiore) code.
    pub fn find_by_cadastral_code(&self, code: &str) -> Option<&Municipality> {
        self.config
            .municipalities
            .iter()
            .find(|m| m.cadastral_code.eq_ignore_ascii_case(code.trim()))
    }
}

impl TryFrom<TerritoryConfig> for Territory {
    type Error = TerritoryError;
    fn try_from(config: TerritoryConfig) -> Result<Territory, TerritoryError> {
        Territory::new(config)
    }
}

impl From<Territory> for TerritoryConfig {
    fn from(territory: Territory) -> TerritoryConfig {
        territory.config
    }
}

/// Splits one CSV line on commas, honouring double quotes (`"a, b"` and `""` escapes).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> IstatCode {
        IstatCode::parse(text).expect("valid code")
    }

    #[test]
    fn a_verification_is_fresh_for_the_window() {
        use crate::time::{SECONDS_PER_DAY, Timestamp};
        let territory = Territory::lodi()
            .with_freshness_window_days(30)
            .expect("window");
        let now = Timestamp::from_unix_seconds(100 * SECONDS_PER_DAY);
        assert_eq!(
            territory.fresh_since(now),
            Timestamp::from_unix_seconds(70 * SECONDS_PER_DAY)
        );
    }

    #[test]
    fn the_lodi_territory_has_its_sixty_comuni() {
        let lodi = Territory::lodi();
        assert_eq!(lodi.municipalities().len(), 60);
        assert_eq!(
            lodi.municipality(&code("098031")).map(|m| m.name.as_str()),
            Some("Lodi")
        );
        let total: u32 = lodi.municipalities().iter().map(|m| m.population).sum();
        assert!((200_000..260_000).contains(&total), "population {total}");
        assert!(
            !lodi.contains(&code("015146")),
            "Milano is not in the Ambito"
        );
    }

    #[test]
    fn finds_names_however_they_are_typed() {
        let lodi = Territory::lodi();
        let name = |query: &str| lodi.find_by_name(query).map(|m| m.name.clone());
        assert_eq!(
            name("sant angelo lodigiano").as_deref(),
            Some("Sant'Angelo Lodigiano")
        );
        assert_eq!(
            name("Sant'Angelo").as_deref(),
            Some("Sant'Angelo Lodigiano")
        );
        assert_eq!(name("sant angelo"), name("Sant'Angelo"));
        assert_eq!(name("CODOGNO").as_deref(), Some("Codogno"));
        assert_eq!(
            name("lodi").as_deref(),
            Some("Lodi"),
            "exact beats Lodi Vecchio"
        );
        assert_eq!(
            name("boffalora d adda").as_deref(),
            Some("Boffalora d'Adda")
        );
        assert_eq!(name("san"), None, "ambiguous");
        assert_eq!(name("Milano"), None);
        assert_eq!(name(""), None);
        assert_eq!(
            lodi.find_by_cadastral_code("e648").map(|m| m.name.as_str()),
            Some("Lodi")
        );
    }

    #[test]
    fn measures_distances_between_centroids() {
        let lodi = Territory::lodi();
        let centroid = |n: &str| lodi.find_by_name(n).map(|m| m.centroid).expect("known");
        let km = centroid("Lodi").distance_m(centroid("Codogno")) / 1000.0;
        assert!((20.0..30.0).contains(&km), "Lodi-Codogno {km} km");
        assert!(centroid("Lodi").distance_m(centroid("Lodi")).abs() < 1e-6);
    }

    #[test]
    fn another_ambito_is_configuration() {
        let csv = "istat_code,name,cadastral_code,postal_codes,population_2011,lat,lon\n\
                   015146,Milano,F205,20121;20122,1242123,45.46,9.19\n\
                   015077,\"Cologno, Monzese\",C895,20093,47597,45.53,9.27\n";
        let territory = Territory::from_csv("Ambito di prova", 90, csv).expect("valid");
        assert_eq!(territory.municipalities().len(), 2);
        assert_eq!(
            territory
                .find_by_name("cologno monzese")
                .map(|m| m.population),
            Some(47_597)
        );
        let json = serde_json::to_string(&territory).expect("json");
        let back: Territory = serde_json::from_str(&json).expect("back");
        assert_eq!(back, territory);
    }

    #[test]
    fn refuses_broken_territories() {
        let header = "istat_code,name,cadastral_code,postal_codes,population_2011,lat,lon\n";
        let twice = format!("{header}015146,A,F205,1,1,45,9\n015146,B,F205,1,1,45,9\n");
        assert!(matches!(
            Territory::from_csv("x", 90, &twice),
            Err(TerritoryError::DuplicateCode(_))
        ));
        let bad_lat = format!("{header}015146,A,F205,1,1,95,9\n");
        assert!(matches!(
            Territory::from_csv("x", 90, &bad_lat),
            Err(TerritoryError::Csv { line: 2, .. })
        ));
        assert_eq!(
            Territory::from_csv("x", 90, header),
            Err(TerritoryError::NoMunicipalities)
        );
        let one = format!("{header}015146,A,F205,1,1,45,9\n");
        assert_eq!(
            Territory::from_csv("x", 0, &one),
            Err(TerritoryError::FreshnessWindow(0))
        );
    }
}
