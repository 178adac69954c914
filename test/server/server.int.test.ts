import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, TSRUNC, waitFor } from '../helpers/harness';

/** A server of its own: its socket in a fresh directory, idle after one second. */
function serverEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, TSRUNC_SERVER_DIR: dir, TSRUNC_SERVER_IDLE: '1' };
}

describe('the warm server', () => {
  it('starts on first use, answers concurrent calls, and leaves nothing behind when it exits idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsrunc-server-'));
    const root = mkdtempSync(join(tmpdir(), 'tsrunc-server-root-'));
    try {
      const env = serverEnv(dir);
      const list = () => exec(TSRUNC, ['--root', root, 'list', '--format', 'json'], { env, stdin: 'null' });
      const first = await list();
      expect(first).toMatchObject({ code: 0, stdout: '[]\n' });
      expect(readdirSync(dir).sort()).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.sock$/), expect.stringMatching(/\.sock\.lock$/)]);

      const many = await Promise.all(Array.from({ length: 8 }, list));
      for (const r of many) expect(r).toMatchObject({ code: 0, stdout: '[]\n' });

      // Idle: the server removes its socket and the clients' start lock, then exits.
      await waitFor(() => readdirSync(dir).length === 0, 10_000);

      // Calls around the moment the server leaves (one idle second after the last) all get an answer.
      for (let round = 0; round < 6; round++) {
        const racing = await Promise.all([list(), new Promise((r) => setTimeout(r, 950 + round * 20)).then(list)]);
        for (const r of racing) expect(r).toMatchObject({ code: 0, stdout: '[]\n' });
      }
      await waitFor(() => readdirSync(dir).length === 0, 10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    }
  });
});
