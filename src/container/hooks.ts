import { spawn } from 'node:child_process';
import type { Hook, HookName } from '../spec/types';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';

/**
 * Runs hooks from tsrunc itself (the runtime's namespaces): prestart,
 * createRuntime, poststart, poststop. Each gets the container's state on
 * stdin, its own args and env (exactly: the spec's env replaces tsrunc's),
 * the bundle as working directory (as with runc under an engine), and is
 * killed when its timeout (seconds) passes.
 *
 * Returns the failure messages. Unless keepGoing, the first failure stops the
 * list (the spec: for every kind but poststop, a failed hook is an error that
 * stops the container; for poststop, a warning after which the rest run).
 */
export async function runHooks(kind: HookName, hooks: Hook[] = [], state: string, cwd: string, keepGoing = false): Promise<string[]> {
  const failures: string[] = [];
  for (const [i, hook] of hooks.entries()) {
    const why = await runHook(hook);
    if (why) {
      failures.push(`${kind} hook #${i} (${hook.path}) failed: ${why}`);
      if (!keepGoing) break;
    }
  }
  return failures;

  /** One hook; resolves to why it failed, or undefined. */
  function runHook(hook: Hook): Promise<string | undefined> {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    const env: Record<string, string> = {};
    for (const kv of hook.env ?? []) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return new Promise((resolve) => {
      let output = '';
      let timedOut = false;
      const child = spawn(hook.path, args, { argv0, env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      const timer = hook.timeout ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, hook.timeout * 1000) : undefined;
      const collect = (d: Buffer) => { if (output.length < 65536) output += d.toString(); };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      child.stdin!.on('error', () => {}); // a hook that does not read its stdin is fine
      child.stdin!.end(state);
      child.on('error', (err) => { clearTimeout(timer); resolve(err.message); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const tail = output.trim() ? `: ${output.trim()}` : '';
        if (timedOut) resolve(`timed out after ${hook.timeout}s${tail}`);
        else if (signal) resolve(`killed by ${signal}${tail}`);
        else if (code !== 0) resolve(`exit status ${code}${tail}`);
        else resolve(undefined);
      });
    });
  }
}

/** prestart, createRuntime, poststart: a failure is an error, and the caller stops the container. */
export async function runHooksOrThrow(kind: HookName, hooks: Hook[] | undefined, state: string, cwd: string): Promise<void> {
  const [failure] = await runHooks(kind, hooks, state, cwd);
  if (failure) throw new TsruncError(failure);
}

/** poststop: each failure is a warning, and the remaining hooks still run. */
export async function runPoststopHooks(hooks: Hook[] | undefined, state: string, cwd: string, log: Logger): Promise<void> {
  for (const failure of await runHooks('poststop', hooks, state, cwd, true)) log.warn(failure);
}
