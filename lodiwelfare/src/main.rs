//! `lodiwelfare`: every LodiWelfare service in one process on embedded storage.
//!
//! Usage: `lodiwelfare [--config FILE] [--data-dir DIR] [serve [--no-demo]]`, `lodiwelfare demo`,
//! `lodiwelfare migrate`, `lodiwelfare reindex`, `lodiwelfare export-hsds [--out FILE]`,
//! `lodiwelfare check-config`,
//! `lodiwelfare token --role ROLE --subject ID [--provider ID] [--company ID] [--days N]`,
//! `lodiwelfare --version`. Every setting can also come from `LODIWELFARE__…` environment
//! variables (see `welfare_runtime::config`).
//!
//! `serve` on a new data directory, in development mode, first loads the demo Ambito (see
//! `lodiwelfare::demo`) and prints a token for each role and three commands to try; `--no-demo`
//! skips it; `demo` loads it into an existing data directory and exits.
//!
//! `migrate` creates or upgrades the three databases of the data directory and exits.
//! `reindex` rebuilds the Meilisearch index (`search.engine = "meilisearch"`) from the catalogue
//! and swaps it in; the embedded index is rebuilt at every start, and `reindex` says so.
//! `export-hsds` writes the public catalogue in Open Referral HSDS 3.0 as JSON Lines — one
//! `{"record_type": …, "record": {…}}` a line, as `ExportCatalog` streams it — to `--out FILE`
//! (written to a temporary file and renamed, so it is whole or absent) or standard output.
//! `import-hsds FILE` loads another directory's HSDS catalogue in that form (see
//! `catalog_svc::hsds::import`): organizations become providers awaiting vetting, services
//! listings awaiting the Ufficio di Piano's review, in one transaction. Every record refused is
//! listed on standard error with its reason; then nothing is imported unless `--skip-refused`
//! says to import the others. Records the catalogue already has (by id) are left as they are.
//!
//! `token` mints a development token (HS256, signed with the secret `serve` keeps in the data
//! directory) for a role — citizen, employee, company_admin, provider_operator, curator,
//! operator, partner_system — and prints it; production deployments take their tokens from
//! their identity provider, and `token` refuses to mint one.
//!
//! `serve`, `demo`, `migrate` and `import-hsds` hold the data directory locked
//! (`lodiwelfare.lock`): a second process writing to the same directory is refused, naming the
//! one that holds it.
//!
//! Exit codes: 0 stopped on SIGINT/SIGTERM after draining (or a command done); 1 failed while
//! starting or serving (a port in use, an unwritable data directory, a data directory in use…) or a command failed (a
//! malformed HSDS file, refused records without `--skip-refused`: nothing changed); 2 a usage
//! or configuration error (nothing was started).

// A command-line program answers its commands on standard output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use lodiwelfare::config::LodiwelfareConfig;
use lodiwelfare::{demo, startup};
use welfare_core::auth::{Principal, Role};
use welfare_core::ids::{CompanyId, PersonId, ProviderId};
use welfare_runtime::auth::development_token;
use welfare_runtime::clock::system_clock;
use welfare_runtime::config::ServiceConfig;
use welfare_runtime::process::{Failure, run_service, usage_error};
use welfare_runtime::{Application, shutdown_signal};

const USAGE: &str = "usage: lodiwelfare [--config FILE] [--data-dir DIR] [serve [--no-demo] | \
    demo | migrate | reindex | export-hsds [--out FILE] | import-hsds FILE [--skip-refused] | check-config | token --role ROLE --subject ID [--provider ID] [--company ID] [--days N] | --version]";

/// The longest a minted development token lives, in days.
const MAX_TOKEN_DAYS: i64 = 365;

enum Command {
    Serve,
    Demo,
    Migrate,
    Reindex,
    ExportHsds,
    ImportHsds(Option<PathBuf>),
    CheckConfig,
    Token(TokenRequest),
}

