import { describe, expect, it } from 'vitest';
import { formatFlags, parseArgs, parseGoInt, type FlagSpec } from '../../src/cli/args';
import { TsruncError } from '../../src/sys/errors';

const specs: FlagSpec[] = [
  { name: 'bundle', alias: ['b'], type: 'string', value: 'DIR', help: 'bundle dir' },
  { name: 'detach', alias: ['d'], type: 'bool', help: 'detach' },
  { name: 'preserve-fds', type: 'int', value: 'N', default: 0, help: 'extra fds' },
  { name: 'env', alias: ['e'], type: 'list', help: 'env var' },
  { name: 'root', type: 'string', default: '/run/tsrunc', help: 'state root' },
];

describe('parseArgs', () => {
  it('fills defaults: the given default, [] for lists, nothing for the others', () => {
    expect(parseArgs([], specs)).toEqual({ flags: { 'preserve-fds': 0, env: [], root: '/run/tsrunc' }, positionals: [] });
  });

  it('accepts one or two dashes and aliases, storing under the flag name', () => {
    for (const argv of [['--bundle', '/b'], ['-bundle', '/b'], ['-b', '/b'], ['--b', '/b'], ['--bundle=/b'], ['-b=/b']]) {
      expect(parseArgs(argv, specs).flags.bundle, argv.join(' ')).toBe('/b');
    }
  });

  it('takes the value after "=" verbatim, including "=" and an empty value', () => {
    expect(parseArgs(['--bundle=a=b'], specs).flags.bundle).toBe('a=b');
    expect(parseArgs(['--bundle='], specs).flags.bundle).toBe('');
  });

  it('takes the next argument as value even when it starts with a dash', () => {
    expect(parseArgs(['--bundle', '-x'], specs).flags.bundle).toBe('-x');
  });

  it('lets flags follow positionals', () => {
    expect(parseArgs(['ctr', '-d', '--bundle', '/b', 'SIGKILL'], specs)).toMatchObject({
      flags: { detach: true, bundle: '/b' },
      positionals: ['ctr', 'SIGKILL'],
    });
  });

  it('treats a lone "-" as a positional and "--" as the end of flags', () => {
    expect(parseArgs(['-', '--', '-d', '--bundle'], specs)).toMatchObject({ flags: { env: [] }, positionals: ['-', '-d', '--bundle'] });
    expect(parseArgs(['-', '--', '-d'], specs).flags.detach).toBeUndefined();
  });

  it('stops at the first positional when asked (exec: the rest belongs to the program)', () => {
    const r = parseArgs(['-d', 'ctr', 'ls', '-l', '--bundle', 'x'], specs, true);
    expect(r.flags.detach).toBe(true);
    expect(r.flags.bundle).toBeUndefined();
    expect(r.positionals).toEqual(['ctr', 'ls', '-l', '--bundle', 'x']);
  });

  it('parses booleans: bare, or =true/=false in Go strconv spellings; never consumes the next argument', () => {
    expect(parseArgs(['-d'], specs).flags.detach).toBe(true);
    for (const v of ['1', 't', 'true', 'TRUE', 'True']) expect(parseArgs([`--detach=${v}`], specs).flags.detach, v).toBe(true);
    for (const v of ['0', 'f', 'false', 'FALSE', 'False']) expect(parseArgs([`--detach=${v}`], specs).flags.detach, v).toBe(false);
    expect(parseArgs(['-d', 'false'], specs)).toMatchObject({ flags: { detach: true }, positionals: ['false'] });
  });

  it('rejects a boolean value Go would reject', () => {
    expect(() => parseArgs(['--detach=yes'], specs)).toThrow(new TsruncError('invalid boolean value "yes" for -detach'));
  });

  it('parses ints, negative included, and rejects anything else', () => {
    expect(parseArgs(['--preserve-fds', '3'], specs).flags['preserve-fds']).toBe(3);
    expect(parseArgs(['--preserve-fds=-1'], specs).flags['preserve-fds']).toBe(-1);
    expect(() => parseArgs(['--preserve-fds', '3x'], specs)).toThrow('invalid value "3x" for flag -preserve-fds: parse error');
    expect(() => parseArgs(['--preserve-fds='], specs)).toThrow('invalid value "" for flag -preserve-fds: parse error');
  });

  it('collects repeated list flags in order', () => {
    expect(parseArgs(['-e', 'A=1', '--env=B=2', '--env', 'C'], specs).flags.env).toEqual(['A=1', 'B=2', 'C']);
  });

  it('does not share list defaults between calls', () => {
    parseArgs(['-e', 'A=1'], specs);
    expect(parseArgs([], specs).flags.env).toEqual([]);
  });

  it('lets the last of repeated scalar flags win', () => {
    expect(parseArgs(['-b', '/one', '--bundle', '/two'], specs).flags.bundle).toBe('/two');
  });

  it('names an unknown flag the way Go flag does', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(new TsruncError('flag provided but not defined: -nope'));
    expect(() => parseArgs(['-x=1'], specs)).toThrow('flag provided but not defined: -x');
  });

  it('reports a missing value', () => {
    expect(() => parseArgs(['ctr', '--bundle'], specs)).toThrow(new TsruncError('flag needs an argument: -bundle'));
    expect(() => parseArgs(['-e'], specs)).toThrow('flag needs an argument: -e');
  });

  it('throws TsruncError (a user error, printed without a stack)', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(TsruncError);
  });
});

describe('formatFlags', () => {
  it('aligns names and help, shows value names and non-boolean defaults', () => {
    expect(formatFlags(specs).split('\n')).toEqual([
      '   --bundle, -b DIR  bundle dir',
      '   --detach, -d      detach',
      '   --preserve-fds N  extra fds (default: 0)',
      '   --env, -e value   env var',
      '   --root value      state root (default: /run/tsrunc)',
    ]);
  });

  it('shows no default for a boolean', () => {
    expect(formatFlags([{ name: 'x', type: 'bool', default: false, help: 'h' }])).toBe('   -x  h');
  });
});

describe('parseGoInt (int flags as Go reads them)', () => {
  it.each([['42', 42], ['+42', 42], ['-42', -42], ['0x2a', 42], ['0X2A', 42], ['0o52', 42], ['052', 42], ['0b101010', 42], ['0', 0]])('%s is %d', (text, n) => {
    expect(parseGoInt(text, 'n')).toBe(n);
  });

  it.each(['', '4x', '0x', '08', '1.5', '--1', '99999999999999999999'])('refuses %j', (text) => {
    expect(() => parseGoInt(text, 'n')).toThrow(/invalid value .* for flag -n/);
  });
});
