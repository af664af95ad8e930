/*!
Files in the vault, of any size, streamed in 64 KiB chunks and never whole in memory. Each file
is sealed on its own, beside the vault (`data/vault-files/ID.fkf`), under a random key that only
the vault's entry holds (so inside the vault's ciphertext); the vault file itself stays small and
quick to reseal. The chunks are age's STREAM construction, the same as the vault's regions:
AES-256-GCM, nonce = 11-byte big-endian counter and a last-chunk flag, AAD = the file's id, so a
chunk changed, moved, dropped or taken from another file is refused. The last chunk is padded
(0x80 then zeros, ISO/IEC 7816-4) to a whole chunk, so a sealed file shows its size only to
64 KiB.

Speed (benches/vault.rs, against age): chunks are independent, so a batch of 32 is sealed or
opened on two threads; sealing asks the kernel to start writing each batch as the next is
sealed (the sync at the end then has little left); opening hands each batch to a writer thread
while the next is decrypted. Memory stays at two batches (4 MiB) whatever the file's size. On
this project's machines RustCrypto's GHASH is most of the time of an open (a profile shows
polyval's multiply at 43%); ChaCha20-Poly1305 measured only 8% faster per core here, so the
vault keeps one AEAD throughout.

```text
offset size  field
     0    8  magic "FKFILE\0\0"
     8    2  format version (1), little-endian
    10   16  id (random; also the file's name)
    26       chunks: 64 KiB + 16-byte tag each, the last flagged
```
*/

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"FKFILE\0\0";
const VERSION: u16 = 1;
const HEAD: usize = 8 + 2 + 16;
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// Chunks read, sealed or opened, and written at a time (2 MiB): few system calls, and work
/// for every core.
const BATCH: usize = 32;

/// Runs `f(i, chunk)` on each `CHUNK + TAG` slot of `batch`, split across up to two threads
/// (AES-GCM is per chunk, so chunks are independent); the first error wins.
fn crypt_batch<E: Send>(
    batch: &mut [u8],
    f: impl Fn(usize, &mut [u8]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let slots = batch.len() / (CHUNK + TAG);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2);
    if threads < 2 || slots < 2 {
        return batch
            .chunks_mut(CHUNK + TAG)
            .enumerate()
            .try_for_each(|(i, c)| f(i, c));
    }
    let half = slots.div_ceil(2);
    let (a, b) = batch.split_at_mut(half * (CHUNK + TAG));
    let f = &f;
    std::thread::scope(|sc| {
        let other = sc.spawn(move || {
            b.chunks_mut(CHUNK + TAG)
                .enumerate()
                .try_for_each(|(i, c)| f(half + i, c))
        });
        let mine = a
            .chunks_mut(CHUNK + TAG)
            .enumerate()
            .try_for_each(|(i, c)| f(i, c));
        // A panic in the other thread cannot happen (no indexing beyond the slot); if it did,
        // it is raised here.
        let theirs = other
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        mine.and(theirs)
    })
}

/// A sealed file's id and key, as the entry keeps them (hex).
pub struct Sealed {
    pub id: String,
    pub key: Zeroizing<String>,
    pub size: u64,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Where the sealed file of `id` lives under the vault's folder of files.
pub fn path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.fkf"))
}

fn nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = last as u8;
    n
}

