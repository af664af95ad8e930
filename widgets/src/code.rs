/*!
Syntax highlighting with syntect, coloured by fieldkit's theme.

syntect parses; it does not colour here. Its scopes (keyword, string, comment, ...) map onto
the theme's slots, so SQL in the editor and code blocks in chat follow the user's theme (light,
high contrast, 16 colours) instead of a TextMate theme that ignores it. The syntax set is loaded
once per process (a few milliseconds) on first use.
*/

use crate::Theme;
use ratatui::style::{Modifier, Style};
use std::sync::OnceLock;
use syntect::parsing::{ParseState, Scope, ScopeStack, ScopeStackOp, SyntaxReference, SyntaxSet};

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// The syntax for a language name or file extension (`sql`, `rust`, `py`); plain text if none.
pub fn syntax_for(lang: &str) -> &'static SyntaxReference {
    let set = syntaxes();
    set.find_syntax_by_token(lang)
        .or_else(|| set.find_syntax_by_extension(lang))
        .unwrap_or_else(|| set.find_syntax_plain_text())
}

/// What a scope stack is, as far as colour goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Plain,
    Keyword,
    Str,
    Number,
    Comment,
    Function,
    Type,
    Operator,
}

impl Token {
    pub fn style(self, t: &Theme) -> Style {
        match self {
            Token::Plain => Style::new().fg(t.fg),
            Token::Keyword => Style::new().fg(t.accent).add_modifier(Modifier::BOLD),
            Token::Str => Style::new().fg(t.ok),
            Token::Number => Style::new().fg(t.warn),
            Token::Comment => Style::new().fg(t.muted).add_modifier(Modifier::ITALIC),
            Token::Function => Style::new().fg(t.hint_key),
            Token::Type => Style::new().fg(t.border_focused),
            Token::Operator => Style::new().fg(t.hint_desc),
        }
    }
}

fn classify(stack: &ScopeStack) -> Token {
    // The innermost scope that says something decides.
    for s in stack.as_slice().iter().rev() {
        let name = s.build_string();
        let t = if name.starts_with("comment") {
            Token::Comment
        } else if name.starts_with("string") {
            Token::Str
        } else if name.starts_with("constant.numeric") {
            Token::Number
        } else if name.starts_with("keyword.operator") {
            Token::Operator
        } else if name.starts_with("keyword") || name.starts_with("storage.modifier") {
            Token::Keyword
        } else if name.starts_with("storage.type") || name.starts_with("support.type") {
            Token::Type
        } else if name.starts_with("support.function") || name.starts_with("entity.name.function") {
            Token::Function
        } else if name.starts_with("constant.language") {
            Token::Keyword
        } else {
            continue;
        };
        return t;
    }
    Token::Plain
}

/// Splits each line into (byte range, token). Lines are given without their newline.
pub fn highlight(lang: &str, lines: &[String]) -> Vec<Vec<(std::ops::Range<usize>, Token)>> {
    let syntax = syntax_for(lang);
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::with_capacity(lines.len());
    let mut with_nl = String::new();
    for line in lines {
        with_nl.clear();
        with_nl.push_str(line);
        with_nl.push('\n');
        let ops = state
            .parse_line(&with_nl, syntaxes())
            .unwrap_or_else(|_| Vec::<(usize, ScopeStackOp)>::new());
        let mut spans = Vec::new();
        let mut at = 0;
        for (pos, op) in ops {
            let pos = pos.min(line.len());
            if pos > at {
                spans.push((at..pos, classify(&stack)));
                at = pos;
            }
            let _ = stack.apply(&op);
        }
        if at < line.len() {
            spans.push((at..line.len(), classify(&stack)));
        }
        out.push(spans);
    }
    out
}

/// A scope by name, for tests.
pub fn scope(s: &str) -> Option<Scope> {
    Scope::new(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_keywords_strings_numbers_and_comments_are_told_apart() {
        let lines = vec!["SELECT 'a', 42 FROM t -- note".to_string()];
        let spans = &highlight("sql", &lines)[0];
        let token_at = |needle: &str| {
            let at = lines[0].find(needle).unwrap();
            spans
                .iter()
                .find(|(r, _)| r.contains(&at))
                .map(|(_, t)| *t)
                .unwrap()
        };
        assert_eq!(token_at("SELECT"), Token::Keyword);
        assert_eq!(token_at("'a'"), Token::Str);
        assert_eq!(token_at("42"), Token::Number);
        assert_eq!(token_at("-- note"), Token::Comment);
        assert_eq!(token_at("t "), Token::Plain);
    }
}
