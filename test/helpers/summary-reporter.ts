import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Says at the end of a run, loudly, which tests did not run (skipped: most
 * need root, some need a host of another kind), so that a run with holes
 * never looks complete. With TSRUNC_TEST_SUMMARY=FILE it also appends one
 * JSON line with the counts and the skipped tests, for test/run.mjs.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else {
          counts.skipped++;
          skipped.push(`${m.relativeModuleId} > ${t.fullName}`);
        }
      }
    }
    if (skipped.length) {
      const bar = '!'.repeat(78);
      const lines = [bar, `!! ${skipped.length} tests did NOT run:`, ...skipped.map((s) => `!!   ${s}`), bar];
      process.stderr.write(`\n${lines.join('\n')}\n`);
    }
    const file = process.env.TSRUNC_TEST_SUMMARY;
    if (file) appendFileSync(file, `${JSON.stringify({ ...counts, skippedTests: skipped, modules: modules.length })}\n`);
  }
}
