import type { Device, DeviceRule } from '../spec/types';
import { TsruncError } from '../sys/errors';

/**
 * The device cgroup: which device nodes the container may read, write or
 * create. The rules are those of linux.resources.devices followed by
 * runc's default allow list, evaluated as cgroup v1's devices controller
 * does (an emulator, as runc has, shared by both managers):
 *  - v1 writes them to devices.allow/deny;
 *  - v2 has no device files: the same rules become a BPF_CGROUP_DEVICE
 *    eBPF program (see deviceFilterProgram and sys/bpf.ts).
 */

/** A rule with wildcards as -1 ('a' = every type, major and minor). */
export interface Rule {
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  access: string;
  allow: boolean;
}

const WILDCARD = -1;

/**
 * runc's default rules, appended after the config's own (libcontainer/specconv
 * AllowedDevices): mknod of anything, the standard character devices, the
 * pseudo-terminals and /dev/net/tun. With a config that starts by denying
 * everything (what `spec` writes), these are what the container can use.
 */
export const DEFAULT_ALLOWED: (Rule & { path?: string })[] = [
  { type: 'c', major: WILDCARD, minor: WILDCARD, access: 'm', allow: true },
  { type: 'b', major: WILDCARD, minor: WILDCARD, access: 'm', allow: true },
  { path: '/dev/null', type: 'c', major: 1, minor: 3, access: 'rwm', allow: true },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, access: 'rwm', allow: true },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, access: 'rwm', allow: true },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, access: 'rwm', allow: true },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, access: 'rwm', allow: true },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, access: 'rwm', allow: true },
  { type: 'c', major: 136, minor: WILDCARD, access: 'rwm', allow: true }, // /dev/pts/*
  { type: 'c', major: 5, minor: 2, access: 'rwm', allow: true }, // /dev/ptmx
  { type: 'c', major: 10, minor: 200, access: 'rwm', allow: true }, // /dev/net/tun
];

/**
 * The full rule list for a container: its own rules in order, then the
 * defaults (a default for a path that linux.devices also lists is dropped:
 * the config's device takes its place, as in runc).
 */
export function containerRules(rules: DeviceRule[] | undefined, devices: Device[] | undefined): Rule[] {
  const own = (rules ?? []).map((r, i) => toRule(r, `linux.resources.devices[${i}]`));
  const paths = new Set((devices ?? []).map((d) => d.path));
  const defaults = DEFAULT_ALLOWED.filter((d) => !d.path || !paths.has(d.path)).map(({ path: _, ...r }) => r);
  return [...own, ...defaults];
}

export function toRule(r: DeviceRule, field: string): Rule {
  const access = r.access || 'rwm';
  if (!/^[rwm]+$/.test(access)) throw new TsruncError(`${field}.access: ${JSON.stringify(r.access)} is not a combination of r, w and m`);
  const type = r.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') throw new TsruncError(`${field}.type: ${JSON.stringify(type)} is not a, b or c`);
  const num = (n: number | null | undefined, what: string) => {
    if (n === undefined || n === null || n === WILDCARD) return WILDCARD;
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new TsruncError(`${field}.${what}: ${n} is not a device number`);
    return n;
  };
  return { type, major: num(r.major, 'major'), minor: num(r.minor, 'minor'), access: normAccess(access), allow: r.allow };
}

