//! One conformance suite, run against both engines: the embedded SQLite store always (in memory,
//! and on a database file, where reads may run on read connections beside the writer), and
//! DynamoDB through a local DynamoDB-compatible server (moto) when `FRONTDOOR_TEST_DYNAMODB`
//! names its endpoint — `make test` starts moto and sets it. With
//! `FRONTDOOR_REQUIRE_DYNAMODB=1` (also set by `make test`) a missing endpoint fails the run
//! instead of skipping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use frontdoor::clock::{Clock, ManualClock};
use frontdoor::store::dynamodb::DynamoStore;
use frontdoor::store::sqlite::SqliteStore;
use frontdoor::store::{Condition, Item, ItemStore, Key, Query, StoreError, Write};
use frontdoor_tests::T0;
use serde_json::json;

struct Engine {
    store: Arc<dyn ItemStore>,
    clock: Arc<ManualClock>,
    _files: Option<RemovedOnDrop>,
}

/// A directory of the test's own, removed when the test ends.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite() -> Option<Engine> {
    let clock = Arc::new(ManualClock::new(T0));
    let store = SqliteStore::in_memory(clock.clone()).unwrap();
    Some(Engine {
        store: Arc::new(store),
        clock,
        _files: None,
    })
}

async fn sqlite_file(test: &str) -> Option<Engine> {
    let clock = Arc::new(ManualClock::new(T0));
    let dir = std::env::temp_dir().join(format!(
        "frontdoor-conformance-{test}-{}",
        std::process::id()
    ));
    let files = RemovedOnDrop(dir.clone());
    let store = SqliteStore::open(&dir.join("store.sqlite3"), clock.clone()).unwrap();
    Some(Engine {
        store: Arc::new(store),
        clock,
        _files: Some(files),
    })
}

/// A fresh table on the local DynamoDB-compatible server, or `None` to skip.
async fn dynamodb(test: &str) -> Option<Engine> {
    let Ok(endpoint) = std::env::var("FRONTDOOR_TEST_DYNAMODB") else {
        if std::env::var("FRONTDOOR_REQUIRE_DYNAMODB").is_ok_and(|v| v == "1") {
            panic!("FRONTDOOR_REQUIRE_DYNAMODB=1 but FRONTDOOR_TEST_DYNAMODB is not set");
        }
        eprintln!("skipping the DynamoDB run of {test}: FRONTDOOR_TEST_DYNAMODB is not set");
        return None;
    };
    let clock = Arc::new(ManualClock::new(T0));
    let client = frontdoor_tests::dynamodb_client(&endpoint).await;
    let table = format!("conformance-{test}-{}", std::process::id());
    let store = DynamoStore::new(client, table, clock.clone());
    store.ensure_table().await.unwrap();
    Some(Engine {
        store: Arc::new(store),
        clock,
        _files: None,
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(e) = super::sqlite().await {
                        super::$name(e).await;
                    }
                }
            )*
        }
        mod on_sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(e) = super::sqlite_file(stringify!($name)).await {
                        super::$name(e).await;
                    }
                }
            )*
        }
        mod on_dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(e) = super::dynamodb(stringify!($name)).await {
                        super::$name(e).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    put_get_round_trip,
    not_exists_guards_a_key,
    versions_guard_updates,
    exists_and_delete_conditions,
    transactions_are_all_or_nothing,
    check_operations_take_part_in_transactions,
    two_operations_on_one_item_are_refused,
    partitions_read_in_sort_key_order,
    the_secondary_index_finds_items,
    expired_items_are_invisible_and_count_as_absent,
    counters_count_and_restart_after_expiry,
    batch_get_returns_found_items_in_order,
    racing_conditional_puts_have_one_winner,
    a_scan_pages_through_every_live_item_of_a_prefix,
    counts_match_what_a_query_returns,
);

fn item(pk: &str, sk: &str, n: i64) -> Item {
    Item::new(Key::new(pk, sk), json!({ "n": n, "nested": { "s": "x" } }))
}

