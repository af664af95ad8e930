/*!
The vault engine: secrets, notes and files sealed in one file, in the server's process (pure
Rust, RustCrypto), never sent to a worker. `format` is the file byte for byte (Argon2id key
slots, AES-256-GCM chunks, padding, a decoy slot always present); `file` writes it atomically
and keeps the previous generation; `entries` what a vault holds. The server's vault service
(`server/vault.rs`) holds an unlocked vault; `fieldkit vault` derives keys in its own process,
so the server never stalls on Argon2id.
*/

pub mod attach;
pub mod entries;
pub mod file;
pub mod format;
pub mod generate;
pub mod import;
pub mod kdbx;
pub mod locked;
pub mod totp;

pub use format::{Kdf, Opened, VaultError};