/** The rule as devices.allow/deny and devices.list spell it: "c 1:3 rwm", "a *:* rwm". */
export function ruleString(r: Pick<Rule, 'type' | 'major' | 'minor' | 'access'>): string {
  const n = (x: number) => (x === WILDCARD ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

function normAccess(a: string): string {
  return ['r', 'w', 'm'].filter((c) => a.includes(c)).join('');
}

const union = (a: string, b: string) => normAccess(a + b);
const difference = (a: string, b: string) => normAccess([...a].filter((c) => !b.includes(c)).join(''));
const intersects = (a: string, b: string) => [...a].some((c) => b.includes(c));

/**
 * cgroup v1's devices controller in a few lines (kernel
 * security/device_cgroup.c; runc's devices emulator): a default (allow or
 * deny every device) and exceptions keyed by type:major:minor, in the order
 * they were added. Writing "a" resets; a rule of the default's kind removes
 * access from an exact exception; the other kind adds (merging access).
 */
export class DeviceEmulator {
  defaultAllow = false;
  /** key "c 1:3" -> access, in insertion order (Map keeps it, as the kernel's list does). */
  readonly exceptions = new Map<string, { type: 'b' | 'c'; major: number; minor: number; access: string }>();

  apply(rule: Rule): void {
    if (rule.type === 'a') {
      this.defaultAllow = rule.allow;
      this.exceptions.clear();
      return;
    }
    const key = `${rule.type} ${rule.major}:${rule.minor}`;
    const existing = this.exceptions.get(key);
    if (rule.allow !== this.defaultAllow) {
      this.exceptions.set(key, { type: rule.type, major: rule.major, minor: rule.minor, access: union(existing?.access ?? '', rule.access) });
      return;
    }
    // Removing access: the kernel only edits an exact exception, so a rule that would
    // need to punch a hole in a wildcard exception would silently do nothing. Refuse it.
    for (const [major, minor] of [[WILDCARD, rule.minor], [rule.major, WILDCARD], [WILDCARD, WILDCARD]]) {
      if (major === rule.major && minor === rule.minor) continue;
      const wide = this.exceptions.get(`${rule.type} ${major}:${minor}`);
      if (wide && intersects(wide.access, rule.access)) {
        throw new TsruncError(`linux.resources.devices: rule "${ruleString(rule)}" (${rule.allow ? 'allow' : 'deny'}) cannot be applied after "${ruleString(wide)}": the devices controller cannot punch a hole in a wildcard rule`);
      }
    }
    if (!existing) return;
    const left = difference(existing.access, rule.access);
    if (left) existing.access = left;
    else this.exceptions.delete(key);
  }

  /** Whether the access (a subset of "rwm") to a device is allowed. */
  allows(type: 'b' | 'c', major: number, minor: number, access: string): boolean {
    // A request matches an exception that covers it entirely (with wildcards), as the kernel checks.
    const covered = [...this.exceptions.values()].some((e) => e.type === type && (e.major === WILDCARD || e.major === major) &&
      (e.minor === WILDCARD || e.minor === minor) && [...access].every((c) => e.access.includes(c)));
    if (this.defaultAllow) {
      // Deny exceptions: any overlap denies.
      return ![...this.exceptions.values()].some((e) => e.type === type && (e.major === WILDCARD || e.major === major) &&
        (e.minor === WILDCARD || e.minor === minor) && intersects(e.access, access));
    }
    return covered;
  }

  /** The state as devices.list shows it: "a *:* rwm" when allowing everything, else the exceptions. */
  list(): string[] {
    if (this.defaultAllow && this.exceptions.size === 0) return ['a *:* rwm'];
    return [...this.exceptions.values()].map(ruleString);
  }

  /** Reads devices.list (v1): "a *:* rwm" means allow all, anything else is an allow list. */
  static fromList(text: string): DeviceEmulator {
    const e = new DeviceEmulator();
    for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line);
      if (!m) throw new TsruncError(`devices.list: cannot parse ${JSON.stringify(line)}`);
      const n = (s: string) => (s === '*' ? WILDCARD : Number(s));
      e.apply({ type: m[1] as Rule['type'], major: n(m[2]), minor: n(m[3]), access: m[4], allow: true });
    }
    return e;
  }

  static of(rules: Rule[]): DeviceEmulator {
    const e = new DeviceEmulator();
    for (const r of rules) e.apply(r);
    return e;
  }

  equals(o: DeviceEmulator): boolean {
    if (this.defaultAllow !== o.defaultAllow || this.exceptions.size !== o.exceptions.size) return false;
    for (const [k, v] of this.exceptions) if (o.exceptions.get(k)?.access !== v.access) return false;
    return true;
  }
}

/**
 * What to write to devices.allow/deny (v1) to get from the current state to
 * the target. From the state of a new cgroup (allow everything), the
 * config's own rules are replayed in order after "deny all", so
 * devices.list lists them in the config's order. Otherwise (update), the
 * smallest change: drop lost access, add gained access.
 */
export function v1Transition(current: DeviceEmulator, rules: Rule[]): { file: 'devices.allow' | 'devices.deny'; value: string }[] {
  const target = DeviceEmulator.of(rules);
  const out: { file: 'devices.allow' | 'devices.deny'; value: string }[] = [];
  const write = (allow: boolean, r: Pick<Rule, 'type' | 'major' | 'minor' | 'access'>) =>
    out.push({ file: allow ? 'devices.allow' : 'devices.deny', value: ruleString(r) });
  const all = { type: 'a' as const, major: WILDCARD, minor: WILDCARD, access: 'rwm' };
  if (current.defaultAllow && current.exceptions.size === 0) {
    write(false, all);
    for (const r of rules) write(r.allow, r);
    return out;
  }
  let from = current;
  if (current.defaultAllow !== target.defaultAllow || current.defaultAllow) {
    write(target.defaultAllow, all);
    from = new DeviceEmulator();
    from.defaultAllow = target.defaultAllow;
  }
  for (const [key, e] of from.exceptions) {
    const lost = difference(e.access, target.exceptions.get(key)?.access ?? '');
    if (lost) write(target.defaultAllow, { ...e, access: lost });
  }
  for (const [key, e] of target.exceptions) {
    const gained = difference(e.access, from.exceptions.get(key)?.access ?? '');
    if (gained) write(!target.defaultAllow, { ...e, access: gained });
  }
  return out;
}

