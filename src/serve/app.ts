/**
 * @module serve/app
 * The dashboard's script, served as it is to the browser (plain JavaScript, no build step, no template literals so
 * that it can live in this string). It opens the event stream (`/api/stream`: a snapshot, then batches), draws the
 * perplexity of every sequence of the chosen source over time with uPlot (log scale, normal dots blue, novel dots
 * red, the threshold as a dashed red line; for an ensemble its score on a linear scale, `info.scale`), lists the alerts, and on a click on a dot or an alert fetches the
 * sequence's explanation: the per-syscall share of surprise as bars, the events coloured by surprise, and the
 * attention of the most surprising event when the model has attention. The last form scores a trace file.
 */

export const APP_JS = String.raw`'use strict';
(function () {
  var RED = '#dc2626', BLUE = '#2563eb';
  var S = { info: {}, runs: {}, pts: {}, alerts: [], run: null, userPicked: false, sel: null, dirty: false, chartRun: null, chartThr: null };
  var plot = null;
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function num(x, d) {
    if (x === null || x === undefined || !isFinite(x)) return '–';
    if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
    return Number(x).toPrecision(d || 3);
  }
  // What the chart shows: the perplexity (log axis), or an ensemble's score (linear axis), with its threshold.
  function sc() {
    return S.info.scale || { name: 'perplexity', log: true, unit: 'nats', threshold: (S.info.threshold || {}).value };
  }
  // The threshold a run's sequences are held to, as shown: the live input's own once its baseline is complete
  // (serve --warm-up), else the model's.
  function thrOf(run) {
    var r = S.runs[run];
    return r && r.threshold ? r.threshold.value : sc().threshold;
  }
  // How far a score is above its threshold: a ratio of perplexities, a difference of ensemble scores.
  function above(score, threshold) {
    if (sc().log) return num(score / threshold, 2) + '× threshold';
    return score >= threshold ? '+' + num(score - threshold, 3) + ' over the threshold' : num(threshold - score, 3) + ' below the threshold';
  }
  function pct(x) { return (100 * x).toFixed(x >= 0.1 ? 0 : 1) + ' %'; }
  function shade(v, max) {
    var t = max > 0 ? Math.min(1, Math.max(0, v / max)) : 0;
    return 'background:rgba(220,38,38,' + (0.08 + 0.8 * t).toFixed(3) + ')';
  }
  function fmtTime(x, run) {
    if (!run || !run.timeAxis) return 'sequence #' + x;
    var d = new Date(x * 1000);
    return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  // ---- data per run: points kept sorted by x
  function series(run) {
    var s = S.pts[run];
    if (!s) s = S.pts[run] = { x: [], y: [], nov: [], key: [], id: [] };
    return s;
  }
  function lowerBound(a, v) {
    var lo = 0, hi = a.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (a[m] < v) lo = m + 1; else hi = m; }
    return lo;
  }
  function addPoint(p) {
    var s = series(p.run);
    var i = s.x.length && s.x[s.x.length - 1] > p.x ? lowerBound(s.x, p.x + 1e-12) : s.x.length;
    s.x.splice(i, 0, p.x); s.y.splice(i, 0, sc().log ? (p.score > 0 ? p.score : null) : (isFinite(p.score) ? p.score : null));
    s.nov.splice(i, 0, p.novel); s.key.splice(i, 0, p.key); s.id.splice(i, 0, p.id);
  }

  // ---- chart
  function makePlot(run) {
    var el = $('chart');
    el.innerHTML = '';
    var thr = { value: thrOf(run) }, log = sc().log;
    S.chartThr = thr.value;
    var timeAxis = !!(S.runs[run] && S.runs[run].timeAxis);
    var opts = {
      width: Math.max(300, el.clientWidth), height: 340,
      scales: {
        x: { time: timeAxis },
        y: {
          distr: log ? 3 : 1,
          // Room around the dots, and the threshold always in view.
          range: function (u, min, max) {
            var t = isFinite(thr.value) && (!log || thr.value > 0) ? thr.value : min;
            var lo = Math.min(min === null ? t : min, t), hi = Math.max(max === null ? t : max, t);
            if (log) return [Math.max(1e-9, lo / 1.3), hi * 1.3];
            var pad = Math.max(0.1 * (hi - lo), 0.5);
            return [lo - pad, hi + pad];
          }
        }
      },
      axes: [
        { label: timeAxis ? 'time of the sequence\'s last event' : 'sequence (in stream order)', labelSize: 22 },
        { label: sc().name + (log ? ' (log scale)' : ''), labelSize: 22, size: 60, values: function (u, splits) { return splits.map(function (v) { return v === null || v === undefined ? '' : num(v, 3); }); } }
      ],
      series: [
        { label: timeAxis ? 'time' : '#', value: function (u, v, si, idx) {
          if (v === null || v === undefined) return '–';
          var ids = S.chartIds || [];
          return fmtTime(v, S.runs[run]) + (idx !== null && idx !== undefined && ids[idx] !== undefined ? ' · ' + ids[idx] : '');
        } },
        { label: 'normal sequence', stroke: BLUE, paths: function () { return null; }, value: function (u, v) { return num(v, 4); },
          points: { show: true, size: 5, width: 1, stroke: BLUE, fill: 'rgba(37,99,235,.35)' } },
        { label: 'novel sequence', stroke: RED, paths: function () { return null; }, value: function (u, v) { return num(v, 4); },
          points: { show: true, size: 7, width: 1, stroke: '#7f1d1d', fill: RED } },
        { label: 'threshold ' + num(thr.value, 4), stroke: RED, width: 2, dash: [8, 5], points: { show: false },
          value: function () { return num(thr.value, 4); } }
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [drawSelection] }
    };
    plot = new uPlot(opts, chartData(run), el);
    S.chartRun = run;
    var down = null;
    plot.over.addEventListener('mousedown', function (e) { down = [e.clientX, e.clientY]; });
    plot.over.addEventListener('click', function (e) {
      if (down && Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) > 4) return; // a zoom drag
      var r = plot.over.getBoundingClientRect();
      var k = nearestPoint(e.clientX - r.left, e.clientY - r.top);
      if (k) showDetail(k);
    });
  }
  function chartData(run) {
    var s = series(run), n = s.x.length, thr = thrOf(run);
    var normal = new Array(n), novel = new Array(n), line = new Array(n);
    for (var i = 0; i < n; i++) {
      normal[i] = s.nov[i] ? null : s.y[i];
      novel[i] = s.nov[i] ? s.y[i] : null;
      line[i] = thr;
    }
    S.chartIds = s.id.slice(); // the ids of the data the chart holds (the legend names the hovered sequence)
    return [s.x.slice(), normal, novel, line];
  }
  function nearestPoint(left, top) {
    if (!plot || left === undefined || left < 0) return null;
    var s = series(S.chartRun), best = null, bestD = 14 * 14;
    var lo = lowerBound(s.x, plot.posToVal(left - 14, 'x'));
    var hiX = plot.posToVal(left + 14, 'x');
    for (var i = lo; i < s.x.length && s.x[i] <= hiX; i++) {
      if (s.y[i] === null) continue;
      var dx = plot.valToPos(s.x[i], 'x') - left, dy = plot.valToPos(s.y[i], 'y') - top;
      var d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = s.key[i]; }
    }
    return best;
  }
  function drawSelection(u) {
    if (!S.sel || S.chartRun === null) return;
    var s = series(S.chartRun), i = s.key.indexOf(S.sel);
    if (i < 0 || s.y[i] === null) return;
    var cx = u.valToPos(s.x[i], 'x', true), cy = u.valToPos(s.y[i], 'y', true), r = 9 * devicePixelRatio;
    var ctx = u.ctx;
    ctx.save(); ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.lineWidth = 2.5 * devicePixelRatio; ctx.strokeStyle = '#111827'; ctx.stroke(); ctx.restore();
  }
  function redraw() {
    S.dirty = false;
    if (S.run === null) {
      $('chart').innerHTML = '<p class="empty-chart">Nothing scored yet: start <code>serve</code> with live input ' +
        '(<code>--input TRACE</code>, <code>--input -</code>, <code>--strace</code>), or score a trace below.</p>';
      renderCards(); renderAlerts();
      return;
    }
    if (!plot || S.chartRun !== S.run || S.chartThr !== thrOf(S.run)) makePlot(S.run);
    else plot.setData(chartData(S.run), true);
    renderCards(); renderAlerts(); renderRuns();
  }
  function later() {
    if (S.dirty) return;
    S.dirty = true;
    setTimeout(redraw, 250);
  }

  // ---- header cards, run picker, alerts
  function renderCards() {
    var info = S.info, r = S.runs[S.run];
    $('c-model').textContent = info.kind || '–';
    $('c-model-s').textContent = (info.modelDir || '') + (info.segmentation ? ' · one sequence per ' + info.segmentation : '');
    $('c-model-s').title = $('c-model-s').textContent;
    $('c-thr-k').textContent = 'threshold (' + sc().name + ')';
    $('c-thr').textContent = num(thrOf(S.run), 4);
    $('c-thr-s').textContent = r && r.threshold ? r.threshold.name
      : info.warmUp && r && r.kind === 'live' ? 'warming up: the first ' + info.warmUp.sequences + ' live sequences' +
        (info.warmUp.skip ? ' after ' + info.warmUp.skip : '') + ' will set it; until then nothing alerts'
      : (info.threshold || {}).name || '';
    $('c-seq').textContent = r ? r.sequences.toLocaleString('en-US') : '0';
    $('c-seq-s').textContent = r ? r.label + ' · ' + r.status : '';
    $('c-seq-s').title = $('c-seq-s').textContent;
    $('c-novel').textContent = r ? r.novel.toLocaleString('en-US') : '0';
    $('c-novel-s').textContent = r && r.sequences ? pct(r.novel / r.sequences) + ' of the sequences' : '';
    var st = '';
    if (r) {
      st = r.kind + ' source ' + r.label + ': ' + r.status + ', ' + r.sequences.toLocaleString('en-US') + ' sequences, ' +
        r.events.toLocaleString('en-US') + ' events';
      if (r.error) st += ' — error: ' + r.error;
    }
    $('run-status').textContent = st;
  }
  function renderRuns() {
    var sel = $('run'), ids = Object.keys(S.runs).map(Number).sort(function (a, b) { return a - b; });
    var html = ids.map(function (id) {
      var r = S.runs[id];
      return '<option value="' + id + '"' + (id === S.run ? ' selected' : '') + '>' + esc(r.kind + ': ' + r.label) +
        (r.status === 'running' ? ' (running)' : r.status === 'failed' ? ' (failed)' : '') + '</option>';
    }).join('');
    if (sel.innerHTML !== html) sel.innerHTML = html;
  }
  function renderAlerts() {
    var list = S.alerts.filter(function (a) { return a.run === S.run; });
    $('alert-count').textContent = list.length ? String(list.length) : '';
    if (!list.length) {
      $('alerts').innerHTML = '<li class="empty">No alerts for this source (yet).</li>';
      return;
    }
    var shown = $('alert-sort').value === 'score'
      ? list.slice().sort(sc().log ? function (a, b) { return b.score / b.scoreThreshold - a.score / a.scoreThreshold; }
        : function (a, b) { return (b.score - b.scoreThreshold) - (a.score - a.scoreThreshold); }).slice(0, 200)
      : list.slice(-200).reverse();
    var html = shown.map(function (a) {
      var why = a.culprits.map(function (c) {
        return '<b>' + esc(c.name) + '</b> ' + (c.share !== undefined ? pct(c.share) : num(c.nats, 3) + ' ' + esc(sc().unit));
      }).join(' · ');
      var f = a.falco.output_fields;
      return '<li data-key="' + esc(a.key) + '"' + (a.key === S.sel ? ' class="sel"' : '') + '>' +
        '<div class="top"><span class="id" title="' + esc(a.id) + '">' + esc(a.id) + '</span>' +
        '<span class="prio ' + esc(a.falco.priority) + '">' + esc(a.falco.priority) + '</span></div>' +
        '<div><span class="ppl">' + esc(sc().name) + ' <b>' + num(a.score, 4) + '</b> = ' + above(a.score, a.scoreThreshold) + '</span>' +
        (f['seq.p_value'] !== undefined ? ' <span class="pv">p = ' + num(f['seq.p_value'], 2) + '</span>' : '') + '</div>' +
        '<div class="why">' + why + '</div>' +
        '<div class="meta">' + esc(f['proc.name'] || '') + ' pid ' + esc(f['proc.pid']) + ' · ' + esc(f['seq.length']) +
        (f['seq.final'] === false ? ' events so far' : ' events') + ' · ' +
        esc(a.falco.time.slice(11, 23)) + '</div></li>';
    }).join('');
    $('alerts').innerHTML = html + (list.length > 200 ? '<li class="empty">… and ' + (list.length - 200) + ' older</li>' : '');
  }
  $('alerts').addEventListener('click', function (e) {
    var li = e.target.closest('li[data-key]');
    if (li) showDetail(li.getAttribute('data-key'));
  });
  $('alert-sort').addEventListener('change', renderAlerts);
  $('run').addEventListener('change', function () {
    S.run = Number($('run').value); S.userPicked = true; redraw();
  });

  // ---- detail
  function showDetail(key) {
    S.sel = key;
    if (plot) plot.redraw(false, false);
    renderAlerts();
    var d = $('detail');
    fetch('/api/sequences/' + encodeURIComponent(key).replace('%3A', ':')).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
    }).then(function (j) { renderDetail(j); d.hidden = false; d.scrollIntoView({ behavior: 'smooth', block: 'start' }); })
      .catch(function (e) { $('d-title').textContent = 'Sequence ' + key; $('d-summary').textContent = String(e.message || e); d.hidden = false; });
  }
  function attentionRow(j, from) {
    if (!j.attention || !j.attention.length) return null;
    var row = null;
    j.attention.forEach(function (r) { if (r.from === from) row = r; });
    if (!row) return null;
    var w = {}, max = 0;
    for (var i = 0; i < row.to.length; i++) { w[row.to[i]] = row.weight[i]; if (row.weight[i] > max) max = row.weight[i]; }
    return { of: from, w: w, max: max };
  }
  function renderDetail(j, from) {
    var e = j.explanation, thr = j.threshold.value;
    S.detail = j;
    // Colour scale: 0 nats … the most surprising event, or 3× the mean surprise per event at the threshold when that
    // is larger (so that a sequence where nothing stands out is not painted dark).
    var scale = Math.max(j.maxNll, thr > 1 ? 3 * Math.log(thr) : 0);
    $('d-scale').textContent = num(scale, 3);
    if (from === undefined) from = e.top.length ? e.top[0].index : 0;
    $('d-title').innerHTML = 'Sequence <code>' + esc(j.id) + '</code> ' + (j.novel ? '<span class="badge">NOVEL</span>' : '<span class="badge ok">normal</span>');
    $('d-page').href = '/api/sequences/' + j.key + '/page';
    var first = j.rows[0] || {};
    var unit = esc(e.unit ? e.unit.name : 'nats'), shownThr = thrOf(j.run);
    Array.prototype.forEach.call(document.querySelectorAll('.d-unit'), function (el) { el.innerHTML = unit; });
    $('d-summary').innerHTML = esc(sc().name.charAt(0).toUpperCase() + sc().name.slice(1)) + ' <b>' + num(j.score, 4) + '</b>' + (j.warmUp ? ',' : j.novel ? ' &gt;' : ' ≤') +
      ' threshold ' + num(shownThr, 4) + ' (' + above(j.score, shownThr) + '). ' + e.events + ' events' + (e.truncated ? ' (cut at the maximum length)' : '') +
      (first.proc !== undefined ? ' of ' + esc(first.proc) + ' pid ' + first.pid : '') + '; mean surprise ' + num(e.score, 3) +
      ' ' + unit + ' per token, end of sequence ' + num(e.endNll, 3) + ' ' + unit + '.' + (e.unit ? ' ' + esc(e.unit.legend) : '') +
      (j.sure ? ' How sure: ' + esc(j.sure) + '.' : '') + (j.warmUp ? ' Part of the live baseline (taken as normal).' : '') +
      (j.shownRows < e.events ? ' Showing the ' + j.shownRows + ' events around the most surprising ones.' : '');
    $('d-bars').innerHTML = j.culprits.map(function (c) {
      var s = e.bySyscall.filter(function (b) { return b.name === c.name; })[0] || {};
      return '<div class="bar"><span class="name" title="' + esc(c.name) + '">' + esc(c.name) + '</span><span class="track"><span class="fill" style="display:block;width:' +
        (100 * c.share).toFixed(1) + '%"></span></span><span class="val">' + pct(c.share) + ' · ' + c.count + ' call' + (c.count === 1 ? '' : 's') +
        ' · max ' + num(s.maxNll, 2) + '</span></div>';
    }).join('');
    $('d-fields').innerHTML = e.byField.length > 1 ? '<h3>' + (e.unit ? 'Which member carries it' : 'Which fields carry it') + '</h3><div class="bars">' + e.byField.map(function (f) {
      return '<div class="bar"><span class="name">' + esc(f.field) + '</span><span class="track"><span class="fill f" style="display:block;width:' +
        (100 * f.share).toFixed(1) + '%"></span></span><span class="val">' + pct(f.share) + '</span></div>';
    }).join('') + '</div>' : '';
    $('d-facts').innerHTML = j.facts ? '<h3>What the model measured, against normal</h3><table class="facts"><tr><th>feature</th><th>this sequence</th><th>normal</th><th>z</th><th>surprise</th></tr>' +
      j.facts.map(function (f) {
        return '<tr><td title="' + esc(f.what) + '">' + esc(f.name) + ' <small>' + esc(f.what) + '</small></td><td class="num">' + num(f.value, 4) + ' ' + esc(f.unit) +
          '</td><td class="num">~' + num(f.normal, 4) + ' ' + esc(f.unit) + '</td><td class="num">' + (f.z >= 0 ? '+' : '') + num(f.z, 3) + '</td><td class="num">' + num(f.surprise, 3) + '</td></tr>';
      }).join('') + '</table>' + j.facts.filter(function (f, i) { return f.against && j.facts.findIndex(function (g) { return g.against === f.against; }) === i; })
        .map(function (f) { return '<p class="hint">Normal: ' + esc(f.against) + '.</p>'; }).join('') : '';
    var att = attentionRow(j, from);
    $('d-attn-note').innerHTML = att ? '<p class="hint">Attention (last block, heads averaged): the purple column shows which earlier events the model ' +
      'looked at when predicting event #' + att.of + ' (outlined). Click an event to see its attention.</p>' : '';
    $('d-attn-legend').textContent = att ? '; purple: attention from event #' + att.of : '';
    var topSet = {};
    e.top.slice(0, 5).forEach(function (t) { topSet[t.index] = true; });
    var fields = j.fields || [];
    var head = '<tr><th>#</th><th>µs</th><th>process pid/tid</th><th>syscall</th><th>arguments</th><th>ret</th><th>surprise</th>' +
      fields.map(function (f) { return '<th>' + esc(f) + '</th>'; }).join('') + (att ? '<th>attention</th>' : '') + '</tr>';
    var out = [head], prev = -1, cols = 7 + fields.length + (att ? 1 : 0);
    j.rows.forEach(function (r) {
      if (r.i !== prev + 1) out.push('<tr class="gap"><td colspan="' + cols + '">… ' + (r.i - prev - 1) + ' events not shown …</td></tr>');
      prev = r.i;
      var fc = (r.fields || []).map(function (v) { return '<td class="num" style="' + shade(v, scale) + '">' + num(v, 3) + '</td>'; }).join('');
      var ac = att ? '<td class="num" style="background:rgba(124,58,237,' + (att.max > 0 && att.w[r.i] !== undefined ? (0.85 * att.w[r.i] / att.max).toFixed(3) : 0) + ')">' +
        (att.w[r.i] !== undefined ? num(att.w[r.i], 2) : '') + '</td>' : '';
      out.push('<tr data-i="' + r.i + '" style="' + shade(r.nll, scale) + (att && r.i === att.of ? ';outline:2px solid #7c3aed' : '') + '"' +
        (topSet[r.i] ? ' class="top"' : '') + '><td class="num">' + r.i + '</td><td class="num">' +
        num(r.us, 4) + '</td><td class="pr">' + esc(r.proc) + ' ' + r.pid + '/' + r.tid + '</td><td class="nm">' + esc(r.name) + '</td><td class="args">' +
        esc(r.args) + '</td><td class="num">' + esc(r.ret) + '</td><td class="num">' + num(r.nll, 3) + '</td>' + fc + ac + '</tr>');
    });
    if (prev < e.events - 1) out.push('<tr class="gap"><td colspan="' + cols + '">… ' + (e.events - 1 - prev) + ' events not shown …</td></tr>');
    $('d-events').innerHTML = out.join('');
  }

  $('d-events').addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr[data-i]');
    if (tr && S.detail && S.detail.attention) renderDetail(S.detail, Number(tr.getAttribute('data-i')));
  });

  // ---- event stream
  function applyRuns(runs) {
    runs.forEach(function (r) { S.runs[r.id] = r; });
    if (!S.userPicked || S.run === null || !S.runs[S.run]) {
      var ids = Object.keys(S.runs).map(Number);
      if (ids.length) S.run = Math.max.apply(null, ids);
    }
  }
  function connect() {
    var es = new EventSource('/api/stream');
    es.addEventListener('open', function () { $('conn').textContent = 'live'; $('conn').className = 'conn ok'; });
    es.addEventListener('error', function () { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn bad'; });
    es.addEventListener('snapshot', function (m) {
      var d = JSON.parse(m.data);
      S.info = d.info; S.runs = {}; S.pts = {}; S.alerts = d.alerts; plot = null; S.chartRun = null;
      applyRuns(d.runs);
      d.points.forEach(addPoint);
      $('foot').textContent = 'Data folder: ' + (d.info.dataDir || '') + ' · uploads up to ' + Math.round((d.info.maxUploadBytes || 0) / 1048576) +
        ' MiB · the last ' + d.keptSequences + ' sequences (novel ones first) can be explained' +
        (d.dropped.points ? ' · ' + d.dropped.points + ' old points dropped' : '');
      redraw();
    });
    es.addEventListener('batch', function (m) {
      var d = JSON.parse(m.data);
      applyRuns(d.runs);
      d.points.forEach(addPoint);
      d.alerts.forEach(function (a) {
        for (var i = S.alerts.length - 1; i >= Math.max(0, S.alerts.length - 500); i--) {
          if (S.alerts[i].key === a.key) { S.alerts[i] = a; return; } // refined culprits
        }
        S.alerts.push(a);
      });
      if (S.alerts.length > 5000) S.alerts.splice(0, S.alerts.length - 5000);
      later();
    });
  }

  // ---- scoring a trace
  function scored(r) {
    return r.json().then(function (j) {
      if (!r.ok) throw new Error(j.error || r.statusText);
      S.run = j.run.id; S.userPicked = true;
      var s = j.run.summary || {};
      $('score-result').className = '';
      $('score-result').textContent = j.run.label + ' (' + (s.format || '?') + '): ' + j.run.sequences + ' sequences, ' + j.run.novel + ' novel' +
        (s.truncated ? ', ' + s.truncated + ' cut at the maximum length' : '') + (s.unassigned ? ', ' + s.unassigned + ' events outside any sequence' : '') +
        (s.lost ? ', ' + s.lost + ' events lost by the tracer' : '') + '.';
      redraw();
    });
  }
  function failed(e) { $('score-result').className = 'err'; $('score-result').textContent = String(e.message || e); }
  $('pick').addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('score-result').className = ''; $('score-result').textContent = 'scoring…';
    fetch('/api/score', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ path: $('path').value }) })
      .then(scored).catch(failed);
  });
  $('upload').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = $('file').files[0];
    if (!f) { failed('choose a file first'); return; }
    $('score-result').className = ''; $('score-result').textContent = 'uploading and scoring…';
    fetch('/api/upload?name=' + encodeURIComponent(f.name), { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: f })
      .then(scored).catch(failed);
  });
  function listFiles(dir, depth) {
    fetch('/api/files?dir=' + encodeURIComponent(dir)).then(function (r) { return r.ok ? r.json() : { entries: [] }; }).then(function (j) {
      var dl = $('files');
      j.entries.forEach(function (e) {
        if (e.dir && depth > 0) listFiles(e.path, depth - 1);
        var o = document.createElement('option'); o.value = e.path; dl.appendChild(o);
      });
    });
  }

  // For tests and the console: the chart and the state.
  window.saDashboard = { plot: function () { return plot; }, state: S };
  window.addEventListener('resize', function () { if (plot) plot.setSize({ width: Math.max(300, $('chart').clientWidth), height: 340 }); });
  listFiles('', 1);
  connect();
})();
`;
