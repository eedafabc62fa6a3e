//! Who is in a campaign, on SQLite: segment counts and lists, enrollment,
//! exit rules, and each open passage's progress.

use super::*;

impl AudienceStore for SqliteStore {
    async fn count_entrants(
        &self,
        campaign: &str,
        selection: &Selection,
        reentry_after: Option<DateTime<Utc>>,
    ) -> StoreResult<u64> {
        // One pass over the table, as `enroll` reads it: through an index, a
        // large segment (win-back's 377,000 of 1M contacts) costs a random
        // table lookup per member, three times the whole scan; a small
        // one's scan is the price of a bounded worst case.
        let mut qb = QueryBuilder::new("SELECT count(*) FROM contacts c NOT INDEXED WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
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
        qb.push_bind(ts(now));
        // In contact id order, so every index the new rows land in
        // ((campaign, contact), (contact, campaign), (campaign, id)) grows
        // at one edge instead of at random pages, and the tick's sends
        // (queued in enrollment id order) follow contact order too. A
        // segment read through a lifecycle index comes out in last-seen
        // order; NOT INDEXED reads the table in id order instead: one pass
        // over the contacts, never a sort of the entrants.
        qb.push(" FROM contacts c NOT INDEXED WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        qb.push(" ORDER BY c.id");
        let mut conn = self.bulk_insert_connection("enrolling contacts").await?;
        let done = qb
            .build()
            .execute(&mut *conn)
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
        let mut qb = QueryBuilder::new("SELECT c.id FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
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
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("enrolling a sample")?;
        let mut enrolled = 0;
        for (contact, group) in contacts {
            enrolled += sqlx::query(
                "INSERT INTO enrollments (campaign, contact_id, grp, entered_at)
                 SELECT ?1, ?2, ?3, ?4
                 WHERE NOT EXISTS (SELECT 1 FROM enrollments WHERE campaign = ?1 AND contact_id = ?2 AND exited_at IS NULL)",
            )
            .bind(campaign)
            .bind(contact)
            .bind(group.as_str())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .ctx("enrolling a sampled contact")?
            .rows_affected();
        }
        tx.commit().await.ctx("committing a sample")?;
        Ok(enrolled)
    }

    async fn enrolled_count(&self, campaign: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments WHERE campaign = ?")
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
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("applying exit rules")?;
        let counts = apply_exits(&mut tx, campaign, rule, now, apply, false).await?;
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
             LEFT JOIN sends s ON s.id = (
                 SELECT s2.id FROM sends s2 WHERE s2.enrollment_id = e.id ORDER BY s2.step DESC LIMIT 1)
             WHERE e.campaign = ? AND e.exited_at IS NULL AND e.grp = 'treatment' AND e.id > ? AND e.id <= ?
             ORDER BY e.id LIMIT ?",
        )
        .bind(campaign)
        .bind(after)
        .bind(through)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("loading enrollments")?;
        rows.iter()
            .map(|row| {
                let ctx = "reading an enrollment";
                let step: Option<i64> = row.try_get("step").ctx(ctx)?;
                let last_send = match step {
                    None => None,
                    Some(step) => {
                        let state: String = row.try_get("state").ctx(ctx)?;
                        Some(LastSend {
                            step: step as u32,
                            state: state.parse().map_err(|detail| StoreError::Corrupt {
                                context: ctx,
                                detail,
                            })?,
                            sent_at: row
                                .try_get::<Option<i64>, _>("sent_at")
                                .ctx(ctx)?
                                .map(from_ts),
                            held: match row.try_get::<Option<String>, _>("hold_reason").ctx(ctx)? {
                                Some(reason) => Some((
                                    reason.parse().map_err(|detail| StoreError::Corrupt {
                                        context: ctx,
                                        detail,
                                    })?,
                                    from_ts(row.try_get("next_at").ctx(ctx)?),
                                )),
                                None => None,
                            },
                        })
                    }
                };
                Ok(EnrollmentProgress {
                    enrollment_id: row.try_get("id").ctx(ctx)?,
                    contact_id: row.try_get("contact_id").ctx(ctx)?,
                    entered_at: from_ts(row.try_get("entered_at").ctx(ctx)?),
                    timezone: row.try_get("timezone").ctx(ctx)?,
                    last_send,
                })
            })
            .collect()
    }

    async fn last_enrollment_id(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM enrollments")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the last enrollment id")
    }

    async fn queue_entrants(&self, sends: &EntrantSends, now: DateTime<Utc>) -> StoreResult<u64> {
        let _write = self.write_lock.lock().await;
        // The WHERE before ON CONFLICT is required: without it SQLite would
        // read ON as a join constraint. This tick's entrants are the newest
        // rows of the table: NOT INDEXED reads them as one range of the
        // table itself (id > the last id before the tick) rather than
        // through the (campaign, id) index and a table lookup per row.
        let query = sqlx::query(
            "INSERT INTO sends (enrollment_id, contact_id, campaign, step, template, state, due_at, next_at, created_at)
             SELECT e.id, e.contact_id, e.campaign, ?, ?, 'queued', ?, ?, ?
             FROM enrollments e NOT INDEXED
             WHERE e.campaign = ? AND e.exited_at IS NULL AND e.grp = 'treatment'
               AND e.id > ? AND e.entered_at = ?
             ORDER BY e.id
             ON CONFLICT (enrollment_id, step) DO NOTHING",
        )
        .bind(i64::from(sends.step))
        .bind(&sends.template)
        .bind(ts(sends.due_at))
        .bind(ts(sends.due_at))
        .bind(ts(now))
        .bind(&sends.campaign)
        .bind(sends.after_enrollment)
        .bind(ts(sends.entered_at));
        let mut conn = self.bulk_insert_connection("queueing entrants").await?;
        let done = query.execute(&mut *conn).await.ctx("queueing entrants")?;
        Ok(done.rows_affected())
    }

    async fn finish_enrollments(
        &self,
        finished: &[(i64, ExitReason)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _write = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .ctx("finishing enrollments")?;
        for (id, reason) in finished {
            sqlx::query(
                "UPDATE enrollments SET exited_at = ?, exit_reason = ? WHERE id = ? AND exited_at IS NULL",
            )
            .bind(ts(now))
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
            qb.push_bind(ts(now));
        } else {
            qb.push("SELECT count(*)");
        }
        qb.push(" FROM contacts c WHERE ");
        push_selection(&mut qb, selection);
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        qb.push(" AND EXISTS (SELECT 1 FROM events ev WHERE ev.contact_id = c.id AND ev.automated IS NULL AND ev.at + ");
        qb.push_bind(trigger.delay.num_seconds());
        qb.push(" > ");
        qb.push_bind(ts(trigger.after));
        qb.push(" AND ev.at + ");
        qb.push_bind(trigger.delay.num_seconds());
        qb.push(" <= ");
        qb.push_bind(ts(trigger.until));
        qb.push(" AND (0");
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
        qb.push(" AND strftime('%m-%d', c.created_at, 'unixepoch') IN (");
        let mut list = qb.separated(", ");
        for day in days {
            list.push_bind(day.clone());
        }
        qb.push(") ORDER BY c.id");
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id").ctx(ctx)?,
                    from_ts(row.try_get("created_at").ctx(ctx)?),
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
            qb.push_bind(ts(now));
        } else {
            qb.push("SELECT count(*)");
        }
        qb.push(" FROM contacts c WHERE c.id IN (");
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        qb.push(")");
        qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
        push_not_enrolled(&mut qb, campaign, reentry_after);
        if apply {
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