async fn put_get_round_trip(e: Engine) {
    let original = item("P#1", "A", 1)
        .with_gsi1("G#1", "S#1")
        .with_version(7)
        .with_expiry(e.clock.now_secs() + 3600);
    e.store
        .write(vec![Write::put(original.clone(), Condition::None)])
        .await
        .unwrap();
    let got = e.store.get(&Key::new("P#1", "A")).await.unwrap();
    assert_eq!(got, Some(original));
    assert_eq!(e.store.get(&Key::new("P#1", "B")).await.unwrap(), None);
}

async fn not_exists_guards_a_key(e: Engine) {
    let w = || Write::put(item("P#2", "A", 1), Condition::NotExists);
    e.store.write(vec![w()]).await.unwrap();
    assert_eq!(
        e.store.write(vec![w()]).await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
}

async fn versions_guard_updates(e: Engine) {
    e.store
        .write(vec![Write::put(item("P#3", "A", 1), Condition::NotExists)])
        .await
        .unwrap();
    let v2 = item("P#3", "A", 2).with_version(2);
    e.store
        .write(vec![Write::put(v2, Condition::Version(1))])
        .await
        .unwrap();
    // A writer that read version 1 loses: nothing is overwritten.
    let stale = item("P#3", "A", 99).with_version(2);
    assert_eq!(
        e.store
            .write(vec![Write::put(stale, Condition::Version(1))])
            .await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    let got = e.store.get(&Key::new("P#3", "A")).await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.doc["n"], 2);
}

async fn exists_and_delete_conditions(e: Engine) {
    let k = Key::new("P#4", "A");
    assert_eq!(
        e.store
            .write(vec![Write::put(item("P#4", "A", 1), Condition::Exists)])
            .await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    assert_eq!(
        e.store
            .write(vec![Write::delete(k.clone(), Condition::Exists)])
            .await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    e.store
        .write(vec![Write::put(item("P#4", "A", 1), Condition::NotExists)])
        .await
        .unwrap();
    assert_eq!(
        e.store
            .write(vec![Write::delete(k.clone(), Condition::Version(5))])
            .await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    e.store
        .write(vec![Write::delete(k.clone(), Condition::Version(1))])
        .await
        .unwrap();
    assert_eq!(e.store.get(&k).await.unwrap(), None);
}

async fn transactions_are_all_or_nothing(e: Engine) {
    e.store
        .write(vec![Write::put(
            item("P#5", "taken", 0),
            Condition::NotExists,
        )])
        .await
        .unwrap();
    let result = e
        .store
        .write(vec![
            Write::put(item("P#5", "new", 1), Condition::NotExists),
            Write::put(item("P#5", "taken", 2), Condition::NotExists),
            Write::put(item("P#5", "other", 3), Condition::None),
        ])
        .await;
    assert_eq!(result, Err(StoreError::ConditionFailed { index: 1 }));
    assert_eq!(e.store.get(&Key::new("P#5", "new")).await.unwrap(), None);
    assert_eq!(e.store.get(&Key::new("P#5", "other")).await.unwrap(), None);
    assert_eq!(
        e.store
            .get(&Key::new("P#5", "taken"))
            .await
            .unwrap()
            .unwrap()
            .doc["n"],
        0
    );
    e.store
        .write(vec![
            Write::put(item("P#5", "new", 1), Condition::NotExists),
            Write::delete(Key::new("P#5", "taken"), Condition::Exists),
        ])
        .await
        .unwrap();
    assert!(
        e.store
            .get(&Key::new("P#5", "new"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        e.store
            .get(&Key::new("P#5", "taken"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn check_operations_take_part_in_transactions(e: Engine) {
    let guard = Key::new("P#6", "guard");
    let attempt = || {
        vec![
            Write::check(guard.clone(), Condition::Exists),
            Write::put(item("P#6", "x", 1), Condition::None),
        ]
    };
    assert_eq!(
        e.store.write(attempt()).await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    assert!(e.store.get(&Key::new("P#6", "x")).await.unwrap().is_none());
    e.store
        .write(vec![Write::put(item("P#6", "guard", 0), Condition::None)])
        .await
        .unwrap();
    e.store.write(attempt()).await.unwrap();
    assert!(e.store.get(&Key::new("P#6", "x")).await.unwrap().is_some());
}

async fn two_operations_on_one_item_are_refused(e: Engine) {
    let r = e
        .store
        .write(vec![
            Write::put(item("P#7", "A", 1), Condition::None),
            Write::delete(Key::new("P#7", "A"), Condition::None),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
}

async fn partitions_read_in_sort_key_order(e: Engine) {
    for (i, sk) in ["SESSION#b", "CLIENT", "SESSION#a", "SESSION#c", "SIGN_IN#z"]
        .iter()
        .enumerate()
    {
        e.store
            .write(vec![Write::put(item("P#8", sk, i as i64), Condition::None)])
            .await
            .unwrap();
    }
    e.store
        .write(vec![Write::put(
            item("P#8x", "SESSION#q", 0),
            Condition::None,
        )])
        .await
        .unwrap();
    let sks = |items: Vec<Item>| items.into_iter().map(|i| i.sk).collect::<Vec<_>>();
    let all = e.store.query(&Query::partition("P#8")).await.unwrap();
    assert_eq!(
        sks(all),
        vec!["CLIENT", "SESSION#a", "SESSION#b", "SESSION#c", "SIGN_IN#z"]
    );
    let sessions = e
        .store
        .query(&Query::partition("P#8").prefix("SESSION#").newest_first())
        .await
        .unwrap();
    assert_eq!(sks(sessions), vec!["SESSION#c", "SESSION#b", "SESSION#a"]);
    let two = e
        .store
        .query(&Query::partition("P#8").prefix("SESSION#").limit(2))
        .await
        .unwrap();
    assert_eq!(sks(two), vec!["SESSION#a", "SESSION#b"]);
    assert!(
        e.store
            .query(&Query::partition("P#none"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_secondary_index_finds_items(e: Engine) {
    e.store
        .write(vec![
            Write::put(
                item("C#1", "SESSION#1", 1).with_gsi1("U#1", "SESSION#1"),
                Condition::None,
            ),
            Write::put(
                item("C#2", "SESSION#2", 2).with_gsi1("U#1", "SESSION#2"),
                Condition::None,
            ),
            Write::put(
                item("C#3", "SESSION#3", 3).with_gsi1("U#2", "SESSION#3"),
                Condition::None,
            ),
            Write::put(item("C#4", "SESSION#4", 4), Condition::None),
        ])
        .await
        .unwrap();
    let found = e
        .store
        .query(&Query::gsi1("U#1").prefix("SESSION#"))
        .await
        .unwrap();
    let pks: Vec<_> = found.iter().map(|i| i.pk.as_str()).collect();
    assert_eq!(pks, vec!["C#1", "C#2"]);
}

async fn expired_items_are_invisible_and_count_as_absent(e: Engine) {
    let now = e.clock.now_secs();
    e.store
        .write(vec![
            Write::put(item("P#9", "old", 1).with_expiry(now + 10), Condition::None),
            Write::put(
                item("P#9", "live", 2).with_expiry(now + 1000),
                Condition::None,
            ),
        ])
        .await
        .unwrap();
    e.clock.advance(Duration::from_secs(11));
    assert_eq!(e.store.get(&Key::new("P#9", "old")).await.unwrap(), None);
    let q = e.store.query(&Query::partition("P#9")).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].sk, "live");
    let b = e
        .store
        .batch_get(&[Key::new("P#9", "old"), Key::new("P#9", "live")])
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    // The engine may still hold the expired item, but conditions treat it as gone.
    assert_eq!(
        e.store
            .write(vec![Write::put(
                item("P#9", "old", 3),
                Condition::Version(1)
            )])
            .await,
        Err(StoreError::ConditionFailed { index: 0 })
    );
    e.store
        .write(vec![Write::put(
            item("P#9", "old", 4),
            Condition::NotExists,
        )])
        .await
        .unwrap();
    assert_eq!(
        e.store
            .get(&Key::new("P#9", "old"))
            .await
            .unwrap()
            .unwrap()
            .doc["n"],
        4
    );
}

async fn counters_count_and_restart_after_expiry(e: Engine) {
    let k = Key::new("RATE#x#1.2.3.4", "0");
    let exp = e.clock.now_secs() + 10;
    assert_eq!(e.store.increment(&k, 1, exp).await.unwrap(), 1);
    assert_eq!(e.store.increment(&k, 1, exp).await.unwrap(), 2);
    assert_eq!(e.store.increment(&k, 3, exp).await.unwrap(), 5);
    e.clock.advance(Duration::from_secs(11));
    let exp = e.clock.now_secs() + 10;
    assert_eq!(e.store.increment(&k, 1, exp).await.unwrap(), 1);
}

async fn batch_get_returns_found_items_in_order(e: Engine) {
    for sk in ["a", "b", "c"] {
        e.store
            .write(vec![Write::put(item("P#10", sk, 0), Condition::None)])
            .await
            .unwrap();
    }
    let got = e
        .store
        .batch_get(&[
            Key::new("P#10", "c"),
            Key::new("P#10", "missing"),
            Key::new("P#10", "a"),
        ])
        .await
        .unwrap();
    let sks: Vec<_> = got.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, vec!["c", "a"]);
}

async fn racing_conditional_puts_have_one_winner(e: Engine) {
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = e.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .write(vec![Write::put(
                    item("P#11", "guard", n),
                    Condition::NotExists,
                )])
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed { index: 0 }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

async fn a_scan_pages_through_every_live_item_of_a_prefix(e: Engine) {
    let mut writes = Vec::new();
    for i in 0..7 {
        writes.push(Write::put(item(&format!("U#{i}"), "A", i), Condition::None));
        writes.push(Write::put(item(&format!("U#{i}"), "B", i), Condition::None));
    }
    writes.push(Write::put(item("OTHER#1", "A", 0), Condition::None));
    let soon = e.clock.now_secs() + 10;
    writes.push(Write::put(
        item("U#gone", "A", 0).with_expiry(soon),
        Condition::None,
    ));
    e.store.write(writes).await.unwrap();
    e.clock.advance(Duration::from_secs(11));

    let mut seen = Vec::new();
    let mut after: Option<Key> = None;
    let mut pages = 0;
    loop {
        let (items, next) = e.store.scan("U#", after.as_ref(), 4).await.unwrap();
        assert!(items.len() <= 4);
        seen.extend(items.iter().map(|i| (i.pk.clone(), i.sk.clone())));
        pages += 1;
        match next {
            Some(k) => after = Some(k),
            None => break,
        }
        assert!(pages < 10, "the scan ends");
    }
    seen.sort();
    let mut want: Vec<(String, String)> = (0..7)
        .flat_map(|i| {
            [
                (format!("U#{i}"), "A".to_owned()),
                (format!("U#{i}"), "B".to_owned()),
            ]
        })
        .collect();
    want.sort();
    assert_eq!(
        seen, want,
        "each live item of the prefix once: no other prefix, nothing expired"
    );
}

async fn counts_match_what_a_query_returns(e: Engine) {
    let mut writes = Vec::new();
    for i in 0..12 {
        let pk = if i % 3 == 0 { "C#other" } else { "C#1" };
        writes.push(Write::put(
            item(
                pk,
                &format!("{}#{i:02}", if i % 2 == 0 { "EVEN" } else { "ODD" }),
                i,
            )
            .with_gsi1("CG#1", format!("S#{i:02}")),
            Condition::None,
        ));
    }
    let soon = e.clock.now_secs() + 10;
    writes.push(Write::put(
        item("C#1", "ODD#99", 99)
            .with_gsi1("CG#1", "S#99")
            .with_expiry(soon),
        Condition::None,
    ));
    e.store.write(writes).await.unwrap();
    e.clock.advance(Duration::from_secs(11));
    for q in [
        Query::partition("C#1"),
        Query::partition("C#1").prefix("ODD#"),
        Query::gsi1("CG#1"),
        Query::gsi1("CG#1").prefix("S#1"),
        Query::partition("C#none"),
    ] {
        let listed = e.store.query(&q).await.unwrap().len();
        assert_eq!(e.store.count(&q).await.unwrap(), listed, "{q:?}");
    }
    assert_eq!(
        e.store.count(&Query::gsi1("CG#1")).await.unwrap(),
        12,
        "the expired item is not counted"
    );
}
