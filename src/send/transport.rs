//! The wire: SMTP through lettre's pooled async transport, or `.eml` files
//! for trying tend out. Every outcome is classified for the retry policy.

use crate::config::{SmtpSettings, TlsMode, TransportKind};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

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

/// How one delivery attempt ended, from the retry policy's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted; the server's reply.
    Accepted(String),
    /// Worth trying again later: 4xx, connection trouble, timeouts, and
    /// server-side configuration problems (authentication) that are not the
    /// recipient's fault. `deferred` marks a 4xx answer about the recipient
    /// (greylisting, rate limiting by the receiving domain).
    Transient { error: String, deferred: bool },
    /// The recipient was refused for good (5xx): a hard bounce.
    Rejected(String),
    /// The message itself cannot be sent (e.g. it could not be formatted).
    Unsendable(String),
}

#[derive(Debug)]
pub enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        timeout: Duration,
    },
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn from_settings(smtp: &SmtpSettings) -> Result<Self, TransportError> {
        if smtp.transport == TransportKind::File {
            std::fs::create_dir_all(&smtp.file_dir).map_err(|source| TransportError::FileDir {
                path: smtp.file_dir.display().to_string(),
                source,
            })?;
            return Ok(Transport::File(AsyncFileTransport::new(&smtp.file_dir)));
        }
        let settings_err =
            |e: lettre::transport::smtp::Error| TransportError::Settings(e.to_string());
        // Certificates are always verified; `ca_file` adds a trusted root (a private relay's CA).
        let parameters = || -> Result<TlsParameters, TransportError> {
            let mut builder = TlsParameters::builder(smtp.host.clone());
            if let Some(path) = &smtp.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    TransportError::Settings(format!(
                        "cannot read smtp.ca_file {}: {e}",
                        path.display()
                    ))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    TransportError::Settings(format!(
                        "smtp.ca_file {} is not a PEM certificate: {e}",
                        path.display()
                    ))
                })?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build_rustls().map_err(settings_err)
        };
        let tls = match smtp.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(parameters()?),
            TlsMode::Tls => Tls::Wrapper(parameters()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                .port(smtp.port)
                .tls(tls)
                .timeout(Some(smtp.timeout.to_std()))
                .pool_config(PoolConfig::new().max_size(smtp.connections));
        if let Some(name) = &smtp.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some(user) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Transport::Smtp {
            transport: builder.build(),
            timeout: smtp.timeout.to_std(),
        })
    }

    pub async fn deliver(&self, message: Message) -> Delivery {
        match self {
            Transport::File(files) => match files.send(message).await {
                Ok(id) => Delivery::Accepted(format!("written {id}.eml")),
                Err(e) => Delivery::Transient {
                    error: format!("cannot write the .eml file: {e}"),
                    deferred: false,
                },
            },
            Transport::Smtp { transport, timeout } => {
                // lettre's own timeout covers single reads/writes; bound the whole transaction.
                match tokio::time::timeout(*timeout * 2, transport.send(message)).await {
                    Err(_) => Delivery::Transient {
                        error: format!("SMTP transaction timed out after {:?}", *timeout * 2),
                        deferred: false,
                    },
                    Ok(Ok(response)) => Delivery::Accepted(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )),
                    Ok(Err(e)) => classify(&e),
                }
            }
        }
    }
}

fn classify(error: &lettre::transport::smtp::Error) -> Delivery {
    let text = error.to_string();
    let code = error.status().map(|c| c.to_string());
    // Authentication and policy replies about *us* must never suppress a recipient.
    let about_us = matches!(code.as_deref(), Some("530" | "534" | "535" | "538"));
    if error.is_permanent() && !about_us {
        Delivery::Rejected(text)
    } else if error.is_client() {
        Delivery::Unsendable(text)
    } else {
        Delivery::Transient {
            deferred: error.is_transient() && !about_us,
            error: text,
        }
    }
}
