//! Which database a URL names.

use std::path::PathBuf;

/// Which database a service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://…` or `postgresql://…`: the distributed mode.
    Postgres,
    /// `sqlite:…`: the embedded mode, one serving process per file.
    Sqlite,
}

/// A database URL of a scheme the services do not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported database url (postgres:// or sqlite: expected)")]
pub struct UnsupportedUrl;

impl Backend {
    /// The backend `url` names.
    pub fn of_url(url: &str) -> Result<Backend, UnsupportedUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(UnsupportedUrl)
        }
    }

    /// The database system as OpenTelemetry names it (`db.system.name` on spans).
    pub const fn system_name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// The file an `sqlite:` database URL names (`sqlite:path`, `sqlite://path?options`); `None`
/// for an in-memory database or another scheme.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty()
        || path == ":memory:"
        || options.split('&').any(|option| option == "mode=memory");
    (!in_memory).then(|| PathBuf::from(path))
}

/// Creates the directory of the SQLite file `url` names, if it names one in a directory.
pub fn create_sqlite_dir(url: &str) -> std::io::Result<()> {
    match sqlite_file(url) {
        Some(file) => match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
            _ => Ok(()),
        },
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_names_the_backend() {
        assert_eq!(Backend::of_url("postgres://h/db"), Ok(Backend::Postgres));
        assert_eq!(Backend::of_url("postgresql://h/db"), Ok(Backend::Postgres));
        assert_eq!(
            Backend::of_url("sqlite://x.db?mode=rwc"),
            Ok(Backend::Sqlite)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), Err(UnsupportedUrl));
        assert_eq!(Backend::of_url(""), Err(UnsupportedUrl));
    }

    #[test]
    fn an_sqlite_url_names_its_file_unless_in_memory() {
        for (url, file) in [
            ("sqlite://data/catalog.db?mode=rwc", Some("data/catalog.db")),
            (
                "sqlite:///var/lib/lodiwelfare/catalog.db",
                Some("/var/lib/lodiwelfare/catalog.db"),
            ),
            ("sqlite:catalog.db", Some("catalog.db")),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
            ("sqlite://shared.db?mode=memory&cache=shared", None),
            ("postgres://localhost/catalog", None),
        ] {
            assert_eq!(sqlite_file(url), file.map(PathBuf::from), "{url}");
        }
    }

    #[test]
    fn the_directory_of_an_sqlite_file_is_created() {
        let dir =
            std::env::temp_dir().join(format!("lodiwelfare-sqlite-dir-{}", std::process::id()));
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join("nested").join("x.db").display()
        );
        create_sqlite_dir(&url).expect("created");
        assert!(dir.join("nested").is_dir());
        create_sqlite_dir("sqlite::memory:").expect("nothing to create");
        create_sqlite_dir("sqlite:x.db").expect("nothing to create");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
