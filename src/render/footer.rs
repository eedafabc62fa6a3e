//! The footer tend appends to every message, in the message's language:
//! a visible unsubscribe line (text and HTML) and, when configured
//! (`sending.postal_address`), the sender's postal address. Templates cannot
//! leave it out; `tend check --production` checks that a template's HTML does
//! not hide it.

use super::Rendered;
use super::words;
use crate::catalog::Locale;

/// The footer's text colour on the white page: 7.0:1, above WCAG AA (4.5:1).
pub const FOOTER_COLOR: &str = "#595959";

pub(crate) fn escape_html(text: &str) -> String {
    escape(text, true)
}

/// `&`, `<`, `>` (and `"` when `quotes`) as entities, in one pass: what
/// replacing them one after the other gives (no entity holds a character
/// a later replacement would touch), without a new string per replacement.
pub(crate) fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(at) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>') || (quotes && b == b'"'))
    {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => "&quot;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// Every message carries a visible way out, in both parts and in the
/// message's language, and the sender's postal address when configured.
/// This is what `tend check --production` counts as the visible
/// unsubscribe link.
pub fn add_footer(rendered: &mut Rendered, url: &str, postal_address: Option<&str>) {
    let locale: Locale = rendered.locale;
    let address = postal_address.map(str::trim).filter(|a| !a.is_empty());
    let mut text = format!(
        "{}\n\n--\n{}\n",
        rendered.text.trim_end(),
        words::footer_text(locale, url)
    );
    if let Some(address) = address {
        text.push_str(&one_line(address));
        text.push('\n');
    }
    rendered.text = text;
    if let Some(html) = &mut rendered.html {
        let (before, link) = words::footer_html(locale);
        let style = format!("margin:24px 0 0;font-size:13px;line-height:1.5;color:{FOOTER_COLOR}");
        let mut footer = format!(
            "<p style=\"{style}\">{} <a href=\"{url}\" style=\"color:{FOOTER_COLOR};text-decoration:underline\">{}</a>.</p>",
            escape_html(before),
            escape_html(link)
        );
        if let Some(address) = address {
            footer.push_str(&format!(
                "<p style=\"margin:4px 0 0;font-size:13px;line-height:1.5;color:{FOOTER_COLOR}\">{}</p>",
                escape_html(&one_line(address))
            ));
        }
        match html.rfind("</body>") {
            Some(at) => html.insert_str(at, &footer),
            None => html.push_str(&footer),
        }
    }
}

/// A postal address may be written over several lines in the config.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_in_one_pass_is_replacing_one_after_the_other() {
        for text in [
            "",
            "plain",
            "a & b < c > d \"e\" &amp; &lt;",
            "<<&&>>\"\"",
            "ünïcödé & 日本 <b>",
        ] {
            let three = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert_eq!(escape(text, false), three, "{text:?}");
            assert_eq!(escape(text, true), three.replace('"', "&quot;"), "{text:?}");
        }
    }
}
