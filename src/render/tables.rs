//! Option tables for `pick`. Tera evaluates a function's arguments on
//! every call, so `pick(slot="sign-off", options=["Talk soon,", …])`
//! used to build a fresh array of fresh strings (and Tera copies it once
//! more) every time a part was rendered. When the templates are loaded,
//! every `pick` whose slot and options are all literal text is rewritten
//! in Tera's syntax tree to `pick(__tend_options=N)` (or, as the whole of
//! a `{{ }}` or `{% set %}`, to `N | __tend_pick`), N being a table made
//! of those literals once; [`super::current::Pick`] reads it. The same goes
//! for `pick(slot="…", count=N)` with a literal N from 1 to 100 (a table of
//! no options), whose two arguments Tera otherwise put in a fresh map on
//! every call. Calls with computed options (`"Hi " ~ contact.first_name`)
//! or anything `pick` would reject stay as written, so their errors are
//! unchanged.
//!
//! Tera exposes its syntax tree (`tera::ast`, `Tera::templates`) without
//! promising to keep it stable: `Cargo.lock` pins the version, and the
//! golden snapshot in `send::golden` fails if a message changes.

use std::collections::HashMap;
use tera::Tera;
use tera::ast::{Expr, ExprVal, FunctionCall, Node};

/// The argument a rewritten call passes: the number of its table.
pub const TABLE_ARG: &str = "__tend_options";

/// The filter a rewritten `{{ pick(…) }}` or `{% set x = pick(…) %}`
/// becomes, applied to the number of its table.
pub const TABLE_FILTER: &str = "__tend_pick";

/// One slot's literal options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Table {
    /// Trimmed, as `pick` trims it.
    pub slot: String,
    pub offer: Offer,
}

/// What a literal `pick` offers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Offer {
    /// `options=["…", …]`: never empty.
    Options(Vec<String>),
    /// `count=N`, N from 1 to 100.
    Count(usize),
}

/// Rewrites every literal `pick` in every template; returns the tables,
/// identical ones shared.
pub fn intern(tera: &mut Tera) -> Vec<Table> {
    let mut interner = Interner::default();
    for template in tera.templates.values_mut() {
        interner.nodes(&mut template.ast);
        for block in template.blocks.values_mut() {
            interner.nodes(&mut block.body);
        }
        for definitions in template.blocks_definitions.values_mut() {
            for (_, block) in definitions {
                interner.nodes(&mut block.body);
            }
        }
        for definition in template.macros.values_mut() {
            interner.nodes(&mut definition.body);
        }
    }
    interner.tables
}

#[derive(Default)]
struct Interner {
    tables: Vec<Table>,
    known: HashMap<Table, usize>,
}

impl Interner {
    fn nodes(&mut self, nodes: &mut [Node]) {
        for node in nodes {
            self.node(node);
        }
    }

    fn node(&mut self, node: &mut Node) {
        match node {
            Node::VariableBlock(_, expr) => self.whole(expr),
            Node::MacroDefinition(_, definition, _) => {
                for expr in definition.args.values_mut().flatten() {
                    self.expr(expr);
                }
                self.nodes(&mut definition.body);
            }
            Node::Set(_, set) => self.whole(&mut set.value),
            Node::FilterSection(_, section, _) => {
                self.call_args(&mut section.filter);
                self.nodes(&mut section.body);
            }
            Node::Block(_, block, _) => self.nodes(&mut block.body),
            Node::Forloop(_, forloop, _) => {
                self.expr(&mut forloop.container);
                self.nodes(&mut forloop.body);
                if let Some(body) = &mut forloop.empty_body {
                    self.nodes(body);
                }
            }
            Node::If(branches, _) => {
                for (_, condition, body) in &mut branches.conditions {
                    self.expr(condition);
                    self.nodes(body);
                }
                if let Some((_, body)) = &mut branches.otherwise {
                    self.nodes(body);
                }
            }
            Node::Super
            | Node::Text(_)
            | Node::Extends(..)
            | Node::Include(..)
            | Node::ImportMacro(..)
            | Node::Raw(..)
            | Node::Break(_)
            | Node::Continue(_)
            | Node::Comment(..) => {}
        }
    }

