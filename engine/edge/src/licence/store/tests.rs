//! Both stores against real backends: an SQLite file in a temp dir, and a `redis-server` started
//! per test on a free loopback port (install it with `bash scripts/setup.sh redis-server`).

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::Admission::{Admitted, InUse, Refused};
use super::StreamRequest;
use super::{ApiKeyEntry, Binding, Grant, LicenceStore, RedisStore, SqliteStore, StoreError};
use abmark_delivery::ids::{ContentId, Kid};

const T0: u64 = 1_700_000_000;
const TTL: u64 = 60;

fn film(id: &str) -> ContentId {
    ContentId::new(id).unwrap()
}

// ---------------------------------------------------------------- cases shared by both stores

fn limit_then_refuse(s: &dyn LicenceStore) {
    assert_eq!(s.admit("alice", "s1", "p", T0, TTL, 2).unwrap(), Admitted { active: 1 });
    assert_eq!(s.admit("alice", "s2", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    assert_eq!(s.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Refused { active: 2, limit: 2 });
    assert_eq!(
        s.admit("alice", "s4", "p", T0 + 1, TTL, 2).unwrap(),
        Refused { active: 2, limit: 2 }
    );
    // Another subject has its own count.
    assert_eq!(s.admit("bob", "s1", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });
    assert_eq!(s.admit("bob", "s2", "p", T0, TTL, 1).unwrap(), Refused { active: 1, limit: 1 });
    // Limit 0 admits nothing new.
    assert_eq!(s.admit("carol", "s1", "p", T0, TTL, 0).unwrap(), Refused { active: 0, limit: 0 });
}

fn renew(s: &dyn LicenceStore) {
    assert_eq!(s.admit("alice", "s1", "p", T0, TTL, 2).unwrap(), Admitted { active: 1 });
    assert_eq!(s.admit("alice", "s2", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    // Renewing an active stream at the limit is admitted and extends it to T0+30+TTL.
    assert_eq!(s.admit("alice", "s1", "p", T0 + 30, TTL, 2).unwrap(), Admitted { active: 2 });
    // At T0+TTL s2 has expired, s1 (renewed) has not: one slot free, then none.
    assert_eq!(s.admit("alice", "s3", "p", T0 + TTL, TTL, 2).unwrap(), Admitted { active: 2 });
    assert_eq!(
        s.admit("alice", "s4", "p", T0 + TTL, TTL, 2).unwrap(),
        Refused { active: 2, limit: 2 }
    );
    // A renewal stays admitted even when the limit has since been lowered.
    assert_eq!(s.admit("alice", "s1", "p", T0 + TTL, TTL, 1).unwrap(), Admitted { active: 2 });
    // A renewal with an earlier expiry does not shorten the stream.
    assert_eq!(s.admit("alice", "s1", "p", T0 + TTL, 1, 2).unwrap(), Admitted { active: 2 });
    assert_eq!(
        s.admit("alice", "s5", "p", T0 + TTL + 5, TTL, 2).unwrap(),
        Refused { active: 2, limit: 2 }
    );
}

fn expiry_frees_slot(s: &dyn LicenceStore) {
    assert_eq!(s.admit("alice", "s1", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });
    assert_eq!(
        s.admit("alice", "s2", "p", T0 + TTL - 1, TTL, 1).unwrap(),
        Refused { active: 1, limit: 1 }
    );
    // Expiry <= now no longer counts.
    assert_eq!(s.admit("alice", "s2", "p", T0 + TTL, TTL, 1).unwrap(), Admitted { active: 1 });
    // The expired s1 comes back as a new stream, not a renewal.
    assert_eq!(
        s.admit("alice", "s1", "p", T0 + TTL, TTL, 1).unwrap(),
        Refused { active: 1, limit: 1 }
    );
}

fn release_frees_slot(s: &dyn LicenceStore) {
    assert_eq!(s.admit("alice", "s1", "p", T0, TTL, 2).unwrap(), Admitted { active: 1 });
    assert_eq!(s.admit("alice", "s2", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    assert_eq!(s.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Refused { active: 2, limit: 2 });
    assert!(s.release("alice", "s1", "p").unwrap());
    // The refused s3 was never recorded: it takes the freed slot as a new stream.
    assert_eq!(s.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    // Releasing what is not there (twice, unknown subject) is fine.
    assert!(!s.release("alice", "s1", "p").unwrap());
    assert!(!s.release("nobody", "s1", "p").unwrap());
    // Releasing another subject's stream id does not touch alice's.
    assert!(!s.release("bob", "s2", "p").unwrap());
    assert_eq!(s.admit("alice", "s4", "p", T0, TTL, 2).unwrap(), Refused { active: 2, limit: 2 });
}

/// A stream (a licence token) belongs to the player that started it: the same token from
/// another player gets no slot, whatever the limit; only its own player renews or releases it.
fn one_player_per_stream(s: &dyn LicenceStore) {
    assert_eq!(s.admit("alice", "t1", "pa", T0, TTL, 5).unwrap(), Admitted { active: 1 });
    assert_eq!(s.admit("alice", "t1", "pb", T0, TTL, 5).unwrap(), InUse { active: 1 });
    assert_eq!(s.admit("alice", "t1", "pa", T0 + 1, TTL, 5).unwrap(), Admitted { active: 1 });
    // Another player cannot release it; its own can, and then anyone may take the token.
    assert!(!s.release("alice", "t1", "pb").unwrap());
    assert_eq!(s.admit("alice", "t1", "pb", T0 + 2, TTL, 5).unwrap(), InUse { active: 1 });
    assert!(s.release("alice", "t1", "pa").unwrap());
    assert_eq!(s.admit("alice", "t1", "pb", T0 + 3, TTL, 5).unwrap(), Admitted { active: 1 });
    // Once expired, the stream is free again.
    assert_eq!(s.admit("alice", "t1", "pc", T0 + 3 + TTL, TTL, 5).unwrap(), Admitted { active: 1 });
    // In a grant too.
    s.put_sealed_key(&film("f"), &Kid::from_bytes([5; 16]), b"k").unwrap();
    let req = |player| Some(StreamRequest { stream: "t2", player, now: T0, ttl: TTL, limit: 5 });
    let kids = [Kid::from_bytes([5; 16])];
    let grant = |player| s.grant("bob", &film("f"), &kids, req(player)).unwrap();
    let with = |admission| Grant::Keys { sealed: vec![Some(b"k".to_vec())], admission };
    assert_eq!(grant("pa"), with(Some(Admitted { active: 1 })));
    assert_eq!(grant("pb"), with(Some(InUse { active: 1 })));
}

fn deny_list(s: &dyn LicenceStore) {
    assert!(!s.is_denied("mallory").unwrap());
    s.set_denied("mallory", true).unwrap();
    s.set_denied("mallory", true).unwrap();
    assert!(s.is_denied("mallory").unwrap());
    assert!(!s.is_denied("alice").unwrap());
    assert!(!s.is_denied("").unwrap());
    s.set_denied("mallory", false).unwrap();
    assert!(!s.is_denied("mallory").unwrap());
    s.set_denied("never-denied", false).unwrap();
    // Subjects are opaque: any bytes of UTF-8, separators included.
    let odd = "user:42/\u{e9}\u{1F600} 'quoted'\n";
    s.set_denied(odd, true).unwrap();
    assert!(s.is_denied(odd).unwrap());
    assert!(!s.is_denied("user:42").unwrap());
}

fn sealed_keys(s: &dyn LicenceStore) {
    let (k1, k2, k3) =
        (Kid::from_bytes([1; 16]), Kid::from_bytes([2; 16]), Kid::from_bytes([0; 16]));
    let (one, two) = (film("film-1"), film("film-2"));
    assert_eq!(s.sealed_key(&one, &k1).unwrap(), None);
    let sealed1: Vec<u8> = (0..44u8).map(|i| i.wrapping_mul(37)).collect(); // zero bytes included
    s.put_sealed_key(&one, &k1, &sealed1).unwrap();
    s.put_sealed_key(&one, &k2, b"second").unwrap();
    assert_eq!(s.sealed_key(&one, &k1).unwrap().as_deref(), Some(&sealed1[..]));
    assert_eq!(s.sealed_key(&one, &k2).unwrap().as_deref(), Some(&b"second"[..]));
    assert_eq!(s.sealed_key(&one, &k3).unwrap(), None);
    s.put_sealed_key(&one, &k2, b"replaced").unwrap();
    assert_eq!(s.sealed_key(&one, &k2).unwrap().as_deref(), Some(&b"replaced"[..]));
    assert_eq!(
        s.sealed_keys(&one, &[k2, k3, k1]).unwrap(),
        vec![Some(b"replaced".to_vec()), None, Some(sealed1.clone())]
    );
    assert_eq!(s.sealed_keys(&one, &[]).unwrap(), Vec::<Option<Vec<u8>>>::new());
    // Keys are bound to their content: film-2 sees none of film-1's, and its own KID k1 is
    // another row.
    assert_eq!(s.sealed_keys(&two, &[k1, k2]).unwrap(), vec![None, None]);
    s.put_sealed_key(&two, &k1, b"film-2's").unwrap();
    assert_eq!(s.sealed_key(&two, &k1).unwrap().as_deref(), Some(&b"film-2's"[..]));
    assert_eq!(s.sealed_key(&one, &k1).unwrap().as_deref(), Some(&sealed1[..]));
}

/// The one-call licence path agrees with the separate calls, and never takes a slot for a
/// denied subject or a request with no known KID.
fn grant(s: &dyn LicenceStore) {
    let (known, unknown) = (Kid::from_bytes([7; 16]), Kid::from_bytes([8; 16]));
    let (one, two) = (film("film-1"), film("film-2"));
    s.put_sealed_key(&one, &known, b"sealed-7").unwrap();
    let req = |stream| Some(StreamRequest { stream, player: "p", now: T0, ttl: TTL, limit: 1 });
    let keys =
        |admission| Grant::Keys { sealed: vec![None, Some(b"sealed-7".to_vec())], admission };
    assert_eq!(
        s.grant("alice", &one, &[unknown, known], req("s1")).unwrap(),
        keys(Some(Admitted { active: 1 }))
    );
    // Over the limit: the keys are read, the stream refused and not recorded.
    assert_eq!(
        s.grant("alice", &one, &[unknown, known], req("s2")).unwrap(),
        keys(Some(Refused { active: 1, limit: 1 }))
    );
    // A renewal of s1 is admitted.
    assert_eq!(
        s.grant("alice", &one, &[unknown, known], req("s1")).unwrap(),
        keys(Some(Admitted { active: 1 }))
    );
    // No admission asked for.
    assert_eq!(s.grant("alice", &one, &[unknown, known], None).unwrap(), keys(None));
    // No known KID (or none at all): no slot taken.
    assert_eq!(
        s.grant("bob", &one, &[unknown], req("b1")).unwrap(),
        Grant::Keys { sealed: vec![None], admission: None }
    );
    assert_eq!(
        s.grant("bob", &one, &[], req("b1")).unwrap(),
        Grant::Keys { sealed: vec![], admission: None }
    );
    assert_eq!(s.admit("bob", "b2", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });
    // A KID known only for other content: no key, no slot taken.
    assert_eq!(
        s.grant("bob", &two, &[known], req("b3")).unwrap(),
        Grant::Keys { sealed: vec![None], admission: None }
    );
    // Denied: nothing read, no slot taken.
    s.set_denied("mallory", true).unwrap();
    assert_eq!(s.grant("mallory", &one, &[known], req("m1")).unwrap(), Grant::Denied);
    s.set_denied("mallory", false).unwrap();
    assert_eq!(s.admit("mallory", "m2", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });
    // Subjects with separators and quotes stay opaque.
    let odd = "user:42/\u{e9} 'q'\n";
    assert_eq!(
        s.grant(odd, &one, &[known], req("o1")).unwrap().clone(),
        Grant::Keys {
            sealed: vec![Some(b"sealed-7".to_vec())],
            admission: Some(Admitted { active: 1 })
        }
    );
    assert_eq!(s.admit(odd, "o2", "p", T0, TTL, 1).unwrap(), Refused { active: 1, limit: 1 });
}

/// `a` and `b` are two views of one state (two processes, two replicas).
fn shared_limit(a: &dyn LicenceStore, b: &dyn LicenceStore) {
    assert_eq!(a.admit("alice", "s1", "p", T0, TTL, 2).unwrap(), Admitted { active: 1 });
    assert_eq!(b.admit("alice", "s2", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    assert_eq!(a.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Refused { active: 2, limit: 2 });
    assert_eq!(b.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Refused { active: 2, limit: 2 });
    assert_eq!(b.admit("alice", "s1", "p", T0 + 1, TTL, 2).unwrap(), Admitted { active: 2 });
    assert!(a.release("alice", "s2", "p").unwrap());
    assert_eq!(b.admit("alice", "s3", "p", T0, TTL, 2).unwrap(), Admitted { active: 2 });
    a.set_denied("mallory", true).unwrap();
    assert!(b.is_denied("mallory").unwrap());
    b.put_sealed_key(&film("f"), &Kid::from_bytes([9; 16]), b"k").unwrap();
    let seen = a.sealed_key(&film("f"), &Kid::from_bytes([9; 16])).unwrap();
    assert_eq!(seen.as_deref(), Some(&b"k"[..]));
}

/// Two threads on two store handles race for the last slot, `trials` times: exactly one wins.
fn race_last_slot(a: &dyn LicenceStore, b: &dyn LicenceStore, trials: usize) {
    const LIMIT: u32 = 3;
    let barrier = Barrier::new(2);
    for trial in 0..trials {
        let subject = format!("race-{trial}");
        for i in 0..LIMIT - 1 {
            assert!(a
                .admit(&subject, &format!("pre{i}"), "p", T0, TTL, LIMIT)
                .unwrap()
                .is_admitted());
        }
        let (ra, rb) = std::thread::scope(|scope| {
            let run = |store: &dyn LicenceStore, stream: &'static str| {
                barrier.wait();
                store.admit(&subject, stream, "p", T0, TTL, LIMIT).unwrap()
            };
            let ha = scope.spawn(move || run(a, "a"));
            let hb = scope.spawn(move || run(b, "b"));
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let winners = [&ra, &rb].iter().filter(|r| r.is_admitted()).count();
        assert_eq!(winners, 1, "trial {trial}: {ra:?} / {rb:?}");
        let (win, lose) = if ra.is_admitted() { (ra, rb) } else { (rb, ra) };
        assert_eq!(win, Admitted { active: LIMIT });
        assert_eq!(lose, Refused { active: LIMIT, limit: LIMIT });
    }
}

/// The key service's binding: a KID gets one key, for one content, whoever asks first.
fn bind_keys(s: &dyn LicenceStore) {
    let (kid, other_kid) = (Kid::from_bytes([1; 16]), Kid::from_bytes([2; 16]));
    assert_eq!(s.bind_sealed_key(&film("f1"), &kid, b"first").unwrap(), Binding::Stored);
    assert_eq!(
        s.bind_sealed_key(&film("f1"), &kid, b"second").unwrap(),
        Binding::Existing(b"first".to_vec())
    );
    assert_eq!(s.bind_sealed_key(&film("f2"), &kid, b"third").unwrap(), Binding::OtherContent);
    assert_eq!(s.sealed_key(&film("f1"), &kid).unwrap().as_deref(), Some(&b"first"[..]));
    assert_eq!(s.sealed_key(&film("f2"), &kid).unwrap(), None);
    // A KID imported for a content (serve --keys) is that content's too.
    s.put_sealed_key(&film("f3"), &other_kid, b"imported").unwrap();
    assert_eq!(s.bind_sealed_key(&film("f1"), &other_kid, b"x").unwrap(), Binding::OtherContent);
    assert_eq!(
        s.bind_sealed_key(&film("f3"), &other_kid, b"x").unwrap(),
        Binding::Existing(b"imported".to_vec())
    );
}

fn api_keys(s: &dyn LicenceStore) {
    let entry = |name: &str, hash: u8, scope: &[&str]| ApiKeyEntry {
        name: name.into(),
        hash: [hash; 32],
        scope: scope.iter().map(|p| p.to_string()).collect(),
    };
    let acme = entry("acme", 1, &["film-1", "series-*"]);
    assert!(s.add_api_key(&acme).unwrap());
    assert!(!s.add_api_key(&entry("acme", 2, &["x"])).unwrap(), "names are unique");
    assert!(s.add_api_key(&entry("globex", 3, &["g"])).unwrap());
    assert_eq!(s.api_key(&[1; 32]).unwrap(), Some(acme.clone()));
    assert_eq!(s.api_key(&[2; 32]).unwrap(), None);
    let names: Vec<String> = s.api_keys().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["acme", "globex"]);
    assert!(s.remove_api_key("acme").unwrap());
    assert!(!s.remove_api_key("acme").unwrap());
    assert_eq!(s.api_key(&[1; 32]).unwrap(), None);
    assert!(!format!("{acme:?}").contains("1, 1"), "Debug shows no hash");
}

fn run_cases(open: impl Fn() -> Box<dyn LicenceStore>) {
    limit_then_refuse(&*open());
    let cases = [renew, expiry_frees_slot, release_frees_slot, one_player_per_stream, deny_list];
    for case in cases.into_iter().chain([sealed_keys, grant, bind_keys, api_keys]) {
        case(&*open());
    }
}

// ---------------------------------------------------------------- SQLite

#[test]
fn sqlite_cases() {
    for readers in [0, 2] {
        let dir = tempfile::tempdir().unwrap();
        let n = std::cell::Cell::new(0);
        run_cases(|| {
            // A fresh file per case.
            n.set(n.get() + 1);
            let path = dir.path().join(format!("state{}.db", n.get()));
            let store = SqliteStore::open_with_readers(&path, readers).unwrap();
            assert_eq!(store.readers(), readers);
            Box::new(store)
        });
    }
}

#[test]
fn sqlite_file_mode_and_describe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    store.put_sealed_key(&film("f"), &Kid::from_bytes([1; 16]), b"x").unwrap();
    store.admit("a", "s", "p", T0, TTL, 1).unwrap();
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
    assert_eq!(store.describe(), format!("sqlite {}", path.display()));
    // Reopening keeps the data.
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let kept = store.sealed_key(&film("f"), &Kid::from_bytes([1; 16])).unwrap();
    assert_eq!(kept.as_deref(), Some(&b"x"[..]));
    assert_eq!(store.unbound_keys_dropped(), 0);
    assert_eq!(store.admit("a", "s2", "p", T0, TTL, 1).unwrap(), Refused { active: 1, limit: 1 });
}

#[test]
fn sqlite_two_handles_share_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (a, b) = (SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap());
    shared_limit(&a, &b);
    race_last_slot(&a, &b, 200);
}

#[test]
fn sqlite_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir/state.db");
    let e = SqliteStore::open(&path).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Io { .. }), "{e:?}");
    assert!(msg.starts_with(&format!("sqlite {}: create: ", path.display())), "{msg}");

    // Not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42; 4096]).unwrap();
    let msg = SqliteStore::open(&junk).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("sqlite {}: ", junk.display())), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");

    // A schema from the future.
    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer).unwrap());
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = SqliteStore::open(&newer).unwrap_err();
    assert!(matches!(e, StoreError::Schema { found: 99, expected: 3, .. }), "{e:?}");
}

/// A version-1 file (keys stored by KID alone) opens as version 3: its streams and deny list
/// are kept, its keys — bound to no content — are dropped and counted, never served.
#[test]
fn sqlite_schema_1_loses_its_unbound_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE streams (subject TEXT NOT NULL, stream TEXT NOT NULL,
             expires INTEGER NOT NULL, PRIMARY KEY (subject, stream)) WITHOUT ROWID;
         CREATE TABLE denied (subject TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
         CREATE TABLE sealed_keys (kid BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL)
             WITHOUT ROWID;
         INSERT INTO denied VALUES ('mallory');
         INSERT INTO streams VALUES ('alice', 's1', 1700000060);
         INSERT INTO sealed_keys VALUES (x'01010101010101010101010101010101', x'00');
         INSERT INTO sealed_keys VALUES (x'02020202020202020202020202020202', x'00');
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(old);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.unbound_keys_dropped(), 2);
    assert!(store.is_denied("mallory").unwrap());
    assert_eq!(
        store.admit("alice", "s2", "p", T0, TTL, 1).unwrap(),
        Refused { active: 1, limit: 1 }
    );
    assert_eq!(store.sealed_key(&film("f"), &Kid::from_bytes([1; 16])).unwrap(), None);
    drop(store);
    assert_eq!(SqliteStore::open(&path).unwrap().unbound_keys_dropped(), 0, "migrated once");
}

