use super::*;
use crate::config::{TagFilter, TrafficCondition};

fn site(extra: &str) -> Site {
    crate::config::test_site(extra)
}

fn lead(query: &str) -> Lead {
    crate::webhook::test_lead(query)
}

const END: &str = "leadtype=call&id=1&callphase=calldisconnected";
const AID: Option<&str> = Some("Aid0123456789");

/// Sent, judged on a direct visit, under `dedup = "default"`.
fn send() -> Decision {
    send_from("(direct)")
}

fn send_from(source: &str) -> Decision {
    Decision::Send {
        aid: AID.unwrap().into(),
        credit: Credit {
            source: source.into(),
            cd: Cd::Default,
        },
    }
}

fn touch(utm_source: &str, utm_medium: &str, r#ref: &str) -> Touch {
    Touch {
        utm_source: utm_source.into(),
        utm_medium: utm_medium.into(),
        r#ref: r#ref.into(),
        ..Touch::default()
    }
}

#[test]
fn order_switch_then_credentials_then_id() {
    let off = site("enabled = false");
    assert_eq!(decide(&off, &lead(END), None, &[]), Decision::SwitchedOff);
    let mut no_pkey = site("");
    no_pkey.pkey = " ".into();
    let misconfigured = decide(&no_pkey, &lead(END), AID, &[]);
    assert_eq!(misconfigured.reason(), "misconfigured:pkey");
    assert_eq!(
        misconfigured.status(),
        LeadStatus::Filtered,
        "listed as filtered"
    );
    let mut no_hash = site("");
    no_hash.tagging_hash = String::new();
    let misconfigured = decide(&no_hash, &lead(END), None, &[]);
    assert_eq!(misconfigured.reason(), "misconfigured:tagging_hash");
    assert_eq!(decide(&site(""), &lead(END), None, &[]), Decision::NoRtbId);
    assert_eq!(decide(&site(""), &lead(END), AID, &[]), send());
}

#[test]
fn every_metric() {
    let cases: [(&str, &str, bool); 18] = [
        ("all_calls", "leadtype=call&id=1", true),
        ("all_calls", "leadtype=request&requestId=1", false),
        (
            "unique_calls",
            "leadtype=call&id=1&callphase=calldisconnected&unique=true",
            true,
        ),
        (
            "unique_calls",
            "leadtype=call&id=1&callphase=calldisconnected&unique=false",
            false,
        ),
        (
            "target_calls",
            "leadtype=call&id=1&callphase=calldisconnected&targetcall=target",
            true,
        ),
        (
            "target_calls",
            "leadtype=call&id=1&callphase=calldisconnected&targetcall=non-target",
            false,
        ),
        (
            "unique_target_calls",
            "leadtype=call&id=1&callphase=calldisconnected&uniqtargetcall=uniqtarget",
            true,
        ),
        (
            "unique_target_calls",
            "leadtype=call&id=1&callphase=calldisconnected&uniqtargetcall=null",
            false,
        ),
        (
            "failed_calls",
            "leadtype=call&id=1&callphase=calldisconnected&status=unsuccessful",
            true,
        ),
        (
            "failed_calls",
            "leadtype=call&id=1&callphase=calldisconnected&status=successful",
            false,
        ),
        ("requests", "leadtype=request&requestId=1", true),
        ("requests", "leadtype=call&id=1", false),
        (
            "unique_requests",
            "leadtype=request&requestId=1&uniquerequest=true",
            true,
        ),
        (
            "unique_requests",
            "leadtype=request&requestId=1&uniquerequest=false",
            false,
        ),
        (
            "target_requests",
            "leadtype=request&requestId=1&targetrequest=true",
            true,
        ),
        (
            "target_requests",
            "leadtype=request&requestId=1&targetrequest=null",
            false,
        ),
        (
            "unique_target_requests",
            "leadtype=request&requestId=1&uniqtargetrequest=true",
            true,
        ),
        (
            "unique_target_requests",
            "leadtype=call&id=1&callphase=calldisconnected&uniqtargetcall=uniqtarget",
            false,
        ),
    ];
    for (metric, query, sent) in cases {
        let s = site(&format!("metrics = [\"{metric}\"]"));
        let expected = if sent {
            send()
        } else {
            Decision::Filtered(Filter::Metric)
        };
        assert_eq!(
            decide(&s, &lead(query), AID, &[]),
            expected,
            "{metric} on {query}"
        );
    }
    assert_eq!(
        decide(&site("metrics = []"), &lead(END), AID, &[]).reason(),
        "filtered:metric",
        "none selected = nothing sent"
    );
    let any = site("metrics = [\"target_calls\", \"failed_calls\"]");
    assert_eq!(
        decide(&any, &lead(&format!("{END}&status=unsuccessful")), AID, &[]),
        send(),
        "any metric suffices"
    );
}

