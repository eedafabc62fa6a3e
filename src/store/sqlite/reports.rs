//! Figures on SQLite: the outbox by state, held and ended rows, sent
//! messages, pilot figures.

use super::outbox::parse_state;
use super::*;

/// Appends ` AND (…)`: the event `ev` is of one of the response `kinds`
/// (see `Store::pilot_figures`), values bound.
fn push_response_kinds(qb: &mut QueryBuilder<'_, Sqlite>, kinds: &[String]) {
    let from_a_shared_source = |qb: &mut QueryBuilder<'_, Sqlite>| {
        qb.push(" AND ev.source NOT IN (");
        let mut sources = qb.separated(", ");
        for t in TREATMENT_ONLY_KINDS {
            sources.push_bind(t.source);
        }
        qb.push(")");
    };
    qb.push(" AND (0");
    for kind in kinds {
        if kind == "activity" {
            qb.push(" OR (ev.kind NOT IN ('unsubscribe', 'bounce', 'complaint'");
            for t in TREATMENT_ONLY_KINDS {
                qb.push(", ");
                qb.push_bind(t.kind);
            }
            qb.push(")");
            from_a_shared_source(qb);
            qb.push(")");
        } else if TREATMENT_ONLY_KINDS.iter().any(|t| t.kind == kind) {
            // Named on purpose (`tend check` warns): counts from any source.
            qb.push(" OR ev.kind = ");
            qb.push_bind(kind.clone());
        } else {
            qb.push(" OR (ev.kind = ");
            qb.push_bind(kind.clone());
            from_a_shared_source(qb);
            qb.push(")");
        }
    }
    qb.push(")");
}

