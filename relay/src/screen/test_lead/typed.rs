//! The test lead as typed: webhook field names (so it reads exactly as a Calltouch webhook
//! does), an example to start from, and the form filled from a stored lead as the pipeline
//! sees it: its facts, the RTB House id it would pick, the source its attribution model credits.

use super::super::{field, ScreenError};
use crate::config::Site;
use crate::decide;
use crate::http::AppState;
use crate::store::TouchKeys;
use crate::webhook::{CallPhase, LeadKind};

/// The traffic fields of the form, in order.
pub const TRAFFIC: [&str; 7] = [
    "source",
    "medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
];

/// The test lead as typed: webhook field names, so it reads as a webhook does.
#[derive(Debug, Clone, Default)]
pub struct TestForm(pub Vec<(String, String)>);

impl TestForm {
    pub fn get(&self, name: &str) -> &str {
        field(&self.0, name)
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), value.into()));
    }

    pub fn example() -> TestForm {
        let mut f = TestForm::default();
        for (k, v) in [
            ("leadtype", "call"),
            ("id", "test-1"),
            ("callphase", "calldisconnected"),
            ("status", "successful"),
            ("unique", "on"),
            ("target", "on"),
            ("unique_target", "on"),
            ("utm_source", "yandex"),
            ("utm_medium", "cpc"),
            ("source", "yandex"),
            ("medium", "cpc"),
        ] {
            f.set(k, v);
        }
        f
    }

    /// As a Calltouch webhook would carry it.
    pub fn webhook(&self) -> Vec<(String, String)> {
        let call = self.get("leadtype") != "request";
        let yes = |name: &str| {
            if self.get(name).is_empty() {
                "false"
            } else {
                "true"
            }
        };
        let mut out: Vec<(&str, String)> = vec![
            ("leadtype", if call { "call" } else { "request" }.into()),
            (
                if call { "id" } else { "requestId" },
                self.get("id").trim().into(),
            ),
            (
                if call { "unique" } else { "uniquerequest" },
                yes("unique").into(),
            ),
            (
                if call { "targetcall" } else { "targetrequest" },
                yes("target").into(),
            ),
            (
                if call {
                    "uniqtargetcall"
                } else {
                    "uniqtargetrequest"
                },
                yes("unique_target").into(),
            ),
            (
                if call { "tags_manual" } else { "tags_request" },
                self.get("tags").into(),
            ),
            ("timestamp", self.get("timestamp").trim().into()),
        ];
        if call {
            out.push(("callphase", self.get("callphase").into()));
            out.push(("status", self.get("status").into()));
        }
        for name in TRAFFIC {
            out.push((name, self.get(name).trim().into()));
        }
        out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// The form filled from a stored lead: its facts, the id the pipeline would pick, the source
/// its attribution model credits.
pub async fn from_lead(
    state: &AppState,
    site: &Site,
    lead_id: &str,
) -> Result<TestForm, ScreenError> {
    let facts = state
        .store
        .lead_facts(
            site.id.clone(),
            lead_id.to_string(),
            decide::TOUCH_LIMIT as u32,
        )
        .await?
        .ok_or(ScreenError::NotFound)?;
    let id = decide::rtb_id(&facts, &site.attr_key, state.now());
    let keys = TouchKeys {
        session: facts.lead.session_id.clone(),
        ct_client: facts.lead.ct_client_id.clone(),
        aid: id.aid.clone(),
    };
    let stored = state
        .store
        .touches(
            site.id.clone(),
            keys,
            facts.first_received_ms,
            decide::TOUCH_LIMIT as u32,
        )
        .await?;
    let visits = decide::visits(stored);
    let lead = &facts.lead;
    let mut f = TestForm::default();
    let call = lead.kind == LeadKind::Call;
    f.set("leadtype", lead.kind.as_str());
    f.set("id", lead.source_id.clone());
    let phase = if lead.phase == Some(CallPhase::Connected) {
        "callconnected"
    } else {
        "calldisconnected"
    };
    f.set("callphase", phase);
    f.set(
        "status",
        if lead.successful == Some(false) {
            "unsuccessful"
        } else {
            "successful"
        },
    );
    for (name, flag) in [
        ("unique", lead.unique),
        ("target", lead.target),
        ("unique_target", lead.unique_target),
    ] {
        if flag == Some(true) {
            f.set(name, "on");
        }
    }
    f.set("tags", lead.tags.join(", "));
    if let Some(ms) = lead.event_time_ms {
        f.set("timestamp", (ms / 1000).to_string());
    }
    match decide::attributed(&visits, site.attribution) {
        Some(t) => {
            let values = [
                t.source(),
                t.medium(),
                &t.utm_source,
                &t.utm_medium,
                &t.utm_campaign,
                &t.utm_content,
                &t.utm_term,
            ];
            for (name, value) in TRAFFIC.iter().zip(values) {
                f.set(name, value);
            }
        }
        None => {
            let w = &lead.traffic;
            let values = [
                &w.source,
                &w.medium,
                &w.utm_source,
                &w.utm_medium,
                &w.utm_campaign,
                &w.utm_content,
                &w.utm_term,
            ];
            for (name, value) in TRAFFIC.iter().zip(values) {
                f.set(name, value.as_str());
            }
        }
    }
    f.set("aid", id.aid.unwrap_or_default());
    let _ = call;
    Ok(f)
}
