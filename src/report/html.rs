//! One self-contained HTML page (no external assets): what counted as a
//! response, the figures, the verdict in plain words, clicks apart, an SVG
//! chart of each group's response rate with its 95% interval, and the
//! cumulative response rate over time.

use super::{Report, TimelinePoint};
use crate::domain::Group;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes `text` and shows its `backticked` words as code.
fn with_code(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

const TREATMENT: &str = "#2f6fdf";
const HOLDOUT: &str = "#9aa3ad";

fn color(group: Group) -> &'static str {
    match group {
        Group::Treatment => TREATMENT,
        Group::Holdout => HOLDOUT,
    }
}

/// Bars of the response rate per group, with whiskers for the 95% interval.
pub fn rate_chart(r: &Report) -> String {
    let (width, height, top, bottom, left) = (520.0, 260.0, 20.0, 40.0, 50.0);
    let plot = height - top - bottom;
    let max = r
        .groups
        .iter()
        .map(|g| g.response.high)
        .fold(0.05_f64, f64::max)
        .min(1.0);
    let y = |v: f64| top + plot * (1.0 - v / max);
    let mut svg = format!(
        "<svg id=\"rate-chart\" role=\"img\" aria-label=\"Response rate by group with 95% intervals\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">"
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        svg += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6ea\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            width - 10.0,
            left - 6.0,
            y(v) + 4.0,
            pct(v),
            y = y(v)
        );
    }
    let slot = (width - left - 20.0) / r.groups.len().max(1) as f64;
    for (i, g) in r.groups.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.25;
        let w = slot * 0.5;
        let mid = x + w / 2.0;
        let rate = g.response.rate;
        svg += &format!(
            "<rect class=\"bar\" data-group=\"{name}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            y(rate),
            (top + plot - y(rate)).max(0.0),
            color(g.group),
            name = g.group.as_str()
        );
        svg += &format!(
            "<g class=\"ci\" stroke=\"#222\" stroke-width=\"1.5\"><line x1=\"{mid:.1}\" x2=\"{mid:.1}\" y1=\"{lo:.1}\" y2=\"{hi:.1}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{hi:.1}\" y2=\"{hi:.1}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{lo:.1}\" y2=\"{lo:.1}\"/></g>",
            mid - 8.0,
            mid + 8.0,
            mid - 8.0,
            mid + 8.0,
            lo = y(g.response.low),
            hi = y(g.response.high)
        );
        svg += &format!(
            "<text x=\"{mid:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\">{} · {}</text>",
            height - 14.0,
            g.group.as_str(),
            pct(rate)
        );
    }
    svg + "</svg>"
}

/// Cumulative response rate by day since entry, one line per group.
pub fn timeline_chart(points: &[TimelinePoint]) -> String {
    let (width, height, top, bottom, left) = (520.0, 220.0, 16.0, 34.0, 50.0);
    let plot_w = width - left - 20.0;
    let plot_h = height - top - bottom;
    let days = points.last().map(|p| p.day).unwrap_or(1).max(1) as f64;
    let max = points
        .iter()
        .map(|p| p.treatment.max(p.holdout.unwrap_or(0.0)))
        .fold(0.05_f64, f64::max);
    let x = |d: i64| left + plot_w * d as f64 / days;
    let y = |v: f64| top + plot_h * (1.0 - v / max);
    let line = |values: Vec<(i64, f64)>, stroke: &str, name: &str| {
        let path: Vec<String> = values
            .iter()
            .map(|(d, v)| format!("{:.1},{:.1}", x(*d), y(*v)))
            .collect();
        format!(
            "<polyline class=\"line\" data-group=\"{name}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"2.5\" points=\"{}\"/>",
            path.join(" ")
        )
    };
    let mut svg = format!(
        "<svg id=\"timeline-chart\" role=\"img\" aria-label=\"Cumulative response rate by day since entry\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">"
    );
    svg += &format!(
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">day {}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        width - 20.0,
        top + plot_h,
        top + plot_h,
        width - 20.0,
        height - 10.0,
        days,
        left - 6.0,
        top + 4.0,
        pct(max)
    );
    svg += &line(
        points.iter().map(|p| (p.day, p.treatment)).collect(),
        TREATMENT,
        "treatment",
    );
    if points.iter().any(|p| p.holdout.is_some()) {
        svg += &line(
            points
                .iter()
                .map(|p| (p.day, p.holdout.unwrap_or(0.0)))
                .collect(),
            HOLDOUT,
            "holdout",
        );
    }
    svg + "</svg>"
}

