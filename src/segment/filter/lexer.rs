//! Tokens of the filter language, each with the byte offset where it starts
//! in the expression. The lexer never fails silently: an unexpected
//! character, an unterminated string or a malformed duration is a
//! [`FilterError`] at its position.

use super::FilterError;
use crate::domain::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word: field names and keywords (`and`, `has`, `attributes`, …).
    Word(String),
    /// A quoted string, escapes decoded.
    Str(String),
    Number(f64),
    /// `60d`, `2w`, `1h30m`.
    Duration(Duration),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Op(CmpOp),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub at: usize,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("the string '{}'", s.chars().take(30).collect::<String>()),
            Tok::Number(n) => format!("the number {n}"),
            Tok::Duration(d) => format!("the duration {d}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Op(op) => format!("`{}`", op.as_str()),
            Tok::End => "the end of the expression".into(),
        }
    }
}

pub fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = i;
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            b'.' => Some(Tok::Dot),
            b'=' => Some(Tok::Op(CmpOp::Eq)),
            _ => None,
        };
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if let Some(tok) = single {
            // `==` reads as `=`: a common habit, harmless.
            i += if c == b'=' && bytes.get(i + 1) == Some(&b'=') {
                2
            } else {
                1
            };
            out.push(Token { tok, at });
            continue;
        }
        let tok = match c {
            b'!' | b'<' | b'>' => {
                let eq = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    (b'!', true) => CmpOp::Ne,
                    (b'!', false) => {
                        return Err(FilterError::new(at, "unexpected `!`")
                            .hint("write `!=` for “not equal” or `not` to negate a condition"));
                    }
                    (b'<', true) => CmpOp::Le,
                    (b'<', false) if bytes.get(i + 1) == Some(&b'>') => {
                        i += 1;
                        CmpOp::Ne
                    }
                    (b'<', false) => CmpOp::Lt,
                    (_, true) => CmpOp::Ge,
                    _ => CmpOp::Gt,
                };
                i += 1 + usize::from(eq);
                Tok::Op(op)
            }
            b'\'' | b'"' => {
                let (s, next) = string(text, i)?;
                i = next;
                Tok::Str(s)
            }
            b'0'..=b'9' | b'-' => {
                let (tok, next) = number(text, i)?;
                i = next;
                tok
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = scan(bytes, i, |b| b.is_ascii_alphanumeric() || b == b'_');
                let word = &text[i..end];
                i = end;
                Tok::Word(word.to_string())
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                let mut err = FilterError::new(at, format!("unexpected character `{ch}`"));
                if c == b';' {
                    err = err
                        .hint("a filter is one expression: combine conditions with `and` / `or`");
                } else {
                    err = err.hint("quote text values: attributes.plan = 'pro'");
                }
                return Err(err);
            }
        };
        out.push(Token { tok, at });
    }
    out.push(Token {
        tok: Tok::End,
        at: text.len(),
    });
    Ok(out)
}

fn scan(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let mut end = from;
    while end < bytes.len() && keep(bytes[end]) {
        end += 1;
    }
    end
}

/// A quoted string starting at `start`: `'…'` or `"…"`, with `\\`, `\'` and
/// `\"` escapes. Returns the decoded text and the offset after the quote.
fn string(text: &str, start: usize) -> Result<(String, usize), FilterError> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        match ch {
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '\'' | '"'))) => out.push(e),
                _ => {
                    return Err(
                        FilterError::new(start + 1 + offset, "unknown escape in a string")
                            .hint("only \\\\, \\' and \\\" are escapes"),
                    );
                }
            },
            c if c == quote => return Ok((out, start + 1 + offset + 1)),
            c => out.push(c),
        }
    }
    Err(FilterError::new(start, "this string is never closed").hint(format!("end it with {quote}")))
}

/// A number (`2`, `-3.5`) or a duration (`60d`, `1h30m`).
fn number(text: &str, start: usize) -> Result<(Tok, usize), FilterError> {
    let bytes = text.as_bytes();
    let digits_from = if bytes[start] == b'-' {
        start + 1
    } else {
        start
    };
    let end = scan(bytes, digits_from, |b| b.is_ascii_digit() || b == b'.');
    if end == digits_from {
        return Err(
            FilterError::new(start, "unexpected `-`").hint("a number follows the minus sign: -3")
        );
    }
    if bytes.get(end).is_some_and(|b| b.is_ascii_alphabetic()) {
        let end = scan(bytes, end, |b| b.is_ascii_alphanumeric());
        let word = &text[start..end];
        let duration = Duration::parse(word).map_err(|e| {
            FilterError::new(start, e.to_string())
                .hint("durations are a number and a unit: 30d, 2w, 12h, 1h30m")
        })?;
        return Ok((Tok::Duration(duration), end));
    }
    let word = &text[start..end];
    let n: f64 = word
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| FilterError::new(start, format!("invalid number `{word}`")))?;
    Ok((Tok::Number(n), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn reads_words_strings_numbers_durations_and_operators() {
        assert_eq!(
            toks("attributes.orders >= 2 and x != 'it\\'s' within 60d"),
            vec![
                Tok::Word("attributes".into()),
                Tok::Dot,
                Tok::Word("orders".into()),
                Tok::Op(CmpOp::Ge),
                Tok::Number(2.0),
                Tok::Word("and".into()),
                Tok::Word("x".into()),
                Tok::Op(CmpOp::Ne),
                Tok::Str("it's".into()),
                Tok::Word("within".into()),
                Tok::Duration(Duration::from_days(60)),
                Tok::End,
            ]
        );
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        assert_eq!(tokenize("a = 1; drop").unwrap_err().at, 5);
        assert_eq!(tokenize("a = 'open").unwrap_err().at, 4);
        assert_eq!(tokenize("a within 3x").unwrap_err().at, 9);
        assert_eq!(tokenize("é").unwrap_err().at, 0);
    }
}