#[test]
fn sqlite_schema_2_gains_api_keys_and_keeps_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE streams (subject TEXT NOT NULL, stream TEXT NOT NULL,
             expires INTEGER NOT NULL, player TEXT NOT NULL DEFAULT '',
             PRIMARY KEY (subject, stream)) WITHOUT ROWID;
         CREATE TABLE denied (subject TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
         CREATE TABLE content_keys (content TEXT NOT NULL, kid BLOB NOT NULL,
             sealed BLOB NOT NULL, PRIMARY KEY (content, kid)) WITHOUT ROWID;
         INSERT INTO content_keys VALUES ('f', x'01010101010101010101010101010101', x'aa');
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(old);
    let store = SqliteStore::open(&path).unwrap();
    let kid = Kid::from_bytes([1; 16]);
    assert_eq!(store.sealed_key(&film("f"), &kid).unwrap(), Some(vec![0xaa]));
    assert_eq!(store.bind_sealed_key(&film("g"), &kid, b"x").unwrap(), Binding::OtherContent);
    api_keys(&store);
    drop(store);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

// ---------------------------------------------------------------- Redis

/// A `redis-server` of its own on a free loopback port, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let port_arg = port.to_string();
            let mut child = Command::new("redis-server")
                .args([
                    "--port",
                    &port_arg,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--daemonize", "no", "--dir"])
                .arg(dir.path())
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run redis-server ({e}): `bash scripts/setup.sh redis-server`")
                });
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port, _dir: dir };
                }
                // Exited: most likely someone took the port in between; try another.
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn redis_cases() {
    let server = RedisServer::start_with(&["--databases", "32"]);
    for connections in [1, 4] {
        // Each case on its own database so no state carries over.
        let db = std::cell::Cell::new(0);
        run_cases(|| {
            // Cases 0..16 on databases 0..16 with one connection, 16..32 with four.
            let n = db.get();
            db.set(n + 1);
            let url = format!("redis://127.0.0.1:{}/{}", server.port, n + 16 * (connections / 4));
            let store = RedisStore::connect_with(&url, connections).unwrap();
            assert_eq!(store.connections(), connections);
            Box::new(store)
        });
    }
}

