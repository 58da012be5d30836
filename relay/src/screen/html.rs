//! Writing the screen's HTML by hand: [`esc`] is the one escaping helper every value from
//! outside (settings, lead fields, query parameters) passes through before it is written; the
//! page frame ([`page`]) links the one stylesheet and the one script (no inline script or
//! style, so the strict Content-Security-Policy holds); small helpers write labelled controls
//! so every control has its `<label for>`.

use std::fmt::Write;

use super::i18n::{Lang, T};

/// `text` safe inside HTML text and inside a double- or single-quoted attribute: `& < > " '`
/// become entities.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A time (ms since the epoch) as `2026-11-25 14:03:05 UTC`.
pub fn time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} UTC", text.trim_end_matches('Z').replace('T', " "))
}

/// What the frame needs besides the content.
pub struct Frame<'a> {
    /// Language of the page.
    pub lang: Lang,
    /// The `<title>` (escaped here).
    pub title: &'a str,
    /// The path the language links point at (the current page), already safe in a URL.
    pub path: &'a str,
    /// The session's CSRF token when signed in (the frame then has `Sign out`).
    pub csrf: Option<&'a str>,
}

/// A whole page: head with the stylesheet and script, the header (sites link, language
/// switch, `Sign out`) and `main` holding `body` (already HTML).
pub fn page(frame: &Frame<'_>, body: &str) -> String {
    let lang = frame.lang;
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {app}</title>\
         <link rel=\"stylesheet\" href=\"/admin/static/admin.css\">\
         <script src=\"/admin/static/admin.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">{skip}</a><header><a class=\"brand\" href=\"/admin\">aidlink</a>\
         <nav aria-label=\"{language}\" class=\"lang\">",
        code = lang.code(),
        title = esc(frame.title),
        app = esc(lang.t(T::AppTitle)),
        skip = esc(lang.t(T::SkipToContent)),
        language = esc(lang.t(T::Language)),
    );
    for (other, name) in [(Lang::Ru, "Русский"), (Lang::En, "English")] {
        if other == lang {
            let _ = write!(out, "<span aria-current=\"true\">{name}</span>");
        } else {
            let _ = write!(
                out,
                "<a href=\"{}?lang={}\" lang=\"{}\">{name}</a>",
                esc(frame.path),
                other.code(),
                other.code()
            );
        }
    }
    out.push_str("</nav>");
    if let Some(csrf) = frame.csrf {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/admin/sign-out\" class=\"sign-out\">{}\
             <button type=\"submit\">{}</button></form>",
            csrf_field(csrf),
            esc(lang.t(T::SignOut))
        );
    }
    let _ = write!(
        out,
        "</header><main id=\"main\" tabindex=\"-1\">{body}</main></body></html>"
    );
    out
}

/// The hidden CSRF field every form of a signed-in page carries.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A message box: `kind` is `ok`, `error` or `note` (errors are announced: `role=alert`).
pub fn notice(kind: &str, text: &str) -> String {
    let role = if kind == "error" {
        " role=\"alert\""
    } else {
        ""
    };
    format!("<p class=\"notice {kind}\"{role}>{}</p>", esc(text))
}

/// A labelled text input. `error`, when given, is shown beside it and tied to it with
/// `aria-describedby`; `hint` likewise.
pub struct Input<'a> {
    /// `id` and `name`.
    pub name: &'a str,
    /// The label text (escaped here).
    pub label: &'a str,
    /// The value (escaped here).
    pub value: &'a str,
    /// `text`, `password`, …
    pub kind: &'a str,
    /// A hint under the control.
    pub hint: Option<&'a str>,
    /// The problem with its value, in the page's language.
    pub error: Option<String>,
    /// Extra attributes, already safe (`autocomplete="off"`).
    pub extra: &'a str,
}

impl Input<'_> {
    /// The control with its label, hint and error.
    pub fn html(&self) -> String {
        let (described, notes) = described(self.name, self.hint, self.error.as_deref());
        format!(
            "<div class=\"field\"><label for=\"{n}\">{l}</label>\
             <input type=\"{k}\" id=\"{n}\" name=\"{n}\" value=\"{v}\"{described} {x}>{notes}</div>",
            n = esc(self.name),
            l = esc(self.label),
            k = self.kind,
            v = esc(self.value),
            x = self.extra,
        )
    }
}

