// Compiled (not run) by test/cli/flags.test.ts: the options types follow the flag tables.
import { parseArgs } from '../../../src/cli/args';
import { FLAGS, type Flags } from '../../../src/cli/flags';

declare const create: Flags<'create'>;
export const bundle: string | undefined = create.bundle;
export const fds: number = create['preserve-fds'];
export const shim: boolean | undefined = create.shim;
// @ts-expect-error preserve-fds has a default: never undefined, and a number
export const notString: string = create['preserve-fds'];
// @ts-expect-error create has no --detach
export const detach = create.detach;

declare const exec: Flags<'exec'>;
export const env: string[] = exec.env;
// @ts-expect-error lists are string[]
export const envString: string = exec.env;

declare const events: Flags<'events'>;
export const interval: string = events.interval;

export const parsed: Flags<'run'> = parseArgs(['-d'], FLAGS.run).flags;
// @ts-expect-error the flags of kill are not those of run
export const wrong: Flags<'run'> = parseArgs([], FLAGS.kill).flags;
