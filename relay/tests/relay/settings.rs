//! Settings saved on the operator's screen: they replace the config file's for their site
//! (whole), survive a file reload, exist only in storage for a site added on the screen, are
//! picked up by every instance sharing the database, take effect on the next webhook, and are
//! checked by the `check-config` rules with nothing saved on a problem; the audit trail masks
//! the PKEY.

use std::time::Duration;

use aidlink_relay::saved;
use axum::http::StatusCode;

use crate::support::screen::{config_text, Screen};
use crate::support::{wait_until, PKEY, WEBHOOK_TOKEN};

#[tokio::test]
async fn saved_settings_replace_the_files_for_their_site_and_survive_a_file_reload() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let before = screen.get("/admin/sites/38342", &cookie).await;
    assert!(before
        .body
        .contains("Сейчас действуют настройки из файла конфигурации"));
    let form = screen
        .site_form(
            "38342",
            &cookie,
            &[&format!("csrf={csrf}"), "metric=requests", "region=us"],
        )
        .await;
    let saved = screen.post("/admin/sites/38342", &cookie, &form).await;
    assert_eq!(
        saved.location(),
        "/admin/sites/38342?saved=1",
        "{}",
        saved.body
    );
    let settings = &screen.state.settings;
    let site = settings.current().site("38342").unwrap().clone();
    assert_eq!(site.region.as_str(), "us");
    assert_eq!(
        settings.file().site("38342").unwrap().region.as_str(),
        "omni",
        "the file is untouched"
    );
    let page = screen.get("/admin/sites/38342?saved=1", &cookie).await;
    assert!(page
        .body
        .contains("Сохранено. Новые настройки действуют со следующего вебхука."));
    assert!(
        page.body
            .contains("В файле конфигурации для этого сайта другие настройки"),
        "{}",
        page.body
    );

    // The file changes: its other sites apply, the saved site stays as saved.
    let path = dir.path().join("relay.toml");
    let text = config_text(&dir.path().join("aidlink.db"), "")
        + "[[site]]\nid = \"4242\"\nwebhook_token = \"hook-token-4242-abcdef\"\n";
    std::fs::write(
        &path,
        text.replace("metrics = [\"all_calls\"]", "metrics = [\"failed_calls\"]"),
    )
    .unwrap();
    assert!(settings.reload(&path));
    let current = settings.current();
    assert_eq!(current.site("38342").unwrap(), &site, "saved wins, whole");
    assert_eq!(
        current.site("4242").unwrap().webhook_token,
        "hook-token-4242-abcdef"
    );
    let list = screen.get("/admin?lang=en", &cookie).await;
    assert!(
        list.body.contains("saved here (the file&#39;s differ)"),
        "{}",
        list.body
    );
    assert!(list.body.contains("from the config file"));
}

#[tokio::test]
async fn a_site_added_on_the_screen_lives_in_storage_and_every_instance_picks_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let a = Screen::open(dir.path(), "");
    let b = Screen::open(dir.path(), "");
    saved::refresh(&b.state.settings, &*b.store).await.unwrap();
    tokio::spawn(saved::watch(
        b.state.settings.clone(),
        b.store.clone(),
        Duration::from_millis(50),
    ));
    let (cookie, csrf) = a.sign_in().await;
    let new = a.get("/admin/sites/new", &cookie).await;
    assert!(new.body.contains("name=\"id\""));
    let form = format!(
        "csrf={csrf}&id=50505&pkey=pk-new-site-1&tagging_hash=AAAAAAAAAAAAAAAAAAAA&region=omni\
         &metric=all_calls&tags=&tag_match=any&cond_field=&cond_op=equals&cond_value=\
         &attribution=last_non_direct&enabled=on&dedup=default&rtbhouse_sources=rtbhouse\
         &call_value=&request_value=&allowed_origins=&webhook_ip_allow=&attr_key=__r_aid_v__"
    );
    let created = a.post("/admin/sites/new", &cookie, &form).await;
    assert_eq!(
        created.location(),
        "/admin/sites/50505?saved=1",
        "{}",
        created.body
    );
    let site = a.state.settings.current().site("50505").unwrap().clone();
    assert_eq!(site.webhook_token.len(), 32, "a generated token");
    assert!(
        a.state.settings.file().site("50505").is_none(),
        "only in storage"
    );
    let page = a.get("/admin/sites/50505", &cookie).await;
    let hook = format!("/v1/calltouch/50505?token={}", site.webhook_token);
    assert!(page.body.contains(&hook), "the webhook URL with its token");
    assert!(page.body.contains("Сайт добавлен на этом экране"));

    // The other instance sees it within its poll, and takes its webhooks.
    wait_until(
        "instance B to see site 50505",
        Duration::from_secs(5),
        || async {
            match b.state.settings.current().site("50505") {
                Some(s) => Ok(s.clone()),
                None => Err("not yet".to_string()),
            }
        },
    )
    .await;
    let hook = b
        .post(&hook, "", "leadtype=call&id=9&callphase=calldisconnected")
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);

    // A restarted instance reads it at start.
    let c = Screen::open(dir.path(), "");
    assert!(c.state.settings.current().site("50505").is_none());
    saved::refresh(&c.state.settings, &*c.store).await.unwrap();
    assert_eq!(c.state.settings.current().site("50505"), Some(&site));
}

