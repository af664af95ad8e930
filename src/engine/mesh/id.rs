//! Device IDs as people read them aloud and compare: the device's public key in base32 (52
//! characters), in four parts of 13, each followed by a check character (Luhn mod 32, as
//! syncthing's IDs), shown in eight groups of seven: `MFZWI3D-BONSGYC-…`. A typo in one
//! character, or two neighbours swapped, is caught by the checks rather than naming another
//! device. The short form (the first group) is what lists show.

use fieldkit_messages::mesh::DeviceKey;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The Luhn mod 32 check character of `s` (base32 characters).
fn check(s: &str) -> char {
    let (mut factor, mut sum) = (1u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap_or(0) as u32;
        let add = factor * v;
        factor = if factor == 2 { 1 } else { 2 };
        sum += add / 32 + add % 32;
    }
    ALPHABET[((32 - sum % 32) % 32) as usize] as char
}

/// The device ID of `key`: 56 characters in eight groups of seven.
pub fn device_id(key: &DeviceKey) -> String {
    let b = base32(key);
    let mut with = String::new();
    for part in b.as_bytes().chunks(13) {
        let part = std::str::from_utf8(part).unwrap_or("");
        with.push_str(part);
        with.push(check(part));
    }
    with.as_bytes()
        .chunks(7)
        .map(|g| std::str::from_utf8(g).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("-")
}

/// The first group of the device ID: enough to tell a team's devices apart in a list.
pub fn short_id(key: &DeviceKey) -> String {
    device_id(key)[..7].to_string()
}

/// The key a device ID names (dashes, spaces and case do not matter), or why it names none.
pub fn parse_device_id(s: &str) -> Result<DeviceKey, String> {
    let clean: String = s
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.len() != 56 {
        return Err(format!(
            "a device ID has 56 letters and digits (8 groups of 7); this has {}",
            clean.len()
        ));
    }
    let mut b32 = String::new();
    for (i, part) in clean.as_bytes().chunks(14).enumerate() {
        let part = std::str::from_utf8(part).map_err(|_| "not a device ID".to_string())?;
        let (body, c) = part.split_at(13);
        if body.bytes().any(|b| !ALPHABET.contains(&b)) || !ALPHABET.contains(&c.as_bytes()[0]) {
            return Err("a device ID uses only A-Z and 2-7".into());
        }
        if check(body).to_string() != c {
            return Err(format!(
                "group {} of the device ID does not check: a character is wrong",
                2 * i + 2
            ));
        }
        b32.push_str(body);
    }
    let bytes = unbase32(&b32).ok_or("not a device ID")?;
    bytes
        .get(..32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "not a device ID".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_catch_typos() {
        let key: DeviceKey = std::array::from_fn(|i| (i * 37 + 11) as u8);
        let id = device_id(&key);
        assert_eq!(id.len(), 56 + 7);
        assert_eq!(id.split('-').count(), 8);
        assert!(id.split('-').all(|g| g.len() == 7));
        assert_eq!(parse_device_id(&id).unwrap(), key);
        assert_eq!(
            parse_device_id(&id.to_lowercase().replace('-', " ")).unwrap(),
            key
        );
        assert_eq!(short_id(&key), &id[..7]);
        // One character changed, anywhere: refused, never another device.
        let chars: Vec<char> = id.chars().collect();
        for i in (0..chars.len()).filter(|i| chars[*i] != '-') {
            let mut bad = chars.clone();
            bad[i] = if bad[i] == 'A' { 'B' } else { 'A' };
            let bad: String = bad.into_iter().collect();
            assert!(parse_device_id(&bad).is_err(), "{bad}");
        }
        assert!(parse_device_id("ABC").unwrap_err().contains("56"));
        assert!(parse_device_id(&id.replace('A', "1")).is_err());
    }
}
