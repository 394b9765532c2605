//! The report on a completed assessment, as data in the organisation's locale: what the HTML
//! page and the PDF document (`candidate::report`) and the recruiters' notice show. Its words
//! (headings, band names) are here per locale; the band sentences are the catalogue's.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::assessment::questionnaire::lens_competencies;
use crate::assessment::scoring::{Band, band};
use crate::catalog::{Catalog, display_name};
use crate::entity::{assessment, candidate, lens, organization};
use crate::types::AssessmentId;

/// The report's words in one locale.
pub struct Labels {
    pub lang: &'static str,
    pub title: &'static str,
    pub organization: &'static str,
    pub assessment: &'static str,
    pub candidate: &'static str,
    pub completed: &'static str,
    /// `{minutes}` is replaced.
    pub took: &'static str,
    pub overall: &'static str,
    pub competencies: &'static str,
    pub competency: &'static str,
    pub score: &'static str,
    pub band: &'static str,
    /// Low, average, strong, very strong.
    pub bands: [&'static str; 4],
    pub legend: &'static str,
    pub download: &'static str,
    /// What a sample report (a test push's) says of itself.
    pub sample: &'static str,
    pub role: &'static str,
    pub confidential: &'static str,
    /// `{date}` is filled in.
    pub generated: &'static str,
    /// `{n}` and `{total}` are filled in.
    pub page: &'static str,
}

impl Labels {
    pub fn band(&self, b: Band) -> &'static str {
        match b {
            Band::Low => self.bands[0],
            Band::Average => self.bands[1],
            Band::Strong => self.bands[2],
            Band::VeryStrong => self.bands[3],
        }
    }

    pub fn took(&self, minutes: i64) -> String {
        self.took.replace("{minutes}", &minutes.to_string())
    }
}

static EN: Labels = Labels {
    lang: "en",
    title: "Assessment report",
    organization: "Organisation",
    assessment: "Assessment",
    candidate: "Candidate",
    completed: "Completed",
    took: "took {minutes} min",
    overall: "Overall score",
    competencies: "Competencies",
    competency: "Competency",
    score: "Score",
    band: "Band",
    bands: ["Low", "Average", "Strong", "Very strong"],
    legend: "Bands: Low 0–39, Average 40–59, Strong 60–79, Very strong 80–100.",
    download: "Download as PDF",
    sample: "Sample report for a test push: made-up scores, no candidate took this assessment.",
    role: "Role",
    confidential: "Confidential",
    generated: "Generated {date}",
    page: "Page {n} of {total}",
};

static SV: Labels = Labels {
    lang: "sv",
    title: "Bedömningsrapport",
    organization: "Organisation",
    assessment: "Bedömning",
    candidate: "Kandidat",
    completed: "Slutförd",
    took: "tog {minutes} min",
    overall: "Totalpoäng",
    competencies: "Kompetenser",
    competency: "Kompetens",
    score: "Poäng",
    band: "Nivå",
    bands: ["Låg", "Genomsnittlig", "Stark", "Mycket stark"],
    legend: "Nivåer: Låg 0–39, Genomsnittlig 40–59, Stark 60–79, Mycket stark 80–100.",
    download: "Ladda ner som PDF",
    sample: "Exempelrapport för ett testanrop: påhittade poäng, ingen kandidat har gjort bedömningen.",
    role: "Roll",
    confidential: "Konfidentiellt",
    generated: "Skapad {date}",
    page: "Sida {n} av {total}",
};

static NL: Labels = Labels {
    lang: "nl",
    title: "Assessmentrapport",
    organization: "Organisatie",
    assessment: "Assessment",
    candidate: "Kandidaat",
    completed: "Afgerond",
    took: "duurde {minutes} min",
    overall: "Totaalscore",
    competencies: "Competenties",
    competency: "Competentie",
    score: "Score",
    band: "Niveau",
    bands: ["Laag", "Gemiddeld", "Sterk", "Zeer sterk"],
    legend: "Niveaus: Laag 0–39, Gemiddeld 40–59, Sterk 60–79, Zeer sterk 80–100.",
    download: "Downloaden als pdf",
    sample: "Voorbeeldrapport voor een testbericht: verzonnen scores, geen kandidaat heeft dit assessment gemaakt.",
    role: "Functie",
    confidential: "Vertrouwelijk",
    generated: "Gemaakt op {date}",
    page: "Pagina {n} van {total}",
};

static NN: Labels = Labels {
    lang: "nn",
    title: "Vurderingsrapport",
    organization: "Organisasjon",
    assessment: "Vurdering",
    candidate: "Kandidat",
    completed: "Fullført",
    took: "tok {minutes} min",
    overall: "Totalpoeng",
    competencies: "Kompetansar",
    competency: "Kompetanse",
    score: "Poeng",
    band: "Nivå",
    bands: ["Låg", "Middels", "Sterk", "Svært sterk"],
    legend: "Nivå: Låg 0–39, Middels 40–59, Sterk 60–79, Svært sterk 80–100.",
    download: "Last ned som PDF",
    sample: "Dømerapport for eit testkall: oppdikta poeng, ingen kandidat har teke vurderinga.",
    role: "Rolle",
    confidential: "Konfidensielt",
    generated: "Laga {date}",
    page: "Side {n} av {total}",
};

/// The report's words in `locale` (English for any other).
pub fn labels(locale: &str) -> &'static Labels {
    match locale {
        "sv-SE" => &SV,
        "nl-NL" => &NL,
        "nn-NO" => &NN,
        _ => &EN,
    }
}

/// One competency's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub score: i32,
    pub band: Band,
    /// What the band says of the candidate for this competency.
    pub sentence: String,
}

