// stellar-arrow dashboard: REST for the first picture, then everything live from the /ws WebSocket.
"use strict";

const NON_FEE = ["transfer", "mint", "burn", "clawback"];
const KEEP_LEDGERS = 40;   // ledgers shown in the chart
const KEEP_ROWS = 60;      // rows kept in the live feed
const MAX_ASSETS = 6;      // small multiples in the chart

const volume = new Map();  // ledger sequence -> Map(asset label -> {raw: BigInt, events: n})
let lastLedgerSeen = null; // resume cursor after a reconnect
let streamed = 0;

const $ = (id) => document.getElementById(id);

function assetLabel(asset, contract) {
  // One label per chart row, the same for REST buckets and live rows. Classic assets go by code (issuers of
  // one code share a row), except that a credit asset coded "XLM" is never shown as the native lumens.
  if (asset === "native") return "XLM";
  if (asset && asset.includes(":")) {
    const [, code, issuer] = asset.split(":");
    return code === "XLM" ? `XLM·${(issuer || "").slice(0, 4)}` : code;
  }
  return (asset || contract || "?").slice(0, 6) + "…";
}

function short(account) {
  return account ? account.slice(0, 5) + "…" + account.slice(-4) : "";
}

function addVolume(ledger, label, raw) {
  if (!volume.has(ledger)) volume.set(ledger, new Map());
  const per = volume.get(ledger);
  const cell = per.get(label) || { raw: 0n, events: 0 };
  cell.raw += BigInt(raw);
  cell.events += 1;
  per.set(label, cell);
  const ledgers = [...volume.keys()].sort((a, b) => a - b);
  while (ledgers.length > KEEP_LEDGERS) volume.delete(ledgers.shift());
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawChart() {
  const chart = $("volume-chart");
  chart.replaceChildren();
  const ledgers = [...volume.keys()].sort((a, b) => a - b);
  if (!ledgers.length) {
    chart.appendChild(svg("text", { x: 20, y: 30 }, "waiting for events…"));
    return;
  }
  const events = new Map();
  for (const per of volume.values()) for (const [label, c] of per) events.set(label, (events.get(label) || 0) + c.events);
  const assets = [...events.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_ASSETS).map((e) => e[0]);
  const width = 900, height = 300, left = 90, rowH = (height - 14) / assets.length;
  const barW = (width - left - 10) / KEEP_LEDGERS;
  assets.forEach((label, row) => {
    const values = ledgers.map((l) => Number(((volume.get(l) || new Map()).get(label) || { raw: 0n }).raw) / 1e7);
    const max = Math.max(...values, 1e-7);
    const y0 = row * rowH;
    chart.appendChild(svg("text", { x: 6, y: y0 + rowH / 2 + 4, class: "asset-label" }, label));
    chart.appendChild(svg("line", { x1: left, x2: width - 10, y1: y0 + rowH - 2, y2: y0 + rowH - 2, stroke: "#263049" }));
    values.forEach((v, i) => {
      const h = (v / max) * (rowH - 8);
      const bar = svg("rect", {
        x: left + i * barW + 1, y: y0 + rowH - 2 - h, width: Math.max(barW - 2, 1), height: h,
        fill: `hsl(${(row * 57 + 190) % 360} 70% 60%)`, class: "bar",
      });
      bar.appendChild(svg("title", {}, `ledger ${ledgers[i]}: ${v.toLocaleString()} ${label}`));
      chart.appendChild(bar);
    });
    chart.appendChild(svg("text", { x: width - 12, y: y0 + 12, "text-anchor": "end" }, `max ${max.toLocaleString()}`));
  });
  chart.appendChild(svg("text", { x: left, y: height - 1 }, `ledger ${ledgers[0]}`));
  chart.appendChild(svg("text", { x: left + (ledgers.length - 1) * barW, y: height - 1, "text-anchor": "start" },
    ledgers.length > 1 ? `${ledgers[ledgers.length - 1]}` : ""));
}

function addFeedRows(records, fresh) {
  const body = $("feed").tBodies[0];
  for (const r of records) {
    const tr = document.createElement("tr");
    if (fresh) tr.className = "fresh";
    tr.dataset.id = r.id;
    const cells = [r.ledger_sequence, r.event_type, short(r.from), short(r.to), r.amount ?? r.amount_raw,
      assetLabel(r.asset, r.contract_id)];
    cells.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = value;
      if (i === 1) td.className = "t-" + r.event_type;
      if (i === 4) td.className = "num";
      tr.appendChild(td);
    });
    body.insertBefore(tr, body.firstChild);
  }
  while (body.rows.length > KEEP_ROWS) body.deleteRow(body.rows.length - 1);
}

function onEvents(records) {
  for (const r of records) {
    addVolume(r.ledger_sequence, assetLabel(r.asset, r.contract_id), r.amount_raw);
    lastLedgerSeen = Math.max(lastLedgerSeen || 0, r.ledger_sequence);
  }
  streamed += records.length;
  $("events-streamed").textContent = streamed.toLocaleString();
  addFeedRows(records.slice(-KEEP_ROWS), true);
  drawChart();
}

