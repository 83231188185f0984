// Dashboard charts: drawn from the JSON the page embeds, refreshed from /admin/dashboard.json.
(() => {
  const embedded = document.getElementById('dashboard-data');
  if (!embedded || typeof Chart === 'undefined') return;
  const REFRESH_MS = 10000;
  const STATUS_COLORS = {
    queued: '#3b82f6',
    deferred: '#f59e0b',
    held: '#8b5cf6',
    quarantined: '#ef4444',
    failed: '#6b7280',
    expired: '#9ca3af',
    delivered: '#10b981',
  };
  const WAITING = ['queued', 'deferred', 'held', 'quarantined'];

  const time = (ms) => new Date(ms).toISOString().slice(11, 19);

  function depthConfig(data) {
    return {
      labels: data.depth.map((sample) => time(sample.at)),
      datasets: WAITING.map((status) => ({
        label: status,
        data: data.depth.map((sample) => sample.byStatus[status] ?? 0),
        borderColor: STATUS_COLORS[status],
        backgroundColor: STATUS_COLORS[status],
        tension: 0.2,
      })),
    };
  }

  function breakdown(values, label, color) {
    const keys = Object.keys(values).sort();
    return {
      labels: keys,
      datasets: [{ label, data: keys.map((key) => values[key]), backgroundColor: color }],
    };
  }

  const builders = {
    'chart-depth': ['line', depthConfig],
    'chart-rejected': ['bar', (data) => breakdown(data.counters.rejectedByReason, 'rejected', '#ef4444')],
    'chart-deliveries': [
      'bar',
      (data) => breakdown(data.counters.deliveriesByResult, 'deliveries', '#10b981'),
    ],
    'chart-trust': ['bar', (data) => breakdown(data.counters.trustlistHitsByResult, 'lookups', '#3b82f6')],
  };

  const charts = [];
  let data = JSON.parse(embedded.textContent);
  for (const [id, [type, build]] of Object.entries(builders)) {
    const canvas = document.getElementById(id);
    if (!canvas) continue;
    const chart = new Chart(canvas, {
      type,
      data: build(data),
      options: { animation: false, responsive: true, plugins: { legend: { display: type === 'line' } } },
    });
    charts.push([chart, build]);
  }

  function setTile(id, value) {
    const tile = document.querySelector(`#${id} .value`);
    if (tile) tile.textContent = String(value);
  }

  async function refresh() {
    const response = await fetch('/admin/dashboard.json', { headers: { accept: 'application/json' } });
    if (!response.ok) return;
    data = await response.json();
    for (const [chart, build] of charts) {
      chart.data = build(data);
      chart.update();
    }
    setTile('tile-messages', data.queue.messages);
    setTile('tile-waiting', data.queue.byStatus.queued + data.queue.byStatus.deferred);
  }

  setInterval(() => refresh().catch(() => undefined), REFRESH_MS);
})();
