//! The competency catalogue (`catalog/competencies.json`, built into the binary): competencies in
//! four domains, each with five-point statements per locale, some reverse-keyed, and a sentence
//! per score band and locale for the report.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Text per locale.
pub type Texts = BTreeMap<String, String>;

const SOURCE: &str = include_str!("../catalog/competencies.json");
pub const FALLBACK_LOCALE: &str = "en-US";

/// The score bands' keys in the catalogue, lowest first (`assessment::scoring::Band::key`).
pub const BANDS: [&str; 4] = ["low", "average", "strong", "very-strong"];

/// Seconds one statement takes, for the time estimate.
pub const SECONDS_PER_STATEMENT: usize = 10;

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub version: u32,
    pub locales: Vec<String>,
    pub scale: Scale,
    pub domains: Vec<Domain>,
    pub competencies: Vec<Competency>,
}

#[derive(Debug, Deserialize)]
pub struct Scale {
    pub points: u8,
    pub labels: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct Domain {
    pub key: String,
    pub name: Texts,
}

#[derive(Debug, Deserialize)]
pub struct Competency {
    pub key: String,
    pub domain: String,
    pub name: Texts,
    pub description: Texts,
    pub items: Vec<Item>,
    /// What a score in each band ([`BANDS`]) says of the candidate, per locale.
    pub bands: BTreeMap<String, Texts>,
}

#[derive(Debug, Deserialize)]
pub struct Item {
    pub id: String,
    pub reverse: bool,
    pub text: Texts,
}

fn text<'a>(texts: &'a Texts, locale: &str) -> &'a str {
    texts
        .get(locale)
        .or_else(|| texts.get(FALLBACK_LOCALE))
        .map(String::as_str)
        .unwrap_or_default()
}

impl Competency {
    pub fn name(&self, locale: &str) -> &str {
        text(&self.name, locale)
    }

    pub fn description(&self, locale: &str) -> &str {
        text(&self.description, locale)
    }

    /// The report's sentence for a score in `band` (a [`BANDS`] key); empty when there is none.
    pub fn band_sentence(&self, band: &str, locale: &str) -> &str {
        self.bands.get(band).map(|t| text(t, locale)).unwrap_or_default()
    }
}

impl Item {
    pub fn text(&self, locale: &str) -> &str {
        text(&self.text, locale)
    }
}

