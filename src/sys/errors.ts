import { constants } from 'node:os';

/**
 * An error meant for the user: its message is printed as is (one line on
 * stderr, the last `msg` in --log), and tsrunc exits 1. Anything else that
 * reaches the top level is a bug and is reported with its stack in --debug.
 */
export class TsruncError extends Error {
  override readonly name = 'TsruncError';
}

/** A failed system call or init request: carries the errno for callers that branch on it. */
export class SyscallError extends TsruncError {
  constructor(readonly step: string, readonly errno: number, detail?: string, options?: ErrorOptions) {
    super(`${step}: ${detail ? `${detail}: ` : ''}${errnoText(errno)}`, options);
  }
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** "EPERM (operation not permitted)": the name for people who grep, the text for everyone else. */
function errnoText(errno: number): string {
  const name = errnoNames.get(errno) ?? `errno ${errno}`;
  const text = strerror(errno);
  return text ? `${name} (${text})` : name;
}

const texts: Record<string, string> = {
  EPERM: 'operation not permitted', ENOENT: 'no such file or directory', ESRCH: 'no such process',
  EINTR: 'interrupted system call', EIO: 'input/output error', EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable', ENOMEM: 'cannot allocate memory', EACCES: 'permission denied',
  EBUSY: 'device or resource busy', EEXIST: 'file exists', EXDEV: 'invalid cross-device link',
  ENODEV: 'no such device', ENOTDIR: 'not a directory', EISDIR: 'is a directory', EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device', EROFS: 'read-only file system', ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long', ENOSYS: 'function not implemented', ENOTEMPTY: 'directory not empty',
  ECANCELED: 'operation canceled', ENXIO: 'no such device or address', ETXTBSY: 'text file busy',
  ECHILD: 'no child processes', EOPNOTSUPP: 'operation not supported',
};

function strerror(errno: number): string | undefined {
  const name = errnoNames.get(errno);
  return name ? texts[name] : undefined;
}

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
