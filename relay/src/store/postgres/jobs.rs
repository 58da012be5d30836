//! Periodic jobs on one instance at a time: a session-level advisory lock per job (and per
//! schema), held on a pooled connection of its own for as long as the job's [`Turn`] lives.

use std::time::Duration;

use deadpool_postgres::Object;

use super::{db_error, unavailable};
use crate::store::{StoreError, Turn};

const TRY_LOCK: &str =
    "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':aidlink:job:' || $1))";
const UNLOCK: &str =
    "SELECT pg_advisory_unlock(hashtext(current_schema() || ':aidlink:job:' || $1))";

/// Takes `job`'s lock on `conn` if no other session holds it: the turn, or `None`.
pub(super) async fn try_lock(
    conn: Object,
    job: &'static str,
    within: Duration,
) -> Result<Option<Turn>, StoreError> {
    let row = tokio::time::timeout(within, conn.query_one(TRY_LOCK, &[&job]))
        .await
        .map_err(|_| unavailable("PostgreSQL: no answer to the job lock"))?
        .map_err(|e| db_error(&e))?;
    let held: bool = row.get(0);
    Ok(held.then(|| {
        Turn::holding(JobLock {
            conn: Some(conn),
            job,
        })
    }))
}

/// The session-level advisory lock of one periodic job, held on its own pooled connection;
/// dropped, it is released (or its connection closed, which releases it too).
struct JobLock {
    conn: Option<Object>,
    job: &'static str,
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let job = self.job;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.query_one(UNLOCK, &[&job]).await.is_err() {
                        drop(Object::take(conn));
                    }
                });
            }
            Err(_) => drop(Object::take(conn)),
        }
    }
}
