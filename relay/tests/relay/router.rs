//! Router tests with `tower::ServiceExt::oneshot` (no socket): what the relay answers when its
//! storage cannot commit — 503 with Retry-After, never a 2xx for something not stored.
use std::sync::Arc;

use aidlink_relay::config::Config;
use aidlink_relay::http::{app, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::reload::Settings;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

fn router() -> axum::Router {
    router_with(Config::parse(include_str!("../../relay.example.toml")).unwrap())
}

fn router_with(config: Config) -> axum::Router {
    let state = AppState::new(
        Settings::new(config),
        Arc::new(crate::support::fault::Faulty::down()),
        Arc::new(Metrics::default()),
        Arc::new(tokio::sync::Notify::new()),
    );
    app(state)
}

#[tokio::test]
async fn storage_down_means_503_with_retry_after_not_an_acknowledgement() {
    let binding = r#"{"v":1,"id":"x","site":"38342","session":"1","aid":"Abc"}"#;
    let request = Request::post("/v1/bindings")
        .header("content-type", "text/plain")
        .header("origin", "https://shop.example")
        .body(Body::from(binding))
        .unwrap();
    let response = router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );

    let hook = Request::get("/v1/calltouch/38342?token=change-me-webhook-token&leadtype=call&id=1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router().oneshot(hook).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(
        router().oneshot(ready).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let live = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        router().oneshot(live).await.unwrap().status(),
        StatusCode::OK,
        "alive, just not ready"
    );
}

#[tokio::test]
async fn json_bindings_get_a_preflight_only_for_configured_origins() {
    let preflight = |origin: &str| {
        Request::options("/v1/bindings")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let ok = router()
        .oneshot(preflight("https://shop.example"))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(ok.headers()["access-control-allow-methods"], "POST");
    let refused = router()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn only_get_and_head_reach_files() {
    // A real bundle directory, so a GET finds the file: without it every method is 404 and the
    // test could not tell a method check from a missing file.
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("aidlink.js"), "/* bundle */").unwrap();
    let mut config = Config::parse(include_str!("../../relay.example.toml")).unwrap();
    config.server.assets_dir = assets.path().to_path_buf();
    let send = |method: &str| {
        let request = Request::builder()
            .method(method)
            .uri("/aidlink.js")
            .body(Body::empty())
            .unwrap();
        router_with(config.clone()).oneshot(request)
    };

    let get = send("GET").await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(
        get.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let body = axum::body::to_bytes(get.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(&body[..], b"/* bundle */");
    assert_eq!(send("HEAD").await.unwrap().status(), StatusCode::OK);

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let status = send(method).await.unwrap().status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} /aidlink.js answered {status}, not 404/405"
        );
    }
}

#[tokio::test]
async fn the_bundle_goes_gzipped_to_browsers_that_accept_it() {
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("aidlink_bg.wasm"), b"\0asm plain").unwrap();
    // The relay sends the build's .gz as it is (it never compresses): any bytes stand for it.
    std::fs::write(assets.path().join("aidlink_bg.wasm.gz"), b"gzipped bytes").unwrap();
    std::fs::write(assets.path().join("aidlink.js"), "/* only plain */").unwrap();
    let mut config = Config::parse(include_str!("../../relay.example.toml")).unwrap();
    config.server.assets_dir = assets.path().to_path_buf();
    let get = |path: &str, accept: Option<&str>, if_none: Option<&str>| {
        let mut request = Request::builder().uri(path);
        if let Some(a) = accept {
            request = request.header("accept-encoding", a);
        }
        if let Some(tag) = if_none {
            request = request.header("if-none-match", tag);
        }
        router_with(config.clone()).oneshot(request.body(Body::empty()).unwrap())
    };
    let body = |r: axum::response::Response| async move {
        axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap()
    };

    let packed = get("/aidlink_bg.wasm", Some("gzip, deflate, br"), None)
        .await
        .unwrap();
    assert_eq!(packed.status(), StatusCode::OK);
    assert_eq!(packed.headers()["content-encoding"], "gzip");
    assert_eq!(packed.headers()["vary"], "accept-encoding");
    assert_eq!(packed.headers()["content-type"], "application/wasm");
    let packed_tag = packed.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(&body(packed).await[..], b"gzipped bytes");

    let plain = get("/aidlink_bg.wasm", None, None).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    let plain_tag = plain.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(plain_tag, packed_tag, "each form has its own tag");
    assert_eq!(&body(plain).await[..], b"\0asm plain");
    let refused = get("/aidlink_bg.wasm", Some("gzip;q=0"), None)
        .await
        .unwrap();
    assert_eq!(&body(refused).await[..], b"\0asm plain");

    let cached = get("/aidlink_bg.wasm", Some("gzip"), Some(&packed_tag))
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // No .gz beside it: sent as it is.
    let js = get("/aidlink.js", Some("gzip"), None).await.unwrap();
    assert!(js.headers().get("content-encoding").is_none());
    assert_eq!(&body(js).await[..], b"/* only plain */");

    // A bundle replaced after its .gz was made: the stale .gz is not sent.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    let wasm = std::fs::File::options()
        .write(true)
        .open(assets.path().join("aidlink_bg.wasm"))
        .unwrap();
    wasm.set_modified(later).unwrap();
    let stale = get("/aidlink_bg.wasm", Some("gzip"), None).await.unwrap();
    assert!(stale.headers().get("content-encoding").is_none());
    assert_eq!(&body(stale).await[..], b"\0asm plain");
}
