//! The command line: `serve | migrate | seed | demo | openapi | token | operator`.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::admin::seed::{self, SeedReport};
use crate::auth::admin::{AdminTokens, Scope};
use crate::clock::{Clock, SystemClock};
use crate::config::{Environment, SecretSource, Settings};
use crate::crypto::Vault;
use crate::startup::{Application, Mode};
use crate::tenancy::spec::SeedFile;
use crate::{db, openapi, telemetry};

/// The demo seed, built in so that `demo` works from any directory.
pub const EXAMPLE_SEED: &str = include_str!("../examples/seed.json");

#[derive(Debug, Parser)]
#[command(
    name = "assessment-partner",
    version,
    about = "An assessment provider's server: Recruitment API, results delivered back to the ATS."
)]
struct Cli {
    /// A TOML settings file (keys as the AP_ variables without the prefix, lower-case).
    #[arg(long, global = true, env = "AP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve the API.
    Serve {
        /// Listen address (overrides AP_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Serve the API only; another process runs the delivery worker.
        #[arg(long, conflicts_with = "worker_only")]
        no_worker: bool,
        /// Run the delivery worker only, no HTTP.
        #[arg(long)]
        worker_only: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Upsert (by id) the lenses, integrators and organisations of a seed file.
    Seed {
        #[arg(long)]
        file: PathBuf,
    },
    /// Seed the demo data, print keys and signed curl examples, then serve.
    Demo {
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Seed file to use instead of the built-in examples/seed.json.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Overwrite the seeded lenses, integrators and organisations with the seed file's (by
        /// default only what the database lacks is seeded, so changes made since are kept).
        #[arg(long)]
        reseed: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Mint an admin API token.
    Token {
        /// One or more of: lenses.read lenses.write integrators.read integrators.write
        /// organizations.read organizations.write assessments.read results.write
        /// deliveries.read deliveries.write candidates.read candidates.erase audit.read
        #[arg(long = "scope", required = true, num_args = 1..)]
        scopes: Vec<Scope>,
        /// Lifetime, e.g. 15m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Who the token is for (the `sub` claim; shows in logs).
        #[arg(long, default_value = "admin")]
        subject: String,
    },
    /// Operator accounts of the console.
    Operator {
        #[command(subcommand)]
        action: OperatorCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Add an operator with these scopes (or all of them); the password (at least 12
    /// characters) is read from standard input, one line, and only its argon2id hash is stored.
    Add {
        #[arg(long)]
        email: String,
        /// One or more of the admin API's scopes (see `token --help`).
        #[arg(long = "scope", num_args = 1.., required_unless_present = "all_scopes", conflicts_with = "all_scopes")]
        scopes: Vec<Scope>,
        /// Every scope: the operator can open every console page and send every form.
        #[arg(long)]
        all_scopes: bool,
        /// Read the password from standard input (the only way to give it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the operators: address, scopes, and whether they are disabled.
    List,
    /// Stop an operator from signing in.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Let a disabled operator sign in again.
    Enable {
        #[arg(long)]
        email: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Command::Serve { bind, .. } | Command::Demo { bind, .. } => *bind,
        _ => None,
    };
    let settings = Settings::load(cli.config.as_deref(), bind)?;
    telemetry::init(settings.log_format);
    match cli.command {
        Command::Openapi => unreachable!("handled before the runtime starts"),
        Command::Serve {
            no_worker, worker_only, ..
        } => {
            let mode = match (no_worker, worker_only) {
                (true, _) => Mode::ApiOnly,
                (_, true) => Mode::WorkerOnly,
                _ => Mode::ApiAndWorker,
            };
            serve(settings, mode).await
        }
        Command::Migrate => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Seed { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("--file {}: {e}", file.display()))?;
            let seed_file = seed::parse(&text)?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let report = Seeder::new(&settings).apply(&db, &seed_file).await?;
            print_seed_report(&file.display().to_string(), &report);
            Ok(())
        }
        Command::Demo { file, reseed, .. } => demo(settings, file.as_deref(), reseed).await,
        Command::Operator { action } => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            operator(&db, action).await
        }
        Command::Token { scopes, ttl, subject } => {
            let ttl = chrono::Duration::from_std(ttl).map_err(|_| anyhow::anyhow!("--ttl is too long"))?;
            let tokens = AdminTokens::new(&settings.admin_jwt_secret).with_max_ttl(settings.admin_token_max_ttl);
            let token = tokens
                .mint_checked(&subject, &scopes, SystemClock.now(), ttl)
                .map_err(|e| anyhow::anyhow!("--ttl: {e}"))?;
            // Which secret signed it, so that a token a server refuses can be explained.
            match &settings.admin_secret_source {
                SecretSource::Setting => eprintln!("signed with AP_ADMIN_JWT_SECRET"),
                SecretSource::DevKeyFile { path, created } => eprintln!(
                    "signed with the admin secret of the development key file {}{}",
                    path.display(),
                    if *created {
                        " (created just now: only a server started from this directory, or with \
                         AP_DEV_KEY_FILE naming this file, accepts the token)"
                    } else {
                        ""
                    }
                ),
            }
            println!("{token}");
            Ok(())
        }
    }
}

async fn operator(db: &sea_orm::DatabaseConnection, action: OperatorCommand) -> anyhow::Result<()> {
    use crate::console::operators;
    let now = SystemClock.now();
    match action {
        OperatorCommand::Add {
            email,
            scopes,
            all_scopes,
            ..
        } => {
            let scopes = if all_scopes { Scope::ALL.to_vec() } else { scopes };
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password = secrecy::SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned());
            operators::add(db, &email, &scopes, &password, now).await?;
            println!("operator added");
        }
        OperatorCommand::List => {
            for o in operators::list(db).await? {
                let state = match o.disabled_at {
                    Some(at) => format!("disabled since {}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => "enabled".to_owned(),
                };
                println!("{}\t{}\t{state}", o.email, o.scopes.join(" "));
            }
        }
        OperatorCommand::Disable { email } => {
            let changed = operators::set_disabled(db, &email, true, now).await?;
            println!(
                "{}",
                if changed {
                    "operator disabled"
                } else {
                    "operator was disabled already"
                }
            );
        }
        OperatorCommand::Enable { email } => {
            let changed = operators::set_disabled(db, &email, false, now).await?;
            println!(
                "{}",
                if changed {
                    "operator enabled"
                } else {
                    "operator was enabled already"
                }
            );
        }
    }
    Ok(())
}

async fn serve(settings: Settings, mode: Mode) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = Application::build_with_mode(settings, Arc::new(SystemClock), mode).await?;
    log_serving(bind, &app, mode);
    app.run_until_stopped().await?;
    Ok(())
}

/// The one line that says where an instance listens (`demo` and `serve` alike; with `AP_BIND`'s
/// port 0 it is how a supervisor learns the port the system chose).
fn log_serving(bind: std::net::SocketAddr, app: &Application, mode: Mode) {
    tracing::info!(%bind, port = app.port(), ?mode, "serving");
}

/// What seeding needs of the settings (taken before the settings move into the application).
struct Seeder {
    vault: Vault,
    rules: crate::tenancy::store::Rules,
}

impl Seeder {
    fn new(settings: &Settings) -> Self {
        Self {
            vault: Vault::new(&settings.master_key),
            rules: crate::tenancy::store::Rules {
                link_orders_default: settings.env == Environment::Development,
                targets: crate::delivery::guard::Targets::new(settings.delivery.allow_private_networks),
            },
        }
    }

    /// Applies a parsed seed file to a connected, migrated database.
    async fn apply(&self, db: &sea_orm::DatabaseConnection, seed: &SeedFile) -> anyhow::Result<SeedReport> {
        Ok(seed::apply(db, &self.vault, seed, SystemClock.now(), self.rules).await?)
    }
}

fn print_seed_report(source: &str, report: &SeedReport) {
    println!(
        "seeded {source}: {} lens(es), {} integrator(s), {} organization(s)",
        report.lenses.len(),
        report.integrators.len(),
        report.organizations.len()
    );
    for org in &report.organizations {
        if let Some(key) = &org.generated_provider_key {
            println!(
                "  {} ({}): generated provider-key {key}  (shown once; stored hashed)",
                org.name, org.id
            );
        }
        if let Some(key) = &org.generated_partner_api_key {
            println!(
                "  {} ({}): generated Ashby partner key {key}  (shown once; stored hashed)",
                org.name, org.id
            );
        }
    }
}

async fn demo(settings: Settings, file: Option<&Path>, reseed: bool) -> anyhow::Result<()> {
    let (source, text) = match file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--file {}: {e}", path.display()))?,
        ),
        None => ("built-in examples/seed.json".to_owned(), EXAMPLE_SEED.to_owned()),
    };
    let seed: SeedFile = seed::parse(&text)?;
    let seeder = Seeder::new(&settings);
    let (bind, mode) = (settings.bind, Mode::ApiAndWorker);
    // Build (connect, migrate) first, then seed through the application's own connection.
    let app = Application::build_with_mode(settings, Arc::new(SystemClock), mode).await?;
    let report = if reseed {
        let report = seeder.apply(app.db(), &seed).await?;
        print_seed_report(&source, &report);
        println!("  (--reseed: every entry of the seed file was written over what the database held)");
        report
    } else {
        let (report, kept) =
            seed::apply_missing(app.db(), &seeder.vault, &seed, SystemClock.now(), seeder.rules).await?;
        print_seed_report(&source, &report);
        if kept.anything() {
            println!(
                "  kept as they are in the database: {} lens(es), {} integrator(s), {} organization(s){}\n  \
                 (changes made since the first start stay; `demo --reseed` writes the seed file over them,\n  \
                 and keys rotated since replace the ones printed below)",
                kept.lenses,
                kept.integrators,
                kept.organizations,
                if kept.locales { ", the offered locales" } else { "" }
            );
        }
        report
    };
    let base = format!("http://127.0.0.1:{}", app.port());
    let public = app.public_url().as_str().trim_end_matches('/').to_owned();
    println!(
        "{}",
        demo_instructions(
            &seed,
            &report,
            if public.contains("0.0.0.0") { &base } else { &public },
            &this_binary()
        )
    );
    log_serving(bind, &app, mode);
    app.run_until_stopped().await?;
    Ok(())
}

