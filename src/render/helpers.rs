//! Personal helpers every template can use. They read the contact's time
//! zone, name, the render's `now` and the template's language from
//! [`super::current`], so a preview at `--now` shows what a send at that
//! instant would say, in the language of the message.
//!
//! | helper | example | gives |
//! |---|---|---|
//! | `greeting()` | `{{ greeting() }}, Ana` | Good morning / Good afternoon / Good evening (contact's local time) |
//! | `since(date=…)` | `{{ since(date=contact.last_activity_at) }}` | seven months, a few days, over a year; `otherwise` when the date is missing (default "some time") |
//! | `salute` filter | `{{ "Hi" \| salute }},` | "Hi Ana," or, without a usable name, "Hi," ("Dear" becomes "Hello") |
//! | `with_name` filter | `{{ "it has been a while" \| with_name }}` | "Ana, it has been a while" or "It has been a while" |
//! | `article` filter | `{{ plan \| article }}` | "an enterprise", "a pro", "an MBA", "a user" (English) |
//! | `capitalize` filter | `{{ s \| capitalize }}` | the first letter upper-cased, nothing else touched (Tera's own would write "acme") |
//! | `attr(name=…, default=…)` | `{{ attr(name="plan", default="your") }}` | an attribute, or the default when missing or blank |
//! | `local_date` filter | `{{ contact.created_at \| local_date(format="%B %Y") }}` | the date in the contact's zone, month names in the message's language |
//! | `plural` filter | `{{ contact.attributes.orders \| plural(one="order", many="orders") }}` | 1 order / 3 orders |
//! | `list` filter | `{{ ["a", "b", "c"] \| list }}` | a, b and c (`conj="or"`; und / y in German and Spanish) |

use super::current::read;
use super::english::{capitalize_first, with_article};
use super::words;
use crate::catalog::Locale;
use chrono::{DateTime, Datelike, Timelike, Utc};
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
    tera.register_filter("article", article);
    tera.register_filter("salute", salute);
    tera.register_filter("with_name", with_name);
    // Replaces Tera's own, which lower-cases everything after the first
    // letter and so turns a brand ("Acme") or a name into "acme".
    tera.register_filter("capitalize", capitalize);
}

type Args = HashMap<String, Value>;

/// Good morning (05:00–11:59), Good afternoon (12:00–17:59), Good evening.
pub fn greeting_at(hour: u32) -> &'static str {
    words::greeting(Locale::En, hour)
}

fn greeting(_: &Args) -> tera::Result<Value> {
    read(|s| Ok(words::greeting(s.locale, s.now.with_timezone(&s.zone).hour()).into()))
}

/// "a few days", "three weeks", "seven months", "over a year", "over two years".
pub fn humanize(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    words::duration(Locale::En, (to - from).num_days())
}

fn parse_date(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    crate::import::parse_time(text).ok()
}

fn since(args: &Args) -> tera::Result<Value> {
    let otherwise = args
        .get("otherwise")
        .and_then(Value::as_str)
        .map(str::to_string);
    let date = args.get("date").and_then(parse_date);
    read(|s| {
        Ok(match date {
            Some(d) => words::duration(s.locale, (s.now - d).num_days()),
            None => otherwise.unwrap_or_else(|| words::some_time(s.locale).to_string()),
        }
        .into())
    })
}

fn text_of<'a>(value: &'a Value, filter: &str) -> tera::Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| tera::Error::msg(format!("{filter}: expects text, got `{value}`")))
}

fn article(value: &Value, _: &Args) -> tera::Result<Value> {
    Ok(with_article(text_of(value, "article")?).into())
}

fn capitalize(value: &Value, _: &Args) -> tera::Result<Value> {
    Ok(capitalize_first(text_of(value, "capitalize")?).into())
}

/// "Hi" → "Hi Ana", or "Hi" when there is no usable name ("Dear" → "Hello").
fn salute(value: &Value, _: &Args) -> tera::Result<Value> {
    let opener = text_of(value, "salute")?.trim().to_string();
    read(|s| {
        Ok(match &s.first_name {
            Some(name) if opener.is_empty() => name.clone(),
            Some(name) => format!("{opener} {name}"),
            None => words::nameless_opener(s.locale, &opener),
        }
        .into())
    })
}

/// "it has been a while" → "Ana, it has been a while", or "It has been a
/// while" when there is no usable name.
fn with_name(value: &Value, args: &Args) -> tera::Result<Value> {
    let text = text_of(value, "with_name")?.trim().to_string();
    let sep = args
        .get("sep")
        .and_then(Value::as_str)
        .unwrap_or(", ")
        .to_string();
    read(|s| {
        Ok(match &s.first_name {
            Some(name) => format!("{name}{sep}{text}"),
            None => capitalize_first(&text),
        }
        .into())
    })
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
        .map(str::to_string);
    let Some(date) = parse_date(value) else {
        return match args.get("otherwise") {
            Some(v) => Ok(v.clone()),
            None => Err(tera::Error::msg(format!(
                "local_date: `{value}` is not a date (missing data?): add otherwise=\"…\""
            ))),
        };
    };
    read(|s| {
        let local = date.with_timezone(&s.zone);
        let format = format
            .clone()
            .unwrap_or_else(|| words::date_format(s.locale).to_string());
        // chrono writes English month names: put the message's own in first.
        let month = words::month(s.locale, local.month0());
        let format = format.replace("%B", &month.replace('%', "%%"));
        let items: Vec<_> = chrono::format::StrftimeItems::new(&format).collect();
        if items.contains(&chrono::format::Item::Error) {
            return Err(tera::Error::msg(format!(
                "local_date: bad format `{format}`"
            )));
        }
        Ok(local.format_with_items(items.iter()).to_string().into())
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
    join_in(Locale::En, items, Some(conj))
}

fn join_in(locale: Locale, items: &[String], conj: Option<&str>) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!(
            "{} {} {last}",
            init.join(", "),
            words::conjunction(locale, conj, last)
        ),
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
    let conj = args.get("conj").and_then(Value::as_str).map(str::to_string);
    read(|s| Ok(join_in(s.locale, &items, conj.as_deref()).into()))
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
        assert_eq!(ago(8), "a week");
        assert_eq!(ago(20), "three weeks");
        assert_eq!(ago(35), "a month");
        assert_eq!(ago(122), "four months");
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