function age(seconds) {
  if (seconds >= 86400) return `${(seconds / 86400).toFixed(1)} d`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds)} s`;
}

function onStatus(s) {
  if (s.last_ledger !== null) $("last-ledger").textContent = s.last_ledger;
  $("ledger-rate").textContent = s.ledgers_per_second.toFixed(2);
  const parts = [];
  if (s.lag_ledgers !== null) parts.push(`${s.lag_ledgers} ledgers`);
  if (s.last_ledger_age_seconds !== null) parts.push(`${age(s.last_ledger_age_seconds)} behind now`);
  $("lag").textContent = parts.join(" · ") || "–";
  const body = $("ledgers").tBodies[0];
  body.replaceChildren();
  for (const l of s.recent_ledgers) {
    const tr = document.createElement("tr");
    for (const [value, cls] of [[l.ledger_sequence, ""], [(l.closed_at || "").replace("T", " ").replace("Z", ""), ""],
      [l.transfers, "num"], [l.transactions ?? "", "num"]]) {
      const td = document.createElement("td");
      td.textContent = value;
      td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

// Rolling windows: the latest frame of every window (REST first, then pushed on the "analytics" channel).
let windows = {};
let shownWindow = "1h";

function wholeUnits(raw) {
  // Exact decimal text of a raw amount (7 decimals), grouped for reading; BigInt keeps every digit.
  const value = BigInt(raw);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const whole = (abs / 10000000n).toLocaleString("en-US");
  const frac = (abs % 10000000n).toString().padStart(7, "0").replace(/0+$/, "");
  return sign + whole + (frac ? "." + frac : "");
}

function drawWindow() {
  const w = windows[shownWindow];
  for (const b of document.querySelectorAll("#analytics button[data-window]")) {
    b.className = b.dataset.window === shownWindow ? "active" : "";
  }
  if (!w) return;
  $("win-events").textContent = w.totals.events.toLocaleString();
  $("win-transfers").textContent = w.totals.transfers.toLocaleString();
  $("win-fees").textContent = wholeUnits(w.totals.fees_raw);
  $("win-span").textContent = w.start ? `${w.start.slice(11, 19)}–${w.end.slice(11, 19)}` : "no data";
  const body = $("win-assets").tBodies[0];
  body.replaceChildren();
  for (const a of w.assets.slice(0, 12)) {
    const tr = document.createElement("tr");
    const cells = [[assetLabel(a.asset, a.asset), ""], [a.transfers.toLocaleString(), "num"],
      [wholeUnits(a.volume_raw), "num"], [a.events.toLocaleString(), "num"], [wholeUnits(a.fees_raw), "num"]];
    for (const [value, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = value;
      td.className = cls;
      tr.appendChild(td);
    }
    tr.title = a.asset;
    body.appendChild(tr);
  }
}

function onAnalytics(all) {
  windows = all;
  drawWindow();
}

for (const b of document.querySelectorAll("#analytics button[data-window]")) {
  b.addEventListener("click", () => { shownWindow = b.dataset.window; drawWindow(); });
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  const pill = $("connection");
  ws.onopen = () => {
    const sub = { type: "subscribe", format: "json", status: true, filters: { event_types: NON_FEE } };
    if (lastLedgerSeen !== null) sub.cursor = lastLedgerSeen;  // resume: no gap after a reconnect
    ws.send(JSON.stringify(sub));
    ws.send('{"type":"subscribe","channel":"analytics"}');
    pill.textContent = "live";
    pill.className = "pill on";
    pill.dataset.state = "live";
  };
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.type === "events") onEvents(m.data);
    else if (m.type === "status") onStatus(m);
    else if (m.type === "analytics") onAnalytics(m.windows);
    else if (m.type === "ping") ws.send('{"type":"pong"}');
  };
  ws.onclose = (e) => {
    signInIfRefused();  // a refused handshake or a revoked key: with auth on, the session may be gone
    pill.textContent = `disconnected (${e.code}${e.reason ? ": " + e.reason : ""}), retrying`;
    pill.className = "pill off";
    pill.dataset.state = "closed";
    setTimeout(connect, 2000);
  };
}

const LOGIN_PAGE = "/static/login.html";

// With authentication on (security.auth_enabled) the page needs a session cookie: see login.js.
async function signInIfRefused() {
  try {
    const probe = await fetch("/api/v1/status");
    if (probe.status === 401) location.href = LOGIN_PAGE;
    return probe.status === 401;
  } catch (err) {
    return false;
  }
}

async function start() {
  if (await signInIfRefused()) return;
  // The first picture comes over REST up to ledger `through`; the socket then replays every ledger after it.
  // The newest ledger may still be arriving (its events can come in several batches), so the picture stops
  // one ledger short; an empty sink gives through = 0 (replay from the start). Without that cursor, events
  // accepted between the REST calls and the subscription would be missing from the page.
  let through = null;
  try {
    const summary = await (await fetch("/api/v1/stats/summary")).json();
    through = 0;
    if (summary.last_ledger) {
      through = summary.last_ledger - 1;
      const from = Math.max(through - KEEP_LEDGERS + 1, 1);
      const range = `from_ledger=${from}&to_ledger=${through}`;
      const vol = await (await fetch(`/api/v1/stats/volume?interval=ledger&${range}`)).json();
      for (const b of vol.buckets) {  // assets sharing a label add up, as live rows do in addVolume
        const label = assetLabel(b.asset, null);
        if (!volume.has(b.ledger)) volume.set(b.ledger, new Map());
        const cell = volume.get(b.ledger).get(label) || { raw: 0n, events: 0 };
        cell.raw += BigInt(b.volume_raw);
        cell.events += b.events;
        volume.get(b.ledger).set(label, cell);
      }
      const recent = await (await fetch(`/api/v1/transfers?order=desc&limit=30&event_type=${NON_FEE.join(",")}&to_ledger=${through}`)).json();
      addFeedRows(recent._embedded.records.reverse(), false);
    }
    const first = await (await fetch(`/api/v1/analytics/realtime?window=${shownWindow}`)).json();
    onAnalytics({ ...windows, [shownWindow]: first });
    const status = await (await fetch("/api/v1/status")).json();
    onStatus(status.progress);
  } catch (err) {
    console.error("initial load failed", err);
  }
  lastLedgerSeen = through;
  drawChart();
  connect();
}

start();
