/*!
Entries from another password manager's CSV export (KeePassXC, Bitwarden), read by the columns'
names, so either layout works. A row that does not read (a field count that does not match the
header, no title) is reported with its line and skipped; the good rows are taken.
*/

/// One imported entry, before it is sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Imported {
    pub title: String,
    pub user: String,
    pub password: String,
    pub url: String,
    pub note: String,
    pub folder: String,
    pub totp: String,
}

/// Splits CSV text into records (RFC 4180: quotes, doubled quotes, newlines inside quotes), each
/// with the line it starts on.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => rec.push(std::mem::take(&mut field)),
            '\r' if !quoted => {}
            '\n' if !quoted => {
                rec.push(std::mem::take(&mut field));
                if !(rec.len() == 1 && rec[0].is_empty()) {
                    out.push((start, std::mem::take(&mut rec)));
                }
                rec.clear();
                line += 1;
                start = line;
            }
            '\n' => {
                field.push('\n');
                line += 1;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("a quote opened on line {start} is never closed"));
    }
    if !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        out.push((start, rec));
    }
    Ok(out)
}

/// The entries of a KeePassXC or Bitwarden CSV export, and a sentence for each row skipped.
pub fn from_csv(text: &str) -> Result<(Vec<Imported>, Vec<String>), String> {
    let recs = records(text)?;
    let Some(((_, header), rows)) = recs.split_first() else {
        return Err("the file is empty".into());
    };
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let title = col(&["title", "name"]).ok_or(
        "no Title (KeePassXC) or name (Bitwarden) column: not a password manager's CSV export",
    )?;
    let user = col(&["username", "login_username"]);
    let pass = col(&["password", "login_password"]);
    let url = col(&["url", "login_uri"]);
    let note = col(&["notes", "note"]);
    let folder = col(&["group", "folder"]);
    let totp = col(&["totp", "login_totp"]);
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (line, r) in rows {
        if r.len() != header.len() {
            bad.push(format!(
                "line {line}: {} fields where the header has {}",
                r.len(),
                header.len()
            ));
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| r.get(i)).cloned().unwrap_or_default();
        let t = get(Some(title));
        if t.trim().is_empty() {
            bad.push(format!("line {line}: no title"));
            continue;
        }
        good.push(Imported {
            title: t,
            user: get(user),
            password: get(pass),
            url: get(url),
            note: get(note),
            folder: get(folder),
            totp: get(totp),
        });
    }
    Ok((good, bad))
}

/// The entries as CSV in KeePassXC's columns (`vault export --plaintext`), which KeePassXC,
/// Bitwarden and `vault import` read back.
pub fn to_csv(entries: &super::entries::Entries) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out =
        String::from("\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\",\"TOTP\"\n");
    for e in &entries.entries {
        let row = [
            &e.folder,
            &e.title,
            &e.user,
            &e.password,
            &e.url,
            &e.note,
            &e.totp,
        ];
        let cells: Vec<String> = row.iter().map(|c| q(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_export_reads_back() {
        let mut v = super::super::entries::Entries::default();
        let mut e = super::super::entries::Entry::titled("Radio \"net\", north");
        e.password = "p,\"q\"\nr".into();
        e.folder = "camp".into();
        e.totp = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into();
        v.entries.push(e);
        let (back, bad) = from_csv(&to_csv(&v)).expect("csv");
        assert!(bad.is_empty());
        assert_eq!(back[0].title, v.entries[0].title);
        assert_eq!(back[0].password, v.entries[0].password);
        assert_eq!(back[0].folder, "camp");
        assert_eq!(back[0].totp, v.entries[0].totp);
    }

    #[test]
    fn keepassxc_and_bitwarden_exports_are_read_and_bad_rows_reported() {
        let kp = "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\"\n\
                  \"Root/camp\",\"Radio net\",\"ops\",\"p\"\"q,r\",\"\",\"two\nlines\"\n\
                  \"Root\",\"broken\",\"x\"\n\
                  \"Root\",\"\",\"a\",\"b\",\"c\",\"d\"\n";
        let (good, bad) = from_csv(kp).expect("csv");
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].title, "Radio net");
        assert_eq!(good[0].password, "p\"q,r");
        assert_eq!(good[0].note, "two\nlines");
        assert_eq!(good[0].folder, "Root/camp");
        assert_eq!(
            bad,
            vec![
                "line 4: 3 fields where the header has 6",
                "line 5: no title"
            ]
        );
        let bw = "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\r\n\
                  camp,,login,Wifi,,,0,https://x,,hunter2,\r\n";
        let (good, bad) = from_csv(bw).expect("csv");
        assert!(bad.is_empty());
        assert_eq!(
            (good[0].title.as_str(), good[0].password.as_str()),
            ("Wifi", "hunter2")
        );
        assert!(from_csv("a,b\n1,2\n").is_err());
        assert!(from_csv("Title\n\"open").is_err());
    }
}
