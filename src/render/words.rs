//! The words helpers and the footer write, per language. A message is in
//! the language of the template that rendered it (see
//! [`crate::catalog::Locale`]), so a German template gets "Guten Morgen",
//! "sieben Monate" and a German unsubscribe line, and a contact who asked
//! for German but has no German template gets English throughout, never a
//! mixture.

use crate::catalog::Locale;

/// Good morning (05:00–11:59), good afternoon (12:00–17:59), good evening.
pub fn greeting(locale: Locale, hour: u32) -> &'static str {
    let part = match hour {
        5..=11 => 0,
        12..=17 => 1,
        _ => 2,
    };
    match locale {
        Locale::En => ["Good morning", "Good afternoon", "Good evening"][part],
        Locale::De => ["Guten Morgen", "Guten Tag", "Guten Abend"][part],
        Locale::Es => ["Buenos días", "Buenas tardes", "Buenas noches"][part],
    }
}

fn number(locale: Locale, n: i64) -> String {
    const EN: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    const DE: [&str; 13] = [
        "null", "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
        "elf", "zwölf",
    ];
    const ES: [&str; 13] = [
        "cero", "un", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez",
        "once", "doce",
    ];
    let table = match locale {
        Locale::En => &EN,
        Locale::De => &DE,
        Locale::Es => &ES,
    };
    usize::try_from(n)
        .ok()
        .and_then(|i| table.get(i))
        .map(|w| w.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// How long something was ago, as a phrase that stands where a noun phrase
/// stands: "seven months", "a few weeks", "over a year". It never carries
/// "about" (so a template's own "about" never doubles) and never an article
/// a template might repeat. German is nominative ("Es ist sieben Monate
/// her"), Spanish fits "Hace siete meses que…".
pub fn duration(locale: Locale, days: i64) -> String {
    let days = days.max(0);
    let months = ((days as f64) / 30.44).round().clamp(2.0, 11.0) as i64;
    let years = days / 365;
    let n = |k| number(locale, k);
    match locale {
        Locale::En => match days {
            0 => "less than a day".into(),
            1 => "a day".into(),
            2..=6 => "a few days".into(),
            7..=10 => "a week".into(),
            11..=17 => "two weeks".into(),
            18..=24 => "three weeks".into(),
            25..=45 => "a month".into(),
            46..=334 => format!("{} months", n(months)),
            335..=395 => "a year".into(),
            396..=729 => "over a year".into(),
            _ => format!("over {} years", n(years)),
        },
        Locale::De => match days {
            0 => "nicht einmal ein Tag".into(),
            1 => "ein Tag".into(),
            2..=6 => "ein paar Tage".into(),
            7..=10 => "eine Woche".into(),
            11..=17 => "zwei Wochen".into(),
            18..=24 => "drei Wochen".into(),
            25..=45 => "ein Monat".into(),
            46..=334 => format!("{} Monate", n(months)),
            335..=395 => "ein Jahr".into(),
            396..=729 => "über ein Jahr".into(),
            _ => format!("über {} Jahre", n(years)),
        },
        Locale::Es => match days {
            0 => "menos de un día".into(),
            1 => "un día".into(),
            2..=6 => "unos días".into(),
            7..=10 => "una semana".into(),
            11..=17 => "dos semanas".into(),
            18..=24 => "tres semanas".into(),
            25..=45 => "un mes".into(),
            46..=334 => format!("{} meses", n(months)),
            335..=395 => "un año".into(),
            396..=729 => "más de un año".into(),
            _ => format!("más de {} años", n(years)),
        },
    }
}

/// What `since` says when the date is missing and the template gave no
/// `otherwise`: fits the same sentences as [`duration`].
pub fn some_time(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "some time",
        Locale::De => "einige Zeit",
        Locale::Es => "un tiempo",
    }
}

/// The conjunction before the last item of a list ("a, b and c"). Spanish
/// changes "y" to "e" before an "i" sound and "o" to "u" before an "o" sound.
pub fn conjunction(locale: Locale, conj: Option<&str>, next: &str) -> String {
    let lower = next.trim_start().to_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| lower.starts_with(p));
    match (locale, conj) {
        (_, Some(c)) if !matches!(c, "and" | "or") => c.to_string(),
        (Locale::En, c) => c.unwrap_or("and").to_string(),
        (Locale::De, Some("or")) => "oder".into(),
        (Locale::De, _) => "und".into(),
        (Locale::Es, Some("or")) => {
            if starts(&["o", "ó", "ho", "hó"]) {
                "u".into()
            } else {
                "o".into()
            }
        }
        (Locale::Es, _) => {
            // "hie…" (hielo) is said with a "y": it keeps "y".
            if starts(&["i", "í", "hi", "hí"]) && !starts(&["hia", "hie", "hio", "hiu"]) {
                "e".into()
            } else {
                "y".into()
            }
        }
    }
}

