//! What the suites of the binary share: a free port, a scratch directory, `lodiwelfare` as a
//! command, a serving process waited for until every service is SERVING.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lodiwelfare-serve-{name}-{}", std::process::id()))
}

pub(crate) fn lodiwelfare(data_dir: &Path, port: u16) -> Command {
    let mut command = lodiwelfare_with_demo(data_dir, port);
    command.arg("--no-demo");
    command
}

/// `lodiwelfare serve` as a new user runs it: the demo Ambito on a first start.
pub(crate) fn lodiwelfare_with_demo(data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"));
    command
        .args(["--data-dir"])
        .arg(data_dir)
        .arg("serve")
        .env(
            "LODIWELFARE__SERVER__LISTEN_ADDR",
            format!("127.0.0.1:{port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A serving process, killed if the test ends without stopping it.
pub(crate) struct Serving {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serving {
    pub(crate) async fn start(data_dir: &Path) -> Serving {
        let port = free_port();
        Serving::started(lodiwelfare(data_dir, port), port).await
    }

    pub(crate) async fn started(mut command: Command, port: u16) -> Serving {
        let child = command.spawn().expect("start lodiwelfare");
        let serving = Serving {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = tonic::transport::Endpoint::from_shared(serving.url.clone())
                .expect("url")
                .connect()
                .await
            {
                let mut health = HealthClient::new(channel);
                let mut all = true;
                for service in [
                    "welfare.catalog.v1.CatalogService",
                    "welfare.wallet.v1.WalletService",
                    "welfare.booking.v1.BookingService",
                ] {
                    let status = health
                        .check(HealthCheckRequest {
                            service: service.to_owned(),
                        })
                        .await
                        .map(|r| r.into_inner().status);
                    all &= status.is_ok_and(|s| s == ServingStatus::Serving as i32);
                }
                if all {
                    return serving;
                }
            }
            assert!(Instant::now() < deadline, "lodiwelfare never served");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.url.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect")
    }

    /// SIGINT, then the exit status.
    pub(crate) fn interrupt(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "lodiwelfare did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub(crate) fn secret(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(lodiwelfare::startup::DEVELOPMENT_SECRET_FILE))
        .expect("the development secret is kept in the data directory")
        .trim()
        .to_owned()
}

/// `lodiwelfare token …` on `data_dir`: the token it prints.
pub(crate) fn mint(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lodiwelfare"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("token")
        .args(args)
        .output()
        .expect("lodiwelfare token");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Runs `lodiwelfare` to its end; answers its exit code and what it printed on stderr.
pub(crate) fn run_to_end(mut command: Command) -> (Option<i32>, String) {
    let output = command.output().expect("run lodiwelfare");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
