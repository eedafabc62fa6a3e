//! MIME assembly: headers every message carries, and the body parts. The
//! HTML part is always a complete document (doctype, `html lang`, `head`
//! with charset, viewport and title) next to its plain-text alternative: a
//! template's HTML fragment is wrapped, a template that writes its own
//! document keeps it.

use super::RenderError;
use super::Rendered;
use super::headers::{self, Addressed};
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType, Headers};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Who and what a message is, apart from its rendered content.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Mailbox,
    pub message_id: String,
    pub date: DateTime<Utc>,
    /// The signed one-click URL (RFC 8058) for `List-Unsubscribe`.
    pub unsubscribe_url: String,
    /// `mailto:` alternative in `List-Unsubscribe`, for clients without HTTP.
    pub unsubscribe_mailto: String,
    pub campaign: String,
    /// `CAMPAIGN:STEP:SENDER`: Gmail's feedback loop reports complaint
    /// rates per value; the last field identifies the sender.
    pub feedback_id: String,
}

/// The Message-ID of a send, derived from its id so that a duplicate
/// delivered downstream is recognisable as the same send.
/// `<tend.SEND.ENROLLMENT.INSTALLATION@domain>`: derived from the send row,
/// so a downstream duplicate is recognisable, and from the installation's
/// random id, so a reset database or a second install never reissues one.
pub fn message_id(send_id: i64, enrollment_id: i64, installation: &str, from: &Mailbox) -> String {
    format!(
        "<tend.{send_id}.{enrollment_id}.{installation}@{}>",
        from.email.domain()
    )
}

