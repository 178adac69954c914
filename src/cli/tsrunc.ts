#!/usr/bin/env node
/** The `tsrunc` executable: one command line, one exit status (bun build --compile starts here). */
import { inProcess, main } from './main';

main(process.argv.slice(2), inProcess()).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`tsrunc: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
