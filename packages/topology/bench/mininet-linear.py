# Mininet's side of the bench: the same work as lab's side, through mininet's Python API:
# `--topo linear,N --switch lxbr --controller none`, then every host pings its neighbour once
# (all at once),
# then stop. Prints one JSON line of phase times in ms. Run it inside a throwaway namespace
# (`ip netns exec NS /usr/bin/python3 mininet-linear.py N`): its bridges go there, not on the host.
import json
import sys
import time

from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import LinearTopo

n = int(sys.argv[1])
t0 = time.monotonic()
net = Mininet(topo=LinearTopo(k=n, n=1), switch=LinuxBridge, controller=None, build=False)
net.build()
net.start()
t1 = time.monotonic()
hosts = net.hosts
failed = 0
# All at once, as lab's side does: each host's shell runs its ping, then every output is read.
for a, b in zip(hosts, hosts[1:]):
    a.sendCmd('ping -c 1 -W 2 %s' % b.IP())
for a in hosts[:-1]:
    if ' 0% packet loss' not in a.waitOutput():
        failed += 1
t2 = time.monotonic()
net.stop()
t3 = time.monotonic()
print(json.dumps({'up': (t1 - t0) * 1000, 'ping': (t2 - t1) * 1000, 'down': (t3 - t2) * 1000, 'total': (t3 - t0) * 1000, 'failed': failed}))
