use super::*;
use crate::testkit::{settings, snapshot};

fn entries() -> Vec<EntrySummary> {
    let e = |t: &str, f: &str, u: &str, tags: &[&str]| EntrySummary {
        title: t.into(),
        folder: f.into(),
        user: u.into(),
        url: format!("https://{}.example", t.to_lowercase().replace(' ', "-")),
        kind: "login".into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        has_password: true,
        updated: "2026-11-29 09:55 UTC".into(),
        ..EntrySummary::default()
    };
    let mut radio = e("Radio net", "camp", "ops", &["comms"]);
    radio.has_totp = true;
    radio.history = 2;
    radio.fields = vec![("PIN".into(), None), ("channel".into(), Some("7".into()))];
    let mut maps = e("Survey maps", "", "", &["gis"]);
    maps.kind = "file".into();
    maps.has_password = false;
    maps.url.clear();
    maps.file = Some(("sites.gpkg".into(), 48_213_504));
    let mut plan = e("Evacuation plan", "ops", "", &[]);
    plan.kind = "note".into();
    plan.has_password = false;
    plan.url.clear();
    plan.note = "# Routes\nNorth track first.".into();
    vec![
        radio,
        e("Camp wifi", "camp", "", &[]),
        e("Satellite phone", "", "field-7", &["comms"]),
        maps,
        plan,
    ]
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn typed(p: &mut VaultPane, s: &str) -> Vec<Effect> {
    let mut cx = Cx::default();
    for c in s.chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut cx);
    }
    cx.effects
}

fn unlocked() -> VaultPane {
    let mut p = VaultPane::default();
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Entries(entries())),
        &mut Cx::default(),
    );
    p
}

fn act(p: &mut VaultPane, name: &str) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_action(&Action::parse(name).expect(name), &mut cx);
    cx.effects
}

#[test]
fn the_locked_pane_takes_a_passphrase_without_showing_it() {
    let mut p = VaultPane::default();
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Opened, &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Watch))]
    );
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    typed(&mut p, "correct horse");
    let shown = snapshot(&mut p, 80, 24);
    assert!(
        !shown.contains("horse") && shown.contains("••••••••"),
        "{shown}"
    );
    // The dots never tell the length.
    typed(&mut p, " battery staple");
    assert_eq!(snapshot(&mut p, 80, 24), shown);
    settings().bind(|| insta::assert_snapshot!("vault_locked_80x24", shown));
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Unlock {
            passphrase: "correct horse battery staple".into()
        }))]
    );
    assert!(p.passphrase.is_empty(), "not kept once sent");
    assert!(format!("{:?}", cx.effects).contains("redacted"));
    assert!(!format!("{:?}", cx.effects).contains("horse"));
    // A second Enter while the key is being derived sends nothing.
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert!(cx.effects.is_empty());
    p.on_engine(
        EngineEvent::Vault(VaultEvent::UnlockFailed(
            "wrong passphrase (or the vault file was tampered with)".into(),
        )),
        &mut Cx::default(),
    );
    settings().bind(|| {
        insta::assert_snapshot!("vault_locked_wrong_120x30", snapshot(&mut p, 120, 30));
    });
}

