//! The delivery state machine on the host: no browser, storage is a map that "other tabs"
//! write to between calls.

use super::*;
use crate::pending::{decode_pending, decode_sent, encode_pending, MAX_PENDING_BYTES};
use alloc::format;
use core::cell::{Cell, RefCell};
use std::collections::HashMap;

#[derive(Default)]
struct Map(RefCell<HashMap<String, String>>);

impl Store for Map {
    fn load(&self, key: &str) -> Option<String> {
        self.0.borrow().get(key).cloned()
    }

    fn save(&self, key: &str, value: &str) {
        let mut map = self.0.borrow_mut();
        if value.is_empty() {
            map.remove(key);
        } else {
            map.insert(String::from(key), String::from(value));
        }
    }
}

impl Map {
    fn sent(&self) -> Vec<String> {
        self.load(pending::SENT_KEY)
            .map(|v| decode_sent(&v))
            .unwrap_or_default()
    }

    fn pending_ids(&self) -> Vec<String> {
        self.load(pending::PENDING_KEY)
            .map(|v| decode_pending(&v).into_iter().map(|p| p.id).collect())
            .unwrap_or_default()
    }
}

fn item(id: &str) -> Pending {
    Pending {
        id: String::from(id),
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

fn ids(items: &[Pending]) -> Vec<&str> {
    items.iter().map(|p| p.id.as_str()).collect()
}

/// A delivery with `queued` enqueued, nothing sent yet.
fn queued(store: &Map, queued: &[&str]) -> Delivery {
    let mut d = Delivery::default();
    for id in queued {
        assert!(d.is_new(id, store));
        d.enqueue(item(id), store);
    }
    d
}

fn answer(d: &mut Delivery, store: &Map, outcome: Outcome) -> Settled {
    d.next_send().expect("a binding to send");
    d.settled(outcome, true, 0.0, store)
}

#[test]
fn sends_oldest_first_one_at_a_time() {
    let store = Map::default();
    let mut d = queued(&store, &["a", "b"]);
    assert_eq!(store.pending_ids(), ["a", "b"]);
    assert_eq!(d.next_send(), Some(item("a").body));
    assert_eq!(d.next_send(), None, "one request in flight at a time");
    assert_eq!(
        d.settled(Outcome::Delivered, true, 0.0, &store),
        Settled::Delivered
    );
    assert_eq!(d.sent(), 1);
    assert_eq!(store.sent(), ["a"]);
    assert_eq!(store.pending_ids(), ["b"]);
    assert_eq!(
        answer(&mut d, &store, Outcome::Delivered),
        Settled::Delivered
    );
    assert_eq!(d.sent(), 2);
    assert!(d.queue().is_empty());
    assert!(store.pending_ids().is_empty());
    assert_eq!(d.next_send(), None);
}

#[test]
fn a_failure_is_retried_with_backoff_and_retry_after() {
    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    assert_eq!(
        answer(&mut d, &store, Outcome::Retry(None)),
        Settled::Retry { delay_ms: 500 },
        "first retry: half of 1 s with no jitter"
    );
    assert!(d.failing());
    assert_eq!(store.pending_ids(), ["a"], "still stored for the next page");
    assert_eq!(d.next_send(), None, "nothing goes until the retry is due");
    d.retry_due();
    assert_eq!(
        answer(&mut d, &store, Outcome::Retry(Some(30))),
        Settled::Retry { delay_ms: 30_000 },
        "the server's Retry-After wins over a shorter backoff"
    );
    d.retry_due();
    assert_eq!(
        answer(&mut d, &store, Outcome::Delivered),
        Settled::Delivered
    );
    assert!(!d.failing(), "an answer resets the backoff");
    assert_eq!(d.sent(), 1);
}

#[test]
fn a_refusal_is_not_retried() {
    let store = Map::default();
    let mut d = queued(&store, &["a", "b"]);
    assert_eq!(
        answer(&mut d, &store, Outcome::Rejected(400)),
        Settled::Refused
    );
    assert_eq!(d.sent(), 0, "a refusal is not a delivery");
    assert!(!d.failing());
    assert_eq!(store.sent(), ["a"], "never sent again, from any tab");
    assert_eq!(ids(d.queue()), ["b"]);
    assert!(!d.is_new("a", &store));
}

#[test]
fn no_retry_once_the_agent_stopped() {
    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    d.next_send().unwrap();
    assert_eq!(
        d.settled(Outcome::Retry(None), false, 0.0, &store),
        Settled::Ignored
    );
    assert!(!d.failing());
    assert_eq!(store.pending_ids(), ["a"], "left for the next page load");
}

#[test]
fn hidden_while_the_relay_answers_hands_over_and_beacons_the_rest() {
    let store = Map::default();
    let mut d = queued(&store, &["a", "b", "c"]);
    d.next_send().unwrap();
    let beaconed = RefCell::new(Vec::new());
    let taken = d.flush(&store, |body| {
        beaconed.borrow_mut().push(String::from(body));
        true
    });
    assert_eq!(taken, 2);
    assert_eq!(beaconed.into_inner(), [item("b").body, item("c").body]);
    assert!(d.queue().is_empty());
    assert_eq!(
        d.sent(),
        2,
        "the beacons count; the request under way not yet"
    );
    assert_eq!(
        store.sent(),
        ["a", "b", "c"],
        "the keepalive request counts as sent"
    );
    assert!(store.pending_ids().is_empty());
    assert!(!d.is_new("a", &store));
    assert_eq!(
        d.settled(Outcome::Delivered, true, 0.0, &store),
        Settled::Delivered
    );
    assert_eq!(d.sent(), 3);
}

#[test]
fn a_refused_beacon_stays_queued() {
    let store = Map::default();
    let mut d = queued(&store, &["a", "b"]);
    let calls = Cell::new(0);
    let taken = d.flush(&store, |body| {
        calls.set(calls.get() + 1);
        body == item("b").body
    });
    assert_eq!((taken, calls.get()), (1, 2));
    assert_eq!(ids(d.queue()), ["a"]);
    assert_eq!(store.pending_ids(), ["a"]);
    assert_eq!(store.sent(), ["b"]);
}

#[test]
fn hidden_while_the_relay_fails_beacons_once_and_keeps_it_queued() {
    let store = Map::default();
    let mut d = queued(&store, &["a", "b"]);
    assert!(matches!(
        answer(&mut d, &store, Outcome::Retry(Some(5))),
        Settled::Retry { .. }
    ));
    let calls = Cell::new(0);
    let beacon = |_: &str| {
        calls.set(calls.get() + 1);
        true
    };
    assert_eq!(d.flush(&store, beacon), 2);
    assert_eq!(
        ids(d.queue()),
        ["a", "b"],
        "kept: the retry keeps Retry-After"
    );
    assert_eq!(
        store.pending_ids(),
        ["a", "b"],
        "and the next page sends it"
    );
    assert_eq!(d.sent(), 0);
    assert!(store.sent().is_empty());
    assert_eq!(d.flush(&store, beacon), 0, "each binding is beaconed once");
    assert_eq!(calls.get(), 2);

    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    assert!(matches!(
        answer(&mut d, &store, Outcome::Retry(None)),
        Settled::Retry { .. }
    ));
    d.retry_due();
    let _in_flight = d.next_send().unwrap();
    assert_eq!(
        d.flush(&store, |_| panic!("the request under way is not beaconed")),
        0
    );
}

#[test]
fn a_handed_request_that_fails_while_the_page_lives_on_is_queued_again() {
    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    d.next_send().unwrap();
    assert_eq!(d.flush(&store, |_| true), 0);
    assert_eq!(store.sent(), ["a"]);
    assert!(d.queue().is_empty());
    assert_eq!(
        d.settled(Outcome::Retry(None), true, 0.0, &store),
        Settled::Retry { delay_ms: 500 }
    );
    assert_eq!(ids(d.queue()), ["a"], "queued again, first");
    assert!(store.sent().is_empty(), "no longer stored as sent");
    assert_eq!(store.pending_ids(), ["a"]);
    assert_eq!(d.next_send(), None, "not before the retry is due");
    d.retry_due();
    assert_eq!(d.next_send(), Some(item("a").body));
}

#[test]
fn a_handed_request_that_fails_after_stop_is_not_queued_again() {
    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    d.next_send().unwrap();
    d.flush(&store, |_| true);
    assert_eq!(
        d.settled(Outcome::Retry(None), false, 0.0, &store),
        Settled::Ignored
    );
    assert!(d.queue().is_empty());
    assert_eq!(store.sent(), ["a"]);
}

#[test]
fn what_other_tabs_stored_is_merged() {
    let store = Map::default();
    store.save(pending::SENT_KEY, "x");
    store.save(
        pending::PENDING_KEY,
        &encode_pending(&[item("x"), item("y"), item("z")]),
    );
    let mut d = Delivery::default();
    d.restore(&store);
    assert_eq!(ids(d.queue()), ["x", "y", "z"]);
    assert!(!d.is_new("x", &store), "sent by an earlier page");
    assert!(!d.is_new("y", &store), "queued by an earlier page");

    assert_eq!(d.next_send(), Some(item("x").body));
    // Another tab sends y and z meanwhile.
    store.save(pending::SENT_KEY, "x,y,z");
    d.merge_stored(&store);
    assert_eq!(ids(d.queue()), ["x"], "the request in flight stays");
    // Another tab queues w: new to this page, but not to the site.
    store.save(
        pending::PENDING_KEY,
        &encode_pending(&[item("x"), item("w")]),
    );
    assert!(!d.is_new("w", &store));
    assert!(d.is_new("v", &store));
    assert_eq!(
        d.settled(Outcome::Delivered, true, 0.0, &store),
        Settled::Delivered
    );
    assert_eq!(
        store.pending_ids(),
        ["w"],
        "the other tab's binding stays stored"
    );
    assert_eq!(store.sent(), ["x", "y", "z"]);
}

#[test]
fn stored_pending_is_capped_keeping_the_newest() {
    let store = Map::default();
    let mut d = Delivery::default();
    let big = |n: usize| Pending {
        id: format!("b{n}"),
        body: format!("{{\"x\":\"{}\"}}", "a".repeat(3000)),
    };
    for n in 0..10 {
        d.enqueue(big(n), &store);
    }
    assert_eq!(d.queue().len(), 10, "this page keeps them all");
    let stored = store.load(pending::PENDING_KEY).unwrap();
    assert!(stored.len() <= MAX_PENDING_BYTES);
    assert_eq!(store.pending_ids(), ["b5", "b6", "b7", "b8", "b9"]);
}

#[test]
fn an_answer_for_a_forgotten_binding_changes_nothing() {
    let store = Map::default();
    let mut d = queued(&store, &["a"]);
    d.next_send().unwrap();
    d.clear();
    forget(&store);
    assert_eq!(
        d.settled(Outcome::Delivered, true, 0.0, &store),
        Settled::Ignored
    );
    assert_eq!(d.sent(), 0);
    assert!(
        store.0.borrow().is_empty(),
        "consent denied: nothing stored"
    );
    assert!(d.is_new("a", &store));
}
