//! The catalog: every campaign and template, loaded and checked as a whole.
//! A catalog is immutable once built; a reload builds a new one and the
//! caller swaps it in only if it loaded without errors.

mod campaign;
mod diag;
mod entry;
mod fields;
mod locale;
mod template;
pub mod vocabulary;

pub use campaign::{Campaign, CampaignZone, ExitWhen, Pilot, Reentry, Sample, Step};
pub use diag::{Diagnostic, Severity, SourceFile, did_you_mean};
pub use entry::Entry;
pub use locale::Locale;
pub use template::{HTML_SEPARATOR, TemplateSource};

use crate::segment::Vocabulary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// What segment filters may name: attribute types, stages.
    pub vocabulary: Vocabulary,
    pub campaigns: BTreeMap<String, Campaign>,
    pub templates: BTreeMap<String, TemplateSource>,
}

/// Loads `campaigns_dir/*.toml` and `templates_dir/**/*.tera`. Returns what
/// loaded cleanly and every diagnostic (warnings included), sorted by file and
/// position. The catalog is usable only when no diagnostic is an error; it is
/// returned anyway so later checks (template compilation) still run and
/// report everything at once.
pub fn load(
    campaigns_dir: &Path,
    templates_dir: &Path,
    vocabulary: Vocabulary,
) -> (Catalog, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut catalog = Catalog {
        vocabulary,
        ..Default::default()
    };

    for path in files_with_extension(templates_dir, "tera", true, &mut out) {
        let Some(text) = read(&path, &mut out) else {
            continue;
        };
        let name = template_name(templates_dir, &path);
        if let Some(t) = template::parse(&name, SourceFile::new(&path, text), &mut out) {
            catalog.templates.insert(name, t);
        }
    }
    // Names of templates that exist but failed to parse, so a step pointing at
    // them is not also reported as "missing".
    let broken: Vec<String> = files_with_extension(templates_dir, "tera", true, &mut Vec::new())
        .iter()
        .map(|p| template_name(templates_dir, p))
        .collect();

    for path in files_with_extension(campaigns_dir, "toml", false, &mut out) {
        let Some(text) = read(&path, &mut out) else {
            continue;
        };
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let file = SourceFile::new(&path, text);
        let (parsed, template_refs) = campaign::parse(&file, &id, &catalog.vocabulary, &mut out);
        for (name, at) in template_refs {
            if catalog.templates.contains_key(&name) || broken.contains(&name) {
                continue;
            }
            let hint = match did_you_mean(&name, catalog.templates.keys().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!(
                    "create {} or point `template` at an existing file (name without `.tera`)",
                    templates_dir.join(format!("{name}.tera")).display()
                ),
            };
            out.push(
                file.error(at, format!("template `{name}` does not exist"))
                    .with_hint(hint),
            );
        }
        if let Some(c) = parsed {
            catalog.campaigns.insert(id, c);
        }
    }

    if catalog.campaigns.is_empty() && !out.iter().any(Diagnostic::is_error) {
        out.push(
            Diagnostic::file(
                campaigns_dir,
                Severity::Warning,
                "no campaigns: tend will not send anything",
            )
            .with_hint("add a campaign file such as campaigns/welcome.toml"),
        );
    }
    // Unused-template warnings only make sense when every campaign loaded.
    let any_error = out.iter().any(Diagnostic::is_error);
    for (name, template) in catalog.templates.iter().filter(|_| !any_error) {
        if template.localized && !catalog.templates.contains_key(&template.base) {
            out.push(
                Diagnostic::file(
                    &template.file.path,
                    Severity::Warning,
                    format!(
                        "`{name}` is the {} version of `{}`, which does not exist",
                        template.locale, template.base
                    ),
                )
                .with_hint(format!(
                    "create {} (the default every other contact gets), or rename this file",
                    templates_dir
                        .join(format!("{}.tera", template.base))
                        .display()
                )),
            );
            continue;
        }
        let used = catalog.campaigns.values().any(|c| {
            c.steps
                .iter()
                .any(|s| s.template == template.base || &s.template == name)
        });
        if !used {
            out.push(Diagnostic::file(
                &template.file.path,
                Severity::Warning,
                format!("template `{name}` is not used by any campaign"),
            ));
        }
    }
    out.sort_by(|a, b| (&a.path, a.line, a.col).cmp(&(&b.path, b.line, b.col)));
    (catalog, out)
}

fn template_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path).with_extension("");
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read(path: &Path, out: &mut Vec<Diagnostic>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            out.push(Diagnostic::file(
                path,
                Severity::Error,
                format!("cannot read the file: {e}"),
            ));
            None
        }
    }
}

fn files_with_extension(
    dir: &Path,
    ext: &str,
    recursive: bool,
    out: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                out.push(
                    Diagnostic::file(
                        &current,
                        Severity::Error,
                        format!("cannot read the directory: {e}"),
                    )
                    .with_hint(
                        "create it, or set `paths.campaigns` / `paths.templates` in the config",
                    ),
                );
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if recursive {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
