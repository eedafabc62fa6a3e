//! Rendering: the Tera templates (compiled into the binary, autoescaped, so
//! a contact's name or a campaign's description is always text), and the
//! small formatting helpers the pages share.

use super::auth::Viewer;
use super::{ConsoleState, PageResult};
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, Utc};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("campaigns.html", include_str!("templates/campaigns.html")),
    ("campaign.html", include_str!("templates/campaign.html")),
    ("preview.html", include_str!("templates/preview.html")),
    ("calendar.html", include_str!("templates/calendar.html")),
    ("contacts.html", include_str!("templates/contacts.html")),
    ("timeline.html", include_str!("templates/timeline.html")),
    ("reports.html", include_str!("templates/reports.html")),
    ("report.html", include_str!("templates/report.html")),
    (
        "suppressions.html",
        include_str!("templates/suppressions.html"),
    ),
    ("inbound.html", include_str!("templates/inbound.html")),
    ("audit.html", include_str!("templates/audit.html")),
];

pub fn templates() -> tera::Tera {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .expect("the console's templates compile (a unit test renders each)");
    tera.autoescape_on(vec![".html"]);
    tera
}

/// HTML-escapes text for the few pages built outside Tera.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// An instant as people read it: `2026-03-10 10:00 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map(when).unwrap_or_else(|| "—".into())
}

/// Renders a page inside the common layout: nav, the user and the sign-out form.
pub fn page<S>(
    state: &ConsoleState<S>,
    template: &str,
    viewer: &Viewer,
    active: &str,
    title: &str,
    mut ctx: tera::Context,
) -> PageResult {
    ctx.insert("user", &viewer.user);
    ctx.insert("role", viewer.role.as_str());
    ctx.insert("operator", &(viewer.role == super::Role::Operator));
    ctx.insert("csrf", &viewer.csrf);
    ctx.insert("sso", &viewer.sso);
    ctx.insert("notice", &viewer.notice);
    ctx.insert("active", active);
    ctx.insert("title", title);
    ctx.insert("now", &when(state.clock.now()));
    let html = state.templates.render(template, &ctx)?;
    Ok((HEADERS, Html(html)).into_response())
}

/// Sent with every console page: no external assets, no scripts, no
/// framing by other sites, nothing cached.
pub const HEADERS: [(axum::http::HeaderName, &str); 3] = [
    (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
    ),
    (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (axum::http::header::CACHE_CONTROL, "no-store"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let tera = super::templates();
        assert_eq!(tera.get_template_names().count(), super::TEMPLATES.len());
    }

    #[test]
    fn url_encoding_keeps_paths_and_encodes_the_rest() {
        assert_eq!(
            super::url_encode("/console/a b?x=<y>"),
            "/console/a%20b%3Fx%3D%3Cy%3E"
        );
    }
}
