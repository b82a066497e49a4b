// Earshot's own script: GOV.UK Frontend components, charts with their tables, sortable tables
// with CSV download, and the live alert feed. Loaded as a module from this origin (the page's
// Content Security Policy allows no inline script but the nonce'd class switch in base.html).
// Text from strangers is only ever put into the page as text (textContent) or as HTML the
// server rendered with escaping.

import('/static/vendor/govuk/govuk-frontend.min.js')
  .then(function (govuk) { govuk.initAll(); })
  .catch(function () { /* styling only: the pages work without it */ });

function csrfToken() {
  var meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

// ------------------------------------------------------------------ charts
function drawCharts(root) {
  if (!window.Plotly) { return; }
  root.querySelectorAll('[data-plotly]').forEach(function (el) {
    if (el.dataset.drawn) { return; }
    var src = document.getElementById(el.dataset.plotly);
    if (!src) { return; }
    var fig = JSON.parse(src.textContent);
    el.dataset.drawn = '1';
    window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false, displayModeBar: false });
    if (el.dataset.postsUrl) {
      el.on('plotly_click', function (ev) {
        if (!ev.points || !ev.points.length) { return; }
        var pt = ev.points[0];
        var url = new URL(el.dataset.postsUrl, window.location.href);
        url.searchParams.set('point', String(pt.customdata !== undefined ? pt.customdata : pt.x));
        var target = document.getElementById(el.dataset.postsTarget);
        target.textContent = 'Loading the posts behind this point…';
        fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
          .then(function (html) {
            var t = document.createElement('template');
            t.innerHTML = html; // rendered and escaped by the server
            target.replaceChildren(t.content);
            var h = target.querySelector('h3, h4');
            if (h) { h.setAttribute('tabindex', '-1'); h.focus(); }
          })
          .catch(function () { target.textContent = 'The posts could not be loaded.'; });
      });
    }
  });
}

// ------------------------------------------------------------------ tables
function cellValue(td, numeric) {
  if (numeric) {
    var v = td.getAttribute('data-sort');
    return v === null ? -Infinity : parseFloat(v);
  }
  return td.textContent.trim().toLowerCase();
}

