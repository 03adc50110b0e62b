// build.mjs - makes the served web root (BUILD/web) of the ORFEAS studio
// from web/: the page, its style sheet and its ES modules are copied as
// they are, and the three.js files the page imports are copied from
// web/node_modules (installed by `npm ci` from web/package-lock.json, so the
// version is pinned and nothing is fetched when the page runs) into
// vendor/three-<version>/.
//
// Browsers cannot resolve bare module specifiers ('three',
// 'three/addons/...') without an import map, and the server's
// Content-Security-Policy (script-src 'self') forbids the inline script an
// import map would need.  So this build rewrites every bare three.js
// specifier into a relative path to the served file, in the page's modules
// and in three's own add-ons, following each file's relative imports so
// that exactly the files the page needs are copied (GLTFLoader and
// OrbitControls import 'three' and a few sibling utilities).  The version
// in the vendor path lets the server mark vendor files immutable.
//
//   node web/build.mjs OUT_DIR
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node web/build.mjs OUT_DIR');
  process.exit(2);
}

const threeDir = path.join(here, 'node_modules', 'three');
if (!fs.existsSync(path.join(threeDir, 'package.json'))) {
  console.error('build.mjs: web/node_modules/three is missing: run `npm ci` in web/ (the Makefile does)');
  process.exit(1);
}
const threeVersion = JSON.parse(fs.readFileSync(path.join(threeDir, 'package.json'), 'utf8')).version;
const vendorRel = `vendor/three-${threeVersion}`;

// A module's static import specifiers: `import ... from 'x'`, `export ... from 'x'` and
// `import 'x'`, each a statement at the start of a line (so comments and strings that
// mention imports are left alone); the clause before `from` has no quote or semicolon.
const SPECIFIER = /^((?:import|export)[^;'"]*?\bfrom\s*|import\s*)(['"])([^'"\n]+)\2/gm;

// The served path (relative to OUT) of a bare three.js specifier, or null.
function bareTarget(spec) {
  if (spec === 'three') return `${vendorRel}/build/three.module.js`;
  if (spec.startsWith('three/addons/')) return `${vendorRel}/examples/jsm/${spec.slice('three/addons/'.length)}`;
  return null;
}

function relativeSpec(fromFile, toFile) {
  let rel = path.posix.relative(path.posix.dirname(fromFile), toFile);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

const pending = []; // vendor files still to copy: paths relative to OUT
const seen = new Set();

function queueVendor(rel) {
  if (!seen.has(rel)) {
    seen.add(rel);
    pending.push(rel);
  }
}

// A file a module finds at run time rather than imports:
// `new URL('three/addons/<path>', import.meta.url)`, a file or (ending in
// '/') a folder (DRACOLoader's decoder: its wasm and its wrapper script).
const RUNTIME_URL = /new URL\((['"])(three\/addons\/[^'"\n]+)\1, import\.meta\.url\)/g;
const files = []; // vendor files copied as they are: paths relative to OUT

function queueFiles(target) {
  if (!target.endsWith('/')) return files.push(target);
  const dir = path.join(threeDir, target.slice(vendorRel.length + 1));
  for (const name of fs.readdirSync(dir).sort()) if (fs.statSync(path.join(dir, name)).isFile()) files.push(target + name);
}

// Rewrites the bare specifiers of the module at `rel` (relative to OUT) and
// queues the vendor files it reaches.
function rewrite(source, rel) {
  source = source.replace(RUNTIME_URL, (all, quote, spec) => {
    const target = bareTarget(spec);
    queueFiles(target);
    return `new URL(${quote}${relativeSpec(rel, target)}${target.endsWith('/') ? '/' : ''}${quote}, import.meta.url)`;
  });
  return source.replace(SPECIFIER, (all, lead, quote, spec) => {
    const target = bareTarget(spec);
    if (target) {
      queueVendor(target);
      return `${lead}${quote}${relativeSpec(rel, target)}${quote}`;
    }
    if (spec.startsWith('.') && rel.startsWith('vendor/')) queueVendor(path.posix.join(path.posix.dirname(rel), spec));
    else if (!spec.startsWith('.') && !spec.startsWith('/')) throw new Error(`${rel}: cannot resolve import '${spec}'`);
    return all;
  });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const served = /\.(html|css|js|svg|png|ico|json|txt)$/;
for (const name of fs.readdirSync(here).sort()) {
  const src = path.join(here, name);
  if (!fs.statSync(src).isFile() || !served.test(name) || /^(package(-lock)?\.json|build\.mjs)$/.test(name)) continue;
  let data = fs.readFileSync(src, 'utf8');
  if (name.endsWith('.js')) data = rewrite(data, name);
  fs.writeFileSync(path.join(out, name), data);
}

let copied = 0;
while (pending.length) {
  const rel = pending.shift();
  const src = path.join(threeDir, rel.slice(vendorRel.length + 1));
  if (!fs.existsSync(src)) throw new Error(`build.mjs: ${rel} is imported but not in three ${threeVersion}`);
  const dst = path.join(out, rel);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.writeFileSync(dst, rewrite(fs.readFileSync(src, 'utf8'), rel));
  copied++;
}
for (const rel of files) {
  const dst = path.join(out, rel);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(path.join(threeDir, rel.slice(vendorRel.length + 1)), dst);
}
fs.copyFileSync(path.join(threeDir, 'LICENSE'), path.join(out, vendorRel, 'LICENSE.txt'));
console.log(`build.mjs: ${out} with three ${threeVersion} (${copied} vendor modules, ${files.length} run-time files)`);
