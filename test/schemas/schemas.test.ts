/**
 * Tests for tsrunc's own OCI runtime-spec v1.3.0 JSON schemas (schemas/*.schema.json).
 *
 * - our schemas compile with ajv 8 in strict mode (no strict-mode warnings) and
 *   can be turned into standalone validation code;
 * - the official runtime-spec test vectors get the expected verdict;
 * - our corpus (test/schemas/corpus/{config,state,features}/{good,bad}) gets the
 *   expected verdict, and the official schemas agree with ours except where a
 *   difference is listed (with its reason) in OFFICIAL_DIFFERENCES below;
 * - errors point at the offending value (instancePath).
 *
 * The official schemas and test vectors are vendored in test/schemas/official
 * (Apache-2.0, source commit in its README.md); OCI_RUNTIME_SPEC_SCHEMA_DIR
 * points the comparison at another copy. A missing directory is a failure.
 */
import { describe, it, expect } from 'vitest';
import Ajv, { type AnySchemaObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

// vitest provides __dirname (also keeps this file valid as CommonJS for tsc).
const HERE = __dirname;
const REPO = resolve(HERE, '..', '..');
const SCHEMA_DIR = join(REPO, 'schemas');
const CORPUS_DIR = join(HERE, 'corpus');
const OFFICIAL_DIR = process.env.OCI_RUNTIME_SPEC_SCHEMA_DIR ?? join(HERE, 'official');

const BASE = 'https://tsrunc.dev/schemas/';
const OUR_FILES = ['defs', 'process', 'config', 'state', 'features'] as const;
type Kind = 'config' | 'state' | 'features';
const KINDS: Kind[] = ['config', 'state', 'features'];
const OFFICIAL_ROOT: Record<Kind, string> = {
  config: 'config-schema.json',
  state: 'state-schema.json',
  features: 'features-schema.json',
};

// ---------------------------------------------------------------------------
// Where our verdict on a corpus file legitimately differs from the official
// schemas'. Key: "<kind>/<good|bad>/<file>". The directory is our verdict; the
// official schemas give the opposite one.
// ---------------------------------------------------------------------------
const OFFICIAL_DIFFERENCES: Record<string, string> = {
  // --- ours is stricter (the spec's words say so, the official schema does not) ---
  'config/bad/ociVersion-not-semver.json': 'config.md: ociVersion "MUST be in SemVer v2.0.0 format"',
  'config/bad/missing-root.json': 'config.md Root: "On all other platforms [than Windows], this field is REQUIRED"',
  'config/bad/missing-process-user.json':
    'config.md POSIX-platform User: uid and gid are REQUIRED, so a Linux process needs a user (specs-go always emits it)',
  'config/bad/relative-cwd.json': 'config.md Process: cwd "MUST be an absolute path"',
  'config/bad/empty-args.json': 'config.md Process: args — "at least one entry is REQUIRED (non-Windows)"',
  'config/bad/env-without-equals.json':
    'config.md: env has the semantics of IEEE 1003.1 environ, whose strings "have the form name=value"',
  'config/bad/capability-lowercase.json':
    'config.md Linux Process: valid values are defined in capabilities(7), "such as CAP_CHOWN" (^CAP_[A-Z_]+$)',
  'config/bad/ioPriority-out-of-range.json':
    'config.md ioPriority: priority is "an integer ranging from 0 (highest) to 7 (lowest)"',
  'config/bad/hook-relative-path.json': 'config.md Hooks: "path MUST be absolute"',
  'config/bad/annotation-empty-key.json': 'config.md Annotations: "Keys MUST NOT be an empty string"',
  'config/bad/mount-uidMappings-without-gidMappings.json':
    'config.md POSIX-platform Mounts: uidMappings "If specified, it MUST be specified along with gidMappings"',
  'config/bad/namespace-relative-path.json': 'config-linux.md Namespaces: path "MUST be an absolute path"',
  'config/bad/maskedPaths-relative.json': 'config-linux.md Masked Paths: "The values MUST be absolute paths"',
  'config/bad/device-relative-path.json': 'config-linux.md Devices: path is the "full path to device inside container"',
  'config/bad/device-char-missing-major.json': 'config-linux.md Devices: major, minor are "REQUIRED unless type is p"',
  'config/bad/cgroup-device-bad-type.json': 'config-linux.md Allowed Device list: type is "a (all), c (char), or b (block)"',
  'config/bad/cgroup-device-bad-access.json':
    'config-linux.md Allowed Device list: access is "a composition of r (read), w (write), and m (mknod)"',
  'config/bad/memory-limit-below-minus-one.json':
    'config-linux.md Memory: "Values for memory specify the limit in bytes, or -1 for unlimited memory"',
  'config/bad/memory-swappiness-over-100.json': 'config-linux.md Memory: swappiness "values are from 0 to 100"',
  'config/bad/cpu-cpus-bad-format.json':
    'config-linux.md CPU: cpus is "a comma-separated list, with dashes to represent ranges"',
  'config/bad/blockio-throttle-missing-rate.json': 'config-linux.md Block IO: throttle entries have rate (uint64, REQUIRED)',
  'config/bad/blockio-weightDevice-without-weights.json':
    'config-linux.md Block IO: "You MUST specify at least one of weight or leafWeight in a given entry"',
  'config/bad/rdma-empty-entry.json':
    'config-linux.md RDMA: "You MUST specify at least one of the hcaHandles or hcaObjects in a given entry"',
  'config/bad/intelRdt-schemata-newline.json': 'config-linux.md IntelRdt: schemata "The value MUST NOT contain newlines"',
  'config/bad/memoryPolicy-missing-mode.json': 'config-linux.md Memory policy: mode (string, REQUIRED)',
  'config/bad/seccomp-errnoRet-with-kill.json':
    'config-linux.md Seccomp: errnoRet — "When the action doesn\'t support an errno, the runtime MUST print and error and fail" (only SCMP_ACT_ERRNO/SCMP_ACT_TRACE carry one)',
  'config/bad/seccomp-defaultErrnoRet-with-allow.json':
    'config-linux.md Seccomp: defaultErrnoRet — same rule as errnoRet, for defaultAction',
  'config/bad/seccomp-listenerMetadata-without-listenerPath.json':
    'config-linux.md Seccomp: listenerMetadata "MUST NOT be set if listenerPath is not set"',
  'state/bad/relative-bundle.json': 'runtime.md State: bundle "is the absolute path to the container\'s bundle directory"',
  'state/bad/running-without-pid.json': 'runtime.md State: pid is "REQUIRED when status is created or running on Linux"',
  // --- ours is looser (the official schema is stricter than the spec's words) ---
  'config/good/pids-without-limit.json': 'config-linux.md PIDs (v1.3.0): limit is (int64, OPTIONAL); the official schema requires it',
  'config/good/containerd-cri-k8s.json':
    'rootfsPropagation "rslave": the spec lists shared/slave/private/unbindable, but runc accepts the recursive spellings and containerd CRI / moby emit them (deliberately looser for runc compatibility)',
  'state/good/runc-paused.json':
    'runtime.md State: status — "Additional values MAY be defined by the runtime" (runc reports "paused"); the official schema has a closed enum',
  'features/good/null-values.json':
    'features.md: "All properties in the Features structure except ociVersionMin and ociVersionMax MAY either be absent or have the null value"',
};

// Official test vectors that are not for Linux, where our Linux-only schema's
// verdict differs from the expected one.
const NON_LINUX_VECTOR_VERDICTS: Record<string, { ours: boolean; reason: string }> = {
  'config/good/freebsd-example.json': {
    ours: false,
    reason: 'FreeBSD process without "user": our schema is for Linux hosts, where uid/gid are REQUIRED',
  },
  'config/bad/freebsd-vnet-disable.json': {
    ours: true,
    reason: 'the "freebsd" section is accepted as an opaque object by our Linux schema',
  },
};
const NON_LINUX_PLATFORMS = ['windows', 'solaris', 'zos', 'freebsd', 'vm'];

// The first error's instancePath (JSON pointer) and keyword for some bad files.
const FIRST_ERROR: Record<string, { instancePath: string; keyword: string; missing?: string }> = {
  'config/bad/negative-uid.json': { instancePath: '/process/user/uid', keyword: 'minimum' },
  'config/bad/gid-over-uint32.json': { instancePath: '/process/user/gid', keyword: 'maximum' },
  'config/bad/missing-process-cwd.json': { instancePath: '/process', keyword: 'required', missing: 'cwd' },
  'config/bad/missing-ociVersion.json': { instancePath: '', keyword: 'required', missing: 'ociVersion' },
  'config/bad/namespace-bad-type.json': { instancePath: '/linux/namespaces/1/type', keyword: 'enum' },
  'config/bad/capability-lowercase.json': { instancePath: '/process/capabilities/bounding/0', keyword: 'pattern' },
  'config/bad/rlimit-bad-name.json': { instancePath: '/process/rlimits/0/type', keyword: 'pattern' },
  'config/bad/seccomp-bad-action.json': { instancePath: '/linux/seccomp/syscalls/0/action', keyword: 'enum' },
  'config/bad/seccomp-bad-op.json': { instancePath: '/linux/seccomp/syscalls/2/args/0/op', keyword: 'enum' },
  'config/bad/hook-relative-path.json': { instancePath: '/hooks/poststart/0/path', keyword: 'pattern' },
  'config/bad/env-without-equals.json': { instancePath: '/process/env/1', keyword: 'pattern' },
  'config/bad/terminal-not-boolean.json': { instancePath: '/process/terminal', keyword: 'type' },
  'config/bad/hugepage-lowercase-unit.json': {
    instancePath: '/linux/resources/hugepageLimits/0/pageSize',
    keyword: 'pattern',
  },
  'config/bad/device-char-missing-major.json': { instancePath: '/linux/devices/0', keyword: 'required', missing: 'major' },
  'config/bad/seccomp-errnoRet-with-kill.json': { instancePath: '/linux/seccomp/syscalls/0/action', keyword: 'enum' },
  'state/bad/running-without-pid.json': { instancePath: '', keyword: 'required', missing: 'pid' },
  'features/bad/bad-namespace.json': { instancePath: '/linux/namespaces/0', keyword: 'enum' },
};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------
function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function loadOurSchemas(): AnySchemaObject[] {
  return OUR_FILES.map((n) => readJson(join(SCHEMA_DIR, `${n}.schema.json`)) as AnySchemaObject);
}

const strictWarnings: string[] = [];
function ourAjv(extra: Record<string, unknown> = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    // Full strict mode (strictTypes, strictTuples, strictRequired, ...): any
    // warning is collected and fails the compilation test.
    strict: true,
    logger: {
      log: () => {},
      warn: (...args: unknown[]) => void strictWarnings.push(args.map(String).join(' ')),
      error: (...args: unknown[]) => void strictWarnings.push(args.map(String).join(' ')),
    },
    ...extra,
  });
  for (const s of loadOurSchemas()) ajv.addSchema(s);
  return ajv;
}

