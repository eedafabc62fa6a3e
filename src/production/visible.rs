//! Is a link visible in an HTML document? tend appends its unsubscribe
//! footer before `</body>`, so a template can only hide it by what encloses
//! that spot: an element left open that is hidden (`display:none`,
//! `visibility:hidden`, `opacity:0`, `font-size:0`, `max-height:0`,
//! `mso-hide:all`, the `hidden` or `aria-hidden="true"` attribute), an
//! unclosed comment, or an element whose content is never shown (`head`,
//! `title`, `style`, `script`, `template`, `noscript`, `textarea`).

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];
const NEVER_SHOWN: &[&str] = &[
    "head", "title", "style", "script", "template", "noscript", "textarea",
];

/// Declarations in an inline style that hide an element.
fn hides(style: &str) -> Option<&'static str> {
    let decl: Vec<(String, String)> = style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(k, v)| {
            (
                k.trim().to_lowercase(),
                v.trim().to_lowercase().replace(' ', ""),
            )
        })
        .collect();
    let has = |k: &str, v: &str| {
        decl.iter()
            .any(|(dk, dv)| dk == k && dv.trim_end_matches("!important") == v)
    };
    let zero = |k: &str| {
        decl.iter().any(|(dk, dv)| {
            let number: String = dv
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            dk == k && number.parse::<f64>().is_ok_and(|n| n == 0.0)
        })
    };
    if has("display", "none") {
        Some("display:none")
    } else if has("visibility", "hidden") {
        Some("visibility:hidden")
    } else if zero("opacity") {
        Some("opacity:0")
    } else if zero("font-size") {
        Some("font-size:0")
    } else if zero("max-height") && has("overflow", "hidden") {
        Some("max-height:0 with overflow:hidden")
    } else if has("mso-hide", "all") {
        Some("mso-hide:all")
    } else {
        None
    }
}

/// The value of `name` in a start tag's attribute text.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name) {
        let start = from + at;
        let before_ok = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
        let rest = lower[start + name.len()..].trim_start();
        if before_ok
            && (rest.starts_with('=')
                || rest.is_empty()
                || rest.starts_with(char::is_whitespace)
                || rest.starts_with('/'))
        {
            let value_start = start + name.len() + (lower[start + name.len()..].len() - rest.len());
            if !rest.starts_with('=') {
                return Some("");
            }
            let v = attrs[value_start + 1..].trim_start();
            return Some(match v.chars().next() {
                Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or_default(),
                _ => v
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default(),
            });
        }
        from = start + name.len();
    }
    None
}

/// `Ok(())` when a link to `href` exists outside every hidden element and
/// has text; else why not.
pub fn link_is_visible(html: &str, href: &str) -> Result<(), String> {
    // (element name, why it hides its content, if it does)
    let mut open: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    let mut found: Option<Result<(), String>> = None;
    let mut in_link: Option<(usize, bool)> = None; // (depth, saw text)
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            match rest.find("-->") {
                Some(end) => {
                    if rest[..end].contains(href) && found.is_none() {
                        found = Some(Err("it is inside an HTML comment".into()));
                    }
                    i += end + 3;
                    continue;
                }
                None => {
                    return Err(found.and_then(Result::err).unwrap_or_else(|| {
                        "it is inside an HTML comment that is never closed".into()
                    }));
                }
            }
        }
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = &rest[1..end.saturating_sub(1)];
            i += end;
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                if let Some(pos) = open.iter().rposition(|(n, _)| *n == name) {
                    open.truncate(pos);
                }
                if let Some((depth, saw_text)) = in_link {
                    if open.len() < depth {
                        in_link = None;
                        if found.is_none() {
                            found = Some(if saw_text {
                                Ok(())
                            } else {
                                Err("the link has no text".into())
                            });
                        }
                    }
                }
                continue;
            }
            if tag.starts_with('!') || tag.starts_with('?') {
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            let attrs = &tag[name.len()..];
            let why = if NEVER_SHOWN.contains(&name.as_str()) {
                Some(format!("<{name}> content is never shown"))
            } else if attribute(attrs, "hidden").is_some() {
                Some("the `hidden` attribute".into())
            } else if attribute(attrs, "aria-hidden")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                Some("aria-hidden=\"true\" (screen readers skip it)".into())
            } else {
                attribute(attrs, "style").and_then(hides).map(String::from)
            };
            if name == "a" && attribute(attrs, "href") == Some(href) && found.is_none() {
                let hidden = open
                    .iter()
                    .filter_map(|(n, w)| w.as_ref().map(|w| format!("<{n}> hides it: {w}")))
                    .next()
                    .or(why.clone());
                match hidden {
                    Some(w) => found = Some(Err(w)),
                    None => in_link = Some((open.len() + 1, false)),
                }
            }
            if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
                open.push((name, why));
            }
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if let Some((_, saw)) = &mut in_link {
            *saw |= !c.is_whitespace();
        }
        i += c.len_utf8();
    }
    match (found, in_link) {
        (Some(result), _) => result,
        (None, Some((_, true))) => Ok(()),
        (None, Some((_, false))) => Err("the link has no text".into()),
        (None, None) => Err("the link is missing".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://x.example/u/T";

    fn page(inner: &str) -> String {
        format!(
            "<!DOCTYPE html><html><head><title>t</title></head><body>{inner}<p>No? <a href=\"{URL}\">Unsubscribe</a>.</p></body></html>"
        )
    }

    #[test]
    fn a_plain_footer_link_is_visible() {
        assert_eq!(link_is_visible(&page("<p>Hi</p>"), URL), Ok(()));
        assert_eq!(
            link_is_visible(&page("<p>Hi<br>there</p><img src=x>"), URL),
            Ok(())
        );
    }

    #[test]
    fn what_a_template_can_wrap_around_the_footer_is_caught() {
        for (inner, why) in [
            ("<div style=\"display: none\">", "display:none"),
            (
                "<div style=\"color:#000;visibility:hidden\">",
                "visibility:hidden",
            ),
            ("<span style=\"font-size:0px\">", "font-size:0"),
            ("<div style=\"opacity:0\">", "opacity:0"),
            (
                "<div style=\"max-height:0;overflow:hidden\">",
                "max-height:0",
            ),
            ("<div hidden>", "hidden"),
            ("<div aria-hidden=\"true\">", "aria-hidden"),
            ("<template>", "never shown"),
            ("<!-- ", "comment"),
        ] {
            let err = link_is_visible(&page(inner), URL).unwrap_err();
            assert!(err.contains(why), "{inner}: {err}");
        }
        // Closed before the footer: harmless.
        assert_eq!(
            link_is_visible(&page("<div style=\"display:none\">pre</div>"), URL),
            Ok(())
        );
        assert_eq!(link_is_visible(&page("<!-- note -->"), URL), Ok(()));
        assert!(link_is_visible("<p>no link</p>", URL).is_err());
    }
}
