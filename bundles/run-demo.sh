#!/bin/sh
# The README's first command: set up a fresh machine and run a real container.
#   sudo bundles/run-demo.sh
# 1. installs what the build and the bundle need (Debian: busybox-static,
#    libseccomp2, gcc, make), if missing;
# 2. installs the npm dependencies and builds everything (npm ci);
# 3. builds bundles/busybox/rootfs from busybox-static;
# 4. runs the bundle with tsrunc.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "run-demo: containers need root: sudo $0" >&2
  exit 1
fi
need=""
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need="$need busybox-static"
ldconfig -p | grep -q 'libseccomp\.so\.2' || need="$need libseccomp2"
command -v gcc >/dev/null || need="$need gcc libc6-dev"
command -v make >/dev/null || need="$need make"
if [ -n "$need" ]; then
  echo "run-demo: installing:$need"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ ! -x addon/build/tsrunc ] || [ ! -x addon/build/tsrunc-init ]; then
  echo "run-demo: npm ci (builds the C parts, the TypeScript, the schema validators and the Bun-compiled tsrunc)"
  npm ci --no-audit --no-fund
fi
[ -x bundles/busybox/rootfs/bin/busybox ] || bundles/make-rootfs.sh
echo "run-demo: addon/build/tsrunc run -b bundles/busybox demo-$$"
exec addon/build/tsrunc run -b bundles/busybox "demo-$$"
