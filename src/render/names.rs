//! The name a message greets someone by. The name field holds whatever an
//! import put there: "Dr. Jane Smith", "Smith, Jane", "J. R. Smith",
//! "JANE SMITH", "jane smith", "Madonna", an address, "N/A", "Acme GmbH".
//! [`first_name`] finds the given name or admits there is none, so a
//! greeting never reads "Dr.,", "Smith,," or "Hi J.,".

/// Forms of address that come before a name (compared lower-cased, without
/// the trailing dot).
const TITLES: &[&str] = &[
    "dr",
    "doctor",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "prof",
    "professor",
    "sir",
    "dame",
    "lord",
    "lady",
    "rev",
    "revd",
    "reverend",
    "fr",
    "father",
    "herr",
    "frau",
    "fräulein",
    "sr",
    "sra",
    "srta",
    "señor",
    "señora",
    "señorita",
    "doña",
    "dña",
    "mme",
    "mlle",
    "monsieur",
    "madame",
    "dott",
    "dipl",
    "ing",
    "mag",
    "hon",
    "capt",
    "sgt",
];

/// What may follow a name (after it or after a comma): "Jane Smith, PhD".
const SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "esq", "dds", "cpa", "msc", "bsc", "llm",
    "mph", "dvm",
];

/// Words that mark an organisation, not a person: "Acme GmbH", "Acme, Inc.".
/// Short ones count only as the last word ("Jane Co Smith" is a person).
const COMPANY: &[&str] = &[
    "inc",
    "ltd",
    "llc",
    "llp",
    "gmbh",
    "ag",
    "kg",
    "ohg",
    "ug",
    "sa",
    "sl",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "plc",
    "corp",
    "corporation",
    "company",
    "co",
    "oy",
    "ab",
    "as",
    "pty",
];

/// Placeholders CRMs and forms leave in the name field.
const PLACEHOLDERS: &[&str] = &[
    "unknown",
    "n/a",
    "na",
    "none",
    "null",
    "nil",
    "undefined",
    "test",
    "customer",
    "client",
    "user",
    "friend",
    "valued",
    "member",
    "subscriber",
    "name",
    "firstname",
    "first",
    "admin",
    "info",
    "contact",
    "team",
    "sales",
    "support",
    "office",
    "hello",
    "mail",
    "noreply",
    "-",
    "x",
    "xx",
    "xxx",
    "tbd",
    "anonymous",
    "guest",
];

/// A name longer than this is not a first name but data gone wrong.
const MAX_FIRST_NAME: usize = 40;

fn key(token: &str) -> String {
    token
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '/')
        .replace('.', "")
        .to_lowercase()
}

fn in_list(list: &[&str], token: &str) -> bool {
    let k = key(token);
    !k.is_empty() && list.contains(&k.as_str())
}

/// "J", "J.", "J.R.", "J-P." : letters standing for names, not names.
fn is_initial(token: &str) -> bool {
    let parts: Vec<&str> = token.split(['.', '-']).filter(|p| !p.is_empty()).collect();
    !parts.is_empty()
        && parts
            .iter()
            .all(|p| p.chars().filter(|c| c.is_alphabetic()).count() <= 1)
}

/// Text in double quotes ("Robert \"Bob\" Smith"): the name they go by.
fn nickname(name: &str) -> Option<&str> {
    let open = name.find(['"', '“'])?;
    let rest = &name[open + name[open..].chars().next()?.len_utf8()..];
    let close = rest.find(['"', '”'])?;
    Some(rest[..close].trim()).filter(|n| !n.is_empty())
}

fn without_parentheses(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// "jean-pierre" → "Jean-Pierre", "O'BRIEN" → "O'Brien".
fn title_case(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut start = true;
    for c in word.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = matches!(c, '-' | '\'' | '’');
    }
    out
}

