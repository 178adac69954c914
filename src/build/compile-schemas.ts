/**
 * Build step: compiles the JSON schemas in schemas/ into standalone
 * validator code (dist/spec/validators.js). Compiling a schema with ajv takes
 * tens of milliseconds; tsrunc runs several times per container, so this
 * happens once, at build time, never per call.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone';

const root = join(__dirname, '..', '..');
const schemaDir = join(root, 'schemas');
const BASE = 'https://tsrunc.dev/schemas/';

const ajv = new Ajv({ allErrors: true, strict: true, code: { source: true } });
for (const file of readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'))) {
  ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, file), 'utf8')));
}
const code = standaloneCode(ajv, {
  config: `${BASE}config.schema.json`,
  process: `${BASE}process.schema.json`,
  state: `${BASE}state.schema.json`,
  features: `${BASE}features.schema.json`,
});
writeFileSync(join(root, 'dist', 'spec', 'validators.js'), code);
