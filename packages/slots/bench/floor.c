// The kernel's floor for one slot: only the syscalls a slot needs (no nftables), timed per step,
// from C with no event loop and no thread hops, to set the JavaScript path's figures against.
// Steps: the namespace (unshare(CLONE_NEWNET), then the /run/netns bind mount or an fd kept),
// the host batch (veth with its peer born in the namespace, address, up, route: two sends, the
// second needs the veth's index), a netlink socket in the namespace, the TAP (open /dev/net/tun,
// TUNSETIFF, TUNSETPERSIST), the net.ipv4.ip_forward write, and the slot's batch (lo up, two
// addresses, two links up, default route). The "host" is an anonymous namespace of this process;
// slot namespaces are /run/netns/TAG-i, removed at the end.
// Usage: floor N TAG [mount|nomount] [lo|nolo]   (bench/slots.bench.mjs compiles and runs it)
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/if_tun.h>
#include <net/if.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

static char buf[65536]; static int off; static int seq; static int nmsg;
static struct nlmsghdr *begin(int type, int flags) {
  struct nlmsghdr *h = (void *)(buf + off); memset(h, 0, 4096);
  h->nlmsg_type = type; h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags; h->nlmsg_seq = ++seq; h->nlmsg_len = NLMSG_HDRLEN; nmsg++;
  return h;
}
static void *put(struct nlmsghdr *h, int len) { void *p = (char *)h + NLMSG_ALIGN(h->nlmsg_len); h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + len; return p; }
static struct rtattr *attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *a = (void *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (data) memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}
static struct rtattr *nest(struct nlmsghdr *h, int type) { return attr(h, type, NULL, 0); }
static void endnest(struct nlmsghdr *h, struct rtattr *a) { a->rta_len = (char *)h + h->nlmsg_len - (char *)a; }
static void end(struct nlmsghdr *h) { off += NLMSG_ALIGN(h->nlmsg_len); }
static void sendall(int fd) {
  CHECK(send(fd, buf, off, 0));
  int acks = 0; char r[16384];
  while (acks < nmsg) {
    int n = recv(fd, r, sizeof r, 0); CHECK(n);
    for (struct nlmsghdr *h = (void *)r; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) { struct nlmsgerr *e = NLMSG_DATA(h); if (e->error) { fprintf(stderr, "nl error %d seq %d\n", e->error, h->nlmsg_seq); exit(1); } acks++; }
    }
  }
  off = 0; nmsg = 0;
}
static void link_set(const char *name, int up) {
  struct nlmsghdr *h = begin(RTM_NEWLINK, 0); struct ifinfomsg *i = put(h, sizeof *i); memset(i, 0, sizeof *i);
  i->ifi_change = IFF_UP; i->ifi_flags = up ? IFF_UP : 0; attr(h, IFLA_IFNAME, name, strlen(name) + 1); end(h);
}
static void addr_add(int ifindex, const char *a, int plen) {
  struct nlmsghdr *h = begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL); struct ifaddrmsg *m = put(h, sizeof *m); memset(m, 0, sizeof *m);
  m->ifa_family = AF_INET; m->ifa_prefixlen = plen; m->ifa_index = ifindex; struct in_addr x; inet_pton(AF_INET, a, &x);
  attr(h, IFA_LOCAL, &x, 4); attr(h, IFA_ADDRESS, &x, 4); end(h);
}
static void route_add(const char *dst, int plen, const char *gw, int oif) {
  struct nlmsghdr *h = begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL); struct rtmsg *m = put(h, sizeof *m); memset(m, 0, sizeof *m);
  m->rtm_family = AF_INET; m->rtm_dst_len = plen; m->rtm_table = RT_TABLE_MAIN; m->rtm_protocol = RTPROT_BOOT; m->rtm_scope = RT_SCOPE_UNIVERSE; m->rtm_type = RTN_UNICAST;
  struct in_addr x; if (plen) { inet_pton(AF_INET, dst, &x); attr(h, RTA_DST, &x, 4); }
  inet_pton(AF_INET, gw, &x); attr(h, RTA_GATEWAY, &x, 4); attr(h, RTA_OIF, &oif, 4); end(h);
}

