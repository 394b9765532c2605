//! The report as a PDF document (`/r/{token}?format=pdf`): what the page shows, on A4, made with
//! krilla and the embedded DejaVu Sans (`assets/fonts`, subset into the file), so every letter of
//! the four locales renders and a text extractor reads it back. Lines are broken by the font's
//! own advance widths; a long report flows onto further pages.
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use crate::assessment::report::Report;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("the PDF could not be written: {0:?}")]
    Write(krilla::error::KrillaError),
}

/// The two faces, read once (a report is drawn with them many times).
static FACES: std::sync::LazyLock<Option<(Face, Face)>> =
    std::sync::LazyLock::new(|| Some((Face::load(REGULAR).ok()?, Face::load(BOLD).ok()?)));

/// A font with what line breaking needs: its advance widths.
struct Face {
    font: Font,
    metrics: ttf_parser::Face<'static>,
}

impl Face {
    fn load(data: &'static [u8]) -> Result<Self, PdfError> {
        Ok(Self {
            font: Font::new(data.into(), 0).ok_or(PdfError::Font)?,
            metrics: ttf_parser::Face::parse(data, 0).map_err(|_| PdfError::Font)?,
        })
    }

    /// The width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text
            .chars()
            .map(|c| {
                self.metrics
                    .glyph_index(c)
                    .and_then(|g| self.metrics.glyph_hor_advance(g))
                    .map_or(0.0, f32::from)
            })
            .sum();
        units * size / f32::from(self.metrics.units_per_em())
    }

    /// `text` broken into lines no wider than `width` (a word longer than a line stands alone).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && self.width(&candidate, size) > width {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

/// What is written on the pages, top to bottom; laid out by [`Writer`].
enum Block {
    Text {
        text: String,
        size: f32,
        bold: bool,
        grey: bool,
        /// Space above.
        gap: f32,
    },
    /// A label on the left and a value on the right of one line.
    Pair { left: String, right: String, size: f32 },
    /// A 0..100 bar.
    Bar(i32),
}

fn blocks(r: &Report) -> Vec<Block> {
    let l = r.labels();
    let text = |text: String, size: f32, bold: bool, gap: f32| Block::Text {
        text,
        size,
        bold,
        grey: false,
        gap,
    };
    let mut completed = format!("{}: {}", l.completed, r.completed_at.format("%Y-%m-%d %H:%M UTC"));
    if let Some(m) = r.minutes {
        completed = format!("{completed} · {}", l.took(m));
    }
    let mut out = vec![text(l.title.to_owned(), 20.0, true, 0.0)];
    if r.sample {
        out.push(text(l.sample.to_owned(), 12.0, true, 8.0));
    }
    out.extend([
        text(format!("{}: {}", l.organization, r.organization), 10.5, false, 14.0),
        text(format!("{}: {}", l.assessment, r.lens), 10.5, false, 3.0),
        text(
            format!("{}: {}", l.role, r.role.as_deref().unwrap_or("—")),
            10.5,
            false,
            3.0,
        ),
        text(format!("{}: {}", l.candidate, r.candidate), 10.5, false, 3.0),
        text(completed, 10.5, false, 3.0),
        text(l.overall.to_owned(), 14.0, true, 22.0),
        Block::Pair {
            left: format!("{} / 100", r.score),
            right: l.band(r.band).to_owned(),
            size: 12.0,
        },
        Block::Bar(r.score),
        text(l.competencies.to_owned(), 14.0, true, 22.0),
    ]);
    for c in &r.competencies {
        out.push(Block::Pair {
            left: c.name.clone(),
            right: format!("{} / 100 · {}", c.score, l.band(c.band)),
            size: 11.0,
        });
        out.push(Block::Bar(c.score));
        if !c.sentence.is_empty() {
            out.push(Block::Text {
                text: c.sentence.clone(),
                size: 9.5,
                bold: false,
                grey: true,
                gap: 2.0,
            });
        }
    }
    out.push(Block::Text {
        text: l.legend.to_owned(),
        size: 9.0,
        bold: false,
        grey: true,
        gap: 18.0,
    });
    out
}

