//! The floor for `npm run bench` (BENCHMARKS.md, "Relay at volume"): an axum server with the
//! relay's own axum and tokio (multi-thread runtime, HTTP/1) whose every route reads the body
//! and answers 204, nothing else. The bench drives it with the same wrk script, connections
//! and threads as `POST /v1/bindings`, in the same run, so the ratio tells what storage and
//! validation cost over HTTP itself. Prints its address on the first line, like the relay.
//! `cargo run --release -p aidlink-relay --example empty_server -- 127.0.0.1:0`
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::Router;

async fn empty(_body: Bytes) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "empty_server listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, Router::new().fallback(empty)).await
}
