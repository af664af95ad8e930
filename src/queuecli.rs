/*!
`fieldkit queue ...`: the work queue from a shell, for scripts and hooks. Every command goes
through the running server (started if needed), which holds queue.db, so moves from scripts, panes
and workflows are judged in one place. Forms scripts rely on: `queue add TITLE` prints the new
id alone on stdout; `queue ls --json` prints an array of items with `id`, `title`, `state` and
`priority`; `queue claim ID` exits 0 only for the claimer that won. `import` reads our own export
or taskwarrior's `task export`, reports rows that do not read by their position, and keeps the
good ones.
*/

use crate::client;
use crate::engine::queue::duration::{parse_duration, parse_time, show, show_time};
use crate::engine::queue::{now_ms, Comment, Item, Move, Priority, SlaState, State, Transition};
use crate::paths::Dirs;
use crate::protocol::{Command, QueueCommand};
use anyhow::{anyhow, bail, Result};
use std::io::Read;

#[derive(clap::Subcommand, Debug)]
pub enum QueueCmd {
    /// Add an item; prints its id alone.
    Add {
        title: String,
        /// H, M or L.
        #[arg(long, default_value = "M")]
        priority: String,
        /// Due this long after now: 30m, 4h, 2d, 1h30m, 1w.
        #[arg(long, conflicts_with = "due")]
        sla: Option<String>,
        /// Due at this time (UTC): 2026-12-01 or 2026-12-01T14:00.
        #[arg(long)]
        due: Option<String>,
        /// Who may claim it (default: anyone).
        #[arg(long, default_value = "")]
        role: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long, default_value = "")]
        project: String,
        /// Markdown.
        #[arg(long, default_value = "")]
        body: String,
    },
    /// Items, most urgent first (open ones unless --all).
    Ls {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// Yours ([queue] me, default $USER).
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        overdue: bool,
        /// Completed and cancelled items too.
        #[arg(long)]
        all: bool,
    },
    /// One item with its history and comments.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Claim an item: exits 0 only for the claimer that won.
    Claim {
        id: String,
    },
    Start {
        id: String,
    },
    Done {
        id: String,
    },
    Block {
        id: String,
    },
    Cancel {
        id: String,
    },
    Comment {
        id: String,
        text: String,
    },
    /// Change an item's fields: each option given replaces that field.
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        /// Due this long from now.
        #[arg(long, conflicts_with_all = ["due", "no_due"])]
        sla: Option<String>,
        #[arg(long, conflicts_with = "no_due")]
        due: Option<String>,
        /// No due time any more.
        #[arg(long)]
        no_due: bool,
        #[arg(long)]
        role: Option<String>,
        /// Replace the tags (repeat for more).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        body: Option<String>,
    },
    /// Every item with history and comments, as JSON, to FILE or stdout.
    Export {
        file: Option<std::path::PathBuf>,
    },
    /// Items from a JSON export: fieldkit's own, or taskwarrior's `task export`.
    Import {
        file: std::path::PathBuf,
    },
}

fn ask(dirs: &Dirs, cmd: QueueCommand) -> Result<String> {
    let (code, out, err) = client::command(dirs, None, Command::Queue(cmd), true)?;
    if code != 0 {
        bail!("{}", err.trim_end());
    }
    Ok(out)
}

