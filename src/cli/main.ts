/**
 * tsrunc's entry point: global flags, then one command. tsrunc is daemonless:
 * each call is this one short-lived process, in its caller's context (cgroup,
 * umask, rlimits, environment, cwd), compiled with Bun into addon/build/tsrunc.
 * containerd calls the runtime 3–5 times per container, so start-up counts:
 * nothing heavy is loaded at module load (the schema validators, libseccomp
 * and the FFI are loaded by the commands that use them).
 */
import { flag, formatFlags, parseArgs } from './args';
import { commands, findCommand, type CommandSpec } from './commands';
import type { CommandContext, GlobalOptions } from './context';
import { TsruncError } from '../sys/errors';
import { Logger } from '../sys/log';
import { selfCommand, tsruncVersion } from '../sys/runtime';
import { writeAll } from '../sys/stdio';
import { defaultStateRoot, prepareXdgRoot, rootlessMode } from '../linux/rootless';

export const SPEC_VERSION = '1.3.0';

const helpFlag = flag({ name: 'help', alias: ['h'], type: 'bool', help: 'show help' });

const globalFlags = [
  flag({ name: 'root', type: 'string', value: 'DIR', help: 'directory for the state of containers (default: /run/tsrunc; $XDG_RUNTIME_DIR/tsrunc when not root)' }),
  flag({ name: 'log', type: 'string', value: 'FILE', help: 'append log lines to FILE instead of stderr' }),
  flag({ name: 'log-format', type: 'string', value: 'text|json', default: 'text', help: 'log format' }),
  flag({ name: 'debug', type: 'bool', help: 'log debug messages' }),
  flag({ name: 'systemd-cgroup', type: 'bool', help: 'manage cgroups through systemd (needs systemd as PID 1)' }),
  flag({ name: 'rootless', type: 'string', value: 'true|false|auto', default: 'auto', help: 'skip cgroups the caller cannot create when no limits are asked (auto: unless tsrunc is host root)' }),
  flag({ name: 'criu', type: 'string', value: 'PATH', help: 'accepted for runc compatibility; checkpoint/restore is not supported' }),
  helpFlag,
  flag({ name: 'version', alias: ['v'], type: 'bool', help: 'print the version' }),
] as const;

function version(): string {
  const v = tsruncVersion();
  const engine = process.versions.bun ? `bun: ${process.versions.bun}` : `node: ${process.version}`;
  return `tsrunc version ${v}\nspec: ${SPEC_VERSION}\n${engine}\n`;
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'tsrunc: an OCI container runtime (a drop-in replacement for runc)',
    '',
    'usage: tsrunc [global options] <command> [command options] [arguments...]',
    '',
    'commands:',
    ...commands.map((c) => `   ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    formatFlags(globalFlags),
    '',
  ].join('\n');
}

function commandHelp(c: CommandSpec): string {
  return [`tsrunc ${c.usage}`, '', c.summary, '', 'options:', formatFlags([...c.flags, helpFlag]), ''].join('\n');
}

function argumentError(c: CommandSpec, got: number): string {
  const [min, max] = c.args;
  const want = min === max ? `exactly ${min}` : max < 0 ? `at least ${min}` : `${min} to ${max}`;
  return `"${c.name}" requires ${want} argument(s), got ${got}; usage: tsrunc ${c.usage}`;
}

/** Everything about one invocation that does not come from its arguments. */
export type Invocation = Omit<CommandContext, 'global' | 'flags' | 'args' | 'log'>;

/** Runs one tsrunc command line and returns its exit status. */
export async function main(argv: string[], inv: Invocation): Promise<number> {
  const out = inv.stdout;
  let log = new Logger(undefined, 'text', false, inv.stderr);
  try {
    const top = parseArgs(argv, globalFlags, true);
    const g = top.flags;
    const format = g['log-format'];
    if (format !== 'text' && format !== 'json') throw new TsruncError(`invalid --log-format ${JSON.stringify(format)}: must be text or json`);
    // As runc: without --root, $XDG_RUNTIME_DIR/tsrunc for a user (made 0700 and sticky), else /run/tsrunc.
    const defaultRoot = g.root === undefined ? defaultStateRoot(inv.env, process.geteuid?.() ?? 0) : undefined;
    const global: GlobalOptions = {
      root: g.root ?? defaultRoot!.root,
      rootless: rootlessMode(g.rootless),
      log: g.log,
      logFormat: format,
      debug: g.debug === true,
      systemdCgroup: g['systemd-cgroup'] === true,
    };
    log = new Logger(global.log, global.logFormat, global.debug, inv.stderr);
    if (g.version) {
      out(version());
      return 0;
    }
    const [name, ...rest] = top.positionals;
    if (!name || name === 'help' || g.help) {
      const c = name === 'help' && rest[0] ? findCommand(rest[0]) : undefined;
      out(c ? commandHelp(c) : mainHelp());
      return 0;
    }
    const command = findCommand(name);
    if (!command) throw new TsruncError(`unknown command ${JSON.stringify(name)}; see tsrunc --help`);
    if (defaultRoot?.xdg) prepareXdgRoot(defaultRoot.root);
    const parsed = parseArgs(rest, [...command.flags, helpFlag], command.stopAtFirstPositional);
    if (parsed.flags.help) {
      out(commandHelp(command));
      return 0;
    }
    const [min, max] = command.args;
    if (parsed.positionals.length < min || (max >= 0 && parsed.positionals.length > max)) {
      throw new TsruncError(argumentError(command, parsed.positionals.length));
    }
    const ctx: CommandContext = { ...inv, global, flags: parsed.flags, args: parsed.positionals, log };
    log.debug(`tsrunc ${argv.join(' ')}`);
    return await command.load()(ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof TsruncError)) log.debug((err as Error)?.stack ?? message);
    log.error(message);
    inv.stderr(`tsrunc: ${message}\n`);
    return 1;
  }
}

/** This process is tsrunc: its own stdio, environment and children. */
export function inProcess(inheritedFds: ReadonlySet<number>): Invocation {
  return {
    inheritedFds,
    env: process.env,
    cwd: process.cwd(),
    stdout: (s) => writeAll(1, s),
    stderr: (s) => writeAll(2, s),
    readStdin: () => readStream(process.stdin),
    caller: { pid: process.pid, ppid: process.ppid },
    // The compiled binary is its own command line; under Node it is node + this file.
    self: selfCommand(),
  };
}

function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (data += d));
    stream.on('end', () => resolve(data));
    stream.on('error', reject);
  });
}