#[tokio::test]
async fn an_invalid_site_is_refused_field_by_field_and_nothing_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let version = screen.store.settings_version().await.unwrap();
    let form = screen
        .site_form(
            "38342",
            &cookie,
            &[
                &format!("csrf={csrf}"),
                "tagging_hash=not-a-hash",
                "allowed_origins=https://shop.example/path",
                "call_value=1,5",
                "webhook_ip_allow=nope",
            ],
        )
        .await;
    let page = screen.post("/admin/sites/38342", &cookie, &form).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    for (field, message) in [
        ("tagging_hash", "ровно 20 латинских букв или цифр"),
        ("allowed_origins", "нужно схема://хост[:порт] без пути"),
        ("call_value", "десятичное число ≥ 0"),
        ("webhook_ip_allow", "нужна сеть вида 92.118.66.0/23"),
    ] {
        let beside = format!("<p class=\"error\" id=\"error-{field}\">{message}");
        assert!(page.body.contains(&beside), "{field}: {}", page.body);
    }
    assert!(
        page.body.contains("value=\"not-a-hash\""),
        "the form comes back as typed"
    );
    assert_eq!(screen.store.settings_version().await.unwrap(), version);
    assert!(screen.store.saved_sites().await.unwrap().is_empty());
    assert!(screen
        .store
        .audit_trail("38342".into(), 10)
        .await
        .unwrap()
        .is_empty());
    // Adding a site whose id exists is refused at the id.
    let dup = screen
        .post("/admin/sites/new?lang=en", &cookie, &format!("csrf={csrf}&id=38342&region=omni&tag_match=any&attribution=last_click&dedup=default&attr_key=k"))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(
        dup.body
            .contains("<p class=\"error\" id=\"error-id\">duplicate site id &quot;38342&quot;</p>"),
        "{}",
        dup.body
    );
}

#[tokio::test]
async fn saved_settings_take_effect_on_the_next_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let hook = format!("/v1/calltouch/38342?token={WEBHOOK_TOKEN}");
    let reason = |lead: &'static str| {
        let store = screen.store.clone();
        async move {
            wait_until(
                &format!("{lead} decided"),
                Duration::from_secs(5),
                || async {
                    match store.trail("38342".into(), lead.into()).await.unwrap() {
                        Some(t) if t.reason.is_some() => Ok(t.reason.unwrap()),
                        other => Err(format!("{other:?}")),
                    }
                },
            )
            .await
        }
    };
    screen
        .post(&hook, "", "leadtype=call&id=1&callphase=calldisconnected")
        .await;
    assert_eq!(reason("call-1").await, "no_rtb_id", "on: judged on");
    let off = screen
        .site_form("38342", &cookie, &[&format!("csrf={csrf}"), "enabled="])
        .await;
    assert_eq!(
        screen
            .post("/admin/sites/38342", &cookie, &off)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    screen
        .post(&hook, "", "leadtype=call&id=2&callphase=calldisconnected")
        .await;
    assert_eq!(reason("call-2").await, "switched_off", "no restart needed");
}

#[tokio::test]
async fn the_audit_trail_lists_each_change_with_the_pkey_masked() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let form = screen
        .site_form(
            "38342",
            &cookie,
            &[
                &format!("csrf={csrf}"),
                "pkey=brand-new-PKEY-777",
                "cond_field=utm_source",
                "cond_op=equals",
                "cond_value=yandex",
            ],
        )
        .await;
    screen.post("/admin/sites/38342", &cookie, &form).await;
    let unchanged_pkey = screen
        .site_form("38342", &cookie, &[&format!("csrf={csrf}"), "enabled="])
        .await;
    screen
        .post("/admin/sites/38342", &cookie, &unchanged_pkey)
        .await;
    let page = screen.get("/admin/sites/38342?lang=en", &cookie).await;
    let audit = &page.body[page.body.find("id=\"audit\"").unwrap()..];
    assert_eq!(audit.matches("<tr><td>").count(), 2, "two saves: {audit}");
    assert!(
        audit.contains("<code>enabled</code>: true → false"),
        "{audit}"
    );
    assert!(
        audit.contains("<code>pkey</code>: pk*** → br***"),
        "{audit}"
    );
    assert!(
        audit.contains("<code>traffic</code>: (none) → utm_source equals &quot;yandex&quot;"),
        "{audit}"
    );
    assert!(audit.contains("session "), "who: the session");
    assert!(
        !page.body.contains("brand-new-PKEY-777") && !page.body.contains(PKEY),
        "never shown"
    );
    assert_eq!(
        screen.state.settings.current().site("38342").unwrap().pkey,
        "brand-new-PKEY-777",
        "an empty PKEY field kept it"
    );
}