pub fn run(dirs: &Dirs, cmd: QueueCmd) -> Result<i32> {
    match cmd {
        QueueCmd::Add {
            title,
            priority,
            sla,
            due,
            role,
            tags,
            project,
            body,
        } => {
            let priority = Priority::parse(&priority)
                .ok_or_else(|| anyhow!("--priority {priority:?}: H, M or L"))?;
            let sla = sla
                .map(|s| parse_duration(&s))
                .transpose()
                .map_err(|e| anyhow!("--sla {e}"))?;
            let due = due
                .map(|d| parse_time(&d))
                .transpose()
                .map_err(|e| anyhow!("--due {e}"))?;
            print!(
                "{}",
                ask(
                    dirs,
                    QueueCommand::Add {
                        title,
                        body,
                        priority,
                        sla,
                        due,
                        role,
                        tags,
                        project,
                    },
                )?
            );
            Ok(0)
        }
        QueueCmd::Ls {
            json,
            state,
            role,
            tag,
            project,
            mine,
            overdue,
            all,
        } => {
            let state = state
                .map(|s| {
                    State::parse(&s).ok_or_else(|| {
                        anyhow!(
                            "--state {s:?}: one of {}",
                            State::ALL.map(|s| s.name()).join(", ")
                        )
                    })
                })
                .transpose()?;
            let mut items: Vec<Item> = serde_json::from_str(&ask(dirs, QueueCommand::List)?)
                .map_err(|e| anyhow!("the server's answer does not read: {e}"))?;
            let now = now_ms();
            let me = crate::config::load(dirs).config.queue.me();
            items.retain(|i| {
                (all || state.is_some() || i.state.is_open())
                    && state.is_none_or(|s| i.state == s)
                    && role.as_ref().is_none_or(|r| i.role.eq_ignore_ascii_case(r))
                    && tag
                        .as_ref()
                        .is_none_or(|t| i.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
                    && project
                        .as_ref()
                        .is_none_or(|p| i.project.eq_ignore_ascii_case(p))
                    && (!mine || i.assignee == me)
                    && (!overdue || i.sla(now) == SlaState::Overdue)
            });
            sort(&mut items, now);
            if json {
                println!("{}", serde_json::to_string(&items)?);
            } else {
                print!("{}", table(&items, now));
            }
            Ok(0)
        }
        QueueCmd::Show { id, json } => {
            let out = ask(dirs, QueueCommand::Show { id })?;
            if json {
                println!("{out}");
            } else {
                let item: Item = serde_json::from_str(&out)
                    .map_err(|e| anyhow!("the server's answer does not read: {e}"))?;
                print!("{}", detail(&item, now_ms()));
            }
            Ok(0)
        }
        QueueCmd::Claim { id } => moved(dirs, id, Move::Claim),
        QueueCmd::Start { id } => moved(dirs, id, Move::Start),
        QueueCmd::Done { id } => moved(dirs, id, Move::Done),
        QueueCmd::Block { id } => moved(dirs, id, Move::Block),
        QueueCmd::Cancel { id } => moved(dirs, id, Move::Cancel),
        QueueCmd::Comment { id, text } => {
            print!("{}", ask(dirs, QueueCommand::Comment { id, text })?);
            Ok(0)
        }
        QueueCmd::Edit {
            id,
            title,
            priority,
            sla,
            due,
            no_due,
            role,
            tags,
            project,
            body,
        } => {
            let priority = priority
                .map(|p| Priority::parse(&p).ok_or_else(|| anyhow!("--priority {p:?}: H, M or L")))
                .transpose()?;
            let due = match (sla, due) {
                (Some(s), _) => {
                    Some(now_ms() + parse_duration(&s).map_err(|e| anyhow!("--sla {e}"))?)
                }
                (None, Some(d)) => Some(parse_time(&d).map_err(|e| anyhow!("--due {e}"))?),
                (None, None) => None,
            };
            let edit = crate::engine::queue::ItemEdit {
                title,
                body,
                priority,
                role,
                tags: (!tags.is_empty()).then_some(tags),
                project,
                due,
                clear_due: no_due,
            };
            print!("{}", ask(dirs, QueueCommand::Edit { id, edit })?);
            Ok(0)
        }
        QueueCmd::Export { file } => {
            let out = ask(dirs, QueueCommand::Export)?;
            match file {
                Some(f) if f.as_os_str() != "-" => {
                    if f.exists() {
                        bail!("{} exists: it is never overwritten", f.display());
                    }
                    std::fs::write(&f, out + "\n").map_err(|e| anyhow!("{}: {e}", f.display()))?;
                }
                _ => println!("{out}"),
            }
            Ok(0)
        }
        QueueCmd::Import { file } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            }
            let (items, bad) =
                read_export(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            for b in &bad {
                eprintln!("{}: skipped {b}", file.display());
            }
            print!("{}", ask(dirs, QueueCommand::Import { items })?);
            Ok(0)
        }
    }
}

fn moved(dirs: &Dirs, id: String, mv: Move) -> Result<i32> {
    let (code, out, err) = client::command(
        dirs,
        None,
        Command::Queue(QueueCommand::Move { id, mv }),
        true,
    )?;
    print!("{out}");
    if code != 0 {
        eprintln!("fieldkit: {}", err.trim_end());
        return Ok(1);
    }
    Ok(0)
}

