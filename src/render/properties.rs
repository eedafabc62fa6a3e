//! Property tests of the helpers: thousands of seeded awkward names, dates,
//! zones and languages, rendered through a real template that uses every
//! personal helper, and proofread. A failure prints the seed's case.

use super::english::{article, capitalize_first, with_article};
use super::names::first_name;
use super::proofread::proofread;
use super::{PickMode, Renderer, words};
use crate::catalog::{self, Locale};
use crate::config::LifecycleSettings;
use crate::domain::{Attributes, Contact};
use crate::segment::Vocabulary;
use chrono::{DateTime, Duration, Utc};

/// xorshift64: reproducible without a crate.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const GIVEN: &[&str] = &[
    "Jane",
    "José",
    "Chloé",
    "Søren",
    "Zoë",
    "Li",
    "Olu",
    "Aoife",
    "Jürgen",
    "Émile",
    "DeShawn",
    "Mary-Kate",
    "Ann",
    "Ian",
    "Uma",
    "Omar",
    "Ugo",
    "Eve",
    "Hélène",
    "Ōta",
];
const FAMILY: &[&str] = &[
    "Smith",
    "García",
    "O'Brien",
    "Müller",
    "van der Berg",
    "Nguyen",
    "Kowalski",
    "McDonald",
    "Haddad",
    "Ørsted",
    "da Silva",
];
const TITLES: &[&str] = &[
    "Dr.",
    "Dr",
    "Mr",
    "Mrs.",
    "Ms.",
    "Prof.",
    "Prof. Dr.",
    "Herr",
    "Sra.",
];
const JUNK: &[&str] = &[
    "",
    " ",
    "N/A",
    "unknown",
    "-",
    "x",
    "test",
    "Customer 42",
    "Acme GmbH",
    "Acme, Inc.",
    "info@acme.example",
    "J.",
    "J. R.",
    "Dr.",
    "Mr Smith",
    ",",
    ",,",
    "\"\"",
    "()",
    "Smith, ",
    ", Jane",
    "😀",
    "12345",
    "null",
    "a@b",
];

/// A name as imports write it, and the first name a person would use.
fn awkward_name(rng: &mut Seeded) -> (String, Option<String>) {
    let given = rng.pick(GIVEN);
    let family = rng.pick(FAMILY);
    let title = rng.pick(TITLES);
    let (name, want): (String, Option<&str>) = match rng.below(10) {
        0 => (format!("{given} {family}"), Some(given)),
        1 => (format!("{title} {given} {family}"), Some(given)),
        2 => (format!("{family}, {given}"), Some(given)),
        3 => (
            format!(
                "{} {family}",
                &given[..given.chars().next().map_or(0, char::len_utf8)]
            ),
            None,
        ),
        4 => (format!("{given} {family}").to_uppercase(), Some(given)),
        5 => (format!("{given} {family}").to_lowercase(), Some(given)),
        6 => (given.to_string(), Some(given)),
        7 => (format!("{title} {family}"), None),
        8 => (format!("  {given}\t{family}  "), Some(given)),
        _ => (rng.pick(JUNK).to_string(), None),
    };
    // All-caps and all-lower names come back in title case.
    let want = want.map(|w| {
        let mut out = String::new();
        let mut start = true;
        for c in w.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = c == '-';
        }
        if name == name.to_uppercase() || name == name.to_lowercase() {
            out
        } else {
            w.to_string()
        }
    });
    (name, want)
}

#[test]
fn first_name_finds_the_given_name_or_none_for_thousands_of_awkward_names() {
    let mut rng = Seeded(0x5eed_0016);
    for case in 0..5000 {
        let (name, want) = awkward_name(&mut rng);
        let got = first_name(Some(&name));
        if let Some(w) = &want {
            assert_eq!(got.as_ref(), Some(w), "case {case}: {name:?}");
        }
        if let Some(g) = &got {
            assert!(
                !g.is_empty() && g.chars().count() <= 40,
                "case {case}: {name:?} → {g:?}"
            );
            assert!(
                !g.contains(char::is_whitespace) && !g.contains(['@', ',']),
                "{name:?} → {g:?}"
            );
            assert!(
                !g.contains(|c: char| c.is_ascii_digit()),
                "{name:?} → {g:?}"
            );
            assert!(
                name.to_lowercase().contains(&g.to_lowercase()),
                "{name:?} → {g:?} is not from the name"
            );
        }
    }
}

#[test]
fn durations_fit_every_sentence_in_every_language() {
    for locale in Locale::ALL {
        for days in (-30..4000).step_by(1) {
            let phrase = words::duration(locale, days);
            assert!(
                !phrase.is_empty() && !phrase.contains("  "),
                "{days}: {phrase:?}"
            );
            assert!(
                !phrase.contains("about") && !phrase.starts_with("the "),
                "{phrase}"
            );
            let sentences = match locale {
                Locale::En => vec![
                    format!("It has been {phrase} since we last heard from you."),
                    format!("Since your last visit {phrase} ago, we built it."),
                    format!("We have not spoken in {phrase}."),
                ],
                Locale::De => vec![format!(
                    "Es ist {phrase} her, seit wir von Ihnen gehört haben."
                )],
                Locale::Es => vec![format!("Hace {phrase} que no sabemos de usted.")],
            };
            for s in sentences {
                assert_eq!(proofread(&s, locale, &[]), vec![], "{s}");
            }
        }
    }
}

