//! What every request passes before a handler sees it: the client's address
//! (believing `X-Forwarded-For` only from a trusted proxy), a per-address
//! rate limit for its kind of request (`429` with `Retry-After`), a deadline
//! for the whole request (`408`), a handler that panics answering a plain
//! `500` instead of dropping the connection, and security headers on every
//! answer (the full set on HTML). Sizes and slow request heads are bounded
//! by the connection itself (`super::server`).

use crate::config::HttpLimits;
use crate::domain::Rate;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The address a request is judged by, for handlers that need it too
/// (sign-in attempts, click records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/u/…` and `/c/…`: links in mail, fetched by people and scanners.
    Links,
    /// `POST /events` and `/inbound/…` webhooks.
    Events,
    /// A console sign-in attempt.
    SignIn,
    Other,
}

impl Kind {
    pub fn of(method: &Method, path: &str) -> Kind {
        if path.starts_with("/u/") || path.starts_with("/c/") {
            Kind::Links
        } else if path == "/events" || path.starts_with("/inbound/") {
            Kind::Events
        } else if method == Method::POST && (path == "/console/login" || path.ends_with("/sign-in"))
        {
            Kind::SignIn
        } else {
            Kind::Other
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Links => "links",
            Kind::Events => "events",
            Kind::SignIn => "sign_in",
            Kind::Other => "other",
        }
    }
}

/// A trusted-proxy list: addresses and CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct Proxies(Vec<(IpAddr, u8)>);

