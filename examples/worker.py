#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A socket-activated worker for sksteer run, in Python: it serves every
# socket it is given and greets each client with
# "hello SERVICE POOL INDEX PID -".
import os
import selectors
import signal
import socket
import sys


def listen_sockets():
    # sd_listen_fds(3): fds 3, 4, ... are ours if LISTEN_PID is our pid
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("not started by sksteer run (LISTEN_PID)")
    count = int(os.environ["LISTEN_FDS"])
    pools = os.environ["LISTEN_FDNAMES"].split(":")
    indexes = os.environ.get("SKSTEER_INDEXES",
                             os.environ.get("SKSTEER_INDEX", "")).split(":")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        del os.environ[name]  # not for our own children
    for i in range(count):
        sock = socket.socket(fileno=3 + i)  # family and type from the fd
        sock.setblocking(False)
        yield sock, pools[i], indexes[i]


service = os.environ.get("SKSTEER_SERVICE", "-")
selector = selectors.DefaultSelector()
for sock, pool, index in listen_sockets():
    selector.register(sock, selectors.EVENT_READ, (pool, index))
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

while True:
    for key, _ in selector.select():
        sock, (pool, index) = key.fileobj, key.data
        hello = f"hello {service} {pool} {index} {os.getpid()} -\n".encode()
        try:
            if sock.type == socket.SOCK_STREAM:
                conn, _ = sock.accept()
                with conn:
                    conn.sendall(hello)
            else:
                _, client = sock.recvfrom(65535)
                sock.sendto(hello, client)
        except BlockingIOError:
            pass  # another process of this socket was faster
