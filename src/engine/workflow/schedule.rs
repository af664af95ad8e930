/*!
Schedules: cron expressions (croner: the five fields of Vixie cron, an optional seconds field,
`@daily` and friends, names of days and months) in local time, and the one rule that makes
them survive downtime and clock jumps, as systemd's `Persistent=` timers do: a slot missed
while the server was down (or the machine asleep) fires once when it is back, never once per
missed slot.

`due` is a pure function of the last slot fired, the wall clock now and the policy, so the
runner stores one number per schedule and the tests need no clock. A clock set back never fires
a slot twice (slots up to the last one fired are done); a clock set forward fires the latest
slot passed, once.
*/

use chrono::{Local, TimeZone};
use croner::Cron;
use std::str::FromStr;

/// How late a slot may fire and still count as on time, not missed.
pub const GRACE_MS: i64 = 60_000;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
}

/// What a schedule does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Run for this slot (ms since the epoch), and whether it fires late (catch-up).
    pub fire: Option<(i64, bool)>,
    /// The slot to remember as the last one dealt with.
    pub last: i64,
    /// The next slot to wake for.
    pub next: Option<i64>,
    /// Slots passed over without a run (missed during downtime, beyond the one that fires).
    pub skipped: u32,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        Cron::from_str(expr)
            .map(|cron| Schedule { cron })
            .map_err(|e| e.to_string())
    }

    fn at(ms: i64) -> Option<chrono::DateTime<Local>> {
        Local.timestamp_millis_opt(ms).single()
    }

    /// The first slot after `ms`.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let t = Self::at(ms)?;
        self.cron
            .find_next_occurrence(&t, false)
            .ok()
            .map(|d| d.timestamp_millis())
    }

    /// The last slot at or before `ms`.
    pub fn last_at_or_before(&self, ms: i64) -> Option<i64> {
        let t = Self::at(ms)?;
        self.cron
            .find_previous_occurrence(&t, true)
            .ok()
            .map(|d| d.timestamp_millis())
    }

    /// `last`: the last slot dealt with (`None`: the schedule is new, and starts counting now).
    pub fn due(&self, last: Option<i64>, now: i64, catch_up: bool) -> Decision {
        let Some(last) = last else {
            return Decision {
                fire: None,
                last: now,
                next: self.next_after(now),
                skipped: 0,
            };
        };
        let from = last.max(now);
        let prev = self.last_at_or_before(now).filter(|p| *p > last);
        let Some(slot) = prev else {
            return Decision {
                fire: None,
                last,
                next: self.next_after(from),
                skipped: 0,
            };
        };
        // Slots between the last one dealt with and this one (counted, to say so; capped).
        let mut skipped = 0u32;
        let mut t = last;
        while let Some(n) = self.next_after(t) {
            if n >= slot || skipped >= 10_000 {
                break;
            }
            skipped += 1;
            t = n;
        }
        let late = now - slot > GRACE_MS;
        let fire = if !late || catch_up {
            Some((slot, late))
        } else {
            skipped += 1;
            None
        };
        Decision {
            fire,
            last: slot,
            next: self.next_after(now),
            skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Local
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "* * * * * * * *",
            "0 25 * * *",
            "every day",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} parsed");
        }
        for good in [
            "0 6 * * *",
            "*/15 * * * *",
            "@daily",
            "0 9 * * MON-FRI",
            "30 0 6 * * *",
        ] {
            assert!(Schedule::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn next_and_previous_slots_are_in_local_time() {
        let s = Schedule::parse("0 6 * * *").unwrap();
        let now = local(2026, 11, 29, 12, 0);
        assert_eq!(s.next_after(now), Some(local(2026, 11, 30, 6, 0)));
        assert_eq!(s.last_at_or_before(now), Some(local(2026, 11, 29, 6, 0)));
    }

    #[test]
    fn a_new_schedule_starts_counting_now() {
        let s = Schedule::parse("0 6 * * *").unwrap();
        let now = local(2026, 11, 29, 12, 0);
        let d = s.due(None, now, true);
        assert_eq!(d.fire, None);
        assert_eq!(d.last, now);
        assert_eq!(d.next, Some(local(2026, 11, 30, 6, 0)));
    }

    #[test]
    fn an_on_time_slot_fires_and_is_remembered() {
        let s = Schedule::parse("*/10 * * * *").unwrap();
        let last = local(2026, 11, 29, 12, 0);
        let now = local(2026, 11, 29, 12, 10) + 300;
        let d = s.due(Some(last), now, false);
        assert_eq!(d.fire, Some((local(2026, 11, 29, 12, 10), false)));
        assert_eq!(d.last, local(2026, 11, 29, 12, 10));
        // Asked again at once: nothing more.
        let again = s.due(Some(d.last), now + 5, false);
        assert_eq!(again.fire, None);
        assert_eq!(again.next, Some(local(2026, 11, 29, 12, 20)));
    }

    #[test]
    fn three_days_down_fire_the_latest_slot_once() {
        let s = Schedule::parse("0 6 * * *").unwrap();
        let last = local(2026, 11, 26, 6, 0);
        let now = local(2026, 11, 29, 12, 0);
        let d = s.due(Some(last), now, true);
        assert_eq!(d.fire, Some((local(2026, 11, 29, 6, 0), true)));
        assert_eq!(
            d.skipped, 2,
            "the 27th and 28th are passed over, said, not run"
        );
        assert_eq!(s.due(Some(d.last), now + 1000, true).fire, None);
        // Without catch-up, the missed slot is skipped too.
        let d = s.due(Some(last), now, false);
        assert_eq!(d.fire, None);
        assert_eq!(d.last, local(2026, 11, 29, 6, 0));
        assert_eq!(d.skipped, 3);
    }

    #[test]
    fn a_clock_set_back_never_fires_a_slot_twice() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let last = local(2026, 11, 29, 12, 0);
        // The clock goes back two hours: 10:00 and 11:00 come round again, and are done.
        let now = local(2026, 11, 29, 10, 30);
        let d = s.due(Some(last), now, true);
        assert_eq!(d.fire, None);
        assert_eq!(d.last, last);
        assert_eq!(d.next, Some(local(2026, 11, 29, 13, 0)));
        let d = s.due(Some(last), local(2026, 11, 29, 11, 0) + 10, true);
        assert_eq!(d.fire, None);
    }
}
