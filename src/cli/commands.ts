import type { FlagSpec } from './args';
import type { Handler } from './context';
import { FLAGS, type CommandName, type Flags } from './flags';

/* eslint-disable @typescript-eslint/no-require-imports */

/**
 * The command table: names, flags and help as runc has them. Each handler is
 * required by a literal path (the bundler follows it) when its command runs,
 * so `tsrunc state` evaluates none of what `create` needs; what is costly
 * inside a command (schema validators, libseccomp, the FFI) is loaded by the
 * code that uses it.
 */
export interface CommandSpec {
  name: CommandName;
  usage: string;
  summary: string;
  flags: readonly FlagSpec[];
  /** Minimum and maximum positional arguments (max -1: any). */
  args: [number, number];
  /** exec: everything after the container id belongs to the program. */
  stopAtFirstPositional?: boolean;
  /** The handler, loaded on first use: a static path, so the bundler includes it, evaluated only for this command. */
  load: () => Handler;
}

/**
 * A command of the table, its flags taken from FLAGS (flags.ts) by its name:
 * the handler must take exactly the options parseArgs gives for them.
 */
function defineCommand<C extends CommandName>(c: Omit<CommandSpec, 'name' | 'flags' | 'load'> & { name: C; load: () => Handler<Flags<C>> }): CommandSpec {
  // parseArgs builds ctx.flags from FLAGS[c.name]: Flags<C> is its type by construction.
  return { ...c, flags: FLAGS[c.name], load: c.load as () => Handler };
}

export const commands: CommandSpec[] = [
  defineCommand({
    name: 'create', usage: 'create [command options] <container-id>', args: [1, 1],
    summary: 'create a container from a bundle; its process waits for `start`',
    load: () => (require('./handlers/create') as typeof import('./handlers/create')).run,
  }),
  defineCommand({
    name: 'start', usage: 'start <container-id>', args: [1, 1],
    summary: 'run the program of a created container',
    load: () => (require('./handlers/start') as typeof import('./handlers/start')).run,
  }),
  defineCommand({
    name: 'run', usage: 'run [command options] <container-id>', args: [1, 1],
    summary: 'create and start a container; in the foreground, wait for it and exit with its status',
    load: () => (require('./handlers/run') as typeof import('./handlers/run')).run,
  }),
  defineCommand({
    name: 'exec', usage: 'exec [command options] <container-id> [command [args...]]', args: [1, -1], stopAtFirstPositional: true,
    summary: 'run a new process in a running container',
    load: () => (require('./handlers/exec') as typeof import('./handlers/exec')).run,
  }),
  defineCommand({
    name: 'state', usage: 'state <container-id>', args: [1, 1],
    summary: 'print the state of a container as OCI state JSON',
    load: () => (require('./handlers/state') as typeof import('./handlers/state')).run,
  }),
  defineCommand({
    name: 'kill', usage: 'kill [command options] <container-id> [signal]', args: [1, 2],
    summary: 'send a signal (default SIGTERM) to the container process',
    load: () => (require('./handlers/kill') as typeof import('./handlers/kill')).run,
  }),
  defineCommand({
    name: 'delete', usage: 'delete [command options] <container-id>', args: [1, 1],
    summary: 'delete a container and everything it created',
    load: () => (require('./handlers/delete') as typeof import('./handlers/delete')).run,
  }),
  defineCommand({
    name: 'update', usage: 'update [command options] <container-id>', args: [1, 1],
    summary: 'update the resource limits of a running container (cgroups)',
    load: () => (require('./handlers/update') as typeof import('./handlers/update')).run,
  }),
  defineCommand({
    name: 'pause', usage: 'pause <container-id>', args: [1, 1],
    summary: 'suspend every process of the container (cgroup freezer)',
    load: () => (require('./handlers/pause') as typeof import('./handlers/pause')).run,
  }),
  defineCommand({
    name: 'resume', usage: 'resume <container-id>', args: [1, 1],
    summary: 'resume the processes of a paused container',
    load: () => (require('./handlers/resume') as typeof import('./handlers/resume')).run,
  }),
  defineCommand({
    name: 'ps', usage: 'ps [command options] <container-id> [ps options]', args: [1, -1], stopAtFirstPositional: true,
    summary: 'list the processes of the container (json: their host pids)',
    load: () => (require('./handlers/ps') as typeof import('./handlers/ps')).run,
  }),
  defineCommand({
    name: 'events', usage: 'events [command options] <container-id>', args: [1, 1],
    summary: 'print the container\'s resource usage and OOM events as JSON lines',
    load: () => (require('./handlers/events') as typeof import('./handlers/events')).run,
  }),
  defineCommand({
    name: 'list', usage: 'list [command options]', args: [0, 0],
    summary: 'list the containers under --root',
    load: () => (require('./handlers/list') as typeof import('./handlers/list')).run,
  }),
  defineCommand({
    name: 'features', usage: 'features', args: [0, 0],
    summary: 'print what this build supports, as runtime-spec features JSON',
    load: () => (require('./handlers/features') as typeof import('./handlers/features')).run,
  }),
  defineCommand({
    name: 'spec', usage: 'spec [command options]', args: [0, 0],
    summary: 'write a default config.json into the bundle',
    load: () => (require('./handlers/spec') as typeof import('./handlers/spec')).run,
  }),
];

export function findCommand(name: string): CommandSpec | undefined {
  return commands.find((c) => c.name === name);
}