#[test]
fn list_search_detail_reveal_totp_and_lock() {
    let mut p = unlocked();
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::WithKeymap);
    settings().bind(|| insta::assert_snapshot!("vault_list_80x24", snapshot(&mut p, 80, 24)));
    // Fuzzy over folder, title and tags: "comms" finds both tagged entries, nothing else.
    typed(&mut p, "comms");
    let titles: Vec<String> = p
        .shown
        .iter()
        .map(|i| p.entries.as_ref().expect("e")[*i].title.clone())
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Radio net".to_string()));
    p.on_input(&ctrl('u'), &mut Cx::default());
    typed(&mut p, "sat");
    assert_eq!(
        p.selected().map(|e| e.title.clone()),
        Some("Satellite phone".into())
    );
    let eff = act(&mut p, "reveal");
    assert_eq!(
        eff,
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Field {
            title: "Satellite phone".into(),
            field: "password".into(),
            to_clipboard: false
        }))]
    );
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Revealed {
            title: "Satellite phone".into(),
            field: "password".into(),
            value: "Iridium-2049".into(),
        }),
        &mut Cx::default(),
    );
    assert!(snapshot(&mut p, 80, 24).contains("Iridium-2049"));
    p.on_engine(EngineEvent::Vault(VaultEvent::Hide), &mut Cx::default());
    assert!(!snapshot(&mut p, 80, 24).contains("Iridium"));
    // The radio: TOTP code with its countdown, fields (secret ones masked), history.
    p.on_input(&ctrl('u'), &mut Cx::default());
    typed(&mut p, "radio");
    let eff = act(&mut p, "show-totp");
    assert_eq!(
        eff,
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Totp {
            title: "Radio net".into()
        }))]
    );
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Totp {
            title: "Radio net".into(),
            code: "287082".into(),
            left: 17,
            period: 30,
        }),
        &mut Cx::default(),
    );
    settings().bind(|| {
        insta::assert_snapshot!("vault_detail_160x40", snapshot(&mut p, 160, 40));
    });
    // A copy goes through the service, which puts it on the client's clipboard.
    assert!(matches!(
        &act(&mut p, "copy-password")[..],
        [Effect::Engine(EngineRequest::Vault(VaultRequest::Field {
            to_clipboard: true,
            ..
        }))]
    ));
    // A lock clears everything the pane held.
    p.on_engine(EngineEvent::Vault(VaultEvent::Locked), &mut Cx::default());
    let shown = snapshot(&mut p, 80, 24);
    assert!(
        shown.contains("locked") && !shown.contains("Radio") && !shown.contains("287082"),
        "{shown}"
    );
}

#[test]
fn add_edit_move_and_delete_through_the_form() {
    let mut p = unlocked();
    act(&mut p, "new-entry");
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    // Enter with no title is refused in the form.
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert!(cx.effects.is_empty());
    assert!(snapshot(&mut p, 80, 24).contains("needs a title"));
    typed(&mut p, "Generator shed");
    for _ in 0..3 {
        p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    }
    typed(&mut p, "fuel");
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    typed(&mut p, "diesel-42");
    let shown = snapshot(&mut p, 80, 24);
    assert!(!shown.contains("diesel"), "the password is masked: {shown}");
    // C-g asks for a generated password; it lands in the password field.
    let mut cx = Cx::default();
    p.on_input(&ctrl('g'), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Vault(
            VaultRequest::Generate(GenSpec::default())
        ))]
    );
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Generated {
            value: "Xq7-generated".into(),
            bits: 140.0,
        }),
        &mut Cx::default(),
    );
    settings().bind(|| insta::assert_snapshot!("vault_form_80x24", snapshot(&mut p, 80, 24)));
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    let [Effect::Engine(EngineRequest::Vault(VaultRequest::Save { original, form }))] =
        &cx.effects[..]
    else {
        panic!("{:?}", cx.effects);
    };
    assert_eq!(original, &None);
    assert_eq!(form.title, "Generator shed");
    assert_eq!(form.user, "fuel");
    assert_eq!(form.password.as_deref(), Some("Xq7-generated"));
    assert_eq!(
        form.folder, "camp",
        "a new entry starts in the selected entry's folder"
    );
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Saved("added Generator shed".into())),
        &mut Cx::default(),
    );
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::WithKeymap);
    // Move opens the form on the folder; unchanged secrets are sent as None.
    act(&mut p, "move-entry");
    p.on_input(&ctrl('u'), &mut Cx::default());
    typed(&mut p, "base");
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    let [Effect::Engine(EngineRequest::Vault(VaultRequest::Save { original, form }))] =
        &cx.effects[..]
    else {
        panic!("{:?}", cx.effects);
    };
    assert_eq!(original.as_deref(), Some("Radio net"));
    assert_eq!(
        (form.folder.as_str(), form.password.as_ref()),
        ("base", None)
    );
    // A refusal keeps the form open with the reason.
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Refused(
            "the vault was not saved (disk full)".into(),
        )),
        &mut Cx::default(),
    );
    assert!(snapshot(&mut p, 80, 24).contains("disk full"));
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    // Delete asks first; anything but y keeps it.
    act(&mut p, "delete-entry");
    assert!(snapshot(&mut p, 80, 24).contains("Delete Radio net?"));
    assert!(typed(&mut p, "n").is_empty());
    act(&mut p, "delete-entry");
    assert_eq!(
        typed(&mut p, "y"),
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Delete {
            title: "Radio net".into()
        }))]
    );
}

