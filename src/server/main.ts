/**
 * Entry point of the warm tsrunc server: `node dist/server/main.js SOCKET`.
 * Started by the tsrunc client (addon/client.c) on first use, detached, with
 * stdio on /dev/null; it exits after TSRUNC_SERVER_IDLE seconds (default 30)
 * without a client.
 */
import { appendFileSync } from 'node:fs';
import { TsruncServer } from './server';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: node dist/server/main.js SOCKET (started by the tsrunc client)\n');
  process.exit(2);
}
// Its stdio is /dev/null: a crash leaves its trace beside the socket, and the next call starts a fresh server.
process.on('uncaughtException', (err) => {
  try {
    appendFileSync(`${socketPath}.log`, `${new Date().toISOString()} tsrunc server crashed: ${err.stack ?? err}\n`);
  } finally {
    process.exit(1);
  }
});
const idleSeconds = Number(process.env.TSRUNC_SERVER_IDLE ?? 30);
const server = new TsruncServer(socketPath, (Number.isFinite(idleSeconds) && idleSeconds > 0 ? idleSeconds : 30) * 1000);
server.start().then(
  () => {
    // Load what the lifecycle commands need now, while nobody waits, rather than on the first call.
    setImmediate(() => {
      for (const m of ['../cli/handlers/create', '../cli/handlers/start', '../cli/handlers/delete', '../cli/handlers/state', '../cli/handlers/kill', '../sys/libc']) require(m);
      require('../sys/libc').statfsType('/');
    });
  },
  (err: Error) => {
    process.stderr.write(`tsrunc server: ${err.message}\n`);
    process.exit(1);
  },
);
