/*!
The workflows folder: every `*.toml` read, the good ones kept and each mistake told with its
file and line, then the checks that span files (a name used twice, an `on_error` naming a
workflow that is not loaded, a cycle of error workflows), which leave the rest loaded.
*/

use super::def::{parse, DefError, OnError, Workflow};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Every workflow file in `dir` (`*.toml`, not hidden): the good ones, and what is wrong with
/// the others. Names must be unique (a second file with a name is refused), and `workflow:`
/// targets must exist and not make a cycle.
pub fn load_dir(dir: &Path) -> (Vec<Workflow>, Vec<DefError>) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(_) => return (Vec::new(), Vec::new()),
    };
    files.sort();
    let mut good: Vec<Workflow> = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read(&f) {
            Ok(b) => match String::from_utf8(b) {
                Ok(t) => t,
                Err(_) => {
                    errors.push(DefError {
                        file: shown,
                        line: 1,
                        message: "not UTF-8 text".into(),
                    });
                    continue;
                }
            },
            Err(e) => {
                errors.push(DefError {
                    file: shown,
                    line: 1,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if text.len() > 1 << 20 {
            errors.push(DefError {
                file: shown,
                line: 1,
                message: "larger than 1 MiB; a workflow file is a few lines".into(),
            });
            continue;
        }
        match parse(&text, &shown, &stem) {
            Ok(w) => {
                if let Some(first) = good.iter().find(|g| g.name == w.name) {
                    errors.push(DefError {
                        file: shown,
                        line: 1,
                        message: format!(
                            "the name {:?} is taken by {}; this file is not loaded",
                            w.name, first.file
                        ),
                    });
                } else {
                    good.push(w);
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    cross_check(&mut good, &mut errors);
    (good, errors)
}

/// `workflow:NAME` targets must exist, and following them must not come back.
fn cross_check(good: &mut Vec<Workflow>, errors: &mut Vec<DefError>) {
    loop {
        let names: HashSet<String> = good.iter().map(|w| w.name.clone()).collect();
        let targets = |w: &Workflow| -> Vec<String> {
            w.steps
                .iter()
                .filter_map(|s| s.on_error.clone())
                .chain(w.on_error.clone())
                .filter_map(|o| match o {
                    OnError::Workflow(n) => Some(n),
                    OnError::Step(_) => None,
                })
                .collect()
        };
        let mut bad: Option<(usize, String)> = None;
        'outer: for (i, w) in good.iter().enumerate() {
            for t in targets(w) {
                if !names.contains(&t) {
                    bad = Some((
                        i,
                        format!("on_error names workflow {t:?}, which is not loaded"),
                    ));
                    break 'outer;
                }
            }
            // Depth-first from w: reaching w again is a cycle.
            let mut stack = targets(w);
            let mut seen = HashSet::new();
            while let Some(n) = stack.pop() {
                if n == w.name {
                    bad = Some((
                        i,
                        format!("on_error makes a cycle of workflows back to {:?}", w.name),
                    ));
                    break 'outer;
                }
                if seen.insert(n.clone()) {
                    if let Some(x) = good.iter().find(|x| x.name == n) {
                        stack.extend(targets(x));
                    }
                }
            }
        }
        match bad {
            None => return,
            Some((i, message)) => {
                let w = good.remove(i);
                let line = std::fs::read_to_string(&w.file)
                    .ok()
                    .and_then(|t| {
                        t.lines()
                            .position(|l| l.contains("workflow:"))
                            .map(|p| p + 1)
                    })
                    .unwrap_or(1);
                errors.push(DefError {
                    file: w.file,
                    line,
                    message,
                });
            }
        }
    }
}