    fn expr(&mut self, expr: &mut Expr) {
        for filter in &mut expr.filters {
            self.call_args(filter);
        }
        match &mut expr.val {
            ExprVal::Math(math) => {
                self.expr(&mut math.lhs);
                self.expr(&mut math.rhs);
            }
            ExprVal::Logic(logic) => {
                self.expr(&mut logic.lhs);
                self.expr(&mut logic.rhs);
            }
            ExprVal::Test(test) => {
                for arg in &mut test.args {
                    self.expr(arg);
                }
            }
            ExprVal::MacroCall(call) => {
                for arg in call.args.values_mut() {
                    self.expr(arg);
                }
            }
            ExprVal::FunctionCall(call) => self.call(call),
            ExprVal::Array(items) => {
                for item in items {
                    self.expr(item);
                }
            }
            ExprVal::StringConcat(concat) => {
                for value in &mut concat.values {
                    if let ExprVal::FunctionCall(call) = value {
                        self.call(call);
                    }
                }
            }
            ExprVal::In(is_in) => {
                self.expr(&mut is_in.lhs);
                self.expr(&mut is_in.rhs);
            }
            ExprVal::String(_)
            | ExprVal::Int(_)
            | ExprVal::Float(_)
            | ExprVal::Bool(_)
            | ExprVal::Ident(_) => {}
        }
    }

    fn call_args(&mut self, call: &mut FunctionCall) {
        for arg in call.args.values_mut() {
            self.expr(arg);
        }
    }

    /// The expression of a `{{ … }}` or a `{% set %}`, which Tera evaluates
    /// with `eval_expression` (filters, then `not`, then escaping). A
    /// literal `pick` there becomes `N | __tend_pick`: a filter call gets
    /// no argument map (a function call's one argument cost a map, a copy
    /// of its name and a hash on every call), and escaping follows the same
    /// rule (neither is marked safe). Elsewhere (`{% if %}` conditions,
    /// maths) Tera treats a number differently from a call, so calls stay.
    fn whole(&mut self, expr: &mut Expr) {
        if let ExprVal::FunctionCall(call) = &expr.val {
            if call.name == "pick" {
                if let Some(table) = literal_table(call) {
                    let index = self.intern(table);
                    for filter in &mut expr.filters {
                        self.call_args(filter);
                    }
                    expr.val = ExprVal::Int(index as i64);
                    expr.filters.insert(
                        0,
                        FunctionCall {
                            name: TABLE_FILTER.to_string(),
                            args: HashMap::new(),
                        },
                    );
                    return;
                }
            }
        }
        self.expr(expr)
    }

    fn call(&mut self, call: &mut FunctionCall) {
        if call.name != "pick" {
            return self.call_args(call);
        }
        let Some(table) = literal_table(call) else {
            return self.call_args(call);
        };
        let index = self.intern(table);
        call.args.clear();
        call.args
            .insert(TABLE_ARG.to_string(), Expr::new(ExprVal::Int(index as i64)));
    }

    fn intern(&mut self, table: Table) -> usize {
        match self.known.get(&table) {
            Some(&index) => index,
            None => {
                self.tables.push(table.clone());
                self.known.insert(table, self.tables.len() - 1);
                self.tables.len() - 1
            }
        }
    }
}

/// The table of `pick(slot="…", options=["…", …])` when the slot and every
/// option are plain text literals (no filter, no `not`), the slot is not
/// blank and there is at least one option, or of `pick(slot="…", count=N)`
/// with a plain integer literal N from 1 to 100: a call `pick` accepts as is.
fn literal_table(call: &FunctionCall) -> Option<Table> {
    if call.args.len() != 2 {
        return None;
    }
    let slot = literal(call.args.get("slot")?)?.trim();
    if slot.is_empty() {
        return None;
    }
    let offer = match (call.args.get("options"), call.args.get("count")) {
        (Some(options), None) => {
            let ExprVal::Array(items) = &plain(options)?.val else {
                return None;
            };
            if items.is_empty() {
                return None;
            }
            Offer::Options(
                items
                    .iter()
                    .map(|item| literal(item).map(str::to_string))
                    .collect::<Option<Vec<_>>>()?,
            )
        }
        (None, Some(count)) => match plain(count)?.val {
            ExprVal::Int(n @ 1..=100) => Offer::Count(n as usize),
            _ => return None,
        },
        _ => return None,
    };
    Some(Table {
        slot: slot.to_string(),
        offer,
    })
}

