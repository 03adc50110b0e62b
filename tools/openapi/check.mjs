// check.mjs DOC.json RECORDS.jsonl - holds the server to its OpenAPI document.
//
// 1. DOC.json (what GET /api/v1/openapi.json served) must be a valid OpenAPI
//    3.1 document (@seriousme/openapi-schema-validator, which checks it
//    against the OpenAPI Initiative's own schema).
// 2. Every recorded answer (one JSON line each: method, path, status, type,
//    body; written by the tests' harness) must match the document: its path
//    must be one of the document's (templates such as /api/v1/jobs/{id}
//    match any one segment), its method and status must be declared there,
//    and a JSON body must validate against the schema of that status and
//    media type (ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1); an
//    NDJSON body line by line against the media type's x-item-schema.
// Prints a summary line per route and status; exits 1 on the first kind of
// drift it finds (listing every instance), 0 when all matched.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';

const [docPath, recordsPath] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docPath, 'utf8'));

const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
  console.log('openapi: the document is not valid OpenAPI 3.1:');
  console.log(JSON.stringify(res.errors, null, 2).slice(0, 4000));
  process.exit(1);
}
console.log(`openapi: document valid (OpenAPI ${doc.openapi}, ${Object.keys(doc.paths).length} paths)`);

// Every component schema under one id, so that "#/components/schemas/X"
// references resolve inside ajv.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'orfeas', components: doc.components }, 'orfeas');
const rebase = (schema) =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"orfeas#/components/'));
const resolveRef = (obj) => {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/');
    obj = parts.reduce((o, k) => o[k], doc);
  }
  return obj;
};

const templates = Object.keys(doc.paths).map((p) => ({
  path: p,
  re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
  literal: !p.includes('{'),
}));
const routeOf = (path) => {
  const bare = path.split('?')[0];
  return templates.find((t) => t.literal && t.re.test(bare)) || templates.find((t) => t.re.test(bare));
};

const lines = readFileSync(recordsPath, 'utf8').split('\n').filter(Boolean);
const problems = [];
const seen = new Map();
const compiled = new Map();
const validate = (schema, value) => {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rebase(schema)));
  const fn = compiled.get(key);
  return fn(value) ? null : ajv.errorsText(fn.errors);
};

for (const line of lines) {
  const r = JSON.parse(line);
  const what = `${r.method} ${r.path} -> ${r.status}`;
  const route = routeOf(r.path);
  if (!route) {
    // the studio's files are not part of the API
    if (r.path === '/' || r.path.startsWith('/static/') || r.path === '/index.html') continue;
    // any other path (a traversal attempt, a typo) must get an API error
    if ([400, 404, 405].includes(r.status) && (r.type || '').startsWith('application/json')) {
      const err = validate({ $ref: '#/components/schemas/Error' }, JSON.parse(r.body));
      if (err) problems.push(`${what}: ${err}`);
      continue;
    }
    problems.push(`${what}: no such path in the document`);
    continue;
  }
  // Two answers any route may give, stated once in docs/API.md rather than
  // on every operation: 429 rate_limited past --rate-limit (probes exempt),
  // and 204 to a CORS preflight (OPTIONS) when --cors-origin is set.
  if (r.status === 429 && r.body && JSON.parse(r.body).code === 'rate_limited') {
    const err = validate({ $ref: '#/components/schemas/Error' }, JSON.parse(r.body));
    if (err) problems.push(`${what}: ${err}`);
    continue;
  }
  if (r.method === 'OPTIONS' && r.status === 204) continue;
  const op = doc.paths[route.path][r.method.toLowerCase() === 'head' ? 'get' : r.method.toLowerCase()];
  if (!op) {
    if (r.status === 405) continue; /* the method is refused, as it should be */
    problems.push(`${what}: the document has no ${r.method} on ${route.path}`);
    continue;
  }
  const resp = resolveRef(op.responses[String(r.status)]);
  if (!resp) {
    problems.push(`${what}: status ${r.status} is not in the document for ${r.method} ${route.path}`);
    continue;
  }
  const key = `${r.method} ${route.path} ${r.status}`;
  seen.set(key, (seen.get(key) || 0) + 1);
  const type = (r.type || '').split(';')[0].trim();
  const media = resp.content && resp.content[type];
  if (resp.content && !media && r.status !== 304) {
    problems.push(`${what}: media type "${type}" is not in the document`);
    continue;
  }
  if (!media || !r.body) continue;
  if (type === 'application/json' && media.schema) {
    let body;
    try {
      body = JSON.parse(r.body);
    } catch (e) {
      problems.push(`${what}: the body is not JSON`);
      continue;
    }
    const err = validate(media.schema, body);
    if (err) problems.push(`${what}: ${err}: ${r.body.slice(0, 300)}`);
  } else if (type === 'application/x-ndjson' && media['x-item-schema']) {
    for (const l of r.body.split('\n').filter(Boolean)) {
      const err = validate(media['x-item-schema'], JSON.parse(l));
      if (err) problems.push(`${what}: line ${err}: ${l.slice(0, 300)}`);
    }
  }
}

for (const [k, n] of [...seen].sort()) console.log(`openapi: ${n} x ${k}`);
console.log(`openapi: ${lines.length} answers checked, ${problems.length} not as documented`);
for (const p of problems.slice(0, 50)) console.log(`openapi: MISMATCH ${p}`);
process.exit(problems.length ? 1 : 0);