const OFFICIAL_BASE = 'https://official.oci-runtime-spec.invalid/schema/';
function officialAjv(): Ajv {
  // The official schemas declare draft-04 and have no $id; they only use
  // keywords whose meaning is the same in draft-07, so drop "$schema" and give
  // each one an absolute $id so that their relative refs ("defs.json#/...")
  // resolve.
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  for (const f of readdirSync(OFFICIAL_DIR).filter((f) => f.endsWith('.json'))) {
    const s = readJson(join(OFFICIAL_DIR, f)) as AnySchemaObject;
    delete s.$schema;
    s.$id = OFFICIAL_BASE + f;
    ajv.addSchema(s);
  }
  return ajv;
}

function getValidator(ajv: Ajv, id: string): ValidateFunction {
  const v = ajv.getSchema(id);
  if (!v) throw new Error(`schema ${id} did not compile`);
  return v;
}

interface Sample {
  key: string; // "<kind>/<good|bad>/<file>"
  kind: Kind;
  good: boolean;
  path: string;
}
function listSamples(root: string): Sample[] {
  const out: Sample[] = [];
  for (const kind of KINDS) {
    for (const gb of ['good', 'bad'] as const) {
      const dir = join(root, kind, gb);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
        out.push({ key: `${kind}/${gb}/${f}`, kind, good: gb === 'good', path: join(dir, f) });
      }
    }
  }
  return out;
}