pub fn month(locale: Locale, month0: u32) -> &'static str {
    const DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let i = (month0 as usize).min(11);
    match locale {
        Locale::En => EN[i],
        Locale::De => DE[i],
        Locale::Es => ES[i],
    }
}

/// `local_date`'s format when the template gives none.
pub fn date_format(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "%-d %B %Y",
        Locale::De => "%-d. %B %Y",
        Locale::Es => "%-d de %B de %Y",
    }
}

/// Openers that need a name after them ("Dear Ana,"), and what to say
/// instead when there is none.
pub fn nameless_opener(locale: Locale, opener: &str) -> String {
    let needs_name: &[&str] = match locale {
        Locale::En => &["dear", "dearest", "my dear"],
        Locale::De => &[
            "liebe",
            "lieber",
            "sehr geehrte",
            "sehr geehrter",
            "hallo liebe",
            "hallo lieber",
        ],
        Locale::Es => &[
            "querido",
            "querida",
            "estimado",
            "estimada",
            "apreciado",
            "apreciada",
        ],
    };
    let lower = opener.trim().to_lowercase();
    if needs_name.contains(&lower.as_str()) || lower.is_empty() {
        match locale {
            Locale::En => "Hello",
            Locale::De => "Hallo",
            Locale::Es => "Hola",
        }
        .to_string()
    } else {
        opener.trim().to_string()
    }
}

/// The unsubscribe line tend appends to every message's text part.
pub fn footer_text(locale: Locale, url: &str) -> String {
    match locale {
        Locale::En => format!("To stop receiving these emails: {url}"),
        Locale::De => format!("Wenn Sie diese E-Mails nicht mehr erhalten möchten: {url}"),
        Locale::Es => format!("Para dejar de recibir estos correos: {url}"),
    }
}

/// The same line for the HTML part: (text before the link, link text).
pub fn footer_html(locale: Locale) -> (&'static str, &'static str) {
    match locale {
        Locale::En => ("Don't want these emails?", "Unsubscribe"),
        Locale::De => ("Sie möchten diese E-Mails nicht mehr erhalten?", "Abmelden"),
        Locale::Es => ("¿Prefiere no recibir estos correos?", "Darse de baja"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them_in_each_language() {
        let en = |d| duration(Locale::En, d);
        assert_eq!(en(0), "less than a day");
        assert_eq!(en(3), "a few days");
        assert_eq!(en(8), "a week");
        assert_eq!(en(20), "three weeks");
        assert_eq!(en(35), "a month");
        assert_eq!(en(213), "seven months");
        assert_eq!(en(365), "a year");
        assert_eq!(en(400), "over a year");
        assert_eq!(en(800), "over two years");
        assert_eq!(en(-5), "less than a day");
        assert_eq!(duration(Locale::De, 213), "sieben Monate");
        assert_eq!(duration(Locale::De, 400), "über ein Jahr");
        assert_eq!(duration(Locale::Es, 213), "siete meses");
        assert_eq!(duration(Locale::Es, 800), "más de dos años");
    }

    #[test]
    fn spanish_conjunctions_follow_the_sound() {
        assert_eq!(conjunction(Locale::Es, None, "Isabel"), "e");
        assert_eq!(conjunction(Locale::Es, None, "hielo"), "y");
        assert_eq!(conjunction(Locale::Es, None, "Ana"), "y");
        assert_eq!(conjunction(Locale::Es, Some("or"), "otro"), "u");
        assert_eq!(conjunction(Locale::De, None, "x"), "und");
        assert_eq!(conjunction(Locale::En, Some("or"), "x"), "or");
        assert_eq!(conjunction(Locale::De, Some("sowie"), "x"), "sowie");
    }

    #[test]
    fn an_opener_that_needs_a_name_gives_way_when_there_is_none() {
        assert_eq!(nameless_opener(Locale::En, "Dear"), "Hello");
        assert_eq!(nameless_opener(Locale::En, "Hi"), "Hi");
        assert_eq!(nameless_opener(Locale::De, "Liebe"), "Hallo");
        assert_eq!(nameless_opener(Locale::Es, "Querida"), "Hola");
        assert_eq!(nameless_opener(Locale::En, "Good morning"), "Good morning");
    }
}
