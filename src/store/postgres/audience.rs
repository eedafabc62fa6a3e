//! Who is in a campaign, on PostgreSQL: segment counts and lists,
//! enrollment, exit rules, and each open passage's progress.
//!
//! Entry is guarded by the partial unique index `enrollments_open` (one open
//! passage per contact and campaign): a daemon that enrolls the same contact
//! at the same moment as another does nothing, and fails nothing.

use super::*;

/// The conflict target of `enrollments_open`.
const SKIP_OPEN: &str = " ON CONFLICT (campaign, contact_id) WHERE exited_at IS NULL DO NOTHING";

/// `FROM contacts c WHERE` the selection, unsuppressed, may enter `campaign`.
fn push_entrants(
    qb: &mut QueryBuilder<'_, Postgres>,
    campaign: &str,
    selection: &Selection,
    reentry_after: Option<DateTime<Utc>>,
) {
    qb.push(" FROM contacts c WHERE ");
    push_selection(qb, selection);
    qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
    push_not_enrolled(qb, campaign, reentry_after);
}

impl AudienceStore for PostgresStore {
    async fn count_entrants(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<u64> {
        let mut qb = QueryBuilder::new("SELECT count(*)");
        push_entrants(&mut qb, campaign, selection, reentry_after);
        let count: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .ctx("counting entrants")?;
        Ok(count as u64)
    }

    async fn enroll(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut qb =
            QueryBuilder::new("INSERT INTO enrollments (campaign, contact_id, entered_at) SELECT ");
        qb.push_bind(campaign.to_string());
        qb.push(", c.id, ");
        qb.push_bind(whole_second(now));
        push_entrants(&mut qb, campaign, selection, reentry_after);
        // Passages numbered in contact order, as SQLite's scan gives them.
        qb.push(" ORDER BY c.id");
        qb.push(SKIP_OPEN);
        let done = qb
            .build()
            .execute(&self.pool)
            .await
            .ctx("enrolling contacts")?;
        Ok(done.rows_affected())
    }

    async fn entrant_ids(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<i64>> {
        let mut qb = QueryBuilder::new("SELECT c.id");
        push_entrants(&mut qb, campaign, selection, reentry_after);
        qb.push(" ORDER BY c.id");
        qb.build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .ctx("listing entrants")
    }

    async fn enroll_contacts(
        &self,
        campaign: &str,
        contacts: &[(i64, Group)],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ids: Vec<i64> = contacts.iter().map(|(id, _)| *id).collect();
        let groups: Vec<&str> = contacts.iter().map(|(_, g)| g.as_str()).collect();
        let mut qb = QueryBuilder::new(
            "INSERT INTO enrollments (campaign, contact_id, grp, entered_at) SELECT ",
        );
        qb.push_bind(campaign.to_string());
        qb.push(", u.id, u.grp, ");
        qb.push_bind(whole_second(now));
        qb.push(" FROM unnest(");
        qb.push_bind(ids);
        qb.push("::bigint[], ");
        qb.push_bind(groups);
        qb.push("::text[]) WITH ORDINALITY AS u(id, grp, n) ORDER BY u.n");
        qb.push(SKIP_OPEN);
        let done = qb
            .build()
            .execute(&self.pool)
            .await
            .ctx("enrolling a sample")?;
        Ok(done.rows_affected())
    }

    async fn enrolled_count(&self, campaign: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE campaign = $1")
            .bind(campaign)
            .fetch_one(&self.pool)
            .await
            .ctx("counting enrollments")?;
        Ok(n as u64)
    }

    async fn count_matching(
        &self,
        selection: &Selection,
        campaign: &str,
    ) -> StoreResult<(u64, u64)> {
        super::segments::count_matching(&self.pool, selection, campaign).await
    }

    async fn list_matching(
        &self,
        selection: &Selection,
        stages: &[(String, Cond)],
        limit: u64,
    ) -> StoreResult<Vec<(Contact, Option<String>)>> {
        super::segments::list_matching(&self.pool, selection, stages, limit).await
    }

    async fn evaluate(&self, contact_id: i64, conds: &[Cond]) -> StoreResult<Vec<bool>> {
        super::segments::evaluate(&self.pool, contact_id, conds).await
    }

    async fn contact_status(&self, contact_id: i64, campaign: &str) -> StoreResult<(bool, bool)> {
        super::segments::contact_status(&self.pool, contact_id, campaign).await
    }

    async fn sample_contacts(
        &self,
        campaign: &str,
        selection: &Selection,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        self.sample_contact_rows(campaign, selection, limit).await
    }

    async fn exit_enrollments(
        &self,
        campaign: &str,
        rule: &ExitRule,
        now: DateTime<Utc>,
        apply: bool,
    ) -> StoreResult<ExitCounts> {
        let mut tx = self.pool.begin().await.ctx("applying exit rules")?;
        let counts = apply_exits(&mut tx, campaign, rule, whole_second(now), apply, None).await?;
        tx.commit().await.ctx("committing exits")?;
        Ok(counts)
    }

    async fn progress(&self, campaign: &str) -> StoreResult<Vec<EnrollmentProgress>> {
        self.progress_page(campaign, 0, i64::MAX, u32::MAX).await
    }

    async fn progress_page(
        &self,
        campaign: &str,
        after: i64,
        through: i64,
        limit: u32,
    ) -> StoreResult<Vec<EnrollmentProgress>> {
        let rows = sqlx::query(
            "SELECT e.id, e.contact_id, e.entered_at, s.step, s.state, s.sent_at, s.hold_reason, s.next_at, c.timezone
             FROM enrollments e
             JOIN contacts c ON c.id = e.contact_id
             LEFT JOIN LATERAL (
                 SELECT s2.step, s2.state, s2.sent_at, s2.hold_reason, s2.next_at FROM sends s2
                 WHERE s2.enrollment_id = e.id ORDER BY s2.step DESC LIMIT 1) s ON TRUE
             WHERE e.campaign = $1 AND e.exited_at IS NULL AND e.grp = 'treatment' AND e.id > $2 AND e.id <= $3
             ORDER BY e.id LIMIT $4",
        )
        .bind(campaign)
        .bind(after)
        .bind(through)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("loading enrollments")?;
        let ctx = "reading an enrollment";
        let corrupt = |detail| StoreError::Corrupt {
            context: ctx,
            detail,
        };
        rows.iter()
            .map(|row| {
                let step: Option<i32> = row.try_get("step").ctx(ctx)?;
                let last_send = match step {
                    None => None,
                    Some(step) => {
                        let state: String = row.try_get("state").ctx(ctx)?;
                        Some(LastSend {
                            step: step as u32,
                            state: parse_state(&state, ctx)?,
                            sent_at: row.try_get("sent_at").ctx(ctx)?,
                            held: match row.try_get::<Option<String>, _>("hold_reason").ctx(ctx)? {
                                Some(reason) => Some((
                                    reason.parse().map_err(corrupt)?,
                                    row.try_get("next_at").ctx(ctx)?,
                                )),
                                None => None,
                            },
                        })
                    }
                };
                Ok(EnrollmentProgress {
                    enrollment_id: row.try_get("id").ctx(ctx)?,
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    entered_at: row.try_get("entered_at").ctx(ctx)?,
                    timezone: row.try_get("timezone").ctx(ctx)?,
                    last_send,
                })
            })
            .collect()
    }

    async fn last_enrollment_id(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0)::bigint FROM enrollments")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the last enrollment id")
    }