/// Most urgent first; ties oldest first.
pub fn sort(items: &mut [Item], now: i64) {
    items.sort_by(|a, b| {
        b.urgency(now)
            .total_cmp(&a.urgency(now))
            .then(a.created.cmp(&b.created))
    });
}

/// The SLA as a word and a ten-cell bar.
pub fn sla_cell(i: &Item, now: i64) -> String {
    match (i.sla(now), i.sla_used(now), i.due) {
        (SlaState::None, _, _) | (_, None, _) | (_, _, None) => String::new(),
        (s, Some(u), Some(due)) => {
            let cells = ((u.clamp(0.0, 1.0) * 10.0).round() as usize).min(10);
            let word = match s {
                SlaState::Overdue => format!("late {}", show(now - due)),
                _ => format!("{} left", show(due - now)),
            };
            format!("{}{} {word}", "█".repeat(cells), "·".repeat(10 - cells))
        }
    }
}

fn table(items: &[Item], now: i64) -> String {
    if items.is_empty() {
        return "no items (fieldkit queue add TITLE)\n".into();
    }
    let mut out =
        String::from("ID        PRI  URG  STATE        SLA                         TITLE\n");
    for i in items {
        out.push_str(&format!(
            "{:<8}  {:<3}  {:>4.1}  {:<11}  {:<26}  {}{}\n",
            &i.id[..8],
            i.priority.letter(),
            i.urgency(now),
            i.state.name(),
            sla_cell(i, now),
            i.title,
            if i.assignee.is_empty() {
                String::new()
            } else {
                format!("  @{}", i.assignee)
            }
        ));
    }
    out
}

fn detail(i: &Item, now: i64) -> String {
    let mut out = format!("{}\n{}\n\n", i.id, i.title);
    let mut row = |k: &str, v: String| {
        if !v.is_empty() {
            out.push_str(&format!("{k:<10} {v}\n"));
        }
    };
    row("state", i.state.name().into());
    row("priority", i.priority.letter().into());
    row("urgency", format!("{:.1}", i.urgency(now)));
    row("sla", sla_cell(i, now));
    row("due", i.due.map(show_time).unwrap_or_default());
    row("role", i.role.clone());
    row("assignee", i.assignee.clone());
    row("project", i.project.clone());
    row("tags", i.tags.join(", "));
    row("created", show_time(i.created));
    if !i.body.is_empty() {
        out.push_str(&format!("\n{}\n", i.body));
    }
    out.push_str("\nhistory\n");
    for t in &i.history {
        out.push_str(&format!(
            "  {}  {:<10} {} -> {}\n",
            show_time(t.at),
            t.who,
            t.from.map(State::name).unwrap_or("(new)"),
            t.to.name()
        ));
    }
    if !i.comments.is_empty() {
        out.push_str("\ncomments\n");
        for c in &i.comments {
            out.push_str(&format!("  {}  {}: {}\n", show_time(c.at), c.who, c.text));
        }
    }
    out
}

/// Items from a JSON array: fieldkit's own export, or taskwarrior's `task export` (told apart
/// by `description`). A row that does not read is reported by its position and skipped.
pub fn read_export(text: &str) -> Result<(Vec<Item>, Vec<String>), String> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(text.trim())
        .map_err(|e| format!("not a JSON array of items ({e})"))?;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (n, row) in rows.into_iter().enumerate() {
        let read = if row.get("description").is_some() {
            from_taskwarrior(&row)
        } else {
            serde_json::from_value::<Item>(row).map_err(|e| e.to_string())
        };
        match read {
            Ok(i) if !i.title.trim().is_empty() => good.push(i),
            Ok(_) => bad.push(format!("item {}: no title", n + 1)),
            Err(e) => bad.push(format!("item {}: {e}", n + 1)),
        }
    }
    Ok((good, bad))
}

