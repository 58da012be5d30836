//! Delivering one binding: a CORS simple request (string body, so `text/plain`, no custom
//! headers, no preflight) through gloo-net with `keepalive`, so a request under way survives
//! the page being closed; and `navigator.sendBeacon` for what is still waiting when the page
//! goes away.

use aidlink_protocol::backoff::parse_retry_after;

/// What a delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the relay has it.
    Delivered,
    /// Network error, timeout, 408, 429 or 5xx: try again, not before the server's
    /// `Retry-After` seconds when it gave one.
    Retry(Option<u64>),
    /// Any other status: the relay refused this binding; sending it again will not help.
    Rejected(u16),
}

/// Classifies a response status and its `Retry-After` header.
pub fn classify(status: u16, retry_after: Option<&str>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry(retry_after.and_then(parse_retry_after)),
        _ => Outcome::Rejected(status),
    }
}

/// POSTs `body` to `endpoint`.
#[cfg(target_arch = "wasm32")]
pub async fn post(endpoint: &str, body: &str) -> Outcome {
    use wasm_bindgen::JsValue;
    if !crate::page::has_fetch() {
        return Outcome::Retry(None);
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // `keepalive` (not in web-sys's stable RequestInit): the request outlives the page.
    let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
    init.set_credentials(web_sys::RequestCredentials::Omit);
    let Ok(request) = web_sys::Request::new_with_str_and_init(endpoint, &init) else {
        return Outcome::Rejected(0);
    };
    match gloo_net::http::Request::from(request).send().await {
        Ok(response) => classify(
            response.status(),
            response.headers().get("retry-after").as_deref(),
        ),
        Err(_) => Outcome::Retry(None),
    }
}

/// Queues `body` with `navigator.sendBeacon`; true when the browser accepted it.
#[cfg(target_arch = "wasm32")]
pub fn beacon(endpoint: &str, body: &str) -> bool {
    let Some(window) = crate::page::window() else {
        return false;
    };
    let navigator = window.navigator();
    if !crate::page::get(&navigator, "sendBeacon").is_function() {
        return false;
    }
    navigator
        .send_beacon_with_opt_str(endpoint, Some(body))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(204, None), Outcome::Delivered);
        assert_eq!(classify(200, Some("5")), Outcome::Delivered);
        assert_eq!(classify(503, Some("7")), Outcome::Retry(Some(7)));
        assert_eq!(classify(429, None), Outcome::Retry(None));
        assert_eq!(classify(500, Some("soon")), Outcome::Retry(None));
        assert_eq!(classify(408, None), Outcome::Retry(None));
        assert_eq!(classify(400, None), Outcome::Rejected(400));
        assert_eq!(classify(404, Some("1")), Outcome::Rejected(404));
        assert_eq!(classify(301, None), Outcome::Rejected(301));
    }
}
