/*!
Tools the model may call, in the model's own format when its GGUF has one.

A GGUF whose `tokenizer.chat_template` takes `tools` (Qwen 2.5 and 3, Llama 3.1 and later,
Mistral, Granite, Hermes and most tool-tuned models) was trained to see tools, calls and results
in that template's words. llama.cpp's own template engine (what `render` uses) knows the common
templates by their markers but not their tool sections, so for those prompts the template is run
as the Jinja it is, by minijinja, with the names Hugging Face gives a template: `messages`,
`tools`, `add_generation_prompt`, `bos_token`, `eos_token`, `raise_exception`, `strftime_now`
and Python's string and dict methods (minijinja-contrib's `pycompat`). `tojson` writes as
Python's `json.dumps` does (`", "` and `": "`, no HTML escapes, keys in the order given), because
that is what the model saw in training. A template minijinja cannot run falls back to the
prompted format below, and the model detail says which was used.

Every other model (and remote ones) is told the tools in a documented, prompted format:

```text
<tool_call>{"name": "units.convert", "arguments": {"value": 12, "from": "ft", "to": "m"}}</tool_call>
```

The conversation is stored the same way whichever format the model speaks: the model's answer
as it wrote it, and the tool's result as a user turn `<tool_result name="...">...</tool_result>`.
For a template, those become what it expects: an assistant message with `tool_calls` and a
`tool` message with the result. `tool_call_in` reads a call in any of the families' syntaxes.
*/

use super::*;
use fieldkit_messages::llm::ToolSpec;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use serde_json::Value as Json;

/// Marker tokens some families start a call with. They are control tokens, which are not
/// shown in text; with tools in the prompt they are, so the call can be read.
pub(super) const CALL_MARKERS: &[&str] = &[
    "[TOOL_CALLS]",
    "<|python_tag|>",
    "<|tool_call|>",
    "<tool_call>",
    "</tool_call>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "[ARGS]",
    "[CALL_ID]",
];

/// The text shown for a token: its plain piece, or, when tools are in the prompt and the
/// token is a control token that starts or parts a call, its marker (`special` gives it).
pub(super) fn shown_piece(
    plain: Vec<u8>,
    tools: bool,
    special: impl FnOnce() -> Vec<u8>,
) -> Vec<u8> {
    if !plain.is_empty() || !tools {
        return plain;
    }
    let marker = special();
    if CALL_MARKERS
        .iter()
        .any(|m| m.as_bytes() == marker.as_slice())
    {
        marker
    } else {
        plain
    }
}

/// The system turn that tells a model without a tool template the tools it may call.
pub fn prompted_turn(tools: &[ToolSpec]) -> Option<Turn> {
    if tools.is_empty() {
        return None;
    }
    let mut t = String::from(
        "You can use these tools. To use one, answer with only a tool call, exactly:\n\
         <tool_call>{\"name\": \"TOOL\", \"arguments\": {...}}</tool_call>\n\
         The result comes back in a <tool_result> message; then answer the user with it. \
         Use a tool only when it helps.\n\nTools:\n",
    );
    for s in tools {
        t.push_str(&format!(
            "- {}: {} Arguments (JSON schema): {}\n",
            s.name, s.description, s.schema
        ));
    }
    Some(Turn::new(Role::System, t))
}

/// `turns` with the prompted tools told in the system prompt (one is made when there is
/// none). One turn, not a second system turn: templates refuse a system turn after the first,
/// and folding a long chat keeps the first.
pub fn with_prompted(turns: &[Turn], tools: &[ToolSpec]) -> Vec<Turn> {
    let mut out = turns.to_vec();
    if let Some(t) = prompted_turn(tools) {
        match out.first_mut() {
            Some(first) if first.role == Role::System => {
                first.content = format!("{}\n\n{}", first.content.trim_end(), t.content);
            }
            _ => out.insert(0, t),
        }
    }
    out
}

/// Whether a chat template takes tools (it names the variable).
pub(super) fn takes_tools(template: &str) -> bool {
    template.contains("tools")
}

