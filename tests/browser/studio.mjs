// studio.mjs - the web studio (issue 6) in a real browser: Debian's
// chromium, headless, driven by playwright-core (pinned in this folder's
// package-lock.json), against the real server (BUILD/orfeas serve on
// 127.0.0.1, an ephemeral port, its default web root BUILD/web).
//
// It opens the page, checks the controls match GET /api/v1/params, uploads
// samples/heart.png, waits for the final stage in the 3D view, and checks
// the canvas is not blank, the stage labels came in order, the downloads
// are real links whose files have the announced size, the wireframe toggle
// changes the picture, a 422 shows next to its control, a bad file shows
// next to the file input, the server panel fills in, and the page fits a
// phone's width, and a click on a photograph's subject preview adds a keep
// point that changes the preview; and a mesh dropped on the page (an open
// cube with a floater, as OBJ) is repaired (POST /api/v1/repair): the
// repaired model is shown, its figures before and after (open edges,
// non-manifold edges, shells, volume) are the server's, its download is the
// repaired file, and a file that is no mesh says so next to the file input.
// Issue 18: the view loads meshopt-compressed GLBs and shows the texture,
// at every stage (a stage clicked again after the job); three.js's
// GLTFLoader (with MeshoptDecoder, as the page has it) loads every GLB
// variant the server makes; the downloads list the compressed GLB with
// every file's size; and a lithophane of a real photograph is shown
// backlit by default, whose canvas pixels correlate with the photograph
// (Pearson's r of the luminances over the plate at least LITHO_MIN_R).
// Screenshots: BUILD/studio.png, BUILD/studio-stage.png,
// BUILD/studio-backlit.png, BUILD/studio-lithophane.png,
// BUILD/studio-points.png, BUILD/studio-repair.png and
// BUILD/studio-phone.png.
//
// Prints cmocka's summary lines ("[  PASSED  ] N test(s)." and
// "[  FAILED  ] N test(s).") for tests/run.sh.  Skips (with a message) only
// when chromium cannot be started at all.
//
//   node tests/browser/studio.mjs BUILD
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const build = path.resolve(root, process.argv[2] || 'build');
const bin = path.join(build, 'orfeas');
const CHROMIUM = '/usr/bin/chromium';
const STAGES = ['voxel_preview', 'rough_mesh', 'refined_mesh', 'final_optimized'];
const BACKGROUND = [0xe9, 0xed, 0xf2]; // viewer.js BACKGROUND
const deadline = Date.now() + 240_000;
// The floor of the backlit lithophane's correlation with its photograph,
// both in linear light (where the law makes the light through the plate
// affine in the picture's luminance): what it allows for is the mesh's
// resolution at quality 5 (the plate's relief is sampled coarser than the
// photograph) and the edge's anti-aliasing; the test prints what it measures.
const LITHO_MIN_R = 0.9;
const LITHO_PHOTO = '/usr/share/doc/opencv-doc/examples/data/butterfly.jpg';

