/** How the host mounts cgroups. */
export type CgroupMode = 'unified' | 'legacy' | 'hybrid';

/** What state.json keeps about a container's cgroup, so later commands find it without the config. */
export interface CgroupRecord {
  mode: CgroupMode;
  /** The cgroupsPath as resolved: from the hierarchy root (e.g. "/user.slice/ctr" or "/ctr"). */
  path: string;
  /** Absolute directories, one per hierarchy: v1 controller (or name=...) -> dir; "" = the cgroup2 dir. */
  dirs: Record<string, string>;
  /** Directories tsrunc created (and so removes on delete); a pre-existing cgroup is joined, never removed. */
  created: string[];
}