/// Reads until `buf` is full or the source ends; how many bytes came.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Seals everything `src` gives into a new file in `dir`, written to a temporary name, synced,
/// then renamed; nothing is left behind on an error.
pub fn seal(src: &mut impl Read, dir: &Path) -> std::io::Result<Sealed> {
    std::fs::create_dir_all(dir)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut()).map_err(|e| std::io::Error::other(e.to_string()))?;
    let id_hex = hex(&id);
    let dst = path_of(dir, &id_hex);
    let tmp = dst.with_extension("tmp");
    let written = (|| -> std::io::Result<u64> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut out = f;
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&id);
        out.write_all(&head)?;
        let cipher = Aes256Gcm::new(key.as_ref().into());
        // A batch of chunks at a time: read, sealed in parallel in place, written in one go.
        let mut buf = Zeroizing::new(vec![0u8; BATCH * (CHUNK + TAG)]);
        let (mut size, mut counter, mut done) = (0u64, 0u64, false);
        while !done {
            let mut filled = 0;
            while filled < BATCH && !done {
                let slot = &mut buf[filled * (CHUNK + TAG)..][..CHUNK];
                let n = read_full(src, slot)?;
                size += n as u64;
                if n < CHUNK {
                    // The last chunk: padded to a whole one (0x80 then zeros).
                    slot[n] = 0x80;
                    slot[n + 1..].fill(0);
                    done = true;
                }
                filled += 1;
            }
            let base = counter;
            crypt_batch(&mut buf[..filled * (CHUNK + TAG)], |i, chunk| {
                let last = done && i + 1 == filled;
                let (data, tag) = chunk.split_at_mut(CHUNK);
                let t = cipher
                    .encrypt_in_place_detached(
                        Nonce::from_slice(&nonce(base + i as u64, last)),
                        &id,
                        data,
                    )
                    .map_err(|_| ())?;
                tag.copy_from_slice(&t);
                Ok::<(), ()>(())
            })
            .map_err(|_| std::io::Error::other("encryption failed"))?;
            out.write_all(&buf[..filled * (CHUNK + TAG)])?;
            counter += filled as u64;
            // Start writing this batch to the disk now, while the next is sealed, so the sync
            // at the end has little left to wait for (a hint: failure changes nothing).
            {
                use std::os::fd::AsRawFd;
                let len = (filled * (CHUNK + TAG)) as i64;
                let end = HEAD as i64 + counter as i64 * (CHUNK + TAG) as i64;
                // SAFETY: a plain system call on a descriptor this function owns.
                unsafe {
                    libc::sync_file_range(
                        out.as_raw_fd(),
                        end - len,
                        len,
                        libc::SYNC_FILE_RANGE_WRITE,
                    );
                }
            }
        }
        out.sync_all()?;
        Ok(size)
    })();
    match written {
        Ok(size) => {
            std::fs::rename(&tmp, &dst)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(Sealed {
                id: id_hex,
                key: Zeroizing::new(hex(key.as_ref())),
                size,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Why a sealed file did not open.
#[derive(Debug)]
pub enum OpenError {
    Io(std::io::Error),
    NotOurs(String),
    Damaged(u64),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::NotOurs(why) => f.write_str(why),
            OpenError::Damaged(c) => write!(
                f,
                "the sealed file is damaged at chunk {c} (changed, moved, cut short or from another file)"
            ),
        }
    }
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// Opens the sealed file `id` with `key` (hex, as the entry keeps them) and writes its contents
/// to `out`, chunk by chunk; every chunk is checked before it is written.
pub fn open(
    dir: &Path,
    id: &str,
    key: &str,
    out: &mut (impl Write + Send),
) -> Result<u64, OpenError> {
    let bad = |why: &str| OpenError::NotOurs(why.to_string());
    let id_bytes: [u8; 16] = unhex(id).ok_or_else(|| bad("the entry's file id does not read"))?;
    let key: Zeroizing<[u8; 32]> =
        Zeroizing::new(unhex(key).ok_or_else(|| bad("the entry's file key does not read"))?);
    let path = path_of(dir, id);
    let mut f = std::fs::File::open(&path).map_err(|e| {
        bad(&format!(
            "the sealed file {} is missing ({e})",
            path.display()
        ))
    })?;
    let len = f.metadata()?.len();
    let mut head = [0u8; HEAD];
    if read_full(&mut f, &mut head)? < HEAD || &head[..8] != MAGIC {
        return Err(bad("not a fieldkit sealed file"));
    }
    if u16::from_le_bytes([head[8], head[9]]) != VERSION {
        return Err(bad("a sealed file of another format version"));
    }
    if head[10..] != id_bytes {
        return Err(bad("the sealed file is not the one the entry names"));
    }
    let body = len - HEAD as u64;
    let whole = (CHUNK + TAG) as u64;
    if body == 0 || !body.is_multiple_of(whole) {
        return Err(OpenError::Damaged(body / whole));
    }
    let n = body / whole;
    let cipher = Aes256Gcm::new(key.as_ref().into());
    // Two buffers in turn: a writer thread writes one batch out while the next is read and
    // decrypted, so the page-cache copy and the crypto overlap.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Zeroizing<Vec<u8>>, usize)>(1);
    let (free_tx, free_rx) = std::sync::mpsc::sync_channel::<Zeroizing<Vec<u8>>>(2);
    for _ in 0..2 {
        let _ = free_tx.send(Zeroizing::new(vec![0u8; BATCH * (CHUNK + TAG)]));
    }
    let mut size = 0u64;
    std::thread::scope(|sc| -> Result<(), OpenError> {
        let writer = sc.spawn(move || -> std::io::Result<()> {
            for (buf, keep) in full_rx {
                // Each chunk's data from where it lies (no copy to close the gaps the tags
                // leave), `keep` bytes in all.
                let mut left = keep;
                for chunk in buf.chunks(CHUNK + TAG) {
                    if left == 0 {
                        break;
                    }
                    let n = left.min(CHUNK);
                    out.write_all(&chunk[..n])?;
                    left -= n;
                }
                let _ = free_tx.send(buf);
            }
            out.flush()
        });
        let decrypted = (|| -> Result<(), OpenError> {
            let mut at = 0u64;
            while at < n {
                let k = (n - at).min(BATCH as u64) as usize;
                // No buffer back means the writer stopped: its error is reported below.
                let Ok(mut buf) = free_rx.recv() else {
                    return Ok(());
                };
                let batch = &mut buf[..k * (CHUNK + TAG)];
                if read_full(&mut f, batch)? < batch.len() {
                    return Err(OpenError::Damaged(at));
                }
                let base = at;
                crypt_batch(batch, |i, chunk| {
                    let (data, tag) = chunk.split_at_mut(CHUNK);
                    let i = base + i as u64;
                    cipher
                        .decrypt_in_place_detached(
                            Nonce::from_slice(&nonce(i, i + 1 == n)),
                            &id_bytes,
                            data,
                            Tag::from_slice(tag),
                        )
                        .map_err(|_| i)
                })
                .map_err(OpenError::Damaged)?;
                // What of the batch is the file: every chunk's data, the last one's unpadded.
                let mut keep = k * CHUNK;
                if at + k as u64 == n {
                    let last = &batch[(k - 1) * (CHUNK + TAG)..][..CHUNK];
                    match last.iter().rposition(|b| *b != 0) {
                        Some(p) if last[p] == 0x80 => keep = (k - 1) * CHUNK + p,
                        _ => return Err(OpenError::Damaged(n - 1)),
                    }
                }
                size += keep as u64;
                if full_tx.send((buf, keep)).is_err() {
                    return Ok(());
                }
                at += k as u64;
            }
            Ok(())
        })();
        drop(full_tx);
        let written = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        decrypted?;
        written.map_err(OpenError::Io)
    })?;
    Ok(size)
}

/// Opens the sealed file into `dest`: written beside it under a temporary name and renamed only
/// when every chunk checked, so a damaged file never leaves half a file at `dest`.
pub fn export(dir: &Path, id: &str, key: &str, dest: &Path) -> Result<u64, OpenError> {
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(".fieldkit-tmp");
    let tmp = PathBuf::from(tmp);
    let res = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // Written a chunk at a time already: no buffer (and no copy) between.
        let mut f = f;
        let n = open(dir, id, key, &mut f)?;
        f.sync_all()?;
        Ok(n)
    })();
    match res {
        Ok(n) => {
            std::fs::rename(&tmp, dest)?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_and_around_chunk_boundaries() {
        let dir = tempfile::tempdir().expect("dir");
        // Around chunk boundaries, and around batch boundaries (sealed and opened in parallel).
        for n in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 17,
            BATCH * CHUNK - 1,
            BATCH * CHUNK,
            2 * BATCH * CHUNK + 17,
        ] {
            let d = data(n);
            let s = seal(&mut &d[..], dir.path()).expect("seal");
            assert_eq!(s.size, n as u64);
            let sealed = std::fs::metadata(path_of(dir.path(), &s.id))
                .expect("meta")
                .len();
            assert_eq!(sealed as usize, HEAD + (n / CHUNK + 1) * (CHUNK + TAG));
            let mut back = Vec::new();
            assert_eq!(
                open(dir.path(), &s.id, &s.key, &mut back).expect("open"),
                n as u64
            );
            assert!(back == d, "{n} bytes round trip");
        }
    }

    #[test]
    fn damage_anywhere_is_refused_and_export_leaves_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let d = data(2 * CHUNK + 5);
        let s = seal(&mut &d[..], dir.path()).expect("seal");
        let p = path_of(dir.path(), &s.id);
        let good = std::fs::read(&p).expect("read");
        let dest = dir.path().join("out.bin");
        // A flipped bit in each chunk, the header, and in each tag.
        for at in [
            0,
            9,
            12,
            HEAD,
            HEAD + CHUNK + 3,
            HEAD + CHUNK + TAG + 1,
            good.len() - 1,
        ] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            std::fs::write(&p, &bad).expect("write");
            let e = export(dir.path(), &s.id, &s.key, &dest);
            assert!(e.is_err(), "a flip at {at} was accepted");
            assert!(!dest.exists() && !dir.path().join("out.bin.fieldkit-tmp").exists());
        }
        // Truncated at each chunk boundary, and chunks swapped.
        let whole = CHUNK + TAG;
        for cut in [HEAD, HEAD + whole, HEAD + 2 * whole] {
            std::fs::write(&p, &good[..cut]).expect("write");
            assert!(
                export(dir.path(), &s.id, &s.key, &dest).is_err(),
                "cut at {cut}"
            );
        }
        let mut swapped = good[..HEAD].to_vec();
        swapped.extend_from_slice(&good[HEAD + whole..HEAD + 2 * whole]);
        swapped.extend_from_slice(&good[HEAD..HEAD + whole]);
        swapped.extend_from_slice(&good[HEAD + 2 * whole..]);
        std::fs::write(&p, &swapped).expect("write");
        assert!(export(dir.path(), &s.id, &s.key, &dest).is_err());
        // A flip in the second batch of a bigger file names its chunk.
        let big = data(BATCH * CHUNK + 3 * CHUNK);
        let s2 = seal(&mut &big[..], dir.path()).expect("seal");
        let p2 = path_of(dir.path(), &s2.id);
        let mut bytes = std::fs::read(&p2).expect("read");
        bytes[HEAD + (BATCH + 1) * whole + 5] ^= 4;
        std::fs::write(&p2, &bytes).expect("write");
        assert!(matches!(
            open(dir.path(), &s2.id, &s2.key, &mut std::io::sink()),
            Err(OpenError::Damaged(c)) if c == BATCH as u64 + 1
        ));
        // The wrong key.
        std::fs::write(&p, &good).expect("write");
        let other = "00".repeat(32);
        assert!(matches!(
            export(dir.path(), &s.id, &other, &dest),
            Err(OpenError::Damaged(0))
        ));
        assert_eq!(
            export(dir.path(), &s.id, &s.key, &dest).expect("export"),
            d.len() as u64
        );
        assert!(std::fs::read(&dest).expect("dest") == d);
    }
}
