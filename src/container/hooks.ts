import { spawnSync } from 'node:child_process';
import type { Hook, HookName } from '../spec/types';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';

/**
 * Runs hooks from tsrunc itself (the runtime's namespaces): prestart,
 * createRuntime, poststart, poststop. Each gets the container's state on
 * stdin, its own args and env (exactly: the spec's env replaces tsrunc's),
 * and is killed when its timeout (seconds) passes.
 *
 * Returns the failure messages. Unless keepGoing, the first failure stops the
 * list (the spec: for every kind but poststop, a failed hook is an error that
 * stops the container; for poststop, a warning after which the rest run).
 */
export function runHooks(kind: HookName, hooks: Hook[] = [], state: string, keepGoing = false): string[] {
  const failures: string[] = [];
  for (const [i, hook] of hooks.entries()) {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    const env: Record<string, string> = {};
    for (const kv of hook.env ?? []) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const r = spawnSync(hook.path, args, {
      argv0, env, input: state, timeout: hook.timeout ? hook.timeout * 1000 : undefined, killSignal: 'SIGKILL',
      stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 20,
    });
    const output = `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`.trim();
    const why = r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${hook.timeout}s`
      : r.error ? r.error.message
      : r.signal ? `killed by ${r.signal}`
      : r.status !== 0 ? `exit status ${r.status}` : undefined;
    if (why) {
      failures.push(`${kind} hook #${i} (${hook.path}) failed: ${why}${output ? `: ${output}` : ''}`);
      if (!keepGoing) break;
    }
  }
  return failures;
}

/** prestart, createRuntime, poststart: a failure is an error, and the caller stops the container. */
export function runHooksOrThrow(kind: HookName, hooks: Hook[] | undefined, state: string): void {
  const [failure] = runHooks(kind, hooks, state);
  if (failure) throw new TsruncError(failure);
}

/** poststop: each failure is a warning, and the remaining hooks still run. */
export function runPoststopHooks(hooks: Hook[] | undefined, state: string, log: Logger): void {
  for (const failure of runHooks('poststop', hooks, state, true)) log.warn(failure);
}
