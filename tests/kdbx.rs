//! `vault import FILE.kdbx` against databases that real KeePass software wrote: pykeepass
//! (PyPI, in the tools' virtual environment that `./setup` makes) writes them at test time,
//! under each cipher and KDF that KDBX 4 files use, and reads each back itself before the real
//! fieldkit binary imports it. Damaged, truncated, wrong-password and KDBX 3.1 files must each
//! get a sentence and import nothing, never a panic.
mod common;

use common::{tools, with_stdin, Fk};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Writes the test databases into `sys.argv[1]`, each read back by pykeepass before it is used.
const MAKE: &str = r#"
import os, sys
try:
    from construct import Container
    from pykeepass import PyKeePass, create_database
    from pykeepass.kdbx_parsing import KDBX
    from pykeepass.kdbx_parsing.kdbx4 import kdf_uuids
    from pykeepass.pykeepass import BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD
except ImportError as e:
    sys.exit(f"pykeepass is missing from the tools' Python ({e}): run ./setup")

out = sys.argv[1]
PW = "field pass"
OTP = "otpauth://totp/Radio:ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=30&digits=6&issuer=Radio"


def fill(kp):
    root = kp.root_group
    camp = kp.add_group(root, "camp")
    north = kp.add_group(camp, "north")
    e = kp.add_entry(camp, "Radio net", "ops", "first pw", url="https://radio.example",
                     notes="two\nlines & <xml>", tags=["field", "radio"])
    e.set_custom_property("PIN", "0451", protect=True)
    e.set_custom_property("Channel", "7")
    e.otp = OTP
    e.save_history()
    e.password = "second pw"
    e.save_history()
    e.password = "s3cret pw"
    kp.add_entry(north, "Beacon", "b", "beacon pw")
    kp.add_entry(root, "Root note", "", "", notes="only a note")
    manual = kp.add_entry(camp, "Manual", "m", "manual pw")
    manual.add_attachment(kp.add_binary(b"pdf bytes"), "manual.pdf")
    old = kp.add_entry(root, "Old radio", "x", "binned pw")
    kp.trash_entry(old)


def aes_kdf(kp, rounds):
    # pykeepass has no setter for the KDF: its header's VariantDictionary is replaced (pykeepass
    # then derives the key with AES-KDF itself, on save and on the read back below).
    items = [("$UUID", 0x42, kdf_uuids["aeskdf"]), ("R", 0x05, rounds), ("S", 0x42, os.urandom(32))]
    d = Container()
    for i, (k, t, v) in enumerate(items):
        d[k] = Container(type=t, key=k, value=v, next_byte=0 if i == len(items) - 1 else 1)
    kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict = d


def make(name, cipher="aes256", kdf="argon2", minor=0, compress=True):
    path = os.path.join(out, name)
    kp = create_database(path, password=PW)
    fill(kp)
    h = kp.kdbx.header.value
    h.minor_version = minor
    h.dynamic_header.cipher_id.data = cipher
    h.dynamic_header.compression_flags.data.compression = compress
    if kdf == "argon2id":
        h.dynamic_header.kdf_parameters.data.dict["$UUID"].value = kdf_uuids["argon2id"]
    elif kdf == "aeskdf":
        aes_kdf(kp, 20000)
    kp.save()
    back = PyKeePass(path, password=PW)
    assert back.version == (4, minor), back.version
    assert back.encryption_algorithm == cipher
    assert back.kdbx.header.value.dynamic_header.kdf_parameters.data.dict["$UUID"].value == kdf_uuids[kdf]
    assert back.find_entries(title="Radio net", first=True).password == "s3cret pw"


def kdbx3(name):
    # pykeepass writes KDBX 3.1 with its own KDBX 3 structures (its create_database makes 4.0).
    kp = PyKeePass(BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD)
    kp.add_entry(kp.root_group, "Radio net", "ops", "s3cret pw")
    f = lambda k, v: Container(id=k, data=v)
    dyn = Container(
        cipher_id=f("cipher_id", "aes256"),
        compression_flags=f("compression_flags", Container(compression=True)),
        master_seed=f("master_seed", os.urandom(32)),
        transform_seed=f("transform_seed", os.urandom(32)),
        transform_rounds=f("transform_rounds", 6000),
        encryption_iv=f("encryption_iv", os.urandom(16)),
        protected_stream_key=f("protected_stream_key", os.urandom(32)),
        stream_start_bytes=f("stream_start_bytes", os.urandom(32)),
        protected_stream_id=f("protected_stream_id", "salsa20"),
        end=f("end", b"\r\n\r\n"),
    )
    header = Container(sig1=b"\x03\xd9\xa2\x9a", sig2=b"\x67\xfb\x4b\xb5",
                       minor_version=1, major_version=3, dynamic_header=dyn)
    path = os.path.join(out, name)
    kdbx = Container(header=Container(value=header), body=Container(payload=Container(xml=kp.tree)))
    KDBX.build_file(kdbx, path, password=PW, keyfile=None, transformed_key=None, decrypt=True)
    back = PyKeePass(path, password=PW)
    assert back.version == (3, 1), back.version
    assert back.find_entries(title="Radio net", first=True).password == "s3cret pw"


