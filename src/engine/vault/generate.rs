/*!
Passwords and passphrases from the OS's random source, without bias (rejection sampling), for
`vault gen`, `vault add --generate` and the pane's generator. Passwords draw from the classes
asked for (each present at least once; look-alikes such as l/1/O/0 left out so a password can
be read aloud over a radio); passphrases are N words from the EFF's large word list (7,776 words,
12.9 bits each), embedded, so nothing is fetched.

The word list is the Electronic Frontier Foundation's "EFF's Long Wordlist" (2016), licensed
CC BY 3.0 US (https://www.eff.org/dice); fieldkit ships it unchanged, one word a line.
*/

use zeroize::Zeroizing;

const WORDS: &str = include_str!("eff_large_wordlist.txt");

/// The character classes a password may draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    pub lower: bool,
    pub upper: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl Default for Classes {
    fn default() -> Self {
        Classes {
            lower: true,
            upper: true,
            digits: true,
            symbols: true,
        }
    }
}

impl Classes {
    /// From `lower,upper,digits,symbols` (any subset, any order).
    pub fn parse(s: &str) -> Result<Classes, String> {
        let mut c = Classes {
            lower: false,
            upper: false,
            digits: false,
            symbols: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "lower" => c.lower = true,
                "upper" => c.upper = true,
                "digits" => c.digits = true,
                "symbols" => c.symbols = true,
                other => {
                    return Err(format!(
                        "{other:?} is not a class: lower, upper, digits, symbols"
                    ))
                }
            }
        }
        if c.sets().is_empty() {
            return Err("at least one class: lower, upper, digits, symbols".into());
        }
        Ok(c)
    }

    fn sets(&self) -> Vec<&'static [u8]> {
        let mut v: Vec<&'static [u8]> = Vec::new();
        if self.lower {
            v.push(b"abcdefghijkmnopqrstuvwxyz");
        }
        if self.upper {
            v.push(b"ABCDEFGHJKLMNPQRSTUVWXYZ");
        }
        if self.digits {
            v.push(b"23456789");
        }
        if self.symbols {
            v.push(b"!#$%&*+-=?@^_~");
        }
        v
    }
}

/// A uniform number below `n` (n <= 2^32).
fn below(n: u32) -> u32 {
    let limit = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        // Without the OS's random source nothing safe can be made: fatal by design.
        getrandom::fill(&mut b).expect("the operating system's random number source failed");
        let v = u32::from_le_bytes(b);
        if v < limit {
            return v % n;
        }
    }
}

/// A password of `length` (4..=256) from `classes`, every class present.
pub fn password(length: usize, classes: Classes) -> Result<Zeroizing<String>, String> {
    let sets = classes.sets();
    if !(4..=256).contains(&length) || length < sets.len() {
        return Err(format!("a length from {} to 256", sets.len().max(4)));
    }
    let all: Vec<u8> = sets.concat();
    loop {
        let pw: Zeroizing<String> = Zeroizing::new(
            (0..length)
                .map(|_| all[below(all.len() as u32) as usize] as char)
                .collect(),
        );
        if sets.iter().all(|s| pw.bytes().any(|c| s.contains(&c))) {
            return Ok(pw);
        }
    }
}

/// `words` (3..=20) words from the EFF list, joined by `sep`.
pub fn passphrase(words: usize, sep: &str) -> Result<Zeroizing<String>, String> {
    if !(3..=20).contains(&words) {
        return Err("from 3 to 20 words".into());
    }
    let list: Vec<&str> = WORDS.lines().collect();
    let chosen: Vec<&str> = (0..words)
        .map(|_| list[below(list.len() as u32) as usize])
        .collect();
    Ok(Zeroizing::new(chosen.join(sep)))
}

/// Bits of entropy of a password of `length` from `classes`, or of `words` words.
pub fn bits_password(length: usize, classes: Classes) -> f64 {
    let n: usize = classes.sets().iter().map(|s| s.len()).sum();
    length as f64 * (n as f64).log2()
}

pub fn bits_passphrase(words: usize) -> f64 {
    words as f64 * (WORDS.lines().count() as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_list_is_the_eff_long_list() {
        let list: Vec<&str> = WORDS.lines().collect();
        assert_eq!(list.len(), 7776);
        assert_eq!((list[0], list[7775]), ("abacus", "zoom"));
        let unique: std::collections::HashSet<_> = list.iter().collect();
        assert_eq!(unique.len(), 7776);
        assert!((bits_passphrase(6) - 77.5).abs() < 0.1);
    }

    #[test]
    fn passwords_hold_each_class_asked_and_no_other() {
        for _ in 0..50 {
            let pw = password(12, Classes::default()).expect("pw");
            assert_eq!(pw.len(), 12);
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(pw.bytes().any(|b| b.is_ascii_digit()));
            assert!(pw.bytes().any(|b| !b.is_ascii_alphanumeric()));
            assert!(!pw.contains(['l', '1', 'O', '0', 'I']));
        }
        let digits = Classes::parse("digits").expect("digits");
        let pin = password(6, digits).expect("pin");
        assert!(pin.bytes().all(|b| b.is_ascii_digit()), "{}", *pin);
        assert!(Classes::parse("emoji").unwrap_err().contains("not a class"));
        assert!(Classes::parse("").is_err());
        assert!(password(3, Classes::default()).is_err());
        assert!(password(1000, Classes::default()).is_err());
        let p = passphrase(5, " ").expect("words");
        assert_eq!(p.split(' ').count(), 5);
        assert!(passphrase(1, "-").is_err());
    }
}
