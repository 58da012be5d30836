//! Delivery of queued postbacks to RTB House: claim what is due (leased, so a crash mid-attempt
//! retries later), build its URL from the site's settings of this moment, POST it, record the
//! attempt and where it goes next. 2xx is done; 5xx, 429, 408 and network errors retry with
//! exponential backoff and jitter, honouring `Retry-After` (seconds or an HTTP date), for
//! `retry_for`; any other 4xx, and a 3xx (redirects are not followed), is a dead letter at once
//! (`replay` re-queues it). A postback of a site switched off (or removed) since it was queued
//! is not sent: it goes to the dead letter, saying so, for `replay` once the site is on again;
//! likewise one whose site's PKEY or tagging hash was unset since. RTB House refuses
//! conversions more than 24 hours old: a postback whose event time is past that when its
//! attempt is due is dead-lettered unsent (`too old for RTB House (25h)`), and no retry is
//! scheduled past it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aidlink_protocol::backoff::parse_retry_after;
use aidlink_protocol::Backoff;
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::config::{Config, RtbHouse, Site};
use crate::metrics::{Attempted, Metrics};
use crate::postback::{for_log, mask_pkey, too_old, HORIZON_MS};
use crate::reload::Settings;
use crate::store::{Attempt, ClaimPlan, DeadLetter, Delivery, Next, Store};
use ready::Ready;

/// What one POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// An HTTP response: status and `Retry-After` seconds, if given.
    Status(u16, Option<u64>),
    /// No response (connect error, timeout).
    Failed,
}

/// Where a postback goes after an attempt at `now_ms`. Pure: the model tests drive it. A
/// retry is scheduled only within `retry_for` of the first attempt and within RTB House's
/// 24 hours of the event time: one due later would be dead-lettered unsent at its attempt
/// anyway, so the postback goes to the dead letter now, with this attempt's answer as the
/// last one recorded.
pub fn next(
    response: &Response,
    delivery: &Delivery,
    now_ms: i64,
    rtb: &RtbHouse,
    jitter: f64,
) -> Next {
    let retry_after = match response {
        Response::Status(200..=299, _) => return Next::Sent,
        Response::Status(408 | 429 | 500..=599, retry_after) => *retry_after,
        Response::Status(_, _) => return Next::Dead,
        Response::Failed => None,
    };
    let backoff = Backoff {
        base_ms: rtb.retry_base_ms,
        cap_ms: rtb.retry_cap_ms,
    };
    let at = now_ms + backoff.delay_after(delivery.attempts, jitter, retry_after) as i64;
    let (deadline, _) = retry_deadline(delivery, rtb);
    if now_ms >= deadline || at > deadline {
        Next::Dead
    } else {
        Next::RetryAt(at)
    }
}

/// What ends a postback's retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// `rtbhouse.retry_for` after it was first queued.
    RetryFor,
    /// RTB House's 24 hours after the event.
    Horizon,
}

/// The last moment a retry of `delivery` may be due, and which limit sets it (the 24 hours do
/// not bind a postback `replay --force` re-queued).
pub fn retry_deadline(delivery: &Delivery, rtb: &RtbHouse) -> (i64, Deadline) {
    let retry_for = delivery.first_at_ms + rtb.retry_for().as_millis() as i64;
    let horizon = delivery.postback.time_ms + HORIZON_MS;
    if !delivery.forced && horizon < retry_for {
        (horizon, Deadline::Horizon)
    } else {
        (retry_for, Deadline::RetryFor)
    }
}

/// Why an answer RTB House may be asked again about was not retried (its [`next`] was
/// [`Next::Dead`]), for the attempt's record; `None` for an answer that is never retried.
pub fn not_retried(response: &Response, delivery: &Delivery, rtb: &RtbHouse) -> Option<String> {
    let retryable = matches!(
        response,
        Response::Failed | Response::Status(408 | 429 | 500..=599, _)
    );
    retryable.then(|| match retry_deadline(delivery, rtb).1 {
        Deadline::Horizon => "not retried: the next try would be past RTB House's 24 hours".into(),
        Deadline::RetryFor => format!(
            "not retried: rtbhouse.retry_for ({}) has passed",
            rtb.retry_for
        ),
    })
}