/// The complete message, headers and body, as it goes on the wire (before
/// DKIM). The bytes are the ones lettre's `MessageBuilder` writes: headers
/// as lettre's header types encode them (written directly where that is the
/// value itself, through lettre otherwise: [`headers`]), bodies with the
/// encoding it would choose; only its builder is left out, which
/// parses every header back (for the envelope tend does not use) and
/// inserts CRLFs one at a time, and cost more than all the rest together.
/// `message::tests` compares the two byte for byte.
pub fn build_message(rendered: &Rendered, meta: &MessageMeta) -> Result<Vec<u8>, RenderError> {
    let domain = meta.from.email.domain();
    let html = rendered.html.as_deref().map(|html| {
        let html = document(html, rendered);
        with_preheader(&html, rendered.preheader.as_deref())
    });
    let body_len = rendered.text.len() + html.as_ref().map_or(0, String::len);
    // Room for the headers, CRLFs and some quoted-printable escapes.
    let mut out = Vec::with_capacity(body_len + body_len / 8 + 2048);
    // In the order lettre's builder sets them (see the test reference
    // below), each written as lettre's header type writes it ([`headers`]).
    headers::mailbox(&mut out, Addressed::From, &meta.from);
    headers::mailbox(&mut out, Addressed::To, &meta.to);
    headers::unstructured(&mut out, "Subject", &rendered.subject);
    headers::date(&mut out, meta.date);
    headers::unstructured(&mut out, "Message-ID", &meta.message_id);
    let mut value =
        String::with_capacity(meta.unsubscribe_url.len() + meta.unsubscribe_mailto.len() + 32);
    value.push('<');
    value.push_str(&meta.unsubscribe_url);
    value.push_str(">, <mailto:");
    value.push_str(&meta.unsubscribe_mailto);
    value.push_str("?subject=unsubscribe>");
    headers::unstructured(&mut out, "List-Unsubscribe", &value);
    headers::unstructured(
        &mut out,
        "List-Unsubscribe-Post",
        "List-Unsubscribe=One-Click",
    );
    value.clear();
    value.push('<');
    value.push_str(&meta.campaign);
    value.push('.');
    value.push_str(domain);
    value.push('>');
    headers::unstructured(&mut out, "List-Id", &value);
    headers::unstructured(&mut out, "Feedback-ID", &meta.feedback_id);
    if let Some(reply_to) = &meta.reply_to {
        headers::mailbox(&mut out, Addressed::ReplyTo, reply_to);
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    match html {
        None => write_single(&mut out, Kind::Plain, &rendered.text),
        Some(html) => {
            // A boundary derived from the Message-ID keeps preview and send identical.
            let boundary = format!("tend-{}", hex8(&format!("boundary{}", meta.message_id)));
            // What lettre's `ContentType` of this writes: the text it parsed.
            headers::unstructured(
                &mut out,
                "Content-Type",
                &format!("multipart/alternative; boundary=\"{boundary}\""),
            );
            out.extend_from_slice(b"\r\n");
            for (kind, body) in [(Kind::Plain, rendered.text.as_str()), (Kind::Html, &html)] {
                out.extend_from_slice(b"--");
                out.extend_from_slice(boundary.as_bytes());
                out.extend_from_slice(b"\r\n");
                write_single(&mut out, kind, body);
            }
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"--\r\n");
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Plain,
    Html,
}

/// The three transfer encodings a UTF-8 body can get.
const ENCODINGS: [ContentTransferEncoding; 3] = [
    ContentTransferEncoding::SevenBit,
    ContentTransferEncoding::QuotedPrintable,
    ContentTransferEncoding::Base64,
];

/// A part's two headers as lettre writes them, by kind and encoding:
/// formatted once by lettre itself, so they cannot differ from its own.
fn part_head(kind: Kind, encoding: usize) -> &'static str {
    static HEADS: LazyLock<[[String; 3]; 2]> = LazyLock::new(|| {
        let head = |content_type: ContentType, encoding: ContentTransferEncoding| {
            let mut headers = Headers::new();
            headers.set(content_type);
            headers.set(encoding);
            headers.to_string()
        };
        [ContentType::TEXT_PLAIN, ContentType::TEXT_HTML]
            .map(|content_type| ENCODINGS.map(|e| head(content_type.clone(), e)))
    });
    &HEADS[kind as usize][encoding]
}

/// One text part: its headers, a blank line, the encoded body and CRLF
/// (lettre's `SinglePart::plain`/`html` and its formatting).
fn write_single(out: &mut Vec<u8>, kind: Kind, text: &str) {
    // lettre chooses on the text as given (LF line ends), then converts.
    let encoding = choose_encoding(text);
    out.extend_from_slice(part_head(kind, encoding).as_bytes());
    out.extend_from_slice(b"\r\n");
    match encoding {
        0 => crlf_into(text, out),
        // Reads a bare LF as the CRLF it would have become.
        1 => quoted_printable(text.as_bytes(), out),
        _ => {
            let crlf = crlf_line_endings(text);
            let mut encoded =
                String::with_capacity(email_encoding::body::base64::encoded_len(crlf.len()));
            // Writing into a String cannot fail.
            let _ = email_encoding::body::base64::encode(crlf.as_bytes(), &mut encoded);
            out.extend_from_slice(encoded.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// `email_encoding::body::Encoding::choose(text, false)` as an index into
/// [`ENCODINGS`]: 7bit for ASCII without a line of 76 bytes or more (its
/// count: from one LF to the next, that LF included), else quoted-printable
/// when at most a third of the bytes need escaping, else base64. The same
/// tests; the crate counts the escapes one byte at a time, which cost about
/// as much as encoding the part. `message::tests` compares the two.
fn choose_encoding(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut last = 0;
    // `match_indices` of a char finds them with core's memchr.
    let too_long = text.match_indices('\n').any(|(i, _)| {
        let from = std::mem::replace(&mut last, i);
        i - from >= QP_LIMIT
    }) || bytes.len() - last >= QP_LIMIT;
    if !too_long && text.is_ascii() {
        return 0;
    }
    if escapes(bytes) <= bytes.len() / 3 {
        1
    } else {
        2
    }
}

/// Bytes other than tab and printable ASCII, counted in blocks whose
/// count fits a byte, so that the compiler can count many at once.
fn escapes(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|block| {
            block
                .iter()
                .map(|&b| u8::from(b != b'\t' && b.wrapping_sub(b' ') > b'~' - b' '))
                .fold(0u8, u8::wrapping_add) as usize
        })
        .sum()
}

/// The longest encoded line, not counting CRLF (RFC 2045).
const QP_LIMIT: usize = 76;

/// `quoted_printable::encode` (text mode, what lettre calls) of the text
/// with CRLF line ends, written straight into `out` and copying runs of
/// plain bytes at once. A bare LF counts as CRLF, so the conversion needs no
/// copy of its own (CR-LF is a line end in the crate; a CR before an
/// inserted one would have been too). The crate
/// pushes byte by byte into a fresh `String`, which was the biggest cost of
/// a message's MIME assembly. The same steps in the same order, so the same
/// bytes: soft breaks, the backed-up break when a line is full, trailing
/// space and tab before a line end, a lone CR. `message::tests` compares
/// the two on generated input.
fn quoted_printable(input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut on_line = 0usize;
    // Where the last thing appended starts: a soft break goes there when
    // the line is already full.
    let mut backup = start;
    let mut was_cr = false;
    let mut i = 0;
    while i < input.len() {
        let byte = input[i];
        i += 1;
        if byte == b'\n' {
            qp_trailing_space(out, start, &mut on_line, &mut backup);
            out.extend_from_slice(b"\r\n");
            on_line = 0;
            was_cr = false;
            continue;
        }
        if was_cr {
            qp_append(out, b"=0D", &mut on_line, &mut backup);
        }
        if byte == b'\r' {
            was_cr = true;
            continue;
        }
        was_cr = false;
        if QP_LIMIT - on_line >= 3 && !qp_needs_encoding(byte) {
            let max_run = QP_LIMIT - on_line - 2;
            // The run is this byte and the plain ones after it, up to max_run.
            let end = input.len().min(i - 1 + max_run);
            let run_end = input[i..end]
                .iter()
                .position(|&b| QP_ENCODED[b as usize])
                .map_or(end, |n| i + n);
            let run = run_end - (i - 1);
            out.extend_from_slice(&input[i - 1..run_end]);
            i = run_end;
            on_line += run;
            backup = out.len();
            continue;
        }
        match byte {
            b'=' => qp_append(out, b"=3D", &mut on_line, &mut backup),
            b'\t' | b' '..=b'~' => qp_append(out, &[byte], &mut on_line, &mut backup),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                let escaped = [b'=', HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]];
                qp_append(out, &escaped, &mut on_line, &mut backup);
            }
        }
    }
    if was_cr {
        qp_append(out, b"=0D", &mut on_line, &mut backup);
    } else {
        qp_trailing_space(out, start, &mut on_line, &mut backup);
    }
}

fn qp_needs_encoding(byte: u8) -> bool {
    QP_ENCODED[byte as usize]
}

/// By byte: whether quoted-printable writes it other than as itself.
const QP_ENCODED: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = !matches!(b as u8, b'\t' | b' '..=b'<' | b'>'..=b'~');
        b += 1;
    }
    table
};

