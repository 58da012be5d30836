//! Whole tables read and written for `migrate-storage` (`crate::store::rows`): reads on a
//! read-only connection, each batch written in one savepoint of the writer's transaction.

use rusqlite::params_from_iter;
use rusqlite::types::{Value as Sql, ValueRef};

use super::Sqlite;
use crate::store::rows::{Row, Table, Tables, Value};
use crate::store::{BoxFuture, StoreError};

fn mark(i: usize) -> String {
    format!("?{i}")
}

fn to_sql(value: Value) -> Sql {
    match value {
        Value::Null => Sql::Null,
        Value::Int(n) => Sql::Integer(n),
        Value::Text(t) => Sql::Text(t),
    }
}

fn from_sql(value: ValueRef<'_>) -> rusqlite::Result<Value> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
    })
}

impl Tables for Sqlite {
    fn count(&self, table: Table) -> BoxFuture<'_, Result<u64, StoreError>> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        self.read(move |conn| {
            conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
        })
    }

    fn read_rows(
        &self,
        table: Table,
        after: Option<Row>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Row>, StoreError>> {
        let sql = table.select_sql(after.is_some(), mark);
        let width = table.columns().len();
        let mut params: Vec<Sql> = after
            .unwrap_or_default()
            .into_iter()
            .take(table.key_len())
            .map(to_sql)
            .collect();
        params.push(Sql::Integer(i64::from(limit)));
        self.read(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(params), |r| {
                (0..width).map(|i| from_sql(r.get_ref(i)?)).collect()
            })?;
            rows.collect()
        })
    }

    fn write_rows(&self, table: Table, rows: Vec<Row>) -> BoxFuture<'_, Result<u64, StoreError>> {
        let sql = table.insert_sql(1, mark);
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut new = 0;
            for row in rows {
                new += stmt.execute(params_from_iter(row.into_iter().map(to_sql)))? as u64;
            }
            Ok(new)
        })
    }
}
