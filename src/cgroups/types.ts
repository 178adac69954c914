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
  /**
   * Set when the systemd driver (--systemd-cgroup) made the cgroup: a
   * transient scope unit. Later commands (delete, update, exec...) act on
   * it through systemd whether or not they are given the flag again.
   */
  systemd?: {
    slice: string;
    unit: string;
    /** Recorded just before StartTransientUnit is sent: from then on, delete stops the unit. */
    started?: boolean;
  };
}
