// status.js - the small server panel: queue depth, jobs running, memory
// budget in use and cache hit ratio, polled from GET /api/v1/gpu/stats and
// GET /api/v1/cache/stats every few seconds (while the page is visible).

import { fetchCacheStats, fetchGpuStats } from './api.js';

const PERIOD_MS = 3000;

function gb(x) {
  return x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2);
}

export function startStatus(ids) {
  const el = Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, document.getElementById(id)]));
  const tick = async () => {
    if (document.hidden) return;
    try {
      const [g, c] = await Promise.all([fetchGpuStats(), fetchCacheStats()]);
      el.queue.textContent = String(g.queue_depth);
      el.running.textContent = String(g.running_jobs);
      const m = g.memory_budget || {};
      el.memory.textContent = `${gb(m.in_use_gb || 0)} of ${gb(m.available_for_jobs_gb || 0)} GB`;
      el.memory.title = `job memory budget on ${m.device || 'cpu'}`;
      const lookups = (c.total_hits || 0) + (c.misses || 0);
      el.cache.textContent = lookups ? `${Math.round(100 * c.hit_ratio)} %` : 'none yet';
      el.cache.title = `${c.entries} cached results, ${c.total_hits} hits, ${c.misses} misses`;
      el.note.textContent = `Budget on ${m.device || 'cpu'}; ${c.entries} cache entries. Updated ${new Date().toLocaleTimeString()}.`;
    } catch {
      el.note.textContent = 'The server is not answering right now.';
    }
  };
  tick();
  return setInterval(tick, PERIOD_MS);
}
