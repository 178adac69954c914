#!/bin/bash
# Stage 2 of the plain guest (test/vm/vm.sh run without -S), PID 1: root is the
# host's / (read-only 9p under a tmpfs overlay). Mounts the usual file systems and
# cgroup2 alone (the kernel runs with cgroup_no_v1=all) with every controller
# enabled for children of the root, mounts the run directory (vm.run=) and the
# -w shares (vm.share=TAG:PATH), runs the command, records its exit code, powers off.
# Setup uses static busybox applets: every dynamic exec costs 35-80 ms under TCG.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
B=/usr/bin/busybox
log() { echo "plain-init: $*" > /dev/console; }
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
$B ln -sf /proc/self/fd /dev/fd; $B ln -sf fd/0 /dev/stdin; $B ln -sf fd/1 /dev/stdout; $B ln -sf fd/2 /dev/stderr
$B mkdir -p /dev/pts /dev/shm /dev/mqueue
$B mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts && $B ln -sf pts/ptmx /dev/ptmx
$B mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
$B mount -t mqueue mqueue /dev/mqueue
$B mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
# /tmp stays the host's (under the overlay): a checkout may live there, and tests make device nodes in it.
$B mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
$B mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
$B mount -t bpf bpf /sys/fs/bpf 2>/dev/null
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
RUN= SHARES= CACHE=
for a in $(</proc/cmdline); do
  case "$a" in vm.run=*) RUN=${a#vm.run=};; vm.share=*) SHARES="$SHARES ${a#vm.share=}";; vm.cache=*) CACHE=${a#vm.cache=};; esac
done
# The guest kernel's modules (modprobe veth, overlay...): the host's /lib/modules is another kernel's.
$B mkdir -p /lib/modules && $B mount -o bind "$CACHE/kernel/root/lib/modules" /lib/modules
for c in $(</sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || log "cannot enable $c"; done
echo vm > /proc/sys/kernel/hostname
$B ip link set lo up
O9P=trans=virtio,version=9p2000.L,msize=512000,cache=mmap
for s in $SHARES; do $B mkdir -p "${s#*:}"; $B mount -t 9p -o $O9P "${s%%:*}" "${s#*:}" || log "cannot mount share $s"; done
rc=125
if [ -n "$RUN" ] && $B mkdir -p "$RUN" && $B mount -t 9p -o $O9P vmrun "$RUN"; then
  cd "$(<"$RUN/cwd")" 2>/dev/null || cd /
  mapfile -t ENVV < "$RUN/env"
  env -i "${ENVV[@]}" /bin/bash -c "$(<"$RUN/cmd")" > "$RUN/out" 2>&1 < /dev/null
  rc=$?
  echo "$rc" > "$RUN/rc"
  $B sync
else
  log "no vm.run= or cannot mount the run directory"
fi
log "command exited $rc"
echo o > /proc/sysrq-trigger
sleep 10
