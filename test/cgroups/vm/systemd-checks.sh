#!/bin/bash
# The systemd cgroup driver, checked in a guest that boots systemd as PID 1
# with pure cgroup v2 (test/cgroups/systemd-vm.int.test.ts runs it, once per
# runtime, in one boot). The guest has no node: tsrunc is the compiled
# addon/build/tsrunc.
#   RUNTIME=runc|tsrunc [TSRUNC=path] [SECTIONS="1 2 3"] bash test/cgroups/vm/systemd-checks.sh
# SECTIONS runs only the numbered sections listed (2 and 3 use section 1's
# container): to iterate on a failing part without the whole guest run.
# Prints "ok RUNTIME: check" / "not ok RUNTIME: check: why" lines, then
# "summary RUNTIME PASSED FAILED"; exits 1 if a check failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../../.." && pwd)}
case "${RUNTIME:-}" in
  runc) RT=$(command -v runc); PREFIX=runc;;
  tsrunc) RT=${TSRUNC:-$REPO/addon/build/tsrunc}; PREFIX=tsrunc;;
  *) echo "RUNTIME must be runc or tsrunc" >&2; exit 2;;
esac
N=$RUNTIME
W=$(mktemp -d "/tmp/sdcheck-$N.XXXXXX")
ROOT=$W/state
CG=/sys/fs/cgroup
pass=0 fail=0 T0=$(date +%s)
want() { [ -z "${SECTIONS:-}" ] || [[ " $SECTIONS " == *" $1 "* ]]; }

ok() { echo "ok $N: $1"; pass=$((pass + 1)); }
nok() { echo "not ok $N: $1: $2"; fail=$((fail + 1)); }
# check NAME COMMAND...: the command's stderr and stdout explain a failure.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$(echo "$out" | tail -5 | tr '\n' '|')"; fi
}
# Bounded: a runtime that hangs fails its check instead of stalling the whole boot.
rt() { timeout 300 "$RT" --systemd-cgroup --root "$ROOT" "$@"; }
# For commands that leave a container process behind: it inherits stdio, so
# output goes to a file (a $(...) around it would wait for the container).
rtq() { rt "$@" < /dev/null > "$W/rt.log" 2>&1 || { cat "$W/rt.log"; return 1; }; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || { echo "$1: got '$2', want '$3'"; return 1; }; }
# prop UNIT NAME: one property of a unit, as systemctl show prints it.
prop() { systemctl show -p "$2" --value "$1"; }
gone() { # UNIT DIR: the unit is unknown to systemd and its cgroup is gone
  local i
  for i in $(seq 50); do
    [ "$(prop "$1" LoadState)" = not-found ] && [ ! -e "$2" ] && return 0
    sleep 0.2
  done
  echo "$1: LoadState=$(prop "$1" LoadState) ActiveState=$(prop "$1" ActiveState); $2 exists: $([ -e "$2" ] && echo yes || echo no)"
  return 1
}

[ "$(stat -fc %T $CG)" = cgroup2fs ] || { echo "not ok $N: host is pure cgroup v2: $(stat -fc %T $CG)"; exit 1; }
[ -d /run/systemd/system ] || { echo "not ok $N: systemd is PID 1"; exit 1; }
ok "guest: systemd $(systemctl --version | head -1 | cut -d' ' -f2) as PID 1 on pure cgroup v2"

"$REPO/bundles/make-rootfs.sh" "$W/rootfs" > /dev/null || { echo "not ok $N: rootfs"; exit 1; }

# bundle DIR CGROUPSPATH RESOURCES_JSON ARGS_JSON: a minimal config (own namespaces, read-only busybox root).
bundle() {
  mkdir -p "$1"
  local cgp=""
  [ -n "$2" ] && cgp="\"cgroupsPath\": \"$2\","
  cat > "$1/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": { "terminal": false, "user": { "uid": 0, "gid": 0 }, "args": $4, "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": true },
  "root": { "path": "$W/rootfs", "readonly": true },
  "hostname": "sdcheck",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "linux": {
    $cgp
    "resources": $3,
    "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }, { "type": "network" } ]
  }
}
EOF
}

