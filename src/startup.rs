//! Building the application: database, state, HTTP server on a bound listener.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;

use crate::auth::admin::AdminTokens;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::Vault;
use crate::error::ApiError;
use crate::links::LinkSigner;
use crate::state::AppState;
use crate::{admin, db, health, openapi, recruitment, telemetry};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Connects, migrates, binds. The server is not yet running: call `run_until_stopped`.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let db = db::connect(&settings).await?;
        db::migrate(&db).await?;
        Self::build_with_db(settings, clock, db)
    }

    pub fn build_with_db(
        settings: Settings,
        clock: SharedClock,
        db: DatabaseConnection,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind)
            .map_err(|e| anyhow::anyhow!("AP_BIND: cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let mut public_url = settings.public_url.clone();
        // With port 0 (tests), the public URL learns the real port.
        if settings.bind.port() == 0 && public_url.port() == Some(0) {
            let _ = public_url.set_port(Some(port));
        }
        let state = AppState {
            db,
            vault: Vault::new(&settings.master_key),
            clock,
            admin_tokens: Arc::new(AdminTokens::new(&settings.admin_jwt_secret)),
            links: Arc::new(LinkSigner::new(&settings.master_key, public_url.clone())),
            env: settings.env,
            public_url,
            signature_tolerance: settings.signature_tolerance,
            invitation_ttl: settings.invitation_ttl,
            max_body_bytes: settings.max_body_bytes,
        };
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
                )
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::bad_request(e.to_string()).into()),
                )
                .wrap(NormalizePath::new(TrailingSlash::Trim))
                .wrap(from_fn(telemetry::request_span))
                .configure(recruitment::configure)
                .configure(admin::configure)
                .configure(health::configure)
                .configure(openapi::configure)
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(ApiError::NotFound(
                        "No such endpoint.".into(),
                    ))
                }))
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn public_url(&self) -> &url::Url {
        &self.state.public_url
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