impl Catalog {
    /// The built-in catalogue. It is checked by a test; a broken one fails the build's tests.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            serde_json::from_str(SOURCE).unwrap_or_else(|e| panic!("catalog/competencies.json is invalid: {e}"))
        })
    }

    /// The time a candidate needs for these competencies' statements, in whole minutes (at
    /// least one): the one estimate the invitation e-mail and the intro page both show.
    pub fn estimated_minutes<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> usize {
        let statements: usize = keys
            .into_iter()
            .filter_map(|k| self.competency(k))
            .map(|c| c.items.len())
            .sum();
        (statements * SECONDS_PER_STATEMENT).div_ceil(60).max(1)
    }

    pub fn competency(&self, key: &str) -> Option<&Competency> {
        self.competencies.iter().find(|c| c.key == key)
    }

    pub fn scale_labels(&self, locale: &str) -> &[String] {
        self.scale
            .labels
            .get(locale)
            .or_else(|| self.scale.labels.get(FALLBACK_LOCALE))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Why a lens with these competencies cannot be taken in these locales, if it cannot.
    pub fn check_lens<'a>(
        &self,
        lens: &str,
        keys: impl IntoIterator<Item = &'a str>,
        locales: &[String],
    ) -> Result<(), String> {
        for key in keys {
            let Some(c) = self.competency(key) else {
                return Err(format!(
                    "lens '{lens}': competency '{key}' is not in the competency catalogue"
                ));
            };
            for locale in locales {
                let complete = !c.items.is_empty()
                    && c.items
                        .iter()
                        .all(|i| i.text.get(locale).is_some_and(|t| !t.trim().is_empty()));
                if !complete {
                    return Err(format!("lens '{lens}': competency '{key}' has no items in {locale}"));
                }
                for band in BANDS {
                    let written = c
                        .bands
                        .get(band)
                        .and_then(|t| t.get(locale))
                        .is_some_and(|t| !t.trim().is_empty());
                    if !written {
                        return Err(format!(
                            "lens '{lens}': competency '{key}' has no {band} band sentence in {locale}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Why the catalogue cannot serve this locale, if it cannot.
    pub fn check_locale(&self, locale: &str) -> Result<(), String> {
        if self.locales.iter().any(|l| l == locale) {
            Ok(())
        } else {
            Err(format!(
                "the competency catalogue has no statements in {locale} (it has {})",
                self.locales.join(", ")
            ))
        }
    }
}

/// The name shown for a competency: the lens's own name when it set one, else the catalogue's.
pub fn display_name(key: &str, lens_name: Option<&str>, locale: &str) -> String {
    if let Some(name) = lens_name {
        return name.to_owned();
    }
    match Catalog::get().competency(key) {
        Some(c) => c.name(locale).to_owned(),
        None => display_name_from_key(key),
    }
}

/// A competency's display name when neither the lens nor the catalogue gives one:
/// `driving-leadership` -> `Driving Leadership`.
pub fn display_name_from_key(key: &str) -> String {
    key.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn display_names_from_keys() {
        assert_eq!(display_name_from_key("driving-leadership"), "Driving Leadership");
        assert_eq!(display_name_from_key("problem-solving"), "Problem Solving");
    }

    #[test]
    fn a_missing_band_sentence_stops_the_lens() {
        let mut source: serde_json::Value = serde_json::from_str(SOURCE).unwrap();
        source["competencies"][0]["bands"]["strong"]
            .as_object_mut()
            .unwrap()
            .remove("nn-NO");
        let catalog: Catalog = serde_json::from_value(source).unwrap();
        let key = catalog.competencies[0].key.clone();
        let locales = ["sv-SE".to_owned(), "nn-NO".to_owned()];
        let e = catalog.check_lens("Lens", [key.as_str()], &locales).unwrap_err();
        assert!(e.contains("no strong band sentence in nn-NO"), "{e}");
        assert!(catalog.check_lens("Lens", [key.as_str()], &locales[..1]).is_ok());
    }

    #[test]
    fn the_catalogue_is_complete() {
        let c = Catalog::get();
        assert_eq!(c.scale.points, 5);
        assert_eq!(c.competencies.len(), 16);
        assert_eq!(c.domains.len(), 4);
        let mut ids = HashSet::new();
        for comp in &c.competencies {
            assert!(c.domains.iter().any(|d| d.key == comp.domain), "{}", comp.key);
            assert!(comp.items.len() >= 6, "{}", comp.key);
            assert!(
                comp.items.iter().any(|i| i.reverse),
                "{} has a reverse-keyed item",
                comp.key
            );
            for locale in &c.locales {
                assert!(!comp.name(locale).is_empty() && comp.name.contains_key(locale));
                for item in &comp.items {
                    assert!(
                        item.text.get(locale).is_some_and(|t| !t.is_empty()),
                        "{} {locale}",
                        item.id
                    );
                }
            }
            for item in &comp.items {
                assert!(ids.insert(item.id.clone()), "duplicate item id {}", item.id);
            }
            assert_eq!(comp.bands.len(), BANDS.len(), "{}: only the four bands", comp.key);
            let keys = [comp.key.as_str()];
            assert!(c.check_lens("all", keys, &c.locales).is_ok(), "{}", comp.key);
            let sentences: HashSet<&str> = c
                .locales
                .iter()
                .flat_map(|l| BANDS.map(|b| comp.band_sentence(b, l)))
                .collect();
            assert_eq!(
                sentences.len(),
                16,
                "{}: a sentence of its own per band and locale",
                comp.key
            );
        }
        for locale in ["en-US", "sv-SE", "nl-NL", "nn-NO"] {
            assert_eq!(c.scale_labels(locale).len(), 5, "{locale}");
            assert!(c.check_locale(locale).is_ok());
        }
    }

    #[test]
    fn lens_checks_name_what_is_missing() {
        let c = Catalog::get();
        let locales = vec!["en-US".to_owned()];
        assert!(c.check_lens("L", ["problem-solving"], &locales).is_ok());
        let err = c.check_lens("L", ["flying"], &locales).unwrap_err();
        assert!(err.contains("'flying'") && err.contains("lens 'L'"), "{err}");
        let err = c
            .check_lens("L", ["problem-solving"], &["fi-FI".to_owned()])
            .unwrap_err();
        assert!(err.contains("fi-FI"), "{err}");
    }

    #[test]
    fn the_example_seed_uses_catalogue_competencies() {
        let seed: serde_json::Value = serde_json::from_str(include_str!("../examples/seed.json")).unwrap();
        for lens in seed["lenses"].as_array().unwrap() {
            for comp in lens["competencies"].as_array().unwrap() {
                let key = comp["key"].as_str().unwrap();
                assert!(Catalog::get().competency(key).is_some(), "{key}");
            }
        }
    }
}