function parse(path: string): { ok: true; data: unknown } | { ok: false; error: unknown } {
  try {
    return { ok: true, data: readJson(path) };
  } catch (error) {
    return { ok: false, error };
  }
}

function describeErrors(v: ValidateFunction): string {
  return JSON.stringify((v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath} ${e.message}`));
}

// ---------------------------------------------------------------------------
const ours = ourAjv();
const oursValidators = Object.fromEntries(KINDS.map((k) => [k, getValidator(ours, `${BASE}${k}.schema.json`)])) as Record<
  Kind,
  ValidateFunction
>;
const corpus = listSamples(CORPUS_DIR);

describe('tsrunc schemas: compilation', () => {
  it('compile in ajv strict mode without warnings, every $ref resolving by $id', () => {
    const ajv = ourAjv();
    for (const n of OUR_FILES) {
      expect(ajv.getSchema(`${BASE}${n}.schema.json`), n).toBeTypeOf('function');
    }
    expect(strictWarnings).toEqual([]);
  });

  it('every file has an absolute $id under https://tsrunc.dev/schemas/ and declares draft-07', () => {
    for (const [i, s] of loadOurSchemas().entries()) {
      expect(s.$id).toBe(`${BASE}${OUR_FILES[i]}.schema.json`);
      expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
    }
  });

  it('config.schema.json references process.schema.json instead of duplicating it', () => {
    const config = readJson(join(SCHEMA_DIR, 'config.schema.json')) as {
      properties: { process: Record<string, unknown> };
    };
    expect(config.properties.process).toEqual({ $ref: 'process.schema.json' });
  });

  it('generate standalone validators that agree with the compiled ones', () => {
    const ajv = ourAjv({ code: { source: true } });
    const ids = Object.fromEntries([...KINDS, 'process'].map((k) => [k, `${BASE}${k}.schema.json`]));
    const code = standaloneCode(ajv, ids);
    const mod: { exports: Record<string, ValidateFunction> } = { exports: {} };
    const req = createRequire(join(REPO, 'package.json'));
    new Function('require', 'module', 'exports', code)(req, mod, mod.exports);
    for (const k of [...KINDS, 'process']) expect(mod.exports[k], k).toBeTypeOf('function');

    expect(corpus.length).toBeGreaterThan(0);
    for (const s of corpus) {
      const p = parse(s.path);
      if (!p.ok) continue;
      const standalone = mod.exports[s.kind];
      expect(standalone(p.data), s.key).toBe(oursValidators[s.kind](p.data));
    }
    const bad = readJson(join(CORPUS_DIR, 'config/bad/negative-uid.json'));
    expect(mod.exports.config(bad)).toBe(false);
    expect(mod.exports.config.errors?.[0]?.instancePath).toBe('/process/user/uid');
  });

  it('generate standalone code (CommonJS and ESM) that imports nothing from ajv at run time', () => {
    const ids = Object.fromEntries([...KINDS, 'process'].map((k) => [k, `${BASE}${k}.schema.json`]));
    for (const esm of [false, true]) {
      const code = standaloneCode(ourAjv({ code: { source: true, esm } }), ids);
      expect(code).not.toMatch(/\brequire\(|\bimport\b/);
      if (esm) expect(code).toMatch(/export const config = /);
    }
  });
});

describe('tsrunc schemas: process.schema.json on its own (exec --process)', () => {
  const validate = getValidator(ours, `${BASE}process.schema.json`);
  const runcSpec = readJson(join(CORPUS_DIR, 'config/good/runc-spec-default.json')) as { process: Record<string, unknown> };

  it('accepts the process of runc spec', () => {
    expect(validate(runcSpec.process), describeErrors(validate)).toBe(true);
  });

  it('rejects a process without args, reporting the root', () => {
    const { args: _args, ...noArgs } = runcSpec.process;
    expect(validate(noArgs)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '', keyword: 'required', params: { missingProperty: 'args' } });
  });

  it('reports a JSON pointer relative to the process document', () => {
    expect(validate({ ...runcSpec.process, user: { uid: 0, gid: -3 } })).toBe(false);
    expect(validate.errors?.[0]?.instancePath).toBe('/user/gid');
  });
});

describe('tsrunc schemas: own corpus', () => {
  it('has a corpus of at least 30 config files', () => {
    expect(corpus.filter((s) => s.kind === 'config').length).toBeGreaterThanOrEqual(30);
  });

  for (const s of corpus) {
    it(`${s.key} is ${s.good ? 'valid' : 'invalid'}`, () => {
      const p = parse(s.path);
      expect(p.ok, `${s.key} must be valid JSON`).toBe(true);
      if (!p.ok) return;
      const validate = oursValidators[s.kind];
      expect(validate(p.data), describeErrors(validate)).toBe(s.good);
    });
  }

  for (const [key, want] of Object.entries(FIRST_ERROR)) {
    it(`${key}: first error is ${want.keyword} at "${want.instancePath}"`, () => {
      const kind = key.split('/')[0] as Kind;
      const validate = oursValidators[kind];
      expect(validate(readJson(join(CORPUS_DIR, key)))).toBe(false);
      const first = validate.errors?.[0];
      expect(first?.instancePath).toBe(want.instancePath);
      expect(first?.keyword).toBe(want.keyword);
      if (want.missing) expect(first?.params).toMatchObject({ missingProperty: want.missing });
    });
  }
});

describe(
  `official runtime-spec schemas (${OFFICIAL_DIR})`,
  () => {
    if (!existsSync(join(OFFICIAL_DIR, 'config-schema.json'))) throw new Error(`${OFFICIAL_DIR}: no official runtime-spec schemas there`);
    const official = officialAjv();
    const officialValidators = (k: Kind) => getValidator(official, OFFICIAL_BASE + OFFICIAL_ROOT[k]);
    const vectors = listSamples(join(OFFICIAL_DIR, 'test'));

    it('compile', () => {
      for (const k of KINDS) expect(officialValidators(k)).toBeTypeOf('function');
      expect(vectors.length).toBeGreaterThan(0);
    });

    for (const v of vectors) {
      it(`test vector ${v.key}`, () => {
        const p = parse(v.path);
        if (!p.ok) {
          // e.g. invalid-json.json: a parse error is the expected "bad" verdict.
          expect(v.good, `${v.key} does not parse`).toBe(false);
          expect(p.error).toBeInstanceOf(SyntaxError);
          return;
        }
        const data = p.data as Record<string, unknown>;
        const officialVerdict = officialValidators(v.kind)(data);
        expect(officialVerdict, `official verdict on ${v.key}`).toBe(v.good);

        const oursVerdict = oursValidators[v.kind](data);
        const file = v.key.split('/')[2];
        const nonLinux =
          v.kind === 'config' &&
          (NON_LINUX_PLATFORMS.some((pl) => file.startsWith(`${pl}-`)) ||
            (NON_LINUX_PLATFORMS.some((pl) => pl in data) && !('linux' in data)));
        const listed = NON_LINUX_VECTOR_VERDICTS[v.key];
        if (listed) {
          expect(nonLinux, `${v.key} is listed as non-Linux`).toBe(true);
          expect(oursVerdict, listed.reason).toBe(listed.ours);
        } else {
          expect(oursVerdict, describeErrors(oursValidators[v.kind])).toBe(v.good);
        }
      });
    }

    it('every listed difference names an existing corpus file', () => {
      const keys = new Set(corpus.map((s) => s.key));
      for (const k of Object.keys(OFFICIAL_DIFFERENCES)) expect(keys.has(k), k).toBe(true);
      for (const k of Object.keys(NON_LINUX_VECTOR_VERDICTS)) expect(existsSync(join(OFFICIAL_DIR, 'test', k)), k).toBe(true);
    });

    for (const s of corpus) {
      const reason = OFFICIAL_DIFFERENCES[s.key];
      it(`corpus ${s.key}: official verdict ${reason ? 'differs (listed)' : 'agrees'}`, () => {
        const data = readJson(s.path);
        const o = officialValidators(s.kind)(data);
        const u = oursValidators[s.kind](data);
        if (reason) {
          expect(o, `listed difference no longer differs: ${reason}`).toBe(!u);
        } else {
          expect(o, `official ${o} vs ours ${u}; official errors: ${describeErrors(officialValidators(s.kind))}`).toBe(u);
        }
      });
    }
  },
);