/// The call in an answer, if it makes one: the tool's name and its arguments. Reads the
/// prompted format and the families' own: Hermes and Qwen `<tool_call>{...}</tool_call>`,
/// Mistral `[TOOL_CALLS][{...}]` and `[TOOL_CALLS]name[ARGS]{...}`, Llama's
/// `<|python_tag|>{...}` or an answer that is only `{"name": ..., "parameters": {...}}`,
/// Granite and Phi `<|tool_call|>[{...}]`, LFM `<|tool_call_start|>[...]`. The first call is
/// taken; a model that asks for several gets the others' answers by asking again.
pub fn tool_call_in(answer: &str) -> Option<Result<(String, Json), String>> {
    call_in(answer).map(|r| {
        r.and_then(|(name, args)| {
            let mut text = String::new();
            dumps(&args, None, 0, &mut text).map_err(|e| e.to_string())?;
            serde_json::from_str(&text)
                .map(|a| (name, a))
                .map_err(|e| e.to_string())
        })
    })
}

/// `tool_call_in` with the arguments in the order the model wrote them.
fn call_in(answer: &str) -> Option<Result<(String, Value), String>> {
    let between = |open: &str, close: &str| -> Option<&str> {
        let start = answer.find(open)? + open.len();
        let end = answer[start..]
            .find(close)
            .map(|e| start + e)
            .unwrap_or(answer.len());
        Some(&answer[start..end])
    };
    if let Some(body) = between("<tool_call>", "</tool_call>") {
        return Some(call_from_json(unfence(body)));
    }
    if let Some(body) = between("<|tool_call|>", "<|/tool_call|>") {
        return Some(call_from_json(unfence(body)));
    }
    if let Some(body) = between("<|tool_call_start|>", "<|tool_call_end|>") {
        return Some(call_from_json(unfence(body)));
    }
    if let Some(body) = between("[TOOL_CALLS]", "</s>") {
        let body = body.trim();
        // Mistral's newer form: `name[ARGS]{...}` (with `[CALL_ID]id` between, sometimes).
        if let Some((name, args)) = body.split_once("[ARGS]") {
            let name = name.split("[CALL_ID]").next().unwrap_or(name).trim();
            return Some(match parse_ordered(args.trim()) {
                Ok(a) if a.kind() == ValueKind::Map && !name.is_empty() => {
                    Ok((name.to_string(), a))
                }
                Ok(_) => Err(
                    "the model's tool call has no name or arguments that are not an object".into(),
                ),
                Err(e) => Err(format!("the model's tool call is not JSON ({e})")),
            });
        }
        return Some(call_from_json(unfence(body)));
    }
    if let Some(body) = between("<|python_tag|>", "<|eom_id|>") {
        return Some(call_from_json(unfence(body)));
    }
    // Llama 3.2's plain JSON: only when the whole answer is one call.
    let body = unfence(answer);
    if body.starts_with('{') && body.ends_with('}') {
        if let Ok(v) = serde_json::from_str::<Json>(body) {
            if v.get("name").is_some_and(|n| n.is_string())
                && (v.get("parameters").is_some() || v.get("arguments").is_some())
            {
                return Some(call_from_json(body));
            }
        }
    }
    None
}

/// The text of an answer before its call, which a template keeps as the message's content.
fn text_before_call(answer: &str) -> &str {
    let at = [
        "<tool_call>",
        "<|tool_call|>",
        "<|tool_call_start|>",
        "[TOOL_CALLS]",
        "<|python_tag|>",
    ]
    .iter()
    .filter_map(|m| answer.find(m))
    .min();
    match at {
        Some(i) => answer[..i].trim(),
        None if answer.trim_start().starts_with('{') || answer.trim_start().starts_with("```") => {
            ""
        }
        None => answer.trim(),
    }
}

