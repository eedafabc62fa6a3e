//! Segments end to end: `segment list` over a fixture agrees with the
//! expected contacts for every form of the filter language; `check` points
//! inside expressions; `explain` names the clause that keeps a contact out;
//! the planner enrolls exactly the filtered contacts. On PostgreSQL, the
//! same commands give the same answers, byte for byte.

use crate::helpers::{NOW, TestApp};

/// Appended to the test config: attribute types and custom stages.
const VOCABULARY: &str = r#"
[attributes]
orders = "number"
plan = "text"
country = "text"
vip = "boolean"
renews_at = "date"

[lifecycle.stages]
vip_sleeping = "stage = 'sleeping' and tags has 'vip'"
buyer = "count(event 'purchase') >= 1"
"#;

// At NOW (2026-03-10): new = ana, hal; active = ben, gus; sleeping = cai,
// dan, fay, jon; lost = eve. Jon unsubscribed, so he is never in a segment.
const CONTACTS: &str = "\
email,name,created_at,last_activity_at,timezone,tags,plan,orders,country,vip,renews_at
ana@example.com,Ana Alves,2026-03-01,,Europe/Lisbon,trial,,0,DE,,
ben@example.com,Ben Berg,2025-01-01,2026-03-01,Europe/Berlin,customer,pro,5,DE,true,2026-04-01
cai@example.com,Cai Chen,2024-06-01,2025-10-01,Europe/Vienna,customer;vip,pro,3,AT,true,2026-03-01
dan@example.com,Dan Dunn,2024-06-01,2025-11-15,Europe/Paris,customer,basic,2,FR,,
eve@example.com,Eve Esser,2023-01-01,2024-12-01,Europe/Berlin,customer,basic,1,DE,,
fay@example.com,Fay Fox,2025-06-01,,,trial,,,US,,
gus@example.com,Gus Gruber,2025-12-01,2026-02-20,Europe/Vienna,customer;newsletter,pro,12,AT,false,2026-03-20
hal@example.com,Hal Hahn,2026-02-25,2026-03-05,Europe/Berlin,newsletter,basic,1,DE,,
jon@example.com,Jon Jung,2025-02-01,2025-08-01,Europe/Zurich,customer,pro,2,CH,,
";

const EVENTS: &str = "\
email,kind,at,detail
ben@example.com,purchase,2026-02-15,
ben@example.com,purchase,2026-03-01,
cai@example.com,purchase,2025-09-01,
dan@example.com,purchase,2025-10-01,
dan@example.com,purchase,2025-11-15,
gus@example.com,purchase,2026-02-20,
hal@example.com,login,2026-03-05,
jon@example.com,unsubscribe,2025-08-01,
";

/// Expression → the contacts (by first name) it selects at NOW.
pub const CASES: &[(&str, &str)] = &[
    ("attributes.orders >= 2", "ben cai dan gus"),
    ("attributes.plan = 'pro'", "ben cai gus"),
    (
        "attributes.country in ['DE', 'AT']",
        "ana ben cai eve gus hal",
    ),
    ("attributes.country not in ['DE', 'AT']", "dan fay"),
    ("tags has 'vip'", "cai"),
    ("tags has any ['vip', 'newsletter']", "cai gus hal"),
    ("tags has all ['customer', 'newsletter']", "gus"),
    ("last_activity_at before 60d ago", "cai dan eve"),
    ("created_at within 14d", "ana hal"),
    ("no event 'purchase' within 30d", "ana cai dan eve fay hal"),
    ("count(event 'purchase') >= 2", "ben dan"),
    ("count(event 'purchase' within 30d) = 1", "gus"),
    ("event 'login' within 7d", "hal"),
    ("attributes.plan is missing", "ana fay"),
    ("attributes.vip is present", "ben cai gus"),
    ("attributes.vip = true", "ben cai"),
    ("not attributes.orders >= 2", "ana eve fay hal"),
    ("stage = 'sleeping'", "cai dan fay"),
    ("stage = 'vip_sleeping'", "cai"),
    ("stage in ['new', 'lost']", "ana eve hal"),
    (
        "(tags has 'trial' or attributes.plan = 'basic') and not stage = 'new'",
        "dan eve fay",
    ),
    ("last_seen_at after 90d ago", "ana ben gus hal"),
    ("attributes.renews_at before '2026-03-15'", "cai"),
    ("attributes.renews_at within 30d", "ben cai gus"),
    ("name = 'Dan Dunn'", "dan"),
    ("email = 'EVE@example.com'", "eve"),
    ("stage = 'buyer' and attributes.country = 'AT'", "cai gus"),
    ("timezone is missing", "fay"),
];

