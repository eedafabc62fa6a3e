//! The DNS records a configuration expects, printed by
//! `tend check --production`.

use super::domains::organizational;
use crate::config::Settings;
use crate::render::dkim::DkimSigner;

/// The DNS records tend's configuration expects: (name, TXT value, what for).
pub fn dns_records(settings: &Settings) -> Vec<(String, String, &'static str)> {
    let mut out = Vec::new();
    let Some(signer) = settings
        .dkim
        .as_ref()
        .and_then(|d| DkimSigner::load(d).ok())
    else {
        return out;
    };
    out.push((
        signer.dns_name(),
        signer.dns_record(),
        "DKIM: the public half of [dkim] key_file",
    ));
    let org = organizational(signer.domain());
    out.push((
        format!("_dmarc.{org}"),
        format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}; adkim=r; aspf=r"),
        "DMARC: start with p=none and read the reports, then p=quarantine",
    ));
    if let Some(domain) = settings
        .sending
        .return_path
        .as_deref()
        .and_then(|p| p.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase())
    {
        out.push((
            domain,
            "v=spf1 include:<your relay's SPF domain> -all".into(),
            "SPF for the bounce domain: your relay's documentation names the include",
        ));
    }
    out
}
