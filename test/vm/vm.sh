#!/bin/bash
# The project's VM harness: a throw-away QEMU guest on a pure cgroup v2 kernel.
#
#   test/vm/vm.sh setup [--systemd]
#       builds what is missing under ${TSRUNC_VM_CACHE:-/var/cache/tsrunc-vm}: Debian's
#       linux-image-amd64 kernel (downloaded with apt, extracted with dpkg-deb, never
#       installed) as an uncompressed vmlinux, and an initramfs; with --systemd also a
#       bookworm rootfs made by mmdebstrap that boots systemd. Idempotent; concurrent
#       runs wait for each other (flock on the cache's lock file).
#   test/vm/vm.sh run [-S] [-w DIR]... [-C DIR] [-e K=V]... [-t SECS] [-m MB] 'shell command'
#       boots a guest (TCG), runs the command with bash as root, streams its output,
#       and exits with its exit code (124: timeout, 125: the VM failed).
#       plain: root = the host's / read-only over 9p + tmpfs overlay (node and the
#              checkout are usable); PID 1 is a shell script (guest/plain-init.sh).
#       -S:    root = the cached systemd rootfs (read-only + tmpfs overlay), PID 1
#              systemd; the command runs from vm-run.service once multi-user.target is
#              reached. The host's / is at /run/host (read-only); `node` is the host's.
#       -w DIR shares host DIR read-write at the same path; -C DIR is the working
#       directory (default: the current one); -e K=V adds to a minimal environment.
#   Environment: TSRUNC_VM_CACHE (cache dir), TSRUNC_VM_CPUS (2), TSRUNC_VM_VERBOSE=1
#   (print the guest console after the run), TSRUNC_VM_KEEP=1 (keep the run dir).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TSRUNC_VM_CACHE:-/var/cache/tsrunc-vm}
# Bumped when what setup builds changes, so that old caches are rebuilt.
FORMAT=1

die() { echo "vm.sh: $*" >&2; exit 125; }
usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- setup

# The tools setup and run need, as "command:debian-package".
TOOLS=(qemu-system-x86_64:qemu-system-x86 busybox:busybox-static depmod:kmod modprobe:kmod cpio:cpio
       python3:python3-minimal dpkg-deb:dpkg flock:util-linux gzip:gzip)
