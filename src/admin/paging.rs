//! Cursor pagination for admin listings ordered by UUIDv7 id (that is, by creation): the cursor
//! is the last id of the previous page, opaque to clients.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::ApiError;

/// Refuses time filters outside the years 0000 to 9999: SQLite keeps times as text, which
/// orders only four-digit years as time.
pub fn check_time_bounds(bounds: &[(&str, Option<chrono::DateTime<chrono::Utc>>)]) -> Result<(), ApiError> {
    use chrono::Datelike;
    for (field, bound) in bounds {
        if bound.is_some_and(|t| !(0..=9999).contains(&t.year())) {
            return Err(ApiError::invalid(*field, "must be a time in the years 0000 to 9999"));
        }
    }
    Ok(())
}

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

pub struct Paging {
    pub limit: u64,
    /// Rows with ids after this one.
    pub after: Option<Uuid>,
}

impl Paging {
    pub fn parse(limit: Option<u64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("must be 1 to {MAX_LIMIT}")));
        }
        let after = cursor
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| Uuid::from_slice(&b).ok())
                    .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave out"))
            })
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Where the page starts: the admin API's lists are oldest first.
    pub fn cursor(&self) -> crate::db::Cursor {
        crate::db::Cursor::oldest_first(self.after)
    }

    /// How many rows to fetch: one more than a page, to know whether another page follows.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// Cuts the fetched rows to a page and makes the next cursor, if there is a next page.
    pub fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<String>) {
        if rows.len() as u64 > self.limit {
            rows.truncate(self.limit as usize);
            let next = rows.last().map(|r| URL_SAFE_NO_PAD.encode(id(r).as_bytes()));
            (rows, next)
        } else {
            (rows, None)
        }
    }
}