fn unfence(body: &str) -> &str {
    let body = body.trim();
    body.strip_prefix("```json")
        .or_else(|| body.strip_prefix("```"))
        .unwrap_or(body)
        .trim_end_matches("```")
        .trim()
}

/// A call from its JSON: an object or a list of them (the first is taken), with `arguments`
/// or `parameters` as an object or as JSON text holding one.
fn call_from_json(body: &str) -> Result<(String, Value), String> {
    let v = parse_ordered(body).map_err(|e| format!("the model's tool call is not JSON ({e})"))?;
    let v = match v.kind() {
        ValueKind::Seq => v.get_item_by_index(0).unwrap_or_default(),
        _ => v,
    };
    let f = v.get_attr("function").unwrap_or_default();
    let v = if f.kind() == ValueKind::Map { f } else { v };
    let name = v
        .get_attr("name")
        .ok()
        .and_then(|n| n.as_str().map(str::to_string));
    let mut args = v.get_attr("arguments").unwrap_or_default();
    if args.is_undefined() {
        args = v.get_attr("parameters").unwrap_or_default();
    }
    let args = match args.kind() {
        ValueKind::String => parse_ordered(args.as_str().unwrap_or_default()).ok(),
        ValueKind::Undefined | ValueKind::None => Some(map(Vec::new())),
        _ => Some(args),
    };
    match (name, args) {
        (Some(n), Some(a)) if a.kind() == ValueKind::Map && !n.is_empty() => Ok((n, a)),
        _ => Err("the model's tool call has no name or arguments that are not an object".into()),
    }
}

