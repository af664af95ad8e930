/*!
Durations and times as people type them: `30m`, `4h`, `2d`, `1h30m`, `1w` for an SLA; a date
(`2026-12-01`, `2026-12-01T14:00`, `2026-12-01 14:00:30`, an optional trailing `Z`) for a due
time, read as UTC so every machine of a team agrees on it; and taskwarrior's `20261201T120000Z`.
*/

/// Milliseconds in `s` (`1h30m`, `2d`, `45s`, `1w`).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("an empty duration: say 30m, 4h, 2d, 1h30m or 1w".into());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            ' ' => continue,
            other => {
                return Err(format!(
                    "{s:?}: {other:?} is not a unit (s, m, h, d, w): say 30m, 4h, 2d, 1h30m"
                ))
            }
        };
        let n: i64 = num
            .parse()
            .map_err(|_| format!("{s:?}: a number must come before each unit"))?;
        num.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{s:?} is too long"))?;
    }
    if !num.is_empty() {
        return Err(format!("{s:?}: {num} of what? Add a unit: s, m, h, d or w"));
    }
    if total <= 0 {
        return Err(format!("{s:?}: a duration must be more than nothing"));
    }
    Ok(total)
}

/// `1h30m` for a span of milliseconds (the largest two units).
pub fn show(ms: i64) -> String {
    let neg = ms < 0;
    let mut s = ms.unsigned_abs() / 1000;
    let units = [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ];
    let mut out = String::new();
    let mut parts = 0;
    for (name, size) in units {
        if s >= size && parts < 2 {
            out.push_str(&format!("{}{name}", s / size));
            s %= size;
            parts += 1;
        } else if parts > 0 {
            break;
        }
    }
    if out.is_empty() {
        out = "0s".into();
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Days since the epoch for a civil date (Hinnant's days-from-civil).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A due time in UTC: `2026-12-01`, `2026-12-01T14:00[:30][Z]`, `2026-12-01 14:00`, or
/// taskwarrior's `20261201T120000Z`; milliseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let t = s.trim().trim_end_matches('Z');
    let bad = || {
        format!(
            "{s:?} is not a time: say 2026-12-01, 2026-12-01T14:00 (UTC), or a duration with --sla"
        )
    };
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, t)) => (d, t),
        None => (t, ""),
    };
    let (y, mo, d) = if date.len() == 8 && date.chars().all(|c| c.is_ascii_digit()) {
        (&date[..4], &date[4..6], &date[6..])
    } else {
        let mut p = date.split('-');
        match (p.next(), p.next(), p.next(), p.next()) {
            (Some(y), Some(m), Some(d), None) => (y, m, d),
            _ => return Err(bad()),
        }
    };
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let (y, mo, d) = (num(y)?, num(mo)?, num(d)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let clock: Vec<i64> = if time.is_empty() {
        vec![]
    } else if time.len() == 6 && !time.contains(':') {
        vec![num(&time[..2])?, num(&time[2..4])?, num(&time[4..])?]
    } else {
        time.split(':').map(num).collect::<Result<_, _>>()?
    };
    let (h, mi, se) = match clock[..] {
        [] => (0, 0, 0),
        [h, m] => (h, m, 0),
        [h, m, s] => (h, m, s),
        _ => return Err(bad()),
    };
    if h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    Ok(((days(y, mo, d) * 86_400) + h * 3_600 + mi * 60 + se) * 1000)
}

/// `2026-12-01 14:00 UTC`.
pub fn show_time(ms: i64) -> String {
    crate::engine::vault::entries::utc((ms / 1000).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_show() {
        assert_eq!(parse_duration("30m"), Ok(1_800_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert_eq!(parse_duration("1w 2d"), Ok(9 * 86_400_000));
        for bad in ["", "4", "h", "4y", "0m", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(show(5_400_000), "1h30m");
        assert_eq!(show(-90_000), "-1m30s");
        assert_eq!(show(0), "0s");
        assert_eq!(show(3 * 86_400_000 + 5_000), "3d");
    }

    #[test]
    fn due_times_read_as_utc() {
        assert_eq!(parse_time("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_time("2000-02-29T12:30"), Ok(951_827_400_000));
        assert_eq!(parse_time("2000-02-29 12:30:00Z"), Ok(951_827_400_000));
        assert_eq!(parse_time("20000229T123000Z"), Ok(951_827_400_000));
        assert_eq!(show_time(951_827_400_000), "2000-02-29 12:30 UTC");
        for bad in [
            "tomorrow",
            "2026-13-01",
            "2026-12-01T25:00",
            "2026-12",
            "2026-12-01T1:2:3:4",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
