//! Parser specifications: the shapes the language accepts, and where it
//! points when it does not.

use super::*;
use crate::domain::Duration;

fn kind(text: &str) -> ExprKind {
    parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}")).kind
}

fn err(text: &str) -> FilterError {
    parse(text).expect_err(text)
}

fn attr(name: &str, at: usize) -> Field {
    Field {
        path: FieldPath::Attribute(name.into()),
        at,
    }
}

#[test]
fn every_documented_form_parses() {
    for text in [
        "attributes.orders >= 2",
        "attributes.plan = 'pro'",
        "attributes.country in ['DE', 'AT']",
        "attributes.country not in ['DE']",
        "tags has 'vip'",
        "tags has any ['a','b']",
        "tags has all ['a', 'b',]",
        "last_activity_at before 60d ago",
        "created_at within 14d",
        "created_at after '2026-01-01'",
        "no event 'purchase' within 30d",
        "event 'login'",
        "count(event 'purchase') >= 2",
        "count(event 'purchase' within 90d) < 3",
        "attributes.plan is missing",
        "name is present",
        "name is not missing",
        "stage = 'sleeping'",
        "stage != 'new'",
        "stage in ['new', 'active']",
        "not (tags has 'x' or tags has 'y') and attributes.vip = true",
        "email = \"a@b.example\"",
    ] {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let ExprKind::Or(items) = kind("tags has 'a' or tags has 'b' and tags has 'c'") else {
        panic!("expected or at the top");
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1].kind, ExprKind::And(ref inner) if inner.len() == 2));
}

#[test]
fn comparisons_keep_field_operator_and_value_positions() {
    assert_eq!(
        kind("attributes.orders >= 2"),
        ExprKind::Compare {
            field: attr("orders", 0),
            op: CmpOp::Ge,
            value: Lit {
                value: LitValue::Num(2.0),
                at: 21
            },
        }
    );
}

#[test]
fn relative_times_and_event_windows_carry_durations() {
    assert_eq!(
        kind("last_activity_at before 60d ago"),
        ExprKind::Time {
            field: Field {
                path: FieldPath::Column("last_activity_at".into()),
                at: 0
            },
            rel: TimeRel::Before(TimePoint::Ago(Duration::from_days(60))),
        }
    );
    assert!(matches!(
        kind("no event 'purchase' within 30d"),
        ExprKind::Events { within: Some(d), test: EventTest::None, .. } if d == Duration::from_days(30)
    ));
    assert!(matches!(
        kind("count(event 'purchase') >= 2"),
        ExprKind::Events {
            within: None,
            test: EventTest::Count(CmpOp::Ge, 2),
            ..
        }
    ));
}

#[test]
fn clause_spans_cover_their_text() {
    let text = "tags has 'vip' and (attributes.orders > 1 or name is missing)";
    let ExprKind::And(items) = kind(text) else {
        panic!()
    };
    assert_eq!(&text[items[0].span.clone()].trim(), &"tags has 'vip'");
    assert_eq!(
        &text[items[1].span.clone()],
        "(attributes.orders > 1 or name is missing)"
    );
}

#[test]
fn errors_point_at_the_offending_token() {
    let cases = [
        ("attributes.orders >= ", 21, "expected a value"),
        ("attributes.orders >= 2 and", 26, "expected a condition"),
        ("tags has vip", 9, "expected a value"),
        ("attributes.plan = pro", 18, "expected a value"),
        ("(tags has 'a'", 13, "expected `)`"),
        ("tags has 'a')", 12, "unexpected `)`"),
        (
            "attributes.orders >= 2 AND tags has 'x'",
            23,
            "unexpected `AND`",
        ),
        ("created_at before 60d", 21, "expected `ago`"),
        ("count(event 'x') >= 1.5", 20, "whole number"),
        ("stage > 'new'", 6, "expected `=`"),
        ("a = 1; DROP TABLE contacts", 5, "unexpected character `;`"),
        ("name is gone", 8, "expected `missing` or `present`"),
    ];
    for (text, at, message) in cases {
        let e = err(text);
        assert_eq!(e.at, at, "{text}: {e:?}");
        assert!(e.message.contains(message), "{text}: {e:?}");
        assert!(
            e.hint.is_some() || message.contains("whole"),
            "{text}: no hint"
        );
    }
}

#[test]
fn deep_nesting_and_long_input_are_refused_with_a_position() {
    let deep = format!("{}tags has 'x'{}", "(".repeat(100), ")".repeat(100));
    let e = err(&deep);
    assert_eq!(e.at, parser::MAX_DEPTH);
    assert!(e.message.contains("nested"));
    let nots = format!("{}tags has 'x'", "not ".repeat(10_000));
    assert!(err(&nots).message.contains("longer than") || err(&nots).message.contains("nested"));
    let nots = format!("{}tags has 'x'", "not ".repeat(40));
    assert_eq!(err(&nots).at, 4 * parser::MAX_DEPTH);
    let long = format!("name = '{}'", "x".repeat(MAX_LEN));
    assert_eq!(err(&long).at, MAX_LEN);
    assert!(err("   ").message.contains("empty"));
}