#[test]
fn redis_keys_are_prefixed_and_expire() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).unwrap();
    assert_eq!(store.describe(), format!("redis {}", server.url()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    store.admit("alice", "s1", "p", now, 30, 2).unwrap();
    store.admit("alice", "s2", "p", now, 100, 2).unwrap();
    store.set_denied("mallory", true).unwrap();
    store.put_sealed_key(&film("film-1"), &Kid::from_bytes([0xab; 16]), b"sealed").unwrap();

    let mut conn = ::redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let mut keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "abmark:denied",
            "abmark:keys:film-1",
            "abmark:kid:abababababababababababababababab",
            "abmark:players:alice",
            "abmark:streams:alice"
        ]
    );
    // The streams key outlives its last stream by one second, no more.
    let ttl: i64 = ::redis::cmd("TTL").arg("abmark:streams:alice").query(&mut conn).unwrap();
    assert!((99..=101).contains(&ttl), "{ttl}");
    let field: Vec<String> =
        ::redis::cmd("HKEYS").arg("abmark:keys:film-1").query(&mut conn).unwrap();
    assert_eq!(field, [hex::encode([0xab; 16])]);
    // A refused admission writes nothing.
    let before: Vec<(String, f64)> = ::redis::cmd("ZRANGE")
        .arg("abmark:streams:alice")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut conn)
        .unwrap();
    assert!(!store.admit("alice", "s3", "p", now, 1000, 2).unwrap().is_admitted());
    let after: Vec<(String, f64)> = ::redis::cmd("ZRANGE")
        .arg("abmark:streams:alice")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut conn)
        .unwrap();
    assert_eq!(before, after);
    let ttl: i64 = ::redis::cmd("TTL").arg("abmark:streams:alice").query(&mut conn).unwrap();
    assert!(ttl <= 101, "{ttl}");
}

