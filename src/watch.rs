//! What makes the agent look again, besides its backoff poll: Cookie Store `change` events
//! where the browser has them, `visibilitychange`, `pageshow`, `popstate`, SPA navigation via
//! `history.pushState` / `replaceState`; and what makes it look again and flush: `pagehide`
//! and the page being hidden.
//!
//! The listeners hold a weak handle to their target and call it back through [`Callbacks`];
//! this module knows nothing of what the target does.

use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;

use js_sys::{Function, Reflect};
use wasm_bindgen::{prelude::*, JsCast};
use web_sys::EventTarget;

use crate::page;

type Listener = (EventTarget, &'static str, Closure<dyn FnMut()>);

/// What the listeners call back: the target's own functions, given the target behind their
/// weak handle while it exists (statically dispatched, so every listener shares one closure
/// type).
pub trait Callbacks: Sized + 'static {
    /// Look again (a page event: navigation, tab shown, cookie changed).
    fn look(this: &Rc<Self>);
    /// The page is hidden or left.
    fn leave(this: &Rc<Self>);
    /// Look again on the next tick (after a history method the page called returned).
    fn look_soon(weak: &Weak<Self>);
}

/// The listeners an agent installed; removed by [`Watchers::remove`].
pub struct Watchers {
    listeners: Vec<Listener>,
    history: Vec<(&'static str, Function, JsValue)>,
}

/// Listens for `event` on `target` with `action`. One closure type for every listener: each
/// distinct closure type brings its own glue into the module (BENCHMARKS.md).
fn on<T: 'static>(
    target: &JsValue,
    event: &'static str,
    weak: &Weak<T>,
    action: fn(&Rc<T>),
) -> Option<Listener> {
    let target: EventTarget = target.clone().dyn_into().ok()?;
    let weak = weak.clone();
    let closure = Closure::<dyn FnMut()>::new(move || with(&weak, action));
    target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .ok()?;
    Some((target, event, closure))
}

/// Runs `action` with the target behind `weak` if it still exists. The agent's timers use it
/// too, so that listeners and timers share its code.
pub fn with<T>(weak: &Weak<T>, action: fn(&Rc<T>)) {
    if let Some(this) = weak.upgrade() {
        action(&this);
    }
}

fn hidden() -> bool {
    let document = page::global("document");
    page::get(&document, "visibilityState")
        .as_string()
        .as_deref()
        == Some("hidden")
}

impl Watchers {
    /// Installs every trigger for the target behind `weak`.
    pub fn install<T: Callbacks>(weak: Weak<T>) -> Watchers {
        let window: JsValue = page::window().map_or(JsValue::UNDEFINED, Into::into);
        let document = page::global("document");
        let mut listeners = Vec::new();
        listeners.extend(on(&document, "visibilitychange", &weak, |this| {
            if hidden() {
                T::leave(this);
            } else {
                T::look(this);
            }
        }));
        for event in ["pageshow", "popstate"] {
            listeners.extend(on(&window, event, &weak, T::look));
        }
        listeners.extend(on(&window, "pagehide", &weak, T::leave));
        let cookie_store = page::global("cookieStore");
        if cookie_store.is_object() {
            listeners.extend(on(&cookie_store, "change", &weak, T::look));
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
fn wrap_history<T: Callbacks>(weak: Weak<T>) -> Vec<(&'static str, Function, JsValue)> {
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
                T::look_soon(&w);
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
