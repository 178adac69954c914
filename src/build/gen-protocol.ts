/**
 * Build step: writes the C header of the init protocol (addon/build/protocol.h)
 * from its one definition, the REQUESTS table of src/init/protocol.ts. Run by
 * `make -C addon` (after tsc) as `node dist/build/gen-protocol.js <out>`.
 * test/init/protocol.test.ts checks the built header is what this renders.
 */
import { writeFileSync } from 'node:fs';
import { FIELD_KINDS, OPTS, REQUESTS, SHAPE_LETTERS, cName, requestShape, type RequestName } from '../init/protocol';

export function renderHeader(): string {
  const names = Object.keys(REQUESTS) as RequestName[];
  const width = Math.max(...names.map((n) => `${cName(n)} = ${REQUESTS[n].op},`.length));
  const ops = names.map((n) => {
    const r = REQUESTS[n];
    const fields = r.fields.length ? r.fields.map(([f, kind]) => `${kind} ${f}`).join(', ') : 'no fields';
    return `  ${`${cName(n)} = ${r.op},`.padEnd(width)} /* ${fields}: ${r.doc.replace(/\*\//g, '* /')} */`;
  });
  const kinds = Object.entries(FIELD_KINDS).map(([k, doc]) => ` *   ${k.padEnd(6)} ${doc}`);
  const opts = Object.entries(OPTS).map(([k, o]) => `#define ${k} ${o.bit}u /* ${o.doc} */`);
  return [
    '/*',
    ' * GENERATED from src/init/protocol.ts by src/build/gen-protocol.ts: do not edit.',
    ' *',
    ' * The request channel between tsrunc (TypeScript) and tsrunc-init (init.c);',
    ' * addon/PROTOCOL.md draws the sequences. Every frame is a little-endian u32',
    ' * byte count followed by that many bytes. A request body is a u32 opcode',
    ' * followed by the opcode\'s fields, in order:',
    ...kinds,
    ' * A reply body is: i32 errno (0 = success), i64 value, str detail.',
    ' */',
    '#ifndef TSRUNC_PROTOCOL_H',
    '#define TSRUNC_PROTOCOL_H',
    '',
    'enum tsrunc_op {',
    ...ops,
    '};',
    '',
    '/* opts bits */',
    ...opts,
    '',
    `/* Each request's fields, a letter each (${Object.entries(SHAPE_LETTERS).map(([k, l]) => `${l} ${k}`).join(', ')}): addon/request.h checks a whole request against it. NULL: no such request. */`,
    'static inline const char *request_shape(unsigned op) {',
    '  switch (op) {',
    ...names.map((n) => `  case ${cName(n)}: return "${requestShape(n)}";`),
    '  default: return 0;',
    '  }',
    '}',
    '',
    '#endif',
    '',
  ].join('\n');
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: gen-protocol.js <output header>');
  writeFileSync(out, renderHeader());
}
