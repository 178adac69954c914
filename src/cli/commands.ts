import type { FlagSpec } from './args';
import type { Handler } from './context';

/**
 * The command table: names, flags and help as runc has them. Handlers are
 * loaded only for the command being run, so `tsrunc state` loads none of
 * what `create` needs.
 */
export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Minimum and maximum positional arguments (max -1: any). */
  args: [number, number];
  /** exec: everything after the container id belongs to the program. */
  stopAtFirstPositional?: boolean;
  load: () => Handler;
}

const bundle: FlagSpec = { name: 'bundle', alias: ['b'], type: 'string', value: 'DIR', help: 'path to the root of the bundle directory (default: the current directory)' };
const pidFile: FlagSpec = { name: 'pid-file', type: 'string', value: 'FILE', help: 'file to write the container process id to' };
const consoleSocket: FlagSpec = { name: 'console-socket', type: 'string', value: 'PATH', help: 'unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is true' };
const preserveFds: FlagSpec = { name: 'preserve-fds', type: 'int', value: 'N', default: 0, help: 'pass N additional file descriptors (from fd 3 on) to the container' };
const shimFlags: FlagSpec[] = [
  { name: 'shim', type: 'bool', help: 'supervise the container with tsrunc-shim even under an engine' },
  { name: 'no-shim', type: 'bool', help: 'never start tsrunc-shim; the caller reaps the container (as under containerd and conmon)' },
  { name: 'shim-log', type: 'string', value: 'FILE', help: "with the shim: append the container's stdout and stderr to FILE" },
];
const createFlags: FlagSpec[] = [
  bundle, consoleSocket, pidFile,
  { name: 'no-pivot', type: 'bool', help: 'do not use pivot_root to enter the rootfs (for a rootfs on a ramdisk)' },
  { name: 'no-new-keyring', type: 'bool', help: 'do not create a new session keyring for the container' },
  preserveFds,
  ...shimFlags,
];

// `require` is resolved at run time, relative to this compiled file in dist/cli/.
/* eslint-disable @typescript-eslint/no-require-imports */
const handler = (module: string) => () => (require(`./handlers/${module}`) as { run: Handler }).run;

export const commands: CommandSpec[] = [
  {
    name: 'create', usage: 'create [command options] <container-id>', args: [1, 1],
    summary: 'create a container from a bundle; its process waits for `start`',
    flags: createFlags, load: handler('create'),
  },
  {
    name: 'start', usage: 'start <container-id>', args: [1, 1],
    summary: 'run the program of a created container', flags: [], load: handler('start'),
  },
  {
    name: 'run', usage: 'run [command options] <container-id>', args: [1, 1],
    summary: 'create and start a container; in the foreground, wait for it and exit with its status',
    flags: [
      ...createFlags,
      { name: 'detach', alias: ['d'], type: 'bool', help: 'detach from the container process' },
      { name: 'keep', type: 'bool', help: 'do not delete the container after it exits' },
    ],
    load: handler('run'),
  },
  {
    name: 'exec', usage: 'exec [command options] <container-id> [command [args...]]', args: [1, -1], stopAtFirstPositional: true,
    summary: 'run a new process in a running container',
    flags: [
      consoleSocket,
      { name: 'cwd', type: 'string', value: 'DIR', help: 'working directory in the container' },
      { name: 'env', alias: ['e'], type: 'list', value: 'K=V', help: 'set an environment variable (repeatable)' },
      { name: 'tty', alias: ['t'], type: 'bool', help: 'allocate a pseudo-TTY' },
      { name: 'user', alias: ['u'], type: 'string', value: 'UID[:GID]', help: 'user (and group) to run as' },
      { name: 'additional-gids', alias: ['g'], type: 'list', value: 'GID', help: 'an additional group (repeatable)' },
      { name: 'process', alias: ['p'], type: 'string', value: 'FILE', help: 'the process as a runtime-spec process.json ("-" for stdin); replaces the command line' },
      { name: 'detach', alias: ['d'], type: 'bool', help: 'return at once; the process is re-parented to the caller' },
      pidFile,
      { name: 'process-label', type: 'string', value: 'LABEL', help: 'SELinux label for the process' },
      { name: 'apparmor', type: 'string', value: 'PROFILE', help: 'AppArmor profile for the process' },
      { name: 'no-new-privs', type: 'bool', help: 'set no_new_privs for the process' },
      { name: 'cap', alias: ['c'], type: 'list', value: 'CAP', help: 'add a capability (repeatable)' },
      preserveFds,
      { name: 'ignore-paused', type: 'bool', help: 'accepted for runc compatibility; exec into a paused container is an error' },
    ],
    load: handler('exec'),
  },
  {
    name: 'state', usage: 'state <container-id>', args: [1, 1],
    summary: 'print the state of a container as OCI state JSON', flags: [], load: handler('state'),
  },
  {
    name: 'kill', usage: 'kill [command options] <container-id> [signal]', args: [1, 2],
    summary: 'send a signal (default SIGTERM) to the container process',
    flags: [{ name: 'all', alias: ['a'], type: 'bool', help: 'send the signal to every process of the container' }],
    load: handler('kill'),
  },
  {
    name: 'delete', usage: 'delete [command options] <container-id>', args: [1, 1],
    summary: 'delete a container and everything it created',
    flags: [{ name: 'force', alias: ['f'], type: 'bool', help: 'kill the container first if it is running; succeed if it does not exist' }],
    load: handler('delete'),
  },
  {
    name: 'list', usage: 'list [command options]', args: [0, 0],
    summary: 'list the containers under --root',
    flags: [
      { name: 'format', alias: ['f'], type: 'string', value: 'table|json', default: 'table', help: 'output format' },
      { name: 'quiet', alias: ['q'], type: 'bool', help: 'print only the container ids' },
    ],
    load: handler('list'),
  },
  {
    name: 'features', usage: 'features', args: [0, 0],
    summary: 'print what this build supports, as runtime-spec features JSON', flags: [], load: handler('features'),
  },
  {
    name: 'spec', usage: 'spec [command options]', args: [0, 0],
    summary: 'write a default config.json into the bundle',
    flags: [bundle, { name: 'rootless', type: 'bool', help: 'a config for a container run without root (user namespace)' }],
    load: handler('spec'),
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return commands.find((c) => c.name === name);
}
