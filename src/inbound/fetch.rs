//! The one outbound HTTP request tend makes: a GET to Amazon SNS, for the
//! certificate that signs its messages and to confirm a subscription. Only
//! `https://sns.<region>.amazonaws.com[.cn]/…` is ever fetched (the callers
//! check), over verified TLS, with a size limit and a deadline; a small
//! HTTP/1.1 client is enough for that and keeps an HTTP stack out of the build.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{0}` is not an https URL tend may fetch")]
    Url(String),
    #[error("cannot reach {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} took longer than {seconds}s to answer")]
    Timeout { host: String, seconds: u64 },
    #[error("{host} answered {status}")]
    Status { host: String, status: String },
    #[error("{host} sent more than {limit} bytes")]
    TooLarge { host: String, limit: usize },
    #[error("{host} sent an answer that is not HTTP/1.1: {reason}")]
    Malformed { host: String, reason: String },
}

fn tls() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// `GET url`, the body of a `200` answer, at most `limit` bytes.
pub async fn get(url: &str, limit: usize, deadline: Duration) -> Result<Vec<u8>, FetchError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| FetchError::Url(url.into()))?;
    let (host, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    if host.is_empty() || host.contains(['@', ':']) || path.contains(['\r', '\n', ' ']) {
        return Err(FetchError::Url(url.into()));
    }
    let host = host.to_string();
    let seconds = deadline.as_secs();
    tokio::time::timeout(deadline, request(&host, &path, limit))
        .await
        .map_err(|_| FetchError::Timeout {
            host: host.clone(),
            seconds,
        })?
}

async fn request(host: &str, path: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
    let connect = |reason: String| FetchError::Connect {
        host: host.to_string(),
        reason,
    };
    let tcp = TcpStream::connect((host, 443))
        .await
        .map_err(|e| connect(e.to_string()))?;
    let name = rustls_pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| connect(e.to_string()))?;
    let mut stream = TlsConnector::from(tls())
        .connect(name, tcp)
        .await
        .map_err(|e| connect(e.to_string()))?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tend/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| connect(e.to_string()))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // Servers often close TLS without a close_notify after `Connection: close`.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(connect(e.to_string())),
        };
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer.len() > limit + 16 * 1024 {
            return Err(FetchError::TooLarge {
                host: host.to_string(),
                limit,
            });
        }
    }
    let body = parse(&answer, host)?;
    if body.len() > limit {
        return Err(FetchError::TooLarge {
            host: host.to_string(),
            limit,
        });
    }
    Ok(body)
}

/// The body of a complete HTTP/1.1 answer read to the end of the connection.
fn parse(answer: &[u8], host: &str) -> Result<Vec<u8>, FetchError> {
    let malformed = |reason: &str| FetchError::Malformed {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(&answer[..end]).map_err(|_| malformed("headers not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        return Err(FetchError::Status {
            host: host.to_string(),
            status: status.chars().take(80).collect(),
        });
    }
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = &answer[end + 4..];
    if !chunked {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| malformed("a chunk without a size line"))?;
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or_else(|| malformed("a chunk size that is not hexadecimal"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err(malformed("a chunk cut short"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse(plain, "h").unwrap(), b"hello");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, "h").unwrap(), b"hello");
    }

    #[test]
    fn refuses_other_statuses_and_broken_answers() {
        let err = parse(b"HTTP/1.1 404 Not Found\r\n\r\n", "h").unwrap_err();
        assert!(matches!(err, FetchError::Status { .. }), "{err}");
        let err = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "h",
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::Malformed { .. }), "{err}");
        assert!(parse(b"garbage", "h").is_err());
    }

    #[tokio::test]
    async fn fetches_only_https() {
        let err = get(
            "http://sns.us-east-1.amazonaws.com/x.pem",
            10,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, FetchError::Url(_)), "{err}");
        let err = get("https://user@host/x", 10, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Url(_)), "{err}");
    }
}
