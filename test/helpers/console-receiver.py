#!/usr/bin/env python3
"""A console-socket receiver, as containerd and conmon are one: listens on a
unix socket, receives one fd by SCM_RIGHTS, checks that it is a pty master,
writes a command line to it, and prints (as JSON) what it learned and what
the container wrote back until the slave side closed.

  console-receiver.py SOCKET 'command line'
"""
import fcntl, json, os, socket, struct, sys, termios

path, command = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
data, fds, _flags, _addr = socket.recv_fds(conn, 1024, 4)
info = {"data": data.decode(), "fds": len(fds)}
master = fds[0]
info["link"] = os.readlink(f"/proc/self/fd/{master}")
TIOCGPTN = 0x80045430  # <asm-generic/ioctls.h>: the pty number, which only a pty master answers
info["ptn"] = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
rows, cols = struct.unpack("HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, b"\0" * 8))[:2]
info["size"] = [rows, cols]
os.write(master, command.encode() + b"\n")
out = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO: every slave fd is closed, the container is done
        break
    if not chunk:
        break
    out += chunk
info["output"] = out.decode(errors="replace")
print(json.dumps(info), flush=True)