let passed = 0;
const failures = [];
async function check(name, fn) {
  console.log(`[ RUN      ] ${name}`);
  try {
    if (Date.now() > deadline) throw new Error('the test ran out of time');
    await fn();
    passed++;
    console.log(`[       OK ] ${name}`);
  } catch (err) {
    failures.push(name);
    console.log(`${String(err?.stack || err)}\n[  FAILED  ] ${name}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}
function summary() {
  console.log(`[==========] ${passed + failures.length} test(s) run.`);
  console.log(`[  PASSED  ] ${passed} test(s).`);
  if (failures.length) console.log(`[  FAILED  ] ${failures.length} test(s), listed below:\n${failures.map((f) => `[  FAILED  ] ${f}`).join('\n')}`);
}

// ---- the server -------------------------------------------------------------

function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
      env: { ...process.env, ORFEAS_ALLOW_ROOT: '1' },
      stdio: ['ignore', 'pipe', fs.openSync(path.join(dataDir, 'server.log'), 'a')],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not say it was listening within 30 s')), 30_000);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /orfeas listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1] });
      }
    });
  });
}

// SIGTERM, then SIGKILL after 20 s; resolves with the exit code (null when killed).
function stopServer(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    const kill = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    proc.kill('SIGTERM');
  });
}

// ---- the page ---------------------------------------------------------------

// How much of the canvas (and of its middle third) differs from the background.
function canvasStats(page) {
  return page.evaluate((bg) => {
    const c = document.querySelector('#viewport canvas');
    const off = document.createElement('canvas');
    off.width = c.width;
    off.height = c.height;
    const g = off.getContext('2d');
    g.drawImage(c, 0, 0);
    const px = g.getImageData(0, 0, off.width, off.height).data;
    let differ = 0, mid = 0, midAll = 0, hash = 0;
    for (let y = 0; y < off.height; y++) {
      for (let x = 0; x < off.width; x++) {
        const i = 4 * (y * off.width + x);
        const d = Math.abs(px[i] - bg[0]) + Math.abs(px[i + 1] - bg[1]) + Math.abs(px[i + 2] - bg[2]);
        const inMid = x > off.width / 3 && x < (2 * off.width) / 3 && y > off.height / 3 && y < (2 * off.height) / 3;
        if (inMid) midAll++;
        if (d > 30) {
          differ++;
          if (inMid) mid++;
        }
        hash = (hash * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) >>> 0;
      }
    }
    return { total: off.width * off.height, differ, midFrac: mid / midAll, hash };
  }, BACKGROUND);
}

async function main() {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run make first`);
  if (!fs.existsSync(path.join(build, 'web', 'index.html')))
    throw new Error(`${build}/web is missing: make builds it from web/ (node web/build.mjs)`);
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  } catch (err) {
    console.log(`test_studio: SKIPPED: chromium could not be started at all (${CHROMIUM}): ${String(err.message).split('\n')[0]}`);
    return 'skipped';
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orfeas-studio-'));
  let server = null;
  try {
    server = await startServer(dataDir);
    await run(browser, server.base);
    // what the page asked of the server left it whole (under sanitizers too)
    await check('server_exits_cleanly', async () => {
      const { proc } = server;
      server = null;
      const code = await stopServer(proc);
      expect(code === 0, `the server exits 0 on SIGTERM after the session (exit ${code})`);
    });
  } finally {
    await browser.close();
    if (server) await stopServer(server.proc);
    if (!failures.length) fs.rmSync(dataDir, { recursive: true, force: true });
    else console.log(`test_studio: the server's log is in ${dataDir}/server.log`);
  }
  return 'ran';
}

async function run(browser, base) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // refused requests (the 422 and 415 checks) are logged by the browser; anything else is a fault
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(m.text()))
      problems.push(`console: ${m.text()}`);
  });
  const desc = await (await fetch(`${base}/api/v1/params`)).json();

  await check('page_loads_with_webgl', async () => {
    const resp = await page.goto(`${base}/`);
    expect(resp.status() === 200, 'GET / answers 200');
    expect((await page.title()) === 'ORFEAS studio', 'the studio page, not the plain form');
    await page.waitForSelector('body[data-ready="true"]');
    const gl = await page.evaluate(() => {
      const c = document.querySelector('#viewport canvas');
      const g = c && (c.getContext('webgl2') || c.getContext('webgl'));
      return g ? g.getParameter(g.VERSION) : null;
    });
    if (!gl) throw new Error('WebGL is unavailable in this chromium (--disable-gpu should fall back to SwiftShader)');
    expect(problems.length === 0, `no page errors or CSP violations (${problems.join('; ')})`);
  });

  await check('controls_follow_params', async () => {
    for (const p of desc.params) {
      if (p.type === 'points') continue; // subject_points: clicks on the preview (points_change_the_preview)
      const el = page.locator(`#p-${p.name}`);
      expect((await el.count()) === 1, `a control for ${p.name}`);
      const labelled = await el.evaluate((e) => e.labels.length > 0);
      expect(labelled, `${p.name}'s control has a label`);
      if (p.type === 'int' || p.type === 'number') {
        expect(Number(await el.getAttribute('min')) === p.min && Number(await el.getAttribute('max')) === p.max, `${p.name}'s range is the server's`);
        if (p.default !== null) expect(Number(await el.inputValue()) === p.default, `${p.name}'s default is the server's`);
      } else if (p.type === 'enum') {
        const opts = await el.evaluate((e) => [...e.options].map((o) => o.value));
        expect(JSON.stringify(opts) === JSON.stringify(p.choices), `${p.name}'s choices are the server's`);
        expect((await el.inputValue()) === p.default, `${p.name}'s default is the server's`);
      } else if (p.type === 'bool') {
        expect((await el.isChecked()) === p.default, `${p.name}'s default is the server's`);
      }
    }
    // mode-specific controls show only for their mode
    for (const mode of desc.params.find((p) => p.name === 'mode').choices) {
      await page.selectOption('#p-mode', mode);
      for (const p of desc.params) {
        const always = p.modes.length === 0 || p.modes.length === 4 || p.type === 'points';
        if (always) continue;
        const visible = await page.locator(`#p-${p.name}`).isVisible();
        expect(visible === p.modes.includes(mode), `${p.name} ${p.modes.includes(mode) ? 'shown' : 'hidden'} for ${mode}`);
      }
    }
    await page.selectOption('#p-mode', 'inflate');
  });

  await check('file_picker_by_keyboard', async () => {
    await page.keyboard.press('Tab'); // the skip link
    let id = '';
    for (let i = 0; i < 4 && id !== 'file'; i++) {
      await page.keyboard.press('Tab');
      id = await page.evaluate(() => document.activeElement?.id || '');
    }
    expect(id === 'file', 'the file input is reached with Tab, right after the skip link');
  });

  const seen = [];
  const shown = [];
  await check('generate_streams_every_stage', async () => {
    await page.fill('#p-quality', '3');
    await page.setInputFiles('#file', path.join(root, 'samples', 'heart.png'));
    await page.waitForFunction(() => document.getElementById('mask').naturalWidth > 0, null, { timeout: 30_000 });
    expect(await page.locator('#preview').evaluate((e) => e.naturalWidth > 0), 'the image preview is shown');
    await page.exposeFunction('studioStage', (s) => seen.push(s));
    await page.exposeFunction('studioShown', (s) => shown.push(s));
    await page.evaluate(() => {
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) if (n.dataset?.stage) window.studioStage(n.dataset.stage);
      }).observe(document.getElementById('stages'), { childList: true });
      const view = document.getElementById('viewport');
      new MutationObserver(() => view.dataset.shown && window.studioShown(view.dataset.shown)).observe(view, { attributeFilter: ['data-shown'] });
    });
    await page.click('#generate');
    await page.waitForSelector('#viewport[data-shown="final_optimized"]', { timeout: 90_000 });
    for (let i = 0; i < 40 && (seen.length < 4 || shown.length < 4); i++) await page.waitForTimeout(50); // the observers' calls
    expect(JSON.stringify(seen) === JSON.stringify(STAGES), `stage labels in order (${seen.join(', ')})`);
    expect(JSON.stringify(shown) === JSON.stringify(STAGES), `each stage's mesh shown in the view, in order (${shown.join(', ')})`);
    const labels = await page.locator('#stages li').evaluateAll((lis) => lis.map((l) => l.textContent));
    for (const l of labels) expect(/\d+(\.\d+)? m?s/.test(l), `a time in the stage label "${l}"`);
    expect(/Final model/.test(await page.textContent('#viewport-label')), 'the view is labelled with the final stage');
  });

  await check('canvas_not_blank', async () => {
    const s = await canvasStats(page);
    expect(s.differ > s.total * 0.03, `at least 3% of the canvas differs from the background (${s.differ}/${s.total})`);
    expect(s.midFrac > 0.2, `the model fills the middle of the view (${(100 * s.midFrac).toFixed(1)}%)`);
  });
  await page.screenshot({ path: path.join(build, 'studio.png'), fullPage: true });

  await check('final_figures', async () => {
    const text = await page.textContent('#figures');
    for (const w of ['Vertices', 'Faces', 'Watertight', 'Size', 'Volume']) expect(text.includes(w), `the figures show ${w}`);
    expect(/\d+(\.\d)? × \d+(\.\d)? × \d+(\.\d)? mm/.test(text), 'a size in mm');
  });

  await check('downloads_are_real_links', async () => {
    await page.waitForFunction(() => ![...document.querySelectorAll('#downloads .hint')].some((h) => h.textContent === 'checking…'));
    const links = await page.locator('#downloads a.download').evaluateAll((as) => as.map((a) => ({ href: a.href, download: a.hasAttribute('download'), format: a.dataset.format })));
    const formats = desc.params.find((p) => p.name === 'format').choices;
    expect(links.length >= 6, `a link for each format this build writes and the compressed GLBs (${links.map((l) => l.format)})`);
    expect((await page.locator('#downloads li').count()) === formats.length + 2, 'every format listed, and the compressed GLBs');
    const sizes = await page.locator('#downloads .hint').allTextContents();
    expect(sizes.every((t) => /^\d+(\.\d)? [KM]B$/.test(t)), `every download's size is shown (${sizes.join(', ')})`);
    for (const l of links) {
      expect(l.download, `${l.format} link has the download attribute`);
      const file = l.format.startsWith('glb-') ? `glb\\?compress=${l.format.slice(4)}` : l.format;
      expect(new RegExp(`/api/v1/results/[0-9a-f]{64}/final_optimized\\.${file}$`).test(l.href), `${l.format} link is the result URL`);
      const resp = await fetch(l.href);
      const body = Buffer.from(await resp.arrayBuffer());
      expect(resp.status === 200, `${l.format} download answers 200`);
      expect(Number(resp.headers.get('content-length')) === body.length && body.length > 100, `${l.format}: Content-Length ${resp.headers.get('content-length')} equals the ${body.length} bytes`);
    }
    const glb = links.find((l) => l.format === 'glb');
    const dl = await Promise.all([page.waitForEvent('download'), page.click('#downloads a[data-format="glb"]')]);
    const saved = fs.statSync(await dl[0].path()).size;
    const head = await fetch(glb.href, { method: 'HEAD' });
    expect(saved === Number(head.headers.get('content-length')), `the browser saved the whole GLB (${saved} bytes)`);
  });

  await check('stages_show_the_texture', async () => {
    // the run's own stages are shown in turn (each for a moment): start
    // from the last of them, the final model, so that the click below is
    // what shows the rough mesh (a slow build, ASan's, was still showing
    // the run's stages here)
    await page.waitForSelector('#viewport[data-shown="final_optimized"]');
    expect((await page.getAttribute('#viewport', 'data-textured')) === 'true', 'the final model shows its texture');
    const final = await canvasStats(page);
    await page.click('#stages li[data-stage="rough_mesh"] .stage-name');
    await page.waitForSelector('#viewport[data-shown="rough_mesh"]');
    expect((await page.getAttribute('#viewport', 'data-textured')) === 'true', 'an earlier stage, shown again after the job, carries the texture');
    expect((await canvasStats(page)).hash !== final.hash, 'the view shows the rough mesh, not the final one');
    await page.locator('#viewport').screenshot({ path: path.join(build, 'studio-stage.png') });
    await page.click('#stages li[data-stage="final_optimized"] .stage-name');
    await page.waitForSelector('#viewport[data-shown="final_optimized"]');
    expect((await page.getAttribute('#viewport', 'data-textured')) === 'true', 'the final model again, textured');
  });

  await check('loads_every_glb_variant', async () => {
    const href = await page.locator('#downloads a[data-format="glb"]').evaluate((a) => a.href);
    const faces = Number((await page.textContent('#figures')).match(/Faces\s*([\d,]+)/)[1].replace(/,/g, ''));
    const got = await page.evaluate(async (url) => {
      // the page's own three.js modules, as served (vendor/three-<version>/)
      const names = performance.getEntriesByType('resource').map((e) => e.name);
      const { GLTFLoader } = await import(names.find((n) => /\/loaders\/GLTFLoader\.js$/.test(n)));
      const { MeshoptDecoder } = await import(names.find((n) => /\/meshopt_decoder\.module\.js$/.test(n)));
      const dracoUrl = names.find((n) => /\/loaders\/DRACOLoader\.js$/.test(n));
      const { DRACOLoader } = await import(dracoUrl);
      const draco = new DRACOLoader().setDecoderPath(new URL('../libs/draco/gltf/', dracoUrl).href);
      const loader = new GLTFLoader().setMeshoptDecoder(MeshoptDecoder).setDRACOLoader(draco);
      const THREE = await import(names.find((n) => /\/build\/three\.module\.js$/.test(n)));
      // every vertex in metres, world space (meshopt's node scale applied)
      const points = (scene) => {
        scene.updateMatrixWorld(true);
        const v = new THREE.Vector3(), all = [];
        scene.traverse((o) => {
          if (!o.isMesh) return;
          const p = o.geometry.attributes.position;
          for (let i = 0; i < p.count; i++) all.push(v.fromBufferAttribute(p, i).applyMatrix4(o.matrixWorld).toArray());
        });
        return all;
      };
      // the farthest any point of pts lies from its nearest point of ref (a grid of cell-sized bins)
      const farthest = (pts, ref, cell) => {
        const key = (p, d = [0, 0, 0]) => p.map((x, k) => Math.floor(x / cell) + d[k]).join(',');
        const bins = new Map();
        for (const r of ref) (bins.get(key(r)) || bins.set(key(r), []).get(key(r))).push(r);
        let worst = 0;
        for (const p of pts) {
          let best = Infinity;
          for (let dx = -1; dx <= 1; dx++)
            for (let dy = -1; dy <= 1; dy++)
              for (let dz = -1; dz <= 1; dz++)
                for (const r of bins.get(key(p, [dx, dy, dz])) || []) best = Math.min(best, Math.hypot(p[0] - r[0], p[1] - r[1], p[2] - r[2]));
          worst = Math.max(worst, best);
        }
        return worst;
      };
      const out = [];
      let plain = null, step = 0;
      for (const q of ['', '?compress=meshopt', '?compress=draco', '?texture=off', '?texture=off&compress=meshopt', '?texture=off&compress=draco']) {
        const buf = await (await fetch(url + q)).arrayBuffer();
        const gltf = await loader.parseAsync(buf, '');
        let tris = 0, map = false, color = false;
        gltf.scene.traverse((o) => {
          if (!o.isMesh) return;
          tris += o.geometry.index.count / 3;
          map ||= !!o.material.map;
          color ||= !!o.geometry.attributes.color;
        });
        const b = new THREE.Box3().setFromObject(gltf.scene);
        const pts = points(gltf.scene);
        if (!plain) {
          plain = pts; // the uncompressed mesh
          step = Math.max(...b.getSize(new THREE.Vector3()).toArray()) / 16383;
        }
        out.push({ q, bytes: buf.byteLength, tris, map, color, box: [...b.min.toArray(), ...b.max.toArray()], vertices: pts.length, err: farthest(pts, plain, 4 * step), step });
      }
      return out;
    }, href);
    console.log(`GLB variants loaded by three.js: ${got.map((g) => `${g.q || 'textured'} ${g.bytes} bytes`).join(', ')}`);
    for (const g of got) {
      expect(g.tris === faces, `${g.q || 'the textured GLB'}: all ${faces} faces (${g.tris})`);
      const tex = !g.q.includes('texture=off');
      expect(g.map === tex && g.color === !tex, `${g.q || 'the textured GLB'}: ${tex ? 'the texture, no vertex colours' : 'vertex colours'}`);
    }
    for (const i of [1, 2, 4, 5]) expect(got[i].bytes < got[i < 3 ? 0 : 3].bytes, `${got[i].q} makes the GLB smaller`);
    // the quantised positions (14 bits over the longest side, both codecs)
    // against the uncompressed mesh: the box within half a step
    const plain = got[0].box;
    const step = Math.max(plain[3] - plain[0], plain[4] - plain[1], plain[5] - plain[2]) / 16383;
    // and every vertex within half a step on each axis of one of the
    // uncompressed mesh's (Draco's order is its own, so its nearest)
    for (const g of got) {
      const err = Math.max(...g.box.map((x, k) => Math.abs(x - plain[k])));
      expect(err <= step / 2 + 1e-7, `${g.q || 'the textured GLB'}: its box within half a quantisation step (${step / 2} m) of the plain one's (${err} m)`);
      expect(g.err <= (Math.sqrt(3) * step) / 2 + 1e-7, `${g.q || 'the textured GLB'}: every one of its ${g.vertices} vertices within half a step per axis of the uncompressed mesh (${g.err} m)`);
    }
    console.log(`quantisation: the farthest vertex from the uncompressed mesh ${got.map((g) => `${g.q || 'plain'} ${(g.err * 1e6).toFixed(2)} µm`).join(', ')} (half a step per axis: ${((Math.sqrt(3) * step) / 2 * 1e6).toFixed(2)} µm)`);
  });

  await check('wireframe_toggle_changes_view', async () => {
    const before = await canvasStats(page);
    await page.check('#wireframe');
    const after = await canvasStats(page);
    await page.uncheck('#wireframe');
    expect(before.hash !== after.hash, 'the picture changes with the wireframe');
  });

  await check('invalid_value_shows_next_to_control', async () => {
    const q = desc.params.find((p) => p.name === 'quality');
    await page.fill('#p-quality', String(q.max + 1));
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('p-quality-error').textContent.length > 0);
    const msg = await page.textContent('#p-quality-error');
    expect(/quality/i.test(msg) && msg.includes(String(q.max)), `the server's 422 next to quality ("${msg}")`);
    expect((await page.getAttribute('#p-quality', 'aria-invalid')) === 'true', 'quality is marked invalid');
    expect((await page.textContent('#generate-error')) === '', 'not shown as a general error');
    await page.fill('#p-quality', '3');
    expect((await page.textContent('#p-quality-error')) === '', 'typing again clears it');
  });

  await check('status_panel_fills_in', async () => {
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById('st-queue').textContent), null, { timeout: 10_000 });
    expect(/^\d+$/.test(await page.textContent('#st-running')), 'jobs running shown');
    expect(/GB/.test(await page.textContent('#st-memory')), 'memory budget shown');
    expect(/%|none yet/.test(await page.textContent('#st-cache')), 'cache hit ratio shown');
  });

  await check('served_with_headers', async () => {
    const index = await fetch(`${base}/`);
    expect(index.headers.get('cache-control') === 'no-cache', 'index.html is no-cache');
    const csp = index.headers.get('content-security-policy') || '';
    // 'wasm-unsafe-eval': WebAssembly (the meshopt decoder) only, never eval of text
    expect(/default-src 'self'/.test(csp) && /script-src 'self'/.test(csp) && !/unsafe/.test(csp.replace(/'wasm-unsafe-eval'/g, '')), `CSP allows only this origin (${csp})`);
    const vendor = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).find((n) => /vendor\/three-[\d.]+\/build\/three\.module\.js$/.test(n)));
    expect(vendor, 'three.js is served from vendor/three-<version>/');
    const v = await fetch(vendor);
    expect(/^text\/javascript/.test(v.headers.get('content-type')), 'vendor module is text/javascript');
    expect(/immutable/.test(v.headers.get('cache-control')), 'vendor module is long-lived');
    const css = await fetch(`${base}/static/studio.css`);
    expect(/^text\/css/.test(css.headers.get('content-type')), 'style sheet is text/css');
    for (const bad of ['/static/vendor', '/static/..%2f..%2fetc/passwd']) {
      const r = await fetch(`${base}${bad}`);
      expect(r.status === 404 || r.status === 400, `${bad} is refused (${r.status})`);
    }
  });

  // A lithophane of a photograph (no frame, so the plate is the picture),
  // seen backlit by default: the canvas's luminance over the plate against
  // the photograph's, resampled to the plate's size on screen.
  const inflateAgain = async () => {
    await page.selectOption('#p-mode', 'lithophane');
    await page.fill('#p-border_mm', String(desc.params.find((p) => p.name === 'border_mm').default));
    await page.selectOption('#p-mode', 'inflate');
    await page.fill('#p-quality', '3');
  };
  await check('lithophane_backlit_shows_the_photograph', async () => {
    await page.selectOption('#p-mode', 'lithophane');
    await page.fill('#p-border_mm', '0');
    await page.fill('#p-quality', '5');
    await page.setInputFiles('#file', LITHO_PHOTO);
    await page.waitForFunction(() => document.getElementById('preview').naturalWidth > 0 && !document.getElementById('generate').disabled, null, { timeout: 30_000 });
    const n0 = shown.length;
    await page.click('#generate');
    for (let i = 0; i < 900 && !shown.slice(n0).includes('final_optimized'); i++) await page.waitForTimeout(100);
    expect(shown.slice(n0).includes('final_optimized'), `the lithophane's final stage is shown (${shown.slice(n0).join(', ')})`);
    expect((await page.isVisible('#backlit-tool')) && (await page.isChecked('#backlit')), 'the backlit view is offered and on');
    const m = await page.evaluate(async () => {
      const c = document.querySelector('#viewport canvas');
      const W = c.width, H = c.height;
      const off = document.createElement('canvas');
      off.width = W;
      off.height = H;
      const g = off.getContext('2d');
      g.drawImage(c, 0, 0);
      const px = g.getImageData(0, 0, W, H).data;
      // relative luminance in linear light, as the engine's thickness law has it
      const lin = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      const lum = (d, i) => 0.2126 * lin(d[i]) + 0.7152 * lin(d[i + 1]) + 0.0722 * lin(d[i + 2]);
      let x0 = W, x1 = -1, y0 = H, y1 = -1; // the lit plate against the dark room
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          if (lum(px, 4 * (y * W + x)) > 0.05) {
            x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
          }
      const w = x1 - x0 + 1, h = y1 - y0 + 1;
      const img = document.getElementById('preview');
      await img.decode();
      const s = document.createElement('canvas');
      s.width = w;
      s.height = h;
      const sg = s.getContext('2d');
      sg.drawImage(img, 0, 0, w, h);
      const src = sg.getImageData(0, 0, w, h).data;
      let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      const inset = Math.ceil(0.02 * Math.max(w, h)); // the plate's edge pixels mix with the room
      for (let y = inset; y < h - inset; y++)
        for (let x = inset; x < w - inset; x++) {
          const a = lum(px, 4 * ((y0 + y) * W + x0 + x)), b = lum(src, 4 * (y * w + x));
          n++; sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b;
        }
      const r = (n * sab - sa * sb) / Math.sqrt((n * saa - sa * sa) * (n * sbb - sb * sb));
      return { r, w, h, x0, y0, W, H, aspect: img.naturalWidth / img.naturalHeight, n };
    });
    await page.locator('#viewport').screenshot({ path: path.join(build, 'studio-backlit.png') });
    console.log(`backlit lithophane: plate ${m.w} x ${m.h} px at (${m.x0}, ${m.y0}) on the ${m.W} x ${m.H} canvas, correlation with the photograph r = ${m.r.toFixed(4)} over ${m.n} pixels (floor ${LITHO_MIN_R})`);
    expect(Math.abs(m.w / m.h / m.aspect - 1) < 0.03, `the plate is seen straight on, with the photograph's aspect (${(m.w / m.h).toFixed(3)} vs ${m.aspect.toFixed(3)})`);
    expect(m.r >= LITHO_MIN_R, `the backlit view shows the photograph (r = ${m.r.toFixed(4)} >= ${LITHO_MIN_R})`);
    const lit = await canvasStats(page);
    await page.uncheck('#backlit');
    const front = await canvasStats(page);
    expect(lit.hash !== front.hash, 'the toggle shows the plate unlit');
    await page.locator('#viewport').screenshot({ path: path.join(build, 'studio-lithophane.png') });
  });
  await inflateAgain();

  // A photograph whose subject the network half misses (opencv-doc's
  // alphamat plant: the pot without its leaves): a click on the leaves in
  // the preview adds a keep point, the preview is fetched again with it
  // and keeps more of the picture; reset takes it back.
  await check('points_change_the_preview', async () => {
    const plant = '/usr/share/doc/opencv-doc/examples/alphamat/input_images/plant.jpg';
    await page.setInputFiles('#file', plant);
    await page.waitForFunction(() => document.getElementById('mask').dataset.source === 'subject' &&
      !document.getElementById('mask').classList.contains('empty'), null, { timeout: 60_000 });
    const opaque = () => page.evaluate(async () => {
      const img = document.getElementById('mask');
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) n += d[i] >= 128;
      return { n, src: img.src };
    });
    const before = await opaque();
    // the leaves at (0.4, 0.25) of the picture, inside the letterboxed preview
    const at = await page.evaluate(() => {
      const img = document.getElementById('mask');
      const w = img.clientWidth, h = img.clientHeight, k = Math.min(w / img.naturalWidth, h / img.naturalHeight);
      return { x: (w - img.naturalWidth * k) / 2 + 0.4 * img.naturalWidth * k, y: (h - img.naturalHeight * k) / 2 + 0.25 * img.naturalHeight * k };
    });
    await page.click('#mask', { position: at });
    expect((await page.locator('#mask-points .point.keep').count()) === 1, 'the keep point is drawn on the preview');
    await page.waitForFunction((src) => {
      const img = document.getElementById('mask');
      return img.src !== src && !img.classList.contains('empty');
    }, before.src, { timeout: 60_000 });
    const after = await opaque();
    console.log(`plant preview: ${before.n} subject pixels, ${after.n} with a keep point on the leaves`);
    expect(after.n > before.n * 1.5, `the keep point grows the subject (${before.n} -> ${after.n} pixels)`);
    await page.screenshot({ path: path.join(build, 'studio-points.png') });
    await page.click('#points-reset');
    expect((await page.locator('#mask-points .point').count()) === 0, 'reset clears the points');
    await page.waitForFunction((src) => {
      const img = document.getElementById('mask');
      return img.src !== src && !img.classList.contains('empty');
    }, after.src, { timeout: 60_000 });
    const reset = await opaque();
    expect(reset.n === before.n, `reset brings the preview back (${reset.n} vs ${before.n})`);
  });

  // An open 20 mm cube (its top missing: 4 open edges) and a 2 mm cube
  // floating beside it (a floater: dropped), as OBJ, dropped on the page.
  const openCube = (() => {
    const v = [];
    const f = [];
    const cube = (x0, s, open) => {
      const b = v.length;
      for (const [x, y, z] of [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]) v.push([x0 + s * x, s * y, s * z]);
      const faces = [[1, 3, 2], [1, 4, 3], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 4, 8], [3, 8, 7], [4, 1, 5], [4, 5, 8]];
      if (!open) faces.push([5, 6, 7], [5, 7, 8]);
      for (const t of faces) f.push(t.map((i) => i + b));
    };
    cube(0, 20, true);
    cube(30, 2, false);
    return `${v.map((p) => `v ${p.join(' ')}`).join('\n')}\n${f.map((t) => `f ${t.join(' ')}`).join('\n')}\n`;
  })();
  await check('mesh_drop_is_repaired', async () => {
    await page.fill('#p-quality', '3');
    const dt = await page.evaluateHandle((text) => {
      const d = new DataTransfer();
      d.items.add(new File([text], 'open-cube.obj', { type: '' }));
      return d;
    }, openCube);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await page.waitForSelector('#viewport[data-shown="final_repaired"]', { timeout: 60_000 });
    await page.waitForSelector('#result:not([hidden])');
    expect(await page.locator('#previews').isHidden(), 'no image preview for a mesh');
    expect(/open-cube\.obj/.test(await page.textContent('#mesh-note')), 'the dropped mesh is named');
    expect(await page.locator('#p-mode').isHidden(), 'the image modes are not offered for a mesh');
    expect(/Repair/.test(await page.textContent('#generate')), 'the button repairs');
    const cell = async (row, col) => (await page.textContent(`#repair-figures tr[data-row="${row}"] td:nth-of-type(${col})`)).trim();
    expect((await cell('holes', 1)) === '4' && (await cell('holes', 2)) === '0', `open edges 4 before, 0 after (${await cell('holes', 1)}, ${await cell('holes', 2)})`);
    expect((await cell('nonmanifold', 1)) === '0' && (await cell('nonmanifold', 2)) === '0', 'no non-manifold edges before or after');
    expect((await cell('shells', 1)) === '2' && (await cell('shells', 2)) === '1', `2 shells before, 1 after (${await cell('shells', 1)}, ${await cell('shells', 2)})`);
    const vol = await cell('volume', 2);
    const mm3 = Number(vol.replace(/[^\d.]/g, '')) * (/cm³/.test(vol) ? 1000 : 1);
    expect(/mm³|cm³/.test(vol) && mm3 > 7600 && mm3 < 8400, `the repaired volume is the 20 mm cube's 8,000 mm³ (${vol})`);
    expect(/Repaired: 20\.\d × 20\.\d × 20\.\d mm, closed and ready to print/.test(await page.textContent('#repair-figures caption')), 'the caption gives the size and says it is closed');
    expect(/Repaired mesh/.test(await page.textContent('#viewport-label')), 'the view is labelled with the repaired mesh');
    const s = await canvasStats(page);
    expect(s.differ > s.total * 0.03 && s.midFrac > 0.2, `the repaired model fills the view (${s.differ}/${s.total}, ${(100 * s.midFrac).toFixed(1)}%)`);
    const link = await page.locator('#downloads a.download.chosen').evaluate((a) => ({ href: a.href, name: a.getAttribute('download'), format: a.dataset.format }));
    expect(link.href.startsWith('blob:') && link.name === `open-cube-repaired.${link.format}`, `a download of the repaired file (${link.name})`);
    const dl = await Promise.all([page.waitForEvent('download'), page.click('#downloads a.download.chosen')]);
    const saved = fs.readFileSync(await dl[0].path());
    expect(link.format !== 'glb' || saved.readUInt32LE(0) === 0x46546c67, 'the GLB download is a GLB');
    expect(saved.length > 1000, `the download has the repaired mesh (${saved.length} bytes)`);
    await page.screenshot({ path: path.join(build, 'studio-repair.png'), fullPage: true });
  });

  await check('bad_mesh_shows_next_to_file_input', async () => {
    await page.setInputFiles('#file', { name: 'junk.stl', mimeType: 'model/stl', buffer: Buffer.from('solid junk\nthis is not a facet\n') });
    await page.waitForFunction(() => document.getElementById('file-error').textContent.length > 0, null, { timeout: 30_000 });
    const msg = await page.textContent('#file-error');
    expect(/could not be repaired as a mesh/.test(msg), `a plain-words error about the mesh next to the file input ("${msg}")`);
  });

  await check('bad_file_shows_next_to_file_input', async () => {
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('this is not an image\n') });
    await page.waitForFunction(() => document.getElementById('file-error').textContent.length > 0);
    const msg = await page.textContent('#file-error');
    expect(/PNG, JPEG or WebP/.test(msg), `a plain-words error next to the file input ("${msg}")`);
    expect(await page.locator('#generate').isDisabled(), 'generation waits for a usable image');
    expect(await page.locator('#p-mode').isVisible(), 'the image modes are back once an image is chosen');
  });

  await check('fits_a_phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.setInputFiles('#file', path.join(root, 'samples', 'heart.png'));
    await page.waitForFunction(() => document.getElementById('file-error').textContent === '');
    await page.waitForFunction(() => !document.getElementById('mask').classList.contains('empty'));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px too wide)`);
    await page.screenshot({ path: path.join(build, 'studio-phone.png'), fullPage: true });
  });

  // A full queue cannot be made on demand without slowing the test, so the
  // server's 429 (body and Retry-After as http.c sends them) is played back.
  await check('busy_server_says_when_to_retry', async () => {
    await page.route('**/api/v1/generate-progressive', (route) =>
      route.fulfill({
        status: 429,
        headers: { 'Content-Type': 'application/json', 'Retry-After': '7' },
        body: JSON.stringify({ error: 'the job queue is full', code: 'queue_full', retry_after_s: 7 }),
      }),
    );
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('generate-error').textContent.length > 0);
    const msg = await page.textContent('#generate-error');
    await page.unroute('**/api/v1/generate-progressive');
    expect(/try again in 7 seconds/.test(msg), `the retry time in plain words next to the button ("${msg}")`);
  });

  await check('no_page_errors', async () => {
    expect(problems.length === 0, `no page errors or CSP violations (${problems.join('; ')})`);
  });
  await context.close();
}

main()
  .then((how) => {
    summary();
    process.exit(how === 'skipped' || !failures.length ? 0 : 1);
  })
  .catch((err) => {
    console.log(`test_studio: ${err?.stack || err}`);
    failures.push('setup');
    summary();
    process.exit(1);
  });
