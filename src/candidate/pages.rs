//! Server-rendered HTML: works without JavaScript, labelled controls, keyboard-friendly,
//! high-contrast, fits a phone. maud escapes every interpolated value.
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::candidate::i18n::{Words, fill};
use crate::tenancy::branding::Brand;

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 1.0625rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; background: #fff; }
main { max-width: 42rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 0.5rem; }
p { margin: 0 0 1rem; }
.muted { color: #3d3d3d; }
.brand { max-width: 42rem; margin: 0 auto; padding: 0.75rem 1rem; display: flex; align-items: center; }
.brand img { max-height: 40px; width: auto; }
.brand-name { font-weight: 700; font-size: 1.15rem; }
.brand-footer { max-width: 42rem; margin: 0 auto; padding: 1rem; border-top: 1px solid #ccc; display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; font-size: 0.95rem; }
.sample { border: 2px solid #8a4b00; background: #fff7e6; padding: .5rem .75rem; }
fieldset { border: 1px solid #767676; border-radius: 0.5rem; margin: 0 0 1rem; padding: 0.75rem 1rem 1rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
.hint { font-size: 0.95rem; color: #3d3d3d; margin: 0 0 0.5rem; }
.scale { display: grid; gap: 0.4rem; }
.scale label { display: flex; align-items: center; gap: 0.6rem; padding: 0.55rem 0.7rem; border: 1px solid #767676; border-radius: 0.4rem; cursor: pointer; min-height: 2.75rem; }
.scale input { width: 1.25rem; height: 1.25rem; margin: 0; accent-color: #0b57d0; }
.scale label:has(input:checked) { border-color: #0b57d0; background: #e8f0fe; }
button { font: inherit; font-weight: 600; border-radius: 0.5rem; padding: 0.75rem 1.25rem; min-height: 2.75rem; cursor: pointer; border: 2px solid #0b57d0; background: #0b57d0; color: #fff; }
button.secondary { background: #fff; color: #0b57d0; }
a { color: #0b57d0; }
:focus-visible { outline: 3px solid #b3261e; outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; margin-top: 1.5rem; }
.missing { border: 2px solid #b3261e; }
.error { color: #b3261e; font-weight: 600; margin: 0 0 0.5rem; }
.notice { border-left: 4px solid #b3261e; background: #fdecea; padding: 0.75rem 1rem; margin: 0 0 1rem; }
.progress { font-weight: 600; color: #3d3d3d; }
.bar { background: #e3e3e3; border-radius: 0.3rem; height: 1rem; overflow: hidden; }
.bar > span { display: block; height: 100%; background: #0b57d0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.5rem; border-bottom: 1px solid #c4c4c4; vertical-align: top; }
.score { font-size: 2.5rem; font-weight: 700; }
@media (min-width: 40rem) { .scale { grid-template-columns: repeat(5, 1fr); } .scale label { flex-direction: column; text-align: center; font-size: 0.9rem; } }
"#;

pub fn layout(lang: &str, title: &str, body: Markup) -> Markup {
    branded(lang, title, None, body)
}

/// Black or white, whichever reads better on `hex` (`#rrggbb`), by WCAG's relative luminance:
/// an employer's colour behind a button's text keeps it legible.
pub fn text_on(hex: &str) -> &'static str {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white (1.05 / (L + 0.05)) against contrast with black ((L + 0.05) / 0.05).
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
        "#fff"
    } else {
        "#111"
    }
}

/// The page with the employer's brand, when it has one: its logo or name above the page, its
/// colour on buttons and links, and a footer with its privacy policy and contact address.
/// Without branding (or with `None`), the plain look.
pub fn branded(lang: &str, title: &str, brand: Option<&Brand>, body: Markup) -> Markup {
    let w = crate::candidate::i18n::words_for_lang(lang);
    // The colour is a checked `#rrggbb` (`types::HexColor`): nothing else reaches the style sheet.
    let accent = brand
        .and_then(|b| b.accent_color.as_deref())
        .filter(|c| crate::types::HexColor::parse(c).is_ok());
    let footer = brand.filter(|b| b.privacy_policy_url.is_some() || b.support_email.is_some());
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(STYLE)) }
                @if let Some(c) = accent {
                    style { (PreEscaped(format!(
                        "button {{ border-color: {c}; background: {c}; color: {text}; }} button.secondary {{ background: #fff; color: #111; }} \
                         a {{ color: #111; text-decoration-color: {c}; text-decoration-thickness: 2px; }} .brand {{ border-bottom: 4px solid {c}; }}",
                        text = text_on(c)
                    ))) }
                }
            }
            body {
                @if let Some(b) = brand {
                    header class="brand" {
                        @if let Some(logo) = &b.logo_path {
                            img src=(logo) alt=(b.name) height="40";
                        } @else {
                            span class="brand-name" { (b.name) }
                        }
                    }
                }
                main { (body) }
                @if let Some(b) = footer {
                    footer class="brand-footer" {
                        @if let Some(url) = &b.privacy_policy_url {
                            a href=(url) rel="noopener noreferrer" { (fill(w.privacy, &[("org", &b.name)])) }
                        }
                        @if let Some(mail) = &b.support_email {
                            span { (w.contact) " " a href={ "mailto:" (mail) } { (mail) } }
                        }
                    }
                }
            }
        }
    }
}

/// A page that only says something (expired, withdrawn, done…).
pub fn message(w: &Words, heading: &str, text: &str) -> Markup {
    message_of(w, None, heading, text)
}

/// [`message`] with the employer's brand.
pub fn message_of(w: &Words, brand: Option<&Brand>, heading: &str, text: &str) -> Markup {
    branded(w.lang, heading, brand, html! { h1 { (heading) } p { (text) } })
}

pub struct Intro<'a> {
    pub brand: Option<&'a Brand>,
    pub organization: &'a str,
    pub role: &'a str,
    pub minutes: usize,
    pub base: &'a str,
    pub csrf: &'a str,
}

pub fn intro(w: &Words, i: &Intro<'_>) -> Markup {
    let minutes = i.minutes.to_string();
    branded(
        w.lang,
        w.title,
        i.brand,
        html! {
            h1 { (w.intro_heading) }
            p { (fill(w.intro, &[("org", i.organization), ("role", i.role)])) }
            p { (fill(w.expected_time, &[("minutes", &minutes)])) }
            p { (w.how_it_works) }
            h2 { (w.data_heading) }
            p { (fill(w.data_use, &[("org", i.organization)])) }
            div class="actions" {
                form method="post" action={ (i.base) "/start" } {
                    input type="hidden" name="csrf" value=(i.csrf);
                    button type="submit" { (w.start) }
                }
                form method="post" action={ (i.base) "/decline" } {
                    input type="hidden" name="csrf" value=(i.csrf);
                    button type="submit" class="secondary" aria-describedby="decline-hint" { (w.decline) }
                }
            }
            p id="decline-hint" class="muted" { (fill(w.decline_hint, &[("org", i.organization)])) }
        },
    )
}

/// One statement on the questions page.
pub struct Question<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub answer: Option<i32>,
}

pub struct QuestionsPage<'a> {
    pub brand: Option<&'a Brand>,
    pub base: &'a str,
    pub csrf: &'a str,
    pub page: usize,
    pub pages: usize,
    pub heading: &'a str,
    pub labels: &'a [String],
    pub questions: Vec<Question<'a>>,
    pub notice: Option<&'a str>,
    /// Mark the statements without an answer (the part was sent with some left out).
    pub mark_missing: bool,
    /// Opened from the review: saving returns there, and so does Back.
    pub from_review: bool,
}

pub fn questions(w: &Words, q: &QuestionsPage<'_>) -> Markup {
    let (n, total) = (q.page.to_string(), q.pages.to_string());
    let last = q.page == q.pages;
    let save = if q.from_review {
        w.save_return
    } else if last {
        w.save_review
    } else {
        w.save_next
    };
    let back = if q.from_review {
        Some(format!("{}/review", q.base))
    } else {
        (q.page > 1).then(|| format!("{}/q/{}", q.base, q.page - 1))
    };
    branded(
        w.lang,
        w.title,
        q.brand,
        html! {
            p class="progress" { (fill(w.part, &[("n", &n), ("total", &total)])) }
            h1 { (q.heading) }
            @if let Some(notice) = q.notice { p class="notice" role="alert" { (notice) } }
            form method="post" action={ (q.base) "/q/" (q.page) } {
                input type="hidden" name="csrf" value=(q.csrf);
                @if q.from_review { input type="hidden" name="from" value="review"; }
                @for (i, question) in q.questions.iter().enumerate() {
                    @let missing = q.mark_missing && question.answer.is_none();
                    @let described = if missing {
                        format!("hint-{id} missing-{id}", id = question.id)
                    } else {
                        format!("hint-{}", question.id)
                    };
                    fieldset class=[missing.then_some("missing")] {
                        legend { (i + 1) ". " (question.text) }
                        @if missing { p class="error" id={ "missing-" (question.id) } { (w.choose_answer) } }
                        p class="hint" id={ "hint-" (question.id) } { (w.statement_hint) }
                        div class="scale" {
                            @for (v, label) in q.labels.iter().enumerate() {
                                @let value = (v + 1) as i32;
                                label {
                                    input type="radio" name={ "item:" (question.id) } value=(value) required
                                        checked[question.answer == Some(value)]
                                        aria-invalid=[missing.then_some("true")]
                                        aria-describedby=(described);
                                    span { (label) }
                                }
                            }
                        }
                    }
                }
                div class="actions" {
                    button type="submit" { (save) }
                    @if let Some(back) = &back { a href=(back) { (w.back) } }
                }
            }
        },
    )
}

pub struct Review<'a> {
    pub brand: Option<&'a Brand>,
    pub base: &'a str,
    pub csrf: &'a str,
    pub answered: usize,
    pub total: usize,
    /// How many parts there are; Back goes to the last.
    pub pages: usize,
    /// (page number, heading) of pages with unanswered statements.
    pub missing: Vec<(usize, String)>,
}

pub fn review(w: &Words, r: &Review<'_>) -> Markup {
    let (answered, total) = (r.answered.to_string(), r.total.to_string());
    branded(
        w.lang,
        w.title,
        r.brand,
        html! {
            h1 { (w.review_heading) }
            p { (fill(w.review_progress, &[("answered", &answered), ("total", &total)])) }
            @if !r.missing.is_empty() {
                div class="notice" role="alert" {
                    p { (w.missing) }
                    ul { @for (page, heading) in &r.missing { li { a href={ (r.base) "/q/" (page) "?from=review" } { (heading) } } } }
                }
            }
            form method="post" action={ (r.base) "/submit" } {
                input type="hidden" name="csrf" value=(r.csrf);
                div class="actions" {
                    button type="submit" disabled[!r.missing.is_empty()] { (w.submit) }
                    a href={ (r.base) "/q/" (r.pages) } { (w.back) }
                }
            }
        },
    )
}
