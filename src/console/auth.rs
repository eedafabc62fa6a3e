//! Signing in: users from `[[console.users]]` with argon2 password hashes,
//! or a name in `console.sso_header` from a trusted proxy. A session is a
//! random token in an HttpOnly, SameSite=Strict cookie; the store keeps
//! only its SHA-256. Failed sign-ins are counted per address and per user
//! in the store, so a restart does not reset the limit.

use super::{ConsoleState, PageResult, Role};
use crate::store::ConsoleSession;
use crate::store::prelude::*;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

const COOKIE: &str = "tend_console";
/// The sign-in form's CSRF token, echoed by the form (double submit): a
/// page elsewhere cannot sign a browser in to an account of its choosing.
const LOGIN_COOKIE: &str = "tend_console_login";

/// An argon2id PHC string for `password` (`tend console hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: String,
    pub role: Role,
    /// The token every form must carry back.
    pub csrf: String,
    /// Signed in through the proxy: there is no session to sign out of.
    pub sso: bool,
    /// What the last action did (`?done=…` after its redirect).
    pub notice: Option<String>,
}

impl Viewer {
    pub fn actor(&self) -> String {
        format!("console:{}", self.user)
    }

    /// 403 unless an operator sent the right CSRF token (compared in constant time).
    pub fn may_act(&self, csrf: &str) -> Result<(), super::ConsoleError> {
        use subtle::ConstantTimeEq;
        if !bool::from(self.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
            return Err(super::ConsoleError::Forbidden(
                "the form's security token is missing or stale: reload the page and try again",
            ));
        }
        if self.role != Role::Operator {
            return Err(super::ConsoleError::Forbidden(
                "your role is viewer: only an operator may do this",
            ));
        }
        Ok(())
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted && !value.is_empty()).then(|| value.to_string())
        })
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The user a trusted proxy names, if the request came through one.
fn sso_user<S>(
    state: &ConsoleState<S>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<Viewer> {
    let settings = &state.settings.console;
    let name = settings.sso_header.as_deref()?;
    let peer = peer?;
    let trusted = settings
        .sso_proxies
        .iter()
        .any(|p| p.parse::<IpAddr>().is_ok_and(|p| p == peer));
    if !trusted {
        return None;
    }
    let user = headers.get(name)?.to_str().ok()?.trim().to_string();
    if user.is_empty() {
        return None;
    }
    let role = settings
        .users
        .iter()
        .find(|u| u.name == user)
        .map(|u| u.role)
        .unwrap_or(settings.sso_role);
    // No session to hold a token: the CSRF token is derived from the user
    // and the daemon's link-signing key, so it is stable and unguessable.
    let csrf = state
        .identity
        .links
        .key()
        .derive(&format!("console-csrf:{user}"));
    Some(Viewer {
        user,
        role,
        csrf,
        sso: true,
        notice: None,
    })
}

impl<S: Store> FromRequestParts<Arc<ConsoleState<S>>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ConsoleState<S>>,
    ) -> Result<Self, Response> {
        let notice =
            axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(
                &parts.uri,
            )
            .ok()
            .and_then(|q| q.0.get("done").cloned());
        if let Some(viewer) = sso_user(state, &parts.headers, peer(parts)) {
            return Ok(Viewer { notice, ..viewer });
        }
        if let Some(token) = cookie_token(&parts.headers) {
            let now = state.clock.now();
            match state.store.session(&sha256_hex(&token), now).await {
                Ok(Some(session)) => {
                    if let Some(role) = Role::parse(&session.role) {
                        return Ok(Viewer {
                            user: session.user,
                            role,
                            csrf: session.csrf,
                            sso: false,
                            notice,
                        });
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(super::ConsoleError::from(e).into_response()),
            }
        }
        // Back to where they were going after signing in.
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console/");
        let to = format!("/console/login?next={}", super::view::url_encode(next));
        Err(Redirect::to(&to).into_response())
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Only a console path, so a sign-in link cannot send anyone elsewhere.
fn safe_next(next: &str) -> String {
    if next.starts_with("/console/") && !next.starts_with("/console//") {
        next.to_string()
    } else {
        "/console/".to_string()
    }
}

pub async fn login_page<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> PageResult {
    login_form(&state, &safe_next(&query.next), None, StatusCode::OK)
}

/// The sign-in page, with a fresh form token in the form and in a cookie.
fn login_form<S: Store>(
    state: &ConsoleState<S>,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let token = random_token();
    let mut ctx = tera::Context::new();
    ctx.insert("csrf", &token);
    ctx.insert("next", next);
    ctx.insert("error", &error);
    ctx.insert("sso", &state.settings.console.sso_header);
    let html = state.templates.render("login.html", &ctx)?;
    let mut response = (status, super::view::HEADERS, axum::response::Html(html)).into_response();
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if state.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a cookie of hex and ASCII"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    use subtle::ConstantTimeEq;
    let echoed = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| {
        !form.csrf.is_empty() && bool::from(c.as_bytes().ct_eq(form.csrf.as_bytes()))
    });
    if !echoed {
        return Err(super::ConsoleError::Forbidden(
            "the sign-in form's security token is missing or stale: reload the page and try again",
        ));
    }
    let settings = &state.settings.console;
    let now = state.clock.now();
    let next = safe_next(&form.next);
    // The client as the listener judged it (behind a trusted proxy: the
    // address it forwarded for), else the connection's peer.
    let address = extensions
        .get::<crate::http::guard::ClientAddress>()
        .map(|c| c.0.to_string())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let keys = [
        format!("addr:{address}"),
        format!("user:{}", form.user.trim()),
    ];
    let since = now - settings.login_window.to_chrono();
    for key in &keys {
        if state.store.login_failures(key, since).await? >= settings.login_attempts {
            return login_form(
                &state,
                &next,
                Some("Too many failed sign-ins: wait a few minutes and try again."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    }
    let user = settings.users.iter().find(|u| u.name == form.user.trim());
    // A missing user costs a verification too, so timing does not tell names apart.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ETu/NOmOu4rvdrfmXEAznA$UO6nZ1az/d+PcRJXMQKupEIV8++S3uHEZqorCIpW3hU";
    let ok = match user {
        Some(u) => verify(&form.password, &u.password_hash),
        None => {
            let _ = verify(&form.password, DUMMY);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        for key in &keys {
            state.store.record_login_failure(key, now).await?;
        }
        return login_form(
            &state,
            &next,
            Some("Wrong name or password."),
            StatusCode::UNAUTHORIZED,
        );
    };
    for key in &keys {
        state.store.clear_login_failures(key).await?;
    }
    let token = random_token();
    let session = ConsoleSession {
        token_hash: sha256_hex(&token),
        user: user.name.clone(),
        role: user.role.as_str().to_string(),
        csrf: random_token(),
        created_at: now,
        expires_at: now + settings.session_for.to_chrono(),
    };
    state.store.create_session(&session).await?;
    let cookie = format!(
        "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        settings.session_for.to_std().as_secs(),
        if state.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a cookie of hex and ASCII"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session (any signed-in user may; the CSRF token is still required).
pub async fn logout<S: Store>(
    State(state): State<Arc<ConsoleState<S>>>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    use subtle::ConstantTimeEq;
    if !bool::from(viewer.csrf.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return Err(super::ConsoleError::Forbidden(
            "the form's security token is missing or stale",
        ));
    }
    if let Some(token) = cookie_token(&headers) {
        state
            .store
            .delete_session(&sha256_hex(&token), state.clock.now())
            .await?;
    }
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "tend_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}
