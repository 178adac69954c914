import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/, lowest first (DEVELOPERS.md draws them). A folder may
 * import from its own layer's folders only when listed in SAME_LAYER_ORDER,
 * and from every lower layer; never from a higher one.
 */
export const LAYERS: string[][] = [
  ['sys'],
  ['spec', 'dbus'],
  ['linux'],
  ['cgroups', 'seccomp', 'init', 'config', 'shim'],
  ['state'],
  ['container'],
  ['cli'],
  ['build'],
];

const repo = join(__dirname, '..');
const srcDir = join(repo, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Comments removed, strings kept: good enough for import statements. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export interface Edge { from: string; to: string; spec: string }

/** Every module a file names: static imports and re-exports, `import('x')` types, `require(...)`. */
export function importsOf(text: string): { specs: string[]; computed: string[] } {
  const code = stripComments(text);
  const specs: string[] = [];
  const computed: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1/g)) specs.push(m[2]);
  for (const m of code.matchAll(/\bimport\s*(['"])([^'"]+)\1/g)) specs.push(m[2]);
  for (const m of code.matchAll(/\b(require|import)\s*\(\s*([^)]*?)\s*\)/g)) {
    const arg = m[2];
    const literal = /^(['"])([^'"`$]+)\1$/.exec(arg);
    if (literal) specs.push(literal[2]);
    else computed.push(`${m[1]}(${arg})`);
  }
  return { specs, computed };
}

/** The src/ file (relative, without .ts) a relative specifier names; undefined for packages and node: modules. */
function resolveSpec(fromFile: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), spec).replace(/\.js$/, '');
  const candidates = [`${base}.ts`, join(base, 'index.ts')];
  const found = candidates.find((c) => existsSync(c)) ?? `${base}.ts`; // generated modules (validators.js) count by their place
  return relative(srcDir, found).replace(/\.ts$/, '');
}

const folderOf = (mod: string) => (mod.includes('/') ? mod.split('/')[0] : '.');
const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

function graph(): { edges: Edge[]; computed: string[]; modules: string[] } {
  const edges: Edge[] = [];
  const computed: string[] = [];
  const files = tsFiles(srcDir);
  for (const file of files) {
    const from = relative(srcDir, file).replace(/\.ts$/, '');
    const found = importsOf(readFileSync(file, 'utf8'));
    computed.push(...found.computed.map((c) => `${from}: ${c}`));
    for (const spec of found.specs) {
      const to = resolveSpec(file, spec);
      if (to !== undefined && to !== from) edges.push({ from, to, spec });
    }
  }
  return { edges, computed, modules: files.map((f) => relative(srcDir, f).replace(/\.ts$/, '')) };
}

/** Every elementary cycle's first node sequence found by DFS (one per back edge). */
export function cycles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) (next.get(e.from) ?? next.set(e.from, new Set()).get(e.from)!).add(e.to);
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...next.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

describe('the import graph of src/', () => {
  const { edges, computed, modules } = graph();

  it('sees the imports (the parser is not blind)', () => {
    expect(modules.length).toBeGreaterThan(50);
    expect(edges).toContainEqual(expect.objectContaining({ from: 'cli/commands', to: 'cli/handlers/create' }));
    expect(edges).toContainEqual(expect.objectContaining({ from: 'container/setup', to: 'init/ops' }));
  });

  it('has no module loaded by a computed path', () => {
    expect(computed).toEqual([]);
  });

  it('has no cycle between files', () => {
    expect(cycles(edges).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const folderEdges = edges.map((e) => ({ from: folderOf(e.from), to: folderOf(e.to) })).filter((e) => e.from !== e.to);
    expect(cycles(folderEdges).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('puts every folder in a layer', () => {
    const folders = [...new Set(modules.map(folderOf))];
    expect(folders.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('imports only downwards: no folder imports a folder of its own layer or a higher one', () => {
    const violations = edges
      .filter((e) => folderOf(e.from) !== folderOf(e.to) && layerOf(folderOf(e.to)) >= layerOf(folderOf(e.from)))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(violations).toEqual([]);
  });
});

describe('the checker itself', () => {
  it('finds static, type, re-export and literal require imports, and flags computed ones', () => {
    const text = `import a from './a';\nimport type { B } from "../b";\nexport { c } from './c';\nimport './d';\n` +
      `const e = require('./e') as typeof import('./f');\nconst g = require(name);\nconst h = require(\`./\${x}\`);\n// import z from './z';\n`;
    const { specs, computed } = importsOf(text);
    expect(specs.sort()).toEqual(['../b', './a', './c', './d', './e', './f']);
    expect(computed).toEqual(['require(name)', 'require(`./${x}`)']);
  });

  it('finds a cycle', () => {
    expect(cycles([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }])).toEqual([['a', 'b', 'c', 'a']]);
    expect(cycles([{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }, { from: 'b', to: 'c' }])).toEqual([]);
  });
});
