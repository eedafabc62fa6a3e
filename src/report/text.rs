//! The plain-text report.

use super::Report;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn render(r: &Report) -> String {
    let mut out = format!("campaign {}", r.campaign);
    if !r.description.is_empty() {
        out += &format!(" — {}", r.description);
    }
    out += "\n";
    if let Some(p) = &r.pilot {
        out += &format!(
            "pilot: sample {}, holdout {}, seed `{}`",
            p.sample,
            pct(p.holdout),
            p.seed
        );
        if let Some(at) = p.promoted_at {
            out += &format!(", promoted to a full rollout at {}", at.to_rfc3339());
        }
        out += "\n";
    }
    out += &format!("{}\n", r.response_definition);
    out += "\ngroup        contacts   sent  failed  bounced  unsubscribed  responders  rate    95% CI\n";
    for g in &r.groups {
        out += &format!(
            "{:<12} {:>8} {:>6} {:>7} {:>8} {:>13} {:>11}  {:<7} {}–{}\n",
            g.group.as_str(),
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
    if let Some(d) = &r.difference {
        out += &format!(
            "\ndifference (treatment − holdout): {} points, 95% CI {} to {} (Newcombe)\n",
            pct(d.estimate).trim_end_matches('%'),
            pct(d.low).trim_end_matches('%'),
            pct(d.high).trim_end_matches('%')
        );
    }
    out += if r.clicks_counted {
        "\nclicks on tend's links (counted as responses here, see above):\n"
    } else {
        "\nclicks on tend's links (a figure of their own, never a response):\n"
    };
    for g in &r.groups {
        out += &format!(
            "  {:<10} {}\n",
            format!("{}:", g.group.as_str()),
            super::click_summary(g.group, &g.figures.clicks)
        );
    }
    out += &format!("\nverdict: {}\n", r.verdict);
    out += &format!("complaint rate: {}\n", r.complaints.summary);
    if !r.came_back.is_empty() {
        out += "\nwhat came back (`tend inbound list --campaign` for each):\n";
        for c in &r.came_back {
            out += &format!("  {:>6}  {:<13} {}\n", c.count, c.kind, c.effect);
        }
    }
    for w in &r.warnings {
        out += &format!("warning: {w}\n");
    }
    if !r.not_sent.is_empty() || !r.held.is_empty() {
        out += "\nnot sent, and why:\n";
        for e in &r.not_sent {
            out += &format!("  {:>6}  {:<10} {}\n", e.count, e.state.as_str(), e.reason);
        }
        for h in &r.held {
            out += &format!(
                "  {:>6}  {:<10} {} (next at {})\n",
                h.count,
                "held",
                h.reason.describe(),
                h.next_at.to_rfc3339()
            );
        }
    }
    if !r.steps.is_empty() {
        out += "\nstep  sent  failed  bounced  complaints  clicks (people)  responded after it\n";
        for s in &r.steps {
            out += &format!(
                "{:>4} {:>5} {:>7} {:>8} {:>11} {:>7} ({:>5}) {:>19}\n",
                s.step + 1,
                s.sent,
                s.failed,
                s.bounced,
                s.complaints,
                s.clicks,
                s.human_clickers,
                s.responders_after
            );
        }
    }
    out
}
