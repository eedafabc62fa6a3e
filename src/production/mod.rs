//! `tend check --production`: the mistakes that cost deliverability or break
//! the law once real mail goes out, each pointing at the line to change
//! (`path:line:col`) with a hint. The daemon runs the same checks when it
//! starts delivering over SMTP and logs each failure as a warning.
//!
//! | check | severity |
//! |---|---|
//! | `http.public_url` is https and a recipient can reach its host (not loopback, private, `.local`, a bare host name…) | error |
//! | `http.listen` is set: the daemon serves `/u/` for one-click unsubscribes | error |
//! | `[dkim]` is configured and its key loads; an RSA key has at least 2048 bits (1024 is an error) | error / warning |
//! | every From domain (`sending.from`, each campaign's `from`) is aligned with the DKIM domain (DMARC relaxed: same organisational domain) | error |
//! | `sending.return_path` (bounce address) is set; its domain aligned with From too, for SPF | error / warning |
//! | `sending.postal_address` is set (it goes in every footer) | error |
//! | every template's HTML leaves tend's unsubscribe footer visible | error |
//! | without `sending.warmup`, `sending.rate` is at most 10 per second; a first warm-up day of at most 1,000; a `per_domain` default | warning |
//!
//! What counts as the visible unsubscribe link: tend appends it to every
//! message, in the text part and before `</body>` in the HTML part (see
//! [`crate::render::add_footer`]); a template passes when, rendered, that
//! link is outside any element that hides it ([`visible`]).

mod dns;
pub mod domains;
mod place;
pub mod visible;

pub use dns::dns_records;

use crate::catalog::{Diagnostic, Severity, SourceFile};
use crate::config::Settings;
use crate::render::dkim::DkimSigner;
use crate::render::{PickMode, add_footer, document};
use crate::send::Loaded;
use crate::variation::lint::full_sample;
use chrono::{DateTime, Utc};
use domains::{aligned, organizational};
use place::ConfigFile;
use std::path::Path;

/// Without warm-up, more than this many messages a second from a new
/// domain or IP is a warning.
pub const NEW_SENDER_RATE: f64 = 10.0;
/// A first warm-up day above this is a warning.
pub const FIRST_WARMUP_DAY: u32 = 1000;

/// Stands in for the signed unsubscribe URL while checking templates.
const SAMPLE_URL: &str = "https://tend.invalid/u/SAMPLE-TOKEN";

/// Every production problem of this configuration and catalog.
pub fn check(
    settings: &Settings,
    config_path: &Path,
    loaded: &Loaded,
    now: DateTime<Utc>,
) -> Vec<Diagnostic> {
    let config = ConfigFile::read(config_path);
    let mut out = Vec::new();
    public_url(settings, &config, &mut out);
    let dkim_domain = dkim(settings, &config, &mut out);
    senders(settings, &config, loaded, dkim_domain.as_deref(), &mut out);
    rates(settings, &config, &mut out);
    unsubscribe_visible(settings, loaded, now, &mut out);
    out.sort_by(|a, b| (&a.path, a.line, a.col).cmp(&(&b.path, b.line, b.col)));
    out
}

fn public_url(settings: &Settings, config: &ConfigFile, out: &mut Vec<Diagnostic>) {
    let url = &settings.http.public_url;
    let hint = "set it to the https address where your proxy serves tend's /u/ and /c/ paths, e.g. public_url = \"https://mail.acme.com\" (see README: serving /u/ over https)";
    if !url.starts_with("https://") {
        out.push(
            config
                .at(
                    Severity::Error,
                    "http",
                    "public_url",
                    format!(
                        "`http.public_url` is `{url}`: unsubscribe links must be https (Gmail and Yahoo require a working one-click unsubscribe, RFC 8058)"
                    ),
                )
                .with_hint(hint),
        );
    }
    if let Some(why) = domains::host(url).as_deref().and_then(domains::unreachable) {
        out.push(
            config
                .at(
                    Severity::Error,
                    "http",
                    "public_url",
                    format!(
                        "`http.public_url` points at {why}: recipients cannot reach it, so unsubscribe links and one-click unsubscribes fail"
                    ),
                )
                .with_hint(hint),
        );
    }
    if settings.http.listen.trim().is_empty() {
        out.push(
            config
                .at(
                    Severity::Error,
                    "http",
                    "listen",
                    "`http.listen` is empty: nothing answers one-click unsubscribes (POST /u/…) while the daemon runs".into(),
                )
                .with_hint("listen on a local port, e.g. listen = \"127.0.0.1:8025\", and proxy https traffic for public_url to it"),
        );
    }
}