#[test]
fn redis_two_connections_share_state_and_race() {
    let server = RedisServer::start();
    let a = RedisStore::connect(&server.url()).unwrap();
    let b = RedisStore::connect(&server.url()).unwrap();
    shared_limit(&a, &b);
    race_last_slot(&a, &b, 200);
}

#[test]
fn redis_down_is_an_error_naming_the_url_without_password() {
    let port = free_port(); // nothing listens there
    let e = RedisStore::connect(&format!("redis://:s3cret@127.0.0.1:{port}/0")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("redis redis://127.0.0.1:{port}/0: connect: ")), "{msg}");
    assert!(!msg.contains("s3cret") && !format!("{e:?}").contains("s3cret"), "{msg}");
    assert!(e.is_unavailable(), "{e:?}");

    let e = RedisStore::connect(&format!("redis://user:s3cret@127.0.0.1:{port}/2")).unwrap_err();
    assert!(e.to_string().starts_with(&format!("redis redis://user@127.0.0.1:{port}/2: ")), "{e}");

    let e = RedisStore::connect("http://:s3cret@example.invalid/").unwrap_err();
    assert!(matches!(e, StoreError::BadUrl { .. }), "{e:?}");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn redis_server_lost_and_back() {
    let mut server = RedisServer::start();
    let url = server.url();
    let store = RedisStore::connect_with(&url, 2).unwrap();
    store.set_denied("mallory", true).unwrap();
    let _ = server.child.kill();
    let _ = server.child.wait();
    for _ in 0..3 {
        let e = store.is_denied("mallory").unwrap_err();
        assert!(e.to_string().starts_with(&format!("redis {url}: is denied: ")), "{e}");
        assert!(e.is_unavailable(), "{e:?}");
        let e = store.admit("alice", "s1", "p", T0, TTL, 1).unwrap_err();
        assert!(e.to_string().starts_with(&format!("redis {url}: admit: ")), "{e}");
    }
    // A new server on the same port: the store reconnects by itself (and reloads the script).
    let port_arg = server.port.to_string();
    server.child = Command::new("redis-server")
        .args(["--port", &port_arg, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(server._dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", server.port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not restart");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!store.is_denied("mallory").unwrap()); // in-memory state is gone with the server
    assert_eq!(store.admit("alice", "s1", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });
}

#[test]
fn redis_password_never_shown() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret"]);
    let good = format!("redis://:s3cret@127.0.0.1:{}/0", server.port);
    let store = RedisStore::connect(&good).unwrap();
    assert_eq!(store.describe(), format!("redis {}", server.url()));
    assert!(!format!("{store:?}").contains("s3cret"));
    assert_eq!(store.admit("alice", "s1", "p", T0, TTL, 1).unwrap(), Admitted { active: 1 });

    let bad = format!("redis://:wrongpass@127.0.0.1:{}/0", server.port);
    let e = RedisStore::connect(&bad).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("redis {}: connect: ", server.url())), "{msg}");
    assert!(!msg.contains("wrongpass") && !format!("{e:?}").contains("wrongpass"), "{msg}");
}

