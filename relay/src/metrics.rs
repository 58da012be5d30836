//! Counters for `/metrics` (Prometheus text format): bindings accepted / rejected by reason,
//! leads by decision reason, postbacks by outcome; the outbox and stored-row gauges come from
//! storage.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::decide::Decision;
use crate::store::{OutboxStats, RowCounts};

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    bindings: Mutex<BTreeMap<String, u64>>,
    leads: Mutex<BTreeMap<String, u64>>,
    webhooks: Mutex<BTreeMap<String, u64>>,
    postbacks: Mutex<BTreeMap<String, u64>>,
    id_conflicts: Mutex<BTreeMap<String, u64>>,
}

/// How a binding or webhook request ended: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored (and, for a webhook, about to be decided).
    Accepted,
    /// A binding already stored (same site and id).
    Duplicate,
    /// Refused, for this reason.
    Refused(Refusal),
}

/// Why a request was refused: the label of its error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400.
    Malformed,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 408: the body did not arrive in time.
    Timeout,
    /// 413.
    TooLarge,
    /// 415.
    UnsupportedType,
    /// 429.
    RateLimited,
    /// 503.
    Unavailable,
}

impl Received {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Received::Accepted => "accepted",
            Received::Duplicate => "duplicate",
            Received::Refused(r) => match r {
                Refusal::Malformed => "malformed",
                Refusal::Unauthorized => "unauthorized",
                Refusal::Forbidden => "forbidden",
                Refusal::NotFound => "not_found",
                Refusal::Timeout => "timeout",
                Refusal::TooLarge => "too_large",
                Refusal::UnsupportedType => "unsupported_type",
                Refusal::RateLimited => "rate_limited",
                Refusal::Unavailable => "unavailable",
            },
        }
    }
}

/// What a postback attempt came to: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted {
    /// RTB House accepted it (2xx): the lead is `sent`.
    Sent,
    /// It will be tried again.
    Retry,
    /// Dead letter (refused, out of retries or too old, or not sent at all).
    Dead,
}

impl Attempted {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Attempted::Sent => "sent",
            Attempted::Retry => "retry",
            Attempted::Dead => "dead",
        }
    }
}

/// How a decided lead's RTB House ids disagreed: the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdConflict {
    /// Its session was bound to several RTB House ids (a rotated cookie, or a forged binding).
    SessionIds,
    /// Bindings of its session from another Calltouch visitor were left out.
    OtherVisitor,
    /// Calltouch's attrs overruled a binding.
    AttrsDisagree,
}

impl IdConflict {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            IdConflict::SessionIds => "session_ids",
            IdConflict::OtherVisitor => "other_visitor",
            IdConflict::AttrsDisagree => "attrs_disagree",
        }
    }
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key.to_string()).or_default() += 1;
    }
}

impl Metrics {
    /// A binding request ended so.
    pub fn binding(&self, result: Received) {
        bump(&self.bindings, result.as_str());
    }

    /// A Calltouch webhook request ended so.
    pub fn webhook(&self, result: Received) {
        bump(&self.webhooks, result.as_str());
    }

    /// A lead was decided so (labelled with `Decision::reason`).
    pub fn lead(&self, decision: &Decision) {
        bump(&self.leads, &decision.reason());
    }

    /// A postback attempt ended so.
    pub fn postback(&self, outcome: Attempted) {
        bump(&self.postbacks, outcome.as_str());
    }

    /// A decided lead whose ids disagreed so.
    pub fn id_conflict(&self, kind: IdConflict) {
        bump(&self.id_conflicts, kind.as_str());
    }

    /// The Prometheus text exposition.
    pub fn render(&self, outbox: OutboxStats, rows: RowCounts, now_ms: i64) -> String {
        let mut out = String::new();
        let family = |out: &mut String,
                      name: &str,
                      help: &str,
                      label: &str,
                      map: &Mutex<BTreeMap<String, u64>>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            if let Ok(map) = map.lock() {
                for (value, count) in map.iter() {
                    let _ = writeln!(
                        out,
                        "{name}{{{label}=\"{}\"}} {count}",
                        value.replace(['"', '\\', '\n'], "_")
                    );
                }
            }
        };
        family(
            &mut out,
            "aidlink_bindings_total",
            "Binding requests by result.",
            "result",
            &self.bindings,
        );
        family(
            &mut out,
            "aidlink_webhooks_total",
            "Calltouch webhook requests by result.",
            "result",
            &self.webhooks,
        );
        family(
            &mut out,
            "aidlink_leads_total",
            "Lead decisions by reason.",
            "reason",
            &self.leads,
        );
        family(
            &mut out,
            "aidlink_postbacks_total",
            "Postback attempts by outcome.",
            "outcome",
            &self.postbacks,
        );
        family(
            &mut out,
            "aidlink_id_conflicts_total",
            "Decided leads whose RTB House ids disagreed, by kind.",
            "kind",
            &self.id_conflicts,
        );
        let oldest = outbox
            .oldest_ms
            .map_or(0.0, |t| ((now_ms - t).max(0)) as f64 / 1000.0);
        let _ = writeln!(
            out,
            "# HELP aidlink_outbox_depth Postbacks queued or retrying.\n# TYPE aidlink_outbox_depth gauge\naidlink_outbox_depth {}\n\
             # HELP aidlink_outbox_oldest_pending_seconds Age of the oldest queued postback.\n\
             # TYPE aidlink_outbox_oldest_pending_seconds gauge\naidlink_outbox_oldest_pending_seconds {oldest}",
            outbox.depth
        );
        let _ = writeln!(
            out,
            "# HELP aidlink_stored_rows Rows stored per table (retention keeps them bounded).\n\
             # TYPE aidlink_stored_rows gauge"
        );
        for (table, n) in [
            ("bindings", rows.bindings),
            ("leads", rows.leads),
            ("lead_events", rows.lead_events),
            ("outbox", rows.outbox),
            ("attempts", rows.attempts),
        ] {
            let _ = writeln!(out, "aidlink_stored_rows{{table=\"{table}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrafficField;
    use crate::decide::Filter;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.binding(Received::Accepted);
        m.binding(Received::Accepted);
        m.binding(Received::Refused(Refusal::Forbidden));
        m.lead(&Decision::Filtered(Filter::Traffic(
            TrafficField::UtmSource,
        )));
        m.postback(Attempted::Sent);
        let rows = RowCounts {
            bindings: 7,
            ..RowCounts::default()
        };
        let text = m.render(
            OutboxStats {
                depth: 3,
                oldest_ms: Some(1000),
            },
            rows,
            61_000,
        );
        assert!(
            text.contains("aidlink_bindings_total{result=\"accepted\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("aidlink_bindings_total{result=\"forbidden\"} 1\n"));
        assert!(text.contains("aidlink_leads_total{reason=\"filtered:traffic:utm_source\"} 1\n"));
        assert!(text.contains("aidlink_postbacks_total{outcome=\"sent\"} 1\n"));
        assert!(text.contains("aidlink_outbox_depth 3\n"));
        assert!(text.contains("aidlink_outbox_oldest_pending_seconds 60\n"));
        assert!(text.contains("aidlink_stored_rows{table=\"bindings\"} 7\n"));
        assert!(text.contains("aidlink_stored_rows{table=\"attempts\"} 0\n"));
    }
}
