//! The render in progress. Tera functions receive only their own arguments,
//! so the renderer puts what `pick`, `greeting` and friends need (seed,
//! history, the contact's zone, the clock) in a thread-local for the length
//! of one synchronous `Tera::render` call, and reads back the choices made.

use super::tables::Offer;
use crate::catalog::Locale;
use crate::domain::Attributes;
use crate::variation::{Choice, PastSend, choose_among};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use tera::Value;

/// How `pick` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickMode {
    /// Seeded and history-aware: what is sent.
    Seeded,
    /// Always the first option: `tend check` compares templates as written.
    First,
    /// Option N of every slot (the last when a slot has fewer): `tend check`
    /// proofreads every option by rendering N = 0, 1, 2…
    Nth(usize),
}

#[derive(Debug, Clone)]
pub struct Current {
    pub seed: String,
    pub history: Vec<PastSend>,
    pub now: DateTime<Utc>,
    pub zone: Tz,
    pub attributes: Attributes,
    /// The language of the template being rendered: helpers write in it.
    pub locale: Locale,
    /// The contact's usable first name ([`super::names::first_name`]).
    pub first_name: Option<String>,
    pub mode: PickMode,
    /// The part being rendered: subject, preheader, text, html.
    pub part: &'static str,
    pub chosen: BTreeMap<String, Choice>,
    /// Options (slot, 0-based) ruled out by the renderer.
    pub banned: Vec<(String, usize)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Clears the thread-local even if rendering panics.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// Runs `f` with `state` as the current render; returns the state back.
pub fn with_current<R>(state: Current, f: impl FnOnce() -> R) -> (R, Current) {
    CURRENT.with(|c| *c.borrow_mut() = Some(state));
    let reset = Reset;
    let out = f();
    let state = CURRENT
        .with(|c| c.borrow_mut().take())
        .expect("the render state is set for the whole render");
    drop(reset);
    (out, state)
}

/// Reads the current render; a helper used outside a render is an error.
pub fn read<R>(f: impl FnOnce(&mut Current) -> tera::Result<R>) -> tera::Result<R> {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(state) => f(state),
        None => Err(tera::Error::msg("tend helpers work only while rendering")),
    })
}

/// `pick(slot="opener", options=["Hi", "Hello"])` returns one option;
/// `pick(slot="body", count=3)` returns a number from 1 to 3 for
/// `{% if %}` branches. The same slot gives the same choice in every part.
pub fn pick(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let slot = match args.get("slot") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => {
            return Err(tera::Error::msg(
                "pick needs a slot name: pick(slot=\"opener\", options=[\"Hi\", \"Hello\"])",
            ));
        }
    };
    // The options stay borrowed from Tera's arguments: a slot is picked
    // once per message but asked for in every part, and only the chosen
    // text is ever copied.
    let options = match (args.get("options"), args.get("count")) {
        (Some(Value::Array(items)), None) if !items.is_empty() => Options::Values(items),
        (None, Some(n)) => match n.as_u64() {
            Some(n @ 1..=100) => Options::Count(n as usize),
            _ => {
                return Err(tera::Error::msg(
                    "pick: `count` must be a number from 1 to 100",
                ));
            }
        },
        _ => {
            return Err(tera::Error::msg(format!(
                "pick(slot=\"{slot}\"): give either options=[\"…\", \"…\"] (a non-empty list) or count=N"
            )));
        }
    };
    choose(slot, options)
}

/// What a slot offers.
#[derive(Clone, Copy)]
enum Options<'a> {
    /// Tera's evaluated `options=[…]`.
    Values(&'a [Value]),
    /// A table of literal options ([`super::tables`]).
    Strings(&'a [String]),
    /// `count=N`: the options are "#1", "#2", …
    Count(usize),
}

impl<'a> Options<'a> {
    fn count(self) -> usize {
        match self {
            Options::Values(items) => items.len(),
            Options::Strings(items) => items.len(),
            Options::Count(n) => n,
        }
    }

    /// Option i as text.
    fn text(self, i: usize) -> Cow<'a, str> {
        match self {
            Options::Values(items) => match items.get(i) {
                Some(Value::String(s)) => Cow::Borrowed(s),
                Some(other) => Cow::Owned(other.to_string()),
                None => Cow::Owned(format!("#{}", i + 1)),
            },
            Options::Strings(items) => match items.get(i) {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(format!("#{}", i + 1)),
            },
            Options::Count(_) => Cow::Owned(format!("#{}", i + 1)),
        }
    }
}

/// `pick` whose options (or count) were all literals: Tera passes only the
/// number of the table [`super::tables`] made of them when the templates
/// were loaded, not a fresh copy of every option on every call.
pub struct Pick {
    pub tables: Arc<[super::tables::Table]>,
}

/// `N | __tend_pick`: a literal `pick` that was the whole of a `{{ }}` or
/// a `{% set %}` ([`super::tables`]), given the number of its table.
pub struct PickFilter {
    pub tables: Arc<[super::tables::Table]>,
}

impl tera::Filter for PickFilter {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        match value.as_u64().and_then(|i| self.tables.get(i as usize)) {
            Some(table) => choose_from(table),
            None => Err(tera::Error::msg(format!(
                "`{}` is tend's own: it reads the option tables made when the templates load",
                super::tables::TABLE_FILTER
            ))),
        }
    }
}

fn choose_from(table: &super::tables::Table) -> tera::Result<Value> {
    let options = match &table.offer {
        Offer::Options(options) => Options::Strings(options),
        Offer::Count(n) => Options::Count(*n),
    };
    choose(&table.slot, options)
}

impl tera::Function for Pick {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        if args.len() == 1 {
            if let Some(table) = args
                .get(super::tables::TABLE_ARG)
                .and_then(Value::as_u64)
                .and_then(|i| self.tables.get(i as usize))
            {
                return choose_from(table);
            }
        }
        pick(args)
    }
}

fn choose(slot: &str, options: Options<'_>) -> tera::Result<Value> {
    let count = options.count();
    let numbered = matches!(options, Options::Count(_));
    let text = |i: usize| options.text(i);
    read(|state| {
        let index = match state.chosen.get(slot) {
            Some(done) if done.of == count => done.n - 1,
            _ => {
                let index = match state.mode {
                    PickMode::First => 0,
                    PickMode::Nth(k) => k.min(count - 1),
                    PickMode::Seeded => {
                        let banned: Vec<usize> = state
                            .banned
                            .iter()
                            .filter(|(s, _)| *s == slot)
                            .map(|(_, i)| *i)
                            .collect();
                        // Texts are compared with the history only when there is one.
                        let texts: Vec<Cow<'_, str>> = if state.history.is_empty() {
                            Vec::new()
                        } else {
                            (0..count).map(text).collect()
                        };
                        choose_among(
                            slot,
                            count,
                            |i| texts[i].as_ref(),
                            &state.seed,
                            &state.history,
                            &banned,
                        )
                    }
                };
                state.chosen.insert(
                    slot.to_string(),
                    Choice {
                        slot: slot.to_string(),
                        n: index + 1,
                        of: count,
                        text: text(index).into_owned(),
                        part: state.part.to_string(),
                    },
                );
                index
            }
        };
        Ok(if numbered {
            Value::from(index + 1)
        } else {
            Value::String(text(index).into_owned())
        })
    })
}
