//! The sites: the list (`GET /admin`, or the sign-in page when not signed in), `Add site`
//! (`/admin/sites/new`), and a site's settings page (`/admin/sites/{site}`): which settings are
//! in effect (the file's or those saved here, and whether the file's differ), the `Webhook URL`
//! and `Script tag` to copy, the form, and the audit trail. A save is checked by the
//! `check-config` rules within the effective settings ([`crate::overlay::problems`]); nothing is
//! saved while any problem remains.

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::form::{self, Focus, SiteForm, View};
use super::html::{self, esc};
use super::i18n::{Lang, T};
use super::{field, html_page, known_site, operator, posted_form, respond, session, Operator};
use super::{ScreenError, Visit};
use crate::config::{Message, Problem, Site};
use crate::http::AppState;
use crate::overlay::{self, Origin};
use crate::saved;

mod around;

use around::{around, Around};

/// Which of a site's pages is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The settings.
    Settings,
    /// The lead log.
    Leads,
    /// The live view.
    Live,
    /// The test lead.
    Test,
}

/// The links between a site's pages.
pub fn tabs(lang: Lang, site: &str, current: Tab) -> String {
    let site = esc(site);
    let mut out = format!(
        "<p><a href=\"/admin\">{}</a></p><nav class=\"tabs\" aria-label=\"{}\">",
        esc(lang.t(T::AllSites)),
        esc(&lang.fill(T::SiteTitle, &site))
    );
    for (tab, path, label) in [
        (Tab::Settings, "", T::Settings),
        (Tab::Leads, "/leads", T::LeadLog),
        (Tab::Live, "/live", T::LiveView),
        (Tab::Test, "/test", T::TestLead),
    ] {
        let mark = if tab == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<a href=\"/admin/sites/{site}{path}\"{mark}>{}</a>",
            esc(lang.t(label))
        );
    }
    out.push_str("</nav>");
    out
}

/// A page of a signed-in operator.
pub fn signed_page(visit: &Visit, op: &Operator, title: &str, body: &str) -> Response {
    html_page(
        StatusCode::OK,
        html::page(&visit.frame(title, Some(op.csrf())), body),
    )
}

/// `GET /admin`: the sites, or the sign-in page.
pub async fn list(State(state): State<Arc<AppState>>, visit: Visit) -> Response {
    let op = match operator(&state, &visit).await {
        Ok(op) => op,
        Err(ScreenError::SignIn) => {
            let ended = visit
                .session
                .is_some()
                .then(|| visit.lang.t(T::SessionEnded).to_string());
            return super::sign_in::page(&visit, StatusCode::OK, ended);
        }
        Err(e) => return respond(&visit, Err(e)),
    };
    let lang = visit.lang;
    let config = state.settings.current();
    let (file, saved) = (state.settings.file(), state.settings.saved());
    let mut body = format!(
        "<h1>{}</h1><form method=\"get\" action=\"/admin/sites/new\"><button type=\"submit\">{}</button></form>",
        esc(lang.t(T::Sites)),
        esc(lang.t(T::AddSite))
    );
    if config.site.is_empty() {
        body.push_str(&html::notice("note", lang.t(T::NoSites)));
    } else {
        let _ = write!(
            body,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(lang.t(T::ColSite)),
            esc(lang.t(T::ColIntegration)),
            esc(lang.t(T::ColSettingsFrom)),
            esc(lang.t(T::LeadLog)),
        );
        for site in &config.site {
            let from = match overlay::origin(&file, &saved, &site.id) {
                Origin::File => T::FromFile,
                Origin::Saved => T::FromScreen,
                Origin::SavedFileDiffers => T::FromScreenFileDiffers,
                Origin::ScreenOnly => T::ScreenOnly,
            };
            let id = esc(&site.id);
            let _ = write!(
                body,
                "<tr><td><a href=\"/admin/sites/{id}\">{id}</a></td><td>{}</td><td>{}</td>\
                 <td><a href=\"/admin/sites/{id}/leads\">{}</a></td></tr>",
                esc(lang.t(if site.enabled { T::On } else { T::Off })),
                esc(lang.t(from)),
                esc(lang.t(T::LeadLog)),
            );
        }
        body.push_str("</tbody></table>");
    }
    signed_page(&visit, &op, lang.t(T::Sites), &body)
}

