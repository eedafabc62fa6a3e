//! Walks a parsed message once and keeps what the readers need: report
//! parts, the headers of returned messages, and the human-readable text of
//! the message itself (never of the messages it carries).
//!
//! The walk is iterative and bounded: nesting deeper than [`MAX_DEPTH`] or
//! more than [`MAX_PARTS`] parts stops it with a reason, so a hostile message
//! costs bounded time and never recursion.

use super::fields::Fields;
use super::html::html_to_text;
use super::kinds::Unclassified;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// Real reports nest four or five levels; 32 is generous.
pub const MAX_DEPTH: usize = 32;
/// Counted on the raw bytes before parsing, and on the parsed parts.
pub const MAX_PARTS: usize = 500;

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// `report-type` of a top-level `multipart/report`.
    pub report_type: Option<String>,
    /// Bodies of `message/delivery-status` (and RFC 6533 `global-`) parts.
    pub delivery_status: Vec<String>,
    /// Bodies of `message/feedback-report` parts.
    pub feedback_report: Vec<String>,
    /// Header blocks of returned messages (`message/rfc822`, `text/rfc822-headers`).
    pub returned: Vec<Fields>,
    /// Raw text of those header blocks, for token and Message-ID searches.
    pub returned_raw: String,
    /// The message's own text: its `text/plain` parts, else its HTML as text.
    pub text: String,
    /// What looked broken.
    pub problems: Vec<String>,
}

/// Parts of `multipart/` or `message/` type in the raw bytes: the parser
/// builds one nested structure per such part, so count before parsing.
pub(crate) fn count_containers(raw: &[u8]) -> usize {
    let ends_with = |end: usize, word: &[u8]| {
        end >= word.len() && raw[end - word.len()..end].eq_ignore_ascii_case(word)
    };
    let starts_with = |start: usize, word: &[u8]| {
        raw.len() - start >= word.len() && raw[start..start + word.len()].eq_ignore_ascii_case(word)
    };
    raw.iter()
        .enumerate()
        .filter(|&(i, &b)| {
            b == b'/'
                && (ends_with(i, b"multipart")
                    || ends_with(i, b"message")
                        && (starts_with(i + 1, b"rfc822") || starts_with(i + 1, b"global")))
        })
        .count()
}

pub(crate) fn walk(message: &Message<'_>) -> Result<Walked, Unclassified> {
    let mut walked = Walked::default();
    let mut html = String::new();
    let mut seen = 0usize;
    // (part id, depth)
    let mut stack = vec![(0u32, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Unclassified::TooDeep { limit: MAX_DEPTH });
        }
        seen += 1;
        if seen > MAX_PARTS {
            return Err(Unclassified::TooManyParts { limit: MAX_PARTS });
        }
        let Some(part) = message.part(id) else {
            continue;
        };
        let (ctype, subtype) =
            part.content_type()
                .map_or(("text".to_string(), "plain".to_string()), |ct| {
                    (
                        ct.ctype().to_ascii_lowercase(),
                        ct.subtype().unwrap_or("").to_ascii_lowercase(),
                    )
                });
        if part.is_encoding_problem {
            walked
                .problems
                .push(format!("{ctype}/{subtype} part could not be decoded"));
        }
        let attachment = part
            .content_disposition()
            .is_some_and(|d| d.is_attachment());
        match (&part.body, ctype.as_str(), subtype.as_str()) {
            (PartType::Multipart(children), _, _) => {
                if id == 0 && subtype == "report" {
                    walked.report_type = part
                        .content_type()
                        .and_then(|ct| ct.attribute("report-type"))
                        .map(|t| t.to_ascii_lowercase());
                }
                stack.extend(children.iter().rev().map(|&child| (child, depth + 1)));
            }
            (_, "multipart", _) => walked
                .problems
                .push(format!("multipart/{subtype} without a usable boundary")),
            (PartType::Message(inner), _, _) => {
                let head = header_block(inner);
                walked.returned.push(Fields::header(&head));
                walked.returned_raw.push_str(&head);
                walked.returned_raw.push('\n');
            }
            (_, "message" | "text", "rfc822-headers") | (_, "message", "rfc822") => {
                // A returned message the parser kept as bytes (or just its headers).
                let head = text_of(part.contents());
                let head = MessageParser::new()
                    .parse_headers(head.as_bytes())
                    .map(|m| header_block(&m))
                    .unwrap_or_default();
                walked.returned.push(Fields::header(&head));
                walked.returned_raw.push_str(&head);
                walked.returned_raw.push('\n');
            }
            (_, "message", "delivery-status" | "global-delivery-status") => {
                walked.delivery_status.push(text_of(part.contents()));
            }
            (_, "message", "feedback-report") => {
                walked.feedback_report.push(text_of(part.contents()));
            }
            (PartType::Text(text), "text", "plain") if !attachment => {
                walked.text.push_str(text);
                walked.text.push('\n');
            }
            (PartType::Html(text), _, _) if !attachment => {
                html.push_str(text);
                html.push('\n');
            }
            _ => {}
        }
    }
    if walked.text.trim().is_empty() && !html.is_empty() {
        walked.text = html_to_text(&html);
    }
    Ok(walked)
}

/// The raw header block of a (nested) message.
pub(crate) fn header_block(message: &Message<'_>) -> String {
    let Some(root) = message.parts.first() else {
        return String::new();
    };
    let raw = message.raw_message.as_ref();
    let start = (root.offset_header as usize).min(raw.len());
    let end = (root.offset_body as usize).clamp(start, raw.len());
    text_of(&raw[start..end])
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
