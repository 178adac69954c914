import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { isKnownCapability, CAPABILITY_SETS } from '../linux/capabilities';
import { rlimitNumber } from '../linux/rlimits';
import { sysctlProblem } from '../linux/sysctl';
import { TsruncError, errnoOf } from '../sys/errors';
import type { Process, Spec } from '../spec/types';

/** One problem in a document: where (a JSON pointer) and what is wrong. */
export interface Problem {
  path: string;
  message: string;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
type Validator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

/** The validators compiled from schemas/ at build time (src/build/compile-schemas.ts). */
function validators(): Record<'config' | 'process' | 'state' | 'features', Validator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../spec/validators.js');
}

function schemaProblems(validate: Validator, doc: unknown): Problem[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => ({ path: e.instancePath || '/', message: describe(e, doc) }));
}

function describe(e: AjvError, doc: unknown): string {
  if (e.keyword === 'additionalProperties') return `unknown property ${JSON.stringify(e.params.additionalProperty)}`;
  if (e.keyword === 'enum') {
    // Name what was given: "must be one of ..." alone leaves the reader to find it.
    return `is ${JSON.stringify(valueAt(doc, e.instancePath))}, ${e.message}: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return e.message ?? e.keyword;
}

/** The value a JSON pointer (RFC 6901, as ajv's instancePath) designates in doc. */
function valueAt(doc: unknown, pointer: string): unknown {
  let v = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

export class ValidationError extends TsruncError {
  constructor(readonly document: string, readonly problems: Problem[]) {
    super(problems.map((p) => `${document}: ${p.path}: ${p.message}`).join('\n'));
  }
}

/**
 * The rules the spec states in words, beyond what its schema can say.
 * `prefix` is the JSON pointer of the process object ("/process" in
 * config.json, "" in a process.json).
 */
export function processProblems(p: Process, prefix: string): Problem[] {
  const out: Problem[] = [];
  if (!p.cwd || !p.cwd.startsWith('/')) out.push({ path: `${prefix}/cwd`, message: 'must be an absolute path' });
  if (!p.args || p.args.length === 0) out.push({ path: `${prefix}/args`, message: 'must name the program to run' });
  for (const set of CAPABILITY_SETS) {
    (p.capabilities?.[set] ?? []).forEach((name, i) => {
      if (!isKnownCapability(name)) out.push({ path: `${prefix}/capabilities/${set}/${i}`, message: `unknown capability ${JSON.stringify(name)}` });
    });
  }
  const seen = new Set<string>();
  (p.rlimits ?? []).forEach((r, i) => {
    if (rlimitNumber(r.type) === undefined) out.push({ path: `${prefix}/rlimits/${i}/type`, message: `unknown rlimit ${JSON.stringify(r.type)}` });
    else if (seen.has(r.type)) out.push({ path: `${prefix}/rlimits/${i}/type`, message: `duplicate rlimit ${r.type}` });
    seen.add(r.type);
    if (r.soft > r.hard) out.push({ path: `${prefix}/rlimits/${i}`, message: 'soft limit must not exceed the hard limit' });
  });
  out.push(...kernelLimitProblems(p, prefix));
  return out;
}

// The kernel's limits on what execve(2) and setgroups(2) take (include/uapi/linux/limits.h, fs/exec.c).
const NGROUPS_MAX = 65536;
const MAX_ARG_STRLEN = 32 * 4096;
const ARG_MAX = 128 * 1024;
const STK_LIM = 8 * 1024 * 1024;

/**
 * What the kernel would refuse at execve or setgroups, named here with the
 * field and the limit instead of an errno from deep inside tsrunc-init. The
 * room for arguments and environment is a quarter of the stack limit (at
 * least 128 KiB, at most 6 MiB); without a configured RLIMIT_STACK the most
 * the kernel ever allows is assumed, and execve itself judges the rest.
 */
function kernelLimitProblems(p: Process, prefix: string): Problem[] {
  const out: Problem[] = [];
  const gids = p.user?.additionalGids?.length ?? 0;
  if (gids > NGROUPS_MAX) out.push({ path: `${prefix}/user/additionalGids`, message: `${gids} groups: the kernel's limit is ${NGROUPS_MAX} (NGROUPS_MAX)` });
  let bytes = 0;
  for (const [field, list] of [['args', p.args ?? []], ['env', p.env ?? []]] as const) {
    list.forEach((s, i) => {
      const len = Buffer.byteLength(s) + 1;
      if (len > MAX_ARG_STRLEN) out.push({ path: `${prefix}/${field}/${i}`, message: `${len} bytes: the kernel's limit for one argument or variable is ${MAX_ARG_STRLEN} (MAX_ARG_STRLEN)` });
      bytes += len + 8; // the string and its pointer
    });
  }
  const stack = p.rlimits?.find((r) => r.type === 'RLIMIT_STACK')?.soft;
  const room = Math.max(Math.min(STK_LIM / 4 * 3, stack === undefined ? Infinity : stack / 4), ARG_MAX);
  if (bytes > room) {
    out.push({ path: `${prefix}/args`, message: `${p.args?.length ?? 0} arguments and ${p.env?.length ?? 0} environment variables take ${bytes} bytes: more than the ${room} the kernel allows a program${stack === undefined ? '' : ' with this RLIMIT_STACK'} (E2BIG)` });
  }
  return out;
}

export function configProblems(spec: Spec): Problem[] {
  const out: Problem[] = [];
  if (!spec.root) out.push({ path: '/root', message: 'is required on Linux' });
  // process is optional at create (the spec: `start` then fails); when present it must be right.
  if (spec.process) out.push(...processProblems(spec.process, '/process'));
  const linux = spec.linux ?? {};
  const types = new Set<string>();
  (linux.namespaces ?? []).forEach((ns, i) => {
    if (types.has(ns.type)) out.push({ path: `/linux/namespaces/${i}/type`, message: `namespace type ${JSON.stringify(ns.type)} given more than once` });
    types.add(ns.type);
    if (ns.path !== undefined && !isAbsolute(ns.path)) out.push({ path: `/linux/namespaces/${i}/path`, message: 'must be an absolute path' });
  });
  // Without a uts namespace of its own (new, or joined by path), setting one would rename the host.
  const uts = linux.namespaces?.find((n) => n.type === 'uts');
  if (spec.hostname !== undefined && spec.hostname !== '' && !uts) {
    out.push({ path: '/hostname', message: 'can only be set with a uts namespace of the container (add {"type": "uts"} to linux.namespaces)' });
  }
  if (spec.domainname !== undefined && spec.domainname !== '' && !uts) {
    out.push({ path: '/domainname', message: 'can only be set with a uts namespace of the container (add {"type": "uts"} to linux.namespaces)' });
  }
  for (const [kind, hooks] of Object.entries(spec.hooks ?? {})) {
    (hooks ?? []).forEach((h, i) => {
      if (!isAbsolute(h.path)) out.push({ path: `/hooks/${kind}/${i}/path`, message: 'must be an absolute path' });
    });
  }
  (spec.mounts ?? []).forEach((m, i) => {
    if (!m.destination) out.push({ path: `/mounts/${i}/destination`, message: 'must not be empty' });
  });
  (linux.devices ?? []).forEach((d, i) => {
    if (!isAbsolute(d.path)) out.push({ path: `/linux/devices/${i}/path`, message: 'must be an absolute path' });
    if ((d.type === 'c' || d.type === 'b' || d.type === 'u') && (d.major === undefined || d.minor === undefined)) {
      out.push({ path: `/linux/devices/${i}`, message: `a ${d.type} device needs major and minor` });
    }
  });
  if (linux.timeOffsets && !types.has('time')) out.push({ path: '/linux/timeOffsets', message: 'needs a time namespace' });
  for (const clock of Object.keys(linux.timeOffsets ?? {})) {
    if (clock !== 'monotonic' && clock !== 'boottime') out.push({ path: `/linux/timeOffsets/${clock}`, message: 'only monotonic and boottime clocks have offsets' });
  }
  for (const key of Object.keys(linux.sysctl ?? {})) {
    const why = sysctlProblem(key, linux.namespaces, spec.hostname);
    if (why) out.push({ path: `/linux/sysctl/${key}`, message: why });
  }
  const userns = linux.namespaces?.find((n) => n.type === 'user');
  for (const [field, maps] of [['uidMappings', linux.uidMappings], ['gidMappings', linux.gidMappings]] as const) {
    if (userns && !userns.path && !maps?.length) out.push({ path: `/linux/${field}`, message: 'a new user namespace needs mappings' });
    if (!userns && maps?.length) out.push({ path: `/linux/${field}`, message: 'mappings need a user namespace ({"type": "user"} in linux.namespaces)' });
  }
  // Fields of v1.3.0 this build does not implement: an error, never silently ignored.
  if (linux.memoryPolicy) out.push({ path: '/linux/memoryPolicy', message: 'is not supported by tsrunc' });
  if (linux.netDevices && Object.keys(linux.netDevices).length) out.push({ path: '/linux/netDevices', message: 'is not supported by tsrunc' });
  if (linux.intelRdt) out.push({ path: '/linux/intelRdt', message: 'is not supported by tsrunc' });
  (spec.mounts ?? []).forEach((m, i) => {
    const idmapped = m.uidMappings || m.gidMappings || (m.options ?? []).some((o) => o === 'idmap' || o === 'ridmap');
    const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (idmapped && !bind) out.push({ path: `/mounts/${i}`, message: 'only bind mounts can be id-mapped (uidMappings, gidMappings, idmap, ridmap)' });
  });
  if (linux.personality?.flags?.length) out.push({ path: '/linux/personality/flags', message: 'no personality flags are supported' });
  if (spec.process?.scheduler?.policy === 'SCHED_ISO') out.push({ path: '/process/scheduler/policy', message: 'SCHED_ISO is not implemented by Linux' });
  return out;
}

function parseJson(text: string, document: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(document, [{ path: '/', message: `invalid JSON: ${(err as Error).message}` }]);
  }
}

/** Reads and validates <bundle>/config.json: the schema first, then the rules the schema cannot say. */
export function loadConfig(bundle: string): Spec {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsruncError(`cannot read ${file}: ${errnoOf(err) === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  return validateConfig(parseJson(text, 'config.json'));
}

export function validateConfig(doc: unknown): Spec {
  const problems = schemaProblems(validators().config, doc);
  if (problems.length) throw new ValidationError('config.json', problems.slice(0, 5));
  const rules = configProblems(doc as Spec);
  if (rules.length) throw new ValidationError('config.json', rules);
  return doc as Spec;
}

export function validateProcess(doc: unknown, document = 'process.json'): Process {
  // A process.json without user runs as uid/gid 0, as with runc (exec -p from engines and scripts).
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && !('user' in doc)) doc = { ...doc, user: { uid: 0, gid: 0 } };
  const problems = schemaProblems(validators().process, doc);
  if (problems.length) throw new ValidationError(document, problems.slice(0, 5));
  const rules = processProblems(doc as Process, '');
  if (rules.length) throw new ValidationError(document, rules);
  return doc as Process;
}

export function validateDocument(kind: 'state' | 'features', doc: unknown): Problem[] {
  return schemaProblems(validators()[kind], doc);
}

export { parseJson };