install_tools() {
  local need=() t
  for t in "${TOOLS[@]}" "$@"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
  done
  [ ${#need[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (run as root to install them, or apt-get install them)"
  echo "vm.sh: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# The Debian mirror the host uses (deb822 or one-line sources), for mmdebstrap.
host_mirror() {
  local m
  m=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

kernel_version() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {sub("linux-image-", "", $2); print $2; exit}'
}

download_kernel() { (cd "$1" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$2" >/dev/null 2>&1); }

build_kernel() {
  # The version Debian's linux-image-amd64 points to (not -cloud: it has no 9p).
  local kver deb tmp
  tmp=$(mktemp -d "$CACHE/.kernel.XXXXXX")
  kver=$(kernel_version)
  if [ -z "$kver" ] || ! download_kernel "$tmp" "$kver"; then
    # No package lists yet, or stale ones naming a version the mirror no longer has.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    kver=$(kernel_version)
    [ -n "$kver" ] || die "apt knows no linux-image-amd64 (is a Debian mirror configured?)"
    download_kernel "$tmp" "$kver" || die "apt-get download linux-image-$kver failed"
  fi
  echo "vm.sh: kernel $kver" >&2
  deb=$(ls "$tmp"/linux-image-*.deb)
  dpkg-deb -x "$deb" "$tmp/root"
  rm -f "$deb"
  depmod -b "$tmp/root" "$kver"
  # Uncompressed vmlinux: QEMU boots it through its PVH entry point, which skips the
  # in-guest decompression of bzImage (seconds under TCG).
  python3 - "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinux" <<'PY'
import lzma, sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'\xfd7zXZ\x00')
if i < 0: sys.exit('no xz payload in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:]))
PY
  echo "$kver" > "$tmp/version"
  rm -rf "$CACHE/kernel"
  mv "$tmp" "$CACHE/kernel"
}

# busybox-static, the modules to mount a 9p root with an overlay, and guest/initramfs-init.
build_initramfs() {
  local kver=$1 w mods
  w=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
  mkdir -p "$w"/{bin,dev,proc,sys,lower,upper,newroot,lib/modules}
  cp "$(command -v busybox)" "$w/bin/busybox"
  # Load order from modules.dep: the guest needs no modprobe.
  mods=$(for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$CACHE/kernel/root" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++')
  for f in $mods; do cp "$f" "$w/lib/modules/"; basename "$f" .ko >> "$w/lib/modules/order"; done
  [ -s "$w/lib/modules/order" ] || die "no modules for the initramfs"
  cp "$HERE/guest/initramfs-init" "$w/init"
  chmod 755 "$w/init"
  (cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) > "$w.cpio.gz"
  rm -rf "$w"
  mv "$w.cpio.gz" "$CACHE/initramfs.cpio.gz"
}

# The systemd guest: bookworm with systemd as PID 1, the engines installed but not started.
MASKED="serial-getty@ttyS0.service getty@tty1.service console-getty.service systemd-logind.service
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer
  modprobe@dm_mod.service modprobe@fuse.service modprobe@loop.service modprobe@efi_pstore.service modprobe@configfs.service
  modprobe@drm.service e2scrub_reap.service systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount
  sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount systemd-update-utmp.service
  systemd-update-utmp-runlevel.service systemd-user-sessions.service systemd-random-seed.service kmod-static-nodes.service
  systemd-sysusers.service systemd-journal-flush.service systemd-modules-load.service systemd-sysctl.service
  systemd-firstboot.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-pstore.service
  systemd-journal-catalog-update.service systemd-machine-id-commit.service ldconfig.service systemd-hwdb-update.service
  systemd-update-done.service"
PACKAGES=systemd,systemd-sysv,dbus,docker.io,containerd,runc,iproute2,procps,busybox-static,util-linux,kmod
build_systemd() {
  local kver=$1 r
  r=$(mktemp -d "$CACHE/.rootfs.XXXXXX")
  rmdir "$r"
  mmdebstrap --quiet --mode=root --variant=minbase --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$r" "$(host_mirror)" < /dev/null || { rm -rf "$r"; die "mmdebstrap failed"; }
  mkdir -p "$r/lib/modules"
  # Hard links where possible: the modules are most of the kernel's 470 MB.
  cp -al "$CACHE/kernel/root/lib/modules/$kver" "$r/lib/modules/" 2>/dev/null || cp -a "$CACHE/kernel/root/lib/modules/$kver" "$r/lib/modules/"
  install -m 755 "$HERE/guest/vm-run" "$r/usr/local/sbin/vm-run"
  install -m 644 "$HERE/guest/vm-run.service" "$HERE/guest/vm-run.target" "$r/etc/systemd/system/"
  ln -sf vm-run.target "$r/etc/systemd/system/default.target"
  # Nothing a test did not ask for: no gettys, timers, logins, module or sysctl presets,
  # no engines at boot (a test starts docker/containerd itself). Each masked unit here
  # costs 1-6 s of boot under TCG (test/vm/README.md has the figures).
  chroot "$r" systemctl -q mask $MASKED
  chroot "$r" systemctl -q disable docker.service docker.socket containerd.service 2>/dev/null || true
  echo vm > "$r/etc/hostname"
  # A fixed machine id: an empty one would make every boot a "first boot" (presets applied).
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$r/etc/machine-id"; echo >> "$r/etc/machine-id"
  : > "$r/etc/fstab"
  echo "$kver" > "$r/.tsrunc-vm-kernel"
  rm -rf "$CACHE/rootfs-systemd"
  mv "$r" "$CACHE/rootfs-systemd"
}

# A stamp of what the guest images are made from: the kernel, the format, and the guest files.
stamp() { { echo "$FORMAT $1"; cat "$HERE"/guest/initramfs-init "$2"; } | sha256sum | cut -c1-16; }

setup() {
  local systemd=0
  for a in "$@"; do case $a in --systemd) systemd=1;; *) usage;; esac; done
  local extra=()
  [ $systemd = 1 ] && extra+=(mmdebstrap:mmdebstrap)
  install_tools "${extra[@]}"
  mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || die "cannot write $CACHE: run as root, or set TSRUNC_VM_CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  # Left by an interrupted build (we hold the lock: nobody is building now).
  rm -rf --one-file-system "$CACHE"/.kernel.* "$CACHE"/.initramfs.* "$CACHE"/.rootfs.* 2>/dev/null || true
  local t0=$SECONDS kver
  if [ ! -s "$CACHE/kernel/version" ] || [ ! -s "$CACHE/kernel/vmlinux" ]; then build_kernel; fi
  kver=$(cat "$CACHE/kernel/version")
  [ -d "$CACHE/kernel/root/lib/modules/$kver" ] || die "the cached kernel has no modules: rm -rf $CACHE/kernel"
  local want; want=$(stamp "$kver" /dev/null)
  if [ ! -s "$CACHE/initramfs.cpio.gz" ] || [ "$(cat "$CACHE/initramfs.stamp" 2>/dev/null)" != "$want" ]; then
    build_initramfs "$kver"; echo "$want" > "$CACHE/initramfs.stamp"
  fi
  if [ $systemd = 1 ]; then
    want=$(stamp "$kver" <(cat "$HERE"/guest/vm-run "$HERE"/guest/vm-run.service "$HERE"/guest/vm-run.target; echo "$PACKAGES $MASKED"))
    if [ ! -x "$CACHE/rootfs-systemd/lib/systemd/systemd" ] || [ "$(cat "$CACHE/rootfs-systemd.stamp" 2>/dev/null)" != "$want" ]; then
      echo "vm.sh: building the systemd guest (mmdebstrap bookworm)" >&2
      build_systemd "$kver"; echo "$want" > "$CACHE/rootfs-systemd.stamp"
    fi
  fi
  [ $((SECONDS - t0)) -gt 1 ] && echo "vm.sh: setup done in $((SECONDS - t0)) s ($CACHE)" >&2
  return 0
}

# ---------------------------------------------------------------- run

run() {
  local systemd=0 cwd=$PWD mem=2048 tmo=900 cpus=${TSRUNC_VM_CPUS:-2} shares=() envs=() o
  while getopts "Sw:C:e:t:m:h" o; do
    case $o in
      S) systemd=1;; w) [ -d "$OPTARG" ] || die "-w $OPTARG: not a directory"; shares+=("$(realpath "$OPTARG")");;
      C) cwd=$OPTARG;; e) [[ $OPTARG == *=* ]] || die "-e $OPTARG: not K=V"; envs+=("$OPTARG");;
      t) tmo=$OPTARG;; m) mem=$OPTARG;; *) usage;;
    esac
  done
  shift $((OPTIND - 1))
  [ $# = 1 ] || usage
  local cmd=$1 kernel=$CACHE/kernel/vmlinux initrd=$CACHE/initramfs.cpio.gz root=/ stage2=$HERE/guest/plain-init.sh
  [ -s "$kernel" ] && [ -s "$initrd" ] || die "no guest kernel in $CACHE: run test/vm/vm.sh setup"
  if [ $systemd = 1 ]; then
    root=$CACHE/rootfs-systemd stage2=/lib/systemd/systemd
    [ -x "$root$stage2" ] || die "no systemd guest in $CACHE: run test/vm/vm.sh setup --systemd"
  fi
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: run test/vm/vm.sh setup"
  mkdir -p "$CACHE/runs"
  # Globals: the EXIT trap runs after run() returned.
  RUN_DIR=$(mktemp -d "$CACHE/runs/run.XXXXXX")
  QPID=
  trap 'if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null; fi; [ "${TSRUNC_VM_KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"' EXIT
  local run=$RUN_DIR
  trap 'exit 130' INT TERM
  printf '%s\n' "$cmd" > "$run/cmd"
  printf '%s\n' "$cwd" > "$run/cwd"
  { echo PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; echo HOME=/root; echo TERM=dumb
    echo LANG=C.UTF-8; echo USER=root; for e in "${envs[@]}"; do echo "$e"; done; } > "$run/env"
  : > "$run/out"
  local append="console=ttyS0 quiet loglevel=4 panic=-1 random.trust_cpu=on cgroup_no_v1=all"
  append+=" systemd.unified_cgroup_hierarchy=1 systemd.show_status=0 vm.run=$run vm.stage2=$stage2 vm.cache=$CACHE"
  local devs=(-virtfs "local,path=$root,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap"
              -virtfs "local,path=$run,mount_tag=vmrun,security_model=passthrough,multidevs=remap")
  if [ $systemd = 1 ]; then
    devs+=(-virtfs "local,path=/,mount_tag=hostfs,security_model=passthrough,readonly=on,multidevs=remap")
    append+=" vm.node=$(command -v node || true)"
  fi
  local i=0 s
  for s in "${shares[@]}"; do
    devs+=(-virtfs "local,path=$s,mount_tag=share$i,security_model=passthrough,multidevs=remap")
    append+=" vm.share=share$i:$s"; i=$((i + 1))
  done
  # TCG: this host's /dev/kvm cannot run a stock kernel, and CI machines may have none.
  timeout -k 5 "$tmo" qemu-system-x86_64 -accel tcg,thread=multi,tb-size=512 -cpu max -m "$mem" -smp "$cpus" \
    -nodefaults -no-user-config -display none -no-reboot -serial "file:$run/console.log" \
    -kernel "$kernel" -initrd "$initrd" -append "$append" "${devs[@]}" > "$run/qemu.log" 2>&1 &
  QPID=$!
  # Stream the output while the guest runs; tail returns once qemu exited and the file is drained.
  tail -c +1 -s 0.2 -f --pid=$QPID "$run/out"
  local qrc=0
  wait $QPID || qrc=$?
  QPID=
  if [ "${TSRUNC_VM_VERBOSE:-0}" = 1 ]; then echo "----- guest console -----" >&2; cat "$run/console.log" >&2; fi
  if [ $qrc = 124 ] || [ $qrc = 137 ]; then echo "vm.sh: TIMEOUT after ${tmo}s" >&2; return 124; fi
  if [ -s "$run/rc" ]; then return "$(cat "$run/rc")"; fi
  echo "vm.sh: the VM failed (qemu exit $qrc) without the command's exit code; qemu log and console:" >&2
  cat "$run/qemu.log" >&2; tail -n 40 "$run/console.log" >&2
  return 125
}

case ${1:-} in
  setup) shift; setup "$@";;
  run) shift; run "$@";;
  *) usage;;
esac
