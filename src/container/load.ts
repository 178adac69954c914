import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spec } from '../spec/types';
import type { ContainerRecord, StateStore } from '../state/store';
import { deriveStatus } from './status';
import type { Status } from '../spec/types';

export interface Loaded {
  record: ContainerRecord;
  status: Status;
  dir: string;
}

/** A container's record and its status right now. */
export function loadContainer(store: StateStore, id: string): Loaded {
  const record = store.read(id);
  const dir = store.dir(id);
  return { record, status: deriveStatus(record, dir), dir };
}

/** The config the container was created from (the copy in its state directory). */
export function loadSavedConfig(dir: string): Spec {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
}