/// The given name to greet someone by, or `None` when the name field holds
/// no usable one (missing, an address, a placeholder, a company, only a
/// title and surname, only initials).
///
/// * titles go ("Dr. Jane Smith" → Jane; "Prof. Dr. Hans Müller" → Hans),
///   and a title with only a surname left ("Mr Li", "Dr. Smith") has no
///   first name;
/// * "Smith, Jane" → Jane; "Jane Smith, PhD" → Jane;
/// * leading initials are skipped for a middle name ("J. Robert Smith" →
///   Robert), and "J. R. Smith" has none;
/// * a quoted nickname wins ("Robert \"Bob\" Smith" → Bob);
/// * a name written all in capitals or all in lower case is set in title
///   case ("JANE SMITH", "jane smith" → Jane); one written with care keeps
///   its spelling ("AJ Smith" → AJ, "DeShawn" → DeShawn);
/// * a single word is taken as it is ("Madonna").
pub fn first_name(name: Option<&str>) -> Option<String> {
    let raw = name?.trim();
    // Line breaks are only whitespace here (the subject is one line anyway);
    // other control characters fail the letters check below.
    if raw.is_empty() || raw.contains('@') {
        return None;
    }
    if let Some(nick) = nickname(raw) {
        return first_name(Some(nick));
    }
    let cleaned = without_parentheses(raw);
    let tokens_of = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    let all: Vec<String> = tokens_of(&cleaned.replace(',', " "));
    let company = |t: &String| in_list(COMPANY, t);
    if all.iter().any(|t| company(t) && key(t).chars().count() > 2)
        || all.last().is_some_and(company)
    {
        return None;
    }
    // "Last, First" unless what follows the comma is only suffixes.
    let parts: Vec<&str> = cleaned
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let parts: Vec<&str> = {
        let mut keep = parts.clone();
        while keep.len() > 1
            && keep
                .last()
                .is_some_and(|p| p.split_whitespace().all(|t| in_list(SUFFIXES, t)))
        {
            keep.pop();
        }
        keep
    };
    let given = match parts.as_slice() {
        [] => return None,
        [one] => one.to_string(),
        [_surname, rest @ ..] => rest.join(" "),
    };
    let mut tokens = tokens_of(&given);
    let mut titled = false;
    while tokens.first().is_some_and(|t| in_list(TITLES, t)) {
        tokens.remove(0);
        titled = true;
    }
    while tokens.len() > 1 && tokens.last().is_some_and(|t| in_list(SUFFIXES, t)) {
        tokens.pop();
    }
    let surname_follows = parts.len() == 1;
    let chosen = match tokens.as_slice() {
        [] => return None,
        // "Mr Li", "Dr. Smith": a title before a single word names the surname.
        [_] if titled && surname_follows => return None,
        [only] if is_initial(only) => return None,
        [first, ..] if !is_initial(first) => first.clone(),
        // Initials first: a middle name, if one comes before the surname.
        _ => {
            let candidates = if surname_follows {
                &tokens[..tokens.len() - 1]
            } else {
                &tokens[..]
            };
            candidates.iter().find(|t| !is_initial(t))?.clone()
        }
    };
    if chosen.chars().any(char::is_numeric) {
        return None;
    }
    let word = chosen
        .trim_matches(|c: char| !c.is_alphabetic())
        .to_string();
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let allowed = |c: char| c.is_alphabetic() || matches!(c, '-' | '\'' | '’' | '.');
    if letters < 2 && word.is_ascii() {
        return None;
    }
    if !word.chars().all(allowed) || word.chars().count() > MAX_FIRST_NAME {
        return None;
    }
    if in_list(PLACEHOLDERS, &word) || in_list(TITLES, &word) {
        return None;
    }
    let lettered = |s: &str| s.chars().filter(|c| c.is_alphabetic()).collect::<String>();
    let whole = lettered(raw);
    let own = lettered(&word);
    let shouting = whole.chars().all(char::is_uppercase)
        || (own.chars().all(char::is_uppercase) && own.chars().count() > 2);
    let whispering = own.chars().all(char::is_lowercase);
    Some(if shouting || whispering {
        title_case(&word)
    } else {
        word
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(name: &str) -> Option<String> {
        first_name(Some(name))
    }

    #[test]
    fn the_given_name_is_found_behind_titles_commas_and_initials() {
        for (name, want) in [
            ("Ana María López", Some("Ana")),
            ("Dr. Jane Smith", Some("Jane")),
            ("Dr Jane Smith", Some("Jane")),
            ("Prof. Dr. Hans Müller", Some("Hans")),
            ("Ms. Chloé Martin", Some("Chloé")),
            ("Mr Li", None),
            ("Dr.", None),
            ("Dr. Smith", None),
            ("Smith, Jane", Some("Jane")),
            ("Smith, Jane R.", Some("Jane")),
            ("Smith,, Jane", Some("Jane")),
            ("Smith, J.", None),
            ("Jane Smith, PhD", Some("Jane")),
            ("Smith Jr., John", Some("John")),
            ("J. R. Smith", None),
            ("J.R. Smith", None),
            ("J. Robert Smith", Some("Robert")),
            ("J.", None),
            ("Madonna", Some("Madonna")),
            ("Li", Some("Li")),
            ("", None),
            ("   ", None),
            ("jane.doe@example.com", None),
            ("Jane <jane@example.com>", None),
            ("JANE SMITH", Some("Jane")),
            ("jane smith", Some("Jane")),
            ("jean-pierre dupont", Some("Jean-Pierre")),
            ("JEAN-PIERRE DUPONT", Some("Jean-Pierre")),
            ("o'brien", Some("O'Brien")),
            ("ANA López", Some("Ana")),
            ("AJ Smith", Some("AJ")),
            ("DeShawn Jones", Some("DeShawn")),
            ("Robert \"Bob\" Smith", Some("Bob")),
            ("Jane (Accounts) Smith", Some("Jane")),
            ("N/A", None),
            ("unknown", None),
            ("Valued Customer", None),
            ("Acme GmbH", None),
            ("Acme, Inc.", None),
            ("Customer 123", None),
            ("Jane2", None),
            ("王伟", Some("王伟")),
            ("Søren Kierkegaard", Some("Søren")),
            ("Don Johnson", Some("Don")),
            ("Jane Co Smith", Some("Jane")),
            ("Li Ma", Some("Li")),
            ("Eve\r\nBcc: thief", Some("Eve")),
            ("E\u{7}ve", None),
        ] {
            assert_eq!(first(name).as_deref(), want, "{name:?}");
        }
        assert_eq!(first_name(None), None);
    }
}