fn plain(expr: &Expr) -> Option<&Expr> {
    (!expr.negated && expr.filters.is_empty()).then_some(expr)
}

fn literal(expr: &Expr) -> Option<&str> {
    match &plain(expr)?.val {
        ExprVal::String(text) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tera(source: &str) -> (Tera, Vec<Table>) {
        let mut tera = Tera::default();
        tera.add_raw_template("t", source).unwrap();
        let tables = intern(&mut tera);
        (tera, tables)
    }

    fn args(tera: &Tera) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        fn walk(nodes: &[Node], found: &mut Vec<Vec<String>>) {
            for node in nodes {
                match node {
                    Node::VariableBlock(_, expr)
                    | Node::Set(_, tera::ast::Set { value: expr, .. }) => match &expr.val {
                        ExprVal::FunctionCall(call) => {
                            let mut names: Vec<String> = call.args.keys().cloned().collect();
                            names.sort();
                            found.push(names);
                        }
                        ExprVal::Int(n) => {
                            let filters = expr.filters.iter().map(|f| f.name.clone());
                            found.push(
                                std::iter::once(format!("table {n}"))
                                    .chain(filters)
                                    .collect(),
                            )
                        }
                        ExprVal::StringConcat(concat) => {
                            for value in &concat.values {
                                if let ExprVal::FunctionCall(call) = value {
                                    let mut names: Vec<String> =
                                        call.args.keys().cloned().collect();
                                    names.sort();
                                    found.push(names);
                                }
                            }
                        }
                        _ => {}
                    },
                    Node::If(branches, _) => {
                        for (_, _, body) in &branches.conditions {
                            walk(body, found);
                        }
                    }
                    _ => {}
                }
            }
        }
        walk(&tera.get_template("t").unwrap().ast, &mut found);
        found
    }

    #[test]
    fn render_tables_take_literal_picks_only() {
        let (tera, tables) = tera(
            r#"{{ pick(slot=" a ", options=["x", "y"]) }}
{% if true %}{{ pick(slot="a", options=["x", "y"]) | upper }}{% endif %}
{{ pick(slot="b", options=["x", "y" ~ name]) }}
{{ pick(slot="c", count=3) }}
{{ pick(slot="c", count=0) }}{{ pick(slot="c", count=101) }}{{ pick(slot="c", count="3") }}
{{ pick(slot="c", count=3.0) }}{{ pick(slot="c", count=3 | abs) }}{{ pick(slot="c", count=n) }}
{% set v = pick(slot="", options=["x"]) %}
{{ pick(slot="d", options=[]) }}
{{ pick(slot="e", options=["x" | upper]) }}
{{ pick(slot="f", options=["z"], count=2) }}
{{ other(slot="g", options=["x"]) }}
{{ "n" ~ pick(slot="a", options=["x", "y"]) }}"#,
        );
        assert_eq!(
            tables,
            vec![
                Table {
                    slot: "a".into(),
                    offer: Offer::Options(vec!["x".into(), "y".into()])
                },
                Table {
                    slot: "c".into(),
                    offer: Offer::Count(3)
                }
            ]
        );
        let filtered = |n: usize, after: &[&str]| {
            [format!("table {n}"), TABLE_FILTER.to_string()]
                .into_iter()
                .chain(after.iter().map(|s| s.to_string()))
                .collect::<Vec<_>>()
        };
        let slot_options = vec!["options".to_string(), "slot".to_string()];
        let slot_count = vec!["count".to_string(), "slot".to_string()];
        assert_eq!(
            args(&tera),
            vec![
                filtered(0, &[]),
                filtered(0, &["upper"]),
                slot_options.clone(),
                filtered(1, &[]),
                slot_count.clone(),
                slot_count.clone(),
                slot_count.clone(),
                slot_count.clone(),
                slot_count.clone(),
                slot_count,
                slot_options.clone(),
                slot_options.clone(),
                slot_options,
                vec!["count".to_string(), "options".into(), "slot".into()],
                vec!["options".to_string(), "slot".into()],
                // Inside a larger expression: the call form.
                vec![TABLE_ARG.to_string()],
            ]
        );
    }
}
