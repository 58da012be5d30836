//! Whether a lead goes to RTB House, per the operator's settings (docs/domain.md §5), in order; the
//! first "no" is the reason recorded, and, for a lead that goes, its [`Credit`]: the source
//! it was judged on and the `cd` it is sent with. Pure: the store supplies the bindings and
//! touchpoints.

use aidlink_protocol::Touch;

use crate::config::{Attribution, Dedup, Metric, Site, TagMatch, TrafficField, TrafficOp};
use crate::postback::Cd;
use crate::store::LeadStatus;
use crate::webhook::{Lead, LeadKind, Traffic};

mod verdict;

pub use verdict::{
    judge, rtb_id, visits, Candidate, IdChoice, IdSource, LeadFacts, StoredTouch, Verdict,
    TOUCH_LIMIT,
};

/// The decision about one lead event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Post it to RTB House with this visitor id and credit.
    Send {
        /// The RTB House id.
        aid: String,
        /// The source the lead was judged on and the `cd` to send (for the postback and the
        /// lead's trail).
        credit: Credit,
    },
    /// A filter said no.
    Filtered(Filter),
    /// A call whose filters need its end; decided again at `calldisconnected`.
    WaitingCallEnd,
    /// No RTB House id for this lead (no binding, no `attrs`).
    NoRtbId,
    /// The site's integration is switched off.
    SwitchedOff,
    /// The site's PKEY or tagging hash is not set yet (the key: `pkey`, `tagging_hash`).
    /// Recorded like a filter; a later event of the lead is decided afresh.
    Misconfigured(&'static str),
}

/// Whom a lead is credited to: the source it was judged on under the site's attribution model
/// and the `cd` that follows from the site's `dedup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// `utm_source`, else `source` (a visit's referrer host), else `(direct)`.
    pub source: String,
    /// `default` under `dedup = "default"`; under `"attribution"`, `false` when `source` is
    /// one of `rtbhouse_sources` (case-insensitive), else `true` (direct included).
    pub cd: Cd,
}

/// The filter that dropped a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// No selected metric matched.
    Metric,
    /// The tag filter did not match.
    Tags,
    /// A traffic condition on this field did not hold.
    Traffic(TrafficField),
}

impl Decision {
    /// The recorded reason: `queued` (its postback is queued for RTB House), `filtered:metric`, `filtered:tags`,
    /// `filtered:traffic:<field>`, `waiting:call_end`, `no_rtb_id`, `switched_off`,
    /// `misconfigured:<what>`.
    pub fn reason(&self) -> String {
        match self {
            Decision::Send { .. } => "queued".into(),
            Decision::Filtered(Filter::Metric) => "filtered:metric".into(),
            Decision::Filtered(Filter::Tags) => "filtered:tags".into(),
            Decision::Filtered(Filter::Traffic(field)) => {
                format!("filtered:traffic:{}", field.as_str())
            }
            Decision::WaitingCallEnd => "waiting:call_end".into(),
            Decision::NoRtbId => "no_rtb_id".into(),
            Decision::SwitchedOff => "switched_off".into(),
            Decision::Misconfigured(what) => format!("misconfigured:{what}"),
        }
    }

    /// The lead's status once this decision is recorded: a lead that goes is `retrying`
    /// (queued, not yet accepted by RTB House), one that waits for the call end `waiting`, any
    /// other `filtered` (for good, unless a later event of the same lead changes it).
    pub fn status(&self) -> LeadStatus {
        match self {
            Decision::Send { .. } => LeadStatus::Retrying,
            Decision::WaitingCallEnd => LeadStatus::Waiting,
            _ => LeadStatus::Filtered,
        }
    }
}

/// The touchpoint credited under `model`; `touches` are in time order.
pub fn attributed(touches: &[Touch], model: Attribution) -> Option<&Touch> {
    match model {
        Attribution::LastClick => touches.last(),
        Attribution::FirstClick => touches.first(),
        Attribution::LastNonDirect => touches
            .iter()
            .rev()
            .find(|t| !t.is_direct())
            .or(touches.last()),
    }
}