#[test]
fn articles_agree_with_the_proofreader_and_capitalising_keeps_the_rest() {
    let mut rng = Seeded(42);
    let starts = [
        "enterprise",
        "pro",
        "hour",
        "honest",
        "user",
        "unique",
        "umbrella",
        "MBA",
        "URL",
        "FAQ",
        "one-off",
        "European",
        "8-week",
        "11",
        "iPhone",
        "year",
        "x-ray",
        "SaaS",
        "hourly",
        "unlimited",
        "Acme",
        "apple",
        "heir",
        "Ukrainian",
        "NDA",
    ];
    for _ in 0..2000 {
        let word = rng.pick(&starts);
        let tail = rng.pick(&["plan", "client", "offer", ""]);
        let phrase = format!("{word} {tail}").trim().to_string();
        let a = article(&phrase);
        assert!(a == "a" || a == "an");
        let sentence = format!("As {} we know.", with_article(&phrase));
        assert_eq!(proofread(&sentence, Locale::En, &[]), vec![], "{sentence}");
        let caps = capitalize_first(&format!("{phrase} at Acme"));
        assert!(caps.ends_with(" at Acme"), "{caps}");
        assert_eq!(
            caps.chars().skip(1).collect::<String>(),
            format!("{phrase} at Acme")
                .chars()
                .skip(1)
                .collect::<String>()
        );
        assert_eq!(capitalize_first(&caps), caps, "idempotent");
    }
}

/// One template using every personal helper, in English and German.
const TEMPLATE: &str = r#"+++
subject = '''{{ "we have missed you" | with_name }}'''
+++
{{ pick(slot="opener", options=["Hi", "Hello", "Dear", greeting()]) | salute }},

It has been {{ since(date=contact.last_activity_at) }} since we last heard from you.
{% set plan = attr(name="plan", default="") | as_str | trim -%}
{% if plan %}As {{ plan | article }} client, you have it all.{% endif %}
You joined in {{ contact.created_at | local_date(format="%B %Y") }}{% if contact.tags %}; tags: {{ contact.tags | list }}{% endif %}.
"#;

const TEMPLATE_DE: &str = r#"+++
subject = '''{{ "wir haben Sie vermisst" | with_name }}'''
+++
{{ pick(slot="opener", options=["Hallo", "Liebe", greeting()]) | salute }},

es ist {{ since(date=contact.last_activity_at) }} her, seit wir von Ihnen gehört haben.
Sie sind seit {{ contact.created_at | local_date(format="%B %Y") }} dabei{% if contact.tags %}; Schlagworte: {{ contact.tags | list }}{% endif %}.
"#;

#[test]
fn a_template_using_every_helper_reads_right_for_thousands_of_awkward_contacts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates/p")).unwrap();
    std::fs::write(
        dir.path().join("campaigns/p.toml"),
        "segment = { stage = \"new\" }\n[[steps]]\nafter = \"0d\"\ntemplate = \"p/all\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("templates/p/all.tera"), TEMPLATE).unwrap();
    std::fs::write(dir.path().join("templates/p/all.de.tera"), TEMPLATE_DE).unwrap();
    let (catalog, diags) = catalog::load(
        &dir.path().join("campaigns"),
        &dir.path().join("templates"),
        Vocabulary::default(),
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let renderer = Renderer::build(&catalog, LifecycleSettings::default()).unwrap();
    let campaign = &catalog.campaigns["p"];
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let mut rng = Seeded(0xface);
    let zones = [
        "",
        "Europe/Berlin",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "America/Adak",
        "Nope/Zone",
    ];
    let plans = [
        "",
        "enterprise",
        "pro",
        "hourly",
        "MBA",
        "unlimited",
        "user",
        "European",
    ];
    let tags = ["", "vip", "customer", "intake"];
    let brands = vec!["Acme".to_string()];
    for case in 0..3000 {
        let (name, _) = awkward_name(&mut rng);
        let locale = rng.pick(&["", "en", "de", "de-AT", "es", "fr", "Deutsch"]);
        let mut attributes = Attributes::new();
        attributes.insert("locale".into(), locale.into());
        let plan = rng.pick(&plans);
        if !plan.is_empty() {
            attributes.insert("plan".into(), plan.into());
        }
        let contact = Contact {
            id: case,
            email: format!("p{case}@example.com"),
            name: Some(name.clone()).filter(|_| rng.below(8) > 0),
            created_at: now - Duration::days(rng.below(3000) as i64),
            last_activity_at: (rng.below(4) > 0)
                .then(|| now - Duration::days(rng.below(2000) as i64 - 10)),
            timezone: Some(rng.pick(&zones).to_string()).filter(|z| !z.is_empty()),
            tags: (0..rng.below(4))
                .map(|_| rng.pick(&tags).to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            attributes,
        };
        let at = now + Duration::minutes(rng.below(60 * 24) as i64);
        let mode = PickMode::Nth(rng.below(4));
        let r = renderer
            .render_with(campaign, 0, &contact, at, &[], mode)
            .unwrap_or_else(|e| panic!("case {case}: {contact:?}: {e}"));
        let expected = match Locale::of_contact(&contact.attributes) {
            Some(Locale::De) => Locale::De,
            _ => Locale::En,
        };
        assert_eq!(r.locale, expected, "case {case}");
        for text in [&r.subject, &r.text] {
            let slips = proofread(text, r.locale, &brands);
            assert!(
                slips.is_empty(),
                "case {case}: {contact:?}\n{text}\n{slips:?}"
            );
        }
        let greeting = r.text.lines().next().unwrap_or_default();
        match first_name(contact.name.as_deref()) {
            Some(first) => assert!(greeting.contains(&first), "case {case}: {greeting}"),
            None => assert!(
                greeting.split_whitespace().count() <= 2
                    && !greeting.contains("Dear")
                    && !greeting.contains("Liebe"),
                "case {case}: {greeting}"
            ),
        }
    }
}
