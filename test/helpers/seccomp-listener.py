#!/usr/bin/env python3
"""A seccomp notify listener (runtime-spec config-linux.md, seccomp listenerPath):
accepts one connection, receives the notify fd by SCM_RIGHTS with the
containerProcessState JSON, then answers every notification of the filter
with errno EXDEV (so the container sees "Invalid cross-device link") until
the filter is gone. Prints the state it received, as JSON, when done.

  seccomp-listener.py SOCKET [N]

With N, it takes N connections (a container, then N-1 execs) and serves and
reports the last one; the earlier notify fds are kept open, unserved.
"""
import ctypes, errno, json, os, select, socket, struct, sys

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif): 80 bytes
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp): 24 bytes
libc = ctypes.CDLL(None, use_errno=True)

path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
print("ready", flush=True)
kept = []
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    conn, _ = srv.accept()
    data, fds, _f, _a = socket.recv_fds(conn, 65536, 4)
    kept.append((conn, fds))
state = json.loads(data.decode())
notify = fds[0]
handled = []
while True:
    readable, _, _ = select.select([notify], [], [], 10)
    if not readable:
        break
    req = ctypes.create_string_buffer(80)
    if libc.ioctl(notify, SECCOMP_IOCTL_NOTIF_RECV, req) < 0:
        break  # ENOENT/EBADF: the filter's processes are gone
    nid, pid, _flags, nr = struct.unpack_from("QIIi", req.raw)
    handled.append(nr)
    resp = ctypes.create_string_buffer(struct.pack("QqiI", nid, 0, -errno.EXDEV, 0), 24)
    libc.ioctl(notify, SECCOMP_IOCTL_NOTIF_SEND, resp)
print(json.dumps({"state": state, "fds": len(fds), "handled": handled}), flush=True)
