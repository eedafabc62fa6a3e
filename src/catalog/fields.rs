//! Reading a span-preserving TOML table field by field, collecting every
//! problem as a positioned [`Diagnostic`] instead of stopping at the first.

use super::diag::{Diagnostic, SourceFile, did_you_mean};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// One TOML table being read, plus where its problems go.
pub struct Fields<'a, 'i> {
    pub file: &'a SourceFile,
    pub table: &'a DeTable<'i>,
    /// Where the table starts, for "missing key" errors.
    pub at: usize,
    /// What the table is, for messages: "campaign", "step 2".
    pub what: String,
}

impl<'a, 'i> Fields<'a, 'i> {
    pub fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Reports keys outside `known`; `later` names keys that belong to a
    /// feature this version does not have yet, so the message says so.
    pub fn reject_unknown(&self, known: &[&str], later: &[&str], out: &mut Vec<Diagnostic>) {
        for (key, _) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let start = key.span().start;
            let diag = if later.contains(&name) {
                self.file
                    .error(
                        start,
                        format!(
                            "`{name}` in {} is not supported by this version of tend",
                            self.what
                        ),
                    )
                    .with_hint("remove it for now; it arrives in a later release")
            } else {
                let hint = match did_you_mean(name, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                self.file
                    .error(start, format!("unknown key `{name}` in {}", self.what))
                    .with_hint(hint)
            };
            out.push(diag);
        }
    }

    /// A string value, or an error if present with another type.
    pub fn string(&self, key: &str, out: &mut Vec<Diagnostic>) -> Option<(&'a str, Range<usize>)> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some((s.as_ref(), value.span())),
            other => {
                out.push(self.type_error(key, "a string", other.type_str(), value.span()));
                None
            }
        }
    }

    pub fn required_string(
        &self,
        key: &str,
        example: &str,
        out: &mut Vec<Diagnostic>,
    ) -> Option<(&'a str, Range<usize>)> {
        if self.get(key).is_none() {
            out.push(
                self.file
                    .error(self.at, format!("{} is missing `{key}`", self.what))
                    .with_hint(format!("add `{key} = {example}`")),
            );
            return None;
        }
        self.string(key, out)
    }

    pub fn type_error(
        &self,
        key: &str,
        expected: &str,
        found: &str,
        span: Range<usize>,
    ) -> Diagnostic {
        self.file.error(
            span.start,
            format!("`{key}` in {} must be {expected}, found {found}", self.what),
        )
    }
}

/// The table inside a value, or an error naming what was expected.
pub fn as_table<'a, 'i>(
    file: &SourceFile,
    key: &str,
    value: &'a Value<'i>,
    out: &mut Vec<Diagnostic>,
) -> Option<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(t) => Some(t),
        other => {
            out.push(file.error(
                value.span().start,
                format!("`{key}` must be a table, found {}", other.type_str()),
            ));
            None
        }
    }
}
