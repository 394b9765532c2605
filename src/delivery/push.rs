//! The result push: POST the result to the order's `resultUpdateUrl`, signed like inbound
//! requests, with the integrator's callback auth, an `Idempotency-Key` and our `User-Agent`.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::delivery::guard;
use crate::delivery::policy::parse_retry_after;
use crate::delivery::report::{AttemptReport, EXCERPT_LIMIT, excerpt};
use crate::secrets::CallbackAuth;
use crate::signature;

pub const USER_AGENT: &str = concat!("assessment-partner/", env!("CARGO_PKG_VERSION"));

/// OAuth2 access tokens by (token URL, client id), with their expiry.
type TokenCache = HashMap<(String, String), (String, DateTime<Utc>)>;

/// Sends HTTP callbacks. One per worker: it holds the connection pool and the OAuth2 tokens.
#[derive(Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    allow_private: bool,
    tokens: Arc<Mutex<TokenCache>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// One HTTP POST to make.
pub struct Post<'a> {
    pub url: &'a str,
    pub body: &'a [u8],
    pub idempotency_key: &'a str,
    /// The integrator's live secrets to sign with, newest first: one `signature=` entry each
    /// (two during a rotation's overlap); none, no `Signature` header.
    pub signing_secrets: &'a [&'a [u8]],
    pub auth: &'a CallbackAuth,
    pub now: DateTime<Utc>,
    /// A test push: sent with `Test-Delivery: true`.
    pub test_delivery: bool,
}

impl HttpSender {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(64);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(guard::PublicOnlyResolver));
        }
        Ok(Self {
            client: builder.build()?,
            allow_private,
            tokens: Arc::default(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Checks a target before sending: literal addresses do not go through the resolver.
    pub fn check_target(&self, url: &str) -> Result<reqwest::Url, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("not an http(s) URL".into());
        }
        if !self.allow_private {
            guard::check_host(&parsed).map_err(|e| format!("blocked: the URL {e}"))?;
        }
        Ok(parsed)
    }

    async fn bearer_token(
        &self,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let key = (token_url.to_owned(), client_id.to_owned());
        if let Some((token, expires)) = self.tokens.lock().await.get(&key)
            && *expires > now + chrono::Duration::seconds(30)
        {
            return Ok(token.clone());
        }
        let url = self.check_target(token_url)?;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .client
            .post(url)
            .basic_auth(client_id, Some(client_secret))
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("token endpoint answered HTTP {}", status.as_u16()));
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| format!("token response unreadable: {e}"))?;
        let expires = now + chrono::Duration::seconds(token.expires_in.unwrap_or(300).max(0));
        self.tokens
            .lock()
            .await
            .insert(key, (token.access_token.clone(), expires));
        Ok(token.access_token)
    }

    async fn forget_token(&self, auth: &CallbackAuth) {
        if let CallbackAuth::OAuth2ClientCredentials {
            token_url, client_id, ..
        } = auth
        {
            self.tokens.lock().await.remove(&(token_url.clone(), client_id.clone()));
        }
    }

    /// A POST to a checked target.
    pub fn post_to(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        Ok(self.client.post(self.check_target(url)?))
    }

    /// Sends a request and reads what came back (status, `Retry-After`, the first bytes).
    pub async fn execute(&self, request: reqwest::RequestBuilder, now: DateTime<Utc>) -> Result<Answer, String> {
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let retry_after = if matches!(status, 429 | 503) {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now))
        } else {
            None
        };
        let body = read_limited(response).await;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// Makes one attempt of a result push. Never panics on what the network does.
    pub async fn post(&self, post: Post<'_>) -> AttemptReport {
        let mut request = match self.post_to(post.url) {
            Ok(r) => r
                .header(CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", post.idempotency_key)
                .body(post.body.to_vec()),
            Err(e) => return AttemptReport::failed(e),
        };
        if post.test_delivery {
            request = request.header("Test-Delivery", "true");
        }
        if !post.signing_secrets.is_empty() {
            request = request.header(
                "Signature",
                signature::header_value_all(post.signing_secrets, post.now.timestamp(), post.body),
            );
        }
        request = match post.auth {
            CallbackAuth::None => request,
            CallbackAuth::ApiKey { api_key } => request.header("integrator-api-key", api_key),
            CallbackAuth::Basic { username, password } => request.basic_auth(username, Some(password)),
            CallbackAuth::OAuth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => {
                match self
                    .bearer_token(token_url, client_id, client_secret, scope.as_deref(), post.now)
                    .await
                {
                    Ok(token) => request.bearer_auth(token),
                    Err(e) => return AttemptReport::failed(e),
                }
            }
        };
        match self.execute(request, post.now).await {
            Ok(answer) => {
                if answer.status == 401 {
                    self.forget_token(post.auth).await;
                }
                AttemptReport::answered(answer.status, excerpt(&answer.body), answer.retry_after)
            }
            Err(e) => AttemptReport::failed(e),
        }
    }
}

/// What a receiver answered.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Reads at most a little more than the excerpt limit, so a huge answer costs nothing.
pub async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= EXCERPT_LIMIT {
            break;
        }
    }
    out
}

/// reqwest's error with its causes, without the URL (which may carry a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect not followed"
    } else {
        "request failed"
    };
    let mut message = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
