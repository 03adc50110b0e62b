// main.js - the ORFEAS studio's wiring: builds the settings from
// GET /api/v1/params, takes the image (picker or drop) and previews its
// subject mask (POST /api/v1/mask), runs the progressive generation and
// feeds each stage to the 3D view and the stage list as it arrives, shows
// the result and its downloads, and keeps the server panel up to date.
// The view loads each stage as a meshopt-compressed GLB (textured where the
// result has a texture: once the job has finished, a click on a stage shows
// it again with the texture); a lithophane is shown backlit by default.
// A mesh dropped instead (repair.js) is repaired at once
// (POST /api/v1/repair): the repaired model in the view, its figures
// before and after, and its files to download.

import { fetchMask, fetchParams, generateProgressive, repairedFile, repairMesh } from './api.js';
import { buildControls } from './controls.js';
import { clearError, plainWords, showError } from './errors.js';
import { initPoints } from './points.js';
import { countShells, isMesh, REPAIR_PARAMS, showRepairDownloads, showRepairFigures } from './repair.js';
import { showDownloads, showFigures } from './results.js';
import { startStatus } from './status.js';
import { initUpload } from './upload.js';
import { createViewer } from './viewer.js';

const $ = (id) => document.getElementById(id);
const STAGE_LABELS = {
  voxel_preview: 'Voxel preview',
  rough_mesh: 'Rough mesh',
  refined_mesh: 'Refined mesh',
  final_optimized: 'Final model',
  final_repaired: 'Repaired mesh',
};
const MASK_SOURCES = {
  alpha: 'from the image’s transparency',
  color: 'separated from the background colour',
  subject: 'found by the segmentation network',
  frame: 'the whole frame',
};

let controls = null;
let formats = ['glb'];
let file = null;
let maskAbort = null;
let runAbort = null;
let points = null; // subject points on the preview (points.js)
let kind = 'image'; // what the file is: 'image' (generate) or 'mesh' (repair)
let runDone = Promise.resolve(); // settles when the running generation or repair has ended
let savedSize = null; // the size setting of the image modes, while a mesh is shown
const nf = new Intl.NumberFormat('en');

