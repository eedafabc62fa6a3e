//! The wire, for real: STARTTLS and implicit TLS against a test CA made in
//! the test, AUTH success and failure, DKIM checked by an independent
//! verifier (dkimpy), and a stalled server.

use crate::helpers::{NOW, TestApp, repo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes ca.pem, server.pem and server.key into `dir`.
pub fn test_ca(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, "tend test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

const CONTACTS: &str =
    "email,name,created_at\nnew1@example.com,Nora,2026-03-09\nnew2@example.com,Ned,2026-03-08\n";

fn tls_app(extra: &[&str]) -> (TestApp, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    test_ca(certs.path());
    let cert = certs.path().join("server.pem");
    let key = certs.path().join("server.key");
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let app = TestApp::with_smtp(&args);
    app.import_contacts(CONTACTS);
    (app, certs)
}

fn run_with(app: &TestApp, env: &[(&str, &str)]) -> crate::helpers::Output {
    app.tend_with(&["run", "--once", "--now", NOW], env).ok()
}

#[test]
fn starttls_delivers_when_the_certificate_is_trusted() {
    let (app, certs) = tls_app(&[]);
    let ca = certs.path().join("ca.pem");
    let out = run_with(
        &app,
        &[
            ("TEND__SMTP__TLS", "starttls"),
            ("TEND__SMTP__CA_FILE", ca.to_str().unwrap()),
        ],
    );
    assert!(
        out.stdout.contains("sent 2,"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(app.smtp().received().len(), 2);
}

#[test]
fn an_untrusted_certificate_is_refused_and_the_sends_wait() {
    let (app, _certs) = tls_app(&[]);
    let out = run_with(&app, &[("TEND__SMTP__TLS", "starttls")]);
    // A TLS failure is the relay's problem, not the recipients': parked, never failed.
    assert!(
        out.stdout.contains("sent 0, retry 0, failed 0, bounced 0")
            && out.stdout.contains("parked 2"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(app.smtp().received().is_empty());
    assert!(
        app.tend(&["suppress", "list"])
            .ok()
            .stdout
            .contains("0 suppression(s)")
    );
}

#[test]
fn implicit_tls_delivers() {
    let (app, certs) = tls_app(&["--implicit-tls"]);
    let ca = certs.path().join("ca.pem");
    let out = run_with(
        &app,
        &[
            ("TEND__SMTP__TLS", "tls"),
            ("TEND__SMTP__CA_FILE", ca.to_str().unwrap()),
        ],
    );
    assert!(
        out.stdout.contains("sent 2,"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(app.smtp().received().len(), 2);
}

#[test]
fn auth_with_the_right_password_delivers() {
    let (app, certs) = tls_app(&["--auth", "tend:s3cret-pass"]);
    let ca = certs.path().join("ca.pem");
    let out = run_with(
        &app,
        &[
            ("TEND__SMTP__TLS", "starttls"),
            ("TEND__SMTP__CA_FILE", ca.to_str().unwrap()),
            ("TEND__SMTP__USERNAME", "tend"),
            ("TEND__SMTP__PASSWORD", "s3cret-pass"),
        ],
    );
    assert!(
        out.stdout.contains("sent 2,"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_failed_login_is_retried_and_never_suppresses_recipients() {
    let (app, certs) = tls_app(&["--auth", "tend:s3cret-pass"]);
    let ca = certs.path().join("ca.pem");
    let out = run_with(
        &app,
        &[
            ("TEND__SMTP__TLS", "starttls"),
            ("TEND__SMTP__CA_FILE", ca.to_str().unwrap()),
            ("TEND__SMTP__USERNAME", "tend"),
            ("TEND__SMTP__PASSWORD", "wrong"),
            ("TEND__SMTP__TIMEOUT", "2s"),
        ],
    );
    assert!(
        out.stdout.contains("sent 0, retry 2, failed 0, bounced 0"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(app.smtp().received().is_empty());
    assert!(
        app.tend(&["suppress", "list"])
            .ok()
            .stdout
            .contains("0 suppression(s)")
    );
}

#[test]
fn a_stalled_server_times_out_and_the_send_is_retried() {
    let app = TestApp::with_smtp(&["--stall-data", "30"]);
    app.import_contacts("email,name,created_at\nnew1@example.com,Nora,2026-03-09\n");
    let out = run_with(&app, &[("TEND__SMTP__TIMEOUT", "1s")]);
    assert!(
        out.stdout.contains("sent 0, retry 1"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(app.smtp().received().is_empty());
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

/// Runs tests/support/dkim_verify.py (dkimpy) on `message`: (passed, report).
fn dkim_verify(record: &str, message: &str) -> (bool, String) {
    let mut verify =
        Command::new(std::env::var("TEND_TEST_PYTHON").unwrap_or_else(|_| "python3".into()))
            .arg(repo().join("tests/support/dkim_verify.py"))
            .arg(record)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    use std::io::Write;
    verify
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = verify.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_lowercase(),
    )
}

#[test]
fn a_received_message_passes_dkim_verification_by_an_independent_verifier() {
    let app = TestApp::with_smtp(&[]);
    app.import_contacts(CONTACTS);
    let dir = app.dir.path();
    openssl(&["genrsa", "-traditional", "-out", "dkim.key", "2048"], dir);
    let public = openssl(
        &["rsa", "-in", "dkim.key", "-pubout", "-outform", "DER"],
        dir,
    );
    let mut config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    config = config.replace(
        "[sending]\n",
        "[sending]\nreply_to = \"Help <help@acme.example>\"\n",
    );
    config +=
        "\n[dkim]\nselector = \"tend2026\"\ndomain = \"acme.example\"\nkey_file = \"dkim.key\"\n";
    app.write("config/tend.toml", &config);
    app.run_once(NOW);
    let received = app.smtp().received();
    assert_eq!(received.len(), 2);

    use base64::Engine;
    let record = format!(
        "v=DKIM1; k=rsa; p={}",
        base64::engine::general_purpose::STANDARD.encode(public)
    );
    // `tend check --production` prints exactly the record to publish.
    let check = app.tend(&["check", "--production", "--json"]);
    let check: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(check["dns"][0]["name"], "tend2026._domainkey.acme.example");
    assert_eq!(check["dns"][0]["value"], record.as_str());
    for message in &received {
        let signature = message.header("DKIM-Signature").expect("signed");
        assert!(
            signature.contains("d=acme.example") && signature.contains("s=tend2026"),
            "{signature}"
        );
        assert!(
            message
                .header("Content-Type")
                .unwrap()
                .starts_with("multipart/alternative"),
            "the welcome is text and HTML: its Content-Type comes with the body"
        );
        let (ok, report) = dkim_verify(&record, &message.data);
        assert!(ok, "{report}");
        let signed = report
            .lines()
            .find_map(|l| l.strip_prefix("signed headers: "))
            .unwrap();
        let signed: Vec<&str> = signed.split(", ").collect();
        for header in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "reply-to",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "feedback-id",
            "mime-version",
            "content-type",
        ] {
            assert!(signed.contains(&header), "{header} is signed: {report}");
        }
        let h = signature
            .split(';')
            .find_map(|t| t.trim().strip_prefix("h="))
            .unwrap()
            .replace([' ', '\t', '\r', '\n'], "");
        assert!(h.starts_with("from:from:"), "From is over-signed: {h}");
    }

    // Tampering with a signed header breaks the signature: the subject, the
    // Content-Type (the multipart boundary), or a second From.
    let data = &received[0].data;
    let boundary_free = data.replacen(
        "Content-Type: multipart/alternative;",
        "Content-Type: multipart/mixed;",
        1,
    );
    assert_ne!(&boundary_free, data);
    for tampered in [
        data.replacen("Subject: ", "Subject: FREE MONEY ", 1),
        boundary_free,
        data.replacen("From: ", "From: \"Bank\" <ceo@bank.example>\r\nFrom: ", 1),
    ] {
        assert!(
            !dkim_verify(&record, &tampered).0,
            "tampered and still verified"
        );
    }
}
