//! The retry rule, and a model test of the outbox: random response sequences never deliver a
//! postback twice, never give up before `retry_for` on retryable failures, and dead-letter a
//! refusal at once.
use super::*;
use crate::config::RtbHouse;

fn rtb() -> RtbHouse {
    RtbHouse {
        retry_for: "1h".into(),
        retry_base_ms: 1000,
        retry_cap_ms: 60_000,
        ..RtbHouse::default()
    }
}

fn delivery(attempts: u32) -> Delivery {
    Delivery {
        site: "1".into(),
        lead_id: "call-1".into(),
        postback: crate::postback::Postback {
            kind: crate::webhook::LeadKind::Call,
            source_id: "1".into(),
            aid: "Aid1".into(),
            time_ms: 5,
            cd: crate::postback::Cd::Default,
        },
        attempts,
        first_at_ms: 0,
        forced: false,
    }
}

#[test]
fn responses_map_to_next_steps() {
    let r = rtb();
    assert_eq!(
        next(&Response::Status(200, None), &delivery(0), 0, &r, 0.5),
        Next::Sent
    );
    assert_eq!(
        next(&Response::Status(204, Some(9)), &delivery(3), 0, &r, 0.5),
        Next::Sent
    );
    assert_eq!(
        next(&Response::Status(400, None), &delivery(0), 0, &r, 0.5),
        Next::Dead
    );
    assert_eq!(
        next(&Response::Status(404, None), &delivery(0), 0, &r, 0.5),
        Next::Dead
    );
    assert_eq!(
        next(&Response::Status(503, None), &delivery(0), 0, &r, 0.0),
        Next::RetryAt(500)
    );
    assert_eq!(
        next(&Response::Status(429, Some(30)), &delivery(0), 0, &r, 0.0),
        Next::RetryAt(30_000),
        "Retry-After honoured"
    );
    assert_eq!(
        next(&Response::Failed, &delivery(2), 10, &r, 1.0),
        Next::RetryAt(4010)
    );
    assert_eq!(
        next(&Response::Status(502, None), &delivery(30), 0, &r, 1.0),
        Next::RetryAt(60_000),
        "capped"
    );
    assert_eq!(
        next(
            &Response::Status(500, None),
            &delivery(1),
            3_600_000,
            &r,
            0.0
        ),
        Next::Dead,
        "past retry_for"
    );
    assert_eq!(
        next(&Response::Status(500, Some(7200)), &delivery(1), 0, &r, 0.0),
        Next::Dead,
        "Retry-After beyond retry_for"
    );
}

/// A tiny deterministic generator (no test-only dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn model_random_response_sequences() {
    let r = rtb();
    let retry_for = r.retry_for().as_millis() as i64;
    let mut rng = Lcg(7);
    for _ in 0..2000 {
        let mut d = delivery(0);
        let mut now = 0i64;
        let mut delivered = 0;
        let mut steps = 0;
        loop {
            steps += 1;
            let response = match rng.next() % 6 {
                0 => Response::Status(200, None),
                1 => Response::Status(400, None),
                2 => Response::Status(503, Some(rng.next() % 5)),
                3 => Response::Status(429, None),
                _ => Response::Failed,
            };
            match next(&response, &d, now, &r, (rng.next() % 1000) as f64 / 1000.0) {
                Next::Sent => {
                    assert!(matches!(response, Response::Status(200, _)));
                    delivered += 1;
                    break;
                }
                Next::Dead => {
                    let refused = matches!(response, Response::Status(400, _));
                    assert!(
                        refused || now > retry_for - r.retry_cap_ms as i64,
                        "gave up early at {now} after {response:?}"
                    );
                    break;
                }
                Next::RetryAt(at) => {
                    assert!(at > now, "retry is in the future");
                    assert!(at <= retry_for, "retry within retry_for");
                    d.attempts += 1;
                    now = at;
                }
            }
            assert!(steps < 10_000);
        }
        assert!(delivered <= 1);
    }
}