/// `aria-describedby` (and `aria-invalid`) for a control named `name`, and the hint and error
/// paragraphs it points at.
pub fn described(name: &str, hint: Option<&str>, error: Option<&str>) -> (String, String) {
    let mut ids = Vec::new();
    let mut notes = String::new();
    if let Some(hint) = hint {
        ids.push(format!("hint-{name}"));
        let _ = write!(
            notes,
            "<p class=\"hint\" id=\"hint-{}\">{}</p>",
            esc(name),
            esc(hint)
        );
    }
    if let Some(error) = error {
        ids.push(format!("error-{name}"));
        let _ = write!(
            notes,
            "<p class=\"error\" id=\"error-{}\">{}</p>",
            esc(name),
            esc(error)
        );
    }
    let mut attrs = String::new();
    if !ids.is_empty() {
        let _ = write!(attrs, " aria-describedby=\"{}\"", esc(&ids.join(" ")));
    }
    if error.is_some() {
        attrs.push_str(" aria-invalid=\"true\"");
    }
    (attrs, notes)
}

/// A `<select>`'s options: `(value, label)` pairs, `selected` marked.
pub fn options(choices: &[(&str, &str)], selected: &str) -> String {
    let mut out = String::new();
    for (value, label) in choices {
        let mark = if *value == selected { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{}\"{mark}>{}</option>",
            esc(value),
            esc(label)
        );
    }
    out
}

/// A read-only value with a copy button (admin.js copies the `<textarea>`'s text).
pub fn copyable(lang: Lang, id: &str, label: &str, value: &str, hint: &str) -> String {
    format!(
        "<div class=\"field copy\"><label for=\"{id}\">{l}</label>\
         <textarea id=\"{id}\" readonly rows=\"2\" aria-describedby=\"hint-{id}\">{v}</textarea>\
         <button type=\"button\" class=\"copy-button\" data-copy=\"{id}\" data-copied=\"{done}\">{copy}</button>\
         <p class=\"hint\" id=\"hint-{id}\">{h}</p></div>",
        l = esc(label),
        v = esc(value),
        h = esc(hint),
        copy = esc(lang.t(T::Copy)),
        done = esc(lang.t(T::Copied)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_both_quotes() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("Сайт 38342"), "Сайт 38342", "other text as it is");
        assert_eq!(esc(""), "");
    }

    #[test]
    fn values_from_outside_cannot_leave_their_attribute_or_element() {
        let hostile = "\"><img src=x onerror=alert(1)>";
        let input = Input {
            name: "tags",
            label: "Tags",
            value: hostile,
            kind: "text",
            hint: None,
            error: Some("<b>bad</b>".into()),
            extra: "",
        }
        .html();
        assert!(!input.contains("<img"), "{input}");
        assert!(!input.contains("<b>"), "{input}");
        assert!(input.contains("value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""));
        let copy = copyable(Lang::En, "hook", "Webhook URL", "</textarea><script>", "h");
        assert!(!copy.contains("</textarea><script>"), "{copy}");
        let frame = Frame {
            lang: Lang::En,
            title: "</title><script>",
            path: "/admin\"><script>",
            csrf: Some("\"><x"),
        };
        let html = page(&frame, "");
        assert!(
            !html.contains("<script>") && !html.contains("\"><x"),
            "{html}"
        );
    }

    #[test]
    fn a_control_with_an_error_points_at_it() {
        let html = Input {
            name: "tagging_hash",
            label: "Advertiser tagging hash",
            value: "short",
            kind: "text",
            hint: Some("20 letters or digits."),
            error: Some("must be 20 letters or digits".into()),
            extra: "",
        }
        .html();
        assert!(html.contains("<label for=\"tagging_hash\">Advertiser tagging hash</label>"));
        assert!(html.contains(
            "aria-describedby=\"hint-tagging_hash error-tagging_hash\" aria-invalid=\"true\""
        ));
        assert!(html.contains(
            "<p class=\"error\" id=\"error-tagging_hash\">must be 20 letters or digits</p>"
        ));
    }

    #[test]
    fn times_are_utc_to_the_second() {
        assert_eq!(time(1_732_500_000_123), "2024-11-25 02:00:00 UTC");
    }
}