pub fn render(r: &Report) -> String {
    let mut rows = String::new();
    for g in &r.groups {
        let name = g.group.as_str();
        rows += &format!(
            "<tr><th scope=\"row\"><span class=\"swatch\" style=\"background:{}\"></span>{name}</th><td data-test=\"{name}-contacts\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td data-test=\"{name}-responders\">{}</td><td data-test=\"{name}-rate\">{}</td><td>{} – {}</td></tr>",
            color(g.group),
            g.figures.enrolled,
            g.figures.sent,
            g.figures.failed,
            g.figures.bounced,
            g.figures.unsubscribed,
            g.figures.responders,
            pct(g.response.rate),
            pct(g.response.low),
            pct(g.response.high)
        );
    }
    let difference = r
        .difference
        .map(|d| {
            format!(
                "<p class=\"diff\" data-test=\"difference\">Difference (treatment − holdout): <strong>{:.1} points</strong>, 95% interval {:.1} to {:.1} (Newcombe).</p>",
                d.estimate * 100.0,
                d.low * 100.0,
                d.high * 100.0
            )
        })
        .unwrap_or_default();
    let warnings: String = r
        .warnings
        .iter()
        .map(|w| format!("<p class=\"warning\">⚠ {}</p>", escape(w)))
        .collect();
    let steps: String = r
        .steps
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
                s.step + 1,
                s.sent,
                s.failed,
                s.bounced,
                s.complaints,
                s.clicks,
                s.human_clickers,
                s.responders_after
            )
        })
        .collect();
    let pilot = r
        .pilot
        .as_ref()
        .map(|p| {
            format!(
                "<p class=\"meta\">Pilot: sample {}, {} held out (never emailed), seed <code>{}</code>.{}</p>",
                escape(&p.sample),
                pct(p.holdout),
                escape(&p.seed),
                p.promoted_at
                    .map(|at| format!(" Promoted to a full rollout on {}.", at.format("%Y-%m-%d")))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let click_rows: String = r
        .groups
        .iter()
        .map(|g| {
            let (name, c) = (g.group.as_str(), &g.figures.clicks);
            format!(
                "<tr><th scope=\"row\"><span class=\"swatch\" style=\"background:{}\"></span>{name}</th><td data-test=\"{name}-clicks\">{}</td><td data-test=\"{name}-clickers\">{}</td><td data-test=\"{name}-automated\">{}</td><td data-test=\"{name}-human-clickers\">{}</td></tr>",
                color(g.group),
                c.clicks,
                c.clickers,
                c.automated,
                c.human_clickers
            )
        })
        .collect();
    let click_notes: String = r
        .groups
        .iter()
        .map(|g| {
            format!(
                "<p class=\"meta\" data-test=\"{name}-click-summary\">{name}: {}.</p>",
                escape(&super::click_summary(g.group, &g.figures.clicks)),
                name = g.group.as_str()
            )
        })
        .collect();
    let not_sent: String = r
        .not_sent
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><th scope=\"row\">{}</th><td style=\"text-align:left\">{}</td></tr>",
                e.count,
                e.state.as_str(),
                escape(&e.reason)
            )
        })
        .chain(r.held.iter().map(|h| {
            format!(
                "<tr><td>{}</td><th scope=\"row\">held</th><td style=\"text-align:left\">{} (next at {})</td></tr>",
                h.count,
                h.reason.describe(),
                h.next_at.format("%Y-%m-%d %H:%M UTC")
            )
        }))
        .collect();
    let not_sent = if not_sent.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Not sent, and why</h2><table data-test=\"not-sent\"><thead><tr><th>messages</th><th>state</th><th>reason</th></tr></thead><tbody>{not_sent}</tbody></table>"
        )
    };
    let came_back: String = r
        .came_back
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><th scope=\"row\">{}</th><td style=\"text-align:left\">{}</td></tr>",
                c.count,
                escape(&c.kind.replace('_', " ")),
                escape(c.effect)
            )
        })
        .collect();
    let came_back = if came_back.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>What came back</h2><table data-test=\"came-back\"><thead><tr><th>messages</th><th>kind</th><th>what tend did</th></tr></thead><tbody>{came_back}</tbody></table>"
        )
    };
    let clicks_role = if r.clicks_counted {
        "Counted as responses here because <code>respond_on</code> names <code>click</code>: only the treatment can click, so the comparison is biased."
    } else {
        "A figure of their own, never a response: only the treatment gets the links, and link scanners click by themselves."
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tend report: {campaign}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430;line-height:1.45}}
h1{{font-size:1.5rem;margin-bottom:.2rem}} .meta{{color:#5b6470}} .verdict{{font-size:1.15rem;background:#f3f6fb;border-left:4px solid {treatment};padding:.8rem 1rem}}
table{{border-collapse:collapse;margin:1rem 0}} th,td{{padding:.35rem .7rem;border-bottom:1px solid #e3e6ea;text-align:right}} th:first-child{{text-align:left}}
.swatch{{display:inline-block;width:.8rem;height:.8rem;margin-right:.4rem;border-radius:2px}} .warning{{color:#8a5a00;background:#fff7e0;padding:.5rem .8rem}}
.charts{{display:flex;flex-wrap:wrap;gap:1.5rem}} figure{{margin:0}} figcaption{{color:#5b6470;font-size:.9rem}}
</style></head>
<body>
<h1>{campaign}</h1>
<p class="meta">{description} · generated {generated}</p>
{pilot}
<p class="meta" data-test="response-definition">{response_definition}</p>
<p class="verdict" data-test="verdict">{verdict}</p>
<p class="{complaint_class}" data-test="complaint-rate">Complaint rate: {complaints}</p>
{warnings}
<table><thead><tr><th>group</th><th>contacts</th><th>sent</th><th>failed</th><th>bounced</th><th>unsubscribed</th><th>responders</th><th>response rate</th><th>95% interval</th></tr></thead>
<tbody>{rows}</tbody></table>
{difference}
<h2>Clicks on tend's links</h2>
<p class="meta">{clicks_role}</p>
<table><thead><tr><th>group</th><th>clicks</th><th>contacts who clicked</th><th>look automated</th><th>clicked like readers</th></tr></thead>
<tbody>{click_rows}</tbody></table>
{click_notes}
<div class="charts">
<figure>{rate_chart}<figcaption>Response rate by group; whiskers show the 95% interval.</figcaption></figure>
<figure>{timeline}<figcaption>Share of each group that had responded, by day since entering.</figcaption></figure>
</div>
<h2>By step</h2>
<table><thead><tr><th>step</th><th>sent</th><th>failed</th><th>bounced</th><th>complaints</th><th>clicks (people)</th><th>responded after it</th></tr></thead><tbody>{steps}</tbody></table>
{came_back}
{not_sent}
</body></html>
"#,
        campaign = escape(&r.campaign),
        description = escape(&r.description),
        generated = r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        treatment = TREATMENT,
        verdict = escape(&r.verdict),
        complaints = escape(&r.complaints.summary),
        complaint_class = match r.complaints.level {
            super::complaints::ComplaintLevel::Ok => "meta",
            _ => "warning",
        },
        response_definition = with_code(&r.response_definition),
        rate_chart = rate_chart(r),
        timeline = timeline_chart(&r.timeline),
    )
}
