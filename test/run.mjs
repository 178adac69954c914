#!/usr/bin/env node
// `npm test`: the whole suite, in two vitest runs: the unit and integration tests
// (test/vitest.config.mts, the VM tests included) and the end-to-end engine tests
// (test/e2e/vitest.config.mts). npm's pretest (test/setup.sh) has installed what
// they need. Ends with one summary of what ran and what did not, and exits
// non-zero when anything failed or did not run: as non-root the unit tests run,
// and the integration tests, the VM tests and the e2e suite (which need root) are
// named as not run.
//   node test/run.mjs [--unit | --e2e] [vitest args...]
//   --unit  the unit tests alone (npm run test:unit): passes when they pass
//   --e2e   the e2e suite alone (npm run test:e2e)
// vitest args (`npm test -- test/cli`) narrow the first run; the e2e suite then
// runs only with --e2e.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = process.getuid?.() === 0;
let args = process.argv.slice(2);
const mode = args[0] === '--unit' ? 'unit' : args[0] === '--e2e' ? 'e2e' : 'all';
if (mode !== 'all') args = args.slice(1);
const scratch = mkdtempSync(join(tmpdir(), 'tsrunc-run-'));

function vitest(name, config, extra) {
  const summary = join(scratch, `${name.replace(/\W+/g, '-')}.jsonl`);
  const r = spawnSync(join(repo, 'node_modules', '.bin', 'vitest'), ['run', '--config', config, '--reporter=default', '--reporter=./test/helpers/summary-reporter.ts', ...extra], {
    cwd: repo,
    stdio: 'inherit',
    env: { ...process.env, TSRUNC_TEST_SUMMARY: summary },
  });
  let s;
  try {
    s = JSON.parse(readFileSync(summary, 'utf8').trim().split('\n').pop());
  } catch {
    s = undefined; // vitest stopped before the end of the run (e.g. a global setup failed)
  }
  return { name, code: r.status ?? 1, summary: s };
}

const runs = [];
const notRun = [];
if (mode === 'unit') {
  runs.push(vitest('unit tests', 'test/vitest.config.mts', ['--exclude', 'test/**/*.int.test.ts', ...args]));
} else if (mode === 'e2e') {
  runs.push(vitest('e2e: containerd, Docker, podman', 'test/e2e/vitest.config.mts', args));
} else {
  runs.push(vitest('unit and integration tests', 'test/vitest.config.mts', args));
  if (!root) notRun.push('integration tests, the VM tests (test/vm, cgroup v2, systemd) and the e2e engine suite: they need root (sudo npm test)');
  else if (args.length === 0) runs.push(vitest('e2e: containerd, Docker, podman', 'test/e2e/vitest.config.mts', []));
  else notRun.push('the e2e engine suite: not selected (npm run test:e2e)');
}
rmSync(scratch, { recursive: true, force: true });

const bar = '='.repeat(78);
const out = [bar, `tsrunc test summary${mode === 'all' ? '' : ` (--${mode} only)`}`];
let ok = notRun.length === 0;
for (const r of runs) {
  const s = r.summary;
  const counts = s ? `${s.passed} passed, ${s.failed} failed, ${s.skipped} did not run (${s.modules} files)` : 'did not complete';
  const good = r.code === 0 && s && !s.failed && !s.skipped;
  const failed = r.code !== 0 || !s || s.failed > 0;
  out.push(`  ${good ? 'ok        ' : failed ? 'FAILED    ' : 'INCOMPLETE'} ${r.name}: ${counts}`);
  if (!good) ok = false;
  for (const t of (s?.skippedTests ?? []).slice(0, 30)) out.push(`             not run: ${t}`);
  if ((s?.skippedTests.length ?? 0) > 30) out.push(`             ... and ${s.skippedTests.length - 30} more`);
}
for (const n of notRun) out.push(`  NOT RUN    ${n}`);
out.push(ok ? '  everything selected ran and passed' : '  INCOMPLETE OR FAILED: see above');
out.push(bar);
process.stderr.write(`\n${out.join('\n')}\n`);
process.exit(ok ? 0 : 1);
