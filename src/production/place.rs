//! Where a finding points: a key in a TOML file (the config, a campaign),
//! at its value, else its section, else the file's start.

use crate::catalog::{Diagnostic, Severity, SourceFile};
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// Where a config key is: its value, else its section, else the file start.
pub struct ConfigFile {
    pub file: SourceFile,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Self {
            file: SourceFile::new(path, text),
        }
    }

    pub fn offset(&self, keys: &[&str]) -> Option<usize> {
        let root = DeTable::parse(&self.file.text).ok()?;
        let mut table = root.get_ref();
        let mut at = None;
        for (i, key) in keys.iter().enumerate() {
            let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key)?;
            at = Some(if i + 1 == keys.len() {
                v.span().start
            } else {
                k.span().start
            });
            match v.get_ref() {
                DeValue::Table(t) => table = t,
                _ if i + 1 == keys.len() => {}
                _ => return at,
            }
        }
        at
    }

    /// A diagnostic at `section.key` (or as near as the file allows), saying
    /// where the value came from when it is not the file.
    pub fn at(&self, severity: Severity, section: &str, key: &str, message: String) -> Diagnostic {
        let variable = format!("TEND__{}__{}", section.to_uppercase(), key.to_uppercase());
        let message = if std::env::var_os(&variable).is_some() {
            format!("{message} (set by {variable})")
        } else {
            message
        };
        let offset = self
            .offset(&[section, key])
            .or_else(|| self.offset(&[section]));
        match offset {
            Some(at) => {
                let mut d = self.file.error(at, message);
                d.severity = severity;
                d
            }
            None => Diagnostic::file(&self.file.path, severity, message),
        }
    }
}