#[derive(Default)]
struct TokenRequest {
    role: Option<String>,
    subject: Option<String>,
    provider: Option<String>,
    company: Option<String>,
    days: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    let mut data_dir = None;
    let mut command = Command::Serve;
    let mut no_demo = false;
    let mut out = None;
    let mut skip_refused = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => match args.next() {
                Some(path) => config_file = Some(PathBuf::from(path)),
                None => return usage_error("lodiwelfare", "--config needs a file"),
            },
            "--data-dir" => match args.next() {
                Some(path) => data_dir = Some(PathBuf::from(path)),
                None => return usage_error("lodiwelfare", "--data-dir needs a directory"),
            },
            "--version" => {
                println!("lodiwelfare {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "serve" => command = Command::Serve,
            "demo" => command = Command::Demo,
            "migrate" => command = Command::Migrate,
            "reindex" => command = Command::Reindex,
            "export-hsds" => command = Command::ExportHsds,
            "--out" => match args.next() {
                Some(path) => out = Some(PathBuf::from(path)),
                None => return usage_error("lodiwelfare", "--out needs a file"),
            },
            "import-hsds" => match args.next() {
                Some(path) => command = Command::ImportHsds(Some(PathBuf::from(path))),
                None => return usage_error("lodiwelfare", "import-hsds needs a file"),
            },
            "--skip-refused" => skip_refused = true,
            "--no-demo" => no_demo = true,
            "check-config" => command = Command::CheckConfig,
            "token" => command = Command::Token(TokenRequest::default()),
            flag @ ("--role" | "--subject" | "--provider" | "--company" | "--days") => {
                let Command::Token(request) = &mut command else {
                    return usage_error(
                        "lodiwelfare",
                        &format!("{flag} belongs to `token`; {USAGE}"),
                    );
                };
                let Some(value) = args.next() else {
                    return usage_error("lodiwelfare", &format!("{flag} needs a value"));
                };
                let slot = match flag {
                    "--role" => &mut request.role,
                    "--subject" => &mut request.subject,
                    "--provider" => &mut request.provider,
                    "--company" => &mut request.company,
                    _ => &mut request.days,
                };
                *slot = Some(value);
            }
            other => {
                return usage_error(
                    "lodiwelfare",
                    &format!("unknown argument {other:?}; {USAGE}"),
                );
            }
        }
    }
    let minted = match &command {
        Command::Token(request) => match request.principal() {
            Ok(minted) => Some(minted),
            Err(problem) => return usage_error("lodiwelfare", &problem),
        },
        _ => None,
    };
    run_service(
        "lodiwelfare",
        config_file.as_deref(),
        |mut config: LodiwelfareConfig| async move {
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            match command {
                Command::Serve => {
                    serve(
                        config,
                        if no_demo {
                            Demo::Never
                        } else {
                            Demo::OnFirstStart
                        },
                    )
                    .await
                }
                Command::Demo => serve(config, Demo::Only).await,
                Command::Migrate => migrate(&config).await,
                Command::Reindex => {
                    let rebuilt =
                        catalog_svc::startup::rebuild_index(&config.catalog(), system_clock())
                            .await?;
                    println!("{rebuilt}");
                    Ok(())
                }
                Command::ExportHsds => export_hsds(&config, out.as_deref()).await,
                Command::ImportHsds(file) => {
                    import_hsds(&config, file.as_deref(), skip_refused).await
                }
                Command::Token(_) => match minted {
                    Some((principal, days)) => mint(config, &principal, days),
                    None => Ok(()),
                },
                Command::CheckConfig => {
                    // What `serve` would refuse at start: plaintext beyond loopback, a
                    // certificate that cannot be read or does not go with its key.
                    let transport = match &config.server.tls {
                        Some(tls) => {
                            use welfare_runtime::tls::{ClientCerts, ServerTls};
                            ServerTls::load(tls, ClientCerts::for_listener(tls, false))?;
                            "TLS"
                        }
                        None if config.server.plaintext_refused() => {
                            return Err(welfare_runtime::server::StartupError::Plaintext {
                                addr: config.server.listen_addr,
                            }
                            .into());
                        }
                        None => "plaintext",
                    };
                    println!(
                        "configuration valid: listening on {} ({transport}), data in {}",
                        config.server.listen_addr,
                        config.data_dir.display()
                    );
                    Ok(())
                }
            }
        },
    )
    .await
}