    async fn queue_entrants(&self, sends: &EntrantSends, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "INSERT INTO sends (enrollment_id, contact_id, campaign, step, template, state, due_at, next_at, created_at)
             SELECT e.id, e.contact_id, e.campaign, $1, $2, 'queued', $3, $3, $4
             FROM enrollments e
             WHERE e.campaign = $5 AND e.exited_at IS NULL AND e.grp = 'treatment'
               AND e.id > $6 AND e.entered_at = $7
             ORDER BY e.id
             ON CONFLICT (enrollment_id, step) DO NOTHING",
        )
        .bind(sends.step as i32)
        .bind(&sends.template)
        .bind(whole_second(sends.due_at))
        .bind(whole_second(now))
        .bind(&sends.campaign)
        .bind(sends.after_enrollment)
        .bind(whole_second(sends.entered_at))
        .execute(&self.pool)
        .await
        .ctx("queueing entrants")?;
        Ok(done.rows_affected())
    }

    async fn finish_enrollments(
        &self,
        finished: &[(i64, ExitReason)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = whole_second(now);
        let mut tx = self.pool.begin().await.ctx("finishing enrollments")?;
        for (id, reason) in finished {
            sqlx::query(
                "UPDATE enrollments SET exited_at = $1, exit_reason = $2 WHERE id = $3 AND exited_at IS NULL",
            )
            .bind(now)
            .bind(reason.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("finishing an enrollment")?;
        }
        tx.commit().await.ctx("committing finished enrollments")
    }

    async fn enroll_on_events(
        &self,
        campaign: &str,
        selection: &Selection,
        trigger: &EventTrigger,
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        apply: bool,
    ) -> StoreResult<u64> {
        let mut qb = QueryBuilder::new("");
        if apply {
            qb.push("INSERT INTO enrollments (campaign, contact_id, entered_at) SELECT ");
            qb.push_bind(campaign.to_string());
            qb.push(", c.id, ");
            qb.push_bind(whole_second(now));
        } else {
            qb.push("SELECT count(*)");
        }
        push_entrants(&mut qb, campaign, selection, reentry_after);
        qb.push(" AND EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = c.id AND ev.automated IS NULL AND ev.at + make_interval(secs => ");
        qb.push_bind(trigger.delay.num_seconds() as f64);
        qb.push(") > ");
        qb.push_bind(trigger.after);
        qb.push(" AND ev.at + make_interval(secs => ");
        qb.push_bind(trigger.delay.num_seconds() as f64);
        qb.push(") <= ");
        qb.push_bind(trigger.until);
        qb.push(" AND (FALSE");
        for kind in &trigger.kinds {
            if kind == "activity" {
                qb.push(" OR ev.kind NOT IN ('unsubscribe', 'bounce', 'complaint')");
            } else {
                qb.push(" OR ev.kind = ");
                qb.push_bind(kind.clone());
            }
        }
        qb.push("))");
        if apply {
            qb.push(" ORDER BY c.id");
            qb.push(SKIP_OPEN);
            let done = qb
                .build()
                .execute(&self.pool)
                .await
                .ctx("enrolling contacts on events")?;
            Ok(done.rows_affected())
        } else {
            let n: i64 = qb
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .ctx("counting contacts entering on events")?;
            Ok(n as u64)
        }
    }

    async fn anniversary_candidates(
        &self,
        selection: &Selection,
        days: &[String],
    ) -> StoreResult<Vec<(i64, DateTime<Utc>, Option<String>)>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = "finding anniversaries";
        let mut qb =
            QueryBuilder::new("SELECT c.id, c.created_at, c.timezone FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        qb.push(" AND to_char(c.created_at AT TIME ZONE 'UTC', 'MM-DD') = ANY(");
        qb.push_bind(days.to_vec());
        qb.push(") ORDER BY c.id");
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id").ctx(ctx)?,
                    row.try_get("created_at").ctx(ctx)?,
                    row.try_get("timezone").ctx(ctx)?,
                ))
            })
            .collect()
    }

    async fn enroll_ids(
        &self,
        campaign: &str,
        ids: &[i64],
        reentry_after: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        apply: bool,
    ) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut qb = QueryBuilder::new("");
        if apply {
            qb.push("INSERT INTO enrollments (campaign, contact_id, entered_at) SELECT ");
            qb.push_bind(campaign.to_string());
            qb.push(", c.id, ");
            qb.push_bind(whole_second(now));
        } else {
            qb.push("SELECT count(*)");
        }
        qb.push(" FROM contacts c WHERE c.id = ANY(");
        qb.push_bind(ids.to_vec());
        qb.push(")");
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        if apply {
            qb.push(" ORDER BY c.id");
            qb.push(SKIP_OPEN);
            let done = qb
                .build()
                .execute(&self.pool)
                .await
                .ctx("enrolling contacts")?;
            Ok(done.rows_affected())
        } else {
            let n: i64 = qb
                .build_query_scalar()
                .fetch_one(&self.pool)
                .await
                .ctx("counting entrants")?;
            Ok(n as u64)
        }
    }
}
