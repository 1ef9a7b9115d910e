//! Certificates for the TLS tests: an authority of the test's own, and the server and client
//! certificates it signs, written as PEM files the services read as they would in production.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A test authority writing its files under a directory.
#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
    name: String,
    authority: CertifiedIssuer<'static, KeyPair>,
}

impl TestPki {
    /// A new authority called `name`; its certificate is written to `dir/<name>-ca.pem`.
    ///
    /// # Panics
    /// When a key cannot be generated or a file written (a test's environment is broken).
    pub fn new(dir: &Path, name: &str) -> TestPki {
        std::fs::create_dir_all(dir).expect("certificate directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test authority"));
        let key = KeyPair::generate().expect("authority key");
        let authority = CertifiedIssuer::self_signed(params, key).expect("authority");
        let pki = TestPki {
            dir: dir.to_owned(),
            name: name.to_owned(),
            authority,
        };
        std::fs::write(pki.ca_file(), pki.authority.pem()).expect("write authority");
        pki
    }

    /// The authority's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// A certificate for `names` (DNS names or IP addresses), signed by this authority, written
    /// to `dir/<stem>.pem` and `dir/<stem>-key.pem` (over what was there).
    ///
    /// # Panics
    /// As [`TestPki::new`].
    pub fn issue(&self, stem: &str, names: &[&str], usage: Usage) -> Issued {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("names");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![match usage {
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &*self.authority).expect("sign");
        let issued = Issued {
            cert_file: self.dir.join(format!("{stem}.pem")),
            key_file: self.dir.join(format!("{stem}-key.pem")),
        };
        // The key first: a reader between the two writes sees the old certificate with the
        // new key and keeps what it had (a mismatch is refused), then the pair.
        std::fs::write(&issued.key_file, key.serialize_pem()).expect("write key");
        std::fs::write(&issued.cert_file, cert.pem()).expect("write certificate");
        issued
    }
}