impl TokenRequest {
    /// The principal to mint a token for, and for how many days; a usage error otherwise.
    fn principal(&self) -> Result<(Principal, i64), String> {
        let role = self.role.as_deref().ok_or("token: --role is required")?;
        let role = Role::from_code(role).ok_or_else(|| {
            format!(
                "token: --role {role:?} is not one of {}",
                Role::ALL.map(Role::code).join(", ")
            )
        })?;
        let subject = self
            .subject
            .as_deref()
            .ok_or("token: --subject is required")?;
        let subject = PersonId::parse(subject).map_err(|e| format!("token: --subject: {e}"))?;
        let mut principal = Principal::new(subject, vec![role]);
        if let Some(provider) = &self.provider {
            let provider =
                ProviderId::parse(provider).map_err(|e| format!("token: --provider: {e}"))?;
            principal = principal.for_provider(provider);
        }
        if let Some(company) = &self.company {
            let company =
                CompanyId::parse(company).map_err(|e| format!("token: --company: {e}"))?;
            principal = principal.for_company(company);
        }
        let days = match &self.days {
            None => 30,
            Some(days) => days
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=MAX_TOKEN_DAYS).contains(d))
                .ok_or_else(|| format!("token: --days must be 1 to {MAX_TOKEN_DAYS}"))?,
        };
        Ok((principal, days))
    }
}

/// `token`: a development token for `principal`, valid `days`, on standard output.
fn mint(mut config: LodiwelfareConfig, principal: &Principal, days: i64) -> Result<(), Failure> {
    startup::prepare_data_dir(&config)?;
    startup::development_secret(&mut config)?;
    let now = system_clock()().unix_seconds();
    let token = development_token(&config.auth, principal, now, days * 86_400).ok_or(
        "token: tokens are minted only in development (auth.algorithm = HS256); \
         production takes them from its identity provider",
    )?;
    println!("{token}");
    Ok(())
}

/// `migrate`: the three databases created or brought up to date.
async fn migrate(config: &LodiwelfareConfig) -> Result<(), Failure> {
    startup::prepare_data_dir(config)?;
    let _lock = startup::lock_data_dir(config)?;
    let applied = startup::migrate(config).await?;
    println!(
        "migrated {} databases in {}: {}",
        applied.len(),
        config.data_dir.display(),
        applied.join(", ")
    );
    Ok(())
}

/// `export-hsds`: the public catalogue as HSDS 3.0 JSON Lines.
async fn export_hsds(
    config: &LodiwelfareConfig,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    use std::io::Write;
    use tokio_stream::StreamExt;
    if !config.data_dir.join("catalog.db").exists() {
        return Err(format!(
            "export-hsds: no catalogue in {} (run `lodiwelfare serve` there first)",
            config.data_dir.display()
        )
        .into());
    }
    let (store, territory) = catalog_svc::startup::open_store(&config.catalog()).await?;
    let mut records = catalog_svc::hsds::export(store, territory, system_clock()());
    let target = out.map(|path| path.with_extension("partial"));
    let mut writer: Box<dyn Write> = match &target {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    // A spinner with the count, on standard error when it is a terminal.
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("exporting {spinner} {pos} records")?,
    );
    while let Some(chunk) = records.next().await {
        progress.inc(1);
        let chunk = chunk.map_err(|status| format!("export-hsds: {}", status.message()))?;
        let record = String::from_utf8(chunk.json)?;
        writeln!(
            writer,
            "{{\"record_type\":{},\"record\":{record}}}",
            serde_json::Value::from(chunk.record_type.clone())
        )?;
        *counts.entry(chunk.record_type).or_default() += 1;
    }
    writer.flush()?;
    drop(writer);
    progress.finish_and_clear();
    if let (Some(partial), Some(out)) = (&target, out) {
        std::fs::rename(partial, out)?;
        let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
        eprintln!("exported to {}: {}", out.display(), summary.join(", "));
    }
    Ok(())
}

