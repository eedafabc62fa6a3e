//! Header-style field blocks: a message's header, a returned message's
//! headers, and the bodies of `message/delivery-status` and
//! `message/feedback-report`, which are made of the same `Name: value`
//! lines (folded, separated by blank lines).

/// At most this many fields per block: a report has a dozen, a header a few dozen.
const MAX_FIELDS: usize = 500;

/// One block of fields, names lower-cased, values unfolded and trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first block of `text` (a header: up to the first blank line).
    pub fn header(text: &str) -> Fields {
        Self::blocks(text).into_iter().next().unwrap_or_default()
    }

    /// Every block of `text`, blank lines between them.
    pub fn blocks(text: &str) -> Vec<Fields> {
        let mut blocks = Vec::new();
        let mut current = Fields::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                if !current.0.is_empty() {
                    blocks.push(std::mem::take(&mut current));
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = current.0.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let plausible = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if plausible && current.0.len() < MAX_FIELDS {
                current
                    .0
                    .push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        if !current.0.is_empty() {
            blocks.push(current);
        }
        blocks
    }

    /// The first value of `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (lower case), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_unfold_and_split_on_blank_lines() {
        let text = "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\nDiagnostic-Code: smtp; 550-5.1.1 first\r\n    550 5.1.1 second\r\n\r\n\r\nAction: failed\r\n";
        let blocks = Fields::blocks(text);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].get("reporting-mta"), Some("dns; mx.example.net"));
        assert_eq!(
            blocks[1].get("diagnostic-code"),
            Some("smtp; 550-5.1.1 first 550 5.1.1 second")
        );
        assert_eq!(blocks[2].get("action"), Some("failed"));
        assert_eq!(Fields::header(text).get("final-recipient"), None);
    }

    #[test]
    fn prose_lines_are_not_fields() {
        let fields = Fields::header("This is the mail system: sorry\nX-Ok: yes\n");
        assert_eq!(fields.get("x-ok"), Some("yes"));
        assert!(!fields.has("this is the mail system"));
    }
}