/// A site as `Add site` starts it: switched off, a fresh webhook token, every other key at its
/// default.
fn fresh_site(id: &str) -> Result<Site, ScreenError> {
    let token = session::random_hex()?;
    let mut site: Site = serde_json::from_value(serde_json::json!({
        "id": id,
        "webhook_token": &token[..32],
    }))
    .map_err(|e| ScreenError::BadRequest(e.to_string()))?;
    site.enabled = false;
    Ok(site)
}

/// The `Add site` page.
async fn new_site_page(state: &AppState, visit: &Visit) -> Result<Response, ScreenError> {
    let op = operator(state, visit).await?;
    let mut form = SiteForm::from_site(&fresh_site("")?);
    form.id.clear();
    Ok(edit_page(
        visit,
        &op,
        &Edit::new(None, &form),
        &Around::default(),
    ))
}

/// `GET /admin/sites/new`.
pub async fn new_site(State(state): State<Arc<AppState>>, visit: Visit) -> Response {
    let result = new_site_page(&state, &visit).await;
    respond(&visit, result)
}

/// `POST /admin/sites/new`: adds the site (only in storage), or the form again.
pub async fn create(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (op, posted) = posted_form(&state, &visit, &headers, body).await?;
        let form = SiteForm::from_pairs(&posted);
        let base = fresh_site(&form.id)?;
        let mut problems = Vec::new();
        if state.settings.current().site(&form.id).is_some() {
            problems.push(Problem {
                path: "id".into(),
                message: Message::DuplicateSite(form.id.clone()),
            });
        }
        submit(&state, &visit, &op, None, form, base, &posted, problems).await
    }
    .await;
    respond(&visit, result)
}

/// `GET /admin/sites/{site}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let op = operator(&state, &visit).await?;
        let current = state.settings.current();
        let site = known_site(&current, &site)?;
        let just_saved = field(&query, "saved") == "1";
        let around = around(&state, visit.lang, Some(site), just_saved).await?;
        let form = SiteForm::from_site(site);
        Ok(edit_page(
            &visit,
            &op,
            &Edit::new(Some(site), &form),
            &around,
        ))
    }
    .await;
    respond(&visit, result)
}

/// `POST /admin/sites/{site}`: saves, adds or removes a condition row.
pub async fn save(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (op, posted) = posted_form(&state, &visit, &headers, body).await?;
        let current = state.settings.current();
        let site = known_site(&current, &site)?.clone();
        let mut form = SiteForm::from_pairs(&posted);
        form.id = site.id.clone();
        submit(
            &state,
            &visit,
            &op,
            Some(&site),
            form,
            site.clone(),
            &posted,
            Vec::new(),
        )
        .await
    }
    .await;
    respond(&visit, result)
}