/// `import-hsds`: another directory's HSDS catalogue loaded for curation.
async fn import_hsds(
    config: &LodiwelfareConfig,
    file: Option<&std::path::Path>,
    skip_refused: bool,
) -> Result<(), Failure> {
    use catalog_svc::hsds::import;
    let file = file.ok_or("import-hsds needs a file")?;
    let opened = std::fs::File::open(file)
        .map_err(|e| format!("import-hsds: cannot read {}: {e}", file.display()))?;
    // The whole file is read before anything is opened: a malformed one changes nothing.
    let document = import::read(std::io::BufReader::new(opened)).map_err(|e| {
        format!(
            "import-hsds: {} is not an HSDS catalogue: {e}; nothing imported",
            file.display()
        )
    })?;
    // A directory without a catalogue is planned against an empty one, and created only to
    // apply the plan: a refused import leaves it as it was.
    let exists = config.data_dir.join("catalog.db").exists();
    let catalog = config.catalog();
    let opened = if exists {
        catalog_svc::startup::open_store(&catalog).await?
    } else {
        let mut empty = catalog.clone();
        empty.database.url = "sqlite::memory:".to_owned();
        empty.database.max_connections = 1;
        catalog_svc::startup::open_store(&empty).await?
    };
    let (store, territory) = opened;
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("importing {spinner} {msg}")?,
    );
    progress.set_message("checking the records");
    let now = system_clock()();
    let plan = import::plan(&store, &territory, &document, now).await?;
    progress.finish_and_clear();
    for refusal in &plan.refused {
        eprintln!("refused: {refusal}");
    }
    let (organizations, services) = document.counts();
    if !plan.refused.is_empty() && !skip_refused {
        return Err(format!(
            "import-hsds: {} of {} organizations and services refused (listed above); nothing \
             imported — correct them, or import the other {} with --skip-refused",
            plan.refused.len(),
            organizations + services,
            plan.providers.len() + plan.listings.len()
        )
        .into());
    }
    startup::prepare_data_dir(config)?;
    // Written while no serving process holds the directory.
    let _lock = startup::lock_data_dir(config)?;
    let store = if exists {
        store
    } else {
        catalog_svc::startup::open_store(&catalog).await?.0
    };
    import::apply(&store, &plan).await?;
    println!(
        "imported from {}: {} providers awaiting vetting, {} listings awaiting review; {} \
         already in the catalogue; {} refused{}",
        file.display(),
        plan.providers.len(),
        plan.listings.len(),
        plan.already_present,
        plan.refused.len(),
        if plan.refused.is_empty() {
            ""
        } else {
            " (listed above)"
        }
    );
    Ok(())
}

/// What `serve` does about the demo Ambito.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Demo {
    /// Load it on a first start (an empty data directory), in development mode.
    OnFirstStart,
    /// `--no-demo`.
    Never,
    /// `lodiwelfare demo`: load it now (unless already loaded) and exit.
    Only,
}

async fn serve(mut config: LodiwelfareConfig, demo: Demo) -> Result<(), Failure> {
    let first_start = !config.data_dir.join("catalog.db").exists();
    startup::prepare_data_dir(&config)?;
    // Held until the process ends: one process serves a data directory.
    let _lock = startup::lock_data_dir(&config)?;
    let development = startup::development_secret(&mut config)?;
    if let Some(path) = &development {
        if !config.server.listen_addr.ip().is_loopback() && !config.allow_development_on_network {
            return Err(format!(
                "development mode (tokens signed with {}) listens on loopback only: {} is \
                 reachable by other machines; configure production keys (auth), or set \
                 allow_development_on_network = true",
                path.display(),
                config.server.listen_addr
            )
            .into());
        }
        tracing::warn!(
            secret = %path.display(),
            "development mode: tokens are signed with the HS256 secret kept in the data directory"
        );
    }
    let started = startup::start(&config, system_clock()).await?;
    let app = Application::build(&config.runtime(), started.services).await?;
    let port = app.port();
    tracing::info!(
        port,
        data_dir = %config.data_dir.display(),
        "lodiwelfare serving the catalogue, the wallet and bookings"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_until_stopped(async move {
        tokio::select! {
            () = shutdown_signal() => {}
            _ = stopped => {}
        }
    }));
    let marker = config.data_dir.join(demo::MARKER);
    let wanted = match demo {
        Demo::OnFirstStart => first_start,
        Demo::Never => false,
        Demo::Only => true,
    };
    if wanted && !marker.exists() {
        if development.is_none() {
            return Err("the demo Ambito is loaded in development mode only (no auth keys)".into());
        }
        if config.server.tls.is_some() {
            return Err(
                "the demo Ambito is loaded over plaintext on the loopback address: \
                 start without server.tls, or with --no-demo"
                    .into(),
            );
        }
        let host = if config.server.listen_addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            config.server.listen_addr.ip().to_string()
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{host}:{port}"))?
            .connect()
            .await?;
        let now = system_clock()();
        // Drawn on standard error only when it is a terminal.
        let progress = indicatif::ProgressBar::new(demo::steps()).with_style(
            indicatif::ProgressStyle::with_template(
                "loading the demo Ambito {bar:30} {pos}/{len} {msg}",
            )?,
        );
        let loaded = demo::load(channel, &config.auth, now, &progress).await?;
        progress.finish_and_clear();
        std::fs::write(&marker, format!("{loaded:?}\n"))?;
        tracing::info!(
            providers = loaded.providers,
            listings = loaded.listings,
            comuni = loaded.comuni,
            slots = loaded.slots,
            seconds = loaded.seconds,
            "demo Ambito loaded"
        );
        print_welcome(&config, &host, port, &loaded, now.unix_seconds());
    }
    if demo == Demo::Only {
        let _ = stop.send(());
    }
    let served = serving.await?;
    drop(started.tasks);
    Ok(served?)
}