impl ReportStore for SqliteStore {
    async fn outbox_counts(&self) -> StoreResult<Vec<OutboxCount>> {
        let rows = sqlx::query(
            "SELECT campaign, state, count(*) AS n FROM sends GROUP BY campaign, state ORDER BY campaign, state",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting the outbox")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading outbox counts";
                let state: String = row.try_get("state").ctx(ctx)?;
                Ok(OutboxCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    state: state.parse().map_err(|detail| StoreError::Corrupt {
                        context: ctx,
                        detail,
                    })?,
                    count: row.try_get::<i64, _>("n").ctx(ctx)? as u64,
                })
            })
            .collect()
    }

    async fn held_counts(&self) -> StoreResult<Vec<HeldCount>> {
        let ctx = "counting held sends";
        let rows = sqlx::query(
            "SELECT campaign, hold_reason, count(*) AS n, min(next_at) AS next_at FROM sends
             WHERE state IN ('queued', 'retry') AND hold_reason IS NOT NULL
             GROUP BY campaign, hold_reason ORDER BY campaign, hold_reason",
        )
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        rows.iter()
            .map(|row| {
                let reason: String = row.try_get("hold_reason").ctx(ctx)?;
                Ok(HeldCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    reason: reason.parse().map_err(|detail| StoreError::Corrupt {
                        context: ctx,
                        detail,
                    })?,
                    count: row.try_get::<i64, _>("n").ctx(ctx)? as u64,
                    next_at: from_ts(row.try_get("next_at").ctx(ctx)?),
                })
            })
            .collect()
    }

    async fn ended_counts(&self, campaign: Option<&str>) -> StoreResult<Vec<EndedCount>> {
        let ctx = "counting ended sends";
        // Failed rows are grouped by their last classified SMTP answer; the
        // others by the reason recorded when they ended.
        let mut qb = QueryBuilder::new(
            "SELECT campaign, state, reason, count(*) AS n FROM (
                SELECT s.campaign, s.state,
                       coalesce(CASE WHEN s.state = 'failed' THEN
                           (SELECT f.verdict || ': ' || f.reason FROM smtp_failures f WHERE f.send_id = s.id ORDER BY f.id DESC LIMIT 1)
                       END, s.last_error, '') AS reason
                FROM sends s WHERE s.state IN ('cancelled', 'suppressed', 'failed')",
        );
        if let Some(campaign) = campaign {
            qb.push(" AND s.campaign = ");
            qb.push_bind(campaign.to_string());
        }
        qb.push(") GROUP BY campaign, state, reason ORDER BY campaign, state, n DESC");
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").ctx(ctx)?;
                Ok(EndedCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    state: parse_state(&state, ctx)?,
                    reason: row.try_get("reason").ctx(ctx)?,
                    count: row.try_get::<i64, _>("n").ctx(ctx)? as u64,
                })
            })
            .collect()
    }

    async fn sent_messages(&self, campaign: &str) -> StoreResult<Vec<SentMessage>> {
        self.sent_message_rows(campaign).await
    }

    async fn pilot_figures(
        &self,
        campaign: &str,
        kinds: &[String],
        within: crate::domain::Duration,
    ) -> StoreResult<PilotFigures> {
        let ctx = "reading pilot figures";
        // The response condition over events `ev` of enrollment `e`, values bound.
        let response = |qb: &mut QueryBuilder<'_, Sqlite>, after: &str| {
            qb.push(format_args!(
                " ev.contact_id = e.contact_id AND ev.at > {after} AND ev.at <= e.entered_at + "
            ));
            qb.push_bind(within.as_secs());
            push_response_kinds(qb, kinds);
        };
        let mut groups: std::collections::BTreeMap<Group, GroupFigures> = Default::default();
        let group_of = |name: &str| {
            if name == "holdout" {
                Group::Holdout
            } else {
                Group::Treatment
            }
        };
        let rows = sqlx::query(
            "SELECT e.grp, count(*) AS n,
                    (SELECT count(*) FROM sends s JOIN enrollments e2 ON e2.id = s.enrollment_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND s.state = 'sent') AS sent,
                    (SELECT count(*) FROM sends s JOIN enrollments e2 ON e2.id = s.enrollment_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND s.state = 'failed') AS failed,
                    (SELECT count(*) FROM enrollments e2 JOIN contacts c ON c.id = e2.contact_id
                      JOIN suppressions sp ON sp.value = c.email
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND sp.reason = 'bounce'
                        AND sp.created_at >= e2.entered_at) AS bounced,
                    (SELECT count(DISTINCT e2.id) FROM enrollments e2 JOIN events ev ON ev.contact_id = e2.contact_id
                      WHERE e2.campaign = e.campaign AND e2.grp = e.grp AND ev.kind = 'unsubscribe'
                        AND ev.at >= e2.entered_at) AS unsubscribed
             FROM enrollments e WHERE e.campaign = ? GROUP BY e.grp",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &rows {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let f = groups.entry(group_of(&grp)).or_default();
            f.enrolled = row.try_get::<i64, _>("n").ctx(ctx)? as u64;
            f.sent = row.try_get::<i64, _>("sent").ctx(ctx)? as u64;
            f.failed = row.try_get::<i64, _>("failed").ctx(ctx)? as u64;
            f.bounced = row.try_get::<i64, _>("bounced").ctx(ctx)? as u64;
            f.unsubscribed = row.try_get::<i64, _>("unsubscribed").ctx(ctx)? as u64;
        }
        // Clicks on the campaign's messages, by the group of the enrollment they were sent to.
        let clicks = sqlx::query(
            "SELECT e.grp, ev.automated, count(*) AS n, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND ev.kind = ? AND ev.source = ?
             GROUP BY e.grp, ev.automated",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clicks {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let c = &mut groups.entry(group_of(&grp)).or_default().clicks;
            let n = row.try_get::<i64, _>("n").ctx(ctx)? as u64;
            c.clicks += n;
            match row.try_get::<Option<String>, _>("automated").ctx(ctx)? {
                Some(reason) => {
                    c.automated += n;
                    *c.automated_by_reason.entry(reason).or_default() += n;
                }
                None => c.human_clickers = row.try_get::<i64, _>("clickers").ctx(ctx)? as u64,
            }
        }
        let clickers = sqlx::query(
            "SELECT e.grp, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND ev.kind = ? AND ev.source = ?
             GROUP BY e.grp",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clickers {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            groups.entry(group_of(&grp)).or_default().clicks.clickers =
                row.try_get::<i64, _>("clickers").ctx(ctx)? as u64;
        }
        // First response per enrollment, in whole days after entry.
        let mut qb = QueryBuilder::new(
            "SELECT e.grp, (min(ev.at) - e.entered_at) / 86400 AS day FROM enrollments e JOIN events ev ON",
        );
        response(&mut qb, "e.entered_at");
        qb.push(" WHERE e.campaign = ");
        qb.push_bind(campaign.to_string());
        qb.push(" GROUP BY e.id");
        for row in qb.build().fetch_all(&self.pool).await.ctx(ctx)? {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let f = groups.entry(group_of(&grp)).or_default();
            f.responders += 1;
            f.response_days.push(row.try_get("day").ctx(ctx)?);
        }
        let mut qb = QueryBuilder::new(
            "SELECT s.step, count(*) AS sent, count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM events ev WHERE",
        );
        response(&mut qb, "s.sent_at");
        qb.push(") THEN e.id END) AS responders FROM sends s JOIN enrollments e ON e.id = s.enrollment_id WHERE e.campaign = ");
        qb.push_bind(campaign.to_string());
        qb.push(" AND s.state = 'sent' GROUP BY s.step ORDER BY s.step");
        let steps = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .ctx(ctx)?
            .iter()
            .map(|row| {
                Ok(StepFigures {
                    step: row.try_get::<i64, _>("step").ctx(ctx)? as u32,
                    sent: row.try_get::<i64, _>("sent").ctx(ctx)? as u64,
                    responders_after: row.try_get::<i64, _>("responders").ctx(ctx)? as u64,
                    ..StepFigures::default()
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let steps = self.step_outcomes(campaign, steps).await?;
        Ok((groups.into_iter().collect(), steps))
    }
}

impl SqliteStore {
    /// Adds what became of each step's messages (failed, bounced, complaints,
    /// clicks) to the sent and responded figures.
    async fn step_outcomes(
        &self,
        campaign: &str,
        mut steps: Vec<StepFigures>,
    ) -> StoreResult<Vec<StepFigures>> {
        let ctx = "reading a campaign's figures per step";
        let rows = sqlx::query(
            "SELECT s.step,
                    sum(CASE WHEN s.state = 'failed' THEN 1 ELSE 0 END) AS failed,
                    sum(CASE WHEN EXISTS (SELECT 1 FROM smtp_failures f
                                           WHERE f.send_id = s.id AND f.verdict = 'hard_bounce')
                               OR EXISTS (SELECT 1 FROM inbound_messages im
                                           WHERE im.send_id = s.id AND im.kind = 'hard_bounce'
                                             AND im.undone_at IS NULL)
                             THEN 1 ELSE 0 END) AS bounced,
                    sum(CASE WHEN EXISTS (SELECT 1 FROM inbound_messages im
                                           WHERE im.send_id = s.id AND im.kind = 'complaint'
                                             AND im.undone_at IS NULL)
                             THEN 1 ELSE 0 END) AS complaints
             FROM sends s JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? GROUP BY s.step",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &rows {
            let step = row.try_get::<i64, _>("step").ctx(ctx)? as u32;
            let figures = StepFigures::entry(&mut steps, step);
            figures.failed = row.try_get::<i64, _>("failed").ctx(ctx)? as u64;
            figures.bounced = row.try_get::<i64, _>("bounced").ctx(ctx)? as u64;
            figures.complaints = row.try_get::<i64, _>("complaints").ctx(ctx)? as u64;
        }
        let clicks = sqlx::query(
            "SELECT s.step, count(*) AS clicks,
                    count(DISTINCT CASE WHEN ev.automated IS NULL THEN ev.contact_id END) AS human
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = ? AND ev.kind = ? AND ev.source = ?
             GROUP BY s.step",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clicks {
            let step = row.try_get::<i64, _>("step").ctx(ctx)? as u32;
            let figures = StepFigures::entry(&mut steps, step);
            figures.clicks = row.try_get::<i64, _>("clicks").ctx(ctx)? as u64;
            figures.human_clickers = row.try_get::<i64, _>("human").ctx(ctx)? as u64;
        }
        steps.sort_by_key(|s| s.step);
        Ok(steps)
    }
}
