use super::*;
use crate::config::{Attribution, TrafficField, TrafficOp};
use crate::screen::i18n::Lang;

fn pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn site() -> Site {
    crate::config::test_site(
        "metrics = [\"all_calls\", \"target_calls\"]\n\
         tags = { names = [\"vip\", \"hot\"], match = \"all\" }\n\
         traffic = [{ field = \"utm_source\", op = \"equals\", value = \"yandex\" }, \
                    { field = \"medium\", op = \"not_contains\", value = \"cpc\" }]\n\
         attribution = \"first_click\"\nwebhook_ip_allow = [\"92.118.66.0/23\"]\n\
         allowed_origins = [\"https://a.example\", \"https://b.example\"]\ncall_value = \"1500.50\"",
    )
}

#[test]
fn a_site_shown_and_posted_back_unchanged_is_the_same_site() {
    let site = site();
    let form = SiteForm::from_site(&site);
    assert_eq!(form.pkey, "", "the PKEY is never shown");
    assert_eq!(form.to_site(&site), (site.clone(), Vec::new()));
    // As the browser posts it: the rendered form's fields, read back.
    let html = render(
        &form,
        &View {
            lang: Lang::En,
            action: "/admin/sites/38342",
            csrf: "c",
            new_site: false,
            pkey_now: Some(&site.pkey),
            problems: &[],
            focus: None,
        },
    );
    assert!(!html.contains(&site.pkey), "write-only: {html}");
    assert!(html.contains("Currently set: rt***"));
}

#[test]
fn posted_fields_become_a_site() {
    let base = crate::config::test_site("");
    let form = SiteForm::from_pairs(&pairs(
        "csrf=c&pkey=&tagging_hash=AAAAAAAAAAAAAAAAAAAA&region=us&metric=all_calls&metric=failed_calls\
         &tags=vip%2C+%2Chot&tag_match=any\
         &cond_field=utm_source&cond_op=equals&cond_value=+yandex+\
         &cond_field=&cond_op=equals&cond_value=\
         &cond_field=utm_campaign&cond_op=contains&cond_value=spring\
         &attribution=last_click&enabled=on&dedup=attribution&rtbhouse_sources=rtbhouse\
         &call_value=10&request_value=&allowed_origins=https%3A%2F%2Fshop.example%0D%0A%0D%0A\
         &webhook_ip_allow=92.118.66.0%2F23%0A10.0.0.1&attr_key=__r_aid_v__&action=save",
    ));
    let (site, problems) = form.to_site(&base);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(site.pkey, base.pkey, "empty PKEY: unchanged");
    assert_eq!(site.webhook_token, base.webhook_token);
    assert_eq!(site.tagging_hash, "AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(site.metrics, [Metric::AllCalls, Metric::FailedCalls]);
    assert_eq!(site.tags.names, ["vip", "hot"]);
    let conditions: Vec<(TrafficField, TrafficOp, &str)> = site
        .traffic
        .iter()
        .map(|c| (c.field, c.op, c.value.as_str()))
        .collect();
    assert_eq!(
        conditions,
        [
            (TrafficField::UtmSource, TrafficOp::Equals, "yandex"),
            (TrafficField::UtmCampaign, TrafficOp::Contains, "spring")
        ],
        "the empty row is ignored"
    );
    assert_eq!(site.attribution, Attribution::LastClick);
    assert!(site.enabled);
    assert_eq!(site.allowed_origins, ["https://shop.example"]);
    let nets: Vec<String> = site
        .webhook_ip_allow
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["92.118.66.0/23", "10.0.0.1/32"]);
    let typed = SiteForm::from_pairs(&pairs(
        "pkey=new-pkey-1&region=omni&tag_match=any&attribution=last_click&dedup=default",
    ));
    assert_eq!(typed.to_site(&base).0.pkey, "new-pkey-1");
    assert!(!typed.to_site(&base).0.enabled, "an unticked switch is off");
}

#[test]
fn what_cannot_be_read_is_a_problem_at_its_field() {
    let form = SiteForm::from_pairs(&pairs(
        "region=mars&metric=all_calls&metric=bogus&tag_match=any&attribution=last_click&dedup=default\
         &cond_field=&cond_op=equals&cond_value=orphan&webhook_ip_allow=not-a-net",
    ));
    let (site, problems) = form.to_site(&crate::config::test_site(""));
    assert!(
        site.webhook_ip_allow.is_empty() && site.traffic.is_empty(),
        "left out"
    );
    let found: Vec<(&str, &Message)> = problems
        .iter()
        .map(|p| (p.path.as_str(), &p.message))
        .collect();
    assert_eq!(
        found,
        [
            ("region", &Message::Choice),
            ("metrics", &Message::Choice),
            ("traffic[0]", &Message::Choice),
            ("webhook_ip_allow", &Message::Network),
        ]
    );
}

#[test]
fn problem_paths_map_to_their_fields() {
    assert_eq!(field_of("tagging_hash"), "tagging_hash");
    assert_eq!(field_of("allowed_origins[1]"), "allowed_origins");
    assert_eq!(field_of("tags.names[0]"), "tags");
    assert_eq!(field_of("traffic[2]"), "traffic[2]");
}

#[test]
fn the_form_has_a_label_for_every_control_and_one_empty_row() {
    let mut form = SiteForm::from_site(&site());
    form.conditions.truncate(1);
    let problems = [Problem {
        path: "tagging_hash".into(),
        message: Message::TaggingHash,
    }];
    let view = View {
        lang: Lang::En,
        action: "/admin/sites/38342",
        csrf: "token-1",
        new_site: true,
        pkey_now: None,
        problems: &problems,
        focus: Some(Focus::LastRow),
    };
    let html = render(&form, &view);
    for label in [
        "Site id",
        "PKEY",
        "Advertiser tagging hash",
        "Region",
        "All calls",
        "Unique target requests",
        "Tags",
        "Tag match",
        "Attribution model",
        "Integration enabled",
    ] {
        assert!(
            html.contains(&format!("\">{label}</label>")),
            "{label}: {html}"
        );
    }
    assert_eq!(
        html.matches("<label for=\"cond-field-").count(),
        2,
        "one row + one empty"
    );
    assert!(html.contains("id=\"cond-field-1\" name=\"cond_field\" autofocus"));
    assert!(html.contains("name=\"csrf\" value=\"token-1\""));
    assert!(html
        .contains("<p class=\"error\" id=\"error-tagging_hash\">must be 20 letters or digits</p>"));
    // Every control is labelled: as many `for=` as controls (hidden fields and buttons aside).
    let controls = html.matches("<input type=\"text\"").count()
        + html.matches("<input type=\"password\"").count()
        + html.matches("<input type=\"checkbox\"").count()
        + html.matches("<select").count()
        + html.matches("<textarea").count();
    assert_eq!(html.matches("<label for=").count(), controls);
    let ru = render(
        &form,
        &View {
            lang: Lang::Ru,
            ..view
        },
    );
    assert!(ru.contains("Модель атрибуции") && ru.contains("ровно 20 латинских букв или цифр"));
}
