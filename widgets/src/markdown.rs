/*!
Markdown as the chat shows it: the subset models write (headings, lists, quotes, rules,
emphasis, inline code, fenced code blocks), wrapped to a width, coloured by the theme.

Rendering is a pure function from text and width to styled lines, so the chat pane can cache
it and tests can read it. Text is streaming in while it is drawn, so an unclosed fence or `**`
simply runs to the end rather than failing. Code blocks are coloured by syntect through
`code::highlight` and are not wrapped (a wrapped command is a wrong command); each block is
also returned whole so it can be copied. Control characters never reach the screen.
*/

use crate::code::highlight;
use crate::table::text_width;
use crate::Theme;
use ratatui::style::{Modifier, Style};
use unicode_width::UnicodeWidthChar;

/// One screen line: styled pieces of text.
pub type MdLine = Vec<(String, Style)>;

/// A fenced code block: its language and text.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeBlock {
    pub lang: String,
    pub text: String,
}

/// Lines for `text` at `width` columns, and the code blocks in it.
pub fn render(text: &str, width: u16, t: &Theme) -> (Vec<MdLine>, Vec<CodeBlock>) {
    let width = width.max(8) as usize;
    let base = Style::new().fg(t.fg);
    let mut out: Vec<MdLine> = Vec::new();
    let mut blocks = Vec::new();
    let lines: Vec<String> = text.lines().map(clean).collect();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            let lang = lang.trim().to_string();
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i].clone());
                i += 1;
            }
            i += 1; // the closing fence (or the end)
            let label = if lang.is_empty() { "code" } else { &lang };
            out.push(vec![(format!("╭─ {label} "), Style::new().fg(t.muted))]);
            let spans = highlight(if lang.is_empty() { "txt" } else { &lang }, &code);
            for (n, l) in code.iter().enumerate() {
                let mut row: MdLine = vec![("│ ".into(), Style::new().fg(t.muted))];
                let toks = spans.get(n).cloned().unwrap_or_default();
                if toks.is_empty() {
                    row.push((l.clone(), base));
                } else {
                    for (r, tok) in toks {
                        if let Some(s) = l.get(r) {
                            row.push((s.to_string(), tok.style(t)));
                        }
                    }
                }
                out.push(clip(row, width));
            }
            out.push(vec![("╰─".into(), Style::new().fg(t.muted))]);
            blocks.push(CodeBlock {
                lang,
                text: code.join("\n"),
            });
            continue;
        }
        i += 1;
        if trimmed.is_empty() {
            out.push(Vec::new());
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let style = Style::new().fg(t.accent).add_modifier(Modifier::BOLD);
            let spans = inline(trimmed[hashes..].trim(), style, t);
            out.extend(wrap(spans, width, "", ""));
            continue;
        }
        if trimmed == "---" || trimmed == "***" || trimmed == "___" {
            out.push(vec![("─".repeat(width.min(40)), Style::new().fg(t.muted))]);
            continue;
        }
        if let Some(q) = trimmed.strip_prefix('>') {
            let spans = inline(q.trim_start(), Style::new().fg(t.muted), t);
            out.extend(wrap(spans, width, "▎ ", "▎ "));
            continue;
        }
        let indent = " ".repeat(((line.len() - trimmed.len()) / 2).min(4) * 2);
        if let Some(rest) = ["- ", "* ", "+ "]
            .iter()
            .find_map(|b| trimmed.strip_prefix(b))
        {
            let first = format!("{indent}• ");
            let hang = " ".repeat(text_width(&first));
            out.extend(wrap(inline(rest, base, t), width, &first, &hang));
            continue;
        }
        let digits = trimmed.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && digits < 4 && trimmed[digits..].starts_with(". ") {
            let first = format!("{indent}{}", &trimmed[..digits + 2]);
            let hang = " ".repeat(text_width(&first));
            out.extend(wrap(
                inline(&trimmed[digits + 2..], base, t),
                width,
                &first,
                &hang,
            ));
            continue;
        }
        out.extend(wrap(inline(trimmed, base, t), width, "", ""));
    }
    (out, blocks)
}