/// The site to send a due postback with at `now_ms`, or why it must not be sent (it then goes
/// to the dead letter unsent): its site switched off or removed, a credential unset, no
/// visitor id, or more than 24 hours past its event time ([`too_old`]) unless `replay
/// --force` re-queued it. Pure.
pub fn sendable<'a>(
    config: &'a Config,
    delivery: &Delivery,
    now_ms: i64,
) -> Result<&'a Site, String> {
    let site = match config.site(&delivery.site) {
        Some(site) if site.enabled => site,
        Some(_) => return Err("switched off before delivery".into()),
        None => return Err("site no longer configured".into()),
    };
    if let Some(key) = site.unset_credentials().next() {
        return Err(format!("{key} not set before delivery"));
    }
    if delivery.postback.aid.is_empty() {
        return Err("no visitor id".into());
    }
    if let Some(why) = too_old(delivery.postback.time_ms, now_ms).filter(|_| !delivery.forced) {
        return Err(why);
    }
    Ok(site)
}

/// Which dead letters `replay` re-queues at `now_ms`: all with `force`; otherwise those still
/// within RTB House's 24 hours, the others refused with the reason. Pure.
pub fn replayable(
    letters: Vec<DeadLetter>,
    now_ms: i64,
    force: bool,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut requeue = Vec::new();
    let mut refused = Vec::new();
    for letter in letters {
        match too_old(letter.time_ms, now_ms).filter(|_| !force) {
            Some(why) => refused.push((letter.lead_id, why)),
            None => requeue.push(letter.lead_id),
        }
    }
    (requeue, refused)
}

/// A `Retry-After` value in seconds from `now`: delta-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`, rounded up; a date already past is 0); `None` for
/// anything else, which leaves the own schedule.
pub fn retry_after_secs(value: &str, now: SystemTime) -> Option<u64> {
    parse_retry_after(value).or_else(|| {
        let at = httpdate::parse_http_date(value.trim()).ok()?;
        Some(
            at.duration_since(now)
                .map_or(0, |d| d.as_secs_f64().ceil() as u64),
        )
    })
}

/// How long a claim is reserved, ms: `storage.outbox_lease_ms`, and never less than one
/// postback's timeout and 5 s more, so a postback still in flight is not claimed again.
pub fn outbox_lease_ms(config: &Config) -> i64 {
    let floor = config.rtbhouse.timeout_ms.saturating_add(5_000);
    config.storage.outbox_lease_ms.max(floor) as i64
}

