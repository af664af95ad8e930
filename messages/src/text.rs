/*!
How numbers are written, in every message a process sends and on every screen: counts with
thousands separators (`336,776`), percentages with one decimal (`16.2%`). One place, so the
grid's footer, a plot's title and a worker's note never disagree.
*/

/// `1234567` -> `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.16219` -> `16.2%` (a share, not a percentage, goes in).
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_shares_are_written_one_way() {
        assert_eq!(group(0), "0");
        assert_eq!(group(54139), "54,139");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(percent(0.1622), "16.2%");
        assert_eq!(percent(0.061), "6.1%");
    }
}