/// JSON as a template value with its objects' keys in the order written (serde_json's own
/// map sorts them, and its order-keeping feature would change a shared crate's build).
fn parse_ordered(text: &str) -> Result<Value, serde_json::Error> {
    struct J(Value);
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = J;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<J, E> {
            Ok(J(Value::from(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<J, E> {
            Ok(J(Value::from(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<J, E> {
            Ok(J(Value::from(v)))
        }
        fn visit_f64<E>(self, v: f64) -> Result<J, E> {
            Ok(J(Value::from(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<J, E> {
            Ok(J(Value::from(v)))
        }
        fn visit_unit<E>(self) -> Result<J, E> {
            Ok(J(Value::from(())))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
            let mut out = Vec::new();
            while let Some(J(v)) = a.next_element()? {
                out.push(v);
            }
            Ok(J(Value::from(out)))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
            let mut out: Vec<(String, Value)> = Vec::new();
            while let Some((k, J(v))) = a.next_entry::<String, J>()? {
                // A repeated key keeps its last value, as JSON parsers do.
                out.retain(|(n, _)| *n != k);
                out.push((k, v));
            }
            Ok(J(Value::from_object(Ordered(out))))
        }
    }
    impl<'de> serde::Deserialize<'de> for J {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<J, D::Error> {
            d.deserialize_any(V)
        }
    }
    serde_json::from_str::<J>(text).map(|j| j.0)
}

/// The result in a stored tool-result turn: the tool's name and its text.
fn tool_result_in(content: &str) -> Option<(&str, &str)> {
    let rest = content.strip_prefix("<tool_result name=\"")?;
    let (name, rest) = rest.split_once("\">")?;
    let text = rest
        .trim_end()
        .strip_suffix("</tool_result>")
        .unwrap_or(rest);
    Some((name, text.trim_matches('\n')))
}

/// A map whose keys keep their order (a template's `tojson` then writes them as the model saw
/// them in training: `name` before `arguments`).
#[derive(Debug)]
struct Ordered(Vec<(String, Value)>);

impl Object for Ordered {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )
    }
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::from_object(Ordered(
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    ))
}

/// JSON text as Python's `json.dumps(v, ensure_ascii=False, indent=indent)` writes it.
fn dumps(
    v: &Value,
    indent: Option<usize>,
    level: usize,
    out: &mut String,
) -> Result<(), minijinja::Error> {
    // Between items, and before the first and after the last when indenting.
    let (sep, open, close) = match indent {
        Some(n) => (
            format!(",\n{}", " ".repeat(n * (level + 1))),
            format!("\n{}", " ".repeat(n * (level + 1))),
            format!("\n{}", " ".repeat(n * level)),
        ),
        None => (", ".to_string(), String::new(), String::new()),
    };
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&v.to_string()),
        ValueKind::String | ValueKind::Bytes => out.push_str(
            &serde_json::to_string(v.as_str().unwrap_or_default())
                .unwrap_or_else(|_| "\"\"".into()),
        ),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let is_map = v.kind() == ValueKind::Map;
            let items: Vec<Value> = v.try_iter()?.collect();
            out.push(if is_map { '{' } else { '[' });
            if !items.is_empty() {
                out.push_str(&open);
            }
            for (i, k) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                if is_map {
                    let key = k
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| k.to_string());
                    out.push_str(&serde_json::to_string(&key).unwrap_or_default());
                    out.push_str(": ");
                    dumps(&v.get_item(k)?, indent, level + 1, out)?;
                } else {
                    dumps(k, indent, level + 1, out)?;
                }
            }
            if !items.is_empty() {
                out.push_str(&close);
            }
            out.push(if is_map { '}' } else { ']' });
        }
        _ => out.push_str(&serde_json::to_string(&v.to_string()).unwrap_or_default()),
    }
    Ok(())
}

/// The `tojson` filter, `indent` as a position or a keyword; the other keywords of Python's
/// (`separators`, `sort_keys`, `ensure_ascii`) are taken and left at what templates use.
fn tojson(
    v: &Value,
    indent: Option<Value>,
    kwargs: minijinja::value::Kwargs,
) -> Result<Value, minijinja::Error> {
    let indent = match indent {
        Some(i) => Some(i),
        None => kwargs.get::<Option<Value>>("indent")?,
    }
    .and_then(|i| i.as_i64())
    .map(|i| i.clamp(0, 16) as usize);
    for k in ["separators", "sort_keys", "ensure_ascii"] {
        let _: Option<Value> = kwargs.get(k)?;
    }
    let mut out = String::new();
    dumps(v, indent, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

/// The messages a Hugging Face template expects, from the stored turns: an answer that made a
/// call becomes an assistant message with `tool_calls`, a result a `tool` message.
fn messages(turns: &[Turn]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut last_call: Option<String> = None;
    for (i, t) in turns.iter().enumerate() {
        if t.role == Role::User {
            if let Some((name, text)) = tool_result_in(&t.content) {
                out.push(map(vec![
                    ("role", Value::from("tool")),
                    ("name", Value::from(name)),
                    (
                        "tool_call_id",
                        Value::from(last_call.clone().unwrap_or_default()),
                    ),
                    ("content", Value::from(text)),
                ]));
                continue;
            }
        }
        if t.role == Role::Assistant {
            if let Some(Ok((name, args))) = call_in(&t.content) {
                // Mistral's templates want nine alphanumerics for an id.
                let id = format!("call{i:05}");
                out.push(map(vec![
                    ("role", Value::from("assistant")),
                    ("content", Value::from(text_before_call(&t.content))),
                    (
                        "tool_calls",
                        Value::from(vec![map(vec![
                            ("type", Value::from("function")),
                            ("id", Value::from(id.as_str())),
                            (
                                "function",
                                map(vec![
                                    ("name", Value::from(name.as_str())),
                                    ("arguments", args.clone()),
                                ]),
                            ),
                            // Some templates read the call's fields at the top.
                            ("name", Value::from(name.as_str())),
                            ("arguments", args),
                        ])]),
                    ),
                ]));
                last_call = Some(id);
                continue;
            }
        }
        out.push(map(vec![
            ("role", Value::from(t.role.name())),
            ("content", Value::from(t.content.as_str())),
        ]));
    }
    out
}

/// The tools as a template expects them (OpenAI's function form).
fn tool_values(tools: &[ToolSpec]) -> Vec<Value> {
    tools
        .iter()
        .map(|s| {
            let params = parse_ordered(&s.schema)
                .unwrap_or_else(|_| map(vec![("type", Value::from("object"))]));
            map(vec![
                ("type", Value::from("function")),
                (
                    "function",
                    map(vec![
                        ("name", Value::from(s.name.as_str())),
                        ("description", Value::from(s.description.as_str())),
                        ("parameters", params),
                    ]),
                ),
            ])
        })
        .collect()
}

/// Runs a Hugging Face chat template over `turns` with `tools`.
pub(super) fn render_template(
    template: &str,
    turns: &[Turn],
    tools: &[ToolSpec],
    bos: &str,
    eos: &str,
) -> Result<String> {
    let mut env = minijinja::Environment::new();
    // Hugging Face renders chat templates with these two on.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_filter("tojson", tojson);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<Value, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_function("strftime_now", |fmt: String| {
        chrono::Local::now().format(&fmt).to_string()
    });
    env.add_template("chat", template)
        .map_err(|e| anyhow!("the model's chat template does not parse: {e}"))?;
    let t = env
        .get_template("chat")
        .map_err(|e| anyhow!("the model's chat template: {e}"))?;
    let ctx = minijinja::context! {
        messages => messages(turns),
        tools => tool_values(tools),
        add_generation_prompt => true,
        bos_token => bos,
        eos_token => eos,
    };
    let text = t
        .render(ctx)
        .map_err(|e| anyhow!("the model's chat template failed with tools: {e}"))?;
    // The tokenizer adds the BOS itself where the model wants one.
    Ok(match text.strip_prefix(bos) {
        Some(rest) if !bos.is_empty() => rest.to_string(),
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "units.convert".into(),
            description: "Converts a value between units.".into(),
            schema: r#"{"type": "object", "properties": {"value": {"type": "number"}, "from": {"type": "string"}}, "required": ["value"]}"#.into(),
        }]
    }

    #[test]
    fn a_calls_marker_token_is_shown_only_with_tools_and_other_control_tokens_never() {
        let mark = || b"[TOOL_CALLS]".to_vec();
        assert_eq!(shown_piece(Vec::new(), true, mark), b"[TOOL_CALLS]");
        assert_eq!(shown_piece(Vec::new(), false, mark), b"");
        assert_eq!(
            shown_piece(Vec::new(), true, || b"<|im_start|>".to_vec()),
            b""
        );
        assert_eq!(shown_piece(b"hi".to_vec(), true, mark), b"hi");
        // A marker then reads as a call.
        let answer = format!(
            "{}[{{\"name\": \"a.b\", \"arguments\": {{}}}}]",
            String::from_utf8(shown_piece(Vec::new(), true, mark)).unwrap()
        );
        assert_eq!(tool_call_in(&answer).unwrap().unwrap().0, "a.b");
    }

    #[test]
    fn calls_are_read_in_each_familys_syntax_and_bad_ones_are_said() {
        let want = ("units.convert".to_string(), serde_json::json!({"value": 1}));
        for answer in [
            "Let me check.\n<tool_call>{\"name\": \"units.convert\", \"arguments\": {\"value\": 1}}</tool_call>",
            "<tool_call>```json\n{\"name\": \"units.convert\", \"arguments\": {\"value\": 1}}\n```",
            "[TOOL_CALLS][{\"name\": \"units.convert\", \"arguments\": {\"value\": 1}, \"id\": \"abc123xyz\"}]",
            "[TOOL_CALLS]units.convert[ARGS]{\"value\": 1}",
            "[TOOL_CALLS]units.convert[CALL_ID]abc123xyz[ARGS]{\"value\": 1}",
            "<|python_tag|>{\"name\": \"units.convert\", \"parameters\": {\"value\": 1}}",
            "{\"name\": \"units.convert\", \"parameters\": {\"value\": 1}}",
            "{\"type\": \"function\", \"name\": \"units.convert\", \"parameters\": {\"value\": 1}}",
            "<|tool_call|>[{\"name\": \"units.convert\", \"arguments\": {\"value\": 1}}]<|/tool_call|>",
            "<|tool_call_start|>[{\"name\": \"units.convert\", \"arguments\": \"{\\\"value\\\": 1}\"}]<|tool_call_end|>",
            "<tool_call>{\"type\": \"function\", \"function\": {\"name\": \"units.convert\", \"arguments\": {\"value\": 1}}}</tool_call>",
        ] {
            assert_eq!(tool_call_in(answer), Some(Ok(want.clone())), "{answer}");
        }
        assert!(tool_call_in("no call here").is_none());
        // JSON that is not a call is an answer, not a call.
        assert!(tool_call_in("{\"carrier\": \"UA\", \"flights\": 58665}").is_none());
        assert!(tool_call_in("<tool_call>{nope}</tool_call>")
            .unwrap()
            .is_err());
        assert!(tool_call_in("<tool_call>{\"arguments\": {}}</tool_call>")
            .unwrap()
            .is_err());
        assert!(tool_call_in("[TOOL_CALLS]convert[ARGS][1, 2]")
            .unwrap()
            .is_err());
        assert_eq!(
            tool_call_in("<tool_call>{\"name\": \"a.b\"}</tool_call>"),
            Some(Ok(("a.b".into(), serde_json::json!({}))))
        );
    }

    /// A template in the style of Qwen 2.5's: tools in the system turn, calls and results in
    /// `<tool_call>` and `<tool_response>`, using what those templates use (`tojson`,
    /// `namespace`, string methods, `raise_exception`).
    const HERMES: &str = r##"{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\n\n' }}{%- endif %}
{{- "# Tools\n\n<tools>" }}
{%- for tool in tools %}
{{- "\n" }}{{- tool | tojson }}
{%- endfor %}
{{- "\n</tools>\n\nFor each call return <tool_call></tool_call> tags.<|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set ns = namespace(n=0) %}
{%- for message in messages %}
{%- if message.role == 'system' %}
{%- if not loop.first %}{{ raise_exception('a system message after the first') }}{% endif %}
{%- elif message.role == 'user' or (message.role == 'assistant' and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\n' + message.content.strip() + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}{% if message.content %}{{ '\n' + message.content }}{% endif %}
{%- for tool_call in message.tool_calls %}
{%- if tool_call.function is defined %}{% set tool_call = tool_call.function %}{% endif %}
{{- '\n<tool_call>\n{"name": "' + tool_call.name + '", "arguments": ' }}{{- tool_call.arguments | tojson }}{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- elif message.role == 'tool' %}
{%- set ns.n = ns.n + 1 %}
{{- '<|im_start|>user\n<tool_response>\n' + message.content + '\n</tool_response><|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"##;

    fn convo() -> Vec<Turn> {
        vec![
            Turn::new(Role::System, "You are terse."),
            Turn::new(Role::User, "12 ft in m?"),
            Turn::new(
                Role::Assistant,
                "<tool_call>{\"name\": \"units.convert\", \"arguments\": {\"value\": 12, \"from\": \"ft\"}}</tool_call>",
            ),
            Turn::new(
                Role::User,
                "<tool_result name=\"units.convert\">\n12 ft = 3.6576 m\n</tool_result>",
            ),
        ]
    }

    #[test]
    fn a_hermes_style_template_gets_the_tools_the_call_and_the_result_in_its_own_words() {
        assert!(takes_tools(HERMES));
        let p = render_template(HERMES, &convo(), &spec(), "<s>", "</s>").unwrap();
        let want = "<|im_start|>system\nYou are terse.\n\n# Tools\n\n<tools>\n\
            {\"type\": \"function\", \"function\": {\"name\": \"units.convert\", \"description\": \"Converts a value between units.\", \
            \"parameters\": {\"type\": \"object\", \"properties\": {\"value\": {\"type\": \"number\"}, \"from\": {\"type\": \"string\"}}, \"required\": [\"value\"]}}}\n\
            </tools>\n\nFor each call return <tool_call></tool_call> tags.<|im_end|>\n\
            <|im_start|>user\n12 ft in m?<|im_end|>\n\
            <|im_start|>assistant\n<tool_call>\n{\"name\": \"units.convert\", \"arguments\": {\"value\": 12, \"from\": \"ft\"}}\n</tool_call><|im_end|>\n\
            <|im_start|>user\n<tool_response>\n12 ft = 3.6576 m\n</tool_response><|im_end|>\n\
            <|im_start|>assistant\n";
        assert_eq!(p, want);
    }

    /// In the style of Llama 3.1's: a BOS the tokenizer adds (stripped here), the date by
    /// `strftime_now`, tools as JSON in the first user turn, results as `ipython`.
    const LLAMA: &str = r##"{{- bos_token }}
{%- set date_string = strftime_now("%d %b %Y") %}
{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = "" %}{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\nToday Date: " + date_string + "\n\n" + system_message + "<|eot_id|>" }}
{%- for message in messages %}
{%- if loop.first and tools is not none and message.role == 'user' %}
{{- '<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, respond with a JSON for a function call with its proper arguments.\n\n' }}
{%- for t in tools %}{{- t | tojson(indent=4) }}{{- "\n\n" }}{%- endfor %}
{{- message['content'] | trim + '<|eot_id|>' }}
{%- elif 'tool_calls' in message %}
{%- set tool_call = message.tool_calls[0].function %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{{- '{"name": "' + tool_call.name + '", "parameters": ' }}{{- tool_call.arguments | tojson }}{{- "}" }}{{- "<|eot_id|>" }}
{%- elif message.role == "tool" or message.role == "ipython" %}
{{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}{{- message.content }}{{- "<|eot_id|>" }}
{%- else %}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}"##;

    #[test]
    fn a_llama_style_template_runs_with_its_date_slices_and_a_called_answer_in_plain_json() {
        let mut turns = convo();
        turns[2].content =
            "{\"name\": \"units.convert\", \"parameters\": {\"value\": 12, \"from\": \"ft\"}}"
                .into();
        let p = render_template(LLAMA, &turns, &spec(), "<|begin_of_text|>", "<|eot_id|>").unwrap();
        assert!(p.starts_with("<|start_header_id|>system"), "{p}");
        assert!(p.contains("Given the following functions"), "{p}");
        // `tojson(indent=4)` as Python writes it.
        assert!(
            p.contains("{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"units.convert\","),
            "{p}"
        );
        assert!(
            p.contains("{\"name\": \"units.convert\", \"parameters\": {\"value\": 12, \"from\": \"ft\"}}<|eot_id|>"),
            "{p}"
        );
        assert!(
            p.contains("<|start_header_id|>ipython<|end_header_id|>\n\n12 ft = 3.6576 m<|eot_id|>"),
            "{p}"
        );
        assert!(
            p.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"),
            "{p}"
        );
    }

    #[test]
    fn a_template_that_raises_or_does_not_parse_is_an_error_not_a_panic() {
        let bad = "{% for m in messages %}{{ raise_exception('no tools here') }}{% endfor %}";
        let e = render_template(bad, &convo(), &spec(), "", "").unwrap_err();
        assert!(format!("{e:#}").contains("no tools here"), "{e:#}");
        assert!(render_template("{% for %}", &convo(), &spec(), "", "").is_err());
    }

    #[test]
    fn the_prompted_tools_join_the_system_prompt() {
        let t = with_prompted(&convo(), &spec());
        assert_eq!(t.len(), convo().len());
        assert!(t[0]
            .content
            .starts_with("You are terse.\n\nYou can use these tools."));
        assert!(t[0].content.contains("units.convert: Converts"));
        let t = with_prompted(&convo()[1..], &spec());
        assert_eq!((t.len(), t[0].role), (convo().len(), Role::System));
        assert_eq!(with_prompted(&convo(), &[]), convo());
    }
}