/// Control characters out (tabs become spaces): model output is untrusted bytes.
fn clean(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '\t' => vec![' ', ' ', ' ', ' '],
            c if c.is_control() => vec!['�'],
            c => vec![c],
        })
        .collect()
}

/// Splits text into styled spans: `**bold**`, `*italic*`, `` `code` ``.
fn inline(s: &str, base: Style, t: &Theme) -> MdLine {
    let mut out: MdLine = Vec::new();
    let mut cur = String::new();
    let (mut bold, mut italic, mut code) = (false, false, false);
    let style = |bold: bool, italic: bool, code: bool| {
        if code {
            return Style::new().fg(t.hint_key);
        }
        let mut st = base;
        if bold {
            st = st.add_modifier(Modifier::BOLD);
        }
        if italic {
            st = st.add_modifier(Modifier::ITALIC);
        }
        st
    };
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let flush = |cur: &mut String, out: &mut MdLine, st: Style| {
        if !cur.is_empty() {
            out.push((std::mem::take(cur), st));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            flush(&mut cur, &mut out, style(bold, italic, code));
            code = !code;
            i += 1;
            continue;
        }
        if !code && c == '*' && chars.get(i + 1) == Some(&'*') {
            flush(&mut cur, &mut out, style(bold, italic, code));
            bold = !bold;
            i += 2;
            continue;
        }
        if !code && c == '*' {
            let next_ok = chars.get(i + 1).is_some_and(|n| !n.is_whitespace());
            let prev_ok = i > 0 && !chars[i - 1].is_whitespace();
            if (!italic && next_ok) || (italic && prev_ok) {
                flush(&mut cur, &mut out, style(bold, italic, code));
                italic = !italic;
                i += 1;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    flush(&mut cur, &mut out, style(bold, italic, code));
    out
}

/// Word-wraps spans to `width`, starting the first line with `first` and the others with
/// `hang`.
fn wrap(spans: MdLine, width: usize, first: &str, hang: &str) -> Vec<MdLine> {
    let mut lines = Vec::new();
    let mut line: MdLine = Vec::new();
    let mut col = 0;
    let start = |prefix: &str, line: &mut MdLine, col: &mut usize| {
        if !prefix.is_empty() {
            line.push((prefix.to_string(), Style::default()));
        }
        *col = text_width(prefix);
    };
    start(first, &mut line, &mut col);
    let left = text_width(hang);
    for (text, style) in spans {
        // Words with the spaces that follow them.
        let mut word = String::new();
        let mut words = Vec::new();
        for ch in text.chars() {
            word.push(ch);
            if ch == ' ' {
                words.push(std::mem::take(&mut word));
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        for w in words {
            let ww = text_width(w.trim_end());
            if col + ww > width && col > left {
                lines.push(std::mem::take(&mut line));
                start(hang, &mut line, &mut col);
                if w.trim().is_empty() {
                    continue;
                }
            }
            // A word longer than the line is cut into pieces.
            let mut piece = String::new();
            for ch in w.chars() {
                let cw = ch.width().unwrap_or(0);
                if col + cw > width && ch == ' ' {
                    // A space at the end of a full line is not drawn (it would not fit).
                    continue;
                }
                if col + cw > width {
                    line.push((std::mem::take(&mut piece), style));
                    lines.push(std::mem::take(&mut line));
                    start(hang, &mut line, &mut col);
                }
                piece.push(ch);
                col += cw;
            }
            line.push((piece, style));
        }
    }
    lines.push(line);
    lines
}

/// Cuts a line at `width` columns (code is not wrapped), marking the cut with `…`.
fn clip(line: MdLine, width: usize) -> MdLine {
    let mut out = Vec::new();
    let mut col = 0;
    for (s, st) in line {
        let w = text_width(&s);
        if col + w <= width {
            col += w;
            out.push((s, st));
            continue;
        }
        let mut kept = String::new();
        for ch in s.chars() {
            let cw = ch.width().unwrap_or(0);
            if col + cw + 1 > width {
                break;
            }
            kept.push(ch);
            col += cw;
        }
        kept.push('…');
        out.push((kept, st));
        break;
    }
    out
}

/// The plain text of a line (tests, capture).
pub fn plain(line: &MdLine) -> String {
    line.iter().map(|(s, _)| s.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(md: &str, w: u16) -> Vec<String> {
        render(md, w, &Theme::default())
            .0
            .iter()
            .map(|l| plain(l).trim_end().to_string())
            .collect()
    }

    #[test]
    fn blocks_lists_headings_and_wrap() {
        let md = "# Plan\n\nSome **bold** and *it* and `ls -la` words that wrap here.\n\n- one\n- two items long enough to wrap\n1. first\n> quoted\n\n```sh\nls -la | grep x\n```\nafter";
        let lines = text(md, 24);
        assert_eq!(
            lines,
            vec![
                "Plan",
                "",
                "Some bold and it and ls",
                "-la words that wrap",
                "here.",
                "",
                "• one",
                "• two items long enough",
                "  to wrap",
                "1. first",
                "▎ quoted",
                "",
                "╭─ sh",
                "│ ls -la | grep x",
                "╰─",
                "after",
            ]
        );
        let (_, blocks) = render(md, 24, &Theme::default());
        assert_eq!(
            blocks,
            vec![CodeBlock {
                lang: "sh".into(),
                text: "ls -la | grep x".into()
            }]
        );
    }

    #[test]
    fn emphasis_is_styled_and_unclosed_runs_on() {
        let t = Theme::default();
        let (lines, _) = render("a **b** `c`", 40, &t);
        let bold = lines[0].iter().find(|(s, _)| s == "b").unwrap();
        assert!(bold.1.add_modifier.contains(Modifier::BOLD));
        let code = lines[0].iter().find(|(s, _)| s == "c").unwrap();
        assert_eq!(code.1.fg, Some(t.hint_key));
        // Streaming: a fence not closed yet is still code.
        let (lines, blocks) = render("```py\nprint(1)", 40, &t);
        assert_eq!(plain(&lines[1]), "│ print(1)");
        assert_eq!(blocks[0].text, "print(1)");
    }

    /// The fuzz target's property on every test run: random model output of every shape
    /// renders without a panic and without a control character.
    #[test]
    fn random_output_renders_clean() {
        let pieces = [
            "```",
            "```rs\n",
            "**",
            "*",
            "`",
            "# ",
            "- ",
            "1. ",
            "> ",
            "\n",
            "\t",
            "\u{1b}[2J",
            "\r",
            "漢字",
            "e\u{301}",
            " ",
            "word",
            "---",
            "\u{0}",
        ];
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..(rng % 40) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                text.push_str(pieces[(rng % pieces.len() as u64) as usize]);
            }
            let width = (rng % 50) as u16;
            let (lines, _) = render(&text, width, &Theme::default());
            for l in &lines {
                assert!(!plain(l).chars().any(|c| c.is_control()), "{text:?}");
            }
        }
    }

    #[test]
    fn control_bytes_never_reach_the_screen_and_long_words_are_cut() {
        let lines = text("bell\u{7} esc\u{1b}[2J", 40);
        assert_eq!(lines, vec!["bell� esc�[2J"]);
        let lines = text(&"x".repeat(30), 10);
        assert_eq!(lines, vec!["xxxxxxxxxx", "xxxxxxxxxx", "xxxxxxxxxx"]);
        // No line is wider than asked for, trailing spaces included.
        let (lines, _) = render(&"ab cd ".repeat(20), 9, &Theme::default());
        assert!(
            lines.iter().all(|l| text_width(&plain(l)) <= 9),
            "{lines:?}"
        );
        // Code is clipped, not wrapped.
        let lines = text(&format!("```\n{}\n```", "y".repeat(30)), 10);
        assert_eq!(lines[1], "│ yyyyyyy…");
    }
}
