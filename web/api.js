// api.js - the studio's calls to the ORFEAS server (docs/API.md):
// the parameter description, the subject mask, progressive generation read
// as a stream of NDJSON lines, a mesh's repair, result probes and the status
// endpoints.
// Every failure becomes an ApiError carrying the server's JSON error
// (status, code, message, the parameter it names, Retry-After).

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.error || `the server answered ${status}`);
    this.status = status;
    this.code = body?.code || 'error';
    this.param = body?.param || null;
    this.retryAfter = retryAfter;
  }
}

async function failure(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  const retry = Number.parseInt(resp.headers.get('Retry-After') || '', 10);
  return new ApiError(resp.status, body, Number.isFinite(retry) ? retry : body?.retry_after_s ?? null);
}

async function getJson(url, signal) {
  const resp = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

// The multipart body of a generating request: the image and the parameters.
function form(file, params) {
  const body = new FormData();
  for (const [k, v] of Object.entries(params)) body.append(k, String(v));
  body.append('image', file, file.name || 'image');
  return body;
}

// GET /api/v1/params: what the controls are built from.
export function fetchParams() {
  return getJson('/api/v1/params');
}

// POST /api/v1/mask: the subject as a PNG blob and how it was found.
export async function fetchMask(file, params, signal) {
  const resp = await fetch('/api/v1/mask', { method: 'POST', body: form(file, params), signal });
  if (!resp.ok) throw await failure(resp);
  return { blob: await resp.blob(), source: resp.headers.get('X-Mask-Source') || '' };
}

// POST /api/v1/generate-progressive: calls onEvent with each stage line the
// moment it arrives (the body is read as a stream and split on newlines),
// after onStart once the request is accepted.  Resolves with the last
// event; throws an ApiError for a refused request or for an error line.
export async function generateProgressive(file, params, onEvent, onStart, signal) {
  const resp = await fetch('/api/v1/generate-progressive', {
    method: 'POST',
    body: form(file, params),
    headers: { Accept: 'application/x-ndjson' },
    signal,
  });
  if (!resp.ok) throw await failure(resp);
  onStart();
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let last = null;
  const handle = (line) => {
    if (!line.trim()) return;
    const ev = JSON.parse(line);
    if (ev.status === 'error') throw new ApiError(500, ev, null);
    last = ev;
    onEvent(ev);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      handle(line);
    }
  }
  handle(pending + decoder.decode());
  if (!last || last.status !== 'complete') throw new ApiError(500, { error: 'the stream ended before the model was finished' }, null);
  return last;
}

// The multipart body of a repair: the mesh and the parameters.
function meshForm(file, params) {
  const body = new FormData();
  for (const [k, v] of Object.entries(params)) body.append(k, String(v));
  body.append('mesh', file, file.name || 'mesh');
  return body;
}

// POST /api/v1/repair: what was found and done (JSON).
export async function repairMesh(file, params, signal) {
  const resp = await fetch('/api/v1/repair', { method: 'POST', body: meshForm(file, params), headers: { Accept: 'application/json' }, signal });
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

// POST /api/v1/repair with download=1: the repaired mesh in `format` as an
// ArrayBuffer (the same mesh and parameters again: a cache hit).
export async function repairedFile(file, params, format, signal) {
  const resp = await fetch('/api/v1/repair', { method: 'POST', body: meshForm(file, { ...params, format, download: 1 }), signal });
  if (!resp.ok) throw await failure(resp);
  return resp.arrayBuffer();
}

// Whether a result file can be had (HEAD; a format this build cannot write
// answers 415), its size and its media type.
export async function probe(url) {
  try {
    const resp = await fetch(url, { method: 'HEAD' });
    return { ok: resp.ok, bytes: Number(resp.headers.get('Content-Length')) || null, type: resp.headers.get('Content-Type') || '' };
  } catch {
    return { ok: false, bytes: null, type: '' };
  }
}

export function fetchGpuStats(signal) {
  return getJson('/api/v1/gpu/stats', signal);
}

export function fetchCacheStats(signal) {
  return getJson('/api/v1/cache/stats', signal);
}
