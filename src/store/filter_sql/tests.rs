//! The compiler's specifications: expected SQL and parameters, and the
//! hostile-input property: whatever the text, it never reaches SQL.

use super::*;
use crate::config::LifecycleSettings;
use crate::segment::{AttrType, StageDef, Vocabulary, compile as resolve, filter};

const NOW: &str = "2026-03-10T10:00:00Z";

fn vocab() -> Vocabulary {
    let mut v = Vocabulary {
        lifecycle: LifecycleSettings::default(),
        ..Default::default()
    };
    for (name, ty) in [
        ("orders", AttrType::Number),
        ("plan", AttrType::Text),
        ("country", AttrType::Text),
        ("vip", AttrType::Boolean),
        ("renews_at", AttrType::Date),
    ] {
        v.attributes.insert(name.into(), ty);
    }
    let text = "stage = 'sleeping' and tags has 'vip'";
    v.stages.push(StageDef {
        name: "vip_sleeping".into(),
        text: text.into(),
        expr: filter::parse(text).unwrap(),
    });
    v
}

fn sql(text: &str) -> Sql {
    let cond =
        resolve(&vocab(), text, NOW.parse().unwrap()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    compile(&cond)
}

fn at(text: &str) -> i64 {
    crate::import::parse_time(text).unwrap().timestamp()
}

#[test]
fn a_number_attribute_is_type_guarded_and_bound() {
    let s = sql("attributes.orders >= 2");
    assert_eq!(
        s.text,
        "coalesce((json_type(c.attributes, ?) IN ('integer', 'real') AND (json_extract(c.attributes, ?) >= ?)), 0)"
    );
    assert_eq!(
        s.params,
        vec![
            Param::Text("$.\"orders\"".into()),
            Param::Text("$.\"orders\"".into()),
            Param::Real(2.0)
        ]
    );
}

#[test]
fn tags_use_json_each_with_bound_lower_cased_names() {
    let s = sql("tags has any ['VIP', 'customer']");
    assert_eq!(
        s.text,
        "EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value IN (?, ?))"
    );
    assert_eq!(
        s.params,
        vec![Param::Text("vip".into()), Param::Text("customer".into())]
    );
}

#[test]
fn relative_dates_become_bound_instants() {
    let s = sql("last_activity_at before 60d ago and created_at within 14d");
    assert_eq!(
        s.text,
        "(coalesce((c.last_activity_at <= ?), 0) AND coalesce((c.created_at > ?), 0))"
    );
    assert_eq!(
        s.params,
        vec![
            Param::Int(at("2026-01-09T10:00:00Z")),
            Param::Int(at("2026-02-24T10:00:00Z"))
        ]
    );
}

#[test]
fn event_history_is_an_indexed_subquery() {
    let s = sql("no event 'purchase' within 30d");
    assert_eq!(
        s.text,
        "NOT EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.kind = ? AND e.at > ?)"
    );
    assert_eq!(
        s.params,
        vec![
            Param::Text("purchase".into()),
            Param::Int(at("2026-02-08T10:00:00Z"))
        ]
    );
    let s = sql("count(event 'purchase') >= 2");
    assert_eq!(
        s.text,
        " (SELECT count(*) FROM events e WHERE e.contact_id = c.id AND e.kind = ?) >= ?"
    );
    assert_eq!(
        s.params,
        vec![Param::Text("purchase".into()), Param::Int(2)]
    );
}

#[test]
fn missing_not_and_in_lists() {
    let s = sql("not attributes.plan in ['pro', 'basic'] or attributes.plan is missing");
    assert_eq!(
        s.text,
        "((NOT coalesce((json_type(c.attributes, ?) = 'text' AND (json_extract(c.attributes, ?) IN (?, ?))), 0)) OR (NOT coalesce((json_type(c.attributes, ?) NOT IN ('null') AND (json_extract(c.attributes, ?) IS NOT NULL)), 0)))"
    );
    assert_eq!(s.params.len(), 6);
    assert_eq!(s.params[2], Param::Text("pro".into()));
}

#[test]
fn stages_expand_to_time_bounds_and_custom_stages_to_their_filter() {
    let s = sql("stage = 'new'");
    assert_eq!(s.text, "((1 AND c.created_at > ?))");
    assert_eq!(s.params, vec![Param::Int(at("2026-02-08T10:00:00Z"))]);
    let s = sql("stage = 'vip_sleeping'");
    assert_eq!(
        s.text,
        "((((1 AND c.created_at <= ? AND coalesce(c.last_activity_at, c.created_at) > ? \
         AND coalesce(c.last_activity_at, c.created_at) <= ?)) \
         AND EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value IN (?))))"
    );
    assert_eq!(s.params.last(), Some(&Param::Text("vip".into())));
}

#[test]
fn booleans_and_date_attributes() {
    let s = sql("attributes.vip = true and attributes.renews_at before 30d ago");
    assert!(s.text.contains(
        "json_type(c.attributes, ?) IN ('true', 'false') AND (json_extract(c.attributes, ?) = ?)"
    ));
    assert!(
        s.text
            .contains("(unixepoch(json_extract(c.attributes, ?)) <= ?)")
    );
    assert_eq!(s.params[2], Param::Int(1));
}

fn pg(text: &str) -> Sql {
    let cond =
        resolve(&vocab(), text, NOW.parse().unwrap()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    compile_for(&cond, Dialect::Postgres)
}

fn time(text: &str) -> Param {
    Param::Time(crate::import::parse_time(text).unwrap())
}

#[test]
fn postgres_guards_each_attribute_cast_by_its_json_type_and_binds_the_name() {
    let s = pg("attributes.orders >= 2");
    assert_eq!(
        s.text,
        "coalesce((CASE WHEN jsonb_typeof(c.attributes -> ?) = 'number' THEN ((c.attributes ->> ?)::float8 >= ?) END), FALSE)"
    );
    assert_eq!(
        s.params,
        vec![
            Param::Text("orders".into()),
            Param::Text("orders".into()),
            Param::Real(2.0)
        ]
    );
    let s = pg("attributes.vip = true");
    assert!(
        s.text
            .contains("= 'boolean' THEN ((c.attributes ->> ?)::boolean = ?) END"),
        "{}",
        s.text
    );
    assert_eq!(s.params[2], Param::Bool(true));
}

#[test]
fn postgres_presence_casts_nothing_so_any_value_is_present() {
    // A text `orders` is present, as on SQLite; a cast to float8 would fail the query.
    let s = pg("attributes.orders is present");
    assert_eq!(
        s.text,
        "coalesce((CASE WHEN jsonb_typeof(c.attributes -> ?) NOT IN ('null') THEN ((c.attributes ->> ?) IS NOT NULL) END), FALSE)"
    );
}

#[test]
fn postgres_reads_as_dates_only_what_sqlite_reads_as_dates() {
    let s = pg("attributes.renews_at before '2026-03-15'");
    assert_eq!(
        s.text,
        "coalesce((CASE WHEN jsonb_typeof(c.attributes -> ?) = 'string' THEN \
         (tend_try_timestamptz(CASE WHEN (c.attributes ->> ?) ~ ? THEN c.attributes ->> ? END) <= ?) END), FALSE)"
    );
    assert_eq!(s.params[2], Param::Text(DATE_TEXT.into()));
    assert_eq!(s.params[4], time("2026-03-15"));
}

#[test]
fn postgres_orders_text_by_bytes_and_compares_equal_text_plainly() {
    let s = pg("name >= 'M' and attributes.plan < 'pro' and email = 'a@x.example'");
    assert_eq!(
        s.text,
        "(coalesce((c.name COLLATE \"C\" >= ?), FALSE) AND \
         coalesce((CASE WHEN jsonb_typeof(c.attributes -> ?) = 'string' THEN ((c.attributes ->> ?) COLLATE \"C\" < ?) END), FALSE) AND \
         coalesce((c.email = ?), FALSE))"
    );
}

#[test]
fn postgres_binds_instants_in_whole_seconds_and_uses_jsonb_tags() {
    let cond = resolve(
        &vocab(),
        "created_at within 14d and tags has any ['VIP', 'x'] and no event 'purchase' within 30d",
        "2026-03-10T10:00:00.750Z".parse().unwrap(),
    )
    .unwrap();
    let s = compile_for(&cond, Dialect::Postgres);
    assert_eq!(
        s.text,
        "(coalesce((c.created_at > ?), FALSE) AND \
         EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.tags) t(value) WHERE t.value IN (?, ?)) AND \
         NOT EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.kind = ? AND e.at > ?))"
    );
    assert_eq!(s.params[0], time("2026-02-24T10:00:00Z"));
    assert_eq!(s.params[1], Param::Text("vip".into()));
    assert_eq!(s.params[4], time("2026-02-08T10:00:00Z"));
    assert_eq!(pg("stage = 'new'").text, "((TRUE AND c.created_at > ?))");
}

#[test]
fn type_mismatches_and_unknown_names_are_errors_with_hints() {
    let v = vocab();
    let now = NOW.parse().unwrap();
    let cases = [
        (
            "attributes.orders = 'two'",
            20,
            "is a number, compared with text",
            "a number",
        ),
        (
            "attributes.plan > 3",
            18,
            "is text, compared with number",
            "quoted text",
        ),
        (
            "attributes.order >= 2",
            0,
            "unknown attribute `order`",
            "did you mean `attributes.orders`?",
        ),
        (
            "orders >= 2",
            0,
            "unknown field `orders`",
            "did you mean `attributes.orders`?",
        ),
        (
            "stage = 'sleepin'",
            9,
            "unknown stage `sleepin`",
            "did you mean `sleeping`?",
        ),
        (
            "attributes.plan before 3d ago",
            0,
            "not a date",
            "dates are",
        ),
        ("attributes.vip > true", 17, "only `=` and `!=`", ""),
        (
            "created_at = 3",
            13,
            "is a date, compared with number",
            "before",
        ),
    ];
    for (text, at, message, hint) in cases {
        let errors = resolve(&v, text, now).expect_err(text);
        assert_eq!(errors[0].at, at, "{text}: {errors:?}");
        assert!(errors[0].message.contains(message), "{text}: {errors:?}");
        assert!(
            errors[0].hint.clone().unwrap_or_default().contains(hint),
            "{text}: {errors:?}"
        );
    }
}

#[test]
fn a_stage_defined_in_terms_of_itself_is_refused() {
    let mut v = vocab();
    let text = "stage = 'loop' or tags has 'x'";
    v.stages.push(StageDef {
        name: "loop".into(),
        text: text.into(),
        expr: filter::parse(text).unwrap(),
    });
    let errors = v.check_stage(1).unwrap_err();
    assert!(
        errors[0].message.contains("in terms of itself"),
        "{errors:?}"
    );
    assert_eq!(errors[0].at, 9);
}

/// xorshift64*: a seeded generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "attributes.orders",
    "attributes.plan",
    "attributes.",
    "tags has",
    "any",
    "all",
    "[",
    "]",
    ",",
    "(",
    ")",
    "and",
    "or",
    "not",
    "no event",
    "event",
    "count(",
    "stage",
    "=",
    "!=",
    ">=",
    "<",
    "in",
    "is missing",
    "before",
    "after",
    "within",
    "ago",
    "60d",
    "2",
    "-1.5",
    "true",
    "'pro'",
    "'DE'",
    "'x\\' OR 1=1 --'",
    "'; DROP TABLE contacts; --'",
    "\"\\\"); DELETE FROM sends; --\"",
    "'Robert'); --'",
    "/* c */",
    "--",
    ";",
    "'",
    "\"",
    "\\",
    "é",
    "名前",
    "🙂",
    "\u{0}",
    "\u{202e}",
    "'\u{FEFF}'",
    "1e999",
    "99999999999999999999",
    "1h30m",
    "3x",
    "$.\"a\"",
    "'$.orders'",
    " ",
    "\n",
    "\t",
    "name",
    "email",
    "created_at",
    "last_seen_at",
];

/// Text that must never appear in SQL: anything a user could have written.
fn only_fixed_fragments(sql: &str) -> bool {
    let mut rest = sql.to_string();
    for fixed in [
        "'integer'",
        "'real'",
        "'true'",
        "'false'",
        "'text'",
        "'null'",
        "'number'",
        "'boolean'",
        "'string'",
        "COLLATE \"C\"",
    ] {
        rest = rest.replace(fixed, "");
    }
    !rest.contains(['\'', '"', ';', '\\', '\0'])
        && !rest.contains("--")
        && !rest.contains("/*")
        && rest.is_ascii()
}

const HOSTILE_TEXT: &[&str] = &[
    "'x\\' OR 1=1 --'",
    "'; DROP TABLE contacts; --'",
    "\"\\\"); DELETE FROM sends; --\"",
    "'Robert\\'); --'",
    "'/* c */'",
    "'名前 🙂 é'",
    "'\u{202e}\u{FEFF}'",
    "'$.orders'",
    "''",
    "'\\\\'",
];

/// A syntactically valid expression with hostile values, `depth` deep at most.
fn valid(rng: &mut Rng, depth: u32) -> String {
    if depth > 0 && rng.next() % 3 == 0 {
        let joiner = rng.pick(&[" and ", " or "]);
        let prefix = rng.pick(&["", "not ", "not not "]);
        return format!(
            "{prefix}({}{joiner}{})",
            valid(rng, depth - 1),
            valid(rng, depth - 1)
        );
    }
    let s = rng.pick(HOSTILE_TEXT);
    match rng.next() % 12 {
        0 => format!("attributes.plan {} {s}", rng.pick(&["=", "!=", "<", ">="])),
        1 => format!("attributes.country in [{s}, {}]", rng.pick(HOSTILE_TEXT)),
        2 => format!("tags has {s}"),
        3 => format!(
            "tags has {} [{s}, {}]",
            rng.pick(&["any", "all"]),
            rng.pick(HOSTILE_TEXT)
        ),
        4 => format!("no event {s} within {}", rng.pick(&["30d", "1h30m", "2w"])),
        5 => format!(
            "count(event {s}) {} {}",
            rng.pick(&[">=", "=", "<"]),
            rng.next() % 5
        ),
        6 if rng.next() % 2 == 0 => format!("name not in [{s}]"),
        6 => format!("name != {s}"),
        7 => format!(
            "attributes.orders {} {}",
            rng.pick(&["=", ">", "<="]),
            rng.pick(&["2", "-1.5", "0"])
        ),
        8 => format!(
            "{} {} {}",
            rng.pick(&[
                "created_at",
                "last_activity_at",
                "last_seen_at",
                "attributes.renews_at"
            ]),
            rng.pick(&["before", "after"]),
            rng.pick(&["60d ago", "'2026-01-01'"])
        ),
        9 => format!("stage {} 'vip_sleeping'", rng.pick(&["=", "!="])),
        10 => format!(
            "{} is {}",
            rng.pick(&[
                "email",
                "attributes.plan",
                "attributes.vip",
                "attributes.orders",
                "attributes.renews_at",
                "timezone"
            ]),
            rng.pick(&["missing", "present"])
        ),
        _ => format!("email = {s}"),
    }
}

/// Breaks a valid expression: inserts, deletes or repeats a piece somewhere.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = (rng.next() % (chars.len() as u64 + 1)) as usize;
    let (head, tail): (String, String) =
        (chars[..at].iter().collect(), chars[at..].iter().collect());
    match rng.next() % 3 {
        0 => format!("{head}{}{tail}", rng.pick(PIECES)),
        1 => format!(
            "{head}{}",
            tail.chars()
                .skip(1 + (rng.next() % 4) as usize)
                .collect::<String>()
        ),
        _ => format!("{head}{head}{tail}"),
    }
}

