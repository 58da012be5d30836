use super::*;

fn fixture(name: &str) -> Vec<(String, String)> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    form_urlencoded::parse(text.trim().as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn call_start_fixture() {
    let lead = parse_lead(&fixture("call_start.txt")).unwrap();
    assert_eq!(lead.kind, LeadKind::Call);
    assert_eq!(lead.lead_id(), "call-5512001");
    assert_eq!(lead.phase, Some(CallPhase::Connected));
    assert!(!lead.is_call_end());
    assert_eq!(lead.event_time_ms, Some(1_732_500_100_000));
    assert_eq!(lead.session_id.as_deref(), Some("261374990"));
    assert_eq!(lead.ct_client_id.as_deref(), Some("2200000000464647719"));
    assert_eq!(lead.successful, None, "status=null is absent");
    assert_eq!((lead.unique, lead.target), (Some(true), None));
    assert!(lead.tags.is_empty(), "null tags are no tags");
    assert_eq!(lead.traffic.utm_source, "yandex");
    assert_eq!(lead.traffic.utm_content, "", "null utm is empty");
    assert!(lead.attrs.is_empty());
}

#[test]
fn call_end_fixture_has_final_metrics_tags_and_attrs() {
    let lead = parse_lead(&fixture("call_end_target.txt")).unwrap();
    assert!(lead.is_call_end());
    assert_eq!(lead.successful, Some(true));
    assert_eq!(
        (lead.unique, lead.target, lead.unique_target),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(lead.tags, ["Продажи", "VIP", "повтор"]);
    assert_eq!(
        lead.attrs.get("__r_aid_v__").map(String::as_str),
        Some("AttrId0123456789xyz")
    );
    assert_eq!(lead.attrs.get("other").map(String::as_str), Some("5"));
}

#[test]
fn failed_call_with_nulls() {
    let lead = parse_lead(&fixture("call_end_failed_nulls.txt")).unwrap();
    assert_eq!(lead.successful, Some(false));
    assert_eq!(
        (lead.unique, lead.target, lead.unique_target),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(lead.session_id, None);
    assert_eq!(lead.ct_client_id, None);
    assert_eq!(lead.traffic, Traffic::default());
    assert_eq!(
        lead.event_time_ms, None,
        "timestamp=null: no event time (calltime is local time without a zone, not read)"
    );
}

#[test]
fn request_fixture() {
    let lead = parse_lead(&fixture("request.txt")).unwrap();
    assert_eq!(lead.kind, LeadKind::Request);
    assert_eq!(lead.lead_id(), "request-9001234");
    assert_eq!(lead.phase, None);
    assert_eq!(
        (lead.unique, lead.target, lead.unique_target),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(lead.tags, ["Корзина"]);
    assert_eq!(lead.traffic.source, "google");
    assert_eq!(
        lead.event_time_ms, None,
        "no timestamp: requestDate (local time, no zone) is not read as UTC"
    );
}

#[test]
fn only_a_valid_unix_timestamp_is_an_event_time() {
    let time =
        |timestamp: &str| test_lead(&format!("leadtype=call&id=1&{timestamp}")).event_time_ms;
    assert_eq!(time("timestamp=1732500100"), Some(1_732_500_100_000));
    assert_eq!(time("timestamp=0"), None);
    assert_eq!(time("timestamp=-5"), None);
    assert_eq!(time("timestamp=2024-11-25+05%3A01%3A40"), None);
    assert_eq!(time("timestamp=9223372036854775807"), None, "no overflow");
    assert_eq!(time("calltime=2024-11-25+05%3A01%3A40"), None);
}

#[test]
fn personal_data_is_never_kept() {
    for name in ["call_start.txt", "call_end_target.txt", "request.txt"] {
        let lead = parse_lead(&fixture(name)).unwrap();
        let stored = serde_json::to_string(&lead).unwrap();
        for secret in [
            "79161234567",
            "79035550000",
            "Иван",
            "Анна",
            "95.31.18",
            "mail.example",
            "Москва",
        ] {
            assert!(
                !stored.contains(secret),
                "{name}: {secret} leaked into {stored}"
            );
        }
        assert_eq!(serde_json::from_str::<Lead>(&stored).unwrap(), lead);
    }
}

#[test]
fn refusals_name_the_field() {
    let pairs = |s: &str| {
        form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
    };
    assert_eq!(parse_lead(&pairs("id=1")), Err(WebhookError::LeadType));
    assert_eq!(
        parse_lead(&pairs("leadtype=sms&id=1")),
        Err(WebhookError::LeadType)
    );
    assert_eq!(
        parse_lead(&pairs("leadtype=call&id=null")),
        Err(WebhookError::Id("id"))
    );
    assert_eq!(
        parse_lead(&pairs("leadtype=call&id=1%262")),
        Err(WebhookError::Id("id"))
    );
    assert_eq!(
        parse_lead(&pairs("leadtype=request&id=5")),
        Err(WebhookError::Id("requestId"))
    );
    assert_eq!(
        WebhookError::Id("requestId").to_string(),
        "requestId: missing or not an id (1 to 64 of A-Z a-z 0-9 - _ .)"
    );
}

#[test]
fn garbage_attrs_and_odd_values_are_tolerated() {
    let pairs = |s: &str| {
        form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
    };
    let lead = parse_lead(&pairs(
        "leadtype=call&id=7&attrs=%7Bnot+json&callphase=weird&unique=maybe",
    ))
    .unwrap();
    assert!(lead.attrs.is_empty());
    assert_eq!(lead.phase, None);
    assert_eq!(lead.unique, None);
}

#[test]
fn request_flags_in_calltouch_words() {
    let lead = parse_lead(&fixture("request_flag_words.txt")).unwrap();
    assert_eq!(
        (lead.unique, lead.target, lead.unique_target),
        (Some(true), Some(true), Some(false)),
        "unique / target / non-uniqtarget"
    );
    let lead = parse_lead(&fixture("request_flag_words_negative.txt")).unwrap();
    assert_eq!(
        (lead.unique, lead.target, lead.unique_target),
        (Some(false), Some(false), Some(true)),
        "non-unique / non-target / uniqtarget"
    );
    let call = parse_lead(&[
        ("leadtype".into(), "call".into()),
        ("id".into(), "1".into()),
        ("unique".into(), "unique".into()),
    ])
    .unwrap();
    assert_eq!(call.unique, Some(true), "the call flag takes the word too");
}
