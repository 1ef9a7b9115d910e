//! The repository's scripts as a stranger runs them: `scripts/test` stops at once, saying why,
//! when PostgreSQL cannot start (here: its port is taken), rather than running the suites
//! without it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn the_test_script_stops_clearly_when_postgresql_cannot_start() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // A port PostgreSQL cannot bind.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    // A `cargo` that only says it ran: the script must stop before it.
    let bin = std::env::temp_dir().join(format!("lodiwelfare-fake-cargo-{}", std::process::id()));
    std::fs::create_dir_all(&bin).expect("dir");
    let cargo = bin.join("cargo");
    let mut file = std::fs::File::create(&cargo).expect("fake cargo");
    writeln!(file, "#!/bin/sh\necho FAKE-CARGO-RAN >&2\nexit 99").expect("write");
    drop(file);
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(repo.join("scripts/test"))
        .env("PATH", path)
        .env("LODIWELFARE_PG_PORT", port.to_string())
        .env_remove("DATABASE_URL")
        .env_remove("LODIWELFARE_PG_DIR")
        .output()
        .expect("run scripts/test");
    drop(taken);
    std::fs::remove_dir_all(&bin).ok();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PostgreSQL could not start"),
        "the reason is named: {stderr}"
    );
    assert!(
        !stderr.contains("FAKE-CARGO-RAN"),
        "it stopped before running anything: {stderr}"
    );
}
