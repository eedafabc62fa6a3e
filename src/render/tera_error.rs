//! Turning Tera's errors into positioned diagnostics and readable text.

use crate::catalog::{Diagnostic, Severity, SourceFile};

/// All messages of an error and its sources, one after the other.
pub fn chain(error: &tera::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

/// A syntax error in a template part. `origin` is the (line, col) in the
/// file where the part's first character stands.
pub fn diagnostic(
    file: &SourceFile,
    origin: (usize, usize),
    part: &str,
    error: &tera::Error,
) -> Diagnostic {
    let text = chain(error);
    let (line, col) = match locate(&text) {
        Some((1, col)) => (origin.0, origin.1 + col - 1),
        Some((line, col)) => (origin.0 + line - 1, col),
        None => origin,
    };
    let expected = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string);
    Diagnostic {
        path: file.path.clone(),
        line,
        col,
        severity: Severity::Error,
        message: format!(
            "template syntax error in the {part}{}",
            expected.map(|e| format!(": {e}")).unwrap_or_default()
        ),
        hint: Some("check that every `{{` has a `}}` and every `{%` tag is closed (`{% endif %}`, `{% endfor %}`)".into()),
    }
}

/// The `--> LINE:COL` position in a pest error message.
fn locate(text: &str) -> Option<(usize, usize)> {
    let rest = &text[text.find("-->")? + 3..];
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let (line, col) = token.split_once(':')?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn maps_a_body_error_to_the_file_line() {
        let mut tera = tera::Tera::default();
        let err = tera
            .add_raw_template("t.text.txt", "Hello\n{{ name | }}\n")
            .unwrap_err();
        let file = SourceFile::new(Path::new("t.tera"), String::new());
        let d = diagnostic(&file, (4, 1), "text", &err);
        assert_eq!(d.line, 5, "{d}");
        assert!(d.col > 1, "{d}");
        assert!(d.message.contains("syntax error"));
    }
}
