#!/bin/sh
# npm's pretest (the README's `sudo npm test`): makes a fresh Debian machine ready
# for the whole suite, doing only what is missing:
#   1. apt packages the tests drive (as root): runc (the reference the tests
#      compare with), the engines of the e2e suite (containerd, docker.io, podman,
#      conmon), QEMU and what builds the VM images (test/vm), tools the tests call;
#   2. the build (npm ci) when node_modules or the build output is missing;
#   3. the VM images (test/vm/vm.sh setup --systemd): cached, so only the first
#      run on a machine builds them (4-10 min; see test/vm/README.md).
# As non-root it installs nothing and says so; test/run.mjs then runs what can run
# and fails, naming what could not.
set -eu
cd "$(dirname "$0")/.."

# busybox-static: the bundles' rootfs. libseccomp2: seccomp filters. gcc/make/libc6-dev: the C
# parts (static) and addon/test (ASan, UBSan). runc: the reference. containerd/docker.io/podman/
# conmon/uidmap/bsdutils (script)/tar: the e2e suite. qemu-system-x86/kmod/cpio/mmdebstrap/
# python3: test/vm. procps/util-linux/findutils: ps, ionice, setarch, find.
PACKAGES="busybox-static libseccomp2 gcc make libc6-dev procps util-linux findutils python3 runc containerd docker.io
  podman conmon uidmap bsdutils tar qemu-system-x86 kmod cpio mmdebstrap dbus-daemon time"

if [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "test/setup.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
else
  echo "test/setup.sh: not root: nothing installed, no VM images built (sudo npm test does both)" >&2
fi

if [ ! -x node_modules/.bin/vitest ] || [ ! -f dist/cli/main.js ] || [ ! -x addon/build/tsrunc ] || [ ! -x addon/build/tsrunc-init ]; then
  echo "test/setup.sh: npm ci (builds the C parts, the TypeScript, the schema validators and the Bun-compiled tsrunc)"
  npm ci --no-audit --no-fund
fi

if [ "$(id -u)" = 0 ]; then
  test/vm/vm.sh setup --systemd
fi
