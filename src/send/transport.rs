//! The wire: SMTP through tend's own client and its session pool, or `.eml`
//! files for trying tend out. Both make the caller's `before_data` record
//! before the message can be taken (over SMTP, while the transaction runs
//! and before its end-of-data marker: `gate`), so the outbox knows what is
//! truly in doubt.

use super::gate::Gate;
use super::reply::Phase;
use super::smtp::{ClientConfig, Failure, FailureKind, Pool};
use crate::config::{SmtpSettings, TlsMode, TransportKind};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid SMTP settings: {0}")]
    Settings(String),
    #[error("cannot create the file transport directory {path}: {source}")]
    FileDir {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub enum Transport {
    Smtp(Pool),
    File(PathBuf),
}

fn tls_config(smtp: &SmtpSettings) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    // Certificates are always verified; `ca_file` adds a trusted root (a private relay's CA).
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &smtp.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            TransportError::Settings(format!("cannot read smtp.ca_file {}: {e}", path.display()))
        })?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                TransportError::Settings(format!(
                    "smtp.ca_file {} is not a PEM certificate: {e}",
                    path.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                TransportError::Settings(format!(
                    "smtp.ca_file {}: unusable certificate: {e}",
                    path.display()
                ))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(TransportError::Settings(format!(
                "smtp.ca_file {} holds no PEM certificate",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Settings(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The relay's name for logs, `status` and the breaker's stored state.
pub fn relay_name(smtp: &SmtpSettings) -> String {
    match smtp.transport {
        TransportKind::Smtp => format!("{}:{}", smtp.host, smtp.port),
        TransportKind::File => format!("file:{}", smtp.file_dir.display()),
    }
}

impl Transport {
    pub fn from_settings(smtp: &SmtpSettings) -> Result<Self, TransportError> {
        if smtp.transport == TransportKind::File {
            std::fs::create_dir_all(&smtp.file_dir).map_err(|source| TransportError::FileDir {
                path: smtp.file_dir.display().to_string(),
                source,
            })?;
            return Ok(Transport::File(smtp.file_dir.clone()));
        }
        let credentials = smtp.username.as_ref().map(|user| {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            (user.clone(), password)
        });
        if credentials.is_some() && smtp.tls == TlsMode::None && !is_loopback(&smtp.host) {
            return Err(TransportError::Settings(
                "smtp.username is set but smtp.tls = \"none\": the password would cross the network in clear; use \"starttls\" or \"tls\""
                    .into(),
            ));
        }
        Ok(Transport::Smtp(Pool::new(ClientConfig {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            tls_config: tls_config(smtp)?,
            credentials,
            hello: smtp
                .hello_name
                .clone()
                .unwrap_or_else(super::worker::hostname),
            timeout: smtp.timeout.to_std(),
        })))
    }

    /// The relay's name for logs, `status` and the breaker.
    pub fn relay(&self) -> String {
        match self {
            Transport::Smtp(pool) => pool.relay(),
            Transport::File(dir) => format!("file:{}", dir.display()),
        }
    }

    /// Delivers one message. `before_data` is called once and must succeed
    /// before the message can be taken (a file written, an SMTP
    /// transaction's end-of-data marker sent); if it fails, nothing is taken.
    pub async fn deliver<F, Fut>(
        &self,
        from: &str,
        to: &str,
        message_id: &str,
        message: &[u8],
        before_data: F,
    ) -> Result<String, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        match self {
            Transport::File(dir) => {
                before_data().await.map_err(|why| Failure {
                    phase: Phase::Data,
                    kind: FailureKind::Aborted(why),
                })?;
                write_eml(dir, message_id, message)
                    .await
                    .map_err(|e| Failure {
                        phase: Phase::EndOfData,
                        kind: FailureKind::Io(format!("cannot write the .eml file: {e}")),
                    })
            }
            Transport::Smtp(pool) => {
                let mut gate = Gate::new(before_data());
                let (mut conn, reused) = pool.get().await?;
                let mut result = conn.send(from, to, message, &mut gate).await;
                // A reused session may have been closed by the server while
                // idle; that shows on the first command, before anything of
                // the message left, so one fresh session tries again (with
                // the gate as it is: a record made stays made).
                if let Err(failure) = &result {
                    if reused
                        && failure.phase == Phase::MailFrom
                        && matches!(failure.kind, FailureKind::Io(_) | FailureKind::Timeout)
                    {
                        tracing::debug!(error = %failure, "an idle SMTP session was closed; opening a new one");
                        conn = pool.open().await?;
                        result = conn.send(from, to, message, &mut gate).await;
                    }
                }
                let refused = matches!(&result, Err(f) if matches!(f.kind, FailureKind::Reply(_)));
                pool.put(conn, refused).await;
                result.map(|reply| reply.to_string())
            }
        }
    }

    /// Closes idle sessions (on shutdown).
    pub async fn close(&self) {
        if let Transport::Smtp(pool) = self {
            pool.close().await;
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Writes `NAME.eml` atomically (a temporary file renamed into place).
async fn write_eml(
    dir: &std::path::Path,
    message_id: &str,
    message: &[u8],
) -> std::io::Result<String> {
    let name: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.eml"));
    let partial = dir.join(format!(".{name}.eml.partial"));
    tokio::fs::write(&partial, message).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(format!("written {}", path.display()))
}
