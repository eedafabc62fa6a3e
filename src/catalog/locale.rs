//! The languages tend writes in. A contact's language comes from a free
//! attribute (`locale`, else `language`), a template's from its file name
//! (`welcome/hello.de.tera` is the German `welcome/hello`) or its front
//! matter (`lang = "de"`), defaulting to English.
//!
//! Only languages whose helper words and footer tend knows are listed: a
//! template in a language tend cannot finish (a French body with an English
//! "Good morning" and footer) would be worse than the default one.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    De,
    Es,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::De, Locale::Es];

    /// The ISO 639-1 code: `en`, `de`, `es` (also the HTML `lang`).
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
            Locale::Es => "es",
        }
    }

    /// Exactly a supported code (`de`), as used in template file names.
    pub fn from_code(code: &str) -> Option<Locale> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// A contact's language as CRMs write it: `de`, `DE`, `de-AT`, `de_DE`,
    /// `German`, `Deutsch`, `español`. `None` when empty or not one tend writes.
    pub fn parse(text: &str) -> Option<Locale> {
        let lower = text.trim().to_lowercase();
        let primary = lower.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match primary {
            "en" | "eng" | "english" | "englisch" | "inglés" | "ingles" => Some(Locale::En),
            "de" | "deu" | "ger" | "german" | "deutsch" | "alemán" | "aleman" => Some(Locale::De),
            "es" | "spa" | "spanish" | "español" | "espanol" | "castellano" | "spanisch" => {
                Some(Locale::Es)
            }
            _ => None,
        }
    }

    /// The language a contact asked for: `attributes.locale`, else
    /// `attributes.language` (the first one that names a language tend writes).
    pub fn of_contact(attributes: &crate::domain::Attributes) -> Option<Locale> {
        ["locale", "language"]
            .iter()
            .filter_map(|k| attributes.get(*k).and_then(|v| v.as_str()))
            .find_map(Locale::parse)
    }

    /// `welcome/hello.de` → (`welcome/hello`, German); other names unchanged.
    pub fn split_name(name: &str) -> (&str, Option<Locale>) {
        match name.rsplit_once('.') {
            Some((base, code)) if !base.is_empty() && !base.ends_with('/') => {
                match Locale::from_code(code) {
                    Some(l) => (base, Some(l)),
                    None => (name, None),
                }
            }
            _ => (name, None),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_name_their_language_in_many_ways() {
        for (text, want) in [
            ("de", Some(Locale::De)),
            ("DE", Some(Locale::De)),
            ("de-AT", Some(Locale::De)),
            ("de_DE.UTF-8", Some(Locale::De)),
            ("Deutsch", Some(Locale::De)),
            ("en-GB", Some(Locale::En)),
            ("es-MX", Some(Locale::Es)),
            ("Español", Some(Locale::Es)),
            ("fr", None),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(Locale::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn locale_comes_from_the_locale_attribute_then_language() {
        let mut a = crate::domain::Attributes::new();
        assert_eq!(Locale::of_contact(&a), None);
        a.insert("language".into(), "es".into());
        assert_eq!(Locale::of_contact(&a), Some(Locale::Es));
        a.insert("locale".into(), "de-CH".into());
        assert_eq!(Locale::of_contact(&a), Some(Locale::De));
        a.insert("locale".into(), "fr-FR".into());
        assert_eq!(
            Locale::of_contact(&a),
            Some(Locale::Es),
            "an unknown locale falls through to `language`"
        );
    }

    #[test]
    fn template_names_carry_their_locale_as_a_suffix() {
        assert_eq!(
            Locale::split_name("welcome/hello.de"),
            ("welcome/hello", Some(Locale::De))
        );
        assert_eq!(Locale::split_name("welcome/hello"), ("welcome/hello", None));
        assert_eq!(
            Locale::split_name("welcome/hello.v2"),
            ("welcome/hello.v2", None)
        );
        assert_eq!(Locale::split_name("welcome/.de"), ("welcome/.de", None));
    }
}
