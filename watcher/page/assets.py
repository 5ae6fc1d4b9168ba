"""The page's only style sheet and script, inlined: no build step, no external asset, offline.

The script is optional: without it the page is complete and a reload refreshes it. With it,
every few seconds it fetches ``/page/parts`` (the same parts, rendered by the same code) and
swaps only the parts whose HTML changed, and never one the user is typing into, so nothing
flickers and no half-filled silence form is lost. Silence writes go to the Alertmanager API.
Every URL is relative, so the page also works behind a proxy that serves it under a path.
"""

from __future__ import annotations

CSS = """
:root{--fg:#1d232a;--muted:#5b6570;--line:#d9dee3;--bg:#fff;--panel:#f5f7f9;
--crit:#c62828;--warn:#e65100;--info:#1565c0;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 16px}
h1{font-size:1.4em;margin:.6em 0 .1em}h1 small,h2 small,h3 small{color:var(--muted);font-weight:400;
font-size:.75em}
h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:2px solid var(--line);padding-bottom:.2em}
h3{font-size:1em;margin:1em 0 .3em}h4{margin:.6em 0 .2em;font-size:.9em}
a{color:var(--info)}code{font-size:.9em;overflow-wrap:anywhere}
.meta,.note,.empty{color:var(--muted);margin:.2em 0}.links a{margin-right:.8em;white-space:nowrap}
.badge{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.8em;font-weight:600;
background:var(--panel);border:1px solid var(--line);white-space:nowrap}
.badge.ok{color:var(--ok);border-color:var(--ok)}.badge.bad{color:#fff;background:var(--crit);
border-color:var(--crit)}.badge.warn{color:var(--warn);border-color:var(--warn)}
.badge.muted{color:var(--muted)}.badge.firing{color:#fff;background:var(--fg)}
.badge.pending{border-style:dashed}
.badge.sev-critical{color:#fff;background:var(--crit);border-color:var(--crit)}
.badge.sev-warning{color:#fff;background:var(--warn);border-color:var(--warn)}
.badge.sev-info{color:#fff;background:var(--info);border-color:var(--info)}
.alert{border:1px solid var(--line);border-left:6px solid var(--muted);border-radius:6px;
padding:.5em .8em;margin:.6em 0;background:var(--panel)}
.alert.sev-critical{border-left-color:var(--crit)}.alert.sev-warning{border-left-color:var(--warn)}
.alert.sev-info{border-left-color:var(--info)}
.alert.firing.sev-critical{background:#fdecea}.alert.firing.sev-warning{background:#fff3e0}
.alert.pending{border-style:dashed;border-left-style:solid;background:var(--bg)}
.alert.firing.suppressed,.alert.pending.suppressed{background:var(--panel);opacity:.75}
.alert p{margin:.25em 0}.summary{font-weight:600}.alertname{margin-right:.3em}
.value{font-variant-numeric:tabular-nums;color:var(--muted)}
.label{display:inline-block;font:12px ui-monospace,monospace;background:var(--bg);
border:1px solid var(--line);border-radius:3px;padding:0 .3em;margin:0 .2em .2em 0;
overflow-wrap:anywhere}
details.silence summary{cursor:pointer;color:var(--info);font-size:.9em}
.silence-form{display:flex;flex-wrap:wrap;gap:.4em .8em;align-items:end;margin:.4em 0}
.silence-form fieldset{flex-basis:100%;border:1px solid var(--line);margin:0}
.matcher{display:inline-block;margin-right:.8em;font:12px ui-monospace,monospace}
input,select,button{font:inherit;padding:.2em .4em}
table.rows{border-collapse:collapse;width:100%;margin:.3em 0}
.rows th,.rows td{padding:.35em .5em;text-align:left;vertical-align:top;
border-bottom:1px solid var(--line)}
.rows th{font-size:.8em;color:var(--muted);font-weight:600}
.rows td{font-variant-numeric:tabular-nums}
tr.expiring td,tr.low td{background:#fff3e0}tr.down td{background:#fdecea}
.remark{color:var(--muted)}.money{font-weight:600}
.spark{width:120px;height:24px;color:var(--info);vertical-align:middle}
.stats{display:flex;flex-wrap:wrap;gap:.5em 2em;margin:.3em 0}.stats dt{font-size:.8em;
color:var(--muted)}.stats dd{margin:0;font-weight:600;font-size:1.1em}
ol.top{columns:2 14em;margin:.2em 0;padding-left:1.6em}ol.top span{color:var(--muted)}
footer{margin-top:2em;color:var(--muted);font-size:.9em;padding-bottom:2em}
body.stale #stamp{color:var(--crit);font-weight:600}
body.stale #stamp::after{content:" \\2014 refresh failed, showing older data"}
@media (max-width:640px){
body{font-size:14px}header,main,footer{padding:0 10px}
.rows thead{display:none}.rows tr{display:block;border:1px solid var(--line);border-radius:6px;
margin:.5em 0;padding:.2em .4em}
.rows td{display:flex;justify-content:space-between;gap:1em;border:0;padding:.2em 0;
text-align:right}
.rows td::before{content:attr(data-label);color:var(--muted);font-size:.8em;text-align:left;
flex-shrink:0}
.rows td[data-label=""]::before{display:none}.rows td .v{min-width:0;overflow-wrap:anywhere}
.badge{white-space:normal}.spark{width:90px}
}
"""

