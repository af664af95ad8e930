/*!
Panic (`[[always]]` chord, the `panic` action, `fieldkit panic`): in one pass of the loop, with
nothing awaited, the vault is locked and its keys wiped, every pane is replaced by a fresh one of
its kind (a terminal keeps its program but loses its screen and scrollback), the saved scrollback
is deleted from state.db (overwritten, the write-ahead log emptied), the paste buffer, closed
panes and popups are dropped, every client's clipboard is cleared and its screen blanked, and the
sessions stay, showing a blank screen until a key is pressed. With `panic = "wipe"` the chat and
SQL history and the retrieval index are deleted too.

What it relies on: every freed block is zeroed (`crate::alloc`), so dropping a pane, a screen
or the vault leaves no copy behind; what is still in use after this is fresh and empty.
*/

use super::*;
use crate::config::PanicMode;

impl Server {
    /// Runs the panic; returns how long it took, from the call to every client's blank frame
    /// handed to its connection.
    pub(super) fn panic(&mut self) -> std::time::Duration {
        let t0 = std::time::Instant::now();
        // 1. The vault: keys and entries zeroize themselves when dropped.
        self.vault.unlocked = None;
        self.vault_forget_timers();
        // 2. Panes: each replaced by a fresh one of its kind; terminals keep their process.
        let shell = self.config.shell();
        for s in self.sessions.values_mut() {
            let ids: Vec<u64> = s.panes.keys().copied().collect();
            for id in ids {
                let Some(old) = s.panes.get(&id) else {
                    continue;
                };
                let kind = old.kind();
                let state = (kind == PaneKind::Term).then(|| old.save());
                if let Some(fresh) = fieldkit_panes::restore(state.as_ref(), kind, &shell) {
                    s.panes.insert(id, fresh);
                    self.greeted.remove(&id);
                }
            }
            s.popup = None;
            s.closed.clear();
            s.content.clear();
            s.bells.clear();
            s.veiled = true;
            s.dirty = true;
            s.changed = true;
        }
        for t in self.pty.terms.values_mut() {
            t.wipe();
        }
        self.paste = None;
        self.chat_forget();
        // The mesh worker stops: every listener and connection closes with it.
        self.mesh_stop();
        self.plugins_stop_all();
        // 3. Every client: clipboard emptied, retained screens dropped, a blank frame now.
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for name in &names {
            self.clipboard(name, "");
        }
        for c in self.clients.values_mut() {
            c.writer.forget();
            c.keys = KeyState::default();
        }
        self.render_all();
        let took = t0.elapsed();
        // 4. Disk: the saved scrollback (and with "wipe" the histories and the index), then
        // the layouts as they are now (fresh panes: no SQL text, no chat shown).
        let wipe = self.config.panic == PanicMode::Wipe;
        if let Some(store) = &self.store {
            if let Err(e) = store.wipe(wipe) {
                tracing::warn!("panic: the saved history was not all deleted: {e:#}");
            }
        }
        if wipe {
            for ext in ["db", "db-wal", "db-shm"] {
                let p = self.dirs.data.join(format!("index.{ext}"));
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!("panic: {} not deleted: {e}", p.display()),
                }
            }
        }
        self.save_all();
        // The fresh panes are greeted (a chat opens its history, a vault pane asks whether it
        // is locked) when their session shows again, after a key: see `greet_new_panes`.
        tracing::info!(
            micros = took.as_micros() as u64,
            wipe,
            "panic: vault locked, panes and scrollback wiped, screens blanked"
        );
        took
    }
}
