#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Connect from SRC to DST:PORT, print the server's greeting (examples/worker
# says "hello SERVICE POOL INDEX PID LOCAL-ADDRESS"), close, and wait for
# the server's close, so that every packet of the connection has been sent
# when it returns.
#   client.py SRC DST PORT
import socket
import sys

src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(5)
    s.bind((src, 0))
    s.connect((dst, port))
    greeting = b""
    while not greeting.endswith(b"\n"):
        data = s.recv(512)
        if not data:
            break
        greeting += data
    s.shutdown(socket.SHUT_WR)
    while s.recv(512):  # until the server's FIN
        pass
print(f"{src} -> {dst}: {greeting.decode().strip() or 'no greeting'}")