/// The report as a PDF file.
/// The line at the foot of every page: when the document was made, that it is confidential,
/// the role, and the page's number of all.
fn footer(r: &Report, generated: chrono::DateTime<chrono::Utc>, n: usize, total: usize) -> String {
    let l = r.labels();
    let mut parts = vec![
        l.generated.replace("{date}", &generated.format("%Y-%m-%d").to_string()),
        l.confidential.to_owned(),
    ];
    if let Some(role) = &r.role {
        parts.push(format!("{}: {role}", l.role));
    }
    parts.push(
        l.page
            .replace("{n}", &n.to_string())
            .replace("{total}", &total.to_string()),
    );
    parts.join(" · ")
}

pub fn render(r: &Report, generated: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>, PdfError> {
    let (regular, bold) = FACES.as_ref().ok_or(PdfError::Font)?;
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} – {}", r.labels().title, r.candidate))
            .language(r.locale.clone())
            .creator("assessment-partner".into()),
    );
    // Lay out first (which lines on which page), then draw each page.
    let mut pages: Vec<Vec<(f32, Drawn)>> = vec![Vec::new()];
    let mut y = MARGIN;
    for block in blocks(r) {
        let (height, drawn) = measure(&block, regular, bold);
        let gap = match &block {
            Block::Text { gap, .. } => *gap,
            Block::Pair { .. } => 10.0,
            Block::Bar(_) => 3.0,
        };
        if y + gap + height > PAGE_HEIGHT - MARGIN {
            pages.push(Vec::new());
            y = MARGIN;
        } else {
            y += gap;
        }
        if let Some(page) = pages.last_mut() {
            page.push((y, drawn));
        }
        y += height;
    }
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(PdfError::Font)?;
    let total = pages.len();
    for (i, items) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for (top, drawn) in items {
            draw(&mut surface, top, drawn, regular, bold);
        }
        // In the bottom margin, below everything the layout placed.
        let foot = Drawn::Lines {
            lines: regular.wrap(&footer(r, generated, i + 1, total), 8.0, WIDTH),
            size: 8.0,
            bold: false,
            grey: true,
        };
        draw(&mut surface, PAGE_HEIGHT - MARGIN + 18.0, foot, regular, bold);
        surface.finish();
        page.finish();
    }
    document.finish().map_err(PdfError::Write)
}

/// A block measured: what to draw from its top.
enum Drawn {
    Lines {
        lines: Vec<String>,
        size: f32,
        bold: bool,
        grey: bool,
    },
    Pair {
        left: String,
        right: String,
        size: f32,
    },
    Bar(i32),
}

const LEADING: f32 = 1.35;
const BAR_HEIGHT: f32 = 6.0;

fn measure(block: &Block, regular: &Face, bold: &Face) -> (f32, Drawn) {
    match block {
        Block::Text {
            text,
            size,
            bold: is_bold,
            grey,
            ..
        } => {
            let face = if *is_bold { bold } else { regular };
            let lines = face.wrap(text, *size, WIDTH);
            let height = lines.len() as f32 * size * LEADING;
            (
                height,
                Drawn::Lines {
                    lines,
                    size: *size,
                    bold: *is_bold,
                    grey: *grey,
                },
            )
        }
        Block::Pair { left, right, size } => (
            size * LEADING,
            Drawn::Pair {
                left: left.clone(),
                right: right.clone(),
                size: *size,
            },
        ),
        Block::Bar(score) => (BAR_HEIGHT, Drawn::Bar(*score)),
    }
}

fn fill(colour: rgb::Color) -> Option<Fill> {
    Some(Fill {
        paint: colour.into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    })
}