# --- 1. a scope with limits: in systemd's view and in the files ---
if want 1; then
LIMITS='{ "devices": [ { "allow": false, "access": "rwm" } ], "memory": { "limit": 67108864 }, "pids": { "limit": 32 }, "cpu": { "shares": 512, "quota": 50000, "period": 100000 } }'
ID=$N-a UNIT=sdcheck-$N-a.scope DIR=$CG/system.slice/sdcheck-$N-a.scope
bundle "$W/a" "system.slice:sdcheck:$N-a" "$LIMITS" '["sleep", "600"]'
check "create and start with --systemd-cgroup" rtq create -b "$W/a" --pid-file "$W/a.pid" "$ID"
rtq start "$ID"
PID=$(cat "$W/a.pid" 2> /dev/null)
scope_props() {
  expect_eq ActiveState "$(prop $UNIT ActiveState)" active && expect_eq Slice "$(prop $UNIT Slice)" system.slice &&
    expect_eq Delegate "$(prop $UNIT Delegate)" yes && expect_eq MemoryMax "$(prop $UNIT MemoryMax)" 67108864 &&
    expect_eq TasksMax "$(prop $UNIT TasksMax)" 32 && expect_eq CPUWeight "$(prop $UNIT CPUWeight)" 20 &&
    expect_eq CPUQuotaPerSecUSec "$(prop $UNIT CPUQuotaPerSecUSec)" 500ms
}
check "scope: systemctl show has the unit with its limits" scope_props
scope_files() {
  expect_eq memory.max "$(cat $DIR/memory.max)" 67108864 && expect_eq pids.max "$(cat $DIR/pids.max)" 32 &&
    expect_eq cpu.max "$(cat $DIR/cpu.max)" "50000 100000" && expect_eq cpu.weight "$(cat $DIR/cpu.weight)" 20
}
check "scope: the limits are in the scope's cgroup files" scope_files
in_scope() {
  [ -n "$PID" ] && grep -qx "$PID" $DIR/cgroup.procs && expect_eq /proc/pid/cgroup "$(cat /proc/$PID/cgroup)" "0::/system.slice/$UNIT"
}
check "scope: the container's process is directly in the scope" in_scope

fi

# --- 2. update: the unit's properties and the files ---
if want 2; then
check "update runs" rt update --memory 134217728 --pids-limit 64 "$ID"
updated() {
  expect_eq MemoryMax "$(prop $UNIT MemoryMax)" 134217728 && expect_eq TasksMax "$(prop $UNIT TasksMax)" 64 &&
    expect_eq memory.max "$(cat $DIR/memory.max)" 134217728 && expect_eq pids.max "$(cat $DIR/pids.max)" 64
}
check "update: systemctl show and the files have the new limits" updated

fi

# --- 3. the commands that work on the cgroup: pause/resume, exec, ps, kill --all ---
if want 3; then
paused() {
  rt pause "$ID" && grep -qx 'frozen 1' $DIR/cgroup.events && rt resume "$ID" && grep -qx 'frozen 0' $DIR/cgroup.events
}
check "pause/resume freeze and thaw the scope" paused
exec_joins() {
  rtq exec -d "$ID" sleep 300 || return 1
  local n
  n=$(wc -l < $DIR/cgroup.procs)
  expect_eq "processes in the scope after exec" "$n" 2 && expect_eq "ps lines" "$(rt ps "$ID" | tail -n +2 | wc -l)" 2
}
check "exec joins the scope; ps lists both processes" exec_joins
killed_all() {
  rt kill --all "$ID" KILL || return 1
  for _ in $(seq 50); do [ -z "$(cat $DIR/cgroup.procs 2> /dev/null)" ] && return 0; sleep 0.2; done
  echo "left: $(cat $DIR/cgroup.procs)"
  return 1
}
check "kill --all empties the scope" killed_all
check "delete runs" rt delete "$ID"
check "delete: the unit and its cgroup are gone" gone $UNIT $DIR

