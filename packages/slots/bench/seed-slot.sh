#!/usr/bin/env bash
# Seed 003's slot setup and teardown as the commands it runs (ip, iptables, sysctl), for the
# benchmark. Usage: seed-slot.sh create|destroy INDEX HOSTNS UPLINK PREFIX
set -euo pipefail
cmd=$1 i=$2 host=$3 uplink=$4 prefix=$5
ns="${prefix}ns-$i"
veth="${prefix}v$i"
vip="10.12.$(( (2*i) / 256 )).$(( (2*i) % 256 ))"
pip="10.12.$(( (2*i+1) / 256 )).$(( (2*i+1) % 256 ))"
hip="10.11.$(( i / 256 )).$(( i % 256 ))"
H="ip netns exec $host"
if [ "$cmd" = create ]; then
  ip netns add "$ns"
  ip -n "$ns" link add "$veth" type veth peer name eth0
  ip -n "$ns" addr add "$pip/31" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set "$veth" netns "$host"
  ip -n "$ns" tuntap add tap0 mode tap
  ip -n "$ns" addr add 169.254.0.22/30 dev tap0
  ip -n "$ns" link set tap0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "$vip"
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$ns" iptables -t nat -A POSTROUTING -o eth0 -s 169.254.0.21 -j SNAT --to "$pip"
  ip netns exec "$ns" iptables -t nat -A PREROUTING -i eth0 -d "$hip" -j DNAT --to 169.254.0.21
  ip -n "$host" addr add "$vip/31" dev "$veth"
  ip -n "$host" link set "$veth" up
  ip -n "$host" route add "$hip/32" via "$pip"
  $H iptables -A FORWARD -i "$veth" -o "$uplink" -j ACCEPT
  $H iptables -A FORWARD -i "$uplink" -o "$veth" -j ACCEPT
  $H iptables -t nat -A POSTROUTING -s "$pip/32" -o "$uplink" -j MASQUERADE
else
  $H iptables -D FORWARD -i "$veth" -o "$uplink" -j ACCEPT || true
  $H iptables -D FORWARD -i "$uplink" -o "$veth" -j ACCEPT || true
  $H iptables -t nat -D POSTROUTING -s "$pip/32" -o "$uplink" -j MASQUERADE || true
  ip -n "$host" route del "$hip/32" via "$pip" || true
  ip -n "$host" link del "$veth" || true
  ip netns del "$ns" || true
fi