/// The form posted: a row added or removed (shown again, nothing saved), or checked and
/// saved, or shown again with its problems.
#[allow(clippy::too_many_arguments)]
async fn submit(
    state: &AppState,
    visit: &Visit,
    op: &Operator,
    existing: Option<&Site>,
    mut form: SiteForm,
    base: Site,
    posted: &[(String, String)],
    mut problems: Vec<Problem>,
) -> Result<Response, ScreenError> {
    let action = field(posted, "action");
    let (mut focus, mut status) = (None, StatusCode::OK);
    if action == "add_condition" {
        form.conditions.push(form::Row::default());
        focus = Some(Focus::LastRow);
    } else if let Some(i) = action
        .strip_prefix("remove:")
        .and_then(|i| i.parse::<usize>().ok())
    {
        if i < form.conditions.len() {
            form.conditions.remove(i);
        }
        focus = Some(Focus::AddButton);
    } else {
        let (candidate, unreadable) = form.to_site(&base);
        problems.extend(unreadable);
        let (file, saved) = (state.settings.file(), state.settings.saved());
        problems.extend(overlay::problems(&file, &saved, &candidate));
        if problems.is_empty() {
            let who = session::label(&op.session);
            saved::save(
                &state.settings,
                &*state.store,
                &candidate,
                &who,
                state.now(),
            )
            .await
            .map_err(|e| match e {
                saved::SavedError::Store(e) => ScreenError::Store(e),
                other => ScreenError::BadRequest(other.to_string()),
            })?;
            let to = format!("/admin/sites/{}?saved=1", candidate.id);
            return Ok(Redirect::to(&to).into_response());
        }
        status = StatusCode::BAD_REQUEST;
    }
    let edit = Edit {
        site: existing,
        form: &form,
        problems: &problems,
        focus,
        status,
    };
    let around = around(state, visit.lang, existing, false).await?;
    Ok(edit_page(visit, op, &edit, &around))
}

/// The form on a page: its site (`None`: `Add site`), as typed, with its problems.
struct Edit<'a> {
    site: Option<&'a Site>,
    form: &'a SiteForm,
    problems: &'a [Problem],
    focus: Option<Focus>,
    status: StatusCode,
}

impl<'a> Edit<'a> {
    fn new(site: Option<&'a Site>, form: &'a SiteForm) -> Edit<'a> {
        Edit {
            site,
            form,
            problems: &[],
            focus: None,
            status: StatusCode::OK,
        }
    }
}

/// The settings page (or `Add site`'s).
fn edit_page(visit: &Visit, op: &Operator, edit: &Edit<'_>, around: &Around) -> Response {
    let lang = visit.lang;
    let title = match edit.site {
        Some(s) => lang.fill(T::SiteTitle, &s.id),
        None => lang.t(T::NewSite).to_string(),
    };
    let mut body = String::new();
    match edit.site {
        Some(s) => body.push_str(&tabs(lang, &s.id, Tab::Settings)),
        None => {
            let _ = write!(
                body,
                "<p><a href=\"/admin\">{}</a></p>",
                esc(lang.t(T::AllSites))
            );
        }
    }
    let _ = write!(body, "<h1>{}</h1>{}", esc(&title), around.notes);
    body.push_str(&html::notice("note", lang.t(T::PrecedenceNote)));
    if let Some(s) = edit.site {
        let hook = format!(
            "{}/v1/calltouch/{}?token={}",
            visit.base_url(),
            s.id,
            form_urlencoded::byte_serialize(s.webhook_token.as_bytes()).collect::<String>()
        );
        let tag = format!(
            "<script async src=\"{}/aidlink.js\" data-site=\"{}\"></script>",
            visit.base_url(),
            s.id
        );
        let hook_hint = lang.t(T::WebhookUrlHint);
        body.push_str(&html::copyable(
            lang,
            "webhook-url",
            lang.t(T::WebhookUrl),
            &hook,
            hook_hint,
        ));
        let tag_hint = lang.t(T::ScriptTagHint);
        body.push_str(&html::copyable(
            lang,
            "script-tag",
            lang.t(T::ScriptTag),
            &tag,
            tag_hint,
        ));
    }
    let action = match edit.site {
        Some(s) => format!("/admin/sites/{}", s.id),
        None => "/admin/sites/new".to_string(),
    };
    body.push_str(&form::render(
        edit.form,
        &View {
            lang,
            action: &action,
            csrf: op.csrf(),
            new_site: edit.site.is_none(),
            pkey_now: edit.site.map(|s| s.pkey.as_str()),
            problems: edit.problems,
            focus: edit.focus,
        },
    ));
    body.push_str(&around.trail);
    html_page(
        edit.status,
        html::page(&visit.frame(&title, Some(op.csrf())), &body),
    )
}
