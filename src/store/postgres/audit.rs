//! The audit log on PostgreSQL.

use super::*;

impl AuditStore for PostgresStore {
    async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO audit_log (actor, action, subject, detail, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .ctx("recording an audit entry")?;
        Ok(id)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let ctx = "listing the audit log";
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT id, actor, action, subject, detail, at FROM audit_log WHERE 1 = 1",
        );
        if let Some(actor) = &filter.actor {
            qb.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(action) = &filter.action {
            qb.push(" AND action = ").push_bind(action.clone());
        }
        if let Some(subject) = &filter.subject {
            qb.push(" AND strpos(subject, ")
                .push_bind(subject.clone())
                .push(") > 0");
        }
        qb.push(" ORDER BY at DESC, id DESC LIMIT ")
            .push_bind(filter.limit.unwrap_or(200) as i64);
        let rows = qb.build().fetch_all(&self.pool).await.ctx(ctx)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id").ctx(ctx)?,
                    actor: row.try_get("actor").ctx(ctx)?,
                    action: row.try_get("action").ctx(ctx)?,
                    subject: row.try_get("subject").ctx(ctx)?,
                    detail: row.try_get("detail").ctx(ctx)?,
                    at: row.try_get("at").ctx(ctx)?,
                })
            })
            .collect()
    }
}
