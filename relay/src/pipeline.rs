//! "Decide this lead now", and the jobs that keep the data path moving: the sweep of leads
//! left undecided and the retention of old data. The order of work lives here; the rules live
//! in [`crate::decide`] (pure) and the storage in [`crate::store`]:
//!
//! 1. load the lead's facts (a read connection),
//! 2. pick its RTB House id and load the visits that led to it,
//! 3. judge (pure),
//! 4. record the verdict on the version judged; if an event came meanwhile, start again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::decide::{self, TOUCH_LIMIT};
use crate::metrics::{IdConflict, Metrics};
use crate::reload::Settings;
use crate::store::{Store, StoreError, TouchKeys};

/// Times a verdict is judged again when new events keep arriving while it is made; after
/// that the sweep takes the lead.
const TRIES: usize = 3;
/// Undecided leads taken per sweep.
const SWEEP_BATCH: u32 = 500;
/// Rows deleted per retention write: small enough that the writes queued behind one wait only
/// a few milliseconds (measured by the retention benchmark, BENCHMARKS.md).
pub const RETAIN_BATCH: u32 = 64;

/// What deciding needs; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    /// Current settings.
    pub settings: Settings,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Wakes the outbox when a postback is queued.
    pub wake: Arc<Notify>,
    /// Now (retention's cutoff, when a decision is recorded).
    pub clock: Clock,
}

/// What one attempt to decide came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Decided with this reason; a postback was queued when `queued`.
    Decided {
        /// The recorded reason.
        reason: String,
        /// A postback was queued.
        queued: bool,
    },
    /// Nothing to decide (unknown lead, already decided), or the site is not configured.
    Nothing,
    /// Events kept arriving; the sweep decides it.
    Busy,
}

impl Pipeline {
    /// Decides a stored lead with the current settings; wakes the outbox when a postback is
    /// queued. Storage errors are returned (the sweep retries such leads).
    pub async fn decide(&self, site_id: &str, lead_id: &str) -> Result<Outcome, StoreError> {
        let config = self.settings.current();
        let Some(site) = config.site(site_id) else {
            return Ok(Outcome::Nothing);
        };
        for _ in 0..TRIES {
            let facts = self
                .store
                .lead_facts(site_id.into(), lead_id.into(), TOUCH_LIMIT as u32)
                .await?;
            let Some(facts) = facts else {
                return Ok(Outcome::Nothing);
            };
            if facts.decided {
                return Ok(Outcome::Nothing);
            }
            let id = decide::rtb_id(&facts, &site.attr_key, self.clock.now_ms());
            let keys = TouchKeys {
                session: facts.lead.session_id.clone(),
                ct_client: facts.lead.ct_client_id.clone(),
                aid: id.aid.clone(),
            };
            // The visits that led to the lead: received no later than the lead itself was
            // first received (a visit after the call must not change how a redelivery is
            // judged).
            let stored = self
                .store
                .touches(
                    site_id.into(),
                    keys,
                    facts.first_received_ms,
                    TOUCH_LIMIT as u32,
                )
                .await?;
            let visits = decide::visits(stored);
            let Some(verdict) = decide::judge(site, &facts, &id, &visits) else {
                return Ok(Outcome::Nothing);
            };
            let reason = verdict.reason();
            let queued = matches!(
                &verdict,
                decide::Verdict::Decided {
                    postback: Some(_),
                    ..
                }
            );
            let decision = match &verdict {
                decide::Verdict::Decided { decision, .. } => Some(decision.clone()),
                decide::Verdict::AlreadyQueued => None,
            };
            let recorded = self
                .store
                .record_verdict(
                    site_id.into(),
                    lead_id.into(),
                    facts.version,
                    verdict,
                    self.clock.now_ms(),
                )
                .await?;
            if !recorded {
                continue;
            }
            let Some(decision) = decision else {
                return Ok(Outcome::Nothing);
            };
            self.metrics.lead(&decision);
            // Ids that disagree for one lead: a visitor whose cookie rotated, or someone
            // posting bindings for sessions that are not theirs.
            if id.session_ids > 1 {
                self.metrics.id_conflict(IdConflict::SessionIds);
            }
            if id.foreign > 0 {
                self.metrics.id_conflict(IdConflict::OtherVisitor);
            }
            if id.source == Some(decide::IdSource::AttrsOverBinding) {
                self.metrics.id_conflict(IdConflict::AttrsDisagree);
            }
            tracing::info!(site = %site_id, lead = %lead_id, reason = %reason, "lead decided");
            if queued {
                self.wake.notify_one();
            }
            return Ok(Outcome::Decided { reason, queued });
        }
        Ok(Outcome::Busy)
    }

    /// [`Pipeline::decide`], logging a failure (the sweep retries the lead).
    pub async fn decide_logged(&self, site_id: &str, lead_id: &str) {
        match self.decide(site_id, lead_id).await {
            Ok(Outcome::Busy) => {
                tracing::debug!(site = %site_id, lead = %lead_id, "lead busy; the sweep decides it")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(site = %site_id, lead = %lead_id, error = %e, "lead not decided; retried by the next sweep")
            }
        }
    }

