#!/usr/bin/env node
/** The `tsrunc` executable: one command line, one exit status (bun build --compile starts here). */
import { inProcess, main } from './main';
import { readInheritedFds } from '../linux/fds';
import { writeAll } from '../sys/stdio';

// First, before tsrunc opens any fd of its own (see linux/fds.ts).
const inheritedFds = readInheritedFds();
main(process.argv.slice(2), inProcess(inheritedFds)).then(
  (code) => process.exit(code),
  (err) => {
    writeAll(2, `tsrunc: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