fi

# --- 4. a kubelet-style path: a scope in a nested slice ---
if want 4; then
POD=kubepods-burstable-pod$N.slice
ID=$N-b UNIT=cri-containerd-$N-b.scope DIR=$CG/kubepods.slice/kubepods-burstable.slice/$POD/cri-containerd-$N-b.scope
bundle "$W/b" "$POD:cri-containerd:$N-b" '{ "memory": { "limit": 33554432 } }' '["sleep", "600"]'
nested() {
  rtq run -d --pid-file "$W/b.pid" -b "$W/b" "$ID" || return 1
  grep -qx "$(cat "$W/b.pid")" "$DIR/cgroup.procs" && expect_eq Slice "$(prop $UNIT Slice)" "$POD" &&
    expect_eq memory.max "$(cat "$DIR/memory.max")" 33554432 && expect_eq "slice active" "$(prop "$POD" ActiveState)" active
}
check "nested slice: the scope is in kubepods.slice/kubepods-burstable.slice/$POD" nested
check "nested slice: delete --force removes the unit and its cgroup" rt delete --force "$ID"
check "nested slice: gone" gone $UNIT "$DIR"

fi

# --- 5. no cgroupsPath: system.slice:<runtime>:<id> ---
if want 5; then
ID=$N-c UNIT=$PREFIX-$N-c.scope DIR=$CG/system.slice/$PREFIX-$N-c.scope
bundle "$W/c" "" '{}' '["sleep", "600"]'
default_path() {
  rtq run -d -b "$W/c" "$ID" || return 1
  expect_eq ActiveState "$(prop $UNIT ActiveState)" active && [ -n "$(cat "$DIR/cgroup.procs")" ] && rt delete --force "$ID" && gone $UNIT "$DIR"
}
check "no cgroupsPath: unit $PREFIX-<id>.scope in system.slice" default_path

fi

# --- 6. malformed paths: refused, nothing left (tsrunc also names the field) ---
if want 6; then
malformed() {
  local path=$1
  bundle "$W/bad" "$path" '{ "memory": { "limit": 33554432 } }' '["true"]'
  if rtq create -b "$W/bad" "$N-bad"; then echo "accepted $path"; rt delete --force "$N-bad"; return 1; fi
  if [ "$N" = tsrunc ]; then grep -q 'linux.cgroupsPath' "$W/rt.log" || { echo "message: $(cat "$W/rt.log")"; return 1; }; fi
  rt state "$N-bad" > /dev/null 2>&1 && { echo "state left"; return 1; }
  [ -z "$(systemctl list-units --all --no-legend "*$N-bad*")" ] || { echo "unit left: $(systemctl list-units --all --no-legend "*$N-bad*")"; return 1; }
  [ -z "$(find $CG -name "*$N-bad*" -print -quit)" ] || { echo "cgroup left: $(find $CG -name "*$N-bad*")"; return 1; }
  ! pgrep -f "$W/bad" > /dev/null || { echo "process left"; return 1; }
}
check "malformed path /not/slice:prefix:name refused, nothing left" malformed "/system.slice/x"
check "malformed slice notaslice:p:name refused, nothing left" malformed "notaslice:p:$N-bad"

fi

