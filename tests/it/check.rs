//! `tend check`: clean on the shipped examples; every mistake reported as
//! path:line:col with a hint, all in one pass, exit 1.

use crate::helpers::{TestApp, repo};
use std::process::Command;

#[test]
fn the_shipped_examples_check_clean() {
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("check")
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok: 2 campaign(s), 8 template(s), 0 warning(s)"),
        "{stdout}"
    );
}

#[test]
fn every_error_is_reported_with_file_line_and_column() {
    let app = TestApp::without_smtp();
    app.write(
        "campaigns/broken.toml",
        r#"description = "Broken on purpose"
segment = { stage = "sleepy" }

[[steps]]
after = "3x"
templete = "welcome/hello"

[[steps]]
after = "1d"
template = "welcome/helo"
"#,
    );
    app.write(
        "campaigns/syntax.toml",
        "description = \"x\"\nsegment = { stage = \"new\" \n",
    );
    app.write(
        "templates/welcome/broken.tera",
        "+++\nsubject = \"Hi {{ contact.first_name\"\n+++\nBody line\n",
    );
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let expected = [
        (
            "campaigns/broken.toml:2:22: error: unknown stage `sleepy`",
            "stages are",
        ),
        (
            "campaigns/broken.toml:4:1: error: step 1 is missing `template`",
            "add `template =",
        ),
        (
            "campaigns/broken.toml:5:10: error: invalid duration `3x`",
            "`after` is the delay",
        ),
        (
            "campaigns/broken.toml:6:1: error: unknown key `templete` in step 1",
            "did you mean `template`?",
        ),
        (
            "campaigns/broken.toml:10:13: error: template `welcome/helo` does not exist",
            "did you mean `welcome/hello`?",
        ),
        (
            "campaigns/syntax.toml:2:26: error: invalid TOML",
            "check quotes",
        ),
        (
            "templates/welcome/broken.tera:2:36: error: template syntax error in the subject",
            "`}}`",
        ),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    for (line, hint) in expected {
        let at = lines
            .iter()
            .position(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("missing `{line}` in:\n{}", out.stdout));
        assert!(
            lines[at + 1].contains(hint),
            "hint for `{line}`: {}",
            lines[at + 1]
        );
    }
    assert!(out.stdout.contains("7 error(s)"), "{}", out.stdout);
}

#[test]
fn a_body_syntax_error_points_at_the_template_line() {
    let app = TestApp::without_smtp();
    app.write(
        "templates/welcome/hello.tera",
        "+++\nsubject = \"Hello\"\n+++\nHi,\n\nYour plan: {{ contact.attributes.plan | upper }\n",
    );
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("templates/welcome/hello.tera:6:"),
        "expected an error on line 6:\n{}",
        out.stdout
    );
}

#[test]
fn commands_refuse_to_run_a_broken_catalog() {
    let app = TestApp::without_smtp();
    app.write("campaigns/welcome.toml", "segment = { stage = \"new\" }\n");
    let out = app.tend(&["plan"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("campaigns/welcome.toml:1:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_config_value_names_its_key() {
    let app = TestApp::without_smtp();
    app.write("config/tend.toml", "[sending]\nrate = \"lots\"\n");
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("rate") && out.stderr.contains("lots"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_pilot_counting_clicks_is_warned_about_with_its_position() {
    let app = TestApp::without_smtp();
    app.write(
        "campaigns/clicky.toml",
        r#"description = "Counts clicks as responses"
segment = { stage = "sleeping" }
pilot = { sample = 0.5, seed = "s", respond_on = ["purchase", "click"] }

[[steps]]
after = "0d"
template = "clicky/news"
"#,
    );
    app.write(
        "templates/clicky/news.tera",
        "+++\nsubject = \"News\"\n+++\nSee https://acme.example/new\n",
    );
    let out = app.tend(&["check"]);
    assert_eq!(out.code, 0, "a warning, not an error:\n{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            l.starts_with(
                "campaigns/clicky.toml:3:64: warning: `click` in `respond_on`: only the treatment \
                 can click (only it gets tend's links), so the comparison with the holdout is biased",
            )
        })
        .unwrap_or_else(|| panic!("no warning in:\n{}", out.stdout));
    assert!(
        lines[at + 1].contains("leave `respond_on` out"),
        "{}",
        lines[at + 1]
    );
    assert!(out.stdout.contains("1 warning(s)"), "{}", out.stdout);

    // Without `click`, nothing to warn about.
    app.write(
        "campaigns/clicky.toml",
        &std::fs::read_to_string(app.path("campaigns/clicky.toml"))
            .unwrap()
            .replace(", \"click\"", ""),
    );
    let out = app.tend(&["check"]).ok();
    assert!(out.stdout.contains("0 warning(s)"), "{}", out.stdout);
}
