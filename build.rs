//! Links the fieldkit binary at a fixed address (no PIE) on Linux: a 50 MB position-independent
//! executable spends a few milliseconds at every start applying relocations, and keeps the
//! relocated pages dirty for as long as it runs. Every `fieldkit` command and attach pays the
//! first cost; the long-lived server pays the second. The objects stay position-independent,
//! so this touches the final link only.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") && std::env::var("FIELDKIT_PIE").is_err() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=FIELDKIT_PIE");
}
