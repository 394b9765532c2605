//! Scoring, as plain arithmetic.
//!
//! Each answer is 1..=`points` on an agreement scale. A reverse-keyed item counts as
//! `points + 1 - answer`. A competency's subscore is the mean of its (reversed where marked)
//! answers mapped linearly onto 0..100 (1 → 0, `points` → 100), rounded. The overall score is the
//! lens-weighted mean of the competencies' unrounded scores, rounded to an integer.
use std::collections::BTreeMap;

/// One answered item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scored {
    pub value: u8,
    pub reverse: bool,
}

/// A competency of the lens with its weight and the answers to its items.
#[derive(Debug, Clone)]
pub struct CompetencyAnswers {
    pub key: String,
    pub weight: u32,
    pub answers: Vec<Scored>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scores {
    pub overall: i32,
    pub subscores: BTreeMap<String, i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("competency {0} has no answers")]
    NoAnswers(String),
    #[error("an answer of {0} is outside 1..{1}")]
    OutOfRange(u8, u8),
    #[error("the lens has no weighted competency")]
    NoWeight,
}

fn competency_score(points: u8, answers: &[Scored]) -> Result<f64, ScoringError> {
    let mut sum = 0.0;
    for a in answers {
        if a.value < 1 || a.value > points {
            return Err(ScoringError::OutOfRange(a.value, points));
        }
        let v = if a.reverse { points + 1 - a.value } else { a.value };
        sum += f64::from(v - 1) / f64::from(points - 1);
    }
    Ok(100.0 * sum / answers.len() as f64)
}

pub fn score(points: u8, competencies: &[CompetencyAnswers]) -> Result<Scores, ScoringError> {
    let mut subscores = BTreeMap::new();
    let mut weighted = 0.0;
    let mut total_weight = 0.0;
    for c in competencies {
        if c.answers.is_empty() {
            return Err(ScoringError::NoAnswers(c.key.clone()));
        }
        let s = competency_score(points, &c.answers)?;
        subscores.insert(c.key.clone(), s.round() as i32);
        weighted += s * f64::from(c.weight);
        total_weight += f64::from(c.weight);
    }
    if total_weight <= 0.0 {
        return Err(ScoringError::NoWeight);
    }
    Ok(Scores {
        overall: (weighted / total_weight).round() as i32,
        subscores,
    })
}

/// The band shown on the report for a 0..100 score.
pub fn band(score: i32) -> Band {
    match score {
        i32::MIN..=39 => Band::Low,
        40..=59 => Band::Average,
        60..=79 => Band::Strong,
        _ => Band::VeryStrong,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Low,
    Average,
    Strong,
    VeryStrong,
}

impl Band {
    pub const ALL: [Band; 4] = [Band::Low, Band::Average, Band::Strong, Band::VeryStrong];

    /// Its key in the catalogue's band sentences (`catalog::BANDS`).
    pub fn key(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Average => "average",
            Band::Strong => "strong",
            Band::VeryStrong => "very-strong",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn comp(key: &str, weight: u32, answers: &[(u8, bool)]) -> CompetencyAnswers {
        CompetencyAnswers {
            key: key.into(),
            weight,
            answers: answers
                .iter()
                .map(|&(value, reverse)| Scored { value, reverse })
                .collect(),
        }
    }

    #[test]
    fn a_worked_example() {
        // a: 5,4,(rev 2 -> 4) = mean 4.333 -> 83.3; b: 3,3 -> 50. Weights 2:1 -> 72.2 -> 72.
        let s = score(
            5,
            &[
                comp("a", 2, &[(5, false), (4, false), (2, true)]),
                comp("b", 1, &[(3, false), (3, false)]),
            ],
        )
        .unwrap();
        assert_eq!(s.subscores["a"], 83);
        assert_eq!(s.subscores["b"], 50);
        assert_eq!(s.overall, 72);
    }

    #[test]
    fn errors() {
        assert_eq!(score(5, &[comp("a", 1, &[])]), Err(ScoringError::NoAnswers("a".into())));
        assert_eq!(
            score(5, &[comp("a", 1, &[(6, false)])]),
            Err(ScoringError::OutOfRange(6, 5))
        );
        assert_eq!(score(5, &[comp("a", 0, &[(3, false)])]), Err(ScoringError::NoWeight));
    }

    #[test]
    fn bands() {
        assert_eq!(
            [
                band(0),
                band(39),
                band(40),
                band(59),
                band(60),
                band(79),
                band(80),
                band(100)
            ],
            [
                Band::Low,
                Band::Low,
                Band::Average,
                Band::Average,
                Band::Strong,
                Band::Strong,
                Band::VeryStrong,
                Band::VeryStrong
            ]
        );
    }

    #[test]
    fn band_keys_are_the_catalogues() {
        assert_eq!(Band::ALL.map(Band::key), crate::catalog::BANDS);
    }

    fn lens() -> impl Strategy<Value = Vec<(u32, Vec<(u8, bool)>)>> {
        prop::collection::vec((1u32..5, prop::collection::vec((1u8..=5, any::<bool>()), 1..8)), 1..6)
    }

    fn build(spec: &[(u32, Vec<(u8, bool)>)]) -> Vec<CompetencyAnswers> {
        spec.iter()
            .enumerate()
            .map(|(i, (w, a))| comp(&format!("c{i}"), *w, a))
            .collect()
    }

    proptest! {
        #[test]
        fn scores_are_bounded(spec in lens()) {
            let s = score(5, &build(&spec)).unwrap();
            prop_assert!((0..=100).contains(&s.overall));
            prop_assert!(s.subscores.values().all(|v| (0..=100).contains(v)));
        }

        #[test]
        fn all_best_is_100_and_all_worst_is_0(spec in lens()) {
            let best: Vec<_> = spec.iter().map(|(w, a)| (*w, a.iter().map(|&(_, r)| (if r { 1 } else { 5 }, r)).collect())).collect();
            let worst: Vec<_> = spec.iter().map(|(w, a)| (*w, a.iter().map(|&(_, r)| (if r { 5 } else { 1 }, r)).collect())).collect();
            let best = score(5, &build(&best)).unwrap();
            let worst = score(5, &build(&worst)).unwrap();
            prop_assert_eq!(best.overall, 100);
            prop_assert!(best.subscores.values().all(|v| *v == 100));
            prop_assert_eq!(worst.overall, 0);
            prop_assert!(worst.subscores.values().all(|v| *v == 0));
        }

        #[test]
        fn a_better_answer_never_lowers_a_score(spec in lens(), which in any::<prop::sample::Index>()) {
            let comps = build(&spec);
            let flat: Vec<(usize, usize)> = comps.iter().enumerate().flat_map(|(i, c)| (0..c.answers.len()).map(move |j| (i, j))).collect();
            let (i, j) = flat[which.index(flat.len())];
            let before = score(5, &comps).unwrap();
            let mut improved = comps.clone();
            let a = &mut improved[i].answers[j];
            // "Better" means more of the competency: up for normal items, down for reversed ones.
            if a.reverse { if a.value > 1 { a.value -= 1 } } else if a.value < 5 { a.value += 1 }
            let after = score(5, &improved).unwrap();
            prop_assert!(after.overall >= before.overall);
            prop_assert!(after.subscores[&comps[i].key] >= before.subscores[&comps[i].key]);
        }
    }
}
