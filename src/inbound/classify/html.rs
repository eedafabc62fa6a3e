//! HTML to plain lines, enough to read a report written only in HTML (an
//! Exchange NDR): tags dropped, block tags as line breaks, `<style>` and
//! `<script>` contents dropped, the common entities decoded.

pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after.find('>').map_or(after.len(), |n| n + 1);
        let tag = after[..close.saturating_sub(1)].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[close.min(after.len())..];
        if (name == "style" || name == "script") && !tag.starts_with('/') {
            let end = format!("</{name}");
            rest = crate::inbound::ident::find_ascii_ci(rest, &end).map_or("", |n| &rest[n..]);
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table" | "blockquote"
        ) {
            out.push('\n');
        } else if matches!(name.as_str(), "td" | "th") {
            out.push(' ');
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&n| n <= 8);
        let decoded = end.and_then(|n| entity(&after[..n]));
        match (decoded, end) {
            (Some(c), Some(n)) => {
                out.push(c);
                rest = &after[n + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_breaks_and_entities_decode() {
        let html = "<html><head><style>p{color:red}</style></head><body><p>Delivery has failed to these recipients:</p><p><a href=\"mailto:ana@example.com\">ana@example.com</a><br>Remote Server returned &#39;550 5.1.1 &lt;x&gt;&#39;</p></body></html>";
        let text = html_to_text(html);
        assert!(!text.contains("color"), "{text}");
        assert!(text.contains("\nana@example.com\n"), "{text}");
        assert!(
            text.contains("Remote Server returned '550 5.1.1 <x>'"),
            "{text}"
        );
    }

    #[test]
    fn broken_markup_does_not_lose_text() {
        assert_eq!(html_to_text("a &bogus; b < c"), "a &bogus; b ");
        assert_eq!(html_to_text("fish &amp chips"), "fish &amp chips");
    }
}