SCRIPT = """
(function () {
  "use strict";
  var body = document.body, every = (Number(body.dataset.refresh) || 5) * 1000;
  var last = {}, timer = null, inflight = false;
  function busy(el) {  // typing into a field or an open silence form: leave the part alone
    var a = document.activeElement;
    var typing = a && el.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
    return typing || el.querySelector("details[open]") !== null;
  }
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }
  function refresh() {
    if (inflight) { schedule(every); return; }
    inflight = true;
    fetch("page/parts", {headers: {Accept: "application/json"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        document.title = data.title;
        Object.keys(data.parts).forEach(function (id) {
          var el = document.getElementById(id), html = data.parts[id];
          if (!el || last[id] === html || busy(el)) { return; }
          el.innerHTML = html;
          last[id] = html;
        });
        body.classList.remove("stale");
        body.dataset.updated = String(Date.now());
      })
      .catch(function () { body.classList.add("stale"); })
      .then(function () { inflight = false; schedule(every); });
  }
  function say(out, text) { if (out) { out.textContent = text; } }
  function answer(r) {
    return r.text().then(function (t) {
      if (!r.ok) { throw new Error(t || ("HTTP " + r.status)); }
      return t ? JSON.parse(t) : null;
    });
  }
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("silence-form")) { return; }
    ev.preventDefault();
    var out = form.querySelector("output"), now = new Date(), matchers = [];
    form.querySelectorAll("input[name=matcher]:checked").forEach(function (box) {
      var i = box.value.indexOf("=");
      matchers.push({name: box.value.slice(0, i), value: box.value.slice(i + 1),
        isRegex: false, isEqual: true});
    });
    if (!matchers.length) { say(out, "Pick at least one matcher."); return; }
    var seconds = Number(form.elements.duration.value);
    var silence = {matchers: matchers, startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + seconds * 1000).toISOString(),
      createdBy: form.elements.createdBy.value, comment: form.elements.comment.value};
    say(out, "Creating…");
    fetch(form.action, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(silence)})
      .then(answer)
      .then(function (j) {
        say(out, "Silence " + j.silenceID + " created.");
        var d = form.closest("details"); if (d) { d.open = false; }
        schedule(0);
      })
      .catch(function (e) { say(out, "Failed: " + e.message); });
  });
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.expire") : null;
    if (!b) { return; }
    b.disabled = true;
    fetch("api/v2/silence/" + encodeURIComponent(b.dataset.silence), {method: "DELETE"})
      .then(answer)
      .then(function () { schedule(0); })
      .catch(function (e) { b.disabled = false; b.title = e.message; b.textContent = "Failed"; });
  });
  schedule(every);
})();
"""
