import type { FlagSpec } from './args';
import type { Handler } from './context';

/* eslint-disable @typescript-eslint/no-require-imports */

/**
 * The command table: names, flags and help as runc has them. Each handler is
 * required by a literal path (the bundler follows it) when its command runs,
 * so `tsrunc state` evaluates none of what `create` needs; what is costly
 * inside a command (schema validators, libseccomp, the FFI) is loaded by the
 * code that uses it.
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
  /** The handler, loaded on first use: a static path, so the bundler includes it, evaluated only for this command. */
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

// runc update's flags; values are strings where runc takes them as strings (memory sizes like 512m).
const updateFlags: FlagSpec[] = [
  { name: 'resources', alias: ['r'], type: 'string', value: 'FILE', help: 'the LinuxResources JSON to apply, from FILE or "-" (stdin); the other flags are then ignored' },
  { name: 'blkio-weight', type: 'int', value: 'N', help: 'block IO weight (10..1000)' },
  { name: 'cpu-period', type: 'string', value: 'USECS', help: 'CPU CFS period' },
  { name: 'cpu-quota', type: 'string', value: 'USECS', help: 'CPU CFS quota per period (-1: none)' },
  { name: 'cpu-burst', type: 'string', value: 'USECS', help: 'CPU CFS burst' },
  { name: 'cpu-share', alias: ['cpu-shares'], type: 'string', value: 'N', help: 'CPU shares (relative weight; v2: converted to cpu.weight)' },
  { name: 'cpu-rt-period', type: 'string', value: 'USECS', help: 'CPU realtime period' },
  { name: 'cpu-rt-runtime', type: 'string', value: 'USECS', help: 'CPU realtime runtime per period' },
  { name: 'cpuset-cpus', type: 'string', value: 'LIST', help: 'CPUs to use (e.g. 0-2,4)' },
  { name: 'cpuset-mems', type: 'string', value: 'LIST', help: 'memory nodes to use' },
  { name: 'cpu-idle', type: 'string', value: '0|1', help: 'SCHED_IDLE for the cgroup' },
  { name: 'memory', type: 'string', value: 'BYTES', help: 'memory limit (512m, 1g, -1: none)' },
  { name: 'memory-reservation', type: 'string', value: 'BYTES', help: 'memory soft limit' },
  { name: 'memory-swap', type: 'string', value: 'BYTES', help: 'memory+swap limit (-1: unlimited swap)' },
  { name: 'kernel-memory', type: 'string', value: 'BYTES', help: 'kernel memory limit (deprecated; ignored where the kernel lacks it)' },
  { name: 'kernel-memory-tcp', type: 'string', value: 'BYTES', help: 'kernel TCP buffer limit (deprecated)' },
  { name: 'pids-limit', type: 'int', value: 'N', help: 'maximum number of processes (-1: none)' },
  { name: 'l3-cache-schema', type: 'string', value: 'SCHEMA', help: 'Intel RDT/CAT L3 cache schema (not supported)' },
  { name: 'mem-bw-schema', type: 'string', value: 'SCHEMA', help: 'Intel RDT/MBA memory bandwidth schema (not supported)' },
];