/// Checks `[dkim]`; returns its domain when the key loads.
fn dkim(settings: &Settings, config: &ConfigFile, out: &mut Vec<Diagnostic>) -> Option<String> {
    let Some(dkim) = &settings.dkim else {
        out.push(
            config
                .at(
                    Severity::Error,
                    "dkim",
                    "domain",
                    "no `[dkim]` section: messages go out unsigned, and Gmail and Yahoo reject or junk bulk mail without DKIM aligned with From".into(),
                )
                .with_hint("generate a key (openssl genrsa -traditional -out dkim.key 2048), add [dkim] with selector, domain and key_file, and publish the DNS record (README: DKIM)"),
        );
        return None;
    };
    match DkimSigner::load(dkim) {
        Err(e) => {
            out.push(
                config
                    .at(Severity::Error, "dkim", "key_file", e.to_string())
                    .with_hint("RSA: PEM from `openssl genrsa -traditional`; Ed25519: the base64 of the 32-byte seed"),
            );
            None
        }
        Ok(signer) => {
            if let Some(bits) = signer.rsa_bits().filter(|&b| b < 2048) {
                out.push(
                    config
                        .at(
                            if bits < 1024 {
                                Severity::Error
                            } else {
                                Severity::Warning
                            },
                            "dkim",
                            "key_file",
                            format!("the DKIM key has {bits} bits; receivers treat keys under 1024 bits as no signature, and 2048 is the norm"),
                        )
                        .with_hint("openssl genrsa -traditional -out dkim.key 2048, then publish the new public key under a new selector"),
                );
            }
            Some(signer.domain().to_string())
        }
    }
}

/// From domains aligned with DKIM; the return path set and aligned; the postal address.
fn senders(
    settings: &Settings,
    config: &ConfigFile,
    loaded: &Loaded,
    dkim_domain: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let global_from = settings.from_mailbox();
    let misaligned = |from: &str, d: &str| {
        format!(
            "From domain `{from}` is not aligned with the DKIM domain `{d}`: DMARC fails unless both share the organisational domain (`{}` vs `{}`)",
            organizational(from),
            organizational(d)
        )
    };
    let hint = |from: &str| {
        format!(
            "sign with a key for `{}` (a [dkim] domain under it), or send from an address under `{}`",
            organizational(from),
            dkim_domain.map(organizational).unwrap_or_default()
        )
    };
    if let (Some(from), Some(d)) = (&global_from, dkim_domain) {
        let domain = from.email.domain();
        if !aligned(domain, d) {
            out.push(
                config
                    .at(Severity::Error, "sending", "from", misaligned(domain, d))
                    .with_hint(hint(domain)),
            );
        }
    }
    for campaign in loaded.catalog.campaigns.values() {
        let (Some(from), Some(d)) = (&campaign.from, dkim_domain) else {
            continue;
        };
        let domain = from.email.domain();
        if aligned(domain, d) {
            continue;
        }
        let text = std::fs::read_to_string(&campaign.path).unwrap_or_default();
        let file = ConfigFile {
            file: SourceFile::new(&campaign.path, text),
        };
        let at = file.offset(&["from"]).unwrap_or(0);
        out.push(
            file.file
                .error(
                    at,
                    format!("campaign `{}`: {}", campaign.id, misaligned(domain, d)),
                )
                .with_hint(hint(domain)),
        );
    }
    match &settings.sending.return_path {
        None => out.push(
            config
                .at(
                    Severity::Error,
                    "sending",
                    "return_path",
                    "`sending.return_path` is not set: bounces go to the From address, where nobody processes them, and SPF cannot align".into(),
                )
                .with_hint("set return_path = \"bounces@YOUR-DOMAIN\" (a mailbox or the address your bounce processing reads)"),
        ),
        Some(path) => {
            let domain = path.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            if let Some(from) = &global_from {
                if !aligned(domain, from.email.domain()) {
                    out.push(
                        config
                            .at(
                                Severity::Warning,
                                "sending",
                                "return_path",
                                format!(
                                    "the bounce domain `{domain}` is not aligned with the From domain `{}`: SPF passes but does not count for DMARC (DKIM still can)",
                                    from.email.domain()
                                ),
                            )
                            .with_hint(format!("use an address under `{}` for bounces", organizational(from.email.domain()))),
                    );
                }
            }
        }
    }
    if settings
        .sending
        .postal_address
        .as_deref()
        .is_none_or(|a| a.trim().is_empty())
    {
        out.push(
            config
                .at(
                    Severity::Error,
                    "sending",
                    "postal_address",
                    "`sending.postal_address` is not set: commercial mail must show the sender's physical postal address (CAN-SPAM; most EU member states' laws too)".into(),
                )
                .with_hint("set postal_address = \"Acme Ltd, 1 Main Street, Springfield\"; tend prints it under the unsubscribe line"),
        );
    }
}

