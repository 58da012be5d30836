//! `aidlink-relay migrate-storage`: a SQLite database a relay filled is copied into the suite's
//! backend (another SQLite file, or PostgreSQL), and a relay on the copy serves its leads; the
//! copy refuses to run twice into the same target unless resumed, and then adds nothing.

use crate::support::*;

fn migrate(relay: &Relay, from: &str, to: &str, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "migrate-storage",
        "--from",
        from,
        "--to",
        to,
        "--batch",
        "2",
    ];
    args.extend(extra);
    let out = relay.cli(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_relays_data_moves_to_another_storage_and_is_served_from_there() {
    let rtb = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", dir.path().join("old.db").display());
    let mut relay = Relay::start_on(dir, source.clone(), rtb.endpoint(), "", "", &[]);
    for n in 0..3 {
        relay.bind(&format!("6600{n}"), Some(CT_CLIENT), AID).await;
        let hook = call(
            &format!("660{n}"),
            "calldisconnected",
            &format!("6600{n}"),
            "",
        );
        assert_eq!(relay.webhook(&hook).await.status(), 200);
        relay.wait_status(&format!("call-660{n}"), "sent", 10).await;
    }
    relay.kill();

    let target_dir = tempfile::tempdir().unwrap();
    let target = storage::url_for(target_dir.path());
    let (ok, out, err) = migrate(&relay, &source, &target, &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("bindings: source 3, target 3 (3 copied now)"),
        "{out}"
    );
    assert!(out.contains("attempts: source 3, target 3"), "{out}");
    assert!(out.contains("counts match"), "{out}");
    assert!(
        out.contains("bindings: 2 of 3 rows read"),
        "progress per batch: {out}"
    );

    let (ok, _, err) = migrate(&relay, &source, &target, &[]);
    assert!(!ok, "a second copy into a non-empty target is refused");
    assert!(
        err.contains("not empty") && err.contains("--resume"),
        "{err}"
    );
    let (ok, out, err) = migrate(&relay, &source, &target, &["--resume"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("leads: source 3, target 3 (0 copied now)"),
        "{out}"
    );

    // A relay on the copy has every lead, sent, with its attempt.
    relay.storage = target;
    relay.write_config("");
    relay.spawn();
    for n in 0..3 {
        let t = relay.trail(&format!("call-660{n}")).await;
        assert_eq!(t["status"], "sent", "{t}");
        assert_eq!(t["attempts"].as_array().unwrap().len(), 1, "{t}");
    }
    assert_eq!(
        rtb.postbacks().len(),
        3,
        "nothing sent again after the move"
    );
}
