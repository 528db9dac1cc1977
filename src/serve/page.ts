/**
 * @module serve/page
 * The dashboard page and its style, served as they are (no build step). The page loads uPlot and `app.js` from the
 * server itself; nothing comes from the network.
 */

export const INDEX_HTML = String.raw`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>syscall-anomaly — novel system-call sequences</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/uplot.js" defer></script>
<script src="/assets/app.js" defer></script>
</head>
<body>
<header>
  <h1>syscall-anomaly <small>novel system-call sequences</small></h1>
  <div id="conn" class="conn">connecting…</div>
</header>
<section id="cards" class="cards" aria-label="summary">
  <div class="card"><div class="k">model</div><div class="v" id="c-model">–</div><div class="s" id="c-model-s"></div></div>
  <div class="card"><div class="k" id="c-thr-k">threshold (perplexity)</div><div class="v" id="c-thr">–</div><div class="s" id="c-thr-s"></div></div>
  <div class="card"><div class="k">sequences scored</div><div class="v" id="c-seq">0</div><div class="s" id="c-seq-s"></div></div>
  <div class="card bad"><div class="k">novel (above threshold)</div><div class="v" id="c-novel">0</div><div class="s" id="c-novel-s"></div></div>
</section>
<main>
  <section class="panel chart-panel">
    <div class="panel-head">
      <h2>How novel each sequence is, over time</h2>
      <label class="run">source <select id="run"></select></label>
    </div>
    <p class="hint">Each dot is one sequence, placed at its last event. Perplexity measures how surprised the model
      trained on normal behaviour is (log scale; an ensemble's score is the mean of its members' perplexities, each as
      standard deviations of its ln perplexity on normal data, linear scale); dots above the <b class="thr">dashed red threshold</b> are
      <b class="novel">novel</b>. <b>Click a dot</b> (or an alert) to see why.</p>
    <div id="chart" role="img" aria-label="perplexity of sequences over time with the threshold line"></div>
    <p id="run-status" class="hint"></p>
  </section>
  <aside class="panel alerts-panel">
    <div class="panel-head"><h2>Alerts <span id="alert-count" class="count"></span></h2>
      <select id="alert-sort" aria-label="order of the alerts"><option value="time">newest first</option><option value="score">most above the threshold first</option></select></div>
    <p class="hint">Sequences whose perplexity (or ensemble score) passed the threshold (while running or at their end), with the system calls
      that carry most of their surprise.</p>
    <ol id="alerts"></ol>
  </aside>
</main>
<section id="detail" class="panel" hidden>
  <div class="panel-head"><h2 id="d-title"></h2><a id="d-page" target="_blank" rel="noopener">open as a page</a></div>
  <p id="d-summary"></p>
  <div class="detail-grid">
    <div>
      <h3>Which system calls carry the surprise</h3>
      <p class="hint">Share of the sequence's total surprise (−ln P of each event given the ones before it).</p>
      <div id="d-bars" class="bars"></div>
      <div id="d-fields"></div>
      <div id="d-facts"></div>
      <div id="d-attn-note"></div>
    </div>
    <div>
      <h3>Events, coloured by surprise</h3>
      <p class="legend">Surprise <span class="sw" style="background:rgba(220,38,38,.08)"></span> 0 <span class="d-unit">nats</span> (expected) …
        <span class="sw" style="background:rgba(220,38,38,.88)"></span> <span id="d-scale"></span> <span class="d-unit">nats</span>;
        a dark left edge marks the 5 most surprising<span id="d-attn-legend"></span>.</p>
      <div class="events-wrap"><table id="d-events"></table></div>
    </div>
  </div>
</section>
<section class="panel" id="score-panel">
  <h2>Score a trace offline</h2>
  <p class="hint">Any trace the tools read (CTF folder, perf, strace text, ADFA-LD, JSONL, .jsonl.gz), cut into
    sequences as the model was trained. Its sequences appear above as a new source.</p>
  <div class="forms">
    <form id="pick"><label>file under the data folder <input id="path" list="files" size="40" placeholder="e.g. web-demo/io.jsonl.gz"></label>
      <datalist id="files"></datalist> <button type="submit">Score</button></form>
    <form id="upload"><label>or upload <input id="file" type="file"></label> <button type="submit">Upload and score</button></form>
  </div>
  <p id="score-result" role="status"></p>
</section>
<footer id="foot"></footer>
</body>
</html>
`;

