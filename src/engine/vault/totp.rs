/*!
One-time codes (RFC 6238 TOTP over RFC 4226 HOTP), as authenticator apps show them. An entry
keeps what the site gave: a base32 secret (spaces and case ignored) or an `otpauth://totp/...`
URI with its own period, digits and algorithm. The code is computed when asked, from the wall
clock, and never stored. HMAC is RustCrypto's `hmac`; nothing here is hand-rolled crypto.
*/

use hmac::{Hmac, KeyInit, Mac};
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// What a code is made from.
#[derive(Debug, PartialEq, Eq)]
pub struct Totp {
    key: Zeroizing<Vec<u8>>,
    pub period: u64,
    pub digits: u32,
    pub algorithm: Algorithm,
}

/// A code and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub seconds_left: u64,
    pub period: u64,
}

impl Totp {
    /// Reads a base32 secret or an otpauth URI; the error says which part is wrong.
    pub fn parse(s: &str) -> Result<Totp, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("otpauth://") {
            let (kind, rest) = rest.split_once('/').unwrap_or((rest, ""));
            if !kind.eq_ignore_ascii_case("totp") {
                return Err(format!(
                    "an otpauth URI of type {kind:?}: only time-based (totp) codes are supported"
                ));
            }
            let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
            let mut t = Totp {
                key: Zeroizing::new(Vec::new()),
                period: 30,
                digits: 6,
                algorithm: Algorithm::Sha1,
            };
            let mut secret = None;
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match k.to_ascii_lowercase().as_str() {
                    "secret" => secret = Some(v.to_string()),
                    "period" => {
                        t.period = v
                            .parse()
                            .ok()
                            .filter(|p| (1..=3600).contains(p))
                            .ok_or_else(|| format!("the otpauth period {v:?} is not 1..3600"))?
                    }
                    "digits" => {
                        t.digits = v
                            .parse()
                            .ok()
                            .filter(|d| (6..=10).contains(d))
                            .ok_or_else(|| format!("the otpauth digits {v:?} is not 6..10"))?
                    }
                    "algorithm" => {
                        t.algorithm = match v.to_ascii_uppercase().as_str() {
                            "SHA1" => Algorithm::Sha1,
                            "SHA256" => Algorithm::Sha256,
                            "SHA512" => Algorithm::Sha512,
                            _ => {
                                return Err(format!(
                                    "the otpauth algorithm {v:?} is not SHA1, SHA256 or SHA512"
                                ))
                            }
                        }
                    }
                    _ => {}
                }
            }
            let secret = secret.ok_or("the otpauth URI has no secret=")?;
            t.key = base32(&secret)?;
            return Ok(t);
        }
        Ok(Totp {
            key: base32(s)?,
            period: 30,
            digits: 6,
            algorithm: Algorithm::Sha1,
        })
    }

    /// The HOTP value for `counter` (RFC 4226 section 5.3).
    pub fn hotp(&self, counter: u64) -> String {
        let msg = counter.to_be_bytes();
        let mac: Vec<u8> = match self.algorithm {
            Algorithm::Sha1 => mac::<sha1::Sha1>(&self.key, &msg),
            Algorithm::Sha256 => mac::<sha2::Sha256>(&self.key, &msg),
            Algorithm::Sha512 => mac::<sha2::Sha512>(&self.key, &msg),
        };
        let off = (mac[mac.len() - 1] & 0x0f) as usize;
        let bin = u32::from_be_bytes([mac[off] & 0x7f, mac[off + 1], mac[off + 2], mac[off + 3]]);
        let n = bin as u64 % 10u64.pow(self.digits);
        format!("{n:0width$}", width = self.digits as usize)
    }

    /// The code at `unix` seconds.
    pub fn at(&self, unix: u64) -> Code {
        Code {
            code: self.hotp(unix / self.period),
            seconds_left: self.period - unix % self.period,
            period: self.period,
        }
    }

    /// The code now, on the wall clock.
    pub fn now(&self) -> Code {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.at(unix)
    }
}

fn mac<D: hmac::EagerHash>(key: &[u8], msg: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
{
    // HMAC takes a key of any length.
    let mut m = <Hmac<D> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// RFC 4648 base32, as sites print TOTP secrets: case, spaces, dashes and padding ignored.
fn base32(s: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut out = Zeroizing::new(Vec::new());
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in s.chars() {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            ' ' | '-' | '=' => continue,
            other => {
                return Err(format!(
                    "{other:?} is not base32 (a TOTP secret is letters A-Z and digits 2-7)"
                ))
            }
        };
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    acc.zeroize();
    if out.len() < 10 {
        return Err("a TOTP secret shorter than 80 bits (16 base32 letters): check it".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the seeds are the ASCII strings "1234567890" repeated to 20, 32
    /// and 64 bytes; 8 digits.
    #[test]
    fn rfc6238_test_vectors() {
        let seed = |n: usize| {
            Zeroizing::new(
                b"1234567890"
                    .iter()
                    .cycle()
                    .take(n)
                    .copied()
                    .collect::<Vec<u8>>(),
            )
        };
        let cases = [
            (59u64, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, s1, s256, s512) in cases {
            for (alg, n, want) in [
                (Algorithm::Sha1, 20, s1),
                (Algorithm::Sha256, 32, s256),
                (Algorithm::Sha512, 64, s512),
            ] {
                let totp = Totp {
                    key: seed(n),
                    period: 30,
                    digits: 8,
                    algorithm: alg,
                };
                assert_eq!(totp.at(t).code, want, "{alg:?} at {t}");
            }
        }
    }

    #[test]
    fn base32_and_otpauth_forms_agree() {
        // "12345678901234567890" in base32.
        let b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let plain = Totp::parse(b32).expect("base32");
        let spaced = Totp::parse("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").expect("spaced");
        assert_eq!(plain, spaced);
        assert_eq!(plain.at(59).code, "287082");
        let uri = Totp::parse(&format!(
            "otpauth://totp/Camp:ops?secret={b32}&issuer=Camp&digits=8&period=30"
        ))
        .expect("uri");
        assert_eq!(uri.at(59).code, "94287082");
        let c = plain.at(59);
        assert_eq!((c.seconds_left, c.period), (1, 30));
    }

    #[test]
    fn bad_secrets_say_what_is_wrong() {
        assert!(Totp::parse("not base32!")
            .unwrap_err()
            .contains("not base32"));
        assert!(Totp::parse("GEZD").unwrap_err().contains("shorter"));
        assert!(Totp::parse("otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQ")
            .unwrap_err()
            .contains("only time-based"));
        assert!(Totp::parse("otpauth://totp/x?issuer=a")
            .unwrap_err()
            .contains("no secret"));
        assert!(
            Totp::parse("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQ&digits=99")
                .unwrap_err()
                .contains("digits")
        );
    }
}