#[test]
fn calls_wait_for_their_end_only_when_a_filter_needs_it() {
    let start = lead("leadtype=call&id=1&callphase=callconnected&targetcall=null");
    assert_eq!(
        decide(&site(""), &start, AID, &[]),
        send(),
        "all_calls alone goes at call start"
    );
    let target = site("metrics = [\"target_calls\"]");
    assert_eq!(
        decide(&target, &start, AID, &[]).reason(),
        "waiting:call_end"
    );
    assert_eq!(
        decide(&target, &start, AID, &[]).status(),
        LeadStatus::Waiting
    );
    let unknown_phase = lead("leadtype=call&id=1&targetcall=target");
    assert_eq!(
        decide(&target, &unknown_phase, AID, &[]),
        Decision::WaitingCallEnd,
        "no phase = not ended"
    );
    let tagged = site("tags = { names = [\"VIP\"] }");
    assert_eq!(decide(&tagged, &start, AID, &[]), Decision::WaitingCallEnd);
    assert_eq!(
        decide(
            &target,
            &lead(&format!("{END}&targetcall=target")),
            AID,
            &[]
        ),
        send()
    );
    let request = lead("leadtype=request&requestId=1");
    assert_eq!(
        decide(
            &site("metrics = [\"requests\"]\ntags = { names = [\"x\"] }"),
            &request,
            AID,
            &[]
        )
        .reason(),
        "filtered:tags",
        "requests never wait"
    );
}

