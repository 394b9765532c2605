//! E-mail: SMTP (`AP_SMTP_URL`) or, without it, `.eml` files in a folder.
use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::delivery::outbox::EmailPayload;
use crate::delivery::policy::Verdict;
use crate::delivery::report::AttemptReport;

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
                let mut report = AttemptReport::failed(format!("invalid recipient: {e}"));
                report.verdict = Verdict::Final;
                return report;
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .message_id(Some(format!("<{delivery_id}@assessment-partner>")))
            .body(mail.text.clone());
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                let mut report = AttemptReport::failed(format!("cannot build the message: {e}"));
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
                let mut report = AttemptReport::failed(error);
                if permanent {
                    report.verdict = Verdict::Final;
                }
                report
            }
        }
    }
}
