//! Floor: read one cookie, serialise a payload with serde_json, POST it with gloo-net.
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
#[derive(serde::Serialize)]
struct Payload<'a> { site: &'a str, aid: &'a str }
fn cookie(name: &str) -> Option<String> {
    let doc = web_sys::window()?.document()?.dyn_into::<web_sys::HtmlDocument>().ok()?;
    let all = doc.cookie().ok()?;
    all.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}
#[wasm_bindgen(js_name = startTag)]
pub fn start(site: String, endpoint: String) {
    let Some(aid) = cookie("__r_aid_v__") else { return };
    let body = serde_json::to_string(&Payload { site: &site, aid: &aid }).unwrap_or_default();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(req) = gloo_net::http::Request::post(&endpoint).body(body) else { return };
        let _ = req.send().await;
    });
}
