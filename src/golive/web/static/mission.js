// Mission control's run page: live over Server-Sent Events, actions over the JSON API.
// Hand-written, no dependencies; the server renders everything, this only swaps fragments.
(function () {
  "use strict";
  const body = document.body;
  const run = body.dataset.run;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const flash = document.getElementById("flash");

  // The runs page: start a run of a plan, then follow it on its page.
  document.querySelectorAll("form[data-start]").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const data = new FormData(form);
      const payload = {env: data.get("env"), rehearsal: data.get("rehearsal") !== "false"};
      if (String(data.get("release") || "").trim()) payload.release = String(data.get("release")).trim();
      if (!payload.rehearsal && !confirm("Start the PRODUCTION go-live on " + payload.env + "?")) return;
      const submit = form.querySelector("[type=submit]");
      submit.disabled = true;
      submit.textContent = "Starting…";
      try {
        const response = await fetch(form.dataset.start, {
          method: "POST",
          credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
          body: JSON.stringify(payload),
        });
        let answer = {};
        try { answer = await response.json(); } catch (e) { /* not JSON */ }
        if (response.ok) { location.assign("/runs/" + encodeURIComponent(answer.run_id)); return; }
        flash.textContent = answer.error || response.statusText;
        flash.hidden = false;
      } finally {
        submit.disabled = false;
        submit.textContent = "Start";
      }
    });
  });
  if (!run) return;
  let busy = false, again = false, timer = null;

  // Positions and widths come as data-left / data-width (percent): the Content-Security-Policy
  // refuses style attributes in the HTML, not styles set from this script.
  function place(root) {
    root.querySelectorAll("[data-left], [data-width]").forEach(function (el) {
      const left = parseFloat(el.dataset.left), width = parseFloat(el.dataset.width);
      if (!isNaN(left)) el.style.left = left + "%";
      if (!isNaN(width)) el.style.width = width + "%";
    });
  }

  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (t) {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.textContent = d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
    });
  }

  function keyOf(input) {
    const box = input.closest("[data-issue], [data-testid^='gate-']");
    return (box ? (box.dataset.issue || box.dataset.testid) : "") + "/" + input.dataset.testid;
  }

  async function refresh() {
    if (body.classList.contains("postmortem-page")) return;  // a review: reloaded on a change
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch("/runs/" + encodeURIComponent(run) + "/live", {credentials: "same-origin"});
      if (response.status === 401 || response.redirected) { location.reload(); return; }
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const typed = {};
      let focused = null;
      document.querySelectorAll("[data-live] input").forEach(function (i) {
        if (i.value) typed[keyOf(i)] = i.value;
        if (i === document.activeElement) focused = keyOf(i);
      });
      fresh.querySelectorAll("[data-live][id]").forEach(function (part) {
        const old = document.getElementById(part.id);
        if (old) old.replaceWith(document.importNode(part, true));
      });
      document.querySelectorAll("[data-live] input").forEach(function (i) {
        const k = keyOf(i);
        if (typed[k]) i.value = typed[k];
        if (k === focused) i.focus();
      });
      localTimes(document);
      place(document);
      document.title = document.title.replace(/ · [a-z ]+ · /, " · " +
        document.querySelector("[data-testid='run-status']").textContent.trim() + " · ");
    } finally {
      busy = false;
      if (again) { again = false; soon(); }
    }
  }

  function soon() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, 60);
  }

  function say(message) {
    flash.textContent = message;
    flash.hidden = !message;
    if (message) setTimeout(function () { flash.hidden = true; }, 8000);
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload),
    });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      say(message);
      return false;
    }
    say("");
    soon();
    return true;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-post]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    const payload = button.dataset.body ? JSON.parse(button.dataset.body) : {};
    const actions = button.closest(".actions");
    const reason = actions && actions.querySelector("input.reason");
    if (reason && reason.value.trim()) payload.reason = reason.value.trim();
    if (button.dataset.field) {
      const input = actions.querySelector("input");
      if (!input.value.trim()) { input.focus(); return; }
      payload[button.dataset.field] = input.value.trim();
    }
    button.disabled = true;
    post(button.dataset.post, payload).then(function (ok) {
      button.disabled = false;
      if (ok && actions) actions.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    });
  });

  document.querySelectorAll("form[data-post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const payload = {};
      new FormData(form).forEach(function (value, name) { if (value !== "") payload[name] = value; });
      const submit = form.querySelector("[type=submit]");
      submit.disabled = true;
      post(form.dataset.post, payload).then(function (ok) {
        submit.disabled = false;
        if (ok) form.reset();
        if (ok && form.dataset.reload) location.reload();  // the post-mortem page
      });
    });
  });

  function presence(data) {
    const list = document.querySelector("[data-testid='watchers']");
    if (!list) return;
    list.replaceChildren.apply(list, data.watchers.map(function (w) {
      const li = document.createElement("li");
      li.dataset.user = w.user;
      li.textContent = w.name;
      return li;
    }));
    const people = new Set(data.watchers.map(function (w) { return w.person; }));
    document.querySelectorAll("[data-testid='participants'] [data-person]").forEach(function (p) {
      p.classList.toggle("watching", people.has(p.dataset.person));
    });
  }

  const conn = document.getElementById("conn");
  const source = new EventSource("/api/runs/" + encodeURIComponent(run) + "/stream?after=" + body.dataset.seq);
  source.onopen = function () {
    if (conn.className === "conn lost") soon();  // back after a break: catch up on the page
    conn.className = "conn live";
  };
  source.onerror = function () { conn.className = "conn lost"; };
  body.dataset.types.split(",").concat(["checklist"]).forEach(function (type) {
    source.addEventListener(type, soon);
  });
  source.addEventListener("presence", function (event) { presence(JSON.parse(event.data)); });
  setInterval(soon, 10000);  // the clocks: elapsed, ETA, a running step's time
  localTimes(document);
  place(document);
})();