#[test]
fn redact_urls() {
    use super::redis::redact;
    assert_eq!(redact("redis://:pw@h:1/0"), "redis://h:1/0");
    assert_eq!(redact("redis://u:pw@h:1/0"), "redis://u@h:1/0");
    assert_eq!(redact("redis://u@h:1"), "redis://u@h:1");
    assert_eq!(redact("redis://h:1/0?password=pw#x"), "redis://h:1/0");
    assert_eq!(redact("redis+unix:///run/r.sock?db=1&pass=pw"), "redis+unix:///run/r.sock");
    assert_eq!(redact("u:pw@h"), "<unparsable URL>");
    assert_eq!(redact("localhost:6379"), "localhost:6379");
}

// ---------------------------------------------------------------- throughput

/// 20k licence-shaped cycles (`is_denied` + `admit` + `sealed_key`) over 2 threads; prints
/// cycles/s, store ops/s and per-cycle p50/p99.
fn throughput(label: &str, store: &dyn LicenceStore) {
    const THREADS: usize = 2;
    const CYCLES: usize = 10_000; // per thread
    for k in 0..16u8 {
        store.put_sealed_key(&film("film-1"), &Kid::from_bytes([k; 16]), &[k; 44]).unwrap();
    }
    for u in (0..5000).step_by(100) {
        store.set_denied(&format!("user{u}"), true).unwrap();
    }
    let start = Instant::now();
    let mut lat: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut lat = Vec::with_capacity(CYCLES);
                    for i in 0..CYCLES {
                        let c = Instant::now();
                        let subject = format!("user{}", (t * 7919 + i * 13) % 5000);
                        let stream = format!("s{}", i % 5);
                        if !store.is_denied(&subject).unwrap() {
                            store
                                .admit(&subject, &stream, "p", T0 + (i / 1000) as u64, TTL, 3)
                                .unwrap();
                            store
                                .sealed_key(&film("film-1"), &Kid::from_bytes([(i % 16) as u8; 16]))
                                .unwrap()
                                .unwrap();
                        }
                        lat.push(c.elapsed());
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let cycles = (THREADS * CYCLES) as f64;
    println!(
        "{label:<28} {:>8.0} cycles/s {:>8.0} ops/s  p50 {:>6.1} us  p99 {:>6.1} us  max {:>7.1} us",
        cycles / secs,
        3.0 * cycles / secs,
        lat[lat.len() / 2].as_secs_f64() * 1e6,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1e6,
        lat[lat.len() - 1].as_secs_f64() * 1e6,
    );
}

#[test]
#[ignore = "throughput figures: cargo test -p abmark-edge --lib licence::store::tests::throughput -- --ignored --nocapture"]
fn throughput_sqlite() {
    for readers in [0, 1, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with_readers(&dir.path().join("state.db"), readers).unwrap();
        throughput(&format!("sqlite, {readers} readers"), &store);
    }
}

#[test]
#[ignore = "throughput figures: cargo test -p abmark-edge --lib licence::store::tests::throughput -- --ignored --nocapture"]
fn throughput_redis() {
    for connections in [1, 2, 4] {
        let server = RedisServer::start();
        let store = RedisStore::connect_with(&server.url(), connections).unwrap();
        throughput(&format!("redis, {connections} connections"), &store);
    }
}