/// The delivery worker.
pub struct Outbox {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Current settings.
    pub settings: Settings,
    /// Woken when a postback is queued.
    pub wake: Arc<Notify>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// How often postbacks of sites no longer configured are looked for (to dead-letter them).
const OTHERS_EVERY: Duration = Duration::from_secs(10);
/// How often due retries are looked for when nothing wakes the worker.
const IDLE: Duration = Duration::from_millis(500);

/// The most slots one site may hold: all of them when it is the only site; otherwise never
/// so many that the other sites are left without one, and never more than half when there are
/// many, so that one site whose RTB House endpoint hangs cannot hold up the others by more
/// than one attempt.
pub fn site_cap(concurrency: u32, sites: usize) -> u32 {
    let others = u32::try_from(sites.saturating_sub(1)).unwrap_or(u32::MAX);
    if others == 0 {
        return concurrency;
    }
    concurrency
        .saturating_sub(others)
        .max(concurrency / 2)
        .max(1)
}

/// What to claim when `free` slots are free: the sites with the fewest postbacks in flight
/// served first, each up to its cap; sites no longer configured when `others` is due.
pub fn plan(
    concurrency: u32,
    free: u32,
    sites: &[String],
    in_flight: &HashMap<String, u32>,
    others: bool,
) -> ClaimPlan {
    let cap = site_cap(concurrency, sites.len());
    let busy = |site: &String| in_flight.get(site).copied().unwrap_or(0);
    let mut order: Vec<&String> = sites.iter().collect();
    order.sort_by_key(|site| busy(site));
    ClaimPlan {
        per_site: order
            .into_iter()
            .map(|site| (site.clone(), cap.saturating_sub(busy(site))))
            .filter(|(_, n)| *n > 0)
            .collect(),
        others: if others { free } else { 0 },
        total: free,
    }
}

impl Outbox {
    /// Runs until the process ends: keeps up to `rtbhouse.concurrency` postbacks in flight,
    /// shared fairly between sites ([`plan`]), and a few more claimed ahead ([`ready`]), so a
    /// slot freed by a finished request starts the next postback at once.
    pub async fn run(self) {
        // A redirect is not followed: it would turn the POST into a GET elsewhere, and a 2xx
        // there is no acceptance by RTB House. A 3xx is a refusal like a 4xx.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds (TLS back end available)");
        let (done, mut released) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut sending: u32 = 0;
        let mut in_flight: HashMap<String, u32> = HashMap::new();
        let mut waiting = Ready::default();
        let mut others_at = tokio::time::Instant::now();
        loop {
            let config = self.settings.current();
            let concurrency = config.rtbhouse.concurrency.max(1);
            let cap = site_cap(concurrency, config.site.len());
            // What was claimed ahead starts first; a site no longer configured has no cap (its
            // postbacks are dead-lettered at once).
            let cap_of = |site: &str| {
                if config.site(site).is_some() {
                    cap
                } else {
                    concurrency
                }
            };
            let start =
                |delivery: Delivery, sending: &mut u32, in_flight: &mut HashMap<String, u32>| {
                    *in_flight.entry(delivery.site.clone()).or_default() += 1;
                    *sending += 1;
                    let slot = Slot {
                        site: Some(delivery.site.clone()),
                        done: done.clone(),
                    };
                    tokio::spawn(deliver(
                        self.store.clone(),
                        client.clone(),
                        config.clone(),
                        self.metrics.clone(),
                        delivery,
                        slot,
                    ));
                };
            let start_ready =
                |waiting: &mut Ready, sending: &mut u32, in_flight: &mut HashMap<String, u32>| {
                    while *sending < concurrency {
                        match waiting.take(in_flight, cap_of) {
                            Some(delivery) => start(delivery, sending, in_flight),
                            None => break,
                        }
                    }
                };
            waiting.expire(std::time::Instant::now());
            start_ready(&mut waiting, &mut sending, &mut in_flight);
            // Claim for the free slots and to refill what is kept ahead.
            let free = concurrency.saturating_sub(sending);
            let room = (free + ready::AHEAD).saturating_sub(waiting.len() as u32);
            let mut more = false;
            if room > 0 {
                let sites: Vec<String> = config.site.iter().map(|s| s.id.clone()).collect();
                let others = others_at.elapsed() >= OTHERS_EVERY;
                if others {
                    others_at = tokio::time::Instant::now();
                }
                let plan = plan(concurrency, room, &sites, &waiting.held(&in_flight), others);
                let lease = outbox_lease_ms(&config);
                match self.store.claim_due(now_ms(), lease, plan).await {
                    Ok(due) => {
                        // A full claim may have left more behind: claim again at once.
                        more = due.len() as u32 == room;
                        let at = std::time::Instant::now();
                        for delivery in due {
                            waiting.push(delivery, at);
                        }
                        start_ready(&mut waiting, &mut sending, &mut in_flight);
                    }
                    Err(e) => tracing::warn!(error = %e, "outbox: cannot read due postbacks"),
                }
            }
            if more && (sending < concurrency || (waiting.len() as u32) < ready::AHEAD) {
                continue;
            }
            tokio::select! {
                Some(site) = released.recv() => {
                    sending = sending.saturating_sub(1);
                    if let Some(n) = in_flight.get_mut(&site) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            in_flight.remove(&site);
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }
}

/// A postback's place among those in flight: given back (to the worker, by site) as soon as
/// its request is over — the attempt is recorded after — or when it is dropped, whatever
/// happened.
struct Slot {
    site: Option<String>,
    done: tokio::sync::mpsc::UnboundedSender<String>,
}

impl Slot {
    fn release(&mut self) {
        if let Some(site) = self.site.take() {
            let _ = self.done.send(site);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

/// At most this much of a refusal's body is read (and 200 characters of it kept): a receiver
/// cannot make the relay hold a large answer.
const SNIPPET_BYTES: usize = 1024;

async fn snippet(mut r: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < SNIPPET_BYTES {
        match r.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(SNIPPET_BYTES);
    String::from_utf8_lossy(&bytes).chars().take(200).collect()
}

async fn deliver(
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    delivery: Delivery,
    mut slot: Slot,
) {
    let rtb = &config.rtbhouse;
    let site = match sendable(&config, &delivery, now_ms()) {
        Ok(site) => site,
        Err(why) => {
            slot.release();
            return not_sent(&*store, &metrics, delivery, &why).await;
        }
    };
    let url = delivery.postback.url(&rtb.endpoint, site);
    let masked = mask_pkey(&url);
    let sent = client
        .post(&url)
        .timeout(Duration::from_millis(rtb.timeout_ms))
        .send()
        .await;
    let at_ms = now_ms();
    let (response, attempt) = match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after_secs(v, SystemTime::now()));
            let snippet = if r.status().is_success() {
                None
            } else {
                let redirect = r.status().is_redirection();
                let body = snippet(r).await;
                match (redirect, body.is_empty()) {
                    (true, true) => Some("redirect not followed".to_string()),
                    (true, false) => Some(format!("redirect not followed: {body}")),
                    (false, true) => None,
                    (false, false) => Some(body),
                }
            };
            (
                Response::Status(status, retry_after),
                Attempt {
                    at_ms,
                    status: Some(status),
                    error: snippet,
                    url: masked,
                },
            )
        }
        Err(e) => {
            let e = e.without_url();
            let error = if e.is_timeout() {
                "timeout".to_string()
            } else {
                format!("network: {}", short(&e))
            };
            (
                Response::Failed,
                Attempt {
                    at_ms,
                    status: None,
                    error: Some(error),
                    url: masked,
                },
            )
        }
    };
    slot.release();
    let next_step = next(&response, &delivery, at_ms, rtb, rand::random::<f64>());
    let mut attempt = attempt;
    if next_step == Next::Dead {
        if let Some(why) = not_retried(&response, &delivery, rtb) {
            attempt.error = Some(match attempt.error.take() {
                Some(answer) => format!("{answer}; {why}"),
                None => why,
            });
        }
    }
    let outcome = match next_step {
        Next::Sent => Attempted::Sent,
        Next::RetryAt(_) => Attempted::Retry,
        Next::Dead => Attempted::Dead,
    };
    metrics.postback(outcome);
    tracing::info!(
        site = %delivery.site,
        lead = %delivery.lead_id,
        status = ?attempt.status,
        outcome = outcome.as_str(),
        url = %for_log(&url),
        "postback attempt"
    );
    if let Err(e) = store.record_attempt(delivery, attempt, next_step).await {
        tracing::error!(error = %e, "outbox: attempt not recorded; it will be retried after its lease");
    }
}

/// Dead-letters a postback without sending it, recording `why` as its attempt.
async fn not_sent(store: &dyn Store, metrics: &Metrics, delivery: Delivery, why: &str) {
    metrics.postback(Attempted::Dead);
    tracing::info!(site = %delivery.site, lead = %delivery.lead_id, reason = why, "postback not sent; dead-lettered for replay");
    let attempt = Attempt {
        at_ms: now_ms(),
        status: None,
        error: Some(why.to_string()),
        url: String::new(),
    };
    if let Err(e) = store.record_attempt(delivery, attempt, Next::Dead).await {
        tracing::error!(error = %e, "outbox: attempt not recorded; it will be retried after its lease");
    }
}

/// A network error and its causes, one line (the URL, which carries the PKEY, already removed).
fn short(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(200).collect()
}

mod ready;
#[cfg(test)]
mod tests;