#[test]
fn hostile_input_never_panics_never_reaches_sql_and_errors_have_positions() {
    let v = vocab();
    let now = NOW.parse().unwrap();
    let mut rng = Rng(0x7e2d_5eed_0000_0001);
    let (mut accepted, mut rejected) = (0, 0);
    for round in 0..20_000 {
        let mut text = match round % 3 {
            0 => valid(&mut rng, 4),
            1 => {
                let base = valid(&mut rng, 3);
                mutate(&mut rng, &base)
            }
            _ => {
                let mut soup = String::new();
                for _ in 0..1 + rng.next() % 24 {
                    soup += rng.pick(PIECES);
                    if rng.next() % 3 > 0 {
                        soup.push(' ');
                    }
                }
                soup
            }
        };
        if round % 500 == 0 {
            // Very long and very deep variants.
            let n = round % 3000;
            text = format!("{}{text}{}", "(".repeat(n), ")".repeat(n));
        }
        match filter::parse(&text)
            .map_err(|e| vec![e])
            .and_then(|expr| v.resolve(&expr, now))
        {
            Ok(cond) => {
                accepted += 1;
                for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                    let s = compile_for(&cond, dialect);
                    assert!(
                        only_fixed_fragments(&s.text),
                        "user text in {dialect:?} SQL for {text:?}: {}",
                        s.text
                    );
                    assert_eq!(s.text.matches('?').count(), s.params.len(), "{text:?}");
                }
            }
            Err(errors) => {
                rejected += 1;
                for e in errors {
                    assert!(e.at <= text.len(), "{text:?}: {e:?} points past the end");
                    assert!(!e.message.is_empty());
                }
            }
        }
    }
    assert!(
        accepted > 5_000 && rejected > 5_000,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
fn quotes_and_sql_in_values_are_parameters() {
    let s = sql(
        "attributes.plan = 'x\\' OR 1=1 --' or attributes.plan = \"'); DROP TABLE contacts; --\"",
    );
    assert!(only_fixed_fragments(&s.text), "{}", s.text);
    assert!(
        s.params
            .contains(&Param::Text("'); DROP TABLE contacts; --".into()))
    );
}

/// Contacts whose values sit where the dialects could part: a text
/// `orders`, non-dates in a date attribute (PostgreSQL would read `today`
/// and `March 1 2026`), a number and text in a boolean, text that sorts
/// differently by bytes than by language (`Pro`, `a-b`, `ab`), an offset,
/// a date PostgreSQL alone would read (`2026-3-1`).
const FIXTURE: &str = "\
email,name,created_at,last_activity_at,tags,plan,orders,country,vip,renews_at
a@x.example,A,2025-01-01,2026-01-01,customer;vip,pro,3,DE,true,2026-03-01
b@x.example,B,2026-03-01,,trial,'; DROP TABLE contacts; --',1,AT,false,
c@x.example,a-b,2024-05-05,2025-05-05,,a-b,many,de,maybe,today
d@x.example,ab,2026-02-01,2026-03-09,vip,ab,-1.5,,1,March 1 2026
e@x.example,Émile,2026-01-01,,,Pro,2.0,AT,TRUE,2026-03-01T09:30:00+02:00
f@x.example,Zoë,2023-01-01,2023-06-01,customer,'x\\' OR 1=1 --',0,CH,,2026-3-1
";

fn fixture() -> Vec<crate::domain::NewContact> {
    let contacts = crate::import::parse_contacts(FIXTURE.as_bytes()).unwrap();
    assert!(contacts.rejected.is_empty(), "{:?}", contacts.rejected);
    contacts.rows.into_iter().map(|(_, c)| c).collect()
}

/// The contacts a store selects for an expression, by email, in its order.
async fn members<S: crate::store::Store>(store: &S, cond: &Cond, text: &str) -> Vec<String> {
    use crate::segment::Selection;
    let selection = Selection {
        cond: cond.clone(),
        zones: None,
    };
    let listed = store
        .list_matching(&selection, &[], 100)
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let (n, entering) = store
        .count_matching(&selection, "c")
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!((n, entering), (listed.len() as u64, n), "{text}");
    listed.into_iter().map(|(c, _)| c.email).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every expression the generator builds, run for real: the SQL is valid,
/// hostile text is data, and the store answers without error.
#[test]
fn generated_expressions_run_as_valid_sql_on_sqlite() {
    use crate::store::SqliteStore;
    use crate::store::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let rows = fixture();
    let v = vocab();
    let now = NOW.parse().unwrap();
    runtime().block_on(async {
        let store = SqliteStore::open(&url).await.unwrap();
        store.upsert_contacts(&rows, now).await.unwrap();
        let mut rng = Rng(0x5eed_0000_0000_0002);
        for _ in 0..1_500 {
            let text = valid(&mut rng, 3);
            let cond = resolve(&v, &text, now).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert!(members(&store, &cond, &text).await.len() <= rows.len());
        }
        let all = members(&store, &Cond::Const(true), "true").await;
        assert_eq!(all.len(), rows.len(), "the contacts table is intact");
    });
}

/// The same expressions on PostgreSQL: valid SQL there too, and the very
/// same contacts as SQLite selects, in the same order, on a database whose
/// collation sorts by language where it can. Skips with a message where no
/// server answers (fails instead under `TEND_REQUIRE_TOOLS`).
#[test]
fn generated_expressions_select_the_same_contacts_on_postgres_as_on_sqlite() {
    use crate::store::prelude::*;
    use crate::store::{PostgresStore, SqliteStore};
    let rows = fixture();
    let v = vocab();
    let now = NOW.parse().unwrap();
    runtime().block_on(async {
        let Some(db) = pg_db::PgDb::create().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let lite = SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let pg = PostgresStore::open(&db.url).await.unwrap();
        lite.upsert_contacts(&rows, now).await.unwrap();
        pg.upsert_contacts(&rows, now).await.unwrap();
        let mut rng = Rng(0x5eed_0000_0000_0002);
        let mut selective = 0;
        for round in 0..1_500 {
            let text = valid(&mut rng, 3);
            let cond = resolve(&v, &text, now).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let expected = members(&lite, &cond, &text).await;
            assert_eq!(members(&pg, &cond, &text).await, expected, "{text}");
            if !expected.is_empty() && expected.len() < rows.len() {
                selective += 1;
            }
            if round % 10 == 0 {
                // One contact at a time, as `segment explain` asks.
                for email in ["a@x.example", "c@x.example", "e@x.example"] {
                    let address = crate::domain::EmailAddress::parse(email).unwrap();
                    let id = pg.contact_by_email(&address).await.unwrap().unwrap().id;
                    let got = pg.evaluate(id, std::slice::from_ref(&cond)).await.unwrap();
                    assert_eq!(
                        got,
                        [expected.iter().any(|e| e == email)],
                        "{text}: {email}"
                    );
                }
            }
        }
        assert!(
            selective > 200,
            "the fixture tells contacts apart: {selective}"
        );
        let all = members(&pg, &Cond::Const(true), "true").await;
        assert_eq!(all.len(), rows.len(), "the contacts table is intact");
        pg.close().await;
        drop(db);
    });
}

/// A throwaway PostgreSQL database for these tests, the same rules as
/// `tests/it/pg.rs` (which unit tests cannot reach).
mod pg_db {
    use sqlx::Connection;
    use std::sync::atomic::{AtomicU32, Ordering};

    static NEXT: AtomicU32 = AtomicU32::new(0);

    fn admin_url() -> String {
        std::env::var("TEND_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    async fn admin(sql: &str) -> Result<(), sqlx::Error> {
        let mut conn = sqlx::PgConnection::connect(&admin_url()).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await
    }

    pub struct PgDb {
        pub url: String,
        name: String,
    }

    impl PgDb {
        pub async fn create() -> Option<PgDb> {
            let name = format!(
                "tend_unit_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            );
            // A language collation where the server has ICU: byte order must
            // come from the queries, not from the database's default.
            let icu = format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            );
            if admin(&icu).await.is_err() {
                if let Err(e) = admin(&format!("CREATE DATABASE {name}")).await {
                    if std::env::var("TEND_REQUIRE_TOOLS").is_ok() {
                        panic!(
                            "PostgreSQL is required (TEND_REQUIRE_TOOLS) but {} answers: {e}",
                            admin_url()
                        );
                    }
                    eprintln!(
                        "skipping the PostgreSQL half of this test: no server at {} ({e}); set TEND_TEST_POSTGRES to run it",
                        admin_url()
                    );
                    return None;
                }
            }
            let base = admin_url();
            let base = base
                .rsplit_once('/')
                .map_or(base.as_str(), |(b, _)| b)
                .to_string();
            Some(PgDb {
                url: format!("{base}/{name}"),
                name,
            })
        }
    }

    impl Drop for PgDb {
        fn drop(&mut self) {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            // Its own runtime on its own thread: this may run inside another runtime.
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(admin(&sql)))
            })
            .join();
        }
    }
}