impl Proxies {
    pub fn parse(items: &[String]) -> Result<Proxies, String> {
        let mut blocks = Vec::new();
        for item in items {
            let item = item.trim();
            let (addr, bits) = match item.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (item, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| {
                format!(
                    "`{item}` is not an address or CIDR block (write e.g. 10.0.0.5 or 10.0.0.0/8)"
                )
            })?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{item}`: the prefix length must be 0 to {max}"))?,
            };
            blocks.push((addr, bits));
        }
        Ok(Proxies(blocks))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| match (canonical(net), ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                    u32::from(net) & mask == u32::from(ip) & mask
                }
                (IpAddr::V6(net), IpAddr::V6(ip)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                    u128::from(net) & mask == u128::from(ip) & mask
                }
                _ => false,
            })
    }

    /// The client behind `peer`: the nearest address in `X-Forwarded-For`
    /// that is not one of our proxies, when `peer` is one; `peer` otherwise
    /// (anyone can write that header).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return canonical(peer);
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                // A garbled hop: the last address we could read stands.
                Err(_) => break,
            }
        }
        canonical(client)
    }
}

/// An IPv4 address arriving as `::ffff:a.b.c.d` counts as itself.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The listener's per-request rules, shared by all connections.
pub struct Guard {
    limits: HttpLimits,
    proxies: Proxies,
    https: bool,
    links: DefaultKeyedRateLimiter<IpAddr>,
    events: DefaultKeyedRateLimiter<IpAddr>,
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    other: DefaultKeyedRateLimiter<IpAddr>,
    seen: AtomicU64,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn limiter(rate: Rate) -> DefaultKeyedRateLimiter<IpAddr> {
    let count = NonZeroU32::new(rate.count.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = rate.period.to_std().max(std::time::Duration::from_secs(1));
    // `count` per `period`, all of it available at once.
    let quota = Quota::with_period(period / count.get())
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count);
    DefaultKeyedRateLimiter::keyed(quota)
}

impl Guard {
    /// `public_url` decides whether browsers are told to keep to https.
    pub fn new(limits: &HttpLimits, public_url: &str) -> Guard {
        Guard {
            proxies: Proxies::parse(&limits.trusted_proxies).unwrap_or_default(),
            https: public_url.trim().starts_with("https://"),
            links: limiter(limits.links),
            events: limiter(limits.events),
            sign_in: limiter(limits.sign_in),
            other: limiter(limits.other),
            seen: AtomicU64::new(0),
            limits: limits.clone(),
        }
    }

    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    fn limiter(&self, kind: Kind) -> &DefaultKeyedRateLimiter<IpAddr> {
        match kind {
            Kind::Links => &self.links,
            Kind::Events => &self.events,
            Kind::SignIn => &self.sign_in,
            Kind::Other => &self.other,
        }
    }

    /// `Err(seconds to wait)` when `client` has used up `kind`'s budget.
    fn admit(&self, kind: Kind, client: IpAddr) -> Result<(), u64> {
        // Forget idle clients now and then, so a flood of addresses cannot
        // grow the tables without bound.
        if self.seen.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for limiter in [&self.links, &self.events, &self.sign_in, &self.other] {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
        self.limiter(kind).check_key(&client).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }
}

/// The middleware (see the module comment).
pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let client = guard.proxies.client(peer, request.headers());
    request.extensions_mut().insert(ClientAddress(client));
    let kind = Kind::of(request.method(), request.uri().path());
    if let Err(wait) = guard.admit(kind, client) {
        tracing::debug!(client = %client, kind = kind.as_str(), "rate limited a request");
        crate::metrics::init();
        crate::metrics::HTTP_LIMITED
            .with_label_values(&[kind.as_str()])
            .inc();
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; try again later\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return secured(&guard, response);
    }
    let deadline = guard.limits.request_timeout.to_std();
    // Run the handler as its own task: a panic there ends that task, not the
    // connection, and is answered with a plain 500.
    let mut handler = tokio::spawn(next.run(request));
    let response = match tokio::time::timeout(deadline, &mut handler).await {
        Ok(Ok(response)) => generic_server_error(response),
        Ok(Err(failed)) => {
            if failed.is_panic() {
                tracing::error!("a request handler panicked; answered 500");
            }
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
        Err(_) => {
            handler.abort();
            tracing::debug!(client = %client, "a request took longer than http.limits.request_timeout");
            plain(StatusCode::REQUEST_TIMEOUT, "request timed out\n")
        }
    };
    secured(&guard, response)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A `500` made below the handlers (an extractor, a layer) may carry
/// internal text; it never leaves the daemon.
fn generic_server_error(response: Response) -> Response {
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    }
    response
}

/// The pages tend serves need nothing from elsewhere, run no script, and
/// are never framed; a page that sets its own policy keeps it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secured(guard: &Guard, mut response: Response) -> Response {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if guard.https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if html {
        set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
        set(
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        );
        set(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        set(header::CACHE_CONTROL, "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxies = Proxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        let outside: IpAddr = "203.0.113.9".parse().unwrap();
        // Straight from the internet: the header is the client's own words.
        assert_eq!(proxies.client(outside, &headers("198.51.100.1")), outside);
        // Through our proxy: the nearest hop that is not ours.
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            proxies.client(proxy, &headers("1.2.3.4, 198.51.100.7, 10.9.9.9")),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(proxies.client(proxy, &HeaderMap::new()), proxy);
        assert_eq!(
            proxies.client("::1".parse().unwrap(), &headers("garbage, 198.51.100.8")),
            "198.51.100.8".parse::<IpAddr>().unwrap()
        );
        assert!(proxies.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!proxies.contains("11.0.0.1".parse().unwrap()));
        assert!(Proxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(Proxies::parse(&["proxy.example".into()]).is_err());
    }

    #[test]
    fn kinds_follow_the_path() {
        assert_eq!(Kind::of(&Method::GET, "/u/abc"), Kind::Links);
        assert_eq!(Kind::of(&Method::HEAD, "/c/abc"), Kind::Links);
        assert_eq!(Kind::of(&Method::POST, "/events"), Kind::Events);
        assert_eq!(Kind::of(&Method::POST, "/inbound/ses"), Kind::Events);
        assert_eq!(Kind::of(&Method::POST, "/console/sign-in"), Kind::SignIn);
        assert_eq!(Kind::of(&Method::GET, "/console/sign-in"), Kind::Other);
        assert_eq!(Kind::of(&Method::POST, "/console/login"), Kind::SignIn);
        assert_eq!(Kind::of(&Method::GET, "/console/login"), Kind::Other);
        assert_eq!(Kind::of(&Method::GET, "/healthz"), Kind::Other);
    }

    #[test]
    fn a_budget_is_per_client_and_says_when_to_come_back() {
        let limits = HttpLimits {
            links: Rate::parse("3/min").unwrap(),
            ..HttpLimits::default()
        };
        let guard = Guard::new(&limits, "https://mail.example");
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(guard.admit(Kind::Links, a).is_ok());
        }
        let wait = guard.admit(Kind::Links, a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(guard.admit(Kind::Links, b).is_ok(), "another client");
        assert!(guard.admit(Kind::Other, a).is_ok(), "another budget");
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_with_a_plain_500() {
        use axum::body::Body;
        use tower::ServiceExt;
        let guard = Arc::new(Guard::new(&HttpLimits::default(), "http://x"));
        let app = axum::Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret internals at src/store/sqlite.rs:42");
                    }
                    "never"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(guard, super::guard));
        let request = axum::http::Request::get("/boom")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"internal error\n");
    }
}
