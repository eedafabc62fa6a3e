//! Personal helpers every template can use. They read the contact's time
//! zone and the render's `now` from [`super::current`], so a preview at
//! `--now` shows what a send at that instant would say.
//!
//! | helper | example | gives |
//! |---|---|---|
//! | `greeting()` | `{{ greeting() }}, Ana` | Good morning / Good afternoon / Good evening (contact's local time) |
//! | `since(date=…)` | `{{ since(date=contact.last_activity_at) }}` | about four months; `otherwise` when the date is missing (default "a while") |
//! | `attr(name=…, default=…)` | `{{ attr(name="plan", default="your") }}` | an attribute, or the default when missing or blank |
//! | `local_date` filter | `{{ contact.created_at \| local_date(format="%B %Y") }}` | the date in the contact's zone; `otherwise="…"` for a missing date |
//! | `plural` filter | `{{ contact.attributes.orders \| plural(one="order", many="orders") }}` | 1 order / 3 orders |
//! | `list` filter | `{{ ["a", "b", "c"] \| list }}` | a, b and c (`conj="or"`) |

use super::current::read;
use chrono::{DateTime, Timelike, Utc};
use std::collections::HashMap;
use tera::{Tera, Value};

pub fn register(tera: &mut Tera) {
    tera.register_function("pick", super::current::pick);
    tera.register_function("greeting", greeting);
    tera.register_function("since", since);
    tera.register_function("attr", attr);
    tera.register_filter("local_date", local_date);
    tera.register_filter("plural", plural);
    tera.register_filter("list", list);
}

type Args = HashMap<String, Value>;

/// Good morning (05:00–11:59), Good afternoon (12:00–17:59), Good evening.
pub fn greeting_at(hour: u32) -> &'static str {
    match hour {
        5..=11 => "Good morning",
        12..=17 => "Good afternoon",
        _ => "Good evening",
    }
}

fn greeting(_: &Args) -> tera::Result<Value> {
    read(|s| Ok(greeting_at(s.now.with_timezone(&s.zone).hour()).into()))
}

const NUMBERS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

fn word(n: i64) -> String {
    usize::try_from(n)
        .ok()
        .and_then(|i| NUMBERS.get(i))
        .map(|w| w.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// "a few days", "about three weeks", "about four months", "over a year", "over two years".
pub fn humanize(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let days = (to - from).num_days().max(0);
    match days {
        0 => "less than a day".into(),
        1 => "a day".into(),
        2..=6 => "a few days".into(),
        7..=10 => "about a week".into(),
        11..=27 => format!("about {} weeks", word((days + 3) / 7)),
        28..=45 => "about a month".into(),
        46..=364 => format!(
            "about {} months",
            word(((days as f64) / 30.44).round() as i64)
        ),
        _ => match days / 365 {
            1 => "over a year".into(),
            years => format!("over {} years", word(years)),
        },
    }
}

fn parse_date(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    crate::import::parse_time(text).ok()
}

fn since(args: &Args) -> tera::Result<Value> {
    let otherwise = args
        .get("otherwise")
        .and_then(Value::as_str)
        .unwrap_or("a while")
        .to_string();
    let date = args.get("date").and_then(parse_date);
    read(|s| Ok(date.map(|d| humanize(d, s.now)).unwrap_or(otherwise).into()))
}

fn attr(args: &Args) -> tera::Result<Value> {
    let Some(name) = args.get("name").and_then(Value::as_str) else {
        return Err(tera::Error::msg(
            "attr needs a name: attr(name=\"plan\", default=\"your\")",
        ));
    };
    let default = args.get("default").cloned();
    read(|s| {
        let found = s
            .attributes
            .get(name)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|t| !t.trim().is_empty()))
            .cloned();
        found.or(default).ok_or_else(|| {
            tera::Error::msg(format!(
                "the contact has no attribute `{name}`: add default=\"…\""
            ))
        })
    })
}

fn local_date(value: &Value, args: &Args) -> tera::Result<Value> {
    let format = args
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("%-d %B %Y")
        .to_string();
    let Some(date) = parse_date(value) else {
        return match args.get("otherwise") {
            Some(v) => Ok(v.clone()),
            None => Err(tera::Error::msg(format!(
                "local_date: `{value}` is not a date (missing data?): add otherwise=\"…\""
            ))),
        };
    };
    let items: Vec<_> = chrono::format::StrftimeItems::new(&format).collect();
    if items.contains(&chrono::format::Item::Error) {
        return Err(tera::Error::msg(format!(
            "local_date: bad format `{format}`"
        )));
    }
    read(|s| {
        Ok(date
            .with_timezone(&s.zone)
            .format_with_items(items.iter())
            .to_string()
            .into())
    })
}

fn plural(value: &Value, args: &Args) -> tera::Result<Value> {
    let n = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| tera::Error::msg(format!("plural: `{value}` is not a number")))?;
    let get = |key: &str| args.get(key).and_then(Value::as_str);
    let one = get("one").unwrap_or("");
    let many = get("many").map(str::to_string).unwrap_or(format!("{one}s"));
    let noun = if n == 1.0 { one } else { &many };
    let number = if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    };
    Ok(if noun.is_empty() {
        number
    } else {
        format!("{number} {noun}")
    }
    .into())
}

/// "a", "a and b", "a, b and c" (`conj` replaces "and").
pub fn join_list(items: &[String], conj: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conj} {last}", init.join(", ")),
    }
}

fn list(value: &Value, args: &Args) -> tera::Result<Value> {
    let items: Vec<String> = value
        .as_array()
        .ok_or_else(|| tera::Error::msg("list: expects a list"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    let conj = args.get("conj").and_then(Value::as_str).unwrap_or("and");
    Ok(join_list(&items, conj).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn since_reads_like_a_person_wrote_it() {
        let now = at("2026-11-23T10:00:00Z");
        let ago = |days| humanize(now - chrono::Duration::days(days), now);
        assert_eq!(ago(0), "less than a day");
        assert_eq!(ago(3), "a few days");
        assert_eq!(ago(8), "about a week");
        assert_eq!(ago(20), "about three weeks");
        assert_eq!(ago(35), "about a month");
        assert_eq!(ago(122), "about four months");
        assert_eq!(ago(400), "over a year");
        assert_eq!(ago(800), "over two years");
        assert_eq!(
            humanize(now, now - chrono::Duration::days(3)),
            "less than a day"
        );
    }

    #[test]
    fn greeting_follows_the_clock() {
        assert_eq!(greeting_at(4), "Good evening");
        assert_eq!(greeting_at(5), "Good morning");
        assert_eq!(greeting_at(12), "Good afternoon");
        assert_eq!(greeting_at(18), "Good evening");
    }

    #[test]
    fn lists_join_with_commas_and_a_conjunction() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_list(&s(&[]), "and"), "");
        assert_eq!(join_list(&s(&["a"]), "and"), "a");
        assert_eq!(join_list(&s(&["a", "b"]), "or"), "a or b");
        assert_eq!(join_list(&s(&["a", "b", "c"]), "and"), "a, b and c");
    }
}