fn qp_append(out: &mut Vec<u8>, bytes: &[u8], on_line: &mut usize, backup: &mut usize) {
    if *on_line + bytes.len() > QP_LIMIT {
        if *on_line == QP_LIMIT {
            // No room for the '=' of a soft break: break before the last
            // thing appended instead.
            *on_line = out.len() - *backup;
            out.splice(*backup..*backup, *b"=\r\n");
        } else {
            out.extend_from_slice(b"=\r\n");
            *on_line = 0;
        }
    }
    out.extend_from_slice(bytes);
    *on_line += bytes.len();
    *backup = out.len() - bytes.len();
}

/// A space or tab may not end an encoded line: it is written encoded.
fn qp_trailing_space(out: &mut Vec<u8>, start: usize, on_line: &mut usize, backup: &mut usize) {
    let escaped: &[u8] = match out[start..].last() {
        Some(b' ') => b"=20",
        Some(b'\t') => b"=09",
        _ => return,
    };
    *on_line -= 1;
    out.pop();
    qp_append(out, escaped, on_line, backup);
}

/// [`crlf_line_endings`] written straight into `out`.
fn crlf_into(text: &str, out: &mut Vec<u8>) {
    let mut rest = text.as_bytes();
    let mut last: Option<u8> = None;
    while let Some(at) = memchr_lf(rest) {
        out.extend_from_slice(&rest[..at]);
        let before = if at > 0 { Some(rest[at - 1]) } else { last };
        if before != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(b'\n');
        last = Some(b'\n');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Every LF not already preceded by CR gets one, in one pass (what
/// lettre's `in_place_crlf_line_endings` does one insertion at a time).
fn crlf_line_endings(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 8);
    let mut rest = text;
    while let Some(at) = rest.find('\n') {
        out.push_str(&rest[..at]);
        if !out.ends_with('\r') {
            out.push('\r');
        }
        out.push('\n');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    super::footer::escape(text, true)
}

/// Whether a template's HTML is already a document of its own.
pub fn is_document(html: &str) -> bool {
    let lower = html.trim_start().to_ascii_lowercase();
    lower.starts_with("<!doctype") || lower.starts_with("<html")
}

/// A fragment in a complete, accessible document: the language for screen
/// readers (`html lang`, and again on the message container because some
/// webmail keeps only the body), charset, viewport for phones, the subject
/// as title, explicit colours so the footer's contrast holds.
pub fn document(html: &str, rendered: &Rendered) -> String {
    if is_document(html) {
        return html.to_string();
    }
    let lang = rendered.locale.code();
    let title = escape(&rendered.subject);
    format!(
        "<!DOCTYPE html>\n\
<html lang=\"{lang}\" dir=\"ltr\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light\">\n\
<title>{title}</title>\n\
</head>\n\
<body style=\"margin:0;padding:0;background-color:#ffffff;color:#1f1f1f\">\n\
<div role=\"article\" aria-roledescription=\"email\" aria-label=\"{title}\" lang=\"{lang}\" dir=\"ltr\" \
style=\"max-width:600px;margin:0 auto;padding:24px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f1f1f;background-color:#ffffff\">\n\
{}\n\
</div>\n\
</body>\n\
</html>\n",
        html.trim()
    )
}

/// Inbox preview text: a hidden first element of the HTML body.
fn with_preheader(html: &str, preheader: Option<&str>) -> String {
    let Some(pre) = preheader.filter(|p| !p.is_empty()) else {
        return html.to_string();
    };
    let escaped = super::footer::escape(pre, false);
    let hidden = format!(
        "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">{escaped}</div>"
    );
    match html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{hidden}{}", &html[..at], &html[at..]),
        None => format!("{hidden}{html}"),
    }
}

fn hex8(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(16);
    for b in &digest[..8] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Locale;
    use lettre::Message;
    use lettre::message::header::{HeaderName, HeaderValue};
    use lettre::message::{MultiPart, SinglePart};

    const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
    const LIST_UNSUBSCRIBE_POST: HeaderName =
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post");
    const LIST_ID: HeaderName = HeaderName::new_from_ascii_str("List-Id");
    const FEEDBACK_ID: HeaderName = HeaderName::new_from_ascii_str("Feedback-ID");

    /// What tend built with lettre's `MessageBuilder` before: the
    /// reference [`build_message`] must equal byte for byte.
    fn with_lettre(rendered: &Rendered, meta: &MessageMeta) -> Vec<u8> {
        let domain = meta.from.email.domain().to_string();
        let mut builder = Message::builder()
            .from(meta.from.clone())
            .to(meta.to.clone())
            .subject(rendered.subject.clone())
            .date(meta.date.into())
            .message_id(Some(meta.message_id.clone()))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE,
                format!(
                    "<{}>, <mailto:{}?subject=unsubscribe>",
                    meta.unsubscribe_url, meta.unsubscribe_mailto
                ),
            ))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".to_string(),
            ))
            .raw_header(HeaderValue::new(
                LIST_ID,
                format!("<{}.{domain}>", meta.campaign),
            ))
            .raw_header(HeaderValue::new(FEEDBACK_ID, meta.feedback_id.clone()));
        if let Some(reply_to) = &meta.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let message = match &rendered.html {
            None => builder.singlepart(SinglePart::plain(rendered.text.clone())),
            Some(html) => {
                let html = document(html, rendered);
                let html = with_preheader(&html, rendered.preheader.as_deref());
                builder.multipart(
                    MultiPart::alternative()
                        .boundary(format!(
                            "tend-{}",
                            hex8(&format!("boundary{}", meta.message_id))
                        ))
                        .singlepart(SinglePart::plain(rendered.text.clone()))
                        .singlepart(SinglePart::html(html)),
                )
            }
        };
        message.expect("lettre builds it").formatted()
    }

    #[test]
    fn quoted_printable_matches_the_crate_on_generated_text() {
        // Pieces that exercise every branch: runs up to and over the line
        // limit, '=', spaces and tabs before line ends, lone and doubled
        // CRs, multi-byte characters, control bytes.
        let pieces: [&[u8]; 12] = [
            b"a",
            b"plain words ",
            b" ",
            b"\t",
            b"=",
            b"\r\n",
            b"\r",
            b"\n",
            "ü".as_bytes(),
            "日本".as_bytes(),
            b"\x01",
            b"0123456789012345678901234567890123456789012345678901234567890123456789012345",
        ];
        // A small deterministic generator (xorshift): no extra dependency.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..4000 {
            let mut input = Vec::new();
            for _ in 0..(next() % 60) {
                input.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let mut ours = b"prefix \t".to_vec();
            quoted_printable(&input, &mut ours);
            // The crate gets what lettre gives it: the text with CRLF line ends.
            let Ok(text) = std::str::from_utf8(&input) else {
                continue;
            };
            let crlf = crlf_line_endings(text);
            let theirs = [b"prefix \t".as_slice(), &::quoted_printable::encode(&crlf)].concat();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "case {case}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn the_encoding_chosen_is_the_crates_choice() {
        use email_encoding::body::Encoding;
        let pieces: [&str; 10] = [
            "a",
            "plain words ",
            "\n",
            "\r\n",
            "\t",
            "ü",
            "日本語",
            "\u{1}",
            "=",
            "0123456789012345678901234567890123456789012345678901234567890123456789012",
        ];
        let mut state = 0x5851_f42d_4c95_7f2du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seen = [0usize; 3];
        for case in 0..6000 {
            let mut text = String::new();
            for _ in 0..(next() % 400) {
                text.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let theirs = match Encoding::choose(text.as_str(), false) {
                Encoding::SevenBit | Encoding::EightBit => 0,
                Encoding::QuotedPrintable => 1,
                Encoding::Base64 => 2,
            };
            assert_eq!(choose_encoding(&text), theirs, "case {case}: {text:?}");
            seen[theirs] += 1;
        }
        assert!(
            seen.iter().all(|&n| n > 0),
            "every encoding was chosen: {seen:?}"
        );
    }

    #[test]
    fn crlf_conversion_matches_lettre_on_every_kind_of_line_end() {
        for (given, want) in [
            ("", ""),
            ("a", "a"),
            ("\n", "\r\n"),
            ("\n\n", "\r\n\r\n"),
            ("a\nb\r\nc\r\r\nd\n", "a\r\nb\r\nc\r\r\nd\r\n"),
            ("ü\nß\n", "ü\r\nß\r\n"),
            ("\r\n\n\r", "\r\n\r\n\r"),
        ] {
            assert_eq!(crlf_line_endings(given), want, "{given:?}");
            let mut into = b"x\r".to_vec();
            crlf_into(given, &mut into);
            assert_eq!(&into[2..], want.as_bytes(), "{given:?}");
        }
    }

    /// Every combination of the things that change how lettre encodes: names
    /// and subjects needing RFC 2047 and folding, bodies that go out as 7bit,
    /// quoted-printable or base64, line ends, HTML fragments and documents,
    /// preheaders, Reply-To.
    #[test]
    fn the_message_is_byte_for_byte_what_lettres_builder_writes() {
        let subjects = [
            "Welcome to Acme, Ana".to_string(),
            "Schön, dass Sie da sind, Jürgen".to_string(),
            "A very long subject line that goes on and on well beyond the seventy-eight characters of one header line"
                .to_string(),
            "Ünïcödé everywhere: ".repeat(8),
            "quotes \" and = and ?= signs".to_string(),
        ];
        let names = [None, Some("Ana"), Some("Jürgen Groß"), Some("O'Brien, Pat")];
        let texts = [
            "Hi Ana,\n\nshort lines only.\n\nAna\n".to_string(),
            format!("Hi,\n{}\nbye\n", "long line ".repeat(20)),
            "Grüße aus Köln,\r\nmit\r\r\nCRLF schon da\n\nAna".to_string(),
            "日本語のテキスト、とても長い。".repeat(10),
            "\nstarts with a newline and ends without".to_string(),
            String::new(),
        ];
        let htmls = [
            None,
            Some("<p>Hello <b>Ana</b></p>\n<p>Bye</p>".to_string()),
            Some(
                "<!DOCTYPE html><html><body><p>Own document, ünïcödé</p></body></html>".to_string(),
            ),
        ];
        let preheaders = [None, Some("A short hello & <more>".to_string())];
        let from: Mailbox = "Ana <ana@acme.example>".parse().unwrap();
        let date: DateTime<Utc> = "2026-03-10T10:00:00Z".parse().unwrap();
        let mut n = 0;
        let mut seen = std::collections::BTreeSet::new();
        for (i, subject) in subjects.iter().enumerate() {
            for (j, name) in names.iter().enumerate() {
                for (k, text) in texts.iter().enumerate() {
                    for html in &htmls {
                        for preheader in &preheaders {
                            n += 1;
                            let rendered = Rendered {
                                subject: subject.clone(),
                                preheader: preheader.clone(),
                                text: text.clone(),
                                html: html.clone(),
                                choices: Vec::new(),
                                opener: String::new(),
                                locale: if k % 2 == 0 { Locale::En } else { Locale::De },
                            };
                            let meta = MessageMeta {
                                from: if i % 2 == 0 {
                                    from.clone()
                                } else {
                                    "\"Acme Kundenservice Köln\" <service@acme.example>"
                                        .parse()
                                        .unwrap()
                                },
                                reply_to: (j % 2 == 1)
                                    .then(|| "Hilfe Team <help@acme.example>".parse().unwrap()),
                                to: Mailbox::new(
                                    name.map(str::to_string),
                                    format!("c{n}@example.com").parse().unwrap(),
                                ),
                                message_id: format!("<tend.{n}.{n}.inst@acme.example>"),
                                date: date + chrono::Duration::seconds(n * 3_601),
                                unsubscribe_url: format!(
                                    "https://acme.example/u/{}",
                                    "tok".repeat(n as usize % 40)
                                ),
                                unsubscribe_mailto: "unsubscribe@acme.example".into(),
                                campaign: "win-back".into(),
                                feedback_id: "win-back:1:acme.example".into(),
                            };
                            let ours = build_message(&rendered, &meta).unwrap();
                            let theirs = with_lettre(&rendered, &meta);
                            for encoding in ["7bit", "quoted-printable", "base64"] {
                                let line = format!("Content-Transfer-Encoding: {encoding}\r\n");
                                if String::from_utf8_lossy(&ours).contains(&line) {
                                    seen.insert(encoding);
                                }
                            }
                            assert_eq!(
                                String::from_utf8_lossy(&ours),
                                String::from_utf8_lossy(&theirs),
                                "case {n}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(n, 5 * 4 * 6 * 3 * 2);
        assert_eq!(
            seen.len(),
            3,
            "every transfer encoding was compared: {seen:?}"
        );
    }
}