#define STEPS 8
static const char *names[STEPS] = {"unshare(CLONE_NEWNET)", "bind mount /run/netns/X", "host batch: veth+addr+up+route", "socket in ns (setns+socket)", "tap: open+TUNSETIFF+PERSIST", "ip_forward write", "inner batch: lo,addrs,ups,route", "setns home + misc"};
static double tm[STEPS][4096];
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  int N = argc > 1 ? atoi(argv[1]) : 50; int domount = !(argc > 3 && !strcmp(argv[3], "nomount")); int lo = !(argc > 4 && !strcmp(argv[4], "nolo"));
  if (N < 1 || N > 4096) N = 50;
  const char *tag = argc > 2 ? argv[2] : "floor";
  int home = open("/proc/thread-self/ns/net", O_RDONLY); CHECK(home);
  // the "host" namespace
  CHECK(unshare(CLONE_NEWNET)); int hostns = open("/proc/thread-self/ns/net", O_RDONLY); CHECK(hostns);
  int hnl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); CHECK(hnl);
  CHECK(setns(home, CLONE_NEWNET));
  int *fds = calloc(N, sizeof(int));
  double total[4096];
  for (int i = 0; i < N; i++) {
    char path[128], veth[IFNAMSIZ];
    snprintf(path, sizeof path, "/run/netns/%s-%d", tag, i);
    snprintf(veth, sizeof veth, "flv%d", i); // in the anonymous host namespace: no clash with anyone
    double t0 = now(), t = t0, u;
    int pf = -1;
    if (domount) { pf = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0); CHECK(pf); close(pf); }
    CHECK(unshare(CLONE_NEWNET)); u = now(); tm[0][i] = u - t; t = u;
    if (domount) CHECK(mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL));
    else { fds[i] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC); CHECK(fds[i]); }
    int nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    u = now(); tm[1][i] = u - t; t = u;
    // host batch, sent from the host namespace's socket (made earlier)
    {
      struct nlmsghdr *h = begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL); struct ifinfomsg *m = put(h, sizeof *m); memset(m, 0, sizeof *m);
      attr(h, IFLA_IFNAME, veth, strlen(veth) + 1); int one = 1; attr(h, IFLA_NUM_TX_QUEUES, &one, 4); attr(h, IFLA_NUM_RX_QUEUES, &one, 4);
      struct rtattr *li = nest(h, IFLA_LINKINFO); attr(h, IFLA_INFO_KIND, "veth", 4); struct rtattr *d = nest(h, IFLA_INFO_DATA); struct rtattr *p = nest(h, VETH_INFO_PEER);
      struct ifinfomsg *pm = put(h, sizeof *pm); memset(pm, 0, sizeof *pm); attr(h, IFLA_IFNAME, "eth0", 5); attr(h, IFLA_NET_NS_FD, &nsfd, 4);
      attr(h, IFLA_NUM_TX_QUEUES, &one, 4); attr(h, IFLA_NUM_RX_QUEUES, &one, 4);
      endnest(h, p); endnest(h, d); endnest(h, li); end(h);
      // the index is needed for the address: ask by name in the same batch is not possible for addr; use a get? use ifindex via name after.
    }
    sendall(hnl);
    int vidx = -1; { /* index by name: if_nametoindex works only in our own ns; ask via RTM_GETLINK */ 
      struct nlmsghdr *h = begin(RTM_GETLINK, 0); struct ifinfomsg *m = put(h, sizeof *m); memset(m, 0, sizeof *m); attr(h, IFLA_IFNAME, veth, strlen(veth) + 1); end(h);
      h->nlmsg_flags = NLM_F_REQUEST; CHECK(send(hnl, buf, off, 0)); off = 0; nmsg = 0; char r[8192]; int n = recv(hnl, r, sizeof r, 0); CHECK(n);
      struct nlmsghdr *rh = (void *)r; struct ifinfomsg *ri = NLMSG_DATA(rh); vidx = ri->ifi_index; }
    char a[32], b[32], hr[32]; snprintf(a, 32, "10.12.%d.%d", i >> 7, (i * 2) & 255); snprintf(b, 32, "10.12.%d.%d", i >> 7, ((i * 2) & 255) + 1); snprintf(hr, 32, "10.11.%d.%d", i >> 8, i & 255);
    addr_add(vidx, a, 31); link_set(veth, 1); route_add(hr, 32, b, vidx); sendall(hnl);
    u = now(); tm[2][i] = u - t; t = u;
    // now in the slot namespace (this thread is still in it after unshare)
    int inl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); CHECK(inl);
    u = now(); tm[3][i] = u - t; t = u;
    int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC); CHECK(tun); struct ifreq ifr; memset(&ifr, 0, sizeof ifr); strcpy(ifr.ifr_name, "tap0"); ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    CHECK(ioctl(tun, TUNSETIFF, &ifr)); CHECK(ioctl(tun, TUNSETPERSIST, 1)); close(tun);
    u = now(); tm[4][i] = u - t; t = u;
    int f = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC); CHECK(f); CHECK(write(f, "1\n", 2)); close(f);
    u = now(); tm[5][i] = u - t; t = u;
    int tapidx = if_nametoindex("tap0"), ethidx = if_nametoindex("eth0");
    if (lo) link_set("lo", 1);
    addr_add(ethidx, b, 31); link_set("eth0", 1); addr_add(tapidx, "169.254.0.22", 30); link_set("tap0", 1); route_add(NULL, 0, a, ethidx); sendall(inl);
    u = now(); tm[6][i] = u - t; t = u;
    close(inl); close(nsfd); CHECK(setns(home, CLONE_NEWNET));
    u = now(); tm[7][i] = u - t; total[i] = u - t0;
  }
  for (int s = 0; s < STEPS; s++) { qsort(tm[s], N, sizeof(double), cmp); printf("%-34s median %.3f  min %.3f ms\n", names[s], tm[s][N / 2], tm[s][0]); }
  qsort(total, N, sizeof(double), cmp); printf("%-34s median %.3f  min %.3f ms  (%s, %s)\n", "TOTAL", total[N / 2], total[0], domount ? "bind mount" : "fd kept", lo ? "lo up" : "lo down");
  // cleanup
  for (int i = 0; i < N; i++) { char path[128]; snprintf(path, sizeof path, "/run/netns/%s-%d", tag, i); if (domount) { umount2(path, MNT_DETACH); unlink(path); } else close(fds[i]); }
  return 0;
}