function makeSortable(wrap) {
  var table = wrap.querySelector('table');
  if (!table || table.dataset.sortable) { return; }
  table.dataset.sortable = '1';
  var headers = table.querySelectorAll('thead th');
  headers.forEach(function (th, col) {
    if (th.hasAttribute('data-no-sort')) { return; }
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'earshot-sort-button';
    button.textContent = th.textContent;
    th.textContent = '';
    th.appendChild(button);
    button.addEventListener('click', function () {
      var numeric = th.dataset.numeric === '1';
      var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      headers.forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', dir);
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        if (!a.cells[col] || !b.cells[col]) { return 0; }
        var x = cellValue(a.cells[col], numeric), y = cellValue(b.cells[col], numeric);
        var c = x < y ? -1 : x > y ? 1 : 0;
        return dir === 'ascending' ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var dl = wrap.querySelector('[data-csv-download]');
  if (dl) {
    dl.hidden = false;
    dl.addEventListener('click', function () { downloadCsv(table); });
  }
}

function csvCell(text) {
  var t = text.replace(/\s+/g, ' ').trim();
  if (/^[=+\-@\t\r]/.test(t)) { t = "'" + t; } // never a spreadsheet formula
  return '"' + t.replace(/"/g, '""') + '"';
}

function downloadCsv(table) {
  var lines = [];
  table.querySelectorAll('tr').forEach(function (tr) {
    var cells = [];
    tr.querySelectorAll('th, td').forEach(function (c) {
      if (!c.hasAttribute('data-csv-skip')) { cells.push(csvCell(c.textContent)); }
    });
    lines.push(cells.join(','));
  });
  var blob = new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' });
  var a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = (table.id || 'table') + '.csv';
  document.body.appendChild(a);
  a.click();
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
}

// ------------------------------------------------------------------ live alerts
function beep() {
  try {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    var ctx = new Ctx();
    var o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = 880; g.gain.value = 0.15;
    o.connect(g); g.connect(ctx.destination);
    o.start(); o.stop(ctx.currentTime + 0.4);
  } catch (e) { /* no audio: the visible cue stays */ }
}

function liveAlerts(box) {
  var status = document.getElementById('live-status');
  var feed = document.getElementById('live-feed');
  var cards = document.getElementById('alert-cards');
  var pauseButton = document.getElementById('live-pause');
  var sound = document.getElementById('live-sound');
  var banner = document.getElementById('critical-banner');
  var canAct = box.dataset.canAct === '1';
  var paused = false, held = [];
  var url = new URL(box.dataset.stream, window.location.href);
  url.searchParams.set('after', box.dataset.lastEventId || '0');

  function setStatus(text) { status.textContent = text; }

  function placeCard(msg) {
    var old = document.getElementById('alert-' + msg.alert_id);
    if (msg.state === 'resolved') {
      if (old) { old.remove(); }
    } else if (msg.html) {
      var t = document.createElement('template');
      t.innerHTML = msg.html; // rendered and escaped by the server
      var el = t.content.firstElementChild;
      el.querySelectorAll('input[name="csrf_token"]').forEach(function (i) { i.value = csrfToken(); });
      if (!canAct) { el.querySelectorAll('[data-press-only]').forEach(function (f) { f.remove(); }); }
      if (old) { old.replaceWith(el); } else { cards.prepend(el); }
      var none = document.getElementById('no-alerts');
      if (none) { none.remove(); }
    }
    var n = cards.querySelectorAll('.earshot-alert').length;
    document.getElementById('open-count').textContent = n + ' unresolved';
  }

  // the 24-hour charts: read again from the server (which topics, in which order, their counts and
  // bands) a moment after the last of a burst of events
  var chartsBox = document.getElementById('day-charts');
  var chartsTimer = null;
  function refreshCharts() {
    if (!chartsBox) { return; }
    clearTimeout(chartsTimer);
    chartsTimer = setTimeout(function () {
      fetch(chartsBox.dataset.chartsUrl, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) {
          var t = document.createElement('template');
          t.innerHTML = html; // rendered and escaped by the server
          chartsBox.querySelectorAll('[data-plotly]').forEach(function (el) {
            if (window.Plotly) { window.Plotly.purge(el); }
          });
          chartsBox.replaceChildren(t.content);
          chartsBox.querySelectorAll('[data-sortable-table]').forEach(makeSortable);
          drawCharts(chartsBox);
          chartsBox.dataset.redrawn = String((parseInt(chartsBox.dataset.redrawn || '0', 10)) + 1);
        })
        .catch(function () { /* the charts stay as they were; the next event tries again */ });
    }, 300);
  }

  function show(msg) {
    placeCard(msg);
    refreshCharts();
    var li = document.createElement('li');
    li.className = 'earshot-feed__item earshot-feed__item--' + msg.severity;
    var when = new Date().toISOString().substring(11, 19);
    li.textContent = when + ' UTC — alert ' + msg.alert_id + ' ' + msg.event + ' (' + msg.severity + '): ' + msg.title;
    li.dataset.eventId = msg.id === null ? '' : String(msg.id);
    feed.prepend(li);
    while (feed.children.length > 50) { feed.lastElementChild.remove(); }
    if (msg.severity === 'critical' && ['opened', 'reopened', 'escalated'].indexOf(msg.event) >= 0) {
      banner.hidden = false;
      document.getElementById('critical-text').textContent = msg.title;
      if (sound && sound.checked) { beep(); }
    }
  }

  pauseButton.addEventListener('click', function () {
    paused = !paused;
    pauseButton.setAttribute('aria-pressed', paused ? 'true' : 'false');
    pauseButton.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    feed.setAttribute('aria-live', paused ? 'off' : 'polite');
    if (!paused) {
      held.forEach(show);
      setStatus('Live: connected. ' + held.length + ' held changes shown.');
      held = [];
    } else {
      setStatus('Live updates paused; changes are kept and shown when you resume.');
    }
  });

  var source = new EventSource(url.toString());
  source.addEventListener('open', function () { if (!paused) { setStatus('Live: connected.'); } });
  source.addEventListener('error', function () { setStatus('Live: connection lost, reconnecting…'); });
  source.addEventListener('alert', function (e) {
    var msg = JSON.parse(e.data);
    if (paused) { held.push(msg); setStatus('Live updates paused; ' + held.length + ' changes held.'); return; }
    show(msg);
  });
  window.earshotLive = source;
}

// "why" of a ranked account: read from the server when its details are first opened
document.querySelectorAll('details[data-why-url]').forEach(function (d) {
  d.addEventListener('toggle', function () {
    if (!d.open || d.dataset.loaded) { return; }
    d.dataset.loaded = '1';
    var box = d.querySelector('.govuk-details__text');
    var link = box.querySelector('a');
    fetch(d.dataset.whyUrl, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var t = document.createElement('template');
        t.innerHTML = html; // rendered and escaped by the server
        box.replaceChildren(t.content);
        if (link) { box.appendChild(link); }
      })
      .catch(function () { d.dataset.loaded = ''; });
  });
});

document.querySelectorAll('[data-sortable-table]').forEach(makeSortable);
drawCharts(document);
window.addEventListener('load', function () { drawCharts(document); });
var liveBox = document.getElementById('live-controls');
if (liveBox) { liveAlerts(liveBox); }

// A ranking being computed off the request: ask its API every few seconds; when it is stored (or its
// computation failed) reload the page, or, when an older ranking is on show, say that a newer one is ready.
function pollRanking(box) {
  var seconds = Math.max(2, parseInt(box.dataset.pollSeconds || '5', 10));
  var status = box.querySelector('[data-poll-status]');
  function check() {
    fetch(box.dataset.rankingPoll, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json().then(function (j) { return { code: r.status, body: j }; }); })
      .then(function (res) {
        var ready = (res.code === 200 && !res.body.refreshing) || (res.code === 202 && res.body.status === 'failed');
        if (!ready) { setTimeout(check, seconds * 1000); return; }
        if (box.dataset.reload === 'yes') { window.location.reload(); return; }
        if (status) { status.textContent = 'The newer ranking is ready: reload the page to see it.'; }
      })
      .catch(function () { setTimeout(check, seconds * 2000); });
  }
  setTimeout(check, seconds * 1000);
}
var rankingBox = document.querySelector('[data-ranking-poll]');
if (rankingBox) { pollRanking(rankingBox); }

// An export file being prepared (off the request): ask whether it is ready (without fetching it), then
// start its download; a failure reloads the page, which says why.
function pollExport(box) {
  var seconds = Math.max(2, parseInt(box.dataset.pollSeconds || '5', 10));
  var status = box.querySelector('[data-poll-status]');
  function check() {
    fetch(box.dataset.exportPoll, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json().then(function (j) { return { code: r.status, body: j }; }); })
      .then(function (res) {
        if (res.code === 202 && res.body.status === 'failed') { window.location.reload(); return; }
        if (res.code !== 200) { setTimeout(check, seconds * 1000); return; }
        if (status) { status.textContent = 'The file is ready: its download has started.'; }
        window.location.href = box.dataset.download;
      })
      .catch(function () { setTimeout(check, seconds * 2000); });
  }
  setTimeout(check, seconds * 1000);
}
var exportBox = document.querySelector('[data-export-poll]');
if (exportBox) { pollExport(exportBox); }