fn fixture() -> TestApp {
    fixture_in(TestApp::without_smtp())
}

/// The vocabulary, contacts and events in `app`, whatever its database.
fn fixture_in(app: TestApp) -> TestApp {
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write("config/tend.toml", &(config + VOCABULARY));
    app.import_contacts(CONTACTS);
    app.write("events.csv", EVENTS);
    app.tend(&["events", "import", "events.csv"]).ok();
    app
}

fn campaign(segment: &str) -> String {
    format!(
        "description = \"probe\"\nsegment = {segment}\n\n[[steps]]\nafter = \"0d\"\ntemplate = \"welcome/hello\"\n"
    )
}

fn listed(app: &TestApp, id: &str) -> Vec<String> {
    let out = app
        .tend(&["segment", "list", id, "--json", "--now", NOW])
        .ok();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            r["email"]
                .as_str()
                .unwrap()
                .trim_end_matches("@example.com")
                .to_string()
        })
        .collect()
}

#[test]
fn segment_list_selects_the_expected_contacts_for_every_form_of_the_language() {
    let app = fixture();
    for (i, (expr, _)) in CASES.iter().enumerate() {
        app.write(
            &format!("campaigns/probe-{i:02}.toml"),
            &campaign(&format!("{{ where = \"{expr}\" }}")),
        );
    }
    app.tend(&["check"]).ok();
    let mut failures = Vec::new();
    for (i, (expr, expected)) in CASES.iter().enumerate() {
        let got = listed(&app, &format!("probe-{i:02}")).join(" ");
        if got != *expected {
            failures.push(format!("{expr}: expected [{expected}], got [{got}]"));
        }
        let count = app
            .tend(&["segment", "count", &format!("probe-{i:02}"), "--now", NOW])
            .ok();
        let n = expected.split_whitespace().count();
        assert!(
            count.stdout.starts_with(&format!("{n} contact(s) match")),
            "{expr}: {}",
            count.stdout
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every answer `segment list`, `count` and `explain` give over the fixture.
fn segment_answers(app: &TestApp) -> Vec<String> {
    let mut answers = Vec::new();
    let mut ask = |args: &[&str]| {
        let out = app.tend(args).ok();
        answers.push(format!("{}\n{}", args.join(" "), out.stdout));
    };
    for i in 0..CASES.len() {
        let id = format!("probe-{i:02}");
        ask(&["segment", "list", &id, "--json", "--now", NOW]);
        ask(&["segment", "count", &id, "--now", NOW]);
    }
    ask(&["segment", "list", "staged", "--now", NOW]);
    ask(&["segment", "list", "staged", "--limit", "2", "--now", NOW]);
    for name in [
        "ana", "ben", "cai", "dan", "eve", "fay", "gus", "hal", "jon",
    ] {
        let contact = format!("{name}@example.com");
        ask(&[
            "segment",
            "explain",
            "staged",
            "--contact",
            &contact,
            "--now",
            NOW,
        ]);
        ask(&[
            "segment",
            "explain",
            "staged",
            "--contact",
            &contact,
            "--now",
            NOW,
            "--json",
        ]);
    }
    answers
}

#[test]
fn segment_commands_answer_the_same_on_postgres_as_on_sqlite() {
    let Some(pg) = TestApp::on_postgres() else {
        return;
    };
    let apps = [fixture(), fixture_in(pg)];
    for app in &apps {
        for (i, (expr, _)) in CASES.iter().enumerate() {
            app.write(
                &format!("campaigns/probe-{i:02}.toml"),
                &campaign(&format!("{{ where = \"{expr}\" }}")),
            );
        }
        app.write(
            "campaigns/staged.toml",
            &campaign(
                "{ stage = [\"sleeping\", \"lost\", \"active\"], where = \"tags has 'customer' and attributes.orders >= 2\" }",
            ),
        );
        app.tend(&["check"]).ok();
    }
    let mut failures = Vec::new();
    for (i, (expr, expected)) in CASES.iter().enumerate() {
        let got = listed(&apps[1], &format!("probe-{i:02}")).join(" ");
        if got != *expected {
            failures.push(format!("{expr}: expected [{expected}], got [{got}]"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (sqlite, postgres) = (segment_answers(&apps[0]), segment_answers(&apps[1]));
    assert_eq!(sqlite.len(), postgres.len());
    for (lite, pg) in sqlite.iter().zip(&postgres) {
        assert_eq!(pg, lite, "PostgreSQL answered differently");
    }
    assert!(
        sqlite
            .iter()
            .any(|a| a.contains("<- excludes this contact")),
        "the explanations exclude someone"
    );
}

#[test]
fn stage_and_where_combine_and_list_shows_each_contacts_stage_by_precedence() {
    let app = fixture();
    app.write(
        "campaigns/probe.toml",
        &campaign("{ stage = [\"sleeping\", \"lost\"], where = \"tags has 'customer'\" }"),
    );
    let out = app.tend(&["segment", "list", "probe", "--now", NOW]).ok();
    // Custom stages come first, in the order written: Cai is vip_sleeping
    // (before buyer), Dan a buyer (before the built-in sleeping).
    assert_eq!(
        out.stdout,
        "cai@example.com\tCai Chen\tvip_sleeping\ndan@example.com\tDan Dunn\tbuyer\neve@example.com\tEve Esser\tlost\n"
    );
    let out = app
        .tend(&["segment", "list", "probe", "--limit", "1", "--now", NOW])
        .ok();
    assert_eq!(out.stdout.lines().count(), 1);
}

#[test]
fn explain_names_the_clause_that_excludes_a_contact() {
    let app = fixture();
    app.write(
        "campaigns/probe.toml",
        &campaign(
            "{ stage = \"sleeping\", where = \"tags has 'customer' and attributes.orders >= 3\" }",
        ),
    );
    let out = app
        .tend(&[
            "segment",
            "explain",
            "probe",
            "--contact",
            "DAN@example.com",
            "--now",
            NOW,
        ])
        .ok();
    assert!(out.stdout.contains("not in the segment"), "{}", out.stdout);
    assert!(
        out.stdout.contains("yes stage in [sleeping]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("yes tags has 'customer'"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("NO  attributes.orders >= 3   <- excludes this contact"),
        "{}",
        out.stdout
    );
    let out = app
        .tend(&[
            "segment",
            "explain",
            "probe",
            "--contact",
            "cai@example.com",
            "--now",
            NOW,
            "--json",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["matches"], true);
    assert_eq!(v["stage"], "vip_sleeping");
    let out = app
        .tend(&[
            "segment",
            "explain",
            "probe",
            "--contact",
            "jon@example.com",
            "--now",
            NOW,
        ])
        .ok();
    assert!(out.stdout.contains("NO  suppressed"), "{}", out.stdout);
}

#[test]
fn the_planner_enrolls_exactly_the_filtered_contacts() {
    let app = fixture();
    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"attributes.orders >= 2 and tags has 'customer'\" }"),
    );
    let out = app.tend(&["plan", "--now", NOW]).ok();
    assert!(
        out.stdout.contains("campaign probe: 4 entering"),
        "{}",
        out.stdout
    );
}

#[test]
fn check_points_inside_the_expression_with_a_hint() {
    let app = fixture();
    let line2 =
        "segment = { stage = \"sleeping\", where = \"tags has 'vip' and attributes.order >= 2\" }";
    app.write(
        "campaigns/probe.toml",
        &campaign(&line2["segment = ".len()..]),
    );
    let escaped = "segment = { where = \"name = \\\"Dan\\\" and attributes.plan > 3\" }";
    app.write(
        "campaigns/probe2.toml",
        &campaign(&escaped["segment = ".len()..]),
    );
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &(config + "nearly = \"stage = 'sleepin'\"\n"),
    );
    let config_line = std::fs::read_to_string(app.path("config/tend.toml"))
        .unwrap()
        .lines()
        .count();
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let col = |line: &str, needle: &str| line.find(needle).unwrap() + 1;
    let expected = [
        format!(
            "campaigns/probe.toml:2:{}: error: unknown attribute `order`\n  hint: did you mean `attributes.orders`?",
            col(line2, "attributes.order")
        ),
        format!(
            "campaigns/probe2.toml:2:{}: error: `attributes.plan` is text, compared with number",
            col(escaped, "3\"")
        ),
        format!(
            "config/tend.toml:{config_line}:{}: error: unknown stage `sleepin`\n  hint: did you mean `sleeping`?",
            col("nearly = \"stage = 'sleepin'\"", "sleepin'")
        ),
    ];
    for e in expected {
        assert!(
            out.stdout.contains(&e),
            "missing:\n{e}\nin:\n{}",
            out.stdout
        );
    }
}

#[test]
fn hostile_expressions_are_rejected_by_check_not_run() {
    let app = fixture();
    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"name = 'x'; DROP TABLE contacts; --\" }"),
    );
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("campaigns/probe.toml:2:32: error: unexpected character `;`"),
        "{}",
        out.stdout
    );
    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"name = 'x\\\\'); DROP TABLE contacts; --'\" }"),
    );
    app.tend(&["check"]).ok();
    let out = app.tend(&["segment", "count", "probe", "--now", NOW]).ok();
    assert!(out.stdout.starts_with("0 contact(s)"), "{}", out.stdout);
    assert_eq!(listed(&app, "win-back").len(), 3, "contacts table intact");
}

#[test]
fn attribute_types_are_inferred_at_import_when_not_declared() {
    types_are_inferred_at_import(TestApp::without_smtp());
}

#[test]
fn attribute_types_are_inferred_at_import_on_postgres_too() {
    if let Some(app) = TestApp::on_postgres() {
        types_are_inferred_at_import(app);
    }
}

fn types_are_inferred_at_import(app: TestApp) {
    app.import_contacts(CONTACTS);
    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"attributes.orders >= 2 and attributes.renews_at before '2026-03-15' and attributes.vip = true\" }"),
    );
    app.tend(&["check"]).ok();
    assert_eq!(listed(&app, "probe"), ["cai"]);

    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"attributes.plan > 3\" }"),
    );
    let out = app.tend(&["check"]);
    assert!(
        out.stdout
            .contains("`attributes.plan` is text, compared with number"),
        "{}",
        out.stdout
    );

    // A later import with a text `orders` makes the type ambiguous: declare it.
    app.import_contacts("email,orders\nana@example.com,many\n");
    app.write(
        "campaigns/probe.toml",
        &campaign("{ where = \"attributes.orders >= 2\" }"),
    );
    let out = app.tend(&["check"]);
    assert!(
        out.stdout
            .contains("attribute `orders` was imported with values of different types"),
        "{}",
        out.stdout
    );
    let config = std::fs::read_to_string(app.path("config/tend.toml")).unwrap();
    app.write(
        "config/tend.toml",
        &(config + "\n[attributes]\norders = \"number\"\n"),
    );
    app.tend(&["check"]).ok();
    // Ana's text value never matches a number comparison (no events here:
    // Jon is not unsubscribed).
    assert_eq!(listed(&app, "probe"), ["ben", "cai", "dan", "gus", "jon"]);
}