/// How to call this program from the current directory (the built binary, so that a hint runs
/// at once instead of building again): `./target/release/assessment-partner` from the project.
fn this_binary() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "assessment-partner".into();
    };
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(|p| format!("./{}", p.display())));
    let path = relative.unwrap_or_else(|| exe.display().to_string());
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c)) {
        path
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// The text `demo` prints: keys, then copy-paste commands that sign their own requests.
pub fn demo_instructions(seed: &SeedFile, report: &SeedReport, base_url: &str, binary: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let Some(org) = seed.organizations.first() else {
        return "The seed has no organization; nothing to demonstrate.".into();
    };
    let provider_key = org
        .provider_key
        .clone()
        .or_else(|| {
            report
                .organizations
                .first()
                .and_then(|o| o.generated_provider_key.clone())
        })
        .unwrap_or_else(|| "<provider-key>".into());
    let integrator = seed.integrators.iter().find(|i| i.id == Some(org.integrator_id));
    let secret = integrator
        .and_then(|i| i.secret.clone())
        .unwrap_or_else(|| "<integrator-secret>".into());
    let lens = org
        .lens_ids
        .first()
        .map(|l| l.to_string())
        .unwrap_or_else(|| "<lens-id>".into());
    let locale = seed.locales.first().cloned().unwrap_or_else(|| "en-US".into());
    let _ = writeln!(
        out,
        "\nOrganization: {} ({})",
        org.name,
        org.id.map(|i| i.to_string()).unwrap_or_default()
    );
    let _ = writeln!(out, "  provider-key:      {provider_key}");
    let _ = writeln!(out, "  integrator-secret: {secret}");
    for lens_id in &org.lens_ids {
        if let Some(l) = seed.lenses.iter().find(|l| l.id == Some(*lens_id)) {
            let _ = writeln!(out, "  lens:              {lens_id}  {}", l.name);
        }
    }
    let _ = writeln!(
        out,
        "  admin token:       {binary} token --scope assessments.read   (from this directory: same key file)"
    );
    let _ = writeln!(
        out,
        "\nPaste into a shell (bash or zsh; needs curl and openssl). Each command signs its own request:\n"
    );
    let _ = writeln!(out, "AP={base_url}");
    let _ = writeln!(out, "KEY='{provider_key}'");
    let _ = writeln!(out, "SECRET='{secret}'");
    let _ = writeln!(
        out,
        r#"sign() {{ t=$(date +%s); printf 't=%s,signature=%s' "$t" "$(printf '%s.%s' "$t" "$1" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')"; }}"#
    );
    let _ = writeln!(out, "\n# 1. What may this organization order?");
    let _ = writeln!(
        out,
        r#"curl -sS "$AP/recruitment/v1/config" -H "provider-key: $KEY" -H "Signature: $(sign '')"; echo"#
    );
    let _ = writeln!(
        out,
        "\n# 2. Order an assessment (the candidate is e-mailed an invitation)"
    );
    let body = |tag: &str| {
        format!(
            r#"RID="{tag}-$(date +%s)"; BODY=$(printf '{{"recruitment":{{"id":"demo-job-1","title":"Backend Developer","description":"Demo recruitment"}},"additionalRecruitmentCollaboratorsEmails":[],"resultUpdateUrl":"http://127.0.0.1:9999/results","resultId":"%s","lensId":"{lens}","locale":"{locale}","candidateDetails":{{"email":"%s@example.com"}}}}' "$RID" "$RID")"#
        )
    };
    let _ = writeln!(out, "{}", body("demo"));
    let _ = writeln!(
        out,
        r#"curl -sS -X POST "$AP/recruitment/v1/assessment-order" -H "provider-key: $KEY" -H 'Content-Type: application/json' -H "Signature: $(sign "$BODY")" --data-raw "$BODY"; echo"#
    );
    let _ = writeln!(out, "\n# 3. Order an assessment and get the candidate's link instead");
    let _ = writeln!(out, "{}", body("link"));
    let _ = writeln!(
        out,
        r#"curl -sS -X POST "$AP/recruitment/v1/assessment-link-order" -H "provider-key: $KEY" -H 'Content-Type: application/json' -H "Signature: $(sign "$BODY")" --data-raw "$BODY"; echo"#
    );
    let _ = writeln!(
        out,
        "\n# 4. Where the order of step 3 stands ($RID): its status, and the result once the candidate has finished"
    );
    let _ = writeln!(
        out,
        r#"curl -sS "$AP/recruitment/v1/results/$RID" -H "provider-key: $KEY" -H "Signature: $(sign '')"; echo"#
    );
    out.push_str(&ashby_instructions(org, report, &lens, binary));
    let _ = writeln!(
        out,
        "\n# 7. The operators' console: add yourself with every scope (the password, at least 12 characters, is read from standard input), then sign in at $AP/console/login"
    );
    let _ = writeln!(
        out,
        r#"read -rsp 'Console password: ' PASSWORD; echo; printf '%s\n' "$PASSWORD" | {binary} operator add --email you@example.com --all-scopes --password-stdin"#
    );
    let _ = writeln!(
        out,
        "\nAPI reference: {base_url}/docs   OpenAPI: {base_url}/openapi.json"
    );
    let _ = writeln!(
        out,
        "Secrets above are demo values from the seed file; never use them in production."
    );
    out
}

/// The Ashby part of the demo's text: `assessment.start` as Ashby sends it, and pointing the
/// organisation's `ashby.baseUrl` at a local receiver to see the `assessment.update` calls.
fn ashby_instructions(
    org: &crate::tenancy::spec::OrganizationSpec,
    report: &SeedReport,
    lens: &str,
    binary: &str,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let partner_key = org.ashby.as_ref().and_then(|a| a.partner_api_key.clone()).or_else(|| {
        report
            .organizations
            .first()
            .and_then(|o| o.generated_partner_api_key.clone())
    });
    let (Some(partner_key), Some(org_id)) = (partner_key, org.id) else {
        return out;
    };
    let _ = writeln!(
        out,
        "\n# 5. Ashby: start an assessment as Ashby does (HTTP Basic: the partner key is the user name, no password)"
    );
    let _ = writeln!(
        out,
        r#"AID="demo-$(date +%s)"; ABODY=$(printf '{{"assessment_type_id":"{lens}","candidate":{{"ashby_id":"c-%s","first_name":"Ada","last_name":"Lovelace","email":"ada-%s@example.com"}},"application":{{"ashby_id":"app-%s","status":"Active"}},"job":{{"ashby_id":"job-1","name":"Backend Engineer"}}}}' "$AID" "$AID" "$AID")"#
    );
    let _ = writeln!(
        out,
        r#"curl -sS -X POST "$AP/ashby/assessment.start" -u '{partner_key}:' -H 'Content-Type: application/json' --data-raw "$ABODY"; echo"#
    );
    let lens_ids = org
        .lens_ids
        .iter()
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(",");
    let name = serde_json::to_string(&org.name).unwrap_or_else(|_| "\"\"".into());
    let _ = writeln!(
        out,
        "\n# 6. See the assessment.update calls Ashby would get: run `python3 examples/receiver.py 9998`, then point\n\
         #    the organisation's ashby.baseUrl at it (the keys stay as they are)"
    );
    let _ = writeln!(
        out,
        r#"curl -sS -X PUT "$AP/admin/v1/organizations/{org_id}" -H "Authorization: Bearer $({binary} token --scope organizations.write)" -H 'Content-Type: application/json' --data-raw '{{"name":{name},"integratorId":"{integrator}","lensIds":[{lens_ids}],"ashby":{{"baseUrl":"http://127.0.0.1:9998"}}}}'; echo"#,
        integrator = org.integrator_id,
        name = name.replace('\'', "'\\''"),
    );
    out
}