export const APP_CSS = String.raw`
:root{--bg:#f6f7f9;--panel:#fff;--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--red:#dc2626;--blue:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
header{display:flex;align-items:baseline;justify-content:space-between;padding:12px 20px;background:#111827;color:#fff}
header h1{margin:0;font-size:20px}
header small{font-weight:400;color:#9ca3af;margin-left:8px}
.conn{font-size:13px;color:#d1d5db}
.conn.ok::before{content:"● ";color:#22c55e}
.conn.bad::before{content:"● ";color:#f59e0b}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;padding:12px 20px 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.card .s{font-size:12px;color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card.bad .v{color:var(--red)}
main{display:grid;grid-template-columns:minmax(0,2.2fr) minmax(0,1fr);gap:12px;padding:12px 20px 0}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:0}
#detail,#score-panel{margin:12px 20px 0}
.panel-head{display:flex;justify-content:space-between;align-items:baseline;gap:12px}
h2{font-size:16px;margin:2px 0 4px}
h3{font-size:14px;margin:8px 0 2px}
.hint{color:var(--muted);font-size:12.5px;margin:2px 0 6px}
b.thr,b.novel{color:var(--red)}
.count:empty{display:none}
.count{background:var(--red);color:#fff;border-radius:10px;padding:0 8px;font-size:12px;vertical-align:middle}
.alerts-panel{display:flex;flex-direction:column;max-height:520px}
#alerts{list-style:none;margin:0;padding:0;overflow-y:auto;flex:1}
#alerts li{border:1px solid var(--line);border-left:4px solid var(--red);border-radius:6px;padding:5px 8px;margin:0 0 6px;cursor:pointer}
#alerts li:hover{background:#fef2f2}
#alerts li.sel{background:#fee2e2;border-color:var(--red)}
#alerts .top{display:flex;justify-content:space-between;gap:6px}
#alerts .id{font-family:ui-monospace,monospace;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#alerts .ppl{font-variant-numeric:tabular-nums;white-space:nowrap}
#alerts .pv{color:#64748b;font-size:.9em;white-space:nowrap}
#alerts .why{font-size:12.5px;color:#374151}
#alerts .why b{font-family:ui-monospace,monospace}
#alerts .meta{font-size:11.5px;color:var(--muted)}
.prio{font-size:11px;font-weight:700;border-radius:4px;padding:0 5px;color:#fff;background:#f59e0b}
.prio.Error{background:#ea580c}.prio.Critical{background:#b91c1c}
#alerts .empty{border:none;color:var(--muted);cursor:default}
.run select,#alert-sort{font:inherit;font-size:12.5px}
#chart{min-height:340px}
.empty-chart{color:var(--muted);padding:120px 20px;text-align:center}
.uplot{font-family:inherit}
.detail-grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2.2fr);gap:18px}
.bars .bar{display:grid;grid-template-columns:8em 1fr 12.5em;gap:6px;align-items:center;margin:3px 0;font-size:13px}
.bars .name{font-family:ui-monospace,monospace;font-weight:600;overflow:hidden;text-overflow:ellipsis}
.bars .track{background:#f3f4f6;border-radius:3px;height:14px}
.bars .fill{background:var(--red);height:14px;border-radius:3px}
.bars .fill.f{background:#7c3aed}
.bars .val{font-variant-numeric:tabular-nums;color:#374151;font-size:12px}
.events-wrap{max-height:460px;overflow:auto;border:1px solid var(--line);border-radius:6px}
#d-events{border-collapse:collapse;width:100%;font-size:12.5px}
#d-events th{position:sticky;top:0;background:#f3f4f6;text-align:left;padding:3px 6px;border-bottom:1px solid var(--line)}
#d-events td{padding:2px 6px;border-bottom:1px solid #f1f1f1;vertical-align:top}
#d-events .num{text-align:right;font-variant-numeric:tabular-nums}
.facts{border-collapse:collapse;font-size:12.5px;margin:4px 0 10px}.facts th,.facts td{padding:2px 8px;border-bottom:1px solid #e5e7eb;text-align:left}.facts .num{text-align:right;font-variant-numeric:tabular-nums}.facts small{color:#64748b}
#d-events .pr{white-space:nowrap}
#d-events .nm{font-family:ui-monospace,monospace;font-weight:600}
#d-events .args{font-family:ui-monospace,monospace;font-size:11.5px;color:#374151;max-width:38em;overflow-wrap:anywhere}
#d-events tr.top td:first-child{border-left:4px solid #7f1d1d}
#d-events tr.gap td{color:var(--muted);font-style:italic;background:#fafafa}
.legend .sw{display:inline-block;width:2.2em;height:.9em;vertical-align:middle;border:1px solid #ddd}
.badge{font-size:12px;font-weight:700;color:#fff;background:var(--red);border-radius:4px;padding:1px 6px;vertical-align:middle}
.badge.ok{background:#16a34a}
.forms{display:flex;flex-wrap:wrap;gap:18px;align-items:center}
.forms input,.forms button{font:inherit}
#score-result.err{color:var(--red);font-family:ui-monospace,monospace}
footer{color:var(--muted);font-size:12px;padding:10px 20px 20px}
@media (max-width:1000px){main,.detail-grid{grid-template-columns:1fr}.cards{grid-template-columns:repeat(2,1fr)}}
`;
