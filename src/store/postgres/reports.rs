//! Figures on PostgreSQL: the outbox by state, held and ended rows, sent
//! messages, pilot figures. The same figures and order as on SQLite: text is
//! sorted in byte order whatever the database's collation, and instants are
//! whole seconds, so day arithmetic agrees.

use super::*;

/// Appends ` AND (…)`: the event `ev` is of one of the response `kinds`
/// (see `ReportStore::pilot_figures`), values bound.
fn push_response_kinds(qb: &mut QueryBuilder<'_, Postgres>, kinds: &[String]) {
    let from_a_shared_source = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" AND ev.source NOT IN (");
        let mut sources = qb.separated(", ");
        for t in TREATMENT_ONLY_KINDS {
            sources.push_bind(t.source);
        }
        qb.push(")");
    };
    qb.push(" AND (FALSE");
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

fn group_of(name: &str) -> Group {
    if name == "holdout" {
        Group::Holdout
    } else {
        Group::Treatment
    }
}

fn count(row: &PgRow, column: &str, ctx: &'static str) -> StoreResult<u64> {
    Ok(row.try_get::<i64, _>(column).ctx(ctx)? as u64)
}

impl ReportStore for PostgresStore {
    async fn outbox_counts(&self) -> StoreResult<Vec<OutboxCount>> {
        let ctx = "reading outbox counts";
        let rows = sqlx::query(
            "SELECT campaign, state, count(*) AS n FROM sends GROUP BY campaign, state
             ORDER BY campaign COLLATE \"C\", state COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting the outbox")?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").ctx(ctx)?;
                Ok(OutboxCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    state: parse_state(&state, ctx)?,
                    count: count(row, "n", ctx)?,
                })
            })
            .collect()
    }

    async fn held_counts(&self) -> StoreResult<Vec<HeldCount>> {
        let ctx = "counting held sends";
        let rows = sqlx::query(
            "SELECT campaign, hold_reason, count(*) AS n, min(next_at) AS next_at FROM sends
             WHERE state IN ('queued', 'retry') AND hold_reason IS NOT NULL
             GROUP BY campaign, hold_reason ORDER BY campaign COLLATE \"C\", hold_reason COLLATE \"C\"",
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
                    count: count(row, "n", ctx)?,
                    next_at: row.try_get("next_at").ctx(ctx)?,
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
        qb.push(
            ") AS ended GROUP BY campaign, state, reason
             ORDER BY campaign COLLATE \"C\", state COLLATE \"C\", n DESC, reason COLLATE \"C\"",
        );
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state").ctx(ctx)?;
                Ok(EndedCount {
                    campaign: row.try_get("campaign").ctx(ctx)?,
                    state: parse_state(&state, ctx)?,
                    reason: row.try_get("reason").ctx(ctx)?,
                    count: count(row, "n", ctx)?,
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
        let response = |qb: &mut QueryBuilder<'_, Postgres>, after: &str| {
            qb.push(format_args!(
                " ev.contact_id = e.contact_id AND ev.at > {after} AND ev.at <= e.entered_at + make_interval(secs => "
            ));
            qb.push_bind(within.as_secs() as f64);
            qb.push(")");
            push_response_kinds(qb, kinds);
        };
        let mut groups: std::collections::BTreeMap<Group, GroupFigures> = Default::default();
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
             FROM enrollments e WHERE e.campaign = $1 GROUP BY e.campaign, e.grp",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &rows {
            let grp: String = row.try_get("grp").ctx(ctx)?;
            let f = groups.entry(group_of(&grp)).or_default();
            f.enrolled = count(row, "n", ctx)?;
            f.sent = count(row, "sent", ctx)?;
            f.failed = count(row, "failed", ctx)?;
            f.bounced = count(row, "bounced", ctx)?;
            f.unsubscribed = count(row, "unsubscribed", ctx)?;
        }
        // Clicks on the campaign's messages, by the group of the enrollment they were sent to.
        let clicks = sqlx::query(
            "SELECT e.grp, ev.automated, count(*) AS n, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = $1 AND ev.kind = $2 AND ev.source = $3
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
            let n = count(row, "n", ctx)?;
            c.clicks += n;
            match row.try_get::<Option<String>, _>("automated").ctx(ctx)? {
                Some(reason) => {
                    c.automated += n;
                    *c.automated_by_reason.entry(reason).or_default() += n;
                }
                None => c.human_clickers = count(row, "clickers", ctx)?,
            }
        }
        let clickers = sqlx::query(
            "SELECT e.grp, count(DISTINCT ev.contact_id) AS clickers
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = $1 AND ev.kind = $2 AND ev.source = $3
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
                count(row, "clickers", ctx)?;
        }
        // First response per enrollment, in whole days after entry (events
        // come after entry: truncating is flooring, as SQLite's integer division).
        let mut qb = QueryBuilder::new(
            "SELECT e.grp, floor(extract(epoch FROM min(ev.at) - e.entered_at) / 86400)::bigint AS day
             FROM enrollments e JOIN events ev ON",
        );
        response(&mut qb, "e.entered_at");
        qb.push(" WHERE e.campaign = ");
        qb.push_bind(campaign.to_string());
        qb.push(" GROUP BY e.id ORDER BY e.id");
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
                    step: row.try_get::<i32, _>("step").ctx(ctx)? as u32,
                    sent: count(row, "sent", ctx)?,
                    responders_after: count(row, "responders", ctx)?,
                    ..StepFigures::default()
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let steps = self.step_outcomes(campaign, steps).await?;
        Ok((groups.into_iter().collect(), steps))
    }
}

impl PostgresStore {
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
             WHERE e.campaign = $1 GROUP BY s.step",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &rows {
            let step = row.try_get::<i32, _>("step").ctx(ctx)? as u32;
            let figures = StepFigures::entry(&mut steps, step);
            figures.failed = count(row, "failed", ctx)?;
            figures.bounced = count(row, "bounced", ctx)?;
            figures.complaints = count(row, "complaints", ctx)?;
        }
        let clicks = sqlx::query(
            "SELECT s.step, count(*) AS clicks,
                    count(DISTINCT CASE WHEN ev.automated IS NULL THEN ev.contact_id END) AS human
             FROM events ev JOIN sends s ON s.id = ev.send_id JOIN enrollments e ON e.id = s.enrollment_id
             WHERE e.campaign = $1 AND ev.kind = $2 AND ev.source = $3
             GROUP BY s.step",
        )
        .bind(campaign)
        .bind(CLICK.kind)
        .bind(CLICK.source)
        .fetch_all(&self.pool)
        .await
        .ctx(ctx)?;
        for row in &clicks {
            let step = row.try_get::<i32, _>("step").ctx(ctx)? as u32;
            let figures = StepFigures::entry(&mut steps, step);
            figures.clicks = count(row, "clicks", ctx)?;
            figures.human_clickers = count(row, "human", ctx)?;
        }
        steps.sort_by_key(|s| s.step);
        Ok(steps)
    }
}