export const commands: CommandSpec[] = [
  {
    name: 'create', usage: 'create [command options] <container-id>', args: [1, 1],
    summary: 'create a container from a bundle; its process waits for `start`',
    flags: createFlags, load: () => (require('./handlers/create') as typeof import('./handlers/create')).run,
  },
  {
    name: 'start', usage: 'start <container-id>', args: [1, 1],
    summary: 'run the program of a created container', flags: [], load: () => (require('./handlers/start') as typeof import('./handlers/start')).run,
  },
  {
    name: 'run', usage: 'run [command options] <container-id>', args: [1, 1],
    summary: 'create and start a container; in the foreground, wait for it and exit with its status',
    flags: [
      ...createFlags,
      { name: 'detach', alias: ['d'], type: 'bool', help: 'detach from the container process' },
      { name: 'keep', type: 'bool', help: 'do not delete the container after it exits' },
    ],
    load: () => (require('./handlers/run') as typeof import('./handlers/run')).run,
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
    load: () => (require('./handlers/exec') as typeof import('./handlers/exec')).run,
  },
  {
    name: 'state', usage: 'state <container-id>', args: [1, 1],
    summary: 'print the state of a container as OCI state JSON', flags: [], load: () => (require('./handlers/state') as typeof import('./handlers/state')).run,
  },
  {
    name: 'kill', usage: 'kill [command options] <container-id> [signal]', args: [1, 2],
    summary: 'send a signal (default SIGTERM) to the container process',
    flags: [{ name: 'all', alias: ['a'], type: 'bool', help: 'send the signal to every process of the container' }],
    load: () => (require('./handlers/kill') as typeof import('./handlers/kill')).run,
  },
  {
    name: 'delete', usage: 'delete [command options] <container-id>', args: [1, 1],
    summary: 'delete a container and everything it created',
    flags: [{ name: 'force', alias: ['f'], type: 'bool', help: 'kill the container first if it is running; succeed if it does not exist' }],
    load: () => (require('./handlers/delete') as typeof import('./handlers/delete')).run,
  },
  {
    name: 'update', usage: 'update [command options] <container-id>', args: [1, 1],
    summary: 'update the resource limits of a running container (cgroups)',
    flags: updateFlags, load: () => (require('./handlers/update') as typeof import('./handlers/update')).run,
  },
  {
    name: 'pause', usage: 'pause <container-id>', args: [1, 1],
    summary: 'suspend every process of the container (cgroup freezer)', flags: [], load: () => (require('./handlers/pause') as typeof import('./handlers/pause')).run,
  },
  {
    name: 'resume', usage: 'resume <container-id>', args: [1, 1],
    summary: 'resume the processes of a paused container', flags: [], load: () => (require('./handlers/resume') as typeof import('./handlers/resume')).run,
  },
  {
    name: 'ps', usage: 'ps [command options] <container-id> [ps options]', args: [1, -1], stopAtFirstPositional: true,
    summary: 'list the processes of the container (json: their host pids)',
    flags: [{ name: 'format', alias: ['f'], type: 'string', value: 'table|json', default: 'table', help: 'output format' }],
    load: () => (require('./handlers/ps') as typeof import('./handlers/ps')).run,
  },
  {
    name: 'events', usage: 'events [command options] <container-id>', args: [1, 1],
    summary: 'print the container\'s resource usage and OOM events as JSON lines',
    flags: [
      { name: 'interval', type: 'string', value: 'DURATION', default: '5s', help: 'the stats collection interval (a Go duration: 500ms, 5s, 1m)' },
      { name: 'stats', type: 'bool', help: 'print the container\'s stats once, then exit' },
    ],
    load: () => (require('./handlers/events') as typeof import('./handlers/events')).run,
  },
  {
    name: 'list', usage: 'list [command options]', args: [0, 0],
    summary: 'list the containers under --root',
    flags: [
      { name: 'format', alias: ['f'], type: 'string', value: 'table|json', default: 'table', help: 'output format' },
      { name: 'quiet', alias: ['q'], type: 'bool', help: 'print only the container ids' },
    ],
    load: () => (require('./handlers/list') as typeof import('./handlers/list')).run,
  },
  {
    name: 'features', usage: 'features', args: [0, 0],
    summary: 'print what this build supports, as runtime-spec features JSON', flags: [], load: () => (require('./handlers/features') as typeof import('./handlers/features')).run,
  },
  {
    name: 'spec', usage: 'spec [command options]', args: [0, 0],
    summary: 'write a default config.json into the bundle',
    flags: [bundle, { name: 'rootless', type: 'bool', help: 'a config for a container run without root (user namespace)' }],
    load: () => (require('./handlers/spec') as typeof import('./handlers/spec')).run,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return commands.find((c) => c.name === name);
}
