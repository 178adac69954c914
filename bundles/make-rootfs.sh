#!/bin/sh
# Builds a bundle's root filesystem offline from Debian's busybox-static:
# one static binary plus a symlink per applet, and the few files a
# container expects (/etc/passwd, /etc/group, mount points).
#   bundles/make-rootfs.sh [ROOTFS_DIR]   (default: bundles/busybox/rootfs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:-$here/busybox/rootfs}
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "make-rootfs: needs a static /bin/busybox: apt-get install busybox-static" >&2
  exit 1
fi
rm -rf "$rootfs"
mkdir -p "$rootfs"/bin "$rootfs"/etc "$rootfs"/proc "$rootfs"/sys "$rootfs"/dev "$rootfs"/tmp "$rootfs"/root "$rootfs"/home "$rootfs"/var "$rootfs"/run
cp "$busybox" "$rootfs"/bin/busybox
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
mkdir -p "$rootfs"/usr && ln -s ../bin "$rootfs"/usr/bin && ln -s ../bin "$rootfs"/sbin && ln -s ../bin "$rootfs"/usr/sbin
chmod 1777 "$rootfs"/tmp
cat > "$rootfs"/etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$rootfs"/etc/group <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
G
echo "tsrunc" > "$rootfs"/etc/hostname
echo "rootfs ready: $rootfs"
