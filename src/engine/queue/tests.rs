use super::*;

const H: i64 = 3_600_000;

fn item(state: State, priority: Priority, created: i64, due: Option<i64>) -> Item {
    Item {
        id: new_id(),
        title: "sample 7".into(),
        body: String::new(),
        state,
        priority,
        role: String::new(),
        assignee: String::new(),
        tags: vec![],
        project: String::new(),
        created,
        updated: created,
        due,
        links: vec![],
        history: vec![],
        comments: vec![],
    }
}

#[test]
fn sla_warns_at_80_percent_and_is_overdue_at_100_on_the_wall_clock() {
    let i = item(State::Queued, Priority::Medium, 0, Some(10 * H));
    assert_eq!(i.sla(0), SlaState::Ok);
    assert_eq!(i.sla(8 * H - 1), SlaState::Ok);
    assert_eq!(i.sla(8 * H), SlaState::Warning);
    assert_eq!(i.sla(10 * H - 1), SlaState::Warning);
    assert_eq!(i.sla(10 * H), SlaState::Overdue);
    assert_eq!(i.sla(100 * H), SlaState::Overdue);
    // Done with: no SLA state, whatever the clock says.
    for s in [State::Completed, State::Cancelled] {
        assert_eq!(
            item(s, Priority::High, 0, Some(H)).sla(5 * H),
            SlaState::None
        );
    }
    assert_eq!(
        item(State::Queued, Priority::High, 0, None).sla(5 * H),
        SlaState::None
    );
}

#[test]
fn urgency_follows_the_documented_formula() {
    let now = 10 * H;
    // Priority alone.
    let h = item(State::Queued, Priority::High, now, None).urgency(now);
    let m = item(State::Queued, Priority::Medium, now, None).urgency(now);
    let l = item(State::Queued, Priority::Low, now, None).urgency(now);
    assert_eq!((h, m, l), (6.0, 3.9, 1.8));
    // Half the SLA used: + 6; overdue: + 15.
    let half = item(State::Queued, Priority::Low, 0, Some(20 * H)).urgency(now);
    assert!(
        (half - (1.8 + 6.0 + 2.0 * (10.0 / 24.0) / 30.0)).abs() < 1e-9,
        "{half}"
    );
    let late = item(State::Queued, Priority::Low, 0, Some(5 * H)).urgency(now);
    assert!(
        late > h + 10.0,
        "an overdue low item outranks a fresh high one: {late}"
    );
    // Age caps at 2 (30 days).
    let old = item(State::Queued, Priority::Low, 0, None).urgency(400 * 24 * H);
    assert!((old - 3.8).abs() < 1e-9, "{old}");
    // State: started work first, blocked work last, done work nowhere.
    let started = item(State::InProgress, Priority::Medium, now, None).urgency(now);
    let blocked = item(State::Blocked, Priority::High, now, None).urgency(now);
    assert_eq!(started, 7.9);
    assert_eq!(blocked, 1.0);
    assert_eq!(
        item(State::Completed, Priority::High, 0, Some(H)).urgency(now),
        0.0
    );
}

#[test]
fn moves_go_only_where_the_states_allow() {
    use State::*;
    assert_eq!(Move::Claim.to(Queued), Ok(Claimed));
    assert_eq!(Move::Start.to(Claimed), Ok(InProgress));
    assert_eq!(Move::Done.to(InProgress), Ok(Completed));
    assert_eq!(Move::Block.to(InProgress), Ok(Blocked));
    assert_eq!(Move::Start.to(Blocked), Ok(InProgress));
    assert_eq!(Move::Cancel.to(Blocked), Ok(Cancelled));
    let e = Move::Claim.to(Claimed).unwrap_err();
    assert_eq!(e, "cannot claim an item that is CLAIMED");
    for m in [
        Move::Claim,
        Move::Start,
        Move::Done,
        Move::Block,
        Move::Cancel,
    ] {
        assert!(
            m.to(Completed).is_err() && m.to(Cancelled).is_err(),
            "{m:?}"
        );
    }
    assert_eq!(State::parse("in-progress"), Some(InProgress));
    assert_eq!(State::parse("nope"), None);
}

#[test]
fn ids_are_random_hex_that_differ_from_the_first_characters() {
    let ids: Vec<String> = (0..64).map(|_| new_id()).collect();
    assert!(ids
        .iter()
        .all(|a| a.len() == 32 && a.chars().all(|c| c.is_ascii_hexdigit())));
    let firsts: std::collections::HashSet<&str> = ids.iter().map(|a| &a[..4]).collect();
    assert!(
        firsts.len() > 56,
        "64 ids made at once share their first 4 characters too often"
    );
}
