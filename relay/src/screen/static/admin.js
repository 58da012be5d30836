// The operator screen's one script (served from /admin/static/admin.js; the pages have no
// inline script, so a strict Content-Security-Policy holds). Every page works without it;
// it adds the copy buttons, adds and removes traffic condition rows in place (without it
// those buttons post the form back), submits the Status filter on change, and keeps the live
// view up to date by polling its JSON every 3 seconds.
"use strict";

function copy(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const done = () => {
    const label = button.textContent;
    button.textContent = button.dataset.copied || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.value).then(done, () => fallback(source, done));
  } else {
    fallback(source, done);
  }
}

function fallback(source, done) {
  source.focus();
  source.select();
  try {
    if (document.execCommand("copy")) done();
  } catch (_) {
    // The text stays selected for the operator to copy by hand.
  }
}

// Condition rows: ids, labels and the Remove button's value follow the row's position.
function renumber(fieldset) {
  fieldset.querySelectorAll(".condition").forEach((condition, i) => {
    condition.id = `condition-${i}`;
    condition.querySelectorAll("[id], [for], [aria-describedby]").forEach((el) => {
      for (const attr of ["id", "for", "aria-describedby"]) {
        const value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/(cond-(?:field|op|value)-|cond-)\d+/g, `$1${i}`));
      }
    });
    const remove = condition.querySelector('button[value^="remove:"]');
    if (remove) remove.value = `remove:${i}`;
  });
}

function conditions(fieldset) {
  const add = fieldset.querySelector('button[value="add_condition"]');
  fieldset.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button === add) {
      event.preventDefault();
      const rows = fieldset.querySelectorAll(".condition");
      const row = rows[rows.length - 1].cloneNode(true);
      row.querySelectorAll(".error").forEach((e) => e.remove());
      row.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
      row.querySelectorAll("select").forEach((select) => {
        select.selectedIndex = 0;
      });
      row.querySelectorAll("input").forEach((input) => { input.value = ""; });
      add.before(row);
      renumber(fieldset);
      row.querySelector("select").focus();
    } else if (button.value.startsWith("remove:")) {
      event.preventDefault();
      const rows = fieldset.querySelectorAll(".condition");
      const row = button.closest(".condition");
      if (rows.length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("select").forEach((select) => { select.selectedIndex = 0; });
        row.querySelectorAll("input").forEach((input) => { input.value = ""; });
      }
      renumber(fieldset);
      add.focus();
    }
  });
}

function row(cells, header) {
  const tr = document.createElement("tr");
  cells.forEach((value, i) => {
    const cell = document.createElement(i === 0 && header ? "th" : "td");
    if (i === 0 && header) cell.scope = "row";
    cell.textContent = String(value);
    tr.appendChild(cell);
  });
  return tr;
}

function draw(root, data) {
  const counts = root.querySelector("#counts");
  if (counts) counts.replaceChildren(...data.rows.map((r) => row(r, true)));
  const set = (id, text) => {
    const el = root.querySelector(id);
    if (el) el.textContent = text;
  };
  set("#outbox-depth", data.depth);
  set("#outbox-oldest", data.oldest);
  set("#updated", data.updated);
  const events = root.querySelector("#events");
  if (events) {
    events.replaceChildren(...data.events.map((e) => {
      const li = document.createElement("li");
      const time = document.createElement("time");
      time.textContent = e.at;
      const link = document.createElement("a");
      link.href = e.href;
      link.textContent = e.lead;
      li.append(time, " ", link, " " + e.text);
      return li;
    }));
  }
  const none = root.querySelector("#no-events");
  if (none) none.hidden = data.events.length > 0;
}

function live(root) {
  const url = root.dataset.live;
  let stopped = false;
  const poll = async () => {
    if (stopped) return;
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) {
        stopped = true;
        window.location.assign("/admin");
        return;
      }
      if (response.ok) draw(root, await response.json());
    } catch (_) {
      // The relay is restarting or the network is down: the next poll tries again.
    }
    setTimeout(poll, 3000);
  };
  setTimeout(poll, 3000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => copy(button));
  });
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
  document.querySelectorAll("[data-live]").forEach(live);
  document.querySelectorAll("fieldset.conditions").forEach(conditions);
});
