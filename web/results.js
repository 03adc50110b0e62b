// results.js - the finished model: its figures (vertices, faces, watertight,
// size in mm, volume) from the final stage line, and a real download link
// (<a href=".../final_optimized.<fmt>" download>) for every format the
// server's parameter description lists, and the GLB compressed
// (?compress=meshopt and ?compress=draco), so the browser's own save and a right-click work.
// Each link is checked with HEAD, which gives its size (shown beside it)
// and type (a textured OBJ is a zip of the OBJ, its MTL and its image): a
// format this build cannot write is shown as unavailable instead of a link
// that would fail.

import { probe } from './api.js';

const nf = new Intl.NumberFormat('en');

function mm(x) {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function bytes(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}

export function showFigures(dl, mesh) {
  const rows = [
    ['Vertices', nf.format(mesh.vertices)],
    ['Faces', nf.format(mesh.faces)],
    ['Watertight', mesh.watertight ? 'yes, ready to print' : 'no'],
    ['Size', `${mesh.bbox_mm.map(mm).join(' × ')} mm`],
    ['Volume', `${nf.format(Math.round(mesh.volume_mm3 / 100) / 10)} cm³`],
  ];
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    div.append(dt, dd);
    dl.append(div);
  }
}

// finalUrl: the final stage's URL from the stream; formats: the format
// parameter's choices; chosen: the format asked for (listed first).
const VARIANTS = {
  'glb-meshopt': { ext: 'glb', query: '?compress=meshopt', label: 'GLB · meshopt' },
  'glb-draco': { ext: 'glb', query: '?compress=draco', label: 'GLB · Draco' },
};

export function showDownloads(ul, finalUrl, formats, chosen) {
  const base = finalUrl.replace(/\?.*$/, '').replace(/\.[A-Za-z0-9]+$/, '');
  const all = formats.includes('glb') ? [...formats, ...Object.keys(VARIANTS)] : formats;
  const order = [chosen, ...all.filter((f) => f !== chosen)];
  ul.replaceChildren();
  for (const f of order) {
    const v = VARIANTS[f] || { ext: f, query: '', label: f.toUpperCase() };
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `${base}.${v.ext}${v.query}`;
    a.setAttribute('download', '');
    a.className = f === chosen ? 'download chosen' : 'download';
    a.dataset.format = f;
    a.textContent = v.label;
    const note = document.createElement('span');
    note.className = 'hint';
    note.textContent = 'checking…';
    li.append(a, note);
    ul.append(li);
    probe(a.href).then(({ ok, bytes: n, type }) => {
      if (ok) {
        note.textContent = n ? bytes(n) : '';
        if (type === 'application/zip') a.textContent = `${v.label} + MTL + image (zip)`;
        return;
      }
      const span = document.createElement('span');
      span.className = 'download unavailable';
      span.textContent = v.label;
      a.replaceWith(span);
      note.textContent = 'not available in this build';
    });
  }
}