#[test]
fn retry_after_in_seconds_or_as_an_http_date() {
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 21 Oct 2015 07:28:00
    assert_eq!(retry_after_secs("120", now), Some(120));
    assert_eq!(
        retry_after_secs("Wed, 21 Oct 2015 07:30:00 GMT", now),
        Some(120)
    );
    assert_eq!(
        retry_after_secs(
            " Wed, 21 Oct 2015 07:28:00 GMT ",
            now - Duration::from_millis(1500)
        ),
        Some(2),
        "rounded up"
    );
    assert_eq!(
        retry_after_secs("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(0),
        "a date already past: no extra wait"
    );
    assert_eq!(retry_after_secs("soon", now), None);
}

fn sites(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn one_site_may_use_every_slot_and_many_never_more_than_half() {
    assert_eq!(site_cap(16, 1), 16);
    assert_eq!(
        site_cap(16, 2),
        15,
        "one slot always left for the other site"
    );
    assert_eq!(site_cap(16, 5), 12);
    assert_eq!(
        site_cap(16, 40),
        8,
        "never more than half when there are many"
    );
    assert_eq!(site_cap(1, 2), 1);
}

#[test]
fn the_site_with_the_fewest_in_flight_is_served_first() {
    let in_flight: HashMap<String, u32> = [("a".to_string(), 15)].into_iter().collect();
    let busy = plan(16, 1, &sites(&["a", "b"]), &in_flight, false);
    assert_eq!(busy.total, 1);
    assert_eq!(busy.others, 0);
    assert_eq!(
        busy.per_site,
        vec![("b".to_string(), 15)],
        "a is at its cap (15): only b may take the free slot"
    );
    let idle = plan(16, 16, &sites(&["a", "b"]), &HashMap::new(), true);
    assert_eq!(idle.per_site.len(), 2);
    assert_eq!((idle.others, idle.total), (16, 16));
}

#[test]
fn no_retry_is_scheduled_past_24_hours_after_the_event() {
    let day = crate::postback::HORIZON_MS;
    let r = RtbHouse {
        retry_for: "24h".into(),
        ..rtb()
    };
    // Queued 0.6 s before its event's 24 h run out (a late call end, a backlog).
    let mut late = delivery(0);
    late.first_at_ms = day - 600;
    late.postback.time_ms = 0;
    let now = day - 600;
    assert_eq!(
        next(&Response::Status(503, None), &late, now, &r, 0.0),
        Next::RetryAt(now + 500),
        "still within 24 h of the event"
    );
    assert_eq!(
        next(&Response::Status(503, None), &late, now, &r, 1.0),
        Next::Dead,
        "the retry would land past the event's 24 h: dead now, though retry_for is not used up"
    );
    assert_eq!(
        next(&Response::Status(503, None), &late, day, &r, 0.0),
        Next::Dead,
        "already at the horizon"
    );
}

#[test]
fn a_dead_letter_says_which_limit_ended_its_retries() {
    let day = crate::postback::HORIZON_MS;
    let r = RtbHouse {
        retry_for: "6h".into(),
        ..rtb()
    };
    // Queued 23 h after its event: the 24 hours end before retry_for's 6 h.
    let mut late = delivery(0);
    late.postback.time_ms = 0;
    late.first_at_ms = day - 3_600_000;
    assert_eq!(
        not_retried(&Response::Status(503, None), &late, &r).as_deref(),
        Some("not retried: the next try would be past RTB House's 24 hours")
    );
    assert_eq!(
        not_retried(&Response::Failed, &late, &r).as_deref(),
        Some("not retried: the next try would be past RTB House's 24 hours")
    );
    // Queued at its event: retry_for's 6 h end first.
    let mut early = late.clone();
    early.first_at_ms = 0;
    assert_eq!(
        not_retried(&Response::Status(429, Some(60)), &early, &r).as_deref(),
        Some("not retried: rtbhouse.retry_for (6h) has passed")
    );
    // Re-queued by `replay --force`: only retry_for binds it.
    let mut forced = late.clone();
    forced.forced = true;
    assert_eq!(
        retry_deadline(&forced, &r),
        (forced.first_at_ms + 6 * 3_600_000, Deadline::RetryFor)
    );
    // An answer that is never retried needs no such note: its status says it.
    assert_eq!(not_retried(&Response::Status(400, None), &late, &r), None);
}

#[test]
fn replay_requeues_dead_letters_within_24_hours_and_refuses_older_unless_forced() {
    let hour = 3_600_000;
    let letters = || {
        vec![
            DeadLetter {
                lead_id: "call-fresh".into(),
                time_ms: 100 * hour,
            },
            DeadLetter {
                lead_id: "call-edge".into(),
                time_ms: 76 * hour,
            },
            DeadLetter {
                lead_id: "call-old".into(),
                time_ms: 70 * hour,
            },
        ]
    };
    let now = 100 * hour;
    let (requeue, refused) = replayable(letters(), now, false);
    assert_eq!(
        requeue,
        ["call-fresh", "call-edge"],
        "exactly 24 h: still in time"
    );
    assert_eq!(
        refused,
        [(
            "call-old".to_string(),
            "too old for RTB House (30h)".to_string()
        )]
    );
    let (requeue, refused) = replayable(letters(), now, true);
    assert_eq!(requeue, ["call-fresh", "call-edge", "call-old"]);
    assert!(refused.is_empty(), "--force re-queues them all");
}

fn config_with(extra: &str) -> Config {
    Config::parse(&format!(
        "[server]\nadmin_token = \"0123456789abcdef\"\n[[site]]\nid = \"1\"\npkey = \"rtb-test\"\n\
         tagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\nwebhook_token = \"tok-0123456789abcdef\"\n{extra}\n"
    ))
    .unwrap()
}

#[test]
fn a_postback_past_24_hours_is_not_sent() {
    let hour = 3_600_000;
    let config = config_with("");
    let mut d = delivery(0);
    d.postback.time_ms = 1_000 * hour;
    let due = |now: i64| sendable(&config, &d, now).map(|site| site.id.clone());
    assert_eq!(due(1_000 * hour), Ok("1".into()));
    assert_eq!(due(1_024 * hour), Ok("1".into()), "exactly 24 h: in time");
    assert_eq!(
        due(1_024 * hour + 1),
        Err("too old for RTB House (24h)".into())
    );
    assert_eq!(
        due(1_025 * hour + 1),
        Err("too old for RTB House (25h)".into())
    );
    let off = config_with("enabled = false");
    assert_eq!(
        sendable(&off, &d, 1_000 * hour).map(|_| ()),
        Err("switched off before delivery".into()),
        "the other refusals stay as they were"
    );
    d.site = "2".into();
    assert_eq!(
        sendable(&config, &d, 1_000 * hour).map(|_| ()),
        Err("site no longer configured".into())
    );
}

#[test]
fn a_claim_is_never_leased_for_less_than_a_postback_can_take() {
    let mut config =
        crate::config::Config::parse(include_str!("../../relay.example.toml")).unwrap();
    assert_eq!(outbox_lease_ms(&config), 15_000, "storage.outbox_lease_ms");
    config.rtbhouse.timeout_ms = 20_000;
    assert_eq!(outbox_lease_ms(&config), 25_000, "the timeout and 5 s more");
}
