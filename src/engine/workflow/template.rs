/*!
Templates in workflow steps, on minijinja (Jinja2 syntax, a well-kept crate with no build
script; it tells us which names a template reads, so a file is checked when it loads).

A value put into a template is escaped for where it goes: in a `shell` step's command each value
becomes one single-quoted word (a file called `a b; rm -rf ~.csv` is one argument, never a
command), in an `sql` step a value's single quotes are doubled (values go inside '...'
literals), elsewhere (prompts, titles) it is text. `{{ x | safe }}` puts a value in as it is.
A name that is missing when the step runs is an error (strict undefined), never an empty string.
*/

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use std::collections::{BTreeMap, HashSet};

/// Where a rendered template goes, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Text,
    Shell,
    Sql,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| match name {
        "shell" => AutoEscape::Custom("shell".into()),
        "sql" => AutoEscape::Custom("sql".into()),
        _ => AutoEscape::None,
    });
    env.set_formatter(|out, state, value| {
        let raw = value.is_safe() || matches!(state.auto_escape(), AutoEscape::None);
        // Booleans as shells, SQL and JSON write them (Jinja would say True).
        let text = match value.kind() {
            minijinja::value::ValueKind::Bool => value.is_true().to_string(),
            _ => value.to_string(),
        };
        let s = if raw {
            text
        } else {
            match state.auto_escape() {
                AutoEscape::Custom(c) if c == "shell" => shell_quote(&text),
                AutoEscape::Custom(c) if c == "sql" => text.replace('\'', "''"),
                _ => text,
            }
        };
        out.write_str(&s).map_err(minijinja::Error::from)
    });
    env
}

/// `s` as one word for `sh`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The dotted names a template reads (`steps.load.rows`, `trigger.path`), or why it does not
/// compile.
pub fn names(text: &str) -> Result<HashSet<String>, String> {
    let env = env();
    let t = env.template_from_str(text).map_err(|e| describe(&e))?;
    Ok(t.undeclared_variables(true))
}

/// Renders `text` over `ctx` (a JSON object: trigger, steps, run, workflow, error).
pub fn render(text: &str, ctx: &serde_json::Value, escape: Escape) -> Result<String, String> {
    let env = env();
    let name = match escape {
        Escape::Text => "text",
        Escape::Shell => "shell",
        Escape::Sql => "sql",
    };
    env.render_named_str(name, text, to_value(ctx))
        .map_err(|e| describe(&e))
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    if let Some(line) = e.line() {
        s.push_str(&format!(" (template line {line})"));
    }
    s
}

/// JSON into minijinja's values (numbers stay numbers, so `{{ n + 1 }}` works).
pub fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(to_value).collect::<Vec<_>>()),
        serde_json::Value::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_escaped_for_where_they_go() {
        let ctx = json!({"trigger": {"path": "/tmp/a b; rm -rf ~'x'.csv"}, "steps": {"load": {"rows": 12}}});
        let sh = render("wc -l {{ trigger.path }}", &ctx, Escape::Shell).unwrap();
        assert_eq!(sh, r"wc -l '/tmp/a b; rm -rf ~'\''x'\''.csv'");
        let sql = render(
            "SELECT * FROM read_csv('{{ trigger.path }}')",
            &ctx,
            Escape::Sql,
        )
        .unwrap();
        assert_eq!(sql, "SELECT * FROM read_csv('/tmp/a b; rm -rf ~''x''.csv')");
        let text = render("loaded {{ steps.load.rows + 1 }} rows", &ctx, Escape::Text).unwrap();
        assert_eq!(text, "loaded 13 rows");
        assert_eq!(
            render("{{ x }}", &json!({"x": true}), Escape::Shell).unwrap(),
            "true"
        );
        // Plain words are left as they are; `safe` opts out.
        assert_eq!(
            render("echo {{ steps.load.rows }}", &ctx, Escape::Shell).unwrap(),
            "echo 12"
        );
        assert_eq!(
            render(
                "{{ trigger.path | safe }}",
                &json!({"trigger": {"path": "a b"}}),
                Escape::Shell
            )
            .unwrap(),
            "a b"
        );
    }

    #[test]
    fn a_missing_name_is_an_error_not_an_empty_string() {
        let e = render("{{ steps.nope.rows }}", &json!({"steps": {}}), Escape::Text).unwrap_err();
        assert!(e.contains("undefined"), "{e}");
        let e = names("{{ unclosed").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn names_lists_what_a_template_reads() {
        let n = names("{{ steps.load.rows }} {% if trigger.path %}{{ run.id | upper }}{% endif %}")
            .unwrap();
        assert!(n.contains("steps.load.rows"));
        assert!(n.contains("trigger.path"));
        assert!(n.contains("run.id"));
    }
}