function ms(t) {
  return t < 1000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(2)} s`;
}

function buttonText() {
  return kind === 'mesh' ? 'Repair the mesh' : 'Make the model';
}

function setGenerateReady() {
  const ok = !!file && !!controls && (kind === 'mesh' || !$('file').getAttribute('aria-invalid')?.includes('true'));
  $('generate').disabled = !ok || !!runAbort;
  if (!runAbort) $('generate').textContent = buttonText();
  $('generate-hint').textContent = !file ? 'Choose an image first.' : ok ? '' : 'Choose a PNG, JPEG or WebP image.';
}

// Shows a refused request next to what it concerns.
function showFailure(err) {
  const msg = plainWords(err, kind === 'mesh');
  if (!msg) return;
  if (err.status === 422 && err.param && controls?.showError(err.param, msg)) {
    document.getElementById(`p-${err.param}`)?.focus();
    return;
  }
  if ([400, 413, 415].includes(err.status)) showError('file', msg);
  else showError('generate', msg);
  setGenerateReady();
}

async function updateMask() {
  if (!file || !controls || kind !== 'image') return;
  maskAbort?.abort();
  const abort = new AbortController();
  maskAbort = abort;
  // the subject as this mode will use it: inflate falls back to the whole
  // frame, extrude and relief with cutout refuse an image without a subject
  const { background, mode, cutout } = controls.values();
  const params = {};
  if (background) params.background = background;
  if (mode) params.mode = mode;
  if (cutout !== undefined && mode === 'relief') params.cutout = cutout;
  if (points?.text()) params.subject_points = points.text();
  $('mask').classList.add('empty');
  $('mask-caption').textContent = 'Finding the subject…';
  try {
    const { blob, source } = await fetchMask(file, params, abort.signal);
    const old = $('mask').src;
    $('mask').src = URL.createObjectURL(blob);
    $('mask').classList.remove('empty');
    if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    $('mask-caption').textContent = `Subject, ${MASK_SOURCES[source] || source}`;
    $('mask').dataset.source = source;
    $('points-bar').hidden = false;
    clearError('file');
  } catch (err) {
    if (abort.signal.aborted) return;
    $('mask').removeAttribute('src');
    $('mask-caption').textContent = 'No subject';
    showFailure(err);
  }
  setGenerateReady();
}

// What the view loads for a stage: its GLB, meshopt-compressed (the
// smallest download; docs/API.md), whatever format the request asked for.
function viewUrl(url) {
  return `${url.replace(/\?.*$/, '').replace(/\.[A-Za-z0-9]+$/, '')}.glb?compress=meshopt`;
}

// Whether a generation's parameters make a flat lithophane (the backlit
// view's default; a cylinder's thickness is not its height).
function flatLithophane(params) {
  return params.mode === 'lithophane' && params.shape !== 'cylinder';
}

function stageItem(ev) {
  const li = document.createElement('li');
  li.dataset.stage = ev.stage;
  const name = document.createElement(ev.data?.url ? 'button' : 'span');
  if (ev.data?.url) {
    name.type = 'button';
    name.title = 'Show this stage';
  }
  name.className = 'stage-name';
  name.textContent = STAGE_LABELS[ev.stage] || ev.stage;
  const time = document.createElement('span');
  time.className = 'stage-time';
  time.textContent = `${ms(ev.data?.elapsed_ms ?? 0)}${ev.cached ? ' (cached)' : ''}`;
  const state = document.createElement('span');
  state.className = 'stage-state';
  state.textContent = 'loading';
  li.append(name, time, state);
  return li;
}

async function generate(viewer) {
  if (!file || runAbort) return;
  controls.clearErrors();
  clearError('generate');
  const params = controls.values();
  if (points?.text()) params.subject_points = points.text();
  const abort = new AbortController();
  runAbort = abort;
  let ended;
  runDone = new Promise((resolve) => {
    ended = resolve;
  });
  setGenerateReady();
  $('generate').textContent = 'Making the model…';
  const bar = $('progress');
  const loads = [];
  try {
    const last = await generateProgressive(
      file,
      params,
      (ev) => {
        const li = stageItem(ev);
        $('stages').append(li);
        bar.setAttribute('aria-valuenow', String(ev.progress));
        bar.firstElementChild.style.width = `${ev.progress}%`;
        const url = viewUrl(ev.data.url);
        const shown = () => {
          li.querySelector('.stage-state').textContent = 'shown';
          li.classList.add('shown');
          $('viewport').dataset.shown = ev.stage;
          $('viewport-empty').hidden = true;
          $('viewport-label').textContent = `${STAGE_LABELS[ev.stage] || ev.stage} · ${ms(ev.data.elapsed_ms ?? 0)} · ${nf.format(ev.data.faces)} faces`;
        };
        const showStage = () =>
          viewer.show(url, shown).catch(() => {
            li.querySelector('.stage-state').textContent = 'could not be shown';
          });
        li.querySelector('.stage-name').addEventListener('click', showStage);
        loads.push(showStage());
      },
      () => {
        // the request was accepted: only now does the previous result go
        $('stages').replaceChildren();
        $('result').hidden = true;
        $('viewport').removeAttribute('data-shown');
        bar.setAttribute('aria-valuenow', '0');
        bar.firstElementChild.style.width = '0%';
        viewer.reset();
        const litho = flatLithophane(params);
        $('backlit-tool').hidden = !litho;
        $('backlit').checked = litho;
        viewer.setBacklit(litho, Number(params.min_mm) || 0.8);
      },
      abort.signal,
    );
    $('figures').hidden = false;
    $('repair-figures').hidden = true;
    showFigures($('figures'), last.mesh);
    showDownloads($('downloads'), last.data.url, formats, params.format || formats[0]);
    $('result').hidden = false;
    await Promise.all(loads);
  } catch (err) {
    showFailure(err);
  } finally {
    runAbort = null;
    setGenerateReady();
    ended();
  }
}

// A mesh's repair: the figures (JSON), then the repaired GLB for the view
// and the chosen format for the download (the same request again with
// download=1: answered from the server's cache).
async function repair(viewer) {
  if (!file || !controls || runAbort || kind !== 'mesh') return;
  controls.clearErrors();
  clearError('generate');
  clearError('file');
  const all = controls.values();
  const params = {};
  for (const k of REPAIR_PARAMS) if (all[k] !== undefined && all[k] !== '') params[k] = all[k];
  const chosen = params.format || formats[0] || 'glb';
  const abort = new AbortController();
  runAbort = abort;
  let ended;
  runDone = new Promise((resolve) => {
    ended = resolve;
  });
  setGenerateReady();
  $('generate').textContent = 'Repairing the mesh…';
  const bar = $('progress');
  const mesh = file;
  try {
    const r = await repairMesh(mesh, params, abort.signal);
    $('stages').replaceChildren();
    $('result').hidden = true;
    $('viewport').removeAttribute('data-shown');
    viewer.reset();
    $('backlit-tool').hidden = true;
    viewer.setBacklit(false);
    const glb = await repairedFile(mesh, params, 'glb', abort.signal);
    const li = stageItem({ stage: 'final_repaired', data: { elapsed_ms: r.timings_ms?.total ?? 0 }, cached: r.cached });
    $('stages').append(li);
    const shown = await viewer.showBuffer(glb, () => {
      li.querySelector('.stage-state').textContent = 'shown';
      li.classList.add('shown');
      $('viewport').dataset.shown = 'final_repaired';
      $('viewport-empty').hidden = true;
      $('viewport-label').textContent = `Repaired mesh · ${ms(r.timings_ms?.total ?? 0)} · ${nf.format(r.mesh.faces)} faces`;
    });
    bar.setAttribute('aria-valuenow', '100');
    bar.firstElementChild.style.width = '100%';
    if (!shown) return;
    const files = [{ format: chosen, buffer: chosen === 'glb' ? glb : await repairedFile(mesh, params, chosen, abort.signal) }];
    if (chosen !== 'glb') files.push({ format: 'glb', buffer: glb });
    $('figures').hidden = true;
    $('repair-figures').hidden = false;
    showRepairFigures($('repair-figures'), r, countShells(shown));
    showRepairDownloads($('downloads'), mesh.name, files);
    $('result').hidden = false;
  } catch (err) {
    showFailure(err);
  } finally {
    runAbort = null;
    setGenerateReady();
    ended();
  }
}

// A new mesh while another is being repaired: that repair is given up
// (its request aborted) and this one starts once it has ended.
async function repairNew(viewer) {
  if (runAbort) {
    runAbort.abort();
    await runDone;
  }
  repair(viewer);
}

// The file chosen or dropped: an image to generate from, or a mesh to repair.
function takeFile(f, viewer) {
  file = f;
  kind = isMesh(f) ? 'mesh' : 'image';
  points?.clear();
  clearError('file');
  const size = $('p-size_mm');
  if (kind === 'mesh') {
    $('points-bar').hidden = true;
    $('mesh-note').hidden = false;
    $('mesh-note').textContent = `${f.name} (${Math.max(1, Math.round(f.size / 1024))} KB): a mesh, repaired for printing with the settings below (empty size: the file's own).`;
    controls?.limitTo(REPAIR_PARAMS);
    if (size && savedSize === null) {
      savedSize = size.value;
      size.value = '';
      size.placeholder = 'the file’s size';
    }
    setGenerateReady();
    repairNew(viewer);
  } else {
    $('mesh-note').hidden = true;
    controls?.limitTo(null);
    if (size && savedSize !== null) {
      size.value = savedSize;
      size.placeholder = '';
      savedSize = null;
    }
    $('figures').hidden = false;
    $('repair-figures').hidden = true;
    setGenerateReady();
    updateMask();
  }
}

