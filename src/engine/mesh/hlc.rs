//! The hybrid logical clock every change is stamped with. Wall clocks in the field disagree (no
//! NTP without internet), so ordering by them would let a laptop whose clock is an hour behind
//! lose every edit. A hybrid clock never runs behind a time it has seen: a device's next change
//! is later than every change it has received, whatever its own clock says, and stays close to
//! real time. A change stamped too far ahead of this device's clock is refused, so one device
//! with a clock years ahead cannot win every field forever (the HLC paper's bound on drift).

use fieldkit_messages::mesh::Hlc;

/// How far ahead of this device's clock a change may be stamped and still be taken.
pub const MAX_AHEAD_MS: u64 = 60 * 60 * 1000;

/// A device's clock: the last time it stamped or saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    last: Hlc,
}

/// A change stamped too far ahead: its time and how far ahead it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    pub at: Hlc,
    pub by_ms: u64,
}

impl Clock {
    pub fn starting_at(last: Hlc) -> Clock {
        Clock { last }
    }

    pub fn last(&self) -> Hlc {
        self.last
    }

    /// The stamp for a change made now (`wall_ms`: this device's clock): later than every
    /// stamp before it.
    pub fn tick(&mut self, wall_ms: u64) -> Hlc {
        self.last = if wall_ms > self.last.ms {
            Hlc { ms: wall_ms, n: 0 }
        } else if self.last.n == u32::MAX {
            Hlc {
                ms: self.last.ms + 1,
                n: 0,
            }
        } else {
            Hlc {
                ms: self.last.ms,
                n: self.last.n + 1,
            }
        };
        self.last
    }

    /// Whether a change stamped `at` may be taken now; it may, and this clock moves up to it.
    pub fn see(&mut self, at: Hlc, wall_ms: u64) -> Result<(), Ahead> {
        if at.ms > wall_ms.saturating_add(MAX_AHEAD_MS) {
            return Err(Ahead {
                at,
                by_ms: at.ms - wall_ms,
            });
        }
        self.last = self.last.max(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_never_go_back_and_follow_what_was_seen() {
        let mut c = Clock::default();
        let a = c.tick(1_000);
        assert_eq!(a, Hlc { ms: 1_000, n: 0 });
        // The wall clock stepped back: the counter goes on.
        let b = c.tick(900);
        assert_eq!(b, Hlc { ms: 1_000, n: 1 });
        assert!(b > a);
        // A change from a device whose clock is ahead (within bounds): ours follow it.
        c.see(Hlc { ms: 5_000, n: 7 }, 1_100).unwrap();
        let d = c.tick(1_200);
        assert_eq!(d, Hlc { ms: 5_000, n: 8 });
        // The counter full: the next millisecond.
        let mut c = Clock::starting_at(Hlc {
            ms: 10,
            n: u32::MAX,
        });
        assert_eq!(c.tick(5), Hlc { ms: 11, n: 0 });
    }

    #[test]
    fn a_change_from_far_in_the_future_is_refused() {
        let mut c = Clock::default();
        let now = 1_000_000;
        let far = Hlc {
            ms: now + MAX_AHEAD_MS + 1,
            n: 0,
        };
        assert_eq!(
            c.see(far, now),
            Err(Ahead {
                at: far,
                by_ms: MAX_AHEAD_MS + 1
            })
        );
        assert_eq!(c.last(), Hlc::default(), "the clock did not jump");
        c.see(
            Hlc {
                ms: now + MAX_AHEAD_MS,
                n: 0,
            },
            now,
        )
        .unwrap();
    }
}