/// One rule of the filter list (docs/domain.md §5), in the order [`rules`] applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The site's integration is switched on.
    Switch,
    /// The site's PKEY and tagging hash are set.
    Credentials,
    /// The lead has an RTB House id.
    RtbId,
    /// A call whose filters need its end (target, failed, tags) has ended.
    CallEnd,
    /// The lead matches any selected metric.
    Metrics,
    /// The lead carries the tags the site asks for.
    Tags,
    /// The site's traffic condition at this index holds on the source the lead is judged on.
    Traffic(usize),
}

/// A site's rules in the order they apply: the first that fails is the decision.
pub fn rules(site: &Site) -> impl Iterator<Item = Rule> + '_ {
    [
        Rule::Switch,
        Rule::Credentials,
        Rule::RtbId,
        Rule::CallEnd,
        Rule::Metrics,
        Rule::Tags,
    ]
    .into_iter()
    .chain((0..site.traffic.len()).map(Rule::Traffic))
}

/// What one rule says of a lead: `None` when it passes, else the decision it ends with.
pub fn check(
    rule: Rule,
    site: &Site,
    lead: &Lead,
    aid: Option<&str>,
    touches: &[Touch],
) -> Option<Decision> {
    match rule {
        Rule::Switch => (!site.enabled).then_some(Decision::SwitchedOff),
        Rule::Credentials => site.unset_credentials().next().map(Decision::Misconfigured),
        Rule::RtbId => aid.is_none().then_some(Decision::NoRtbId),
        Rule::CallEnd => {
            (lead.kind == LeadKind::Call && !lead.is_call_end() && needs_call_end(site, lead))
                .then_some(Decision::WaitingCallEnd)
        }
        Rule::Metrics => (!site.metrics.iter().any(|m| metric_matches(*m, lead)))
            .then_some(Decision::Filtered(Filter::Metric)),
        Rule::Tags => (!tags_match(site, lead)).then_some(Decision::Filtered(Filter::Tags)),
        Rule::Traffic(i) => {
            let condition = site.traffic.get(i)?;
            let fields = judged_on(site, lead, touches);
            (!holds(condition.op, fields.get(condition.field), &condition.value))
                .then_some(Decision::Filtered(Filter::Traffic(condition.field)))
        }
    }
}

/// Every rule of `site` checked on one lead, in order, each with what it says (the test lead
/// of the operator's screen shows them all); the decision is the first that fails.
pub fn checks(
    site: &Site,
    lead: &Lead,
    aid: Option<&str>,
    touches: &[Touch],
) -> Vec<(Rule, Option<Decision>)> {
    rules(site)
        .map(|rule| (rule, check(rule, site, lead, aid, touches)))
        .collect()
}

/// Decides one lead event for `site`, given its RTB House id (see [`rtb_id`]) and the
/// visitor's touchpoints in time order: the first rule that fails ([`check`]), else send.
pub fn decide(site: &Site, lead: &Lead, aid: Option<&str>, touches: &[Touch]) -> Decision {
    if let Some(no) = rules(site).find_map(|rule| check(rule, site, lead, aid, touches)) {
        return no;
    }
    match aid {
        Some(aid) => Decision::Send {
            aid: aid.to_string(),
            credit: credit(site, lead, touches),
        },
        None => Decision::NoRtbId,
    }
}

/// The lead's credit under `site`'s attribution model and `dedup`, judged on the same fields
/// as the traffic conditions (the attributed visit, else the webhook's own fields).
pub fn credit(site: &Site, lead: &Lead, touches: &[Touch]) -> Credit {
    judged_on(site, lead, touches).credit(site)
}

/// The traffic fields a lead is judged on: the visit credited under the site's model, else
/// (no visits) the webhook's own fields.
fn judged_on<'a>(site: &Site, lead: &'a Lead, touches: &'a [Touch]) -> TrafficView<'a> {
    match attributed(touches, site.attribution) {
        Some(touch) => TrafficView::Touch(touch),
        None => TrafficView::Webhook(&lead.traffic),
    }
}

