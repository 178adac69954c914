import { flag, type OptionsOf } from './args';

/**
 * The flags of each command, as runc has them. Each table is a const tuple,
 * so `Flags<'create'>` is the typed options object its handler gets
 * ({ bundle: string | undefined; 'preserve-fds': number; ... }): handlers read
 * ctx.flags without casts. commands.ts puts the tables in the command table.
 */

const bundle = flag({ name: 'bundle', alias: ['b'], type: 'string', value: 'DIR', help: 'path to the root of the bundle directory (default: the current directory)' });
const pidFile = flag({ name: 'pid-file', type: 'string', value: 'FILE', help: 'file to write the container process id to' });
const consoleSocket = flag({ name: 'console-socket', type: 'string', value: 'PATH', help: 'unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is true' });
const preserveFds = flag({ name: 'preserve-fds', type: 'int', value: 'N', default: 0, help: 'pass N additional file descriptors (from fd 3 on) to the container' });
const format = flag({ name: 'format', alias: ['f'], type: 'string', value: 'table|json', default: 'table', help: 'output format' });

const create = [
  bundle, consoleSocket, pidFile,
  flag({ name: 'no-pivot', type: 'bool', help: 'do not use pivot_root to enter the rootfs (for a rootfs on a ramdisk)' }),
  flag({ name: 'no-new-keyring', type: 'bool', help: 'do not create a new session keyring for the container' }),
  preserveFds,
  flag({ name: 'shim', type: 'bool', help: 'supervise the container with tsrunc-shim even under an engine' }),
  flag({ name: 'no-shim', type: 'bool', help: 'never start tsrunc-shim; the caller reaps the container (as under containerd and conmon)' }),
  flag({ name: 'shim-log', type: 'string', value: 'FILE', help: "with the shim: append the container's stdout and stderr to FILE" }),
] as const;

export const FLAGS = {
  create,
  start: [],
  run: [
    ...create,
    flag({ name: 'detach', alias: ['d'], type: 'bool', help: 'detach from the container process' }),
    flag({ name: 'keep', type: 'bool', help: 'do not delete the container after it exits' }),
  ],
  exec: [
    consoleSocket,
    flag({ name: 'cwd', type: 'string', value: 'DIR', help: 'working directory in the container' }),
    flag({ name: 'env', alias: ['e'], type: 'list', value: 'K=V', help: 'set an environment variable (repeatable)' }),
    flag({ name: 'tty', alias: ['t'], type: 'bool', help: 'allocate a pseudo-TTY' }),
    flag({ name: 'user', alias: ['u'], type: 'string', value: 'UID[:GID]', help: 'user (and group) to run as' }),
    flag({ name: 'additional-gids', alias: ['g'], type: 'list', value: 'GID', help: 'an additional group (repeatable)' }),
    flag({ name: 'process', alias: ['p'], type: 'string', value: 'FILE', help: 'the process as a runtime-spec process.json ("-" for stdin); replaces the command line' }),
    flag({ name: 'detach', alias: ['d'], type: 'bool', help: 'return at once; the process is re-parented to the caller' }),
    pidFile,
    flag({ name: 'process-label', type: 'string', value: 'LABEL', help: 'SELinux label for the process' }),
    flag({ name: 'apparmor', type: 'string', value: 'PROFILE', help: 'AppArmor profile for the process' }),
    flag({ name: 'no-new-privs', type: 'bool', help: 'set no_new_privs for the process' }),
    flag({ name: 'cap', alias: ['c'], type: 'list', value: 'CAP', help: 'add a capability (repeatable)' }),
    preserveFds,
    flag({ name: 'ignore-paused', type: 'bool', help: 'accepted for runc compatibility; exec into a paused container is an error' }),
  ],
  state: [],
  kill: [flag({ name: 'all', alias: ['a'], type: 'bool', help: 'send the signal to every process of the container' })],
  delete: [flag({ name: 'force', alias: ['f'], type: 'bool', help: 'kill the container first if it is running; succeed if it does not exist' })],
  // runc update's flags; values are strings where runc takes them as strings (memory sizes like 512m).
  update: [
    flag({ name: 'resources', alias: ['r'], type: 'string', value: 'FILE', help: 'the LinuxResources JSON to apply, from FILE or "-" (stdin); the other flags are then ignored' }),
    flag({ name: 'blkio-weight', type: 'int', value: 'N', help: 'block IO weight (10..1000)' }),
    flag({ name: 'cpu-period', type: 'string', value: 'USECS', help: 'CPU CFS period' }),
    flag({ name: 'cpu-quota', type: 'string', value: 'USECS', help: 'CPU CFS quota per period (-1: none)' }),
    flag({ name: 'cpu-burst', type: 'string', value: 'USECS', help: 'CPU CFS burst' }),
    flag({ name: 'cpu-share', alias: ['cpu-shares'], type: 'string', value: 'N', help: 'CPU shares (relative weight; v2: converted to cpu.weight)' }),
    flag({ name: 'cpu-rt-period', type: 'string', value: 'USECS', help: 'CPU realtime period' }),
    flag({ name: 'cpu-rt-runtime', type: 'string', value: 'USECS', help: 'CPU realtime runtime per period' }),
    flag({ name: 'cpuset-cpus', type: 'string', value: 'LIST', help: 'CPUs to use (e.g. 0-2,4)' }),
    flag({ name: 'cpuset-mems', type: 'string', value: 'LIST', help: 'memory nodes to use' }),
    flag({ name: 'cpu-idle', type: 'string', value: '0|1', help: 'SCHED_IDLE for the cgroup' }),
    flag({ name: 'memory', type: 'string', value: 'BYTES', help: 'memory limit (512m, 1g, -1: none)' }),
    flag({ name: 'memory-reservation', type: 'string', value: 'BYTES', help: 'memory soft limit' }),
    flag({ name: 'memory-swap', type: 'string', value: 'BYTES', help: 'memory+swap limit (-1: unlimited swap)' }),
    flag({ name: 'kernel-memory', type: 'string', value: 'BYTES', help: 'kernel memory limit (deprecated; ignored where the kernel lacks it)' }),
    flag({ name: 'kernel-memory-tcp', type: 'string', value: 'BYTES', help: 'kernel TCP buffer limit (deprecated)' }),
    flag({ name: 'pids-limit', type: 'int', value: 'N', help: 'maximum number of processes (-1: none)' }),
    flag({ name: 'l3-cache-schema', type: 'string', value: 'SCHEMA', help: 'Intel RDT/CAT L3 cache schema (not supported)' }),
    flag({ name: 'mem-bw-schema', type: 'string', value: 'SCHEMA', help: 'Intel RDT/MBA memory bandwidth schema (not supported)' }),
  ],
  pause: [],
  resume: [],
  ps: [format],
  events: [
    flag({ name: 'interval', type: 'string', value: 'DURATION', default: '5s', help: 'the stats collection interval (a Go duration: 500ms, 5s, 1m)' }),
    flag({ name: 'stats', type: 'bool', help: 'print the container\'s stats once, then exit' }),
  ],
  list: [format, flag({ name: 'quiet', alias: ['q'], type: 'bool', help: 'print only the container ids' })],
  features: [],
  spec: [bundle, flag({ name: 'rootless', type: 'bool', help: 'a config for a container run without root (user namespace)' })],
} as const;

export type CommandName = keyof typeof FLAGS;

/** The typed options of a command: Flags<'exec'>['env'] is string[], Flags<'create'>['preserve-fds'] a number. */
export type Flags<C extends CommandName> = OptionsOf<(typeof FLAGS)[C]>;
