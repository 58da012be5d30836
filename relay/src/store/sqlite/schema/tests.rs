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
