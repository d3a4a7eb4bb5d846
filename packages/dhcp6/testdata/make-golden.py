# Builds the golden DHCPv6 packets with scapy: /usr/bin/python3 testdata/make-golden.py > testdata/scapy-golden.txt
from scapy.layers.dhcp6 import *
from scapy.all import raw
def line(name, p):
    print(name, raw(p).hex())
llt = DUID_LLT(hwtype=1, timeval=0x2a2b2c2d, lladdr="02:00:00:00:00:01")
ll = DUID_LL(hwtype=1, lladdr="02:00:00:00:00:fe")
en = DUID_EN(enterprisenum=2495, id=b"\x01\x02\x03\x04")
line("solicit", DHCP6_Solicit(trid=0x123456) / DHCP6OptClientId(duid=llt) / DHCP6OptRapidCommit() / DHCP6OptElapsedTime(elapsedtime=150)
     / DHCP6OptOptReq(reqopts=[23, 24]) / DHCP6OptIA_NA(iaid=7, T1=0, T2=0) / DHCP6OptIA_PD(iaid=8, T1=0, T2=0, iapdopt=[DHCP6OptIAPrefix(preflft=0, validlft=0, plen=56, prefix="::")]))
line("advertise", DHCP6_Advertise(trid=0x123456) / DHCP6OptServerId(duid=ll) / DHCP6OptClientId(duid=llt) / DHCP6OptPref(prefval=255)
     / DHCP6OptIA_NA(iaid=7, T1=1800, T2=2880, ianaopts=[DHCP6OptIAAddress(addr="fd00:1::1000", preflft=3600, validlft=7200)])
     / DHCP6OptDNSServers(dnsservers=["fd00:1::53", "fd00:1::54"]) / DHCP6OptDNSDomains(dnsdomains=["lab.example.", "example."]))
line("reply-nobinding", DHCP6_Reply(trid=0xabcdef) / DHCP6OptServerId(duid=en) / DHCP6OptClientId(duid=llt)
     / DHCP6OptIA_NA(iaid=7, T1=0, T2=0, ianaopts=[DHCP6OptStatusCode(statuscode=3, statusmsg="no binding")])
     / DHCP6OptIA_PD(iaid=8, T1=1800, T2=2880, iapdopt=[DHCP6OptIAPrefix(preflft=3600, validlft=7200, plen=56, prefix="fd00:100:0:100::")])
     / DHCP6OptReconfAccept() / DHCP6OptStatusCode(statuscode=0, statusmsg="ok"))
line("relay-forward", DHCP6_RelayForward(hopcount=1, linkaddr="fd00:2::1", peeraddr="fe80::1") / DHCP6OptIfaceId(ifaceid=b"eth7")
     / DHCP6OptRelayMsg(message=DHCP6_Solicit(trid=0x010203) / DHCP6OptClientId(duid=ll) / DHCP6OptIA_TA(iaid=9)))
line("unknown-option", DHCP6_InfoRequest(trid=0x000001) / DHCP6OptClientId(duid=en) / DHCP6OptUnknown(optcode=65000, optlen=3, data=b"abc")
     / DHCP6OptElapsedTime(elapsedtime=0))
