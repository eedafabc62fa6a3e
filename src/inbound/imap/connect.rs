//! Opening an IMAP session: TCP, then TLS at once (`tls`), after `STARTTLS`
//! (`starttls`) or never (`none`), the greeting, and `LOGIN`.

use super::{ImapError, ImapOptions};
use crate::config::TlsMode;
use async_imap::imap_proto::{Response, Status};
use async_imap::{Client, Session};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// The connection under the IMAP session.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub(super) type ImapSession = Session<Stream>;

/// Bounds one network step by the configured timeout.
pub(super) async fn step<T, E>(
    options: &ImapOptions,
    doing: &'static str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ImapError>
where
    ImapError: From<(&'static str, E)>,
{
    match tokio::time::timeout(options.timeout, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ImapError::from((doing, e))),
        Err(_) => Err(ImapError::Timeout(doing)),
    }
}

/// Connects and logs in.
pub(super) async fn open(options: &ImapOptions) -> Result<ImapSession, ImapError> {
    let tls = match options.tls {
        TlsMode::None => None,
        TlsMode::Tls | TlsMode::Starttls => Some(tls_config(options)?),
    };
    let address = (options.host.as_str(), options.port);
    let tcp = step(options, "connecting", TcpStream::connect(address)).await?;
    let _ = tcp.set_nodelay(true);
    let stream = match options.tls {
        TlsMode::Tls => Stream::Tls(Box::new(handshake(options, tls.clone(), tcp).await?)),
        TlsMode::None | TlsMode::Starttls => Stream::Plain(tcp),
    };
    let mut client = Client::new(stream);
    greeting(options, &mut client).await?;
    if options.tls == TlsMode::Starttls {
        step(
            options,
            "asking for STARTTLS",
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await?;
        let Stream::Plain(tcp) = client.into_inner() else {
            unreachable!("STARTTLS is only sent on a plain connection")
        };
        let secured = handshake(options, tls, tcp).await?;
        client = Client::new(Stream::Tls(Box::new(secured)));
    }
    let login = client.login(&options.user, options.password.expose());
    match tokio::time::timeout(options.timeout, login).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(ImapError::Login(e.to_string())),
        Err(_) => Err(ImapError::Timeout("logging in")),
    }
}

async fn greeting(options: &ImapOptions, client: &mut Client<Stream>) -> Result<(), ImapError> {
    let read = step(options, "reading the greeting", client.read_response()).await?;
    let Some(greeting) = read else {
        return Err(ImapError::Greeting(
            "the server closed the connection".into(),
        ));
    };
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok, ..
        } => Ok(()),
        other => Err(ImapError::Greeting(format!("{other:?}"))),
    }
}

async fn handshake(
    options: &ImapOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ImapError> {
    let tls = tls.expect("a TLS configuration for a TLS mode");
    let name = ServerName::try_from(options.host.clone()).map_err(|e| {
        ImapError::Settings(format!(
            "`{}` is not a valid server name: {e}",
            options.host
        ))
    })?;
    let connector = TlsConnector::from(tls);
    step(options, "the TLS handshake", connector.connect(name, tcp)).await
}

/// Certificates are always verified; `ca_file` adds a trusted root (a
/// private server's CA). The same rules as the SMTP relay's.
fn tls_config(options: &ImapOptions) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &options.ca_file {
        let shown = path.display();
        let pem = std::fs::read(path)
            .map_err(|e| ImapError::Settings(format!("cannot read the CA file {shown}: {e}")))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert
                .map_err(|e| ImapError::Settings(format!("the CA file {shown} is not PEM: {e}")))?;
            roots.add(cert).map_err(|e| {
                ImapError::Settings(format!("the CA file {shown}: unusable certificate: {e}"))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(ImapError::Settings(format!(
                "the CA file {shown} holds no PEM certificate"
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Settings(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
