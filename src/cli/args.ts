import { TsruncError } from '../sys/errors';

/**
 * Command-line parsing with runc's (urfave/cli + Go flag) rules, so engines and
 * scripts written for runc work unchanged:
 *  - a flag is written with one or two dashes: -b, --bundle, -bundle;
 *  - a value follows as the next argument or after '=';
 *  - booleans take no value, but accept --flag=true|false;
 *  - flags may follow positional arguments, except for commands that pass
 *    the rest of the line to a program (exec: flags stop at the first
 *    positional), and '--' ends flags everywhere.
 * Hand-written rather than yargs: it costs nothing at start-up, and runc's
 * ordering rules are not yargs' rules.
 */
export type FlagType = 'bool' | 'string' | 'int' | 'list';

export interface FlagSpec {
  name: string;
  alias?: readonly string[];
  type: FlagType;
  help: string;
  /** Shown in help as the value's name, e.g. "DIR". */
  value?: string;
  default?: string | number | boolean;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

/** A flag spec whose name and type stay literal, so a table of them can give its options' type. */
export function flag<const S extends FlagSpec>(spec: S): S {
  return spec;
}

type ValueOf<T extends FlagType> = T extends 'bool' ? boolean : T extends 'int' ? number : T extends 'list' ? string[] : string;

/**
 * What parseArgs gives for a table of flags, as a type: one property per flag
 * name, its value's type by the flag's type; undefined when not given, unless
 * the flag has a default (lists start empty). OptionsOf<[{ name: 'bundle',
 * type: 'string' }, { name: 'preserve-fds', type: 'int', default: 0 }]> is
 * { bundle: string | undefined; 'preserve-fds': number }.
 */
export type OptionsOf<F extends readonly FlagSpec[]> = {
  [S in F[number] as S['name']]: S extends { default: string | number | boolean } ? ValueOf<S['type']>
    : S['type'] extends 'list' ? string[] : ValueOf<S['type']> | undefined;
};

export interface Parsed<F = FlagValues> {
  flags: F;
  positionals: string[];
}

/** The flags (typed by their table: OptionsOf<F>) and the positional arguments of a command line. */
export function parseArgs<const F extends readonly FlagSpec[]>(argv: string[], specs: F, stopAtFirstPositional = false): Parsed<OptionsOf<F>> {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) for (const n of [spec.name, ...(spec.alias ?? [])]) byName.set(n, spec);
  const flags: FlagValues = {};
  for (const spec of specs) {
    if (spec.default !== undefined) flags[spec.name] = spec.default;
    else if (spec.type === 'list') flags[spec.name] = [];
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (stopAtFirstPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec) throw new TsruncError(`flag provided but not defined: -${name}`);
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.type === 'bool') {
      if (value === undefined) flags[spec.name] = true;
      else if (/^(1|t|true|TRUE|True)$/.test(value)) flags[spec.name] = true;
      else if (/^(0|f|false|FALSE|False)$/.test(value)) flags[spec.name] = false;
      else throw new TsruncError(`invalid boolean value ${JSON.stringify(value)} for -${name}`);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new TsruncError(`flag needs an argument: -${name}`);
      value = argv[++i];
    }
    if (spec.type === 'int') {
      flags[spec.name] = parseGoInt(value, name);
    } else if (spec.type === 'list') {
      (flags[spec.name] as string[]).push(value);
    } else {
      flags[spec.name] = value;
    }
  }
  return { flags: flags as OptionsOf<F>, positionals };
}

export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = [s.name, ...(s.alias ?? [])].map((n) => (n.length === 1 ? `-${n}` : `--${n}`)).join(', ');
    const value = s.type === 'bool' ? '' : ` ${s.value ?? 'value'}`;
    return [`${names}${value}`, s.help + (s.default !== undefined && s.type !== 'bool' ? ` (default: ${s.default})` : '')];
  });
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([l, r]) => `   ${l.padEnd(width)}  ${r}`).join('\n');
}

/** An int as Go's flag package reads one (strconv.ParseInt base 0): 42, +42, -42, 0x2a, 0o52, 052, 0b101010. */
export function parseGoInt(value: string, name: string): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(value);
  if (!m) throw new TsruncError(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
  const digits = m[2];
  const n = /^0[0-7]+$/.test(digits) ? parseInt(digits.slice(1), 8) : Number(digits.replace(/^0[oO]/, '0o').replace(/^0[bB]/, '0b').replace(/^0[xX]/, '0x'));
  if (!Number.isSafeInteger(n)) throw new TsruncError(`invalid value ${JSON.stringify(value)} for flag -${name}: value out of range`);
  return m[1] === '-' ? -n : n;
}