# pykeepass's defaults: AES-256-CBC, Argon2d (64 MiB, 2 lanes), gzip, KDBX 4.0.
make("argon2d.kdbx")
make("chacha20-argon2id-4.1.kdbx", cipher="chacha20", kdf="argon2id", minor=1, compress=False)
make("aeskdf.kdbx", kdf="aeskdf")
kdbx3("kdbx3.kdbx")
"#;

/// The databases, written once per run of this test binary.
fn databases() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // In the system's temp folder: the build folder is not the test user's to write in
        // (CI runs every test binary again as an ordinary user).
        let dir = tempfile::Builder::new()
            .prefix("kdbx")
            .tempdir()
            .expect("temp dir");
        let out = Command::new(tools::python())
            .args(["-c", MAKE])
            .arg(dir.path())
            .output()
            .expect("run the tools' python");
        assert!(
            out.status.success(),
            "pykeepass did not write the test databases (run ./setup if it is missing):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}

fn db(name: &str) -> PathBuf {
    databases().join(name)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// A new vault, unlocked in the server.
fn unlocked_vault(fk: &Fk) {
    for cmd in ["init", "unlock"] {
        let o = with_stdin(fk, &["vault", cmd, "--passphrase-fd", "0"], "vault pw\n");
        assert!(o.status.success(), "vault {cmd}: {}", text(&o));
    }
}

fn import(fk: &Fk, path: &Path, password: &str) -> Output {
    with_stdin(
        fk,
        &[
            "vault",
            "import",
            path.to_str().expect("utf-8 path"),
            "--file-passphrase-fd",
            "0",
        ],
        &format!("{password}\n"),
    )
}

fn get(fk: &Fk, title: &str, field: &str) -> String {
    fk.ok(&["vault", "get", title, "--field", field])
        .trim_end_matches('\n')
        .to_string()
}

/// The codes pyotp (pykeepass's own TOTP library) gives for `uri` now and a period either side.
fn pyotp_codes(uri: &str) -> Vec<String> {
    let out = Command::new(tools::python())
        .args([
            "-c",
            "import sys, time, pyotp\n\
             t = pyotp.parse_uri(sys.argv[1])\n\
             now = time.time()\n\
             print(' '.join(t.at(now + d) for d in (-30, 0, 30)))",
            uri,
        ])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn imports_kdbx4_databases_that_pykeepass_wrote() {
    let uri = "otpauth://totp/Radio:ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=30&digits=6&issuer=Radio";
    for name in ["argon2d.kdbx", "chacha20-argon2id-4.1.kdbx", "aeskdf.kdbx"] {
        let fk = Fk::new();
        unlocked_vault(&fk);
        let o = import(&fk, &db(name), "field pass");
        let said = text(&o);
        assert!(o.status.success(), "{name}: {said}");
        assert!(said.contains("imported 4 entries"), "{name}: {said}");
        // What was left out is said: the attachment, and the recycle bin's entry.
        assert!(
            said.contains("\"Manual\" in camp: left out its attachment (manual.pdf)"),
            "{name}: {said}"
        );
        assert!(
            said.contains("left out 1 entry in the recycle bin"),
            "{name}: {said}"
        );

        // Folders are the groups below the root group; the recycle bin's entry is not there.
        let ls = fk.ok(&["vault", "ls"]);
        let mut titles: Vec<&str> = ls.lines().collect();
        titles.sort();
        assert_eq!(
            titles,
            [
                "Root note",
                "camp/Manual",
                "camp/Radio net",
                "camp/north/Beacon"
            ],
            "{name}"
        );
        assert_eq!(get(&fk, "Radio net", "password"), "s3cret pw", "{name}");
        assert_eq!(get(&fk, "Radio net", "user"), "ops");
        assert_eq!(get(&fk, "Radio net", "url"), "https://radio.example");
        assert_eq!(get(&fk, "Radio net", "note"), "two\nlines & <xml>");
        assert_eq!(get(&fk, "Radio net", "folder"), "camp");
        assert_eq!(get(&fk, "Radio net", "tags"), "field, radio");
        // A protected custom field (decrypted from the inner ChaCha20 stream) and a plain one.
        assert_eq!(get(&fk, "Radio net", "PIN"), "0451");
        assert_eq!(get(&fk, "Radio net", "Channel"), "7");
        // The history's passwords, newest first.
        let history = get(&fk, "Radio net", "history");
        let old: Vec<&str> = history
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .collect();
        assert_eq!(old, ["second pw", "first pw"], "{name}: {history}");
        let code = get(&fk, "Radio net", "totp");
        let codes = pyotp_codes(uri);
        assert!(codes.contains(&code), "{name}: {code} not in {codes:?}");
        assert_eq!(get(&fk, "camp/north/Beacon", "password"), "beacon pw");
        assert_eq!(get(&fk, "Root note", "note"), "only a note");
        let binned = fk.run(&["vault", "get", "Old radio"]);
        assert!(
            !binned.status.success(),
            "{name}: the recycle bin's entry was imported"
        );
    }
}

#[test]
fn a_wrong_password_imports_nothing_and_csv_still_reads() {
    let fk = Fk::new();
    unlocked_vault(&fk);
    let o = import(&fk, &db("argon2d.kdbx"), "not the pass");
    let said = text(&o);
    assert!(!o.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "wrong password for {} (or the file is damaged)",
            db("argon2d.kdbx").display()
        )),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(fk.ok(&["vault", "ls"]).trim(), "");

    // The CSV path is untouched: a KeePassXC CSV export still imports.
    let csv = fk.path().join("export.csv");
    std::fs::write(
        &csv,
        "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n\
         \"Root/camp\",\"Radio net\",\"ops\",\"p\",\"\",\"\"\n",
    )
    .expect("csv");
    fk.ok(&["vault", "import", csv.to_str().expect("path")]);
    assert_eq!(get(&fk, "Radio net", "password"), "p");
}

#[test]
fn kdbx3_and_files_that_are_not_keepass_get_sentences() {
    let fk = Fk::new();
    unlocked_vault(&fk);
    // No password is asked for: the version is told first.
    let o = with_stdin(
        &fk,
        &[
            "vault",
            "import",
            db("kdbx3.kdbx").to_str().expect("path"),
            "--file-passphrase-fd",
            "0",
        ],
        "",
    );
    let said = text(&o);
    assert!(!o.status.success(), "{said}");
    assert!(said.contains("is a KDBX 3.1 database"), "{said}");
    assert!(
        said.contains("Database > Database Settings > Encryption > Format"),
        "{said}"
    );
    let fake = fk.path().join("notes.kdbx");
    std::fs::write(&fake, "just some text\n").expect("write");
    let o = import(&fk, &fake, "field pass");
    assert!(!o.status.success());
    assert!(
        text(&o).contains("is not a KeePass database"),
        "{}",
        text(&o)
    );
    assert_eq!(fk.ok(&["vault", "ls"]).trim(), "");
}

/// Every answer to a damaged file: not imported, one sentence, no panic.
fn refused(fk: &Fk, path: &Path, what: &str) -> String {
    let o = import(fk, path, "field pass");
    let said = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{what} was imported: {}", text(&o));
    assert!(!said.contains("panicked"), "{what}: {said}");
    assert!(said.starts_with("fieldkit: "), "{what}: {said}");
    said
}

#[test]
fn truncated_and_bit_flipped_files_get_sentences_not_panics() {
    let fk = Fk::new();
    unlocked_vault(&fk);
    // AES-KDF at 20,000 rounds: each try costs milliseconds, so many can be made.
    let good = std::fs::read(db("aeskdf.kdbx")).expect("read");
    let bad = fk.path().join("bad.kdbx");
    let mut cuts: Vec<usize> = (0..good.len()).step_by(41).collect();
    cuts.extend([good.len() - 1, good.len() - 36, good.len() - 40]);
    for cut in cuts {
        std::fs::write(&bad, &good[..cut]).expect("write");
        let said = refused(&fk, &bad, &format!("the first {cut} bytes"));
        assert!(
            said.contains("cut short") || said.contains("not a KeePass database"),
            "cut at {cut}: {said}"
        );
    }
    // Every byte of a KDBX 4 file is covered by the header's checksum or HMAC or a block's
    // HMAC: a flip anywhere is caught, and said as what it is.
    for at in (0..good.len()).step_by(29) {
        let mut flipped = good.clone();
        flipped[at] ^= 0x10;
        std::fs::write(&bad, &flipped).expect("write");
        let said = refused(&fk, &bad, &format!("a flip at byte {at}"));
        assert!(
            [
                "damaged",
                "cut short",
                "wrong password",
                "not a KeePass database",
                "KDBX",
                "does not know",
            ]
            .iter()
            .any(|s| said.contains(s)),
            "flip at {at}: {said}"
        );
    }
    // A flip in the body: the block's HMAC says so.
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 100] ^= 1;
    std::fs::write(&bad, &flipped).expect("write");
    let said = refused(&fk, &bad, "a flipped body");
    assert!(
        said.contains("is damaged: block 0 of its contents does not match its HMAC"),
        "{said}"
    );
    assert_eq!(fk.ok(&["vault", "ls"]).trim(), "");
}