#[test]
fn tags_any_and_all_case_insensitive() {
    let lead = lead(&format!("{END}&tags_manual=VIP%2C+Repeat&tags_api=crm"));
    let any = |names: &str| site(&format!("tags = {{ names = [{names}], match = \"any\" }}"));
    let all = |names: &str| site(&format!("tags = {{ names = [{names}], match = \"all\" }}"));
    assert_eq!(decide(&any("\"vip\", \"nope\""), &lead, AID, &[]), send());
    assert_eq!(
        decide(&any("\"nope\""), &lead, AID, &[]).reason(),
        "filtered:tags"
    );
    assert_eq!(decide(&all("\"VIP\", \"CRM\""), &lead, AID, &[]), send());
    assert_eq!(
        decide(&all("\"VIP\", \"nope\""), &lead, AID, &[]).reason(),
        "filtered:tags"
    );
    assert_eq!(TagFilter::default().r#match, TagMatch::Any);
}

#[test]
fn a_call_is_tagged_by_its_four_tag_categories_only() {
    let vip = site("tags = { names = [\"vip\"], match = \"any\" }");
    for field in ["tags_auto_ct", "tags_auto_pn", "tags_manual", "tags_api"] {
        let lead = lead(&format!("{END}&{field}=VIP"));
        assert_eq!(decide(&vip, &lead, AID, &[]), send(), "{field}");
    }
    for field in ["tags_auto_pr", "tags_auto_af", "tags_request", "tags"] {
        let lead = lead(&format!("{END}&{field}=VIP"));
        assert_eq!(
            decide(&vip, &lead, AID, &[]).reason(),
            "filtered:tags",
            "{field} is not one of a call's tags"
        );
    }
    let mut vip_requests = vip.clone();
    vip_requests.metrics = vec![Metric::Requests];
    let request = |tags: &str| lead(&format!("leadtype=request&requestId=1&{tags}"));
    assert_eq!(
        decide(&vip_requests, &request("tags_request=VIP"), AID, &[]),
        send()
    );
    assert_eq!(
        decide(&vip_requests, &request("tags_manual=VIP"), AID, &[]).reason(),
        "filtered:tags",
        "a request's tags are tags_request"
    );
}

#[test]
fn each_traffic_operator_and_field_on_the_webhook_fields() {
    let lead = lead(&format!(
        "{END}&source=Yandex&medium=CPC&utm_source=yandex&utm_medium=cpc&utm_campaign=Spring_Sale&utm_content=banner&utm_term=buy+sofa"
    ));
    let fields = [
        ("source", "yandex"),
        ("medium", "cpc"),
        ("utm_source", "YANDEX"),
        ("utm_medium", "cpc"),
        ("utm_campaign", "spring_sale"),
        ("utm_content", "banner"),
        ("utm_term", "buy sofa"),
    ];
    for (field, value) in fields {
        let part = &value[..3];
        let check = |op: &str, v: &str| {
            let s = site(&format!(
                "traffic = [{{ field = \"{field}\", op = \"{op}\", value = \"{v}\" }}]"
            ));
            decide(&s, &lead, AID, &[])
        };
        let dropped = Decision::Filtered(Filter::Traffic(
            site(&format!(
                "traffic = [{{ field = \"{field}\", op = \"equals\", value = \"\" }}]"
            ))
            .traffic[0]
                .field,
        ));
        assert_eq!(
            check("equals", value),
            send_from("yandex"),
            "{field} equals"
        );
        assert_eq!(check("equals", "other"), dropped, "{field} equals other");
        assert_eq!(check("not_equals", "other"), send_from("yandex"));
        assert_eq!(check("not_equals", value), dropped);
        assert_eq!(check("contains", part), send_from("yandex"));
        assert_eq!(check("contains", "zzz"), dropped);
        assert_eq!(check("not_contains", "zzz"), send_from("yandex"));
        assert_eq!(check("not_contains", part), dropped);
        assert_eq!(dropped.reason(), format!("filtered:traffic:{field}"));
    }
    let two = site("traffic = [{ field = \"utm_source\", op = \"equals\", value = \"yandex\" }, { field = \"utm_medium\", op = \"equals\", value = \"organic\" }]");
    assert_eq!(
        decide(&two, &lead, AID, &[]).reason(),
        "filtered:traffic:utm_medium",
        "all must hold"
    );
}

#[test]
fn attribution_models_over_stored_touchpoints() {
    let touches = [
        touch("google", "cpc", ""),
        touch("yandex", "cpc", ""),
        touch("", "", ""),
    ];
    assert_eq!(
        attributed(&touches, Attribution::LastClick),
        Some(&touches[2])
    );
    assert_eq!(
        attributed(&touches, Attribution::FirstClick),
        Some(&touches[0])
    );
    assert_eq!(
        attributed(&touches, Attribution::LastNonDirect),
        Some(&touches[1]),
        "skips the direct visit"
    );
    let all_direct = [touch("", "", ""), touch("", "", "")];
    assert_eq!(
        attributed(&all_direct, Attribution::LastNonDirect),
        Some(&all_direct[1]),
        "direct only if all are"
    );
    let referred = [touch("", "", "news.example"), touch("", "", "")];
    assert_eq!(
        attributed(&referred, Attribution::LastNonDirect),
        Some(&referred[0]),
        "a referral is not direct"
    );
    assert_eq!(attributed(&[], Attribution::LastClick), None);

    let webhook_says_google = lead(&format!("{END}&utm_source=google&source=google"));
    let rule = |model: &str| {
        site(&format!("attribution = \"{model}\"\ntraffic = [{{ field = \"utm_source\", op = \"equals\", value = \"yandex\" }}]"))
    };
    assert_eq!(
        decide(
            &rule("last_non_direct"),
            &webhook_says_google,
            AID,
            &touches
        ),
        send_from("yandex"),
        "stored touches win over the webhook's fields"
    );
    assert_eq!(
        decide(&rule("first_click"), &webhook_says_google, AID, &touches).reason(),
        "filtered:traffic:utm_source"
    );
    assert_eq!(
        decide(&rule("last_click"), &webhook_says_google, AID, &touches).reason(),
        "filtered:traffic:utm_source"
    );
    assert_eq!(
        decide(&rule("last_non_direct"), &webhook_says_google, AID, &[]).reason(),
        "filtered:traffic:utm_source",
        "no touches: the webhook's own fields"
    );
    let direct_rule =
        site("traffic = [{ field = \"source\", op = \"equals\", value = \"(direct)\" }]");
    assert_eq!(decide(&direct_rule, &lead(END), AID, &all_direct), send());
    let _ = TrafficCondition {
        field: TrafficField::Medium,
        op: TrafficOp::Equals,
        value: String::new(),
    };
}

#[test]
fn only_target_failed_and_tags_make_a_call_wait_for_its_end() {
    let start = |flags: &str| {
        lead(&format!(
            "leadtype=call&id=1&callphase=callconnected&status=null&targetcall=null{flags}"
        ))
    };
    let unique = site("metrics = [\"unique_calls\"]");
    assert_eq!(
        decide(&unique, &start("&unique=true"), AID, &[]),
        send(),
        "unique is known at call start"
    );
    assert_eq!(
        decide(&unique, &start("&unique=false"), AID, &[]).reason(),
        "filtered:metric"
    );
    assert_eq!(
        decide(&unique, &start("&unique=null"), AID, &[]).reason(),
        "waiting:call_end",
        "not said at the start: wait for the end"
    );
    assert_eq!(
        decide(
            &site("metrics = [\"all_calls\", \"target_calls\"]"),
            &start(""),
            AID,
            &[]
        ),
        send(),
        "any of the metrics: all_calls already admits the call"
    );
    let unique_or_target = site("metrics = [\"unique_calls\", \"target_calls\"]");
    assert_eq!(
        decide(&unique_or_target, &start("&unique=true"), AID, &[]),
        send()
    );
    assert_eq!(
        decide(&unique_or_target, &start("&unique=false"), AID, &[]).reason(),
        "waiting:call_end",
        "not unique, but it may still turn out a target call"
    );
    for metrics in ["target_calls", "unique_target_calls", "failed_calls"] {
        let s = site(&format!("metrics = [\"{metrics}\"]"));
        assert_eq!(
            decide(&s, &start("&unique=true"), AID, &[]).reason(),
            "waiting:call_end",
            "{metrics}"
        );
    }
    let tagged = site("metrics = [\"all_calls\"]\ntags = { names = [\"VIP\"] }");
    assert_eq!(
        decide(&tagged, &start("&unique=true"), AID, &[]).reason(),
        "waiting:call_end",
        "tags count as of the call end"
    );
}

/// Visits of one visitor in time order, RTB House's among them.
fn visits(sources: &[&str]) -> Vec<Touch> {
    sources
        .iter()
        .map(|s| match *s {
            "" => touch("", "", ""),
            s => touch(s, "cpc", ""),
        })
        .collect()
}

#[test]
fn cd_follows_the_source_under_each_attribution_model() {
    use Cd::{False, True};
    let rtb_last = visits(&["google", "rtb-house"]);
    let rtb_first = visits(&["RTBHouse", "google"]);
    let rtb_only = visits(&["rtb_house"]);
    let rtb_then_direct = visits(&["rtb-house", ""]);
    let rtb_absent = visits(&["google", "yandex"]);
    let direct = visits(&["", ""]);
    // (touches, last_non_direct, last_click, first_click)
    let cases: [(&[Touch], Cd, Cd, Cd); 6] = [
        (&rtb_absent, True, True, True),
        (&rtb_last, False, False, True),
        (&rtb_first, True, True, False),
        (&rtb_only, False, False, False),
        (&rtb_then_direct, False, True, False),
        (&direct, True, True, True),
    ];
    for (touches, last_non_direct, last_click, first_click) in cases {
        for (model, expected) in [
            ("last_non_direct", last_non_direct),
            ("last_click", last_click),
            ("first_click", first_click),
        ] {
            let s = site(&format!(
                "dedup = \"attribution\"\nattribution = \"{model}\""
            ));
            let credit = credit(&s, &lead(END), touches);
            assert_eq!(credit.cd, expected, "{model} over {touches:?}");
            let Decision::Send { credit: sent, .. } = decide(&s, &lead(END), AID, touches) else {
                panic!("{model}: sent");
            };
            assert_eq!(sent, credit, "decide sends the same credit");
        }
    }
    let s = site("dedup = \"attribution\"\nattribution = \"last_click\"");
    assert_eq!(credit(&s, &lead(END), &rtb_last).source, "rtb-house");
    assert_eq!(
        credit(&s, &lead(END), &direct).source,
        "(direct)",
        "direct is judged as (direct) and sends cd=true"
    );
}

#[test]
fn cd_without_visits_comes_from_the_webhook_fields() {
    let s = site("dedup = \"attribution\"");
    let judged = |query: &str| credit(&s, &lead(&format!("{END}&{query}")), &[]);
    assert_eq!(
        judged("utm_source=RTB-House&source=google"),
        Credit {
            source: "RTB-House".into(),
            cd: Cd::False
        },
        "utm_source first, case-insensitive"
    );
    assert_eq!(
        judged("utm_source=google&source=rtbhouse"),
        Credit {
            source: "google".into(),
            cd: Cd::True
        }
    );
    assert_eq!(
        judged("utm_source=null&source=rtbhouse").cd,
        Cd::False,
        "no utm_source: source"
    );
    assert_eq!(
        judged("source=(direct)"),
        Credit {
            source: "(direct)".into(),
            cd: Cd::True
        }
    );
    assert_eq!(
        judged("utm_source=null&source=null"),
        Credit {
            source: "(direct)".into(),
            cd: Cd::True
        },
        "absent: direct"
    );
    let own = site("dedup = \"attribution\"\nrtbhouse_sources = [\"Retarget\"]");
    assert_eq!(
        credit(&own, &lead(&format!("{END}&utm_source=retarget")), &[]).cd,
        Cd::False,
        "the site's own list"
    );
    assert_eq!(
        credit(&own, &lead(&format!("{END}&utm_source=rtbhouse")), &[]).cd,
        Cd::True,
        "only the listed values"
    );
}

#[test]
fn dedup_default_sends_cd_default_and_still_reports_the_source() {
    let s = site("");
    assert_eq!(
        credit(&s, &lead(END), &visits(&["rtb-house"])),
        Credit {
            source: "rtb-house".into(),
            cd: Cd::Default
        }
    );
    assert_eq!(
        decide(&s, &lead(END), AID, &visits(&["google"])),
        send_from("google")
    );
}

#[test]
fn every_rule_is_checked_in_order_and_the_first_that_fails_decides() {
    let site = site(
        "enabled = false\nmetrics = [\"target_calls\"]\ntags = { names = [\"vip\"], match = \"any\" }\n\
         traffic = [{ field = \"utm_source\", op = \"equals\", value = \"yandex\" }, \
                    { field = \"utm_medium\", op = \"equals\", value = \"cpc\" }]",
    );
    let start = lead("leadtype=call&id=1&callphase=callconnected&utm_source=google&utm_medium=cpc");
    let all = checks(&site, &start, None, &[]);
    let rules: Vec<Rule> = all.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        rules,
        [
            Rule::Switch,
            Rule::Credentials,
            Rule::RtbId,
            Rule::CallEnd,
            Rule::Metrics,
            Rule::Tags,
            Rule::Traffic(0),
            Rule::Traffic(1)
        ]
    );
    let failed: Vec<Option<String>> = all
        .iter()
        .map(|(_, d)| d.as_ref().map(Decision::reason))
        .collect();
    assert_eq!(
        failed,
        [
            Some("switched_off".into()),
            None,
            Some("no_rtb_id".into()),
            Some("waiting:call_end".into()),
            Some("filtered:metric".into()),
            Some("filtered:tags".into()),
            Some("filtered:traffic:utm_source".into()),
            None,
        ],
        "each rule on its own"
    );
    // The decision is the first failure, whatever fails after it.
    assert_eq!(decide(&site, &start, None, &[]).reason(), "switched_off");
    let mut on = site.clone();
    on.enabled = true;
    assert_eq!(decide(&on, &start, None, &[]).reason(), "no_rtb_id");
    let end = lead("leadtype=call&id=1&callphase=calldisconnected&targetcall=target&tags_manual=vip&utm_source=yandex&utm_medium=cpc");
    assert!(checks(&on, &end, AID, &[]).iter().all(|(_, d)| d.is_none()));
    assert!(matches!(decide(&on, &end, AID, &[]), Decision::Send { .. }));
}
