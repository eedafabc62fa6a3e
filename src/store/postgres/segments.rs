//! Who-is-in queries on PostgreSQL: counting and listing a segment's
//! members, evaluating conditions for one contact, and the attribute types
//! seen at import. One query each; the condition SQL comes from
//! [`crate::store::filter_sql`] with every value bound. The answers are
//! SQLite's, order included (byte order, whatever the database's collation).

use super::{CONTACT_COLUMNS, NOT_SUPPRESSED, contact_from_row};
use crate::domain::{Contact, NewContact};
use crate::segment::{AttrType, Cond, Selection};
use crate::store::filter_sql::push_cond_pg;
use crate::store::{QueryContext, StoreResult};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use std::collections::BTreeMap;

/// (members, members who never entered `campaign`) in one pass.
pub async fn count_matching(
    pool: &PgPool,
    selection: &Selection,
    campaign: &str,
) -> StoreResult<(u64, u64)> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign = ",
    );
    qb.push_bind(campaign.to_string());
    qb.push(" AND e.contact_id = c.id)) FROM contacts c WHERE ");
    push_cond_pg(&mut qb, &selection.cond);
    qb.push(format_args!(" AND {NOT_SUPPRESSED}"));
    let row = qb.build().fetch_one(pool).await.ctx("counting a segment")?;
    let members: i64 = row.try_get(0).ctx("counting a segment")?;
    let entering: i64 = row.try_get(1).ctx("counting a segment")?;
    Ok((members as u64, entering as u64))
}

pub async fn list_matching(
    pool: &PgPool,
    selection: &Selection,
    stages: &[(String, Cond)],
    limit: u64,
) -> StoreResult<Vec<(Contact, Option<String>)>> {
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {CONTACT_COLUMNS}, "));
    if stages.is_empty() {
        qb.push("NULL::text");
    } else {
        qb.push("CASE");
        for (name, cond) in stages {
            qb.push(" WHEN ");
            push_cond_pg(&mut qb, cond);
            qb.push(" THEN ");
            qb.push_bind(name.clone());
        }
        qb.push(" END");
    }
    qb.push(" AS stage FROM contacts c WHERE ");
    push_cond_pg(&mut qb, &selection.cond);
    qb.push(format_args!(
        " AND {NOT_SUPPRESSED} ORDER BY c.email COLLATE \"C\" LIMIT "
    ));
    qb.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(pool).await.ctx("listing a segment")?;
    rows.iter()
        .map(|row| {
            let stage: Option<String> = row.try_get("stage").ctx("reading a contact")?;
            Ok((contact_from_row(row)?, stage))
        })
        .collect()
}

pub async fn evaluate(pool: &PgPool, contact_id: i64, conds: &[Cond]) -> StoreResult<Vec<bool>> {
    if conds.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Postgres>::new("SELECT ");
    for (i, cond) in conds.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        push_cond_pg(&mut qb, cond);
    }
    qb.push(" FROM contacts c WHERE c.id = ");
    qb.push_bind(contact_id);
    let row = qb
        .build()
        .fetch_one(pool)
        .await
        .ctx("evaluating a segment for one contact")?;
    (0..conds.len())
        .map(|i| {
            let v: Option<bool> = row.try_get(i).ctx("evaluating a segment")?;
            Ok(v.unwrap_or(false))
        })
        .collect()
}

/// (suppressed, ever entered `campaign`).
pub async fn contact_status(
    pool: &PgPool,
    contact_id: i64,
    campaign: &str,
) -> StoreResult<(bool, bool)> {
    let row = sqlx::query(&format!(
        "SELECT {NOT_SUPPRESSED} AS free,
                EXISTS (SELECT 1 FROM enrollments e WHERE e.campaign = $1 AND e.contact_id = c.id) AS entered
         FROM contacts c WHERE c.id = $2"
    ))
    .bind(campaign)
    .bind(contact_id)
    .fetch_one(pool)
    .await
    .ctx("looking up a contact's status")?;
    let free: bool = row.try_get("free").ctx("reading a contact's status")?;
    let entered: bool = row.try_get("entered").ctx("reading a contact's status")?;
    Ok((!free, entered))
}

/// Merges what this batch of contacts says about attribute types into
/// `attribute_types`: equal types stay, date and text make text, anything
/// else is mixed. Rows are written in name order, so concurrent imports
/// take their locks in the same order.
pub async fn record_attribute_types(
    tx: &mut sqlx::PgConnection,
    rows: &[NewContact],
) -> StoreResult<()> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for row in rows {
        for (name, value) in &row.attributes {
            let Some(ty) = AttrType::of_json(value) else {
                continue;
            };
            let ty = ty.as_str();
            seen.entry(name)
                .and_modify(|t| *t = merge(t, ty))
                .or_insert(ty);
        }
    }
    for (name, ty) in seen {
        sqlx::query(
            "INSERT INTO attribute_types AS a (name, type) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET type = CASE
                WHEN a.type = excluded.type THEN a.type
                WHEN a.type IN ('date', 'text') AND excluded.type IN ('date', 'text') THEN 'text'
                ELSE 'mixed' END",
        )
        .bind(name)
        .bind(ty)
        .execute(&mut *tx)
        .await
        .ctx("recording attribute types")?;
    }
    Ok(())
}

/// The same rule as the `ON CONFLICT` above, within one batch.
fn merge<'a>(a: &'a str, b: &'a str) -> &'a str {
    match (a, b) {
        _ if a == b => a,
        ("date" | "text", "date" | "text") => "text",
        _ => "mixed",
    }
}

/// `None` for an attribute imported with values of different types.
pub async fn attribute_types(pool: &PgPool) -> StoreResult<Vec<(String, Option<AttrType>)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, type FROM attribute_types ORDER BY name COLLATE \"C\"")
            .fetch_all(pool)
            .await
            .ctx("reading attribute types")?;
    Ok(rows
        .into_iter()
        .map(|(name, ty)| {
            let ty = AttrType::parse(&ty);
            (name, ty)
        })
        .collect())
}
