//! Delivering one binding: a CORS simple request (string body, so `text/plain`, no custom
//! headers, no preflight) with `keepalive`, so a request under way survives the page being
//! closed; and `navigator.sendBeacon` for what is still waiting when the page goes away.
//!
//! The request is made in two steps. [`start`] calls the page's `fetch` synchronously, through
//! a binding that catches: a page whose `fetch` is missing, throws, or returns something other
//! than a promise of a `Response` (a careless monitoring wrapper) reads as "not delivered,
//! retry", never as an exception. The loader waits for the promise and hands back what it
//! resolved to, which gloo-net reads ([`outcome`]). gloo-net's own `send()` calls `fetch`
//! without a catch and panics on a non-`Response`, which would throw into the page and leave
//! the module stalled, so the request is built with web-sys.

use aidlink_protocol::backoff::parse_retry_after;

/// What a delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the relay has it.
    Delivered,
    /// Network error, 429 or 5xx: try again, not before the server's `Retry-After` seconds
    /// when it gave one.
    Retry(Option<u64>),
    /// Any other status: the relay refused this binding; sending it again will not help.
    Rejected(u16),
}

/// Classifies a response status and its `Retry-After` header.
pub fn classify(status: u16, retry_after: Option<&str>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        429 | 500..=599 => Outcome::Retry(retry_after.and_then(parse_retry_after)),
        _ => Outcome::Rejected(status),
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::{classify, Outcome};
    use wasm_bindgen::{prelude::*, JsCast};

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_name = fetch)]
        fn page_fetch(request: &web_sys::Request) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_namespace = navigator, js_name = sendBeacon)]
        fn send_beacon(url: &str, body: &str) -> Result<bool, JsValue>;
    }

    /// POSTs `body` to `endpoint` now: the request under way, as a promise the loader waits for
    /// (its answer goes to [`outcome`]); `Err` when the page cannot make the request at all (no
    /// `fetch` or a throwing one, both caught by the binding; a URL `Request` refuses).
    pub fn start(endpoint: &str, body: &str) -> Result<js_sys::Promise, Outcome> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(body));
        // `keepalive` (not in web-sys's stable RequestInit): the request outlives the page.
        let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
        init.set_credentials(web_sys::RequestCredentials::Omit);
        let request = web_sys::Request::new_with_str_and_init(endpoint, &init)
            .map_err(|_| Outcome::Rejected(0))?;
        let returned = page_fetch(&request).map_err(|_| Outcome::Retry(None))?;
        // `Promise.resolve` adopts a real promise or any thenable, and wraps anything else.
        Ok(js_sys::Promise::resolve(&returned))
    }

    /// What the request came to: `response` is what its promise resolved to (`undefined` when
    /// it was rejected); anything but a `Response` reads as a failure to retry.
    pub fn outcome(response: &JsValue) -> Outcome {
        let Ok(raw) = response.clone().dyn_into::<web_sys::Response>() else {
            return Outcome::Retry(None);
        };
        let response = gloo_net::http::Response::from(raw);
        classify(
            response.status(),
            response.headers().get("retry-after").as_deref(),
        )
    }

    /// Queues `body` with `navigator.sendBeacon`; true when the browser accepted it (false
    /// when there is none, or it throws: both caught by the binding).
    pub fn beacon(endpoint: &str, body: &str) -> bool {
        send_beacon(endpoint, body).unwrap_or(false)
    }
}

#[cfg(target_arch = "wasm32")]
pub use browser::{beacon, outcome, start};

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
        assert_eq!(
            classify(408, None),
            Outcome::Rejected(408),
            "only 429 among 4xx is retried"
        );
        assert_eq!(classify(400, None), Outcome::Rejected(400));
        assert_eq!(classify(404, Some("1")), Outcome::Rejected(404));
        assert_eq!(classify(301, None), Outcome::Rejected(301));
    }
}