# --- 7. Docker with native.cgroupdriver=systemd ---
if want 7; then
docker_up() {
  mkdir -p /etc/docker
  cat > /etc/docker/daemon.json <<EOF
{
  "exec-opts": ["native.cgroupdriver=systemd"],
  "runtimes": { "tsrunc": { "path": "${TSRUNC:-$REPO/addon/build/tsrunc}" } },
  "storage-driver": "vfs", "iptables": false, "ip-masq": false, "bridge": "none", "userland-proxy": false
}
EOF
  # One dockerd for both runs: started by the first.
  if ! docker info > /dev/null 2>&1; then systemctl restart docker || return 1; fi
  for _ in $(seq 150); do docker info > /dev/null 2>&1 && break; sleep 0.4; done
  expect_eq "docker cgroup driver" "$(docker info --format '{{.CgroupDriver}}')" systemd || return 1
  docker image inspect sdcheck/busybox:1 > /dev/null 2>&1 || tar -C "$W/rootfs" -c . | docker import - sdcheck/busybox:1 > /dev/null
}
check "docker: dockerd with native.cgroupdriver=systemd" docker_up
docker_run() {
  local cid unit dir
  cid=$(docker run -d < /dev/null --runtime "$N" --security-opt apparmor=unconfined --network none -m 32m --pids-limit 16 sdcheck/busybox:1 sleep 600) || return 1
  unit=docker-$cid.scope dir=$CG/system.slice/docker-$cid.scope
  expect_eq runtime "$(docker inspect --format '{{.HostConfig.Runtime}}' "$cid")" "$N" &&
    expect_eq ActiveState "$(prop "$unit" ActiveState)" active && expect_eq MemoryMax "$(prop "$unit" MemoryMax)" 33554432 &&
    expect_eq memory.max "$(cat "$dir/memory.max")" 33554432 && expect_eq TasksMax "$(prop "$unit" TasksMax)" 16 &&
    expect_eq "docker exec" "$(docker exec "$cid" cat /proc/self/cgroup)" "0::/" &&
    docker update --pids-limit 20 "$cid" > /dev/null && expect_eq "TasksMax after docker update" "$(prop "$unit" TasksMax)" 20 &&
    expect_eq "pids.max after docker update" "$(cat "$dir/pids.max")" 20 &&
    docker rm -f "$cid" > /dev/null && gone "$unit" "$dir"
}
check "docker: a container in docker-<id>.scope with its limits, exec, update, rm" docker_run

fi

# --- 8. containerd with the runc shim's SystemdCgroup (ctr --runc-systemd-cgroup) ---
if want 8; then
ctr_run() {
  local id=$N-ctr unit=ctr-$N-ctr.scope dir=$CG/system.slice/ctr-$N-ctr.scope pid
  systemctl start containerd || return 1
  # --rootfs is a switch: the rootfs path is the first argument.
  ctr -n sdcheck run -d < /dev/null --runc-binary "$RT" --runc-systemd-cgroup --cgroup "system.slice:ctr:$id" \
    --memory-limit 33554432 --rootfs "$W/rootfs" "$id" /bin/sleep 600 > /dev/null || return 1
  pid=$(ctr -n sdcheck task ls | awk -v id="$id" '$1 == id { print $2 }')
  expect_eq ActiveState "$(prop "$unit" ActiveState)" active && expect_eq MemoryMax "$(prop "$unit" MemoryMax)" 33554432 &&
    grep -qx "$pid" "$dir/cgroup.procs" && expect_eq memory.max "$(cat "$dir/memory.max")" 33554432 || return 1
  ctr -n sdcheck task kill -s KILL "$id" && for _ in $(seq 50); do ctr -n sdcheck task ls | grep -q "^$id .*STOPPED" && break; sleep 0.2; done
  ctr -n sdcheck task delete "$id" > /dev/null && ctr -n sdcheck container delete "$id" && gone "$unit" "$dir"
}
check "containerd: ctr --runc-systemd-cgroup runs a container in its scope; task delete removes it" ctr_run

fi

# --- cleanup ---
leftovers() {
  local units
  units=$(systemctl list-units --all --no-legend "*$N-*" | grep -v sdcheck-$N || true)
  [ -z "$units" ] || { echo "units: $units"; return 1; }
  [ -z "$(ls "$ROOT" 2> /dev/null)" ] || { echo "state: $(ls "$ROOT")"; return 1; }
}
check "cleanup: no unit or state left" leftovers
rm -rf "$W"
echo "summary $N $pass $fail ($(( $(date +%s) - T0 )) s)"
[ "$fail" = 0 ]