fn draw(surface: &mut Surface<'_>, top: f32, drawn: Drawn, regular: &Face, bold: &Face) {
    let ink = rgb::Color::new(20, 20, 20);
    let grey = rgb::Color::new(90, 90, 90);
    match drawn {
        Drawn::Lines {
            lines,
            size,
            bold: is_bold,
            grey: is_grey,
        } => {
            let face = if is_bold { bold } else { regular };
            surface.set_fill(fill(if is_grey { grey } else { ink }));
            for (i, line) in lines.iter().enumerate() {
                // The baseline sits about four fifths of the font size below the line's top.
                let baseline = top + i as f32 * size * LEADING + size * 0.8 * LEADING;
                text(surface, face, size, MARGIN, baseline, line);
            }
        }
        Drawn::Pair { left, right, size } => {
            let baseline = top + size * 0.8 * LEADING;
            surface.set_fill(fill(ink));
            text(surface, bold, size, MARGIN, baseline, &left);
            let x = MARGIN + WIDTH - regular.width(&right, size);
            text(surface, regular, size, x, baseline, &right);
        }
        Drawn::Bar(score) => {
            let filled = WIDTH * score.clamp(0, 100) as f32 / 100.0;
            for (width, colour) in [
                (WIDTH, rgb::Color::new(225, 228, 232)),
                (filled, rgb::Color::new(37, 99, 235)),
            ] {
                let mut path = PathBuilder::new();
                if let Some(rect) = Rect::from_xywh(MARGIN, top, width, BAR_HEIGHT) {
                    path.push_rect(rect);
                }
                if let Some(path) = path.finish() {
                    surface.set_fill(fill(colour));
                    surface.draw_path(&path);
                }
            }
        }
    }
}

fn text(surface: &mut Surface<'_>, face: &Face, size: f32, x: f32, baseline: f32, line: &str) {
    surface.draw_text(
        Point::from_xy(x, baseline),
        face.font.clone(),
        size,
        line,
        false,
        TextDirection::Auto,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::report::Line;
    use crate::assessment::scoring::{Band, band};

    fn report(locale: &str, competencies: usize) -> Report {
        Report {
            locale: locale.into(),
            organization: "Fjällräven Øst AB".into(),
            lens: "Ledarskap".into(),
            candidate: "Åsa Ørnsdóttir <asa@example.com>".into(),
            completed_at: chrono::Utc::now(),
            minutes: Some(12),
            score: 72,
            band: Band::Strong,
            sample: false,
            role: Some("Teamledare".into()),
            brand: None,
            competencies: (0..competencies)
                .map(|i| {
                    let score = (i * 13 % 101) as i32;
                    Line {
                        name: format!("Kompetens {i}"),
                        score,
                        band: band(score),
                        sentence: "Kandidaten beskriver sig som någon som gör det som utlovats och öppet erkänner misstag, och hanterar sannolikt konfidentiell information på ett ansvarsfullt sätt.".into(),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn a_report_is_a_pdf_with_its_fonts_embedded() {
        let bytes = render(&report("sv-SE", 4), chrono::Utc::now()).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/FontFile2"), "the font program is in the file");
        assert_eq!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count(),
            1
        );
    }

    #[test]
    fn a_long_report_flows_onto_more_pages() {
        let short = render(&report("en-US", 2), chrono::Utc::now()).unwrap();
        let long = render(&report("en-US", 40), chrono::Utc::now()).unwrap();
        let pages = |b: &[u8]| String::from_utf8_lossy(b).matches("/Type /Page").count();
        assert!(pages(&long) > pages(&short), "{} > {}", pages(&long), pages(&short));
    }

    #[test]
    fn lines_break_within_the_width() {
        let face = Face::load(REGULAR).unwrap();
        let sentence = report("sv-SE", 1).competencies[0].sentence.clone();
        let lines = face.wrap(&sentence, 10.0, 200.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 200.0));
        assert_eq!(lines.join(" "), sentence);
    }
}
