//! One-click unsubscribe (RFC 8058) over real HTTP: the in-process listener
//! bound to 127.0.0.1:0, and the daemon's listener used from a received
//! message's `List-Unsubscribe` header.

use crate::helpers::{NOW, TestApp, http_request, http_request_with};
use chrono::{DateTime, Utc};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tend::clock::FixedClock;
use tend::config::UnsubscribeScope;
use tend::domain::NewContact;
use tend::domain::{EmailAddress, Stage, TokenKey, UnsubToken};
use tend::http::{HttpState, serve};
use tend::segment::Segment;
use tend::store::SqliteStore;
use tend::store::prelude::*;

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn key() -> TokenKey {
    TokenKey::new(b"a-test-secret-that-is-long-enough").unwrap()
}

struct Server {
    addr: std::net::SocketAddr,
    store: SqliteStore,
    ids: Vec<i64>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(scope: UnsubscribeScope) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let contacts: Vec<NewContact> = ["ana@example.com", "bob@example.com"]
        .iter()
        .map(|e| NewContact {
            email: EmailAddress::parse(e).unwrap(),
            name: None,
            created_at: Some(now()),
            last_activity_at: None,
            timezone: None,
            tags: None,
            attributes: Default::default(),
        })
        .collect();
    store.upsert_contacts(&contacts, now()).await.unwrap();
    let selection = Segment {
        stages: vec![Stage::New.to_string()],
        filter: None,
    }
    .select(&Default::default(), now());
    store
        .enroll("welcome", &selection, None, now())
        .await
        .unwrap();
    store.enroll("news", &selection, None, now()).await.unwrap();
    let mut ids = Vec::new();
    for e in ["ana@example.com", "bob@example.com"] {
        ids.push(
            store
                .contact_by_email(&EmailAddress::parse(e).unwrap())
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let state = HttpState {
        store: store.clone(),
        key: tend::links::Keys::fixed(key()),
        scope,
        clock: Arc::new(FixedClock(now())),
        events_token: Some("events-token-for-tests".into()),
        tick_every: std::time::Duration::from_secs(60),
        catalog: None,
        relay: None,
        webhooks: None,
        limits: Default::default(),
        public_url: "http://127.0.0.1".into(),
    };
    tokio::spawn(serve(listener, state, None, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        store,
        ids,
        _dir: dir,
        stop: Some(stop),
    }
}

fn token_for(contact_id: i64) -> String {
    key().sign(&UnsubToken {
        contact_id,
        campaign: "welcome".into(),
    })
}

async fn request(addr: std::net::SocketAddr, method: &'static str, path: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        http_request(addr, method, &path, "List-Unsubscribe=One-Click")
    })
    .await
    .unwrap()
}

async fn suppressed(store: &SqliteStore) -> Vec<String> {
    store
        .list_suppressions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.value)
        .collect()
}

#[tokio::test]
async fn one_click_post_suppresses_exactly_that_contact() {
    let server = start(UnsubscribeScope::All).await;
    let (status, body) = request(
        server.addr,
        "POST",
        format!("/u/{}", token_for(server.ids[0])),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("You are unsubscribed"));
    assert_eq!(
        suppressed(&server.store).await,
        vec!["ana@example.com".to_string()]
    );
}

#[tokio::test]
async fn get_shows_a_confirmation_page_and_changes_nothing() {
    let server = start(UnsubscribeScope::All).await;
    let token = token_for(server.ids[0]);
    let (status, body) = request(server.addr, "GET", format!("/u/{token}")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("<form method=\"post\" action=\"/u/{token}\">")),
        "{body}"
    );
    assert!(
        suppressed(&server.store).await.is_empty(),
        "a link scanner's GET must not unsubscribe"
    );
}

#[tokio::test]
async fn forged_altered_or_truncated_tokens_are_refused_and_change_nothing() {
    let server = start(UnsubscribeScope::All).await;
    let real = token_for(server.ids[0]);
    let forged = TokenKey::new(b"somebody-elses-secret-key")
        .unwrap()
        .sign(&UnsubToken {
            contact_id: server.ids[1],
            campaign: "welcome".into(),
        });
    let truncated = real[..real.len() - 3].to_string();
    for bad in [forged, truncated, "nonsense".to_string()] {
        for method in ["GET", "POST"] {
            let (status, _) = request(server.addr, method, format!("/u/{bad}")).await;
            assert_eq!(status, 400, "{method} {bad}");
        }
    }
    assert!(suppressed(&server.store).await.is_empty());
}

