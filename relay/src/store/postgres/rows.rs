//! Whole tables read and written for `migrate-storage` (`crate::store::rows`), each batch one
//! statement; after rows with their own sequence numbers (events, attempts) are written, the
//! sequence is moved past them so new rows do not collide.

use tokio_postgres::types::ToSql;

use super::{unavailable, Failed, Postgres};
use crate::store::rows::{Kind, Row, Table, Tables, Value};
use crate::store::{BoxFuture, StoreError};

fn mark(i: usize) -> String {
    format!("${i}")
}

type Param = Box<dyn ToSql + Sync + Send>;

/// A value as a parameter of the column's type.
fn param(kind: Kind, value: Value) -> Result<Param, Failed> {
    let wrong = |v: &Value| Failed::Data(format!("{v:?} in a {kind:?} column"));
    Ok(match (kind, value) {
        (Kind::Text, Value::Null) => Box::new(None::<String>),
        (Kind::Text, Value::Text(t)) => Box::new(Some(t)),
        (Kind::Int, Value::Null) => Box::new(None::<i64>),
        (Kind::Int, Value::Int(n)) => Box::new(Some(n)),
        (Kind::Int32, Value::Null) => Box::new(None::<i32>),
        (Kind::Int32, Value::Int(n)) => {
            Box::new(Some(i32::try_from(n).map_err(|_| {
                Failed::Data(format!("{n} does not fit a 32-bit column"))
            })?))
        }
        (Kind::Bool, Value::Null) => Box::new(None::<bool>),
        (Kind::Bool, Value::Int(n)) => Box::new(Some(n != 0)),
        (_, other) => return Err(wrong(&other)),
    })
}

fn value(row: &tokio_postgres::Row, i: usize, kind: Kind) -> Value {
    let int = |n: Option<i64>| n.map_or(Value::Null, Value::Int);
    match kind {
        Kind::Text => row
            .get::<_, Option<String>>(i)
            .map_or(Value::Null, Value::Text),
        Kind::Int => int(row.get(i)),
        Kind::Int32 => int(row.get::<_, Option<i32>>(i).map(i64::from)),
        Kind::Bool => int(row.get::<_, Option<bool>>(i).map(i64::from)),
    }
}

fn params(table: Table, rows: Vec<Row>) -> Result<Vec<Param>, Failed> {
    let mut out = Vec::new();
    for row in rows {
        for ((_, kind), v) in table.columns().iter().zip(row) {
            out.push(param(*kind, v)?);
        }
    }
    Ok(out)
}

impl Tables for Postgres {
    fn count(&self, table: Table) -> BoxFuture<'_, Result<u64, StoreError>> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        self.with(Box::new(move |c| {
            Box::pin(async move {
                let n: i64 = c.query_one(&sql, &[]).await?.get(0);
                Ok(n.max(0) as u64)
            })
        }))
    }

    fn read_rows(
        &self,
        table: Table,
        after: Option<Row>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Row>, StoreError>> {
        let sql = table.select_sql(after.is_some(), mark);
        let key: Row = after
            .unwrap_or_default()
            .into_iter()
            .take(table.key_len())
            .collect();
        self.with(Box::new(move |c| {
            Box::pin(async move {
                let mut args: Vec<Param> = Vec::new();
                for ((_, kind), v) in table.columns().iter().zip(key) {
                    args.push(param(*kind, v)?);
                }
                args.push(Box::new(i64::from(limit)));
                let refs: Vec<&(dyn ToSql + Sync)> = args
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                let rows = c.query(&sql, &refs).await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        table
                            .columns()
                            .iter()
                            .enumerate()
                            .map(|(i, (_, kind))| value(r, i, *kind))
                            .collect()
                    })
                    .collect())
            })
        }))
    }

    fn write_rows(&self, table: Table, rows: Vec<Row>) -> BoxFuture<'_, Result<u64, StoreError>> {
        if rows.is_empty() {
            return Box::pin(async { Ok(0) });
        }
        let sql = table.insert_sql(rows.len(), mark);
        if rows.len() * table.columns().len() > 60_000 {
            return Box::pin(async { Err(unavailable("batch too large for one statement")) });
        }
        let sequenced = table.columns()[0].0 == "seq";
        self.with(Box::new(move |c| {
            Box::pin(async move {
                let args = params(table, rows)?;
                let refs: Vec<&(dyn ToSql + Sync)> = args
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                let tx = c.transaction().await?;
                let new = tx.execute(&sql, &refs).await?;
                if sequenced {
                    let name = table.name();
                    tx.batch_execute(&format!(
                        "SELECT setval(pg_get_serial_sequence('{name}', 'seq'), \
                         GREATEST((SELECT MAX(seq) FROM {name}), 1))"
                    ))
                    .await?;
                }
                tx.commit().await?;
                Ok(new)
            })
        }))
    }
}
