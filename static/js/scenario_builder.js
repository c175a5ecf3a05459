/* Scenario builder: rows of transforms from menus, kept in step with the JSON textarea (the
 * saved and shared format), a live preview that redraws the chart as fields change, goal
 * seek, and the focus of the 80% band. No build step; data comes from json_script.
 *
 * The form works without this script (JSON only); with it, the JSON is written from the
 * rows on every change and the rows are rebuilt from the JSON when it is edited by hand.
 */
(function () {
  "use strict";

  var TYPES = {
    shift: "Move a share of traffic",
    route: "Route between a small and a frontier model",
    price_change: "Price change",
    growth: "Growth",
    fewer_calls: "Fewer calls",
    shorter_context: "Shorter context",
    cache_hit: "Cache hits"
  };
  var RAMPS = { step: "Step", linear: "Linear", "s-curve": "S-curve" };
  var RAMPED = ["shift", "route", "fewer_calls", "shorter_context", "cache_hit"];
  // Fields each row edits; anything else a transform carries (token_ratio...) is kept as is.
  var OWN = {
    shift: ["from", "to", "share", "start", "ramp", "months"],
    route: ["tier", "small", "frontier", "share", "start", "ramp", "months"],
    price_change: ["model", "monthly_change", "start"],
    growth: ["monthly", "where", "start"],
    fewer_calls: ["reduction", "where", "start", "ramp", "months"],
    shorter_context: ["reduction", "where", "start", "ramp", "months"],
    cache_hit: ["share", "where", "start", "ramp", "months"]
  };

  var options, form, rowsEl, textarea, jsonStatus, summary, status;
  var rows = [];
  var seq = 0;
  var timer = null;
  var inFlight = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") {
        node.textContent = attrs[key];
      } else {
        node.setAttribute(key, attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      node.appendChild(child);
    });
    return node;
  }

  function money(value) {
    var n = Number(value);
    var abs = Math.abs(n);
    var text = abs >= 1e6 ? (abs / 1e6).toFixed(2) + "M" : abs >= 1e3 ? (abs / 1e3).toFixed(1) + "k" : abs.toFixed(2);
    return (n < 0 ? "-$" : "$") + text;
  }

  function modelLabel(m) {
    return m.name + " (" + m.tier + ", $" + m.input + " in / $" + m.output + " out per 1M" + (m.used ? ", in use" : "") + ")";
  }

  // Two menus: every priced model (a price change may name any), and the models traffic can
  // move to (generative: priced per output token; not embedding or moderation models).
  function modelList(id, models) {
    var list = el("datalist", { id: id });
    models.forEach(function (m) {
      list.appendChild(el("option", { value: m.name, label: modelLabel(m) }));
    });
    return list;
  }

  function targets() {
    return options.models.filter(function (m) { return m.generative; });
  }


  function select(id, values, current, blank) {
    var node = el("select", { id: id });
    if (blank) {
      node.appendChild(el("option", { value: "", text: blank }));
    }
    Object.keys(values).forEach(function (key) {
      var opt = el("option", { value: key, text: values[key] });
      if (key === current) {
        opt.selected = true;
      }
      node.appendChild(opt);
    });
    return node;
  }

  function field(label, input, extraClass) {
    return el("div", { class: "builder-field" + (extraClass ? " " + extraClass : "") }, [
      el("label", { for: input.id, text: label }),
      input
    ]);
  }

  function namesOf(kind) {
    var out = {};
    if (kind === "model") {
      options.models.filter(function (m) { return m.used; }).forEach(function (m) { out[m.name] = m.name; });
    } else if (kind === "tier") {
      options.tiers.forEach(function (t) { out[t] = t; });
    } else if (kind === "project") {
      options.projects.forEach(function (p) { out[p] = p; });
    }
    return out;
  }

  function monthOf(start) {
    return start ? String(start).slice(0, 7) : "";
  }

  // --- one row ----------------------------------------------------------------------------

  function selectorFields(row, key, label, optional) {
    var current = row.t[key] || null;
    var kind = current ? Object.keys(current)[0] : optional ? "" : "tier";
    var kinds = { model: "Model", tier: "Tier", project: "Project" };
    var kindSel = select("r" + row.id + "-" + key + "-kind", kinds, kind, optional ? "All traffic" : null);
    var nameSel = select("r" + row.id + "-" + key, namesOf(kind), current ? current[kind] : "");
    nameSel.hidden = !kind;
    kindSel.addEventListener("change", function () {
      var k = kindSel.value;
      var names = namesOf(k);
      var first = Object.keys(names)[0];
      if (k && first !== undefined) {
        row.t[key] = {};
        row.t[key][k] = first;
      } else {
        delete row.t[key];
      }
      render();
      changed();
    });
    nameSel.addEventListener("change", function () {
      row.t[key] = {};
      row.t[key][kindSel.value] = nameSel.value;
      changed();
    });
    if (!optional && !current) {
      var first = Object.keys(namesOf(kind))[0];
      if (first !== undefined) {
        row.t[key] = {};
        row.t[key][kind] = first;
        nameSel.value = first;
      }
    }
    return [field(label, kindSel), field(label + " name", nameSel)];
  }

  function modelField(row, key, label, list) {
    var input = el("input", { id: "r" + row.id + "-" + key, list: list || "builder-targets", autocomplete: "off", placeholder: "search models", value: row.t[key] || "" });
    var hint = el("span", { class: "help muted builder-price" });
    function show() {
      var m = options.models.filter(function (x) { return x.name === input.value; })[0];
      hint.textContent = m ? m.tier + " · $" + m.input + " in / $" + m.output + " out per 1M" : input.value ? "not a priced model" : "";
    }
    input.addEventListener("input", function () {
      row.t[key] = input.value;
      show();
      changed();
    });
    show();
    var wrap = field(label, input);
    wrap.appendChild(hint);
    return wrap;
  }

  function percentField(row, key, label, min, max) {
    var value = row.t[key] === undefined ? 0 : row.t[key];
    var slider = el("input", { id: "r" + row.id + "-" + key + "-slider", type: "range", min: String(min), max: String(max), step: "1", value: String(Math.round(value * 100)), "aria-label": label + " slider" });
    var number = el("input", { id: "r" + row.id + "-" + key, type: "number", min: String(min), max: String(max), step: "any", value: String(+(value * 100).toFixed(4)) });
    function set(from, other) {
      var n = parseFloat(from.value);
      if (!isFinite(n)) {
        return;
      }
      row.t[key] = +(n / 100).toFixed(6);
      other.value = String(from === slider ? n : Math.round(n));
      changed();
    }
    slider.addEventListener("input", function () { set(slider, number); });
    number.addEventListener("input", function () { set(number, slider); });
    row.t[key] = value;
    var wrap = field(label + " (%)", number, "builder-share");
    wrap.appendChild(slider);
    return wrap;
  }

  function startField(row) {
    var input = el("input", { id: "r" + row.id + "-start", type: "month", value: monthOf(row.t.start) || "" , min: options.first_month });
    input.addEventListener("input", function () {
      if (input.value) {
        row.t.start = input.value + "-01";
      } else {
        delete row.t.start;
      }
      changed();
    });
    return field("Start month", input);
  }

  function rampFields(row) {
    var ramp = select("r" + row.id + "-ramp", RAMPS, row.t.ramp || "step");
    var months = el("input", { id: "r" + row.id + "-months", type: "number", min: "1", max: "120", step: "1", value: String(row.t.months || 12) });
    months.disabled = (row.t.ramp || "step") === "step";
    ramp.addEventListener("change", function () {
      row.t.ramp = ramp.value;
      months.disabled = ramp.value === "step";
      changed();
    });
    months.addEventListener("input", function () {
      var n = parseFloat(months.value);
      if (isFinite(n)) {
        row.t.months = n;
        changed();
      }
    });
    return [field("Ramp", ramp), field("Over months", months)];
  }

  function signedPercentField(row, key, label) {
    var input = el("input", { id: "r" + row.id + "-" + key, type: "number", step: "any", min: "-99", max: "100", value: row.t[key] === undefined ? "" : String(+(row.t[key] * 100).toFixed(4)) });
    input.addEventListener("input", function () {
      var n = parseFloat(input.value);
      if (isFinite(n)) {
        row.t[key] = +(n / 100).toFixed(6);
      } else {
        delete row.t[key];
      }
      changed();
    });
    return field(label, input);
  }

  function rowFields(row) {
    var t = row.t;
    var out = [];
    if (t.type === "shift") {
      out = out.concat(selectorFields(row, "from", "From", false));
      out.push(modelField(row, "to", "To model"));
      out.push(percentField(row, "share", "Share moved", 0, 100));
    } else if (t.type === "route") {
      var tiers = {};
      options.tiers.forEach(function (x) { tiers[x] = x; });
      var tier = select("r" + row.id + "-tier", tiers, t.tier || "", "All tiers");
      tier.addEventListener("change", function () {
        t.tier = tier.value || null;
        changed();
      });
      out.push(field("Traffic of tier", tier));
      out.push(modelField(row, "small", "Small model"));
      out.push(modelField(row, "frontier", "Frontier model"));
      out.push(percentField(row, "share", "Share to the small model", 0, 100));
    } else if (t.type === "price_change") {
      out.push(modelField(row, "model", "Model", "builder-models"));
      out.push(signedPercentField(row, "monthly_change", "Price change per month (%)"));
    } else if (t.type === "growth") {
      out.push(signedPercentField(row, "monthly", "Growth per month (%)"));
      out = out.concat(selectorFields(row, "where", "Of", true));
    } else if (t.type === "cache_hit") {
      out.push(percentField(row, "share", "Input tokens from cache", 0, 100));
      out = out.concat(selectorFields(row, "where", "Of", true));
    } else {
      out.push(percentField(row, "reduction", t.type === "fewer_calls" ? "Fewer calls" : "Shorter input", 0, 100));
      out = out.concat(selectorFields(row, "where", "Of", true));
    }
    out.push(startField(row));
    if (RAMPED.indexOf(t.type) >= 0) {
      out = out.concat(rampFields(row));
    }
    return out;
  }

  function renderRow(row, index) {
    var remove = el("button", { type: "button", class: "linklike", "data-remove": String(row.id), text: "Remove" });
    remove.addEventListener("click", function () {
      rows = rows.filter(function (r) { return r !== row; });
      render();
      changed();
    });
    var head = el("div", { class: "builder-head" }, [
      el("strong", { text: (index + 1) + ". " + (TYPES[row.t.type] || row.t.type) }),
      remove
    ]);
    return el("fieldset", { class: "builder-row", "data-type": row.t.type, id: "row-" + row.id }, [head].concat(rowFields(row)));
  }

  function render() {
    rowsEl.textContent = "";
    rows.forEach(function (row, i) {
      rowsEl.appendChild(renderRow(row, i));
    });
    if (!rows.length) {
      rowsEl.appendChild(el("p", { class: "help muted", text: "No transforms yet: add one below." }));
    }
    goalChoices();
  }

  function fresh(type) {
    var t = { type: type };
    if (type === "shift") {
      t.share = 0.5;
      t.to = options.default_target;  // the small model the 80/20 preset picks
    } else if (type === "route") {
      t.share = 0.5;
      t.small = "";
      t.frontier = "";
    } else if (type === "price_change") {
      t.model = "";
      t.monthly_change = -0.02;
    } else if (type === "growth") {
      t.monthly = 0.02;
    } else if (type === "cache_hit") {
      t.share = 0.3;
    } else {
      t.reduction = 0.2;
    }
    return t;
  }

  // --- JSON <-> rows ------------------------------------------------------------------------

  function toJSON() {
    return rows.map(function (row) {
      var out = {};
      Object.keys(row.t).forEach(function (key) {
        var value = row.t[key];
        if (value === undefined || value === "" || (key === "months" && (row.t.ramp || "step") === "step" && RAMPED.indexOf(row.t.type) >= 0 && !row.keepMonths)) {
          return;
        }
        out[key] = value;
      });
      return out;
    });
  }

  function fromJSON(text) {
    var parsed;
    try {
      parsed = JSON.parse(text.trim() || "[]");
    } catch (e) {
      jsonStatus.textContent = "Not valid JSON yet: the form shows the last valid version.";
      return false;
    }
    if (!Array.isArray(parsed) || parsed.some(function (t) { return !t || typeof t !== "object" || !TYPES[t.type]; })) {
      jsonStatus.textContent = "A list of transforms with known types is expected: the form shows the last valid version.";
      return false;
    }
    jsonStatus.textContent = "";
    rows = parsed.map(function (t) {
      seq += 1;
      return { id: seq, t: t, keepMonths: "months" in t };
    });
    render();
    return true;
  }

  function writeJSON() {
    textarea.value = JSON.stringify(toJSON(), null, 1);
  }

  // --- preview ------------------------------------------------------------------------------

  function changed() {
    writeJSON();
    schedule();
  }

  function schedule() {
    document.body.dataset.previewReady = "0";
    if (timer) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(preview, 350);
  }

  function preview() {
    timer = null;
    if (inFlight) {
      inFlight.abort();
    }
    var controller = new AbortController();
    inFlight = controller;
    status.textContent = "Updating the preview…";
    document.body.dataset.previewReady = "0";
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: controller.signal
    }).then(function (response) {
      return response.json().then(function (data) {
        return { ok: response.ok, data: data };
      });
    }).then(function (result) {
      if (controller !== inFlight) {
        return;
      }
      inFlight = null;
      if (!result.ok) {
        status.textContent = "Not priced: " + result.data.error;
        summary.textContent = "";
        document.body.dataset.previewReady = "error";
        return;
      }
      var d = result.data.draft;
      status.textContent = "";
      summary.textContent = d.name + ": " + money(d.total) + " over " + d.months + " months (80% " + money(d.lower) + " – " + money(d.upper) + "), saving " + money(d.savings) + " (" + d.savings_pct + "%) against the baseline's " + money(d.baseline_total) + ".";
      summary.setAttribute("data-total", d.total);
      summary.setAttribute("data-savings", d.savings);
      var chart = document.getElementById("chart-scenarios");
      var draws = [];
      if (chart && window.Plotly) {
        draws.push(window.Plotly.react(chart, result.data.figure.data, result.data.figure.layout));
      }
      var savings = document.getElementById("chart-savings");
      if (savings && window.Plotly) {
        draws.push(window.Plotly.react(savings, result.data.savings_figure.data, result.data.savings_figure.layout));
      }
      Promise.all(draws).then(function () {
        document.body.dataset.previewReady = "1";
      });
    }).catch(function (error) {
      if (error && error.name === "AbortError") {
        return;
      }
      status.textContent = "The preview failed; use the Preview button.";
      document.body.dataset.previewReady = "error";
    });
  }

  // --- goal seek ----------------------------------------------------------------------------

  function goalChoices() {
    var goal = document.getElementById("goal-form");
    var choice = document.getElementById("goal-index");
    if (!goal || !choice) {
      return;
    }
    choice.textContent = "";
    rows.forEach(function (row, i) {
      if (row.t.type === "shift" || row.t.type === "route") {
        choice.appendChild(el("option", { value: String(i), text: (i + 1) + ". " + TYPES[row.t.type] }));
      }
    });
    goal.hidden = !choice.options.length;
  }

  function pct(v) {
    return v === null ? "more than all of it" : (v * 100).toFixed(1) + "%";
  }

  function goalSeek(event) {
    event.preventDefault();
    var out = document.getElementById("goal-result");
    var data = new FormData(form);
    ["goal-index", "goal-monthly", "goal-cut"].forEach(function (id) {
      var input = document.getElementById(id);
      data.append(input.name, input.value);
    });
    out.textContent = "Searching…";
    fetch(form.getAttribute("data-goal"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (d) { return { ok: response.ok, data: d }; });
      })
      .then(function (result) {
        var d = result.data;
        if (!result.ok) {
          out.textContent = "Not found: " + d.error;
          return;
        }
        if (d.share === null) {
          out.textContent = "Even moving all of it does not reach " + money(d.target_monthly) + " a month on average.";
          return;
        }
        out.textContent = "Move " + pct(d.share) + " (80% interval " + pct(d.share_lower) + " – " + pct(d.share_upper) + ") to average " + money(d.target_monthly) + " a month over " + d.months + " months.";
        var index = parseInt(document.getElementById("goal-index").value, 10);
        var use = el("button", { type: "button", id: "goal-use", class: "linklike", text: "Use this share" });
        use.addEventListener("click", function () {
          rows[index].t.share = d.share;
          render();
          changed();
        });
        out.appendChild(document.createTextNode(" "));
        out.appendChild(use);
      });
  }

  // --- focus of the band --------------------------------------------------------------------

  function bandFocus() {
    var choice = document.getElementById("band-focus");
    var chart = document.getElementById("chart-scenarios");
    if (!choice || !chart) {
      return;
    }
    choice.addEventListener("change", function () {
      var focus = parseInt(choice.value, 10);
      var indices = [];
      var visible = [];
      (chart.data || []).forEach(function (trace, i) {
        if (trace.meta && trace.meta.band !== undefined) {
          indices.push(i);
          visible.push(trace.meta.band === focus);
        }
      });
      if (indices.length && window.Plotly) {
        window.Plotly.restyle(chart, { visible: visible }, indices);
      }
    });
  }

  function start() {
    bandFocus();
    var source = document.getElementById("scenario-options");
    form = document.getElementById("builder-form");
    if (!source || !form) {
      return;
    }
    options = JSON.parse(source.textContent);
    rowsEl = document.getElementById("transform-rows");
    textarea = document.getElementById("sc-transforms");
    jsonStatus = document.getElementById("json-status");
    summary = document.getElementById("preview-summary");
    status = document.getElementById("preview-status") || summary;
    document.getElementById("builder").hidden = false;
    form.appendChild(modelList("builder-models", options.models));
    form.appendChild(modelList("builder-targets", targets()));
    if (!fromJSON(textarea.value)) {
      rows = [];
      render();
    }
    document.getElementById("add-transform").addEventListener("click", function () {
      seq += 1;
      rows.push({ id: seq, t: fresh(document.getElementById("add-type").value), keepMonths: false });
      render();
      changed();
    });
    textarea.addEventListener("input", function () {
      if (fromJSON(textarea.value)) {
        schedule();
      }
    });
    ["sc-name", "sc-discount", "sc-carry"].forEach(function (id) {
      var input = document.getElementById(id);
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", schedule);
    });
    var goal = document.getElementById("goal-form");
    if (goal) {
      goal.addEventListener("submit", goalSeek);
    }
    document.body.dataset.builderReady = "1";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