#[test]
fn the_generator_asks_the_service_and_copies() {
    let mut p = unlocked();
    assert_eq!(
        act(&mut p, "generator"),
        vec![Effect::Engine(EngineRequest::Vault(
            VaultRequest::Generate(GenSpec::default())
        ))]
    );
    p.on_engine(
        EngineEvent::Vault(VaultEvent::Generated {
            value: "k7#Qm2x!Wp9sVb4@Hn6tZr8e".into(),
            bits: 145.0,
        }),
        &mut Cx::default(),
    );
    settings().bind(|| {
        insta::assert_snapshot!("vault_generator_80x24", snapshot(&mut p, 80, 24));
    });
    // w: words; Right: one more word.
    let eff = typed(&mut p, "w");
    let [Effect::Engine(EngineRequest::Vault(VaultRequest::Generate(spec)))] = &eff[..] else {
        panic!("{eff:?}");
    };
    assert_eq!(spec.words, Some(6));
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Right), &mut cx);
    assert!(matches!(
        &cx.effects[..],
        [Effect::Engine(EngineRequest::Vault(
            VaultRequest::Generate(GenSpec { words: Some(7), .. })
        ))]
    ));
    // Turning every class off is not allowed: the last one stays.
    typed(&mut p, "w1234");
    let Mode::Generator { spec, .. } = &p.mode else {
        panic!("generator closed");
    };
    assert!(spec.symbols && !spec.lower && !spec.upper && !spec.digits);
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Copy {
            text: "k7#Qm2x!Wp9sVb4@Hn6tZr8e".into()
        }))]
    );
}

#[test]
fn search_is_nucleo_over_folders_titles_and_tags() {
    let list = entries();
    let hay: Vec<Utf32String> = list.iter().map(haystack).collect();
    let mut m = Matcher::new(Config::DEFAULT);
    let titles = |q: &str, m: &mut Matcher| -> Vec<String> {
        filter(&hay, q, m)
            .into_iter()
            .map(|i| list[i].title.clone())
            .collect()
    };
    assert_eq!(titles("", &mut m).len(), list.len());
    assert_eq!(titles("gis", &mut m), vec!["Survey maps"]);
    assert_eq!(titles("ops evac", &mut m), vec!["Evacuation plan"]);
    assert!(titles("zzzz", &mut m).is_empty());
    // A user name is not searched (it is shown, not a way to find).
    assert!(!titles("field-7", &mut m).contains(&"Satellite phone".to_string()));
}

/// Typing a key at a time (narrowing from the last matches, scoring split across threads)
/// finds exactly what a search from scratch finds, in the same order, whatever is typed:
/// letters, spaces, negation, backspace.
#[test]
fn search_as_you_type_agrees_with_a_search_from_scratch() {
    let words = [
        "radio", "camp", "sat", "phone", "fuel", "north", "wifi", "maps", "ops",
    ];
    let mut seed = 7u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let hay: Vec<Utf32String> = (0..40_000)
        .map(|_| {
            let w = |n: u64| words[(n % words.len() as u64) as usize];
            Utf32String::from(
                format!("{} {} {}{}", w(next()), w(next()), w(next()), next() % 97).as_str(),
            )
        })
        .collect();
    let mut search = Search::default();
    let mut m = Matcher::new(Config::DEFAULT);
    let mut typed = String::new();
    for step in [
        "r", "a", "d", " ", "n", "o", "\u{8}", "\u{8}", "!", "c", "a", " ", "4", "2",
    ] {
        if step == "\u{8}" {
            typed.pop();
        } else {
            typed.push_str(step);
        }
        assert_eq!(
            search.run(&hay, &typed),
            filter(&hay, &typed, &mut m),
            "after typing {typed:?}"
        );
    }
}