/// Whether a call not yet ended must wait for its end (docs/domain.md §1): tags always (they
/// count as of the end); metrics only when none that is final at the start already matches
/// (any of the metrics admits the call) and one of them is only final at the end: target,
/// unique-target and failed, or unique when the start did not say.
fn needs_call_end(site: &Site, lead: &Lead) -> bool {
    if !site.tags.names.is_empty() {
        return true;
    }
    let known_at_start = |m: &Metric| match m {
        Metric::AllCalls => true,
        Metric::UniqueCalls => lead.unique.is_some(),
        _ => false,
    };
    if site
        .metrics
        .iter()
        .any(|m| known_at_start(m) && metric_matches(*m, lead))
    {
        return false;
    }
    site.metrics.iter().any(|m| {
        !known_at_start(m)
            && matches!(
                m,
                Metric::UniqueCalls
                    | Metric::TargetCalls
                    | Metric::UniqueTargetCalls
                    | Metric::FailedCalls
            )
    })
}

fn metric_matches(metric: Metric, lead: &Lead) -> bool {
    let call = lead.kind == LeadKind::Call;
    let yes = |flag: Option<bool>| flag == Some(true);
    match metric {
        Metric::AllCalls => call,
        Metric::UniqueCalls => call && yes(lead.unique),
        Metric::TargetCalls => call && yes(lead.target),
        Metric::UniqueTargetCalls => call && yes(lead.unique_target),
        Metric::FailedCalls => call && lead.successful == Some(false),
        Metric::Requests => !call,
        Metric::UniqueRequests => !call && yes(lead.unique),
        Metric::TargetRequests => !call && yes(lead.target),
        Metric::UniqueTargetRequests => !call && yes(lead.unique_target),
    }
}

fn tags_match(site: &Site, lead: &Lead) -> bool {
    let names = &site.tags.names;
    if names.is_empty() {
        return true;
    }
    let has = |name: &String| {
        lead.tags
            .iter()
            .any(|t| t.to_lowercase() == name.trim().to_lowercase())
    };
    match site.tags.r#match {
        TagMatch::Any => names.iter().any(has),
        TagMatch::All => names.iter().all(has),
    }
}

enum TrafficView<'a> {
    Touch(&'a Touch),
    Webhook(&'a Traffic),
}

impl TrafficView<'_> {
    /// `utm_source`, else `source`, else `(direct)`.
    fn source(&self) -> &str {
        match self {
            TrafficView::Touch(t) => t.source(),
            TrafficView::Webhook(w) => [&w.utm_source, &w.source]
                .into_iter()
                .find(|s| !s.is_empty())
                .map_or("(direct)", String::as_str),
        }
    }

    fn credit(&self, site: &Site) -> Credit {
        let source = self.source();
        let cd = match site.dedup {
            Dedup::Default => Cd::Default,
            Dedup::Attribution => {
                let rtb = source.trim().to_lowercase();
                if site
                    .rtbhouse_sources
                    .iter()
                    .any(|s| s.trim().to_lowercase() == rtb)
                {
                    Cd::False
                } else {
                    Cd::True
                }
            }
        };
        Credit {
            source: source.to_string(),
            cd,
        }
    }

    fn get(&self, field: TrafficField) -> &str {
        match self {
            TrafficView::Touch(t) => match field {
                TrafficField::Source => t.source(),
                TrafficField::Medium => t.medium(),
                TrafficField::UtmSource => &t.utm_source,
                TrafficField::UtmMedium => &t.utm_medium,
                TrafficField::UtmCampaign => &t.utm_campaign,
                TrafficField::UtmContent => &t.utm_content,
                TrafficField::UtmTerm => &t.utm_term,
            },
            TrafficView::Webhook(w) => match field {
                TrafficField::Source => &w.source,
                TrafficField::Medium => &w.medium,
                TrafficField::UtmSource => &w.utm_source,
                TrafficField::UtmMedium => &w.utm_medium,
                TrafficField::UtmCampaign => &w.utm_campaign,
                TrafficField::UtmContent => &w.utm_content,
                TrafficField::UtmTerm => &w.utm_term,
            },
        }
    }
}

fn holds(op: TrafficOp, actual: &str, expected: &str) -> bool {
    let actual = actual.to_lowercase();
    let expected = expected.to_lowercase();
    match op {
        TrafficOp::Equals => actual == expected,
        TrafficOp::NotEquals => actual != expected,
        TrafficOp::Contains => actual.contains(&expected),
        TrafficOp::NotContains => !actual.contains(&expected),
    }
}

#[cfg(test)]
mod tests;
