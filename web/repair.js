// repair.js - a mesh dropped on the studio (STL, OBJ, PLY, GLB, 3MF and the
// rest the server's importer reads) is repaired for printing
// (POST /api/v1/repair, docs/API.md): what counts as a mesh, the parameters
// a repair takes from the settings, its before/after figures (open edges,
// non-manifold edges, shells, volume, triangles) and its downloads, made
// from the repaired files themselves (blob: links, since a repair has no
// result URL to link to).

const nf = new Intl.NumberFormat('en');

export const MESH_EXTENSIONS = ['stl', 'obj', 'ply', 'glb', 'gltf', '3mf', 'off', 'fbx', 'dae'];
export const MESH_ACCEPT = MESH_EXTENSIONS.map((e) => `.${e}`).join(',');
// The settings a repair uses (the others are the image modes').
export const REPAIR_PARAMS = ['quality', 'size_mm', 'format', 'style'];

export function isMesh(file) {
  const ext = /\.([A-Za-z0-9]+)$/.exec(file?.name || '')?.[1]?.toLowerCase();
  return (ext && MESH_EXTENSIONS.includes(ext)) || /^model\//.test(file?.type || '');
}

// The shells (connected components through shared vertices) of the meshes
// under a three.js object: union-find over each indexed geometry.
export function countShells(object) {
  let shells = 0;
  object.traverse((o) => {
    if (!o.isMesh) return;
    const g = o.geometry;
    const n = g.attributes.position.count;
    const parent = new Uint32Array(n);
    for (let i = 0; i < n; i++) parent[i] = i;
    const find = (x) => {
      while (parent[x] !== x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
      }
      return x;
    };
    const idx = g.index ? g.index.array : null;
    const tris = idx ? idx.length / 3 : n / 3;
    const used = new Uint8Array(n);
    for (let t = 0; t < tris; t++) {
      const a = idx ? idx[3 * t] : 3 * t, b = idx ? idx[3 * t + 1] : 3 * t + 1, c = idx ? idx[3 * t + 2] : 3 * t + 2;
      used[a] = used[b] = used[c] = 1;
      const ra = find(a);
      parent[find(b)] = ra;
      parent[find(c)] = ra;
    }
    for (let i = 0; i < n; i++) if (used[i] && find(i) === i) shells++;
  });
  return shells;
}

function mm3(v) {
  return v >= 10000 ? `${nf.format(Math.round(v / 100) / 10)} cm³` : `${nf.format(Math.round(v))} mm³`;
}

// Fills the before/after table: r is the repair's JSON, shells the
// repaired mesh's shells as counted in the browser.
export function showRepairFigures(table, r, shells) {
  const after = r.mesh;
  const rows = [
    ['holes', 'Open edges (holes)', nf.format(r.input.open_edges), after.watertight ? '0' : 'some'],
    ['nonmanifold', 'Non-manifold edges', nf.format(r.input.nonmanifold_edges), after.manifold ? '0' : 'some'],
    ['shells', 'Shells', nf.format(r.input.components), nf.format(shells)],
    ['volume', 'Volume', mm3(Math.abs(r.input.volume_mm3)), mm3(after.volume_mm3)],
    ['triangles', 'Triangles', nf.format(r.input.triangles), nf.format(after.faces)],
  ];
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const [key, label, before, now] of rows) {
    const tr = document.createElement('tr');
    tr.dataset.row = key;
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    const b = document.createElement('td');
    b.textContent = before;
    const a = document.createElement('td');
    a.textContent = now;
    tr.append(th, b, a);
    body.append(tr);
  }
  const done = [];
  if (r.done.flipped_faces) done.push(`${nf.format(r.done.flipped_faces)} ${r.done.flipped_faces === 1 ? 'face' : 'faces'} turned`);
  const n = (x, one, many) => `${nf.format(x)} ${x === 1 ? one : many}`;
  if (r.done.floaters_dropped) done.push(`${n(r.done.floaters_dropped, 'floating part', 'floating parts')} dropped`);
  const merged = r.input.vertices - r.input.welded_vertices;
  if (merged > 0) done.push(`${n(merged, 'duplicate vertex', 'duplicate vertices')} welded`);
  done.push(r.done.remeshed ? `remeshed on a grid of ${r.done.grid} (cells of ${r.done.cell_mm.toFixed(2)} mm)` : 'kept as it was (already closed): only turned, scaled and placed');
  done.push(`within ${r.fidelity.hausdorff_mm.toFixed(2)} mm of the original surface`);
  const size = after.bbox_mm.map((x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))).join(' × ');
  table.caption.textContent = `Repaired: ${size} mm, ${after.watertight && after.manifold ? 'closed and ready to print' : 'not closed'}. ${done.join('; ')}.${r.warning ? ` ${r.warning}.` : ''}`;
}

// Download links for the repaired files: [{format, buffer}] become blob:
// links named after the dropped file.
export function showRepairDownloads(ul, name, files) {
  for (const a of ul.querySelectorAll('a[href^="blob:"]')) URL.revokeObjectURL(a.href);
  ul.replaceChildren();
  const stem = (name || 'mesh').replace(/\.[^.]*$/, '');
  for (const { format, buffer } of files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([buffer]));
    a.setAttribute('download', `${stem}-repaired.${format}`);
    a.className = files[0].format === format ? 'download chosen' : 'download';
    a.dataset.format = format;
    a.textContent = format.toUpperCase();
    const note = document.createElement('span');
    note.className = 'hint';
    note.textContent = buffer.byteLength >= 1048576 ? `${(buffer.byteLength / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(buffer.byteLength / 1024))} KB`;
    li.append(a, note);
    ul.append(li);
  }
}