/// What a first start prints once: what was loaded, a token for each role, and the commands of
/// a first tour: search with a profile, book with the wallet, confirm as the provider, read the
/// wallet and its statement.
fn print_welcome(
    config: &LodiwelfareConfig,
    host: &str,
    port: u16,
    loaded: &demo::Loaded,
    now: i64,
) {
    let tokens = demo::Tokens {
        auth: &config.auth,
        now,
        lifetime_seconds: 30 * 86_400,
    };
    let citizen = tokens.role("maria", Role::Citizen);
    let employee = tokens.employee(1);
    let operator = tokens.operator(&loaded.provider_id);
    let curator = tokens.role("ufficio-di-piano", Role::Curator);
    let admin = tokens.admin();
    let address = format!("{host}:{port}");
    println!(
        "LodiWelfare is serving on {address}: demo Ambito loaded in {:.1} s — {} providers, \
         {} listings in {} comuni, {} slots, {} employees of {} with welfare credit.\n",
        loaded.seconds,
        loaded.providers,
        loaded.listings,
        loaded.comuni,
        loaded.slots,
        loaded.employees,
        demo::COMPANY
    );
    println!("Development tokens (30 days; more with `lodiwelfare token`):");
    println!("  CITIZEN={citizen}");
    println!("  EMPLOYEE={employee}");
    println!("  PROVIDER={operator}");
    println!("  CURATOR={curator}");
    println!("  COMPANY_ADMIN={admin}\n");
    println!("Try, in order (with the variables above exported):");
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $CITIZEN\" -d '{{\"query\": \"assistenza domiciliare anziani a Codogno\", \"profile\": {{\"residence_istat_code\": \"098019\", \"beneficiary_age_years\": 80}}}}' {address} welfare.catalog.v1.CatalogService/SearchListings"
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $EMPLOYEE\" -d '{{\"listing_id\": \"{}\", \"slot_id\": \"{}\", \"quantity\": 1, \"profile\": {{\"beneficiary_age_years\": 8}}, \"wallet_id\": \"{}\", \"request_id\": \"first-booking\"}}' {address} welfare.booking.v1.BookingService/CreateBooking",
        loaded.sample_listing, loaded.sample_slot, loaded.sample_wallet
    );
    println!("  export BOOKING_ID=…   # the \"id\" CreateBooking answered");
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $PROVIDER\" -d '{{\"id\": \"'$BOOKING_ID'\", \"request_id\": \"confirm-1\"}}' {address} welfare.booking.v1.BookingService/ConfirmBooking"
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $EMPLOYEE\" -d '{{\"id\": \"{}\"}}' {address} welfare.wallet.v1.WalletService/GetWallet",
        loaded.sample_wallet
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $EMPLOYEE\" -d '{{\"wallet_id\": \"{}\"}}' {address} welfare.wallet.v1.WalletService/ListWalletTransactions",
        loaded.sample_wallet
    );
}
