//! `tend check`: every problem in config, campaigns and templates, each as
//! `path:line:col: level: message` with a hint. Exit 1 on any error. When
//! everything compiles, every step is also rendered for sample contacts
//! (missing data, near-duplicate steps, copy slips: see
//! [`crate::variation::lint`]). `--production` adds what must be right
//! before real mail goes out ([`crate::production`]).

use super::app::{Context, print_json};
use crate::catalog::{Diagnostic, Severity};
use crate::variation::lint::{DEFAULT_MAX_SIMILARITY, lint_loaded};
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rendering problems and near-duplicate steps are errors, not warnings
    #[arg(long)]
    pub strict: bool,
    /// Report two steps whose texts are more similar than this (0 to 1)
    #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_SIMILARITY, value_parser = ratio)]
    pub max_similarity: f64,
    /// Also check what real mail needs: https public_url, aligned DKIM, a
    /// bounce address, a postal address, a visible unsubscribe, sane rates
    #[arg(long)]
    pub production: bool,
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{text}` is not a number from 0 to 1 (e.g. 0.7)")),
    }
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    path: String,
    line: usize,
    col: usize,
    severity: &'static str,
    message: &'a str,
    hint: Option<&'a str>,
}

pub async fn run(ctx: &Context, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (mut loaded, mut diagnostics) = ctx.load_catalog().await;
    if let Some(l) = &loaded {
        diagnostics.extend(lint_loaded(
            l,
            &ctx.settings,
            args.strict,
            args.max_similarity,
            ctx.clock().now(),
        ));
        if args.production {
            diagnostics.extend(crate::production::check(
                &ctx.settings,
                &ctx.config_path,
                l,
                ctx.clock().now(),
            ));
        }
        diagnostics.sort_by(|a, b| (&a.path, a.line, a.col).cmp(&(&b.path, b.line, b.col)));
        if diagnostics.iter().any(Diagnostic::is_error) {
            loaded = None;
        }
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if ctx.json {
        let list: Vec<JsonDiagnostic<'_>> = diagnostics.iter().map(json).collect();
        let dns: Vec<serde_json::Value> = dns(ctx, args.production)
            .into_iter()
            .map(|(name, value, why)| serde_json::json!({ "name": name, "type": "TXT", "value": value, "why": why }))
            .collect();
        print_json(
            &serde_json::json!({ "ok": errors == 0, "errors": errors, "warnings": warnings, "diagnostics": list, "dns": dns }),
        )?;
    } else {
        for d in &diagnostics {
            outln!("{d}")?;
        }
        let records = dns(ctx, args.production);
        if !records.is_empty() {
            outln!("DNS records to publish (TXT):")?;
            for (name, value, why) in records {
                outln!("  {name}\n    \"{value}\"\n    ({why})")?;
            }
        }
        match &loaded {
            Some(l) => outln!(
                "ok: {} campaign(s), {} template(s), {warnings} warning(s)",
                l.catalog.campaigns.len(),
                l.catalog.templates.len()
            )?,
            None => outln!("{errors} error(s), {warnings} warning(s)")?,
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// With `--production`: the DNS records the configuration expects.
fn dns(ctx: &Context, production: bool) -> Vec<(String, String, &'static str)> {
    if production {
        crate::production::dns_records(&ctx.settings)
    } else {
        Vec::new()
    }
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
