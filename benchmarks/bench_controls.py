"""Every control of every dashboard, in a real headless Chromium through Voila: p50/p95 latency from
the key press (or click) to the first changed plot frame, idle and while training (issue 10: "every
control answers within 100 ms"; targets p50 <= 100 ms, p95 <= 250 ms per control).

Run:  .venv/bin/python benchmarks/bench_controls.py [--only 03_rnn_bptt] [--n 8] [--repeats 1]
      (--only may be given several times; --controls SUBSTR keeps only controls whose label contains it)

How it measures (all inside the page, so Playwright's own delays do not count):
- Controls are found in the DOM, not listed here: ipywidgets sliders (ArrowRight/ArrowLeft on the
  focused ``.noUi-handle``, what ipywidgets 8 renders; ``.ui-slider-handle`` for older ones), dropdowns
  (another option selected), toggle buttons (another one clicked), checkboxes, text boxes, text areas
  and number boxes (a new value typed, then Enter; Tab for a text area, which sends on blur). Action
  buttons (Train, Stop, Reset, ...) are not controls. Each control is named by its visible label.
- A monitor runs every animation frame: for every ``.js-plotly-plot`` it walks ``data`` and ``layout``
  (``template`` aside) down to leaves such as ``belt_keys.x`` or ``layout.xaxis.range``, and for every
  HTML widget (equation boxes, status line, tables) its text. A leaf whose object changed identity is
  serialised and compared with what it held, so a redraw with equal numbers is not a change. Every
  frame with a real change is logged with its time and the leaves that changed.
- A capture-phase listener records ``performance.now()`` of the keydown / mousedown / input event.
  Latency = first logged frame after it with a changed plot leaf. A control that changes no plot
  (say a calculator that fills an equation box) falls back to the first frame whose HTML-widget text
  changed: the "signal" column says which. Nothing within 3 s: "no visible change".
- Idle: n presses, alternating (ArrowRight/ArrowLeft, option A/B...), so the value stays in range and
  ends where it started; after each, the page must be quiet for 400 ms. The leaves that changed in
  the first changed frame are remembered per control.
- While training: the dashboard's Train (or Measure) button nearest the control in the page is
  pressed; once refreshes show, 4 s without presses record which leaves training changes by itself.
  Each control then watches only the leaves it changed first when idle (in at least half of its
  presses) minus those, so a live loss curve cannot pass for the control's answer. If training also
  redraws all of those, it watches the leaves it changed later in the same presses (the signal
  column says so: that reads high, compare with the "until still" column); if there are none, or they
  show nothing while training, it watches what it changed first anyway and says that this may read
  low. A control that rebuilds the models may stop training: Train is pressed again before the next
  press (notes: "stops training", how often). A "training" that ends by itself within a few seconds
  (the batching lesson's Measure) is pressed again before every press.
- Controls hidden or disabled at first (e.g. "Custom dilations" until Dilations = custom) are
  measured after switching the toggle or checkbox that reveals them; a control that changed nothing
  visible is measured again with the checkbox or toggle in its row switched (the "k" of truncated
  BPTT beside its checkbox); a slider with a single value (a history that training fills) is measured
  after training. The notes say which.
- "idle, until the page is still" is the time to the last change of the same kind before the page
  went quiet: a rebuild may change an axis first and draw its new numbers later.

Timings are noisy on a shared machine: the header gives the load and an ``import torch`` yardstick.
Nothing here is asserted; it is a measuring tool, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from browser_timing import ROOT, browser, p50_p95, serve  # noqa: E402

DASHBOARDS = ["03_rnn_bptt.ipynb", "04_lstm_gru.ipynb", "01_sequences_as_tensors.ipynb", "05_convolutions_tcn.ipynb",
              "06_attention_transformers.ipynb"]
TRAIN_LABELS = ("Train", "Measure")  # the buttons that start "training" (the batching lesson's is Measure)
STOP_LABELS = ("Pause", "Stop")
RESET_LABELS = ("Reset",)
TARGET_P50, TARGET_P95 = 100.0, 250.0
NO_CHANGE_MS = 3000  # a press with nothing visible after this long is a "no visible change"
QUIET_MS = 400  # idle: the page must be this long without a change before the next press
SETTLE_MS = 250  # while training: wait this long after the control's change before the next press
ONE_VALUE = "slider has one value"
BACKGROUND_S = 4.0  # while training: seconds without presses to learn what training changes by itself

# ---------------------------------------------------------------------------------------------
# In-page monitor (installed once per page)
# ---------------------------------------------------------------------------------------------
MONITOR_JS = r"""(root) => {
if (window.__bench) return 'already';
// root: a CSS selector of the one element whose plots, texts, controls and buttons are watched
// (a view inside a JupyterLab notebook); none: the whole page (a Voila dashboard)
const R = () => (root ? document.querySelector(root) || document.createDocumentFragment() : document);
const B = window.__bench = {log: [], base: 0, presses: [], reg: new Map(), frames: 0, scanMs: 0, scanMax: 0,
                            err: null, nPlot: 0, nText: 0, nCtl: 0, nBtn: 0};
const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = v => v !== null && typeof v === 'object';
const isPlain = v => isObj(v) && !Array.isArray(v) && !ArrayBuffer.isView(v);
const content = v => {
  if (!isObj(v)) return typeof v + ':' + String(v);
  try { return JSON.stringify(v, (k, x) => (ArrayBuffer.isView(x) ? Array.from(x) : x)); }
  catch (e) { return 'unserialisable'; }
};
let seen = null, changed = null;
const leaf = (path, v) => {
  seen.add(path);
  const len = isObj(v) ? v.length : undefined;
  const prev = B.reg.get(path);
  if (prev && prev.ref === v && prev.len === len) return;  // same object, same length: not looked at again
  const c = content(v);
  if (!prev) { B.reg.set(path, {ref: v, len, c}); if (B.frames > 0) changed.push(path); return; }
  prev.ref = v; prev.len = len;
  if (prev.c !== c) { prev.c = c; changed.push(path); }
};
const walk = (path, v, depth) => {
  if (depth < 5 && isPlain(v)) {
    for (const k in v) if (k[0] !== '_' && own(v, k)) walk(path + '.' + k, v[k], depth + 1);
    return;
  }
  if (depth < 5 && Array.isArray(v) && v.length && isPlain(v[0])) {  // shapes, annotations: edited in place
    leaf(path + '#len', v.length);
    for (let i = 0; i < v.length; i++) walk(path + '[' + i + ']', v[i], depth + 1);
    return;
  }
  leaf(path, v);
};
const scan = () => {
  const t = performance.now();
  seen = new Set(); changed = [];
  for (const gd of R().querySelectorAll('.js-plotly-plot')) {
    if (!gd.dataset.benchPlot) gd.dataset.benchPlot = String(B.nPlot++);
    const P = 'P' + gd.dataset.benchPlot;
    const data = gd.data || [];
    const metas = new Map();
    for (const tr of data) if (tr && (typeof tr.meta === 'string' || typeof tr.meta === 'number'))
      metas.set(tr.meta, (metas.get(tr.meta) || 0) + 1);
    data.forEach((tr, i) => {
      if (!tr) return;
      const key = metas.get(tr.meta) === 1 ? String(tr.meta) : '#' + i;
      for (const a in tr) if (a[0] !== '_' && own(tr, a)) walk(P + '|' + key + '|' + a, tr[a], 1);
    });
    const lay = gd.layout || {};
    for (const k in lay) if (k[0] !== '_' && k !== 'template' && own(lay, k)) walk(P + '|layout|' + k, lay[k], 1);
  }
  for (const el of R().querySelectorAll('.widget-html')) {
    if (!el.dataset.benchText) el.dataset.benchText = String(B.nText++);
    leaf('T' + el.dataset.benchText, el.textContent);
  }
  for (const p of Array.from(B.reg.keys())) if (!seen.has(p)) { B.reg.delete(p); changed.push(p); }
  if (changed.length) B.log.push({t, paths: changed});
  if (B.log.length > 20000) { B.log.splice(0, 10000); B.base += 10000; }
  B.frames++;
  const dt = performance.now() - t;
  if (B.frames > 1) { B.scanMs += dt; if (dt > B.scanMax) B.scanMax = dt; }  // (the first scan reads everything)
};
const tick = () => { try { scan(); } catch (e) { B.err = String(e).slice(0, 200); } requestAnimationFrame(tick); };
requestAnimationFrame(tick);

const onEv = e => {
  const el = e.target && e.target.closest ? e.target.closest('[data-bench-id]') : null;
  B.presses.push({t: performance.now(), type: e.type, key: e.key || '', id: el ? el.dataset.benchId : null});
};
for (const ty of ['keydown', 'mousedown', 'input', 'change']) document.addEventListener(ty, onEv, true);

// -- controls ------------------------------------------------------------------------------
const byId = id => document.querySelector('[data-bench-id="' + id + '"]');
const shown = el => el.getClientRects().length > 0;
const labelOf = (el, kind) => {
  const l = el.querySelector(':scope > .widget-label');
  let s = l ? l.textContent.replace(/\u200b/g, '').trim() : '';
  if (!s && kind === 'checkbox') { const sp = el.querySelector('.widget-label-basic span'); s = sp ? sp.textContent.trim() : ''; }
  return s || el.getAttribute('title') || '';
};
B.info = id => {
  const el = byId(id);
  if (!el) return {id, gone: true};
  const kind = el.dataset.benchKind;
  const r = {id, kind, label: labelOf(el, kind), hidden: !shown(el), disabled: false};
  if (kind === 'slider') {
    const h = el.querySelector('.noUi-handle, .ui-slider-handle');
    const ro = el.querySelector('.widget-readout');
    r.handle = h && h.classList.contains('noUi-handle') ? '.noUi-handle' : '.ui-slider-handle';
    r.readout = ro ? ro.textContent.trim() : '';
    r.now = h ? parseFloat(h.getAttribute('aria-valuenow')) : NaN;
    r.min = h ? parseFloat(h.getAttribute('aria-valuemin')) : NaN;
    r.max = h ? parseFloat(h.getAttribute('aria-valuemax')) : NaN;
    if (isNaN(r.now)) r.now = parseFloat(r.readout);
    r.disabled = !!el.querySelector('.slider[disabled], .noUi-target[disabled]') || (h && h.hasAttribute('disabled'));
    r.value = r.readout;
  } else if (kind === 'dropdown') {
    const s = el.querySelector('select');
    r.index = s.selectedIndex; r.n = s.options.length; r.disabled = s.disabled;
    r.value = s.selectedIndex >= 0 ? s.options[s.selectedIndex].textContent : '';
  } else if (kind === 'toggle') {
    const bs = Array.from(el.querySelectorAll('button'));
    r.buttons = bs.map(b => b.textContent.trim());
    r.enabled = bs.map(b => !b.disabled);
    r.index = bs.findIndex(b => b.classList.contains('mod-active'));
    r.disabled = bs.every(b => b.disabled);
    r.value = r.index >= 0 ? r.buttons[r.index] : '';
  } else if (kind === 'checkbox') {
    const i = el.querySelector('input[type=checkbox]');
    r.checked = i.checked; r.disabled = i.disabled; r.value = String(i.checked);
  } else {
    const i = el.querySelector(kind === 'textarea' ? 'textarea' : 'input');
    r.value = i.value; r.disabled = i.disabled || i.readOnly;
    r.min = i.getAttribute('min'); r.max = i.getAttribute('max'); r.step = i.getAttribute('step');
  }
  return r;
};
B.discover = () => {
  const out = [];
  const sel = '.widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox, .widget-text, ' +
              '.widget-textarea, .widget-inline-hbox';
  for (const el of R().querySelectorAll(sel)) {
    let kind = el.dataset.benchKind || null;
    if (!kind) {
      if (el.matches('.widget-slider') && el.querySelector('.noUi-handle, .ui-slider-handle')) kind = 'slider';
      else if (el.matches('.widget-dropdown') && el.querySelector('select')) kind = 'dropdown';
      else if (el.matches('.widget-toggle-buttons') && el.querySelector('button')) kind = 'toggle';
      else if (el.matches('.widget-checkbox') && el.querySelector('input[type=checkbox]')) kind = 'checkbox';
      else if (el.matches('.widget-textarea') && el.querySelector('textarea')) kind = 'textarea';
      else if (el.matches('.widget-text') && el.querySelector('input'))
        kind = el.querySelector('input').type === 'number' ? 'number' : 'text';
      else if (el.querySelector(':scope > input[type=number]')) kind = 'number';
      if (!kind) continue;
      if (el.parentElement && el.parentElement.closest('[data-bench-id]')) continue;  // inside another control
      el.dataset.benchKind = kind;
      el.dataset.benchId = 'c' + (B.nCtl++);
    }
    out.push(B.info(el.dataset.benchId));
  }
  return out;
};
// checkboxes and toggles in the same row (HBox) as control ``id`` (a "k" slider beside its "Truncated BPTT")
B.siblings = id => {
  const el = byId(id);
  if (!el || !el.parentElement || !el.parentElement.matches('.widget-hbox')) return [];
  return Array.from(el.parentElement.children)
    .filter(x => x !== el && x.dataset.benchId && ['checkbox', 'toggle'].includes(x.dataset.benchKind))
    .map(x => x.dataset.benchId);
};
// -- buttons -------------------------------------------------------------------------------
B.buttons = () => Array.from(R().querySelectorAll('button.widget-button')).map(b => {
  if (!b.dataset.benchBtn) b.dataset.benchBtn = 'b' + (B.nBtn++);
  return {id: b.dataset.benchBtn, text: b.textContent.trim(), disabled: b.disabled, hidden: !shown(b)};
});
B.btnText = id => { const b = document.querySelector('[data-bench-btn="' + id + '"]'); return b ? b.textContent.trim() : null; };
// the candidate whose deepest common ancestor with element ``id`` is deepest (the same box first)
B.nearest = (sel, id, candidates) => {
  const a = document.querySelector(sel);
  if (!a) return null;
  const up = new Map(); let d = 0;
  for (let n = a; n; n = n.parentElement) up.set(n, d++);
  let best = null, bestD = Infinity;
  for (const c of candidates) {
    const b = document.querySelector('[data-bench-btn="' + c + '"]');
    if (!b) continue;
    for (let n = b; n; n = n.parentElement) if (up.has(n)) { if (up.get(n) < bestD) { bestD = up.get(n); best = c; } break; }
  }
  return best;
};
// -- waiting ---------------------------------------------------------------------------------
B.now = () => performance.now();
B.since = (t, ignore) => {  // {path: count} of changes logged after page time t
  const ign = new Set(ignore || []), out = {};
  for (let i = B.log.length - 1; i >= 0 && B.log[i].t > t; i--)
    for (const p of B.log[i].paths) if (!ign.has(p)) out[p] = (out[p] || 0) + 1;
  return out;
};
B.quiet = (ms, cap, ignore) => new Promise(resolve => {  // until nothing changed for ms (at most cap)
  const ign = new Set(ignore || []), t0 = performance.now();
  const last = () => {
    for (let i = B.log.length - 1; i >= 0; i--) if (B.log[i].paths.some(p => !ign.has(p))) return B.log[i].t;
    return -Infinity;
  };
  const poll = () => {
    const now = performance.now();
    if (now - last() >= ms) return resolve(true);
    if (now - t0 > cap) return resolve(false);
    setTimeout(poll, 20);
  };
  poll();
});
// After a press: o = {pmark, types, id, keys, mode: 'idle'|'watch', ignore, watch, timeout, quiet, settle, cap}
B.wait = o => new Promise(resolve => {
  const start = performance.now();
  const ign = new Set(o.ignore || []);
  const watch = o.watch ? new Set(o.watch) : null;
  const own = new Set(o.own || []);  // watch mode: the control's own leaves, to wait until it has finished
  const poll = () => {
    const now = performance.now();
    const pe = B.presses.slice(o.pmark).find(p => o.types.includes(p.type) && (!o.id || p.id === o.id)
                                                   && (!o.keys || o.keys.includes(p.key)));
    if (!pe) {
      if (now - start > 2000) return resolve({error: 'no ' + o.types.join('/') + ' event reached the page'});
      return setTimeout(poll, 10);
    }
    const t0 = pe.t;
    let plot = null, text = null, hit = null, last = null, lastOwn = -Infinity;
    const all = {};
    const entries = [];
    for (let i = B.log.length - 1; i >= 0 && B.log[i].t > t0; i--) entries.push(B.log[i]);
    entries.reverse();
    for (const e of entries) {
      const ps = e.paths.filter(p => !ign.has(p));
      if (!ps.length) continue;
      last = e.t;
      for (const p of ps) all[p] = (all[p] || 0) + 1;
      const pp = ps.filter(p => p[0] === 'P'), tp = ps.filter(p => p[0] === 'T');
      if (!plot && pp.length) plot = {ms: e.t - t0, paths: pp};
      if (!text && tp.length) text = {ms: e.t - t0, paths: tp};
      if (pp.length) plot.last = e.t - t0;
      if (tp.length) text.last = e.t - t0;
      if (watch && !hit) { const w = ps.filter(p => watch.has(p)); if (w.length) hit = {ms: e.t - t0, paths: w, t: e.t}; }
      if (ps.some(p => own.has(p) || (watch && watch.has(p)))) lastOwn = e.t;
    }
    const done = r => resolve({t0, plot, text, hit, all, ...r});
    if (o.mode === 'watch') {
      // (own leaves that training also redraws, unseen while learning, must not hold it up: 0.8 s at most)
      if (hit && (now - Math.max(hit.t, lastOwn) >= o.settle || now - hit.t >= 800) && now - t0 >= (o.minDone || 0))
        return done({});
      if (!hit && now - t0 > o.timeout) return done({});
    } else {
      if (last !== null && now - last >= o.quiet) return done({});
      if (last === null && now - t0 > o.timeout) return done({});
    }
    if (now - t0 > o.cap) return done({capped: true});
    setTimeout(poll, 15);
  };
  poll();
});
// names for the report: a pane by its first traces' tags, a text widget by its first words
B.paneName = pid => {
  const gd = document.querySelector('[data-bench-plot="' + pid + '"]');
  if (!gd) return 'pane ' + pid;
  const tags = (gd.data || []).map(t => t.meta).filter(m => typeof m === 'string');
  return tags.length ? tags.slice(0, 2).join(', ') + (tags.length > 2 ? ', ...' : '') : 'pane ' + pid;
};
B.textName = tid => {
  const el = document.querySelector('[data-bench-text="' + tid + '"]');
  return el ? el.textContent.trim().slice(0, 32) : 'text ' + tid;
};
B.stats = () => ({frames: B.frames, scanMean: B.frames > 1 ? B.scanMs / (B.frames - 1) : 0, scanMax: B.scanMax, err: B.err,
                  leaves: B.reg.size});
return 'installed';
}"""


def sel(cid: str) -> str:
    return f'[data-bench-id="{cid}"]'


def btn_sel(bid: str) -> str:
    return f'[data-bench-btn="{bid}"]'


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def short(e: BaseException) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:90]


# ---------------------------------------------------------------------------------------------
# Pressing a control
# ---------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """How to move one control: ``forward`` goes to the other value, ``back`` returns (alternating)."""

    kind: str
    original: dict
    forward: tuple = ()
    back: tuple = ()
    skip: str | None = None


def make_plan(info: dict) -> Plan:
    k = info["kind"]
    p = Plan(k, info)
    if info.get("gone"):
        p.skip = "gone from the page"
    elif info["hidden"]:
        p.skip = "hidden"
    elif info["disabled"]:
        p.skip = "disabled"
    elif k == "slider":
        lo, hi, now = info["min"], info["max"], info["now"]
        if lo == hi:
            p.skip = f"{ONE_VALUE} ({info['readout']})"
        else:
            first = "ArrowLeft" if now >= hi else "ArrowRight"
            p.forward, p.back = ("key", first), ("key", "ArrowLeft" if first == "ArrowRight" else "ArrowRight")
    elif k == "dropdown":
        if info["n"] < 2:
            p.skip = "dropdown has one option"
        else:
            i = max(info["index"], 0)
            p.forward, p.back = ("select", (i + 1) % info["n"]), ("select", i)
    elif k == "toggle":
        i = info["index"]
        alts = [j for j in range(len(info["buttons"])) if j != i and info["enabled"][j]]
        if not alts:
            p.skip = "no other option enabled"
        else:
            j = next((j for j in alts if j > i), alts[0])
            p.forward, p.back = ("click", j), ("click", max(i, 0))
    elif k == "checkbox":
        p.forward = p.back = ("check", None)
    elif k in ("text", "textarea"):
        v = info["value"]
        alt = v[1:] + v[:1] if len(v) >= 2 and v[1:] + v[:1] != v else v + (v[:1] or "a")
        key = "Tab" if k == "textarea" else "Enter"
        p.forward, p.back = ("type", alt, key), ("type", v, key)
    elif k == "number":
        try:
            v = float(info["value"])
        except (TypeError, ValueError):
            p.skip = f"number box holds {info['value']!r}"
            return p
        step = float(info["step"]) if info.get("step") not in (None, "", "any") else 1.0
        hi = float(info["max"]) if info.get("max") not in (None, "") else float("inf")
        alt = v + step if v + step <= hi else v - step
        fmt = (lambda x: str(int(x))) if float(v).is_integer() and float(step).is_integer() else repr
        p.forward, p.back = ("type", fmt(alt), "Enter"), ("type", info["value"], "Enter")
    return p


def do(page, cid: str, action: tuple):
    """Perform one action on control ``cid``; returns (event types, keys) that mark the press."""
    loc = page.locator(sel(cid))
    what = action[0]
    if what == "key":
        info = page.evaluate("id => window.__bench.info(id)", cid)
        loc.locator(info.get("handle") or ".noUi-handle").first.press(action[1])
        return ["keydown"], [action[1]]
    if what == "select":
        loc.locator("select").select_option(index=action[1])
        return ["input", "change"], None
    if what == "click":
        loc.locator("button").nth(action[1]).click()
        return ["mousedown"], None
    if what == "check":
        loc.locator("input[type=checkbox]").click()
        return ["mousedown"], None
    if what == "type":
        box = loc.locator("textarea" if action[2] == "Tab" else "input").first
        box.fill(action[1])
        box.press(action[2])
        return ["keydown"], [action[2]]
    raise ValueError(what)


def same_value(a: dict, b: dict) -> bool:
    return a.get("value") == b.get("value")


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass
class Phase:
    samples: list = field(default_factory=list)  # ms, press to the first changed frame
    done: list = field(default_factory=list)  # ms, press to the last change before the page went quiet (idle)
    misses: int = 0
    presses: int = 0
    restarts: int = 0
    skip: str | None = None
    error: str | None = None
    contaminated: float | None = None  # while training: the watched leaves also change by themselves (per s)
    later: bool = False  # while training: watches leaves the control changed after its first frame (idle)
    watched: list = field(default_factory=list)


@dataclass
class Result:
    dashboard: str
    label: str
    kind: str
    cid: str
    condition: str = ""  # e.g. "with Dilations = custom": the control measured after another was switched
    signal: str = "none"  # what the idle presses showed: "plot", "text" or "none"
    first_paths: set = field(default_factory=set)  # leaves changed in the first changed frame, idle
    later_paths: set = field(default_factory=set)  # leaves changed later in the same presses, idle
    idle: Phase = field(default_factory=Phase)
    busy: Phase = field(default_factory=Phase)
    stopped_training: bool = False
    where: str = ""  # the panes (by their traces' tags) or text boxes where the idle change showed
    train_button: str = "Train"
    reset_to_train: bool = False  # training would not start again until Reset was pressed
    short_job: float | None = None  # the "training" ends by itself after this many seconds
    after_training: bool = False  # measured idle after training gave it more than one value


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
class Trainer:
    """The Train (or Measure) button nearest a group of controls: start, check, stop."""

    def __init__(self, page, bid: str, label: str):
        self.page, self.bid, self.label = page, bid, label
        self.toggles: bool | None = None  # does the button itself turn into Pause/Stop?
        self.background: dict[str, float] = {}  # leaf -> changes per second while training, no presses
        self.resets = 0
        self.short: float | None = None  # seconds a job lasts, when it ends by itself before BACKGROUND_S
        self.mark = 0.0  # page time when the last press was answered

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def text(self) -> str | None:
        return self.js("id => window.__bench.btnText(id)", self.bid)

    def _near(self, labels) -> str | None:
        ids = [b["id"] for b in self.js("() => window.__bench.buttons()")
               if b["text"] in labels and not b["disabled"] and not b["hidden"] and b["id"] != self.bid]
        return self.js("([s, id, c]) => window.__bench.nearest(s, id, c)", [btn_sel(self.bid), self.bid, ids]) \
            if ids else None

    def _click(self, bid: str) -> None:
        self.page.locator(btn_sel(bid)).click()

    def start(self, learn: bool = False) -> bool:
        """Press the button and wait until training's refreshes reach the page (up to 30 s); with
        ``learn``, then watch BACKGROUND_S seconds of what training changes by itself."""
        for attempt in range(2):
            t_click = self.js("() => window.__bench.now()")
            self._click(self.bid)
            t_end, ok = time.monotonic() + 30, False
            while time.monotonic() < t_end:
                self.page.wait_for_timeout(50)
                txt = self.text()
                if self.toggles is None and txt in STOP_LABELS:
                    self.toggles = True
                if self.toggles and txt in TRAIN_LABELS and time.monotonic() > t_end - 24:
                    break  # still (or again) Train after 6 s: nothing left to train (finished, out of time)
                # refreshes: changes later than 0.3 s after the click (the first is the status line)
                # (a short job: its first sign, the status line, is enough)
                refreshed = self.js("t => Object.keys(window.__bench.since(t)).length",
                                    t_click + (0 if self.short is not None else 300))
                if self.toggles:  # the button says Pause/Stop: the training thread runs; the first
                    ok = txt in STOP_LABELS and (refreshed or not learn)  # start also waits for its refreshes
                else:
                    ok = bool(refreshed)
                if ok:
                    break
            if self.toggles is None:
                self.toggles = self.text() in STOP_LABELS
            if ok:
                break
            reset = self._near(RESET_LABELS)
            if attempt or not reset:
                return False
            log(f"    {self.label} did not start training: pressing {RESET_LABELS[0]} first")
            self.resets += 1
            self._click(reset)
            self.page.wait_for_timeout(1500)
        if self.short is not None:
            return True  # a short job: the press goes in at once
        self.page.wait_for_timeout(250 if learn or not self.toggles else 50)
        if learn:
            self.page.wait_for_timeout(int(BACKGROUND_S * 1000))
            ch = self.js("t => window.__bench.since(t)", t_click + 300)
            for p, n in ch.items():
                self.background[p] = max(self.background.get(p, 0.0), n / BACKGROUND_S)
            if not self.toggles:
                last = self.js("t => { const L = window.__bench.log; return L.length ? L[L.length - 1].t - t : 0; }",
                               t_click)
                now = self.js("t => window.__bench.now() - t", t_click)
                if now - last > 1500:  # it has gone quiet: the job ended by itself
                    self.short = last / 1000
        self.mark = self.js("() => window.__bench.now()")
        return True

    def running(self) -> bool:
        if self.short is not None:
            return False  # a short job is started again before every press
        if self.toggles and not self.background:
            return self.text() in STOP_LABELS
        if self.toggles:
            # the button's label is set when a rebuild has finished, so it may still say Pause/Stop for
            # a moment after a control stopped training: Train at any point is final, training's
            # refreshes are proof of life, and a label that still says Stop after 1 s is believed
            t = max(self.mark, self.js("() => window.__bench.now()") - 1500)
            for _ in range(10):
                if self.text() in TRAIN_LABELS:
                    return False
                if any(p in self.background for p in self.js("t => window.__bench.since(t)", t)):
                    return True
                self.page.wait_for_timeout(100)
            return self.text() in STOP_LABELS
        if not self.background:
            return True  # nothing to tell by: assume so
        # something training redraws changed since the last press was answered (``mark``) and in the
        # last 1.5 s, or does so within 0.8 s (a false 'stopped' only costs a press of Train)
        t = max(self.mark, self.js("() => window.__bench.now()") - 1500)
        for _ in range(8):
            if any(p in self.background for p in self.js("t => window.__bench.since(t)", t)):
                return True
            self.page.wait_for_timeout(100)
        return False

    def stop(self) -> None:
        if self.toggles:
            if self.text() in STOP_LABELS:
                self._click(self.bid)
                for _ in range(100):
                    if self.text() in TRAIN_LABELS:
                        break
                    self.page.wait_for_timeout(100)
            return
        stop = self._near(STOP_LABELS)
        if stop:
            self._click(stop)
            self.page.wait_for_timeout(1000)


# ---------------------------------------------------------------------------------------------
# One dashboard
# ---------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, page, nb: str, n: int, label_filter: str | None, root: str | None = None):
        """``root``: CSS selector of the element to measure (default: the whole page, a Voila dashboard)."""
        self.page, self.nb, self.n, self.filter, self.root = page, nb, n, label_filter, root
        self.results: dict[tuple, Result] = {}  # (control id, condition) -> result, in measuring order
        self.idle_bg: list[str] = []
        # (control id, condition) -> (the control switched, the action, the action undoing it)
        self.recipes: dict[tuple, tuple] = {}
        self.monitor: dict = {}

    # -- page plumbing ---------------------------------------------------------------------
    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def info(self, cid: str) -> dict:
        return self.js("id => window.__bench.info(id)", cid)

    def quiet(self, ms: int = QUIET_MS, cap: int = 4000) -> bool:
        return self.js("([ms, cap, ig]) => window.__bench.quiet(ms, cap, ig)", [ms, cap, self.idle_bg])

    def wanted(self, info: dict) -> bool:
        return not self.filter or self.filter.lower() in info["label"].lower()

    def press(self, cid: str, action: tuple, mode: str, watch=None, ignore=None, own=None, min_done=0.0) -> dict:
        pmark = self.js("() => window.__bench.presses.length")
        types, keys = do(self.page, cid, action)
        res = self.js("o => window.__bench.wait(o)", dict(
            pmark=pmark, types=types, id=cid, keys=keys, mode=mode, watch=watch, own=own, minDone=min_done,
            ignore=ignore or self.idle_bg,
            timeout=NO_CHANGE_MS, quiet=QUIET_MS, settle=SETTLE_MS, cap=NO_CHANGE_MS + 3000))
        if res.get("error"):
            raise RuntimeError(res["error"])
        return res

    def restore(self, cid: str, plan: Plan, busy: bool = False) -> None:
        """Put the control back to its value before the presses, if they left it elsewhere
        (``busy``: training runs, so the page never goes still)."""
        for _ in range(6 if plan.kind == "slider" else 1):
            now = self.info(cid)
            if now.get("gone") or same_value(now, plan.original) or now["disabled"] or now["hidden"]:
                return
            if plan.kind == "slider":
                do(self.page, cid, ("key", "ArrowLeft" if now["now"] > plan.original["now"] else "ArrowRight"))
            else:
                do(self.page, cid, plan.back)
            if busy:
                self.page.wait_for_timeout(600)
            else:
                self.quiet(cap=3000)

    def available(self, cid: str, timeout_s: float = 10.0) -> bool:
        """Wait until control ``cid`` is shown and enabled (a kernel busy training answers late)."""
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            inf = self.info(cid)
            if not inf.get("gone") and not inf["hidden"] and not inf["disabled"]:
                self.page.wait_for_timeout(300)
                return True
            self.page.wait_for_timeout(100)
        return False

    def discover(self) -> list[dict]:
        return self.js("() => window.__bench.discover()")

    def switch_actions(self, rev: dict) -> tuple[list, tuple]:
        """The other options of a toggle or checkbox ``rev``: [(action, words)], and the way back."""
        if rev["kind"] == "toggle":
            opts = [j for j, ok in enumerate(rev["enabled"]) if ok and j != rev["index"]]
            return [(("click", j), f"{rev['label']} = {rev['buttons'][j]}") for j in opts], ("click", max(rev["index"], 0))
        return [(("check", None), f"{rev['label']} {'off' if rev['checked'] else 'on'}")], ("check", None)

    # -- idle ----------------------------------------------------------------------------------
    def measure_idle(self, info: dict, condition: str = "") -> Result:
        cid = info["id"]
        key = (cid, condition)
        r = self.results.get(key) or Result(self.nb[:-6], info["label"] or f"({info['kind']})", info["kind"], cid,
                                            condition)
        self.results[key] = r
        plan = make_plan(info)
        r.idle.skip = plan.skip
        if plan.skip:
            return r
        r.idle = Phase()
        t_start = time.monotonic()
        plots, texts, done = [], [], []
        first = {"P": Counter(), "T": Counter()}  # leaf -> presses whose first changed frame changed it
        anywhere = {"P": Counter(), "T": Counter()}  # leaf -> presses that changed it before the page went still
        try:
            for i in range(self.n):
                # (the last control's late redraws: a rebuild's heatmaps come one by one, seen > 0.6 s apart)
                self.quiet(1000 if i == 0 else QUIET_MS, cap=5000)
                res = self.press(cid, plan.forward if i % 2 == 0 else plan.back, "idle")
                r.idle.presses += 1
                pl, tx = res["plot"], res["text"]
                plots.append(pl["ms"] if pl else None)
                texts.append(tx["ms"] if tx else None)
                done.append((pl["last"] if pl else None, tx["last"] if tx else None))
                first["P"].update(pl["paths"] if pl else ())
                first["T"].update(tx["paths"] if tx else ())
                for kind in "PT":
                    anywhere[kind].update(p for p in res["all"] if p[0] == kind)
                if i == 0 and not pl and not tx:
                    break  # nothing visible in 3 s: "no visible change" (the way back is below)
                if sum(p is None and t is None for p, t in zip(plots, texts)) >= 3 and i % 2:
                    break  # three presses showed nothing: enough to say so
        except Exception as e:  # noqa: BLE001 - one control failing must not end the run
            r.idle.error = short(e)
            log(f"    error: {traceback.format_exc().splitlines()[-1][:200]}")
        n_plot, n_text = sum(x is not None for x in plots), sum(x is not None for x in texts)
        if plots and n_plot * 2 >= len(plots):
            r.signal, xs, col, kind, n_changed = "plot", plots, 0, "P", n_plot
        elif texts and n_text * 2 >= len(texts):
            r.signal, xs, col, kind, n_changed = "text", texts, 1, "T", n_text
        else:
            r.signal, xs, col, kind, n_changed = "none", plots, 0, "P", 0
        if n_changed:  # the leaves that changed in at least half of the presses that changed something
            need = (n_changed + 1) // 2
            r.first_paths = {p for p, c in first[kind].items() if c >= need} or set(first[kind])
            r.later_paths = {p for p, c in anywhere[kind].items() if c >= need} - r.first_paths
        r.idle.samples = [x for x in xs if x is not None]
        r.idle.done = [d[col] for d in done if d[col] is not None]
        r.idle.misses = len(xs) - len(r.idle.samples)
        try:  # where the change showed, in words
            if r.signal == "plot":
                pids = sorted({p.split("|")[0][1:] for p in r.first_paths}, key=int)
                r.where = "; ".join(self.js("id => window.__bench.paneName(id)", pid) for pid in pids)
            elif r.signal == "text":
                r.where = "; ".join(repr(self.js("id => window.__bench.textName(id)", p[1:])) for p in sorted(r.first_paths))
        except Exception:  # noqa: BLE001 - only a label
            pass
        try:
            if r.idle.presses % 2 or not same_value(self.info(cid), plan.original):
                self.restore(cid, plan)
        except Exception as e:  # noqa: BLE001
            r.idle.error = r.idle.error or f"restore: {short(e)}"
        log(f"  idle  {r.label[:34]!r:36} {r.kind:8} {r.signal:5} {fmt_phase(r.idle):26} {r.where[:50]}"
            + (f" ({condition})" if condition else "") + f" [{time.monotonic() - t_start:.0f} s]")
        return r

    def switch(self, cid: str, action: tuple) -> None:
        """Move a control (not measured): wait for its answer and for the page to go still."""
        try:
            self.press(cid, action, "idle")
        except RuntimeError:  # no event (e.g. clicking the option already active)
            pass
        self.quiet(cap=4000)

    def with_switched(self, targets: list[str], candidates: list[dict], measure, needs) -> None:
        """Switch each candidate toggle/checkbox to each other option; for every target that
        ``needs(info)`` says is now worth measuring, ``measure(info, condition)`` and keep the recipe;
        then switch back."""
        for rev in candidates:
            if not targets:
                return
            if rev["kind"] not in ("toggle", "checkbox") or rev["id"] in targets or rev["hidden"] or rev["disabled"]:
                continue
            actions, back = self.switch_actions(rev)
            for action, cond in actions:
                if not targets:
                    break
                try:
                    self.switch(rev["id"], action)
                    for c in list(targets):
                        inf = self.info(c)
                        if not needs(inf):  # (a busy kernel may show it a little later)
                            self.page.wait_for_timeout(300)
                            inf = self.info(c)
                        if needs(inf):
                            self.recipes[(c, f"with {cond}")] = (rev["id"], action, back)
                            if measure(inf, f"with {cond}"):
                                targets.remove(c)
                    self.switch(rev["id"], back)
                except Exception as e:  # noqa: BLE001
                    log(f"    switching {rev['label']!r} failed: {short(e)}")

    # -- training ---------------------------------------------------------------------------
    def measure_busy(self, r: Result, trainer: Trainer) -> None:
        cid, ph = r.cid, r.busy
        plan = make_plan(self.info(cid))
        if plan.skip:
            ph.skip = plan.skip
            return
        if r.signal == "none" or not r.first_paths:
            ph.skip = "nothing to watch (no visible change idle)"
            return
        clean = sorted(p for p in r.first_paths if p not in trainer.background)
        later = sorted(p for p in r.later_paths if p not in trainer.background)
        everything = sorted(r.first_paths)
        rate = max(trainer.background.get(p, 0.0) for p in everything)
        # what to watch: the leaves it changes first that training leaves alone; else the ones it changes
        # next that training leaves alone; else (or when those show nothing now) all it changes first
        tries = [(clean, False, False)] if clean else [(later, True, False)] if later else []
        if clean != everything:
            tries.append((everything, False, True))
        # after its answer, wait until the leaves it changes (those training leaves alone) are still, so
        # that its last redraws neither land in the next press nor pass for training (a rebuild)
        own = sorted((r.first_paths | r.later_paths) - set(trainer.background))
        # and at least as long as its whole answer took idle (a deferred rebuild, which may stop training)
        min_done = min(statistics.median(r.idle.done) * 1.2, 3000.0) if r.idle.done else 0.0
        for watch, is_later, is_contaminated in tries:
            ph.samples, ph.misses, ph.presses = [], 0, 0
            ph.watched, ph.later, ph.contaminated = watch, is_later, rate if is_contaminated else None
            ign = [p for p in trainer.background if p not in watch]
            try:
                for i in range(self.n):
                    if not trainer.running():
                        if ph.presses and trainer.short is None:
                            r.stopped_training = True
                            ph.restarts += 1
                        if not trainer.start():
                            raise RuntimeError("training would not start again")
                    self.page.wait_for_timeout(50)
                    res = self.press(cid, plan.forward if i % 2 == 0 else plan.back, "watch", watch=watch, ignore=ign,
                                     own=own, min_done=min_done)
                    ph.presses += 1
                    trainer.mark = self.js("() => window.__bench.now()")
                    if res["hit"]:
                        ph.samples.append(res["hit"]["ms"])
                    else:
                        ph.misses += 1
                    if i == 1 and not ph.samples:
                        break  # two presses, nothing: try the next way of watching, or give up
                    if ph.misses >= 3 and ph.presses % 2 == 0:
                        break  # often nothing: enough to say so
                if trainer.short is None and ph.presses and not trainer.running():
                    r.stopped_training = True
            except Exception as e:  # noqa: BLE001
                ph.error = short(e)
                log(f"    error: {traceback.format_exc().splitlines()[-1][:200]}")
            if ph.samples or ph.error:
                break
            log(f"    nothing on {watch[:3]} while training" + (", trying all it changes first" if not is_contaminated else ""))
        try:
            if ph.presses % 2 or not same_value(self.info(cid), plan.original):
                self.restore(cid, plan, busy=True)
        except Exception as e:  # noqa: BLE001
            ph.error = ph.error or f"restore: {short(e)}"

    # -- the whole dashboard ------------------------------------------------------------------
    def run(self, phases: str) -> list[Result]:
        page = self.page
        page.set_default_timeout(8000)
        self.js(MONITOR_JS, self.root)
        self.quiet(1000, cap=20000)
        t = self.js("() => window.__bench.now()")  # what changes by itself while nothing is pressed
        page.wait_for_timeout(1500)
        self.idle_bg = sorted(self.js("t => window.__bench.since(t)", t))
        if self.idle_bg:
            log(f"  changing by itself while idle (ignored): {self.idle_bg[:6]}")
        everything = self.discover()
        controls = [c for c in everything if self.wanted(c)]
        log(f"  {len(controls)} controls: " + ", ".join(f"{c['label'] or '?'} ({c['kind']})" for c in controls))
        t_idle = time.monotonic()
        for c in controls:
            self.measure_idle(c)
        # hidden or disabled at first: measured once a toggle or checkbox makes them available
        unavailable = [k[0] for k, r in self.results.items() if r.idle.skip in ("hidden", "disabled")]
        self.with_switched(unavailable, self.discover(), lambda inf, cond: self.measure_idle(inf, cond) and True,
                           lambda inf: not inf.get("gone") and not inf["hidden"] and not inf["disabled"])
        # no visible change: again with the checkbox or toggle in the same box switched (k beside Truncated BPTT)
        for (cid, cond), r in list(self.results.items()):
            if r.signal == "none" and not r.idle.skip and not cond:
                sibs = [self.info(s) for s in self.js("id => window.__bench.siblings(id)", cid)]
                self.with_switched([cid], sibs, lambda inf, c2: self.measure_idle(inf, c2).signal != "none",
                                   lambda inf: not inf["hidden"] and not inf["disabled"])
        log(f"  idle phase: {time.monotonic() - t_idle:.0f} s")
        if phases != "idle":
            self.training_phase()
        st = self.js("() => window.__bench.stats()")
        log(f"  monitor: {st['frames']} frames, {st['scanMean']:.2f} ms mean / {st['scanMax']:.1f} ms max per frame, "
            f"{st['leaves']} leaves{', error ' + st['err'] if st['err'] else ''}")
        self.monitor = st
        return list(self.results.values())

    def measure_one_busy(self, key: tuple, trainer: Trainer) -> None:
        page, r = self.page, self.results[key]
        r.busy = Phase()
        r.train_button, r.short_job = trainer.label, trainer.short
        if r.signal == "none" or r.idle.skip:
            r.busy.skip = r.idle.skip or "nothing to watch (no visible change idle)"
            return
        recipe = self.recipes.get(key)
        t_start = time.monotonic()
        try:
            if recipe:
                do(page, recipe[0], recipe[1])
                self.available(r.cid)  # (training goes on: the page never goes still)
                trainer.mark = self.js("() => window.__bench.now()")
            self.measure_busy(r, trainer)
        except Exception as e:  # noqa: BLE001
            r.busy.error = r.busy.error or short(e)
        finally:
            if recipe:
                try:
                    do(page, recipe[0], recipe[2])
                    self.page.wait_for_timeout(500)
                    trainer.mark = self.js("() => window.__bench.now()")
                except Exception as e:  # noqa: BLE001
                    log(f"    could not switch back: {short(e)}")
        log(f"  train {r.label[:34]!r:36} {r.kind:8} {fmt_phase(r.busy):26} watch {r.busy.watched[:3]}"
            + (" (also redrawn by training)" if r.busy.contaminated else "")
            + (" (later leaves)" if r.busy.later else "")
            + (f" restarted {r.busy.restarts}x" if r.busy.restarts else "")
            + (f" ({r.condition})" if r.condition else "") + f" [{time.monotonic() - t_start:.0f} s]")

    def train_group(self, trainer: Trainer, keys: list[tuple]) -> None:
        """Start training with ``trainer``, measure its controls, and the late ones (one value before)."""
        page, name = self.page, trainer.label
        if not trainer.start(learn=True):
            for key in keys:
                self.results[key].busy.error = f"{name} did not start training"
            return
        if trainer.short is not None:
            log(f"  {name} ends by itself after {trainer.short:.1f} s: pressed again before every press")
        bg = sorted(trainer.background, key=lambda p: -trainer.background[p])
        log(f"  training changes by itself ({len(bg)} leaves): " +
            ", ".join(f"{p} {trainer.background[p]:.1f}/s" for p in bg[:8]))
        for key in keys:
            self.measure_one_busy(key, trainer)
        # a slider with one value before training (a history of snapshots) has more now: idle, then training
        late = [k for k in keys if (self.results[k].idle.skip or "").startswith(ONE_VALUE)]
        if late:  # (the last control may have rebuilt the models and emptied the history: train a little)
            if not trainer.running():
                trainer.start()
            for _ in range(40):
                if any(not make_plan(self.info(k[0])).skip for k in late):
                    break
                page.wait_for_timeout(250)
            late = [k for k in late if not make_plan(self.info(k[0])).skip]
        if late:
            trainer.stop()
            for k in late:
                self.measure_idle(self.info(k[0]), k[1]).after_training = True
            if trainer.start():
                for k in late:
                    self.measure_one_busy(k, trainer)

    def training_phase(self) -> None:
        page = self.page
        buttons = [b for b in self.js("() => window.__bench.buttons()") if b["text"] in TRAIN_LABELS and not b["hidden"]]
        if not buttons:
            for r in self.results.values():
                r.busy.skip = "no Train button"
            return
        groups: dict[str, list[tuple]] = {}  # Train button -> the controls it is nearest to
        for key in self.results:
            bid = self.js("([s, id, c]) => window.__bench.nearest(s, id, c)", [sel(key[0]), key[0], [b["id"] for b in buttons]])
            groups.setdefault(bid or buttons[0]["id"], []).append(key)
        t_busy = time.monotonic()
        for bi, b in enumerate(buttons):
            keys = groups.get(b["id"], [])
            if not keys:
                continue
            name = b["text"] + (f" (part {bi + 1})" if len(buttons) > 1 else "")
            trainer = Trainer(page, b["id"], name)
            log(f"  pressing {name} for {len(keys)} controls")
            try:
                self.train_group(trainer, keys)
            except Exception as e:  # noqa: BLE001 - the rows of this group say so; the run goes on
                log(f"  {name}: {traceback.format_exc().splitlines()[-1][:200]}")
                for key in keys:
                    ph = self.results[key].busy
                    if not (ph.samples or ph.skip or ph.error):
                        ph.error = short(e)
            try:
                trainer.stop()
            except Exception as e:  # noqa: BLE001
                log(f"  could not stop training: {short(e)}")
            if trainer.resets:
                for key in keys:
                    self.results[key].reset_to_train = True
                log(f"  ({name}: Reset pressed {trainer.resets}x to train again)")
        log(f"  training phase: {time.monotonic() - t_busy:.0f} s")


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def fmt_ms(xs: list) -> str:
    if not xs:
        return "-"
    p50, p95 = p50_p95(xs)
    return f"{p50:.0f} / {p95:.0f}"


def fmt_phase(ph: Phase) -> str:
    if ph.skip:
        return f"skipped: {ph.skip}"
    if ph.error and not ph.samples:
        return f"error: {ph.error}"
    if not ph.samples:
        return "no visible change" if ph.presses else "not measured"
    if ph.misses * 2 > ph.presses:  # mostly nothing: the few changes seen were likely late redraws of something else
        return (f"no visible change in {ph.misses} of {ph.presses} presses (the others: "
                f"{', '.join(f'{x:.0f}' for x in ph.samples)} ms)")
    s = fmt_ms(ph.samples)
    if ph.misses:
        s += f" ({ph.misses} of {ph.presses} showed nothing)"
    if ph.error:
        s += f" (error: {ph.error})"
    return s


def meets(r: Result) -> str:
    if r.signal == "none":
        return "n/a"
    out, checked = [], 0
    for name, ph in (("idle", r.idle), ("training", r.busy)):
        if ph.samples:
            checked += 1
            p50, p95 = p50_p95(ph.samples)
            out += [f"{name} p50"] * (p50 > TARGET_P50) + [f"{name} p95"] * (p95 > TARGET_P95)
            if ph.misses:
                out.append(f"{name}: {ph.misses} presses showed nothing")
    if not checked:
        return "n/a"
    return "yes" if not out else "no (" + ", ".join(out) + ")"


def leaves(paths: list[str], n: int = 3) -> str:
    """'P2|belt_keys|x' -> 'belt_keys.x' (the pane number dropped), the first n of them."""
    short_ = [p.split("|", 1)[1].replace("|", ".") if "|" in p else "text box" for p in paths]
    return ", ".join(short_[:n]) + (f" and {len(paths) - n} more" if len(paths) > n else "")


def signal_text(r: Result) -> str:
    if r.signal == "none":
        return "none"
    s = f"plot [{r.where}]" if r.signal == "plot" else f"text, no plot changed [{r.where}]"
    b = r.busy
    if b.samples or b.misses:
        if b.later:
            s += ("; while training: what it changes first is also redrawn by training, so it watches "
                  f"{leaves(b.watched)}, changed later (compare with the 'until still' column)")
        elif b.contaminated:
            s += (f"; while training: all it changes is also redrawn by training ({b.contaminated:.1f}/s), "
                  "so that number may read low")
        else:
            s += f"; while training: watches {leaves(b.watched)}, which training leaves alone"
    return s


def notes(r: Result) -> str:
    out = [r.condition] if r.condition else []
    k, n = r.busy.restarts, r.busy.presses
    if r.stopped_training and (k == 0 or 2 * k >= n - 1):
        out.append("stops training" + (f" ({r.train_button} pressed again {k}x)" if k else ""))
    elif k:  # once or twice in n presses: training looked stopped (a rebuild, or refreshes slow to show)
        out.append(f"training looked stopped before {k} of {n} presses ({r.train_button} pressed again)")
    if r.after_training:
        out.append(f"one value until {r.train_button} was pressed: measured after training")
    if r.short_job is not None and (r.busy.samples or r.busy.misses):
        out.append(f"{r.train_button} ends by itself after {r.short_job:.1f} s: pressed before every press")
    if r.reset_to_train:
        out.append("Reset had to be pressed to train again (e.g. the race's time was up)")
    for name, ph in (("idle", r.idle), ("training", r.busy)):
        if ph.error and ph.samples:
            out.append(f"{name} error: {ph.error}")
    return "; ".join(out)


def table(results: list[Result]) -> str:
    lines = ["| dashboard | control | kind | signal | idle p50 / p95 ms | training p50 / p95 ms | meets target? | "
             "idle, until the page is still: p50 / p95 ms | notes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    measured_later = {(r.dashboard, r.label) for r in results if r.condition and not r.idle.skip}
    for r in results:
        if not r.condition and r.idle.skip in ("hidden", "disabled") and (r.dashboard, r.label) in measured_later:
            continue  # measured below, once another control made it available
        lines.append(f"| {r.dashboard} | {r.label} | {r.kind} | {signal_text(r)} | {fmt_phase(r.idle)} | "
                     f"{fmt_phase(r.busy)} | {meets(r)} | {fmt_ms(r.idle.done)} | {notes(r)} |")
    return "\n".join(lines)


def merge(into: dict, results: list[Result]) -> None:
    """Pool the samples of a repeat with the earlier ones (matched by dashboard, label and condition)."""
    for r in results:
        key = (r.dashboard, r.label, r.condition)
        if key not in into:
            into[key] = r
            continue
        old = into[key]
        for a, b in ((old.idle, r.idle), (old.busy, r.busy)):
            a.samples += b.samples
            a.done += b.done
            a.misses += b.misses
            a.presses += b.presses
            a.restarts += b.restarts
            a.error = a.error or b.error
            a.skip = a.skip if a.skip and b.skip else None
        old.stopped_training = old.stopped_training or r.stopped_training


def open_dashboard(b, base: str, nb: str):
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    t0 = time.perf_counter()
    page.goto(base + "voila/render/" + nb, timeout=120_000)
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot');"
                           " return g.length > 0 && Array.from(g).every(x => x.data && x.data.length > 0); }",
                           timeout=120_000)
    page.wait_for_timeout(1500)  # panes that come later
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".every(x => x.data && x.data.length > 0)", timeout=60_000)
    text = page.inner_text("body")
    if "There was an error when executing cell" in text or "Traceback" in text:
        raise RuntimeError("the notebook failed to run (error text on the page)")
    return page, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", help="notebook name prefix, e.g. 03_rnn_bptt (may be repeated)")
    ap.add_argument("--n", type=int, default=8, help="presses per control and phase (default 8)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="open each dashboard this many times (a fresh server and kernel each), samples pooled")
    ap.add_argument("--controls", help="only controls whose label contains this text")
    ap.add_argument("--phases", choices=("both", "idle"), default="both")
    ap.add_argument("--retries", type=int, default=2, help="retries of a dashboard that fails to load (60 s apart)")
    a = ap.parse_args()
    from bench_browser import torch_import_s

    nbs = [nb for nb in DASHBOARDS if not a.only or any(nb.startswith(o) for o in a.only)]
    for o in a.only or ():  # a lesson not listed above yet (a new one): found in lessons/ by its prefix
        nbs += sorted(p.name for p in (ROOT / "lessons").glob(f"{o}*.ipynb") if p.name not in nbs)
    print(f"control latency, every control: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} at start; `import torch` in a fresh process took "
          f"{torch_import_s():.2f} s; {a.n} presses per control and phase, {a.repeats} repeat(s); "
          f"target p50 <= {TARGET_P50:.0f} ms, p95 <= {TARGET_P95:.0f} ms; served from {ROOT}", flush=True)
    t_all = time.monotonic()
    pooled: dict = {}
    extra = []
    try:
        run_all(nbs, a, pooled, extra)
    except KeyboardInterrupt:
        extra.append("interrupted: the table holds what was measured so far")
    print(table(list(pooled.values())))
    for line in extra:
        print(f"- {line}")
    print(f"- whole run {time.monotonic() - t_all:.0f} s; load average at the end "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


def run_all(nbs: list[str], a, pooled: dict, extra: list) -> None:
    for nb in nbs:
        for rep in range(a.repeats):
            for attempt in range(a.retries + 1):
                t0 = time.monotonic()
                try:
                    with serve() as base, browser() as b:  # a fresh server each: no kernels left from the others
                        page, secs = open_dashboard(b, base, nb)
                        log(f"== {nb} (repeat {rep + 1}): first render {secs:.1f} s")
                        bench = Bench(page, nb, a.n, a.controls)
                        merge(pooled, bench.run(a.phases))
                        st = bench.monitor
                        if st:
                            extra.append(f"{nb[:-6]}: monitor cost {st['scanMean']:.2f} ms mean, {st['scanMax']:.0f} ms "
                                         f"max per frame over {st['leaves']} leaves")
                        page.close()
                    log(f"== {nb}: {time.monotonic() - t0:.0f} s")
                    break
                except Exception as e:  # noqa: BLE001
                    log(f"== {nb} failed ({short(e)})" + (", retrying in 60 s" if attempt < a.retries else ""))
                    if attempt < a.retries:
                        time.sleep(60)
                    else:
                        extra.append(f"{nb[:-6]}: error: {short(e)}")


if __name__ == "__main__":
    main()