/// A completed assessment's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub locale: String,
    pub organization: String,
    pub lens: String,
    /// The candidate's name and address, or the address alone.
    pub candidate: String,
    pub completed_at: DateTime<Utc>,
    /// From start to completion, when the candidate took it here.
    pub minutes: Option<i64>,
    pub score: i32,
    pub band: Band,
    pub competencies: Vec<Line>,
    /// A test push's sample report, not a candidate's: the pages say so.
    pub sample: bool,
    /// The role the candidate applied for (the recruitment's title, Ashby's job).
    pub role: Option<String>,
    /// The employer's brand, when it has one.
    pub brand: Option<crate::tenancy::branding::Brand>,
}

impl Report {
    pub fn labels(&self) -> &'static Labels {
        labels(&self.locale)
    }
}

/// What a report link finds.
pub enum Loaded {
    Ready(Box<Report>),
    /// No such assessment, or it is not completed.
    Missing,
    /// The candidate's data was erased.
    Erased,
}

/// How a candidate is named to recruiters: "First Last <address>", or the address.
pub fn candidate_label(c: &candidate::Model) -> String {
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        c.email.clone()
    } else {
        format!("{name} <{}>", c.email)
    }
}

/// The report of assessment `id`, in its organisation's locale.
pub async fn load<C: ConnectionTrait>(db: &C, id: AssessmentId) -> Result<Loaded, DbErr> {
    let Some(a) = assessment::Entity::find_by_id(id).one(db).await? else {
        return Ok(Loaded::Missing);
    };
    if a.erased_at.is_some() {
        return Ok(Loaded::Erased);
    }
    let (Some(score), Some(completed_at)) = (a.score, a.completed_at) else {
        return Ok(Loaded::Missing);
    };
    let org = organization::Entity::find_by_id(a.organization_id).one(db).await?;
    let brand = org.as_ref().and_then(crate::tenancy::branding::Brand::of_branded);
    let (organization, locale) = org
        .map(|o| (o.branding_display_name.unwrap_or(o.name), o.default_locale))
        .unwrap_or_default();
    let role = match a.recruitment_id {
        Some(id) => crate::entity::recruitment::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.title),
        None => a.ashby_job_name.clone(),
    };
    let lens = lens::Entity::find_by_id(a.lens_id)
        .one(db)
        .await?
        .map(|l| l.name)
        .unwrap_or_default();
    let candidate = candidate::Entity::find_by_id(a.candidate_id)
        .one(db)
        .await?
        .map(|c| candidate_label(&c))
        .unwrap_or_default();
    let subscores: std::collections::BTreeMap<String, i32> = a
        .subscores
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let competencies = lines(lens_competencies(db, a.lens_id).await?, &subscores, &locale);
    let minutes = a
        .started_at
        .map(|s| ((completed_at - s).num_seconds().max(0) + 59) / 60);
    Ok(Loaded::Ready(Box::new(Report {
        locale,
        organization,
        lens,
        candidate,
        completed_at,
        minutes,
        score,
        band: band(score),
        competencies,
        sample: false,
        role,
        brand,
    })))
}

/// Competency lines for these scores, in `locale`.
fn lines(
    competencies: Vec<crate::entity::lens_competency::Model>,
    scores: &std::collections::BTreeMap<String, i32>,
    locale: &str,
) -> Vec<Line> {
    let catalog = Catalog::get();
    competencies
        .into_iter()
        .map(|c| {
            let score = scores.get(&c.key).copied().unwrap_or_default();
            let band = band(score);
            let sentence = catalog
                .competency(&c.key)
                .map(|k| k.band_sentence(band.key(), locale).to_owned())
                .unwrap_or_default();
            Line {
                name: display_name(&c.key, c.name.as_deref(), locale),
                score,
                band,
                sentence,
            }
        })
        .collect()
}

/// The sample report of `lens` that a test push links to: the lens's sample scores
/// (`sandbox::sample_scores`, as the push carried them), marked as a sample; `None` for a lens
/// that is gone.
pub async fn sample<C: ConnectionTrait>(
    db: &C,
    lens_id: uuid::Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Report>, DbErr> {
    let Some(lens) = lens::Entity::find_by_id(lens_id).one(db).await? else {
        return Ok(None);
    };
    let (competencies, scores, overall) = crate::assessment::sandbox::sample_scores(db, lens_id).await?;
    let locale = crate::catalog::FALLBACK_LOCALE.to_owned();
    Ok(Some(Report {
        competencies: lines(competencies, &scores, &locale),
        locale,
        organization: "—".to_owned(),
        lens: lens.name,
        candidate: "Sample Candidate <candidate@example.com>".to_owned(),
        completed_at: now,
        minutes: None,
        score: overall,
        band: band(overall),
        sample: true,
        role: None,
        brand: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_names_every_band_in_its_own_words() {
        let mut titles = std::collections::HashSet::new();
        for locale in ["en-US", "sv-SE", "nl-NL", "nn-NO"] {
            let l = labels(locale);
            assert!(titles.insert(l.title), "{locale}");
            for b in Band::ALL {
                assert!(l.legend.contains(l.band(b)), "{locale}: the legend names {b:?}");
            }
            assert_eq!(l.took(7).matches('7').count(), 1);
        }
        assert_eq!(labels("de-DE").lang, "en");
    }

    #[test]
    fn recruiters_see_a_name_when_there_is_one() {
        let mut c = candidate::Model {
            id: uuid::Uuid::nil(),
            organization_id: uuid::Uuid::nil().into(),
            email: "ada@example.com".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            created_at: Utc::now(),
            erased_at: None,
        };
        assert_eq!(candidate_label(&c), "Ada Lovelace <ada@example.com>");
        c.first_name = None;
        c.last_name = Some(" ".into());
        assert_eq!(candidate_label(&c), "ada@example.com");
    }
}
