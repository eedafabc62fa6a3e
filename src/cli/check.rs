//! `tend check`: every problem in config, campaigns and templates, each as
//! `path:line:col: level: message` with a hint. Exit 1 on any error.

use super::app::{Context, print_json};
use crate::catalog::{Diagnostic, Severity};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    path: String,
    line: usize,
    col: usize,
    severity: &'static str,
    message: &'a str,
    hint: Option<&'a str>,
}

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let (loaded, diagnostics) = ctx.load_catalog().await;
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if ctx.json {
        let list: Vec<JsonDiagnostic<'_>> = diagnostics.iter().map(json).collect();
        print_json(
            &serde_json::json!({ "ok": errors == 0, "errors": errors, "warnings": warnings, "diagnostics": list }),
        )?;
    } else {
        for d in &diagnostics {
            println!("{d}");
        }
        match &loaded {
            Some(l) => println!(
                "ok: {} campaign(s), {} template(s), {warnings} warning(s)",
                l.catalog.campaigns.len(),
                l.catalog.templates.len()
            ),
            None => println!("{errors} error(s), {warnings} warning(s)"),
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn json(d: &Diagnostic) -> JsonDiagnostic<'_> {
    JsonDiagnostic {
        path: d.path.display().to_string(),
        line: d.line,
        col: d.col,
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: &d.message,
        hint: d.hint.as_deref(),
    }
}
