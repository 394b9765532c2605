//! E-mail: SMTP (`AP_SMTP_URL`) or, without it, `.eml` files in a folder.
use std::path::PathBuf;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::delivery::outbox::EmailPayload;
use crate::delivery::policy::Verdict;
use crate::delivery::report::AttemptReport;

/// The text as 8-bit (RFC 6152), so that no line (a link above all) is wrapped or encoded on
/// its way to the reader: lettre's own choice turns any line of 76 characters or more into
/// quoted-printable, which breaks a link with `=` at the line's end. 8-bit MIME allows lines of
/// up to 998 bytes, and every mail server of today takes it; a text that does not fit (a longer
/// line, a NUL, a bare CR) falls back to lettre's choice.
fn body(text: &str) -> Body {
    let fits = !text.contains(['\0', '\r']) && text.lines().all(|line| line.len() <= 998);
    if fits {
        Body::dangerous_pre_encoded(
            text.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::EightBit,
        )
    } else {
        Body::new(text.to_owned())
    }
}

/// A mail server's error may quote the recipient; what is logged and stored as the attempt's
/// error names no address.
fn redact_addresses(error: &str) -> String {
    error
        .split_inclusive(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ',' | ';' | '(' | ')'))
        .map(|part| {
            let word = part.trim_end_matches(|c: char| {
                c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ',' | ';' | '(' | ')')
            });
            if word.contains('@') {
                part.replacen(word, "<address>", 1)
            } else {
                part.to_owned()
            }
        })
        .collect()
}

#[derive(Clone)]
pub enum MailTransport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: MailTransport,
    from: Mailbox,
}

impl Mailer {
    /// `connections`: SMTP connections kept open, one per attempt that may be in flight (the
    /// worker's concurrency). lettre opens a connection whenever none is idle and keeps at most
    /// this many when they come back; with its default of 10 and 32 attempts in flight, most
    /// e-mails of a burst paid a connect, EHLO and QUIT of their own.
    pub fn new(
        smtp_url: Option<&str>,
        outbox_dir: PathBuf,
        from: &str,
        timeout: std::time::Duration,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("AP_MAIL_FROM: '{from}' is not a mailbox: {e}"))?;
        let transport = match smtp_url {
            Some(url) => MailTransport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("AP_SMTP_URL: {e}"))?
                    .timeout(Some(timeout))
                    .pool_config(PoolConfig::new().max_size(u32::try_from(connections.max(1)).unwrap_or(u32::MAX)))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&outbox_dir)
                    .map_err(|e| anyhow::anyhow!("AP_MAIL_OUTBOX_DIR {}: {e}", outbox_dir.display()))?;
                MailTransport::Files(AsyncFileTransport::<Tokio1Executor>::new(outbox_dir))
            }
        };
        Ok(Self { transport, from })
    }

    pub async fn send(&self, mail: &EmailPayload, delivery_id: &str) -> AttemptReport {
        let to: Mailbox = match mail.to.parse() {
            Ok(to) => to,
            Err(e) => {
                let mut report = AttemptReport::failed(redact_addresses(&format!("invalid recipient: {e}")));
                report.verdict = Verdict::Final;
                return report;
            }
        };
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{delivery_id}@assessment-partner>")));
        // Text, and the same in HTML when the e-mail has it (multipart/alternative).
        let message = match &mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(body(&mail.text)),
                    )
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(body(html))),
            ),
            None => builder.header(ContentType::TEXT_PLAIN).body(body(&mail.text)),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                let mut report = AttemptReport::failed(redact_addresses(&format!("cannot build the message: {e}")));
                report.verdict = Verdict::Final;
                return report;
            }
        };
        let result = match &self.transport {
            MailTransport::Smtp(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| (e.is_permanent(), e.to_string())),
            MailTransport::Files(t) => t.send(message).await.map(|_| ()).map_err(|e| (false, e.to_string())),
        };
        match result {
            Ok(()) => AttemptReport {
                status: None,
                error: None,
                excerpt: None,
                retry_after: None,
                verdict: Verdict::Delivered,
            },
            Err((permanent, error)) => {
                let mut report = AttemptReport::failed(redact_addresses(&error));
                if permanent {
                    report.verdict = Verdict::Final;
                }
                report
            }
        }
    }
}

/// Deletes from `outbox_dir` the `.eml` files of these deliveries (a message's `Message-ID`
/// names its delivery), as an erasure asks; how many went. Files that cannot be read or deleted
/// are logged and left.
pub async fn forget(outbox_dir: &std::path::Path, delivery_ids: &[uuid::Uuid]) -> usize {
    if delivery_ids.is_empty() {
        return 0;
    }
    let dir = outbox_dir.to_path_buf();
    let marks: Vec<String> = delivery_ids
        .iter()
        .map(|id| format!("<{id}@assessment-partner>"))
        .collect();
    let scan = move || {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return 0;
        };
        let mut deleted = 0;
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if marks.iter().any(|m| text.contains(m.as_str())) {
                match std::fs::remove_file(&path) {
                    Ok(()) => deleted += 1,
                    Err(e) => tracing::warn!(error = %e, "could not delete an erased candidate's .eml file"),
                }
            }
        }
        deleted
    };
    tokio::task::spawn_blocking(scan).await.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_no_address() {
        assert_eq!(
            redact_addresses("550 5.1.1 <ada@example.com>: Recipient address rejected"),
            "550 5.1.1 <<address>>: Recipient address rejected"
        );
        assert_eq!(redact_addresses("to bob@x.se, failed"), "to <address>, failed");
        assert_eq!(redact_addresses("connection refused"), "connection refused");
    }

    #[test]
    fn a_long_link_is_not_wrapped() {
        let link = format!("https://assessments.example.com/a/{}", "x".repeat(90));
        let message = Message::builder()
            .from("a@example.com".parse().unwrap())
            .to("b@example.com".parse().unwrap())
            .subject("s")
            .header(ContentType::TEXT_PLAIN)
            .body(body(&format!("Hej då!\n\n{link}\n")))
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains(&link), "{raw}");
        assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
    }
}