#[tokio::test]
async fn a_replayed_click_is_harmless() {
    let server = start(UnsubscribeScope::All).await;
    let path = format!("/u/{}", token_for(server.ids[1]));
    for _ in 0..3 {
        let (status, _) = request(server.addr, "POST", path.clone()).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        suppressed(&server.store).await,
        vec!["bob@example.com".to_string()]
    );
}

#[tokio::test]
async fn a_valid_token_for_an_unknown_contact_is_not_found() {
    let server = start(UnsubscribeScope::All).await;
    let (status, _) = request(server.addr, "POST", format!("/u/{}", token_for(999_999))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn campaign_scope_ends_only_that_campaign() {
    let server = start(UnsubscribeScope::Campaign).await;
    let (status, _) = request(
        server.addr,
        "POST",
        format!("/u/{}", token_for(server.ids[0])),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        suppressed(&server.store).await.is_empty(),
        "no global suppression"
    );
    let open = |c: &'static str| {
        let store = server.store.clone();
        async move {
            store
                .progress(c)
                .await
                .unwrap()
                .iter()
                .map(|p| p.contact_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        open("welcome").await,
        vec![server.ids[1]],
        "ana left the welcome campaign"
    );
    assert_eq!(open("news").await.len(), 2, "other campaigns go on");
}

#[tokio::test]
async fn health_reports_the_database() {
    let server = start(UnsubscribeScope::All).await;
    let (status, body) = request(server.addr, "GET", "/healthz".into()).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["database"].as_str()),
        (Some("ok"), Some("ok"))
    );

    server.store.close().await;
    let (status, body) = request(server.addr, "GET", "/healthz".into()).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"database\":\"unreachable\""), "{body}");
}

#[test]
fn the_link_in_a_received_message_unsubscribes_through_the_daemon() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts("email,name,created_at\nnew1@example.com,Nora,2026-03-09\nnew2@example.com,Ned,2026-03-08\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["run", "--now", NOW])
        .current_dir(app.dir.path())
        .env("TEND__SMTP__PORT", app.smtp().port.to_string())
        .env("TEND__HTTP__LISTEN", "127.0.0.1:0")
        .env("TEND__HTTP__PUBLIC_URL", "https://mail.acme.example")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = crate::helpers::LogLines::follow(child.stderr.take().unwrap());
    let line = logs.wait_for("http: listening on http://", Duration::from_secs(30));
    let addr: std::net::SocketAddr = line
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let received = app.smtp().wait_for(2, Duration::from_secs(30));
    let nora = received
        .iter()
        .find(|r| r.rcpt_tos == ["new1@example.com"])
        .unwrap();

    assert_eq!(
        nora.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let header = nora.header("List-Unsubscribe").unwrap();
    assert!(
        header.starts_with("<https://mail.acme.example/u/"),
        "{header}"
    );
    assert!(
        header.contains("<mailto:ana@acme.example?subject=unsubscribe>"),
        "{header}"
    );
    assert!(
        !header.contains("new1@example.com"),
        "the token does not carry the address"
    );
    let url = header.trim_start_matches('<').split('>').next().unwrap();
    let path = url.trim_start_matches("https://mail.acme.example");
    // Quoted-printable may fold a long line: undo the soft breaks first.
    assert!(
        nora.body()
            .replace("=\r\n", "")
            .replace("=\n", "")
            .contains(url),
        "a visible unsubscribe link is in the body"
    );

    let (status, _) = http_request(addr, "POST", path, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200);
    let forged = format!("{}x", &path[..path.len() - 1]);
    assert_eq!(http_request(addr, "POST", &forged, "").0, 400);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let list = app.tend(&["suppress", "list"]).ok().stdout;
    assert!(
        list.contains("new1@example.com") && list.contains("unsubscribe"),
        "{list}"
    );
    assert!(!list.contains("new2@example.com"), "{list}");
    assert!(list.contains("1 suppression(s)"), "{list}");
}

async fn post_events(
    addr: std::net::SocketAddr,
    token: &'static str,
    body: &'static str,
) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let auth = format!("Bearer {token}");
        http_request_with(
            addr,
            "POST",
            "/events",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &auth),
            ],
            body,
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn posted_events_need_the_bearer_token() {
    let server = start(UnsubscribeScope::All).await;
    let body = r#"{"email": "ana@example.com", "kind": "complaint"}"#;
    let (status, _) = post_events(server.addr, "wrong-token", body).await;
    assert_eq!(status, 401);
    assert!(
        suppressed(&server.store).await.is_empty(),
        "nothing stored without the token"
    );
}

