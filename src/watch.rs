//! What makes the agent look again, besides its backoff poll: Cookie Store `change` events
//! where the browser has them, `visibilitychange`, `pageshow`, `popstate`, SPA navigation via
//! `history.pushState` / `replaceState`; and what makes it look again and flush: `pagehide`
//! and the page being hidden.

use alloc::vec::Vec;

use js_sys::{Function, Reflect};
use wasm_bindgen::{prelude::*, JsCast};
use web_sys::EventTarget;

use crate::agent::{self, WeakShared};
use crate::{deliver, page};

type Listener = (EventTarget, &'static str, Closure<dyn FnMut()>);

/// The listeners an agent installed; removed by [`Watchers::remove`].
pub struct Watchers {
    listeners: Vec<Listener>,
    history: Vec<(&'static str, Function, JsValue)>,
}

/// Listens for `event` on `target` with `action`. One closure type for every listener (see
/// [`agent::later`]).
fn on(
    target: &JsValue,
    event: &'static str,
    weak: &WeakShared,
    action: fn(&agent::Shared),
) -> Option<Listener> {
    let target: EventTarget = target.clone().dyn_into().ok()?;
    let weak = weak.clone();
    let closure = Closure::<dyn FnMut()>::new(move || agent::with(&weak, action));
    target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .ok()?;
    Some((target, event, closure))
}

fn hidden() -> bool {
    let document = page::global("document");
    page::get(&document, "visibilityState")
        .as_string()
        .as_deref()
        == Some("hidden")
}

/// The page is hidden or left: look again (within the throttle, like any page event: an id
/// that appeared since the last check would otherwise wait for the next page load), then flush.
fn leaving(agent: &agent::Shared) {
    agent::nudge(agent);
    deliver::flush(agent);
}

impl Watchers {
    /// Installs every trigger for the agent behind `weak`.
    pub fn install(weak: WeakShared) -> Watchers {
        let window: JsValue = page::window().map_or(JsValue::UNDEFINED, Into::into);
        let document = page::global("document");
        let mut listeners = Vec::new();
        listeners.extend(on(&document, "visibilitychange", &weak, |agent| {
            if hidden() {
                leaving(agent);
            } else {
                agent::nudge(agent);
            }
        }));
        for event in ["pageshow", "popstate"] {
            listeners.extend(on(&window, event, &weak, agent::nudge));
        }
        listeners.extend(on(&window, "pagehide", &weak, leaving));
        let cookie_store = page::global("cookieStore");
        if cookie_store.is_object() {
            listeners.extend(on(&cookie_store, "change", &weak, agent::nudge));
        }
        let history = wrap_history(weak);
        Watchers { listeners, history }
    }

    /// Removes the listeners and, where nobody wrapped them after us, restores the history
    /// methods.
    pub fn remove(self) {
        for (target, event, closure) in &self.listeners {
            let _ =
                target.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        }
        let history = page::global("history");
        for (name, original, ours) in self.history {
            if page::get(&history, name) == ours {
                let _ = Reflect::set(&history, &JsValue::from_str(name), &original);
            }
        }
    }
}

/// Replaces `history.pushState` / `replaceState` with functions that call the original
/// (same `this`, same arguments, same return value), then look again on the next tick — so a
/// page's navigation never waits on, or fails because of, aidlink. The wrappers live as long
/// as the page: someone may wrap them again after us, so they are never freed.
fn wrap_history(weak: WeakShared) -> Vec<(&'static str, Function, JsValue)> {
    let history = page::global("history");
    let mut wrapped = Vec::new();
    for name in ["pushState", "replaceState"] {
        let Ok(original) = page::get(&history, name).dyn_into::<Function>() else {
            continue;
        };
        let w = weak.clone();
        let call = original.clone();
        let target = history.clone();
        let wrapper = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
            move |state: JsValue, unused: JsValue, url: JsValue| {
                let result = call.call3(&target, &state, &unused, &url);
                agent::later(0, w.clone(), agent::nudge);
                result
            },
        );
        let ours: JsValue = wrapper.into_js_value();
        if Reflect::set(&history, &JsValue::from_str(name), &ours).is_ok() {
            wrapped.push((name, original, ours));
        }
    }
    wrapped
}
