import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, notFound, validateId, writeAtomic, type ContainerRecord } from '../../src/state/store';
import { TsruncError } from '../../src/sys/errors';

let base: string;
let root: string;
let store: StateStore;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'tsrunc-store-'));
  root = join(base, 'root');
  store = new StateStore(root);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const record = (id: string, extra: Partial<ContainerRecord> = {}): ContainerRecord => ({
  ociVersion: '1.3.0', id, bundle: '/b', rootfs: '/b/rootfs', created: '2024-01-01T00:00:00.000Z', ...extra,
});

describe('validateId', () => {
  it('accepts letters, digits and _ + - .', () => {
    for (const id of ['a', 'abc-123', 'A_b.c+d', '...', '.a', 'x'.repeat(1024)]) expect(() => validateId(id), id).not.toThrow();
  });

  it('refuses anything else, "." and "..", and ids over 1024 characters', () => {
    for (const id of ['', '.', '..', 'a/b', '../x', 'a b', 'a:b', 'é', 'x'.repeat(1025), 'a\n']) {
      expect(() => validateId(id), JSON.stringify(id)).toThrow(TsruncError);
    }
    expect(() => validateId('a/b')).toThrow(`invalid container id "a/b": use letters, digits, '_', '+', '-' and '.' only`);
  });
});

describe('StateStore', () => {
  it('places each container in <root>/<id>, checking the id', () => {
    expect(store.dir('ctr')).toBe(join(root, 'ctr'));
    expect(() => store.dir('../etc')).toThrow(TsruncError);
  });

  it('claims an id once: the second claim fails', () => {
    const dir = store.claim('ctr');
    expect(dir).toBe(join(root, 'ctr'));
    expect(statSync(dir).mode & 0o777).toBe(0o711);
    expect(() => store.claim('ctr')).toThrow(new TsruncError('container with id "ctr" already exists'));
  });

  it('creates the root on the first claim', () => {
    expect(store.ids()).toEqual([]);
    store.claim('a');
    expect(statSync(root).isDirectory()).toBe(true);
  });

  it('knows which containers exist', () => {
    expect(store.exists('ctr')).toBe(false);
    store.claim('ctr');
    expect(store.exists('ctr')).toBe(true);
    expect(store.exists('..')).toBe(false);
  });

  it('writes and reads a record', () => {
    store.claim('ctr');
    const r = record('ctr', { pid: 42, pidStartTime: '123', annotations: { a: 'b' } });
    store.write(r);
    expect(store.read('ctr')).toEqual(r);
    expect(store.tryRead('ctr')).toEqual(r);
    expect(JSON.parse(readFileSync(join(root, 'ctr', 'state.json'), 'utf8'))).toEqual(r);
  });

  it('leaves no temporary file after a write', () => {
    store.claim('ctr');
    store.write(record('ctr'));
    store.write(record('ctr', { pid: 1 }));
    expect(readdirSync(join(root, 'ctr'))).toEqual(['state.json']);
    expect(store.read('ctr').pid).toBe(1);
  });

  it('says a container without state does not exist', () => {
    expect(() => store.read('ghost')).toThrow(new TsruncError('container "ghost" does not exist'));
    store.claim('new');
    expect(() => store.read('new')).toThrow('container "new" does not exist');
    expect(store.tryRead('new')).toBeUndefined();
  });

  it('reports unreadable state', () => {
    store.claim('bad');
    writeFileSync(join(root, 'bad', 'state.json'), '{not json');
    expect(() => store.read('bad')).toThrow(/^container "bad": unreadable state: /);
    expect(store.tryRead('bad')).toBeUndefined();
  });

  it('reads the exit record the shim writes, if any', () => {
    store.claim('ctr');
    expect(store.readExit('ctr')).toBeUndefined();
    const exit = { pid: 42, exitCode: 3, signal: 0, exitedAt: '2024-01-01T00:00:01.000Z' };
    writeFileSync(join(root, 'ctr', 'exit'), JSON.stringify(exit));
    expect(store.readExit('ctr')).toEqual(exit);
    writeFileSync(join(root, 'ctr', 'exit'), '{');
    expect(store.readExit('ctr')).toBeUndefined();
  });

  it('removes a container directory with everything in it, and tolerates a missing one', () => {
    store.claim('ctr');
    store.write(record('ctr'));
    mkdirSync(join(root, 'ctr', 'sub'));
    store.remove('ctr');
    expect(store.exists('ctr')).toBe(false);
    expect(() => store.remove('ctr')).not.toThrow();
  });

  it('lists the ids of directories, sorted', () => {
    expect(store.ids()).toEqual([]);
    for (const id of ['b', 'a', 'c']) store.claim(id);
    writeFileSync(join(root, 'not-a-container'), '');
    expect(store.ids()).toEqual(['a', 'b', 'c']);
  });

  describe('lock', () => {
    it('fails for a container that does not exist', async () => {
      await expect(store.lock('ghost')).rejects.toThrow(new TsruncError('container "ghost" does not exist'));
    });

    it('is exclusive: a second lock waits until the first is released', async () => {
      store.claim('ctr');
      const release1 = await store.lock('ctr');
      let second: (() => void) | undefined;
      const pending = store.lock('ctr').then((r) => (second = r));
      await new Promise((r) => setTimeout(r, 100));
      expect(second).toBeUndefined();
      release1();
      await pending;
      expect(second).toBeTypeOf('function');
      second!();
    });

    it('locks containers independently', async () => {
      store.claim('a');
      store.claim('b');
      const ra = await store.lock('a');
      const rb = await store.lock('b');
      ra();
      rb();
    });

    it('can be taken again after release', async () => {
      store.claim('ctr');
      (await store.lock('ctr'))();
      (await store.lock('ctr'))();
    });
  });
});

describe('writeAtomic', () => {
  it('writes the data with the given mode', () => {
    const file = join(base, 'f');
    writeAtomic(file, 'one', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('one');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(base)).toEqual(['f']);
  });
});

describe('notFound', () => {
  it('is a TsruncError naming the id', () => {
    expect(notFound('x')).toEqual(new TsruncError('container "x" does not exist'));
  });
});