/// One task of `task export`: uuid, description, status, priority, project, tags, entry,
/// modified, due, start, annotations.
fn from_taskwarrior(v: &serde_json::Value) -> Result<Item, String> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let time = |k: &str| -> Result<Option<i64>, String> {
        match v.get(k).and_then(|x| x.as_str()) {
            None => Ok(None),
            Some(t) => parse_time(t).map(Some).map_err(|e| format!("{k}: {e}")),
        }
    };
    let uuid = s("uuid").replace('-', "").to_ascii_lowercase();
    if uuid.len() != 32 || !uuid.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("uuid {:?} is not a UUID", s("uuid")));
    }
    let state = match s("status").as_str() {
        "pending" if v.get("start").is_some() => State::InProgress,
        "pending" => State::Queued,
        "waiting" => State::Blocked,
        "completed" => State::Completed,
        "deleted" => State::Cancelled,
        "recurring" => return Err("a recurring template (its instances are imported)".into()),
        other => return Err(format!("status {other:?} is not one taskwarrior writes")),
    };
    let created = time("entry")?.unwrap_or_else(now_ms);
    let tags = v
        .get("tags")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let comments = v
        .get("annotations")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .map(|x| Comment {
                    at: x
                        .get("entry")
                        .and_then(|e| e.as_str())
                        .and_then(|e| parse_time(e).ok())
                        .unwrap_or(created),
                    who: "taskwarrior".into(),
                    text: x
                        .get("description")
                        .and_then(|d| d.as_str())
                        .unwrap_or("")
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Item {
        id: uuid,
        title: s("description"),
        body: String::new(),
        state,
        priority: Priority::parse(&s("priority")).unwrap_or(Priority::Medium),
        role: String::new(),
        assignee: String::new(),
        tags,
        project: s("project"),
        created,
        updated: time("modified")?.unwrap_or(created),
        due: time("due")?,
        links: Vec::new(),
        history: vec![Transition {
            at: created,
            who: "taskwarrior".into(),
            from: None,
            to: state,
        }],
        comments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskwarrior_and_own_exports_read_with_bad_rows_reported() {
        let tw = r#"[
          {"id":1,"description":"Survey site 12","entry":"20261120T080000Z","modified":"20261121T090000Z",
           "status":"pending","uuid":"0d8b1c3e-7a4f-4c1e-9b2a-5f6e7d8c9a0b","priority":"H",
           "project":"north","tags":["gps","water"],"due":"20261201T120000Z",
           "annotations":[{"entry":"20261121T090000Z","description":"bring the drone"}],"urgency":9.1},
          {"id":2,"description":"Report","status":"pending","uuid":"not-a-uuid"},
          {"id":0,"description":"Old","status":"completed","uuid":"1d8b1c3e-7a4f-4c1e-9b2a-5f6e7d8c9a0b","entry":"20261101T000000Z","start":"20261102T000000Z"},
          {"description":"Weekly","status":"recurring","uuid":"2d8b1c3e-7a4f-4c1e-9b2a-5f6e7d8c9a0b"}
        ]"#;
        let (items, bad) = read_export(tw).expect("read");
        assert_eq!(items.len(), 2);
        let a = &items[0];
        assert_eq!(a.id, "0d8b1c3e7a4f4c1e9b2a5f6e7d8c9a0b");
        assert_eq!((a.state, a.priority), (State::Queued, Priority::High));
        assert_eq!(a.tags, vec!["gps", "water"]);
        assert_eq!(a.due, Some(parse_time("2026-12-01T12:00").expect("t")));
        assert_eq!(a.comments[0].text, "bring the drone");
        assert_eq!(items[1].state, State::Completed);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].starts_with("item 2: uuid"), "{bad:?}");
        assert!(bad[1].contains("recurring"), "{bad:?}");
        // Our own export reads back as itself.
        let own = serde_json::to_string(&items).expect("json");
        assert_eq!(read_export(&own).expect("own").0, items);
        assert!(read_export("{").is_err());
    }

    #[test]
    fn the_sla_cell_shows_a_bar_and_the_time_left_or_late() {
        let mut i = read_export(
            r#"[{"description":"x","status":"pending","uuid":"0d8b1c3e-7a4f-4c1e-9b2a-5f6e7d8c9a0b"}]"#,
        )
        .expect("read")
        .0
        .remove(0);
        i.created = 0;
        i.due = Some(10 * 3_600_000);
        assert_eq!(sla_cell(&i, 5 * 3_600_000), "█████····· 5h left");
        assert_eq!(sla_cell(&i, 12 * 3_600_000), "██████████ late 2h");
        i.due = None;
        assert_eq!(sla_cell(&i, 0), "");
    }
}
