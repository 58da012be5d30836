//! Migrations keep what older versions stored.
use super::*;

fn at_version(version: usize) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("old.db")).unwrap();
    migrate_to(&conn, version).unwrap();
    (dir, conn)
}

fn version(conn: &Connection) -> usize {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn bindings_keyed_by_site_and_id_keep_their_rows() {
    let (_dir, conn) = at_version(1);
    conn.execute(
        "INSERT INTO bindings (id, site, session, ct_client, aid, touch, touch_ts, created_ms) \
         VALUES ('order-1', '38342', '1001', NULL, 'AbCdEf0123456789xyz', NULL, 5, 6)",
        [],
    )
    .unwrap();
    migrate(&conn).unwrap();
    assert_eq!(version(&conn), MIGRATIONS.len());
    let kept: (String, String, i64) = conn
        .query_row(
            "SELECT session, aid, created_ms FROM bindings WHERE site = '38342' AND id = 'order-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(kept, ("1001".into(), "AbCdEf0123456789xyz".into(), 6));
    let other_site = conn
        .execute(
            "INSERT INTO bindings (id, site, session, aid, touch_ts, created_ms) \
             VALUES ('order-1', '555', '2002', 'Other', 1, 1) ON CONFLICT (site, id) DO NOTHING",
            [],
        )
        .unwrap();
    assert_eq!(
        other_site, 1,
        "the same id on another site is another binding"
    );
    migrate(&conn).unwrap();
    assert_eq!(version(&conn), MIGRATIONS.len(), "idempotent");
}

#[tokio::test]
async fn queued_postbacks_keep_their_facts_and_lose_their_url() {
    let (dir, conn) = at_version(2);
    let queued = [
        // (lead id, url, state)
        ("call-55_1", "https://omni.creativecdn.com/partner/omni/postbacks?pkey=old-pkey&aid=A_b%3Dc&time=1732500100000&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-55-1_&cd=default", "retrying"),
        ("request-9001", "https://omni.creativecdn.com/partner/omni/postbacks?pkey=old-pkey&aid=Aid2&time=42&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_form__ct-req-9001_&cd=default", "dead"),
        ("call-7", "garbage", "retrying"),
        ("call-8", "garbage", "delivered"),
    ];
    for (lead_id, url, state) in queued {
        conn.execute(
            "INSERT INTO leads (site, lead_id, lead, status, reason, decided, created_ms, updated_ms) \
             VALUES ('38342', ?1, '{}', ?2, 'sent', 1, 1, 1)",
            rusqlite::params![lead_id, if state == "delivered" { "sent" } else { state }],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO outbox (site, lead_id, url, state, attempts, next_at_ms, first_at_ms) \
             VALUES ('38342', ?1, ?2, ?3, 1, 0, 0)",
            rusqlite::params![lead_id, url, state],
        )
        .unwrap();
    }
    migrate(&conn).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('outbox')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!columns.iter().any(|c| c == "url"), "{columns:?}");
    let row = |lead_id: &str| -> (String, String, String, i64, String) {
        conn.query_row(
            "SELECT kind, source_id, aid, time_ms, state FROM outbox WHERE lead_id = ?1",
            [lead_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
    };
    assert_eq!(
        row("call-55_1"),
        (
            "call".into(),
            "55_1".into(),
            "A_b=c".into(),
            1_732_500_100_000,
            "retrying".into()
        )
    );
    assert_eq!(
        row("request-9001"),
        (
            "request".into(),
            "9001".into(),
            "Aid2".into(),
            42,
            "dead".into()
        )
    );
    assert_eq!(
        row("call-7").4,
        "dead",
        "unreadable: dead-lettered, not sent blank"
    );
    assert_eq!(
        row("call-8").4,
        "sent",
        "delivered stays delivered (now called sent)"
    );
    drop(conn);

    let store =
        crate::store::sqlite::Sqlite::open(dir.path().join("old.db").to_str().unwrap()).unwrap();
    use crate::store::Store;
    let plan = crate::store::ClaimPlan {
        per_site: vec![("38342".into(), 10)],
        others: 10,
        total: 10,
    };
    let due = store.claim_due(1, 1000, plan).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].postback,
        crate::postback::Postback {
            kind: crate::webhook::LeadKind::Call,
            source_id: "55_1".into(),
            aid: "A_b=c".into(),
            time_ms: 1_732_500_100_000,
            cd: crate::postback::Cd::Default,
        }
    );
    let trail = store
        .trail("38342".into(), "call-7".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trail.status, crate::store::LeadStatus::Dead);
    assert_eq!(
        trail.attempts[0].error.as_deref(),
        Some("queued postback unreadable after the upgrade")
    );
}