    /// Decides every lead stored but undecided whose site is configured; at start-up it warns
    /// about leads of sites no longer configured (they wait until the site is back).
    pub async fn decide_undecided(&self, warn_unconfigured: bool) -> Result<(), StoreError> {
        let undecided = self.store.undecided(SWEEP_BATCH).await?;
        let config = self.settings.current();
        for (site, lead) in undecided {
            if config.site(&site).is_some() {
                self.decide_logged(&site, &lead).await;
            } else if warn_unconfigured {
                tracing::warn!(site = %site, lead = %lead, "lead of a site no longer configured; left undecided");
            }
        }
        Ok(())
    }

    /// Every `every`, decides the leads stored but still undecided: a decision that failed on
    /// a storage error (SQLITE_BUSY while `replay` holds the write lock, say) is retried within
    /// seconds, not at the next start.
    pub async fn sweep(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; start-up has just decided what it found
        loop {
            tick.tick().await;
            // Instances sharing the storage take turns; the others wait for the next tick.
            let Some(_turn) = self.turn("sweep").await else {
                continue;
            };
            if let Err(e) = self.decide_undecided(false).await {
                tracing::warn!(error = %e, "sweep: cannot list undecided leads");
            }
        }
    }

    /// This instance's turn at a periodic job, when no other instance sharing the storage has
    /// it (and storage answers).
    async fn turn(&self, job: &'static str) -> Option<crate::store::Turn> {
        match self.store.exclusive(job).await {
            Ok(turn) => turn,
            Err(e) => {
                tracing::warn!(job, error = %e, "periodic job skipped: storage unavailable");
                None
            }
        }
    }

    /// Retention: every `every`, deletes what is older than `storage.retention` in batches of
    /// `batch` rows (each its own short write), then gives the freed pages back.
    pub async fn retain(self, every: Duration, batch: u32) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(_turn) = self.turn("retention").await else {
                continue;
            };
            match self.retain_once(batch).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "retention: old rows deleted"),
                Err(e) => tracing::warn!(error = %e, "retention: not done; tried again later"),
            }
        }
    }

    /// One retention pass: deletes what is older than `storage.retention` by this pipeline's
    /// clock, `batch` rows per write, then gives the freed pages back; rows deleted.
    pub async fn retain_once(&self, batch: u32) -> Result<u64, StoreError> {
        let retention = self.settings.current().storage.retention();
        let keep = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self.clock.now_ms().saturating_sub(keep);
        purge_before(&*self.store, cutoff, batch).await
    }
}

/// Deletes everything retention allows before `cutoff_ms`, one batch at a time (the writer
/// serves other requests between batches), then reclaims the freed space; rows deleted.
pub async fn purge_before(
    store: &dyn Store,
    cutoff_ms: i64,
    batch: u32,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let purged = store.purge(cutoff_ms, batch).await?;
        total += purged.total();
        if purged.bindings < u64::from(batch) && purged.leads < u64::from(batch) {
            break;
        }
        tokio::task::yield_now().await;
    }
    if total > 0 {
        // Bounded: a database that is not in incremental auto-vacuum mode reports nothing to
        // give back (its free pages are reused by new rows instead).
        for _ in 0..10_000 {
            if store.reclaim().await? == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::sqlite::Sqlite;
    use aidlink_protocol::Binding;

    const DAY: i64 = 86_400_000;

    fn pipeline(store: Arc<dyn Store>, retention: &str, clock: Clock) -> Pipeline {
        let config = Config::parse(&format!(
            "[server]\nadmin_token = \"0123456789abcdef\"\n[storage]\nretention = \"{retention}\"\n\
             [[site]]\nid = \"38342\"\nwebhook_token = \"tok-0123456789abcdef\"\n"
        ))
        .unwrap();
        Pipeline {
            settings: Settings::new(config),
            store,
            metrics: Arc::new(Metrics::default()),
            wake: Arc::new(Notify::new()),
            clock,
        }
    }

    #[tokio::test]
    async fn retention_cuts_at_the_clocks_now_minus_storage_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retain.db");
        let store: Arc<dyn Store> = Arc::new(Sqlite::open(path.to_str().unwrap()).unwrap());
        let stored_at = 1_700_000_000_000;
        let binding = Binding::new("38342".into(), "S1".into(), None, "AidOld123".into(), None);
        assert!(store.put_binding(binding, stored_at).await.unwrap());
        let clock = Clock::manual(stored_at + 30 * DAY - 1);
        let pipeline = pipeline(store.clone(), "30d", clock.clone());

        assert_eq!(
            pipeline.retain_once(16).await.unwrap(),
            0,
            "not yet 30 days old"
        );
        assert_eq!(store.row_counts().await.unwrap().bindings, 1);

        clock.advance(2);
        assert_eq!(
            pipeline.retain_once(16).await.unwrap(),
            1,
            "older than 30 days"
        );
        assert_eq!(store.row_counts().await.unwrap().bindings, 0);
    }
}
