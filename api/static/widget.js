/* mspilot chat widget: one script tag embeds it.
 *
 *   <script src="https://mspilot.example/widget.js" data-token="..."></script>
 *
 * Optional attributes: data-api (server base URL; default: where this script came from),
 * data-title, data-open="true" (start open). Renders <mspilot-chat>: a launcher and a panel in a
 * shadow DOM (styles isolated from the host page), streams answers over Server-Sent Events,
 * renders markdown, tables and inline SVG charts, keeps the thread across reloads
 * (localStorage), shows clear states for errors and rate limits, and shows new insights live.
 * No external requests: everything it needs is in this file.
 */
(function () {
  "use strict";
  if (window.customElements && window.customElements.get("mspilot-chat")) return;

  var script = document.currentScript;

  // ---- small helpers ------------------------------------------------------------------------
  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) {
    if (isNum(v)) {
      var a = Math.abs(v);
      if (a >= 1000) return v.toLocaleString(undefined, { maximumFractionDigits: 0 });
      if (Number.isInteger(v)) return String(v);
      return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
    }
    if (v === null || v === undefined) return "";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  // Read a text/event-stream response body, calling onEvent(json) for each data block.
  async function readSSE(res, onEvent) {
    var reader = res.body.getReader(), decoder = new TextDecoder(), buf = "";
    while (true) {
      var chunk = await reader.read();
      if (chunk.done) return;
      buf += decoder.decode(chunk.value, { stream: true });
      var idx;
      while ((idx = buf.indexOf("\n\n")) >= 0) {
        var raw = buf.slice(0, idx); buf = buf.slice(idx + 2);
        var data = raw.split("\n").filter(function (l) { return l.indexOf("data:") === 0; })
          .map(function (l) { return l.slice(5).trim(); }).join("\n");
        if (!data) continue;
        var ev; try { ev = JSON.parse(data); } catch (e) { continue; }
        onEvent(ev);
      }
    }
  }
  function tokenSubject(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var claims = JSON.parse(atob(part));
      return (claims.tid || "") + ":" + (claims.sub || "");
    } catch (e) { return "key"; }
  }

  // ---- markdown (a safe subset: everything is escaped first) ---------------------------------
  function inline(s) {
    return esc(s)
      .replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
  }
  function markdown(text) {
    var lines = String(text || "").split(/\r?\n/);
    var out = [], i = 0;
    while (i < lines.length) {
      var line = lines[i];
      if (/^```/.test(line)) {  // text from the data, quoted as data: shown verbatim, escaped
        var quoted = [];
        i++;
        while (i < lines.length && !/^```\s*$/.test(lines[i])) { quoted.push(esc(lines[i])); i++; }
        i++;
        out.push('<blockquote class="data"><pre>' + quoted.join("\n") + "</pre></blockquote>");
        continue;
      }
      if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?[\s:-]+\|/.test(lines[i + 1])) {
        var head = line.trim().replace(/^\||\|$/g, "").split("|");
        var rows = [];
        i += 2;
        while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) {
          rows.push(lines[i].trim().replace(/^\||\|$/g, "").split("|"));
          i++;
        }
        var h = "<table><thead><tr>" + head.map(function (c) { return "<th>" + inline(c.trim()) + "</th>"; }).join("") + "</tr></thead><tbody>";
        rows.forEach(function (r) { h += "<tr>" + r.map(function (c) { return "<td>" + inline(c.trim()) + "</td>"; }).join("") + "</tr>"; });
        out.push(h + "</tbody></table>");
        continue;
      }
      var m;
      if ((m = /^(#{1,4})\s+(.*)$/.exec(line))) {
        out.push("<h4>" + inline(m[2]) + "</h4>"); i++; continue;
      }
      if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
        var ordered = /^\s*\d+\./.test(line);
        var items = [];
        while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
          items.push("<li>" + inline(lines[i].replace(/^\s*([-*]|\d+\.)\s+/, "")) + "</li>");
          i++;
        }
        out.push((ordered ? "<ol>" : "<ul>") + items.join("") + (ordered ? "</ol>" : "</ul>"));
        continue;
      }
      if (!line.trim()) { i++; continue; }
      var para = [];
      while (i < lines.length && lines[i].trim() && !/^(#{1,4}\s|\s*([-*]|\d+\.)\s|\s*\|)/.test(lines[i])) {
        para.push(inline(lines[i])); i++;
      }
      if (!para.length) { para.push(inline(line)); i++; }
      out.push("<p>" + para.join("<br>") + "</p>");
    }
    return out.join("");
  }

  // ---- charts (inline SVG, no libraries) ----------------------------------------------------
  var DATEISH = /^\d{4}-\d{2}(-\d{2})?|^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|^q[1-4]\b|^\d{4}$|week/i;

  function chartSpec(art) {
    var cols = art.columns || [], rows = art.rows || [];
    if (rows.length < 2 || cols.length < 2) return null;
    var meta = art.meta || {}, c = meta.chart || {};
    // a Vega-Lite spec (the make_chart tool) or a plain {type, x, y}
    var enc = c.encoding || {};
    var xField = (enc.x && enc.x.field) || c.x, yField = (enc.y && enc.y.field) || c.y;
    var mark = c.mark && typeof c.mark === "object" ? c.mark.type : c.mark;
    var xi = cols.indexOf(xField), yi = cols.indexOf(yField);
    if (xi < 0) xi = 0;
    if (yi < 0) {
      for (var j = 0; j < cols.length; j++) {
        if (j !== xi && rows.every(function (r) { return isNum(r[j]) || r[j] === null; }) && rows.some(function (r) { return isNum(r[j]); })) { yi = j; break; }
      }
    }
    if (yi < 0) return null;
    var kind = mark || c.type || c.kind;
    if (kind && kind !== "line" && kind !== "area") kind = "bar";
    if (!kind) kind = rows.every(function (r) { return DATEISH.test(String(r[xi])); }) ? "line" : "bar";
    var points = rows.slice(0, kind === "line" ? 120 : 15).map(function (r) { return { x: String(r[xi]), y: isNum(r[yi]) ? r[yi] : 0 }; });
    var title = typeof c.title === "object" ? c.title.text : c.title;
    return { kind: kind === "bar" ? "bar" : "line", x: cols[xi], y: cols[yi], points: points, title: title || meta.title || "" };
  }

  function svgChart(spec) {
    var NS = "http://www.w3.org/2000/svg";
    var W = 320, H = 180, L = 44, B = 34, T = 10, R = 8;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("class", "chart chart-" + spec.kind);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", (spec.title || spec.y + " by " + spec.x) + " (" + spec.kind + " chart)");
    function add(tag, attrs, text) {
      var n = document.createElementNS(NS, tag);
      for (var k in attrs) n.setAttribute(k, attrs[k]);
      if (text != null) n.textContent = text;
      svg.appendChild(n);
      return n;
    }
    var ys = spec.points.map(function (p) { return p.y; });
    var max = Math.max.apply(null, ys.concat([0])), min = Math.min.apply(null, ys.concat([0]));
    if (max === min) max = min + 1;
    var pw = W - L - R, ph = H - T - B;
    function sy(v) { return T + ph - (v - min) / (max - min) * ph; }
    add("line", { x1: L, y1: sy(0), x2: W - R, y2: sy(0), class: "axis" });
    [max, (max + min) / 2, min].forEach(function (v) {
      add("text", { x: L - 4, y: sy(v) + 3, "text-anchor": "end", class: "tick" }, fmt(Math.round(v * 100) / 100));
    });
    var n = spec.points.length;
    if (spec.kind === "bar") {
      var bw = pw / n;
      spec.points.forEach(function (p, i) {
        var y0 = sy(Math.max(0, p.y)), y1 = sy(Math.min(0, p.y));
        var r = add("rect", { x: L + i * bw + bw * 0.12, y: y0, width: bw * 0.76, height: Math.max(1, y1 - y0), class: "bar" });
        var t = document.createElementNS(NS, "title"); t.textContent = p.x + ": " + fmt(p.y); r.appendChild(t);
        if (n <= 12) {
          var label = p.x.length > 9 ? p.x.slice(0, 8) + "…" : p.x;
          add("text", { x: L + i * bw + bw / 2, y: H - B + 12, "text-anchor": "middle", class: "tick" }, label);
        }
      });
    } else {
      var step = n > 1 ? pw / (n - 1) : 0;
      var d = spec.points.map(function (p, i) { return (i ? "L" : "M") + (L + i * step).toFixed(1) + " " + sy(p.y).toFixed(1); }).join(" ");
      add("path", { d: d, class: "line" });
      var ticks = n > 2 ? [0, Math.floor((n - 1) / 2), n - 1] : n > 1 ? [0, n - 1] : [0];
      ticks.forEach(function (i) {
        var anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
        add("text", { x: L + i * step, y: H - B + 12, "text-anchor": anchor, class: "tick" }, spec.points[i].x.slice(0, 10));
      });
    }
    add("text", { x: L + pw / 2, y: H - 4, "text-anchor": "middle", class: "label" }, spec.y + " by " + spec.x);
    return svg;
  }

  function artifactTable(art) {
    var cols = art.columns || [], rows = art.rows || [];
    if (!cols.length || !rows.length) return null;
    var wrap = el("div", "table-wrap");
    var table = el("table", "artifact");
    var thead = el("thead"), tr = el("tr");
    cols.forEach(function (c) { tr.appendChild(el("th", null, c)); });
    thead.appendChild(tr); table.appendChild(thead);
    var tbody = el("tbody");
    rows.slice(0, 20).forEach(function (r) {
      var row = el("tr");
      r.forEach(function (v) { var td = el("td", isNum(v) ? "num" : null, fmt(v)); row.appendChild(td); });
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    if (rows.length > 20) wrap.appendChild(el("div", "more", (rows.length - 20) + " more rows"));
    return wrap;
  }

  // ---- styles -------------------------------------------------------------------------------
  var CSS = [
    ":host{all:initial;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2433}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#2457d6;color:#fff;font-size:24px;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 6px 18px rgba(0,0,0,.25);z-index:2147483000}",
    ".launcher .badge{position:absolute;top:-2px;right:-2px;background:#e5484d;color:#fff;border-radius:10px;font-size:11px;padding:1px 6px;display:none}",
    ".panel{position:fixed;right:20px;bottom:88px;width:400px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 120px);background:#fff;border-radius:12px;box-shadow:0 12px 40px rgba(0,0,0,.28);display:none;flex-direction:column;overflow:hidden;z-index:2147483000}",
    ".panel.open{display:flex}",
    "header{background:#2457d6;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}",
    "header .title{flex:1;font-weight:600}",
    "header button{background:transparent;border:1px solid rgba(255,255,255,.5);color:#fff;border-radius:6px;padding:2px 8px;cursor:pointer;font-size:12px}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f6f7fb}",
    ".msg{margin:0 0 10px;max-width:92%;padding:8px 10px;border-radius:10px;word-wrap:break-word}",
    ".msg.user{margin-left:auto;background:#2457d6;color:#fff;white-space:pre-wrap}",
    "blockquote.data{margin:4px 0;padding:4px 8px;border-left:3px solid #b8c2d6;background:#f4f6fa}",
    "blockquote.data pre{margin:0;white-space:pre-wrap;font:12px ui-monospace,monospace}",
    ".msg.assistant{background:#fff;border:1px solid #e2e5ee}",
    ".msg.assistant p{margin:0 0 6px}.msg.assistant ul,.msg.assistant ol{margin:0 0 6px;padding-left:20px}",
    ".msg h4{margin:4px 0;font-size:14px}",
    "code{background:#eef0f6;border-radius:4px;padding:0 3px;font-size:12px}",
    ".steps{font-size:12px;color:#5b6478;margin-bottom:4px}.steps .step{display:block}.steps .ok{color:#1a7f37}.steps .fail{color:#c4262e}",
    ".typing::after{content:'▍';animation:blink 1s steps(1) infinite}@keyframes blink{50%{opacity:0}}",
    "table{border-collapse:collapse;font-size:12px;margin:6px 0;width:100%}",
    "th,td{border:1px solid #e2e5ee;padding:3px 6px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f2f8}",
    ".table-wrap{overflow-x:auto;max-height:260px;overflow-y:auto}.more{font-size:11px;color:#5b6478}",
    "svg.chart{width:100%;height:auto;margin:6px 0;background:#fff}",
    "svg .bar{fill:#2457d6}svg .line{fill:none;stroke:#2457d6;stroke-width:2}svg .axis{stroke:#9aa3b5}",
    "svg .tick{font-size:9px;fill:#5b6478}svg .label{font-size:10px;fill:#1d2433}",
    ".cite{font-size:11px;color:#5b6478;margin-top:4px}",
    ".notice{margin:0 12px 8px;padding:8px 10px;border-radius:8px;font-size:13px;display:none}",
    ".notice.error{display:block;background:#fdecec;color:#8c1d22;border:1px solid #f3b7ba}",
    ".notice.ratelimit{display:block;background:#fff6e0;color:#7a5300;border:1px solid #f1d48b}",
    ".notice.insight{display:block;background:#e8f1ff;color:#173b8f;border:1px solid #b8cdf5}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e2e5ee;background:#fff}",
    "textarea{flex:1;resize:none;border:1px solid #c9cfdd;border-radius:8px;padding:8px;font:inherit;height:40px}",
    "form button{background:#2457d6;color:#fff;border:0;border-radius:8px;padding:0 14px;cursor:pointer}",
    "form button:disabled{background:#9aa3b5;cursor:not-allowed}",
    ".empty{color:#5b6478;font-size:13px;text-align:center;margin-top:40px}"
  ].join("\n");

  // ---- the element --------------------------------------------------------------------------
  class MspilotChat extends HTMLElement {
    constructor() {
      super();
      this.root = this.attachShadow({ mode: "open" });
      this.busy = false;
      this.unread = 0;
    }

    connectedCallback() {
      this.token = this.getAttribute("token") || "";
      this.api = (this.getAttribute("api") || "").replace(/\/$/, "");
      this.storeKey = "mspilot:thread:" + tokenSubject(this.token);
      this.render();
      this.restore();
      if (this.getAttribute("open") === "true") this.toggle(true);
      this.listenInsights();
    }

    disconnectedCallback() {
      if (this.insightAbort) this.insightAbort.abort();
    }

    render() {
      var r = this.root;
      r.innerHTML = "";
      var style = el("style"); style.textContent = CSS; r.appendChild(style);
      this.launcher = el("button", "launcher");
      this.launcher.innerHTML = '<svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true">' +
        '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/></svg>';
      this.launcher.setAttribute("aria-label", "Open the mspilot assistant");
      this.launcher.setAttribute("part", "launcher");
      this.badge = el("span", "badge", "0");
      this.launcher.appendChild(this.badge);
      this.launcher.addEventListener("click", () => this.toggle());
      r.appendChild(this.launcher);

      this.panel = el("section", "panel");
      this.panel.setAttribute("aria-label", "mspilot assistant");
      var header = el("header");
      header.appendChild(el("span", "title", this.getAttribute("title-text") || "Ask mspilot"));
      var fresh = el("button", "new", "New chat");
      fresh.addEventListener("click", () => this.newThread());
      var close = el("button", "close", "✕");
      close.setAttribute("aria-label", "Close");
      close.addEventListener("click", () => this.toggle(false));
      header.appendChild(fresh); header.appendChild(close);
      this.panel.appendChild(header);

      this.log = el("div", "log");
      this.log.setAttribute("role", "log");
      this.log.setAttribute("aria-live", "polite");
      this.panel.appendChild(this.log);
      this.notice = el("div", "notice");
      this.notice.setAttribute("role", "status");
      this.panel.appendChild(this.notice);

      var form = el("form");
      this.input = el("textarea");
      this.input.setAttribute("placeholder", "Ask about clients, margins, tickets…");
      this.input.setAttribute("aria-label", "Your question");
      this.send = el("button", "send", "Send");
      this.send.setAttribute("type", "submit");
      form.appendChild(this.input); form.appendChild(this.send);
      form.addEventListener("submit", (e) => { e.preventDefault(); this.ask(this.input.value); });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.ask(this.input.value); }
      });
      this.panel.appendChild(form);
      r.appendChild(this.panel);
      if (!this.token) this.showNotice("error", "This widget has no access token (data-token).");
    }

    toggle(open) {
      var show = open === undefined ? !this.panel.classList.contains("open") : open;
      this.panel.classList.toggle("open", show);
      if (show) {
        this.unread = 0; this.badge.style.display = "none";
        this.input.focus();
      }
    }

    // -- state kept across reloads --
    load() {
      try { return JSON.parse(localStorage.getItem(this.storeKey) || "null") || { thread_id: null, messages: [] }; }
      catch (e) { return { thread_id: null, messages: [] }; }
    }
    save(state) {
      try { localStorage.setItem(this.storeKey, JSON.stringify(state)); } catch (e) { /* full */ }
    }
    restore() {
      var state = this.load();
      this.state = state;
      if (!state.messages.length) {
        this.log.appendChild(el("div", "empty", "Ask a question about your clients, tickets, invoices or margins."));
        return;
      }
      state.messages.forEach((m) => {
        if (m.role === "user") this.addUser(m.text);
        else this.renderAnswer(this.addAssistant(), m.text, m.artifacts || [], m.citations || []);
      });
      if (state.thread_id && this.token) {
        this.request("GET", "/v1/threads/" + encodeURIComponent(state.thread_id)).then((res) => {
          if (res.status === 404) { this.state.thread_id = null; this.save(this.state); }
          else if (!res.ok) this.handleHttpError(res);
        }).catch(() => {});
      }
    }
    newThread() {
      var old = this.state.thread_id;
      if (old && this.token) this.request("DELETE", "/v1/threads/" + encodeURIComponent(old)).catch(() => {});
      this.state = { thread_id: null, messages: [] };
      this.save(this.state);
      this.log.innerHTML = "";
      this.log.appendChild(el("div", "empty", "New conversation."));
      this.clearNotice();
    }

    // -- rendering --
    addUser(text) {
      var empty = this.log.querySelector(".empty"); if (empty) empty.remove();
      var m = el("div", "msg user", text);
      this.log.appendChild(m); this.scroll();
      return m;
    }
    addAssistant() {
      var m = el("div", "msg assistant");
      m.steps = el("div", "steps"); m.body = el("div", "body"); m.extra = el("div", "extra");
      m.appendChild(m.steps); m.appendChild(m.body); m.appendChild(m.extra);
      this.log.appendChild(m); this.scroll();
      return m;
    }
    renderAnswer(m, text, artifacts, citations) {
      m.body.classList.remove("typing");
      m.body.innerHTML = markdown(text);
      m.extra.innerHTML = "";
      (artifacts || []).forEach((art) => {
        var spec = chartSpec(art);
        if (spec) m.extra.appendChild(svgChart(spec));
        var t = artifactTable(art);
        if (t) m.extra.appendChild(t);
      });
      if (citations && citations.length) {
        var parts = citations.map(function (c) { return c.tool + (c.period ? " · " + c.period : "") + (c.rows ? " · " + c.rows + " rows" : ""); });
        m.extra.appendChild(el("div", "cite", "Sources: " + parts.join("; ")));
      }
      this.scroll();
    }
    scroll() { this.log.scrollTop = this.log.scrollHeight; }

    showNotice(kind, text) { this.notice.className = "notice " + kind; this.notice.textContent = text; }
    clearNotice() { this.notice.className = "notice"; this.notice.textContent = ""; }

    setBusy(busy) { this.busy = busy; this.send.disabled = busy || this.cooldown > 0; }

    rateLimited(seconds) {
      this.cooldown = seconds;
      this.send.disabled = true;
      var tick = () => {
        if (this.cooldown <= 0) { this.clearNotice(); this.setBusy(this.busy); return; }
        this.showNotice("ratelimit", "You're sending questions too quickly. You can ask again in " + this.cooldown + " s.");
        this.cooldown -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    }

    async handleHttpError(res) {
      var body = {};
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      var detail = typeof body.detail === "string" ? body.detail : "";
      if (res.status === 401) this.showNotice("error", "Your session has expired or the token is not valid. Please sign in again." + (detail ? " (" + detail + ")" : ""));
      else if (res.status === 403) this.showNotice("error", "You don't have access to that. " + detail);
      else if (res.status === 429) this.rateLimited(parseInt(res.headers.get("Retry-After") || body.retry_after || "30", 10));
      else if (res.status === 503) this.showNotice("error", "The assistant is not available right now. " + detail);
      else this.showNotice("error", "Something went wrong (" + res.status + "). " + detail + (body.request_id ? " Reference: " + body.request_id : ""));
    }

    request(method, path, body) {
      var headers = { "Authorization": "Bearer " + this.token };
      if (body) headers["Content-Type"] = "application/json";
      return fetch(this.api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined });
    }

    async ask(text) {
      text = (text || "").trim();
      if (!text || this.busy || this.cooldown > 0) return;
      this.clearNotice();
      this.input.value = "";
      this.addUser(text);
      this.state.messages.push({ role: "user", text: text });
      this.save(this.state);
      var m = this.addAssistant();
      m.body.classList.add("typing");
      this.setBusy(true);
      var streamed = "";
      var finished = false;
      try {
        var res = await this.request("POST", "/v1/chat", { question: text, thread_id: this.state.thread_id || undefined });
        if (!res.ok) {
          m.remove();
          await this.handleHttpError(res);
          return;
        }
        await readSSE(res, (ev) => {
            if (ev.type === "start") { this.state.thread_id = ev.thread_id; this.save(this.state); }
            else if (ev.type === "tool_start") {
              var s = el("span", "step", "⏳ " + ev.tool);
              s.dataset.tool = ev.tool; m.steps.appendChild(s);
            } else if (ev.type === "tool_end") {
              var steps = m.steps.querySelectorAll(".step");
              var done = null;
              steps.forEach(function (x) { if (x.dataset.tool === ev.tool && !x.dataset.done) done = done || x; });
              if (!done) { done = el("span", "step"); m.steps.appendChild(done); }
              done.dataset.done = "1";
              done.className = "step " + (ev.ok === false ? "fail" : "ok");
              done.textContent = (ev.ok === false ? "✗ " : "✓ ") + ev.tool + (ev.rows ? " · " + ev.rows + " rows" : "");
            } else if (ev.type === "token") {
              streamed += ev.text || "";
              m.body.textContent = streamed;
              this.scroll();
            } else if (ev.type === "final") {
              finished = true;
              var a = ev.answer || {};
              this.renderAnswer(m, a.answer || ev.text || streamed, a.artifacts || [], a.citations || []);
              this.state.messages.push({ role: "assistant", text: a.answer || ev.text || streamed, artifacts: a.artifacts || [], citations: a.citations || [] });
              this.save(this.state);
            } else if (ev.type === "error") {
              finished = true;
              m.body.classList.remove("typing");
              if (ev.code === "rate_limited") this.rateLimited(ev.retry_after || 30);
              else this.showNotice("error", ev.text || "The assistant could not answer.");
              if (!streamed) m.remove();
            }
        });
        if (!finished) {
          m.body.classList.remove("typing");
          this.showNotice("error", "The answer was cut off. Please ask again.");
        }
      } catch (e) {
        m.body.classList.remove("typing");
        if (!streamed) m.remove();
        this.showNotice("error", "Can't reach the mspilot server. Check your connection and try again.");
      } finally {
        this.setBusy(false);
        this.bumpUnread();
      }
    }

    bumpUnread() {
      if (this.panel.classList.contains("open")) return;
      this.unread += 1;
      this.badge.textContent = this.unread;
      this.badge.style.display = "inline";
    }

    async listenInsights() {
      if (!this.token || !window.AbortController) return;
      this.insightAbort = new AbortController();
      try {
        var res = await fetch(this.api + "/v1/insights/stream", { headers: { "Authorization": "Bearer " + this.token }, signal: this.insightAbort.signal });
        if (!res.ok) return;
        await readSSE(res, (insight) => {
          this.showNotice("insight", "New insight: " + insight.title);
          this.dispatchEvent(new CustomEvent("mspilot-insight", { detail: insight, bubbles: true, composed: true }));
          this.bumpUnread();
        });
      } catch (e) { /* closed */ }
    }
  }

  window.customElements.define("mspilot-chat", MspilotChat);

  // ---- mount from the script tag -------------------------------------------------------------
  function mount() {
    if (!script) return;
    var node = document.createElement("mspilot-chat");
    var base = script.getAttribute("data-api");
    if (!base) { try { base = new URL(script.src, location.href).origin; } catch (e) { base = ""; } }
    node.setAttribute("api", base);
    node.setAttribute("token", script.getAttribute("data-token") || "");
    if (script.getAttribute("data-title")) node.setAttribute("title-text", script.getAttribute("data-title"));
    if (script.getAttribute("data-open")) node.setAttribute("open", script.getAttribute("data-open"));
    document.body.appendChild(node);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
