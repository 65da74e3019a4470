#include "proxy/admin/status/status_page.hpp"

namespace pgdual::proxy::status {

namespace {

constexpr std::string_view kHtml = R"PAGE(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgdual status</title>
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header>
  <h1>pgdual <span id="version"></span></h1>
  <p id="summary">instance <b id="instance">?</b> &middot; phase <b id="phase">?</b> &middot;
    strategy <b id="strategy">?</b> &middot; primary <b id="primary">?</b>
    <span id="paused" hidden>&middot; <b class="bad">PAUSED</b></span></p>
  <p id="updated">loading&hellip;</p>
  <p id="error" class="bad" hidden></p>
</header>
<section>
  <h2>Stores and journal</h2>
  <table id="overview"><tbody></tbody></table>
</section>
<section>
  <h2>Tables</h2>
  <table id="tables">
    <thead><tr><th>table</th><th>phase</th><th>backfill</th><th>ETA</th><th>match rate</th>
      <th>most differing columns</th><th>unresolved</th><th>drift</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section>
  <h2>Cutover checklist <span id="cutover-verdict"></span></h2>
  <table id="checklist">
    <thead><tr><th></th><th>criterion</th><th>scope</th><th>measured</th><th>needs</th>
      <th>source</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section>
  <h2>Fleet</h2>
  <table id="instances">
    <thead><tr><th>instance</th><th>phase</th><th>state</th><th>heartbeat</th><th>journal</th>
      </tr></thead>
    <tbody></tbody>
  </table>
</section>
</body>
</html>
)PAGE";

constexpr std::string_view kStyle =
    R"PAGE(body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2228; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; min-width: 40em; }
th, td { text-align: left; padding: .25em .7em; border-bottom: 1px solid #d9dde2; }
th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #c0262d; font-weight: 600; }
.dim { color: #6a737d; }
#updated { color: #6a737d; margin: 0; }
)PAGE";

constexpr std::string_view kScript = R"PAGE('use strict';
// Fills the page from /status.json (docs/operations.md). Values go in with textContent only.
const REFRESH_MS = 3000;

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? '-' : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableId, items, addRow) {
  const body = document.querySelector('#' + tableId + ' tbody');
  body.replaceChildren();
  for (const item of items) addRow(body.insertRow(), item);
}

function percent(fraction) {
  return fraction === null || fraction === undefined ? '-' : (fraction * 100).toFixed(2) + '%';
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  const s = Math.round(seconds);
  if (seconds < 10) return seconds.toFixed(1) + 's';
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm';
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i + 1 < units.length) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

function render(s) {
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  text('version', s.version);
  text('instance', s.instance);
  text('phase', s.migration.phase);
  text('strategy', s.migration.strategy);
  text('primary', s.migration.primary);
  document.getElementById('paused').hidden = !(s.migration.admin_paused || s.migration.fleet_paused);
  text('updated', 'updated ' + new Date(s.generated_at_unix_ms).toLocaleTimeString() +
       ', up ' + duration(s.uptime_seconds));

  const st = s.stores, j = s.journal;
  const overview = [
    ['old store', st.old_up ? 'up' : 'DOWN', st.old_up],
    ['new store', st.new_up ? 'up' : 'DOWN', st.new_up],
    ['secondary', st.secondary_healthy ? 'healthy' : 'not healthy', st.secondary_healthy],
    ['client connections', st.client_connections],
    ['writes old (ok / error)', st.writes_ok_old + ' / ' + st.writes_error_old],
    ['writes new (ok / error)', st.writes_ok_new + ' / ' + st.writes_error_new],
    ['journal', j.enabled ? j.depth_records + ' transactions, ' + bytes(j.depth_bytes) +
      ', oldest ' + duration(j.oldest_age_seconds) : 'off'],
    ['dead letters', j.dead_letters_total, j.dead_letters_total === 0],
    ['reconciliation queue', j.reconciliation_queue_depth, j.reconciliation_queue_depth === 0],
  ];
  for (const [type, n] of Object.entries(st.secondary_failures)) {
    overview.push(['secondary failures: ' + type, n, n === 0]);
  }
  for (const r of s.replication) {
    overview.push(['replication ' + r.database, bytes(r.lag_bytes) + ' / ' +
      duration(r.lag_seconds) + ', slot keeps ' + bytes(r.slot_retained_bytes), r.ready]);
  }
  fill('overview', overview, (row, [name, value, good]) => {
    cell(row, name);
    cell(row, value, good === undefined ? '' : (good ? 'ok' : 'bad'));
  });

  fill('tables', s.tables, (row, t) => {
    row.dataset.table = t.table;
    cell(row, t.table);
    cell(row, t.phase);
    cell(row, t.backfill.state ? t.backfill.state + ' ' + percent(t.backfill.ratio) : '-');
    cell(row, duration(t.backfill.eta_seconds));
    const rate = t.shadow.match_rate;
    cell(row, percent(rate), rate === null ? '' : (rate >= 0.999 ? 'ok' : 'bad'));
    cell(row, t.shadow.top_mismatched_columns.map(c => c.column + ' (' + c.count + ')').join(', ') || '-');
    cell(row, t.reconciliation.unresolved, 'num');
    cell(row, t.reconciliation.drift_risk_total + t.reconciliation.divergences_total, 'num');
  });

  const c = s.cutover;
  const verdict = document.getElementById('cutover-verdict');
  verdict.textContent = !c.measured ? '(not measured yet)' :
    (c.ready ? 'READY' : 'NOT READY') + ' (measured ' + duration(c.age_seconds) + ' ago)';
  verdict.className = c.measured ? (c.ready ? 'ok' : 'bad') : 'dim';
  fill('checklist', c.checklist, (row, item) => {
    row.dataset.criterion = item.criterion;
    cell(row, item.ok ? 'ok' : 'FAIL', item.ok ? 'ok' : 'bad');
    cell(row, item.criterion);
    cell(row, item.database || 'fleet');
    cell(row, item.measured);
    cell(row, item.threshold);
    cell(row, item.source, 'dim');
  });
  fill('instances', s.instances, (row, i) => {
    row.dataset.instance = i.instance;
    cell(row, i.instance + (i.this_instance ? ' (this)' : ''));
    cell(row, i.phase);
    cell(row, i.state, i.state === 'live' ? 'ok' : 'bad');
    cell(row, duration(i.heartbeat_age_seconds) + ' ago');
    cell(row, i.journal_depth, 'num');
  });
}

async function refresh() {
  const error = document.getElementById('error');
  try {
    const response = await fetch('/status.json', {cache: 'no-store'});
    if (!response.ok) throw new Error('HTTP ' + response.status);
    render(await response.json());
    error.hidden = true;
  } catch (e) {
    error.textContent = 'cannot read /status.json: ' + e.message;
    error.hidden = false;
  }
  document.body.dataset.loaded = 'true';
}

refresh();
setInterval(refresh, REFRESH_MS);
)PAGE";

}  // namespace

std::string_view page_html() { return kHtml; }
std::string_view page_script() { return kScript; }
std::string_view page_style() { return kStyle; }

}  // namespace pgdual::proxy::status
