import type { FlagValues } from './args';
import type { Logger } from '../sys/log';

/** Options given before the command name; they apply to every command. */
export interface GlobalOptions {
  /** Directory holding one state directory per container. */
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
  /** --rootless, resolved: cgroups the caller cannot create are skipped when no limits are asked. */
  rootless: boolean;
}

/**
 * Everything a command handler may use. Handlers never call process.exit,
 * process.chdir or read globals: they get their inputs here and return an
 * exit status, so a warm process could serve many invocations later.
 */
export interface CommandContext<F = FlagValues> {
  global: GlobalOptions;
  /** The command's options, typed by its flag table (Flags<'create'> for create). */
  flags: F;
  args: string[];
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** The directory tsrunc was started in: relative --bundle and --pid-file paths resolve here. */
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** All of the caller's stdin (update --resources -). */
  readStdin: () => Promise<string>;
  /** The fds above stdio the caller gave tsrunc, read at start-up (for --preserve-fds). */
  inheritedFds: ReadonlySet<number>;
  /** The process the engine (or person) ran: its pid decides "its own cgroup" and who its parent is. */
  caller: { pid: number; ppid: number };
  /** The command line that runs tsrunc again (the shim's cleanup after a foreground run). */
  self: string[];
}

export type Handler<F = FlagValues> = (ctx: CommandContext<F>) => Promise<number>;
