//! Domains and addresses as mailbox providers judge them: the organisational
//! domain (DMARC relaxed alignment compares those) and whether a public URL
//! can be reached by a recipient at all.

use std::net::IpAddr;

/// Public suffixes of two labels that tend knows. A full Public Suffix List
/// is not shipped; for a domain under another multi-label suffix the
/// organisational domain is guessed one label too short, so alignment is
/// judged too leniently there, never too strictly.
const TWO_LABEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "com.au",
    "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz", "co.jp", "ne.jp", "or.jp",
    "ac.jp", "co.za", "org.za", "com.br", "net.br", "com.mx", "com.ar", "com.cn", "net.cn",
    "com.tr", "co.in", "net.in", "org.in", "co.kr", "or.kr", "com.sg", "com.hk", "co.il", "com.tw",
    "co.at", "or.at", "gv.at", "com.pl", "com.es", "com.pt", "co.id", "com.my", "com.ph", "com.vn",
    "co.th",
];

/// The organisational domain: `mail.acme.example` → `acme.example`,
/// `news.acme.co.uk` → `acme.co.uk`.
pub fn organizational(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    let keep = if n >= 3 && TWO_LABEL_SUFFIXES.contains(&labels[n - 2..].join(".").as_str()) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(keep)..].join(".")
}

/// DMARC relaxed alignment: the same organisational domain.
pub fn aligned(a: &str, b: &str) -> bool {
    organizational(a) == organizational(b)
}

/// The host of an `http(s)://host[:port]/…` URL, lower-cased, without brackets.
pub fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    Some(host.to_lowercase()).filter(|h| !h.is_empty())
}

/// Why a recipient could not reach `host`, if so.
pub fn unreachable(host: &str) -> Option<&'static str> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
            IpAddr::V4(v4) if v4.is_private() => Some("a private network address"),
            IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
            IpAddr::V4(v4) if v4.is_unspecified() => Some("the unspecified address"),
            // 100.64.0.0/10: carrier-grade NAT, not reachable from outside.
            IpAddr::V4(v4) if v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 => {
                Some("a shared (carrier-grade NAT) address")
            }
            IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address"),
            IpAddr::V6(v6) if v6.is_unspecified() => Some("the unspecified address"),
            IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => {
                Some("a private (unique local) address")
            }
            IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("a link-local address"),
            _ => None,
        };
    }
    let reserved = [
        ("localhost", "the local machine"),
        (".localhost", "the local machine"),
        (".local", "a local (mDNS) name"),
        (".internal", "an internal name"),
        (".lan", "a local network name"),
        (".home.arpa", "a home network name"),
        (".test", "a name reserved for testing"),
        (".invalid", "a name reserved as invalid"),
        (".example", "a name reserved for documentation"),
    ];
    for (suffix, why) in reserved {
        if host == suffix.trim_start_matches('.') || host.ends_with(suffix) {
            return Some(why);
        }
    }
    if !host.contains('.') {
        return Some("a name without a domain (only resolvable inside your network)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisational_domains_and_alignment() {
        assert_eq!(organizational("mail.acme.example"), "acme.example");
        assert_eq!(organizational("Acme.Example."), "acme.example");
        assert_eq!(organizational("news.acme.co.uk"), "acme.co.uk");
        assert_eq!(organizational("example"), "example");
        assert!(aligned("acme.example", "mail.acme.example"));
        assert!(!aligned("acme.example", "acme-mail.example"));
        assert!(!aligned("acme.co.uk", "other.co.uk"));
    }

    #[test]
    fn hosts_recipients_cannot_reach() {
        for url in [
            "http://127.0.0.1:8025",
            "https://localhost/u",
            "https://10.0.0.8",
            "https://192.168.1.2:8443/",
            "https://[::1]:8025",
            "https://[fd00::1]",
            "https://mailhost",
            "https://tend.internal",
            "https://mail.acme.example",
            "https://100.64.1.1",
        ] {
            let host = host(url).unwrap();
            assert!(unreachable(&host).is_some(), "{url}");
        }
        for url in [
            "https://mail.acme.com",
            "https://u:p@mail.acme.de:443/x",
            "https://93.184.215.14",
        ] {
            let host = host(url).unwrap();
            assert_eq!(unreachable(&host), None, "{url}");
        }
    }
}