fn rates(settings: &Settings, config: &ConfigFile, out: &mut Vec<Diagnostic>) {
    let s = &settings.sending;
    let per_second = f64::from(s.rate.count) / s.rate.period.as_secs().max(1) as f64;
    if s.warmup.is_empty() && per_second > NEW_SENDER_RATE {
        out.push(
            config
                .at(
                    Severity::Warning,
                    "sending",
                    "rate",
                    format!(
                        "no `sending.warmup` and a rate of {per_second:.0} per second: a new domain or IP that sends its whole list at once gets deferred and blocked"
                    ),
                )
                .with_hint(format!(
                    "for a new sender set warmup = [200, 500, 1000, 2000, 5000] (daily caps), or keep rate at {NEW_SENDER_RATE:.0}/s or below; an established sender can ignore this"
                )),
        );
    }
    if let Some(&first) = s.warmup.first().filter(|&&n| n > FIRST_WARMUP_DAY) {
        out.push(
            config
                .at(
                    Severity::Warning,
                    "sending",
                    "warmup",
                    format!("the first warm-up day allows {first} messages; a new sender starts with a few hundred"),
                )
                .with_hint("start around 200–500 and roughly double each day"),
        );
    }
    if !s.per_domain.contains_key("default") {
        out.push(
            config
                .at(
                    Severity::Warning,
                    "sending",
                    "per_domain",
                    "no per-domain rate: one big mailbox provider can receive the whole sending rate at once".into(),
                )
                .with_hint("per_domain = { default = \"600/min\", \"gmail.com\" = \"300/min\" }"),
        );
    }
}

fn unsubscribe_visible(
    settings: &Settings,
    loaded: &Loaded,
    now: DateTime<Utc>,
    out: &mut Vec<Diagnostic>,
) {
    let mut contact = full_sample(now);
    for campaign in loaded.catalog.campaigns.values() {
        for (i, step) in campaign.steps.iter().enumerate() {
            let versions = loaded
                .catalog
                .templates
                .values()
                .filter(|t| t.base == step.template || t.name == step.template);
            for template in versions {
                if template.html.is_none() {
                    continue;
                }
                contact
                    .attributes
                    .insert("locale".into(), template.locale.code().into());
                let Ok(mut rendered) =
                    loaded
                        .renderer
                        .render_with(campaign, i, &contact, now, &[], PickMode::First)
                else {
                    continue; // `tend check` reports templates that do not render.
                };
                add_footer(
                    &mut rendered,
                    SAMPLE_URL,
                    settings.sending.postal_address.as_deref(),
                );
                let Some(html) = rendered.html.as_deref() else {
                    continue;
                };
                if let Err(why) = visible::link_is_visible(&document(html, &rendered), SAMPLE_URL) {
                    let at = template.file.line_offset(template.html_line);
                    out.push(
                        template
                            .file
                            .error(
                                at,
                                format!(
                                    "the unsubscribe link tend appends to the HTML part is not visible: {why}"
                                ),
                            )
                            .with_hint("close every element you open in the HTML part; never wrap the end of the body in a hidden element or a comment"),
                    );
                }
            }
        }
    }
}