#[tokio::test]
async fn a_posted_batch_stores_good_events_and_names_bad_ones() {
    let server = start(UnsubscribeScope::All).await;
    let body = r#"[
        {"email": "ana@example.com", "kind": "complaint", "at": "2026-03-10T09:00:00Z", "detail": "fbl"},
        {"email": "not-an-email", "kind": "activity"},
        {"email": "bob@example.com", "kind": "bounce", "detail": "soft: mailbox full"},
        {"email": "ghost@example.com", "kind": "purchase"},
        {"email": "bob@example.com", "kind": "???"}
    ]"#;
    let (status, response) = post_events(server.addr, "events-token-for-tests", body).await;
    assert_eq!(status, 200, "{response}");
    let v: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(v["stored"], 2, "{v}");
    assert_eq!(v["suppressions_added"], 1, "{v}");
    let rejected: Vec<u64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, vec![1, 3, 4], "{v}");
    assert!(
        v["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not-an-email")
    );
    assert!(
        v["rejected"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("no contact")
    );
    assert_eq!(
        suppressed(&server.store).await,
        vec!["ana@example.com".to_string()],
        "a soft bounce keeps the address"
    );
}

#[tokio::test]
async fn a_tracked_link_records_a_click_and_redirects_only_to_its_signed_target() {
    let server = start(UnsubscribeScope::All).await;
    let click = tend::domain::ClickToken {
        contact_id: server.ids[0],
        campaign: "welcome".into(),
        step: 0,
        url: "https://acme.example/new?ref=mail".into(),
    };
    let token = key().sign_click(&click);
    let get = click_raw(server.addr, "GET", format!("/c/{token}"), Some(FIREFOX)).await;
    assert!(get.starts_with("HTTP/1.1 302"), "{get}");
    assert!(
        get.to_lowercase()
            .contains("location: https://acme.example/new?ref=mail"),
        "{get}"
    );
    let contact = server
        .store
        .contact_by_id(server.ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        contact.last_activity_at,
        Some(now()),
        "a reader's click is recorded as activity"
    );

    // HEAD (a link checker): the same redirect without a body, kept as an
    // automated click that is not the contact's activity.
    let checked = key().sign_click(&tend::domain::ClickToken {
        contact_id: server.ids[1],
        ..click.clone()
    });
    let head = click_raw(server.addr, "HEAD", format!("/c/{checked}"), Some(FIREFOX)).await;
    let (head_headers, head_body) = head.split_once("\r\n\r\n").unwrap();
    assert!(head_headers.starts_with("HTTP/1.1 302"), "{head}");
    assert!(
        head_headers
            .to_lowercase()
            .contains("location: https://acme.example/new?ref=mail"),
        "{head}"
    );
    assert_eq!(head_body, "", "no body for HEAD");
    let bob = server
        .store
        .contact_by_id(server.ids[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.last_activity_at, None, "a scanner is not the contact");
    let url = format!("sqlite://{}", server._dir.path().join("t.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let clicks: Vec<(i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT contact_id, method, automated, user_agent FROM events WHERE kind = 'click' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(
        clicks,
        vec![
            (server.ids[0], "GET".into(), None, FIREFOX.into()),
            (
                server.ids[1],
                "HEAD".into(),
                Some("head".into()),
                FIREFOX.into()
            ),
        ]
    );

    // The same signature with another target is refused, and records nothing.
    let (_, tag) = token.split_once('.').unwrap();
    use base64::Engine;
    let evil = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "c1\u{1f}{}\u{1f}welcome\u{1f}0\u{1f}https://evil.example/",
        server.ids[1]
    ));
    let (status, _) = request(server.addr, "GET", format!("/c/{evil}.{tag}")).await;
    assert_eq!(status, 400);
    let other = server
        .store
        .contact_by_id(server.ids[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.last_activity_at, None);
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn click_raw(
    addr: std::net::SocketAddr,
    method: &'static str,
    path: String,
    user_agent: Option<&'static str>,
) -> String {
    tokio::task::spawn_blocking(move || crate::helpers::http_raw(addr, method, &path, user_agent))
        .await
        .unwrap()
}