/* ---------- cgroup v2: the rules as an eBPF program ---------- */

const BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2;
const BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4;

/** One eBPF instruction; `jumpTo` names a later block, resolved into `off` when the program is assembled. */
interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  jumpTo?: number;
}

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K = 0x54, ALU32_RSH_K = 0x74, ALU32_MOV_K = 0xb4, ALU32_MOV_X = 0xbc;
const JMP_JEQ_K = 0x15, JMP_JNE_K = 0x55, JMP_JNE_X = 0x5d, JMP_EXIT = 0x95;
const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

/**
 * The BPF_CGROUP_DEVICE program for a rule list, as runc and crun build it:
 * the rules are first reduced by the emulator (so v2 behaves as v1), then
 * each exception becomes a block that returns allow/deny when the request
 * (struct bpf_cgroup_dev_ctx: access_type = type | access << 16, major,
 * minor) matches; no match returns the default.
 */
export function deviceFilterProgram(rules: Rule[]): Buffer {
  const emu = DeviceEmulator.of(rules);
  const insns: Insn[] = [
    { code: LDX_MEM_W, dst: R2, src: R1, off: 0, imm: 0 }, // R2 = access_type
    { code: ALU32_AND_K, dst: R2, src: 0, off: 0, imm: 0xffff }, // R2 = type
    { code: LDX_MEM_W, dst: R3, src: R1, off: 0, imm: 0 },
    { code: ALU32_RSH_K, dst: R3, src: 0, off: 0, imm: 16 }, // R3 = access
    { code: LDX_MEM_W, dst: R4, src: R1, off: 4, imm: 0 }, // R4 = major
    { code: LDX_MEM_W, dst: R5, src: R1, off: 8, imm: 0 }, // R5 = minor
  ];
  const blockStart: number[] = [];
  const exceptions = [...emu.exceptions.values()];
  exceptions.forEach((e, block) => {
    blockStart[block] = insns.length;
    const next = block + 1;
    insns.push({ code: JMP_JNE_K, dst: R2, src: 0, off: 0, imm: e.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, jumpTo: next });
    let acc = 0;
    if (e.access.includes('r')) acc |= BPF_DEVCG_ACC_READ;
    if (e.access.includes('w')) acc |= BPF_DEVCG_ACC_WRITE;
    if (e.access.includes('m')) acc |= BPF_DEVCG_ACC_MKNOD;
    if (acc !== (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
      if (emu.defaultAllow) {
        // A deny exception applies when the request shares any access with it.
        insns.push({ code: ALU32_MOV_X, dst: R1, src: R3, off: 0, imm: 0 });
        insns.push({ code: ALU32_AND_K, dst: R1, src: 0, off: 0, imm: acc });
        insns.push({ code: JMP_JEQ_K, dst: R1, src: 0, off: 0, imm: 0, jumpTo: next }); // no common access: next
      } else {
        // An allow exception applies when it covers every requested access: (R3 & acc) == R3.
        insns.push({ code: ALU32_MOV_X, dst: R1, src: R3, off: 0, imm: 0 });
        insns.push({ code: ALU32_AND_K, dst: R1, src: 0, off: 0, imm: acc });
        insns.push({ code: JMP_JNE_X, dst: R1, src: R3, off: 0, imm: 0, jumpTo: next });
      }
    }
    if (e.major !== WILDCARD) insns.push({ code: JMP_JNE_K, dst: R4, src: 0, off: 0, imm: e.major | 0, jumpTo: next });
    if (e.minor !== WILDCARD) insns.push({ code: JMP_JNE_K, dst: R5, src: 0, off: 0, imm: e.minor | 0, jumpTo: next });
    insns.push({ code: ALU32_MOV_K, dst: R0, src: 0, off: 0, imm: emu.defaultAllow ? 0 : 1 });
    insns.push({ code: JMP_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
  });
  blockStart[exceptions.length] = insns.length;
  insns.push({ code: ALU32_MOV_K, dst: R0, src: 0, off: 0, imm: emu.defaultAllow ? 1 : 0 });
  insns.push({ code: JMP_EXIT, dst: 0, src: 0, off: 0, imm: 0 });

  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    const off = insn.jumpTo !== undefined ? blockStart[insn.jumpTo] - (i + 1) : insn.off;
    buf.writeUInt8(insn.code, i * 8);
    buf.writeUInt8((insn.src << 4) | insn.dst, i * 8 + 1);
    buf.writeInt16LE(off, i * 8 + 2);
    buf.writeInt32LE(insn.imm, i * 8 + 4);
  });
  return buf;
}