async function main() {
  const viewer = createViewer($('viewport'), {
    onGrid: (cell, size) => {
      $('grid-note').textContent = `Grid: ${cell} mm squares, ${size} mm across`;
    },
  });
  $('wireframe').addEventListener('change', (e) => viewer.setWireframe(e.target.checked));
  $('backlit').addEventListener('change', (e) => viewer.setBacklit(e.target.checked, Number(controls?.values().min_mm) || 0.8));
  startStatus({ queue: 'st-queue', running: 'st-running', memory: 'st-memory', cache: 'st-cache', note: 'status-note' });

  initUpload(
    { input: $('file'), zone: $('drop'), preview: $('preview'), previews: $('previews'), caption: $('preview-caption'), isMesh },
    (f) => takeFile(f, viewer),
  );
  points = initPoints(
    { img: $('mask'), layer: $('mask-points'), drop: $('points-drop'), reset: $('points-reset'), count: $('points-count') },
    () => updateMask(),
  );
  $('settings').addEventListener('submit', (e) => {
    e.preventDefault();
    if (kind === 'mesh') repair(viewer);
    else generate(viewer);
  });

  try {
    const desc = await fetchParams();
    controls = buildControls($('controls'), desc);
    formats = desc.params.find((p) => p.name === 'format')?.choices || formats;
    for (const name of ['background', 'mode', 'cutout']) controls.onChange(name, updateMask);
    document.body.dataset.ready = 'true';
  } catch (err) {
    $('controls').textContent = `The settings could not be loaded: ${plainWords(err)}`;
  }
  setGenerateReady();
  if (file) takeFile(file, viewer);
}

main();
