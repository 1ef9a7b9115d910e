//! The one process's composition root: the catalogue, the wallet and the booking service
//! started from one configuration on SQLite files in the data directory, their routes merged
//! behind one layer stack, the booking service calling the other two in process through the
//! same ports it uses over gRPC in distributed mode.

use std::path::PathBuf;
use std::sync::Arc;

use booking_svc::upstream::in_process::{InProcessCatalogue, InProcessWallet};
use wallet_svc::grpc::WalletApi;
use welfare_runtime::ServiceSet;
use welfare_runtime::clock::Clock;
use welfare_runtime::tasks::BackgroundTasks;

use crate::config::LodiwelfareConfig;

/// Why the process could not start, in one line a person understands.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data_dir {path}: {problem}")]
    DataDir { path: String, problem: String },
    #[error("catalogue: {0}")]
    Catalog(Box<dyn std::error::Error + Send + Sync>),
    #[error("wallet: {0}")]
    Wallet(#[from] wallet_svc::ledger::LedgerError),
    #[error("bookings: {0}")]
    Booking(#[from] booking_svc::startup::StartError),
}

/// The three services started: their merged routes and their background tasks.
#[derive(Debug)]
pub struct Started {
    pub services: ServiceSet,
    pub tasks: BackgroundTasks,
}

/// The file in the data directory holding the development signing secret.
pub const DEVELOPMENT_SECRET_FILE: &str = "development-secret";

fn data_dir_error(config: &LodiwelfareConfig, problem: String) -> StartError {
    StartError::DataDir {
        path: config.data_dir.display().to_string(),
        problem,
    }
}

/// The file in the data directory a process holds locked while it writes there.
pub const LOCK_FILE: &str = "lodiwelfare.lock";

/// The data directory held by this process: no other `lodiwelfare` writes to it until this is
/// dropped (the operating system releases the lock when the process ends, however it ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Locks the data directory for this process, or says which process holds it: two processes
/// writing one set of SQLite files would contend for every write and load the demo twice.
pub fn lock_data_dir(config: &LodiwelfareConfig) -> Result<DataDirLock, StartError> {
    use std::io::{Read, Seek, Write};
    let path = config.data_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| data_dir_error(config, format!("cannot open {LOCK_FILE}: {e}")))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.read_to_string(&mut holder).ok();
            return Err(data_dir_error(
                config,
                format!(
                    "in use by another lodiwelfare (process {}); stop it first",
                    holder.trim()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(data_dir_error(
                config,
                format!("cannot lock {LOCK_FILE}: {e}"),
            ));
        }
    }
    // Who holds it, for the message another process prints.
    file.set_len(0).ok();
    file.rewind().ok();
    write!(file, "{}", std::process::id()).ok();
    file.flush().ok();
    Ok(DataDirLock { _file: file })
}

/// Creates the data directory and checks it can be written.
pub fn prepare_data_dir(config: &LodiwelfareConfig) -> Result<(), StartError> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| data_dir_error(config, format!("cannot create it: {e}")))?;
    let probe = data_dir.join(".lodiwelfare-write-check");
    std::fs::write(&probe, b"ok")
        .map_err(|e| data_dir_error(config, format!("cannot write to it: {e}")))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// In development (HS256 with no secret configured), the secret tokens are signed with: read
/// from the data directory, or made from the system's random source on the first start and kept
/// there (readable by its owner only), so tokens stay valid across restarts. Answers the file
/// used, if any; a configured secret or a production algorithm is left alone.
pub fn development_secret(config: &mut LodiwelfareConfig) -> Result<Option<PathBuf>, StartError> {
    use welfare_runtime::config::{JwtAlgorithm, Secret};
    if config.auth.algorithm != JwtAlgorithm::HS256 || config.auth.hs256_secret.is_some() {
        return Ok(None);
    }
    let path = config.data_dir.join(DEVELOPMENT_SECRET_FILE);
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0_u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
                .map_err(|e| {
                    data_dir_error(config, format!("no random source for a secret: {e}"))
                })?;
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_private(&path, &secret)
                .map_err(|e| data_dir_error(config, format!("cannot keep the secret: {e}")))?;
            secret
        }
        Err(error) => {
            return Err(data_dir_error(
                config,
                format!("cannot read the secret: {error}"),
            ));
        }
    };
    config.auth.hs256_secret = Some(Secret::new(secret));
    Ok(Some(path))
}

/// Writes a file only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Creates or upgrades the three databases (their migrations run as they open); answers their
/// files.
pub async fn migrate(config: &LodiwelfareConfig) -> Result<Vec<String>, StartError> {
    prepare_data_dir(config)?;
    catalog_svc::startup::open_store(&config.catalog())
        .await
        .map_err(StartError::Catalog)?;
    let wallet = config.wallet();
    wallet_svc::ledger::Ledger::connect(&wallet.database.url, 1).await?;
    let booking = config.booking();
    booking_svc::store::Store::connect(&booking.database.url, 1)
        .await
        .map_err(booking_svc::startup::StartError::Store)?;
    Ok(vec![
        "catalog.db".to_owned(),
        "wallet.db".to_owned(),
        "booking.db".to_owned(),
    ])
}

/// Starts the three services on the data directory (see [`prepare_data_dir`]) with `clock`.
pub async fn start(config: &LodiwelfareConfig, clock: Clock) -> Result<Started, StartError> {
    prepare_data_dir(config)?;

    let catalog = catalog_svc::startup::start(&config.catalog(), Arc::clone(&clock))
        .await
        .map_err(StartError::Catalog)?;
    let wallet = wallet_svc::startup::start(&config.wallet(), Arc::clone(&clock)).await?;
    let get_listing = catalog.get_listing.clone();
    let catalogue = InProcessCatalogue::new(move |request| {
        let get_listing = get_listing.clone();
        async move { get_listing.call(request).await }
    });
    let wallet_api =
        InProcessWallet::new(WalletApi::new(wallet.ledger.clone(), Arc::clone(&clock)));
    let booking = booking_svc::startup::start_with(
        &config.booking(),
        clock,
        Arc::new(catalogue),
        Arc::new(wallet_api),
    )
    .await?;
    Ok(Started {
        services: catalog
            .services
            .merge(wallet.services)
            .merge(booking.services),
        tasks: catalog.tasks.merge(wallet.tasks).merge(booking.tasks),
    })
}
