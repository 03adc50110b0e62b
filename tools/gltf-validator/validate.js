// validate.js - runs the Khronos glTF validator (npm gltf-validator) on GLB
// files: prints "FILE: errors=N warnings=N" and each error's code and
// message, and exits 1 when any file has an error (2 on bad usage or an
// unreadable file).  Installed with its package into BUILD/tools/gltf-validator
// by the Makefile; used by tests/test_tools.sh.
'use strict';
const fs = require('fs');
const validator = require('gltf-validator');

async function main(files) {
  if (files.length === 0) {
    console.error('usage: node validate.js FILE.glb...');
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(f)), { maxIssues: 50 });
    const i = report.issues;
    console.log(`${f}: errors=${i.numErrors} warnings=${i.numWarnings}`);
    for (const m of i.messages.filter((m) => m.severity === 0)) console.log(`  ${m.code} ${m.pointer || ''} ${m.message}`);
    if (i.numErrors > 0) bad++;
  }
  return bad ? 1 : 0;
}

main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => {
  console.error(String(e));
  process.exit(2);
});
