/* lunasock.core: the constants, as {name, value} tables. See LICENSE. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <arpa/inet.h>

/* Linux's uapi in.h and in6.h add a few options glibc's headers lack
   (IP_LOCAL_PORT_RANGE, IPV6_FLOWINFO...). glibc's netinet/in.h tells them
   (through linux/libc-compat.h) what it has already defined, so the two
   coexist; other C libraries get no such promise. linux/tcp.h would clash
   with netinet/tcp.h and is not used. */
#if defined(__linux__) && defined(__GLIBC__)
#include <linux/in.h>
#include <linux/in6.h>
#endif

#include "lunasock.h"

/*
 * Every entry is guarded by its own #ifdef: a table holds what this
 * platform defines, and the same list compiles on Linux, macOS and the
 * BSDs. Within a group names are sorted; names that only some other system
 * defines sit among them. core.c sets each one on the module table.
 */
#define C(x) {#x, (x)}

const lsk_const lsk_constants[] = {
  /* Address families. On Linux AF_FILE and AF_LOCAL are AF_UNIX, AF_ROUTE is
     AF_NETLINK. */
#ifdef AF_ALG
  C(AF_ALG),
#endif
#ifdef AF_APPLETALK
  C(AF_APPLETALK),
#endif
#ifdef AF_ARP
  C(AF_ARP),
#endif
#ifdef AF_ASH
  C(AF_ASH),
#endif
#ifdef AF_ATMPVC
  C(AF_ATMPVC),
#endif
#ifdef AF_ATMSVC
  C(AF_ATMSVC),
#endif
#ifdef AF_AX25
  C(AF_AX25),
#endif
#ifdef AF_BLUETOOTH
  C(AF_BLUETOOTH),
#endif
#ifdef AF_BRIDGE
  C(AF_BRIDGE),
#endif
#ifdef AF_CAIF
  C(AF_CAIF),
#endif
#ifdef AF_CAN
  C(AF_CAN),
#endif
#ifdef AF_CCITT
  C(AF_CCITT),
#endif
#ifdef AF_CHAOS
  C(AF_CHAOS),
#endif
#ifdef AF_CNT
  C(AF_CNT),
#endif
#ifdef AF_COIP
  C(AF_COIP),
#endif
#ifdef AF_DATAKIT
  C(AF_DATAKIT),
#endif
#ifdef AF_DIVERT
  C(AF_DIVERT),
#endif
#ifdef AF_DLI
  C(AF_DLI),
#endif
#ifdef AF_E164
  C(AF_E164),
#endif
#ifdef AF_ECMA
  C(AF_ECMA),
#endif
#ifdef AF_ECONET
  C(AF_ECONET),
#endif
#ifdef AF_ENCAP
  C(AF_ENCAP),
#endif
#ifdef AF_FILE
  C(AF_FILE),
#endif
#ifdef AF_HYLINK
  C(AF_HYLINK),
#endif
#ifdef AF_HYPERV
  C(AF_HYPERV),
#endif
#ifdef AF_IB
  C(AF_IB),
#endif
#ifdef AF_IEEE80211
  C(AF_IEEE80211),
#endif
#ifdef AF_IEEE802154
  C(AF_IEEE802154),
#endif
#ifdef AF_IMPLINK
  C(AF_IMPLINK),
#endif
#ifdef AF_INET
  C(AF_INET),
#endif
#ifdef AF_INET6
  C(AF_INET6),
#endif
#ifdef AF_INET6_SDP
  C(AF_INET6_SDP),
#endif
#ifdef AF_INET_SDP
  C(AF_INET_SDP),
#endif
#ifdef AF_IPX
  C(AF_IPX),
#endif
#ifdef AF_IRDA
  C(AF_IRDA),
#endif
#ifdef AF_ISDN
  C(AF_ISDN),
#endif
#ifdef AF_ISO
  C(AF_ISO),
#endif
#ifdef AF_IUCV
  C(AF_IUCV),
#endif
#ifdef AF_KCM
  C(AF_KCM),
#endif
#ifdef AF_KEY
  C(AF_KEY),
#endif
#ifdef AF_LAT
  C(AF_LAT),
#endif
#ifdef AF_LINK
  C(AF_LINK),
#endif
#ifdef AF_LLC
  C(AF_LLC),
#endif
#ifdef AF_LOCAL
  C(AF_LOCAL),
#endif
#ifdef AF_MCTP
  C(AF_MCTP),
#endif
#ifdef AF_MPLS
  C(AF_MPLS),
#endif
#ifdef AF_NATM
  C(AF_NATM),
#endif
#ifdef AF_NDRV
  C(AF_NDRV),
#endif
#ifdef AF_NETBEUI
  C(AF_NETBEUI),
#endif
#ifdef AF_NETBIOS
  C(AF_NETBIOS),
#endif
#ifdef AF_NETGRAPH
  C(AF_NETGRAPH),
#endif
#ifdef AF_NETLINK
  C(AF_NETLINK),
#endif
#ifdef AF_NETROM
  C(AF_NETROM),
#endif
#ifdef AF_NFC
  C(AF_NFC),
#endif
#ifdef AF_NS
  C(AF_NS),
#endif
#ifdef AF_OSI
  C(AF_OSI),
#endif
#ifdef AF_PACKET
  C(AF_PACKET),
#endif
#ifdef AF_PHONET
  C(AF_PHONET),
#endif
#ifdef AF_PPP
  C(AF_PPP),
#endif
#ifdef AF_PPPOX
  C(AF_PPPOX),
#endif
#ifdef AF_PUP
  C(AF_PUP),
#endif
#ifdef AF_QIPCRTR
  C(AF_QIPCRTR),
#endif
#ifdef AF_RDS
  C(AF_RDS),
#endif
#ifdef AF_ROSE
  C(AF_ROSE),
#endif
#ifdef AF_ROUTE
  C(AF_ROUTE),
#endif
#ifdef AF_RXRPC
  C(AF_RXRPC),
#endif
#ifdef AF_SECURITY
  C(AF_SECURITY),
#endif
#ifdef AF_SIP
  C(AF_SIP),
#endif
#ifdef AF_SMC
  C(AF_SMC),
#endif
#ifdef AF_SNA
  C(AF_SNA),
#endif
#ifdef AF_SYSTEM
  C(AF_SYSTEM),
#endif
#ifdef AF_TIPC
  C(AF_TIPC),
#endif
#ifdef AF_UNIX
  C(AF_UNIX),
#endif
#ifdef AF_UNSPEC
  C(AF_UNSPEC),
#endif
#ifdef AF_UTUN
  C(AF_UTUN),
#endif
#ifdef AF_VSOCK
  C(AF_VSOCK),
#endif
#ifdef AF_WANPIPE
  C(AF_WANPIPE),
#endif
#ifdef AF_X25
  C(AF_X25),
#endif
#ifdef AF_XDP
  C(AF_XDP),
#endif

  /* Socket types, and the flags that may be or-ed into a type. */
#ifdef SOCK_CLOEXEC
  C(SOCK_CLOEXEC),
#endif
#ifdef SOCK_CLOFORK
  C(SOCK_CLOFORK),
#endif
#ifdef SOCK_DCCP
  C(SOCK_DCCP),
#endif
#ifdef SOCK_DGRAM
  C(SOCK_DGRAM),
#endif
#ifdef SOCK_DNS
  C(SOCK_DNS),
#endif
#ifdef SOCK_NONBLOCK
  C(SOCK_NONBLOCK),
#endif
#ifdef SOCK_NOSIGPIPE
  C(SOCK_NOSIGPIPE),
#endif
#ifdef SOCK_PACKET
  C(SOCK_PACKET),
#endif
#ifdef SOCK_RAW
  C(SOCK_RAW),
#endif
#ifdef SOCK_RDM
  C(SOCK_RDM),
#endif
#ifdef SOCK_SEQPACKET
  C(SOCK_SEQPACKET),
#endif
#ifdef SOCK_STREAM
  C(SOCK_STREAM),
#endif

  /* shutdown(2) */
#ifdef SHUT_RD
  C(SHUT_RD),
#endif
#ifdef SHUT_RDWR
  C(SHUT_RDWR),
#endif
#ifdef SHUT_WR
  C(SHUT_WR),
#endif

  /* Option levels: SOL_SOCKET, and protocol numbers under their SOL_ names */
#ifdef SOL_AAL
  C(SOL_AAL),
#endif
#ifdef SOL_ALG
  C(SOL_ALG),
#endif
#ifdef SOL_ATM
  C(SOL_ATM),
#endif
#ifdef SOL_BLUETOOTH
  C(SOL_BLUETOOTH),
#endif
#ifdef SOL_CAIF
  C(SOL_CAIF),
#endif
#ifdef SOL_DCCP
  C(SOL_DCCP),
#endif
#ifdef SOL_DECNET
  C(SOL_DECNET),
#endif
#ifdef SOL_ICMPV6
  C(SOL_ICMPV6),
#endif
#ifdef SOL_IP
  C(SOL_IP),
#endif
#ifdef SOL_IPV6
  C(SOL_IPV6),
#endif
#ifdef SOL_IRDA
  C(SOL_IRDA),
#endif
#ifdef SOL_IUCV
  C(SOL_IUCV),
#endif
#ifdef SOL_KCM
  C(SOL_KCM),
#endif
#ifdef SOL_LLC
  C(SOL_LLC),
#endif
#ifdef SOL_LOCAL
  C(SOL_LOCAL),
#endif
#ifdef SOL_MCTP
  C(SOL_MCTP),
#endif
#ifdef SOL_MPTCP
  C(SOL_MPTCP),
#endif
#ifdef SOL_NETBEUI
  C(SOL_NETBEUI),
#endif
#ifdef SOL_NETLINK
  C(SOL_NETLINK),
#endif
#ifdef SOL_NFC
  C(SOL_NFC),
#endif
#ifdef SOL_PACKET
  C(SOL_PACKET),
#endif
#ifdef SOL_PNPIPE
  C(SOL_PNPIPE),
#endif
#ifdef SOL_PPPOL2TP
  C(SOL_PPPOL2TP),
#endif
#ifdef SOL_RAW
  C(SOL_RAW),
#endif
#ifdef SOL_RDS
  C(SOL_RDS),
#endif
#ifdef SOL_RXRPC
  C(SOL_RXRPC),
#endif
#ifdef SOL_SMC
  C(SOL_SMC),
#endif
#ifdef SOL_SOCKET
  C(SOL_SOCKET),
#endif
#ifdef SOL_TCP
  C(SOL_TCP),
#endif
#ifdef SOL_TIPC
  C(SOL_TIPC),
#endif
#ifdef SOL_TLS
  C(SOL_TLS),
#endif
#ifdef SOL_UDP
  C(SOL_UDP),
#endif
#ifdef SOL_VSOCK
  C(SOL_VSOCK),
#endif
#ifdef SOL_X25
  C(SOL_X25),
#endif
#ifdef SOL_XDP
  C(SOL_XDP),
#endif

  /* Socket-level options (SOL_SOCKET) */
#ifdef SO_ACCEPTCONN
  C(SO_ACCEPTCONN),
#endif
#ifdef SO_ACCEPTFILTER
  C(SO_ACCEPTFILTER),
#endif
#ifdef SO_ATTACH_BPF
  C(SO_ATTACH_BPF),
#endif
#ifdef SO_ATTACH_FILTER
  C(SO_ATTACH_FILTER),
#endif
#ifdef SO_ATTACH_REUSEPORT_CBPF
  C(SO_ATTACH_REUSEPORT_CBPF),
#endif
#ifdef SO_ATTACH_REUSEPORT_EBPF
  C(SO_ATTACH_REUSEPORT_EBPF),
#endif
#ifdef SO_BINDANY
  C(SO_BINDANY),
#endif
#ifdef SO_BINDTODEVICE
  C(SO_BINDTODEVICE),
#endif
#ifdef SO_BINDTOIFINDEX
  C(SO_BINDTOIFINDEX),
#endif
#ifdef SO_BINTIME
  C(SO_BINTIME),
#endif
#ifdef SO_BPF_EXTENSIONS
  C(SO_BPF_EXTENSIONS),
#endif
#ifdef SO_BROADCAST
  C(SO_BROADCAST),
#endif
#ifdef SO_BSDCOMPAT
  C(SO_BSDCOMPAT),
#endif
#ifdef SO_BUF_LOCK
  C(SO_BUF_LOCK),
#endif
#ifdef SOCK_SNDBUF_LOCK
  C(SOCK_SNDBUF_LOCK),
#endif
#ifdef SOCK_RCVBUF_LOCK
  C(SOCK_RCVBUF_LOCK),
#endif
#ifdef SOCK_BUF_LOCK_MASK
  C(SOCK_BUF_LOCK_MASK),
#endif
#ifdef SO_BUSY_POLL
  C(SO_BUSY_POLL),
#endif
#ifdef SO_BUSY_POLL_BUDGET
  C(SO_BUSY_POLL_BUDGET),
#endif
#ifdef SO_CNX_ADVICE
  C(SO_CNX_ADVICE),
#endif
#ifdef SO_COOKIE
  C(SO_COOKIE),
#endif
#ifdef SO_DEBUG
  C(SO_DEBUG),
#endif
#ifdef SO_DETACH_BPF
  C(SO_DETACH_BPF),
#endif
#ifdef SO_DETACH_FILTER
  C(SO_DETACH_FILTER),
#endif
#ifdef SO_DETACH_REUSEPORT_BPF
  C(SO_DETACH_REUSEPORT_BPF),
#endif
#ifdef SO_DEVMEM_DMABUF
  C(SO_DEVMEM_DMABUF),
#endif
#ifdef SO_DEVMEM_DONTNEED
  C(SO_DEVMEM_DONTNEED),
#endif
#ifdef SO_DEVMEM_LINEAR
  C(SO_DEVMEM_LINEAR),
#endif
#ifdef SO_DOMAIN
  C(SO_DOMAIN),
#endif
#ifdef SO_DONTROUTE
  C(SO_DONTROUTE),
#endif
#ifdef SO_DONTTRUNC
  C(SO_DONTTRUNC),
#endif
#ifdef SO_ERROR
  C(SO_ERROR),
#endif
#ifdef SO_GET_FILTER
  C(SO_GET_FILTER),
#endif
#ifdef SO_INCOMING_CPU
  C(SO_INCOMING_CPU),
#endif
#ifdef SO_INCOMING_NAPI_ID
  C(SO_INCOMING_NAPI_ID),
#endif
#ifdef SO_KEEPALIVE
  C(SO_KEEPALIVE),
#endif
#ifdef SO_LABEL
  C(SO_LABEL),
#endif
#ifdef SO_LINGER
  C(SO_LINGER),
#endif
#ifdef SO_LINGER_SEC
  C(SO_LINGER_SEC),
#endif
#ifdef SO_LISTENINCQLEN
  C(SO_LISTENINCQLEN),
#endif
#ifdef SO_LISTENQLEN
  C(SO_LISTENQLEN),
#endif
#ifdef SO_LISTENQLIMIT
  C(SO_LISTENQLIMIT),
#endif
#ifdef SO_LOCK_FILTER
  C(SO_LOCK_FILTER),
#endif
#ifdef SO_MARK
  C(SO_MARK),
#endif
#ifdef SO_MAX_PACING_RATE
  C(SO_MAX_PACING_RATE),
#endif
#ifdef SO_MEMINFO
  C(SO_MEMINFO),
#endif
#ifdef SO_NETNS_COOKIE
  C(SO_NETNS_COOKIE),
#endif
#ifdef SO_NET_SERVICE_TYPE
  C(SO_NET_SERVICE_TYPE),
#endif
#ifdef SO_NOADDRERR
  C(SO_NOADDRERR),
#endif
#ifdef SO_NOFCS
  C(SO_NOFCS),
#endif
#ifdef SO_NOSIGPIPE
  C(SO_NOSIGPIPE),
#endif
#ifdef SO_NOTIFYCONFLICT
  C(SO_NOTIFYCONFLICT),
#endif
#ifdef SO_NOWAKEFROMSLEEP
  C(SO_NOWAKEFROMSLEEP),
#endif
#ifdef SO_NO_CHECK
  C(SO_NO_CHECK),
#endif
#ifdef SO_NP_EXTENSIONS
  C(SO_NP_EXTENSIONS),
#endif
#ifdef SO_NREAD
  C(SO_NREAD),
#endif
#ifdef SO_NUMRCVPKT
  C(SO_NUMRCVPKT),
#endif
#ifdef SO_NWRITE
  C(SO_NWRITE),
#endif
#ifdef SO_OOBINLINE
  C(SO_OOBINLINE),
#endif
#ifdef SO_PASSCRED
  C(SO_PASSCRED),
#endif
#ifdef SO_PASSPIDFD
  C(SO_PASSPIDFD),
#endif
#ifdef SO_PASSSEC
  C(SO_PASSSEC),
#endif
#ifdef SO_PEEK_OFF
  C(SO_PEEK_OFF),
#endif
#ifdef SO_PEERCRED
  C(SO_PEERCRED),
#endif
#ifdef SO_PEERGROUPS
  C(SO_PEERGROUPS),
#endif
#ifdef SO_PEERLABEL
  C(SO_PEERLABEL),
#endif
#ifdef SO_PEERNAME
  C(SO_PEERNAME),
#endif
#ifdef SO_PEERPIDFD
  C(SO_PEERPIDFD),
#endif
#ifdef SO_PEERSEC
  C(SO_PEERSEC),
#endif
#ifdef SO_PREFER_BUSY_POLL
  C(SO_PREFER_BUSY_POLL),
#endif
#ifdef SO_PRIORITY
  C(SO_PRIORITY),
#endif
#ifdef SO_PROTOCOL
  C(SO_PROTOCOL),
#endif
#ifdef SO_PROTOTYPE
  C(SO_PROTOTYPE),
#endif
#ifdef SO_RANDOMPORT
  C(SO_RANDOMPORT),
#endif
#ifdef SO_RCVBUF
  C(SO_RCVBUF),
#endif
#ifdef SO_RCVBUFFORCE
  C(SO_RCVBUFFORCE),
#endif
#ifdef SO_RCVLOWAT
  C(SO_RCVLOWAT),
#endif
#ifdef SO_RCVMARK
  C(SO_RCVMARK),
#endif
#ifdef SO_RCVTIMEO
  C(SO_RCVTIMEO),
#endif
#ifdef SO_RCVTIMEO_NEW
  C(SO_RCVTIMEO_NEW),
#endif
#ifdef SO_RCVTIMEO_OLD
  C(SO_RCVTIMEO_OLD),
#endif
#ifdef SO_RESERVE_MEM
  C(SO_RESERVE_MEM),
#endif
#ifdef SO_REUSEADDR
  C(SO_REUSEADDR),
#endif
#ifdef SO_REUSEPORT
  C(SO_REUSEPORT),
#endif
#ifdef SO_REUSEPORT_LB
  C(SO_REUSEPORT_LB),
#endif
#ifdef SO_RTABLE
  C(SO_RTABLE),
#endif
#ifdef SO_RXQ_OVFL
  C(SO_RXQ_OVFL),
#endif
#ifdef SO_SECURITY_AUTHENTICATION
  C(SO_SECURITY_AUTHENTICATION),
#endif
#ifdef SO_SECURITY_ENCRYPTION_NETWORK
  C(SO_SECURITY_ENCRYPTION_NETWORK),
#endif
#ifdef SO_SECURITY_ENCRYPTION_TRANSPORT
  C(SO_SECURITY_ENCRYPTION_TRANSPORT),
#endif
#ifdef SO_SELECT_ERR_QUEUE
  C(SO_SELECT_ERR_QUEUE),
#endif
#ifdef SO_SETFIB
  C(SO_SETFIB),
#endif
#ifdef SO_SNDBUF
  C(SO_SNDBUF),
#endif
#ifdef SO_SNDBUFFORCE
  C(SO_SNDBUFFORCE),
#endif
#ifdef SO_SNDLOWAT
  C(SO_SNDLOWAT),
#endif
#ifdef SO_SNDTIMEO
  C(SO_SNDTIMEO),
#endif
#ifdef SO_SNDTIMEO_NEW
  C(SO_SNDTIMEO_NEW),
#endif
#ifdef SO_SNDTIMEO_OLD
  C(SO_SNDTIMEO_OLD),
#endif
#ifdef SO_SPLICE
  C(SO_SPLICE),
#endif
#ifdef SO_TIMESTAMP
  C(SO_TIMESTAMP),
#endif
#ifdef SO_TIMESTAMPING
  C(SO_TIMESTAMPING),
#endif
#ifdef SO_TIMESTAMPING_NEW
  C(SO_TIMESTAMPING_NEW),
#endif
#ifdef SO_TIMESTAMPING_OLD
  C(SO_TIMESTAMPING_OLD),
#endif
#ifdef SO_TIMESTAMPNS
  C(SO_TIMESTAMPNS),
#endif
#ifdef SO_TIMESTAMPNS_NEW
  C(SO_TIMESTAMPNS_NEW),
#endif
#ifdef SO_TIMESTAMPNS_OLD
  C(SO_TIMESTAMPNS_OLD),
#endif
#ifdef SO_TIMESTAMP_CONTINUOUS
  C(SO_TIMESTAMP_CONTINUOUS),
#endif
#ifdef SO_TIMESTAMP_MONOTONIC
  C(SO_TIMESTAMP_MONOTONIC),
#endif
#ifdef SO_TIMESTAMP_NEW
  C(SO_TIMESTAMP_NEW),
#endif
#ifdef SO_TIMESTAMP_OLD
  C(SO_TIMESTAMP_OLD),
#endif
#ifdef SO_TS_CLOCK
  C(SO_TS_CLOCK),
#endif
#ifdef SO_TXREHASH
  C(SO_TXREHASH),
#endif
#ifdef SOCK_TXREHASH_DEFAULT
  C(SOCK_TXREHASH_DEFAULT),
#endif
#ifdef SOCK_TXREHASH_DISABLED
  C(SOCK_TXREHASH_DISABLED),
#endif
#ifdef SOCK_TXREHASH_ENABLED
  C(SOCK_TXREHASH_ENABLED),
#endif
#ifdef SO_TXTIME
  C(SO_TXTIME),
#endif
#ifdef SO_TYPE
  C(SO_TYPE),
#endif
#ifdef SO_USELOOPBACK
  C(SO_USELOOPBACK),
#endif
#ifdef SO_USER_COOKIE
  C(SO_USER_COOKIE),
#endif
#ifdef SO_WANTMORE
  C(SO_WANTMORE),
#endif
#ifdef SO_WANTOOBFLAG
  C(SO_WANTOOBFLAG),
#endif
#ifdef SO_WIFI_STATUS
  C(SO_WIFI_STATUS),
#endif
#ifdef SO_ZEROCOPY
  C(SO_ZEROCOPY),
#endif
#ifdef SO_ZEROIZE
  C(SO_ZEROIZE),
#endif

  /* Control message types (struct cmsghdr's cmsg_type at SOL_SOCKET). Linux's
     SCM_SRCRT is left out: it names IPV6_RXSRCRT, which no header defines. */
#ifdef SCM_BINTIME
  C(SCM_BINTIME),
#endif
#ifdef SCM_CREDENTIALS
  C(SCM_CREDENTIALS),
#endif
#ifdef SCM_CREDS
  C(SCM_CREDS),
#endif
#ifdef SCM_CREDS2
  C(SCM_CREDS2),
#endif
#ifdef SCM_MONOTONIC
  C(SCM_MONOTONIC),
#endif
#ifdef SCM_PIDFD
  C(SCM_PIDFD),
#endif
#ifdef SCM_REALTIME
  C(SCM_REALTIME),
#endif
#ifdef SCM_RIGHTS
  C(SCM_RIGHTS),
#endif
#ifdef SCM_SECURITY
  C(SCM_SECURITY),
#endif
#ifdef SCM_TIMESTAMP
  C(SCM_TIMESTAMP),
#endif
#ifdef SCM_TIMESTAMPING
  C(SCM_TIMESTAMPING),
#endif
#ifdef SCM_TIMESTAMPING_OPT_STATS
  C(SCM_TIMESTAMPING_OPT_STATS),
#endif
#ifdef SCM_TIMESTAMPING_PKTINFO
  C(SCM_TIMESTAMPING_PKTINFO),
#endif
#ifdef SCM_TIMESTAMPNS
  C(SCM_TIMESTAMPNS),
#endif
#ifdef SCM_TIMESTAMP_CONTINUOUS
  C(SCM_TIMESTAMP_CONTINUOUS),
#endif
#ifdef SCM_TIMESTAMP_MONOTONIC
  C(SCM_TIMESTAMP_MONOTONIC),
#endif
#ifdef SCM_TIME_INFO
  C(SCM_TIME_INFO),
#endif
#ifdef SCM_TXTIME
  C(SCM_TXTIME),
#endif
#ifdef SCM_WIFI_STATUS
  C(SCM_WIFI_STATUS),
#endif

  /* send/recv flags, and the flags recvmsg returns in msg_flags */
#ifdef MSG_BATCH
  C(MSG_BATCH),
#endif
#ifdef MSG_BCAST
  C(MSG_BCAST),
#endif
#ifdef MSG_CMSG_CLOEXEC
  C(MSG_CMSG_CLOEXEC),
#endif
#ifdef MSG_CMSG_CLOFORK
  C(MSG_CMSG_CLOFORK),
#endif
#ifdef MSG_COMPAT
  C(MSG_COMPAT),
#endif
#ifdef MSG_CONFIRM
  C(MSG_CONFIRM),
#endif
#ifdef MSG_CTRUNC
  C(MSG_CTRUNC),
#endif
#ifdef MSG_DONTROUTE
  C(MSG_DONTROUTE),
#endif
#ifdef MSG_DONTWAIT
  C(MSG_DONTWAIT),
#endif
#ifdef MSG_EOF
  C(MSG_EOF),
#endif
#ifdef MSG_EOR
  C(MSG_EOR),
#endif
#ifdef MSG_ERRQUEUE
  C(MSG_ERRQUEUE),
#endif
#ifdef MSG_FASTOPEN
  C(MSG_FASTOPEN),
#endif
#ifdef MSG_FIN
  C(MSG_FIN),
#endif
#ifdef MSG_FLUSH
  C(MSG_FLUSH),
#endif
#ifdef MSG_HAVEMORE
  C(MSG_HAVEMORE),
#endif
#ifdef MSG_HOLD
  C(MSG_HOLD),
#endif
#ifdef MSG_MCAST
  C(MSG_MCAST),
#endif
#ifdef MSG_MORE
  C(MSG_MORE),
#endif
#ifdef MSG_NBIO
  C(MSG_NBIO),
#endif
#ifdef MSG_NEEDSA
  C(MSG_NEEDSA),
#endif
#ifdef MSG_NOSIGNAL
  C(MSG_NOSIGNAL),
#endif
#ifdef MSG_NOTIFICATION
  C(MSG_NOTIFICATION),
#endif
#ifdef MSG_OOB
  C(MSG_OOB),
#endif
#ifdef MSG_PEEK
  C(MSG_PEEK),
#endif
#ifdef MSG_PROXY
  C(MSG_PROXY),
#endif
#ifdef MSG_RCVMORE
  C(MSG_RCVMORE),
#endif
#ifdef MSG_RST
  C(MSG_RST),
#endif
#ifdef MSG_SEND
  C(MSG_SEND),
#endif
#ifdef MSG_SOCK_DEVMEM
  C(MSG_SOCK_DEVMEM),
#endif
#ifdef MSG_SYN
  C(MSG_SYN),
#endif
#ifdef MSG_TRUNC
  C(MSG_TRUNC),
#endif
#ifdef MSG_TRYHARD
  C(MSG_TRYHARD),
#endif
#ifdef MSG_WAITALL
  C(MSG_WAITALL),
#endif
#ifdef MSG_WAITFORONE
  C(MSG_WAITFORONE),
#endif
#ifdef MSG_ZEROCOPY
  C(MSG_ZEROCOPY),
#endif

  /* IP protocol numbers */
#ifdef IPPROTO_AH
  C(IPPROTO_AH),
#endif
#ifdef IPPROTO_BEETPH
  C(IPPROTO_BEETPH),
#endif
#ifdef IPPROTO_CARP
  C(IPPROTO_CARP),
#endif
#ifdef IPPROTO_COMP
  C(IPPROTO_COMP),
#endif
#ifdef IPPROTO_DCCP
  C(IPPROTO_DCCP),
#endif
#ifdef IPPROTO_DIVERT
  C(IPPROTO_DIVERT),
#endif
#ifdef IPPROTO_DSTOPTS
  C(IPPROTO_DSTOPTS),
#endif
#ifdef IPPROTO_EGP
  C(IPPROTO_EGP),
#endif
#ifdef IPPROTO_ENCAP
  C(IPPROTO_ENCAP),
#endif
#ifdef IPPROTO_EON
  C(IPPROTO_EON),
#endif
#ifdef IPPROTO_ESP
  C(IPPROTO_ESP),
#endif
#ifdef IPPROTO_ETHERIP
  C(IPPROTO_ETHERIP),
#endif
#ifdef IPPROTO_ETHERNET
  C(IPPROTO_ETHERNET),
#endif
#ifdef IPPROTO_FRAGMENT
  C(IPPROTO_FRAGMENT),
#endif
#ifdef IPPROTO_GGP
  C(IPPROTO_GGP),
#endif
#ifdef IPPROTO_GRE
  C(IPPROTO_GRE),
#endif
#ifdef IPPROTO_HELLO
  C(IPPROTO_HELLO),
#endif
#ifdef IPPROTO_HOPOPTS
  C(IPPROTO_HOPOPTS),
#endif
#ifdef IPPROTO_ICMP
  C(IPPROTO_ICMP),
#endif
#ifdef IPPROTO_ICMPV6
  C(IPPROTO_ICMPV6),
#endif
#ifdef IPPROTO_IDP
  C(IPPROTO_IDP),
#endif
#ifdef IPPROTO_IGMP
  C(IPPROTO_IGMP),
#endif
#ifdef IPPROTO_IGRP
  C(IPPROTO_IGRP),
#endif
#ifdef IPPROTO_IP
  C(IPPROTO_IP),
#endif
#ifdef IPPROTO_IPCOMP
  C(IPPROTO_IPCOMP),
#endif
#ifdef IPPROTO_IPIP
  C(IPPROTO_IPIP),
#endif
#ifdef IPPROTO_IPV4
  C(IPPROTO_IPV4),
#endif
#ifdef IPPROTO_IPV6
  C(IPPROTO_IPV6),
#endif
#ifdef IPPROTO_L2TP
  C(IPPROTO_L2TP),
#endif
#ifdef IPPROTO_MAX
  C(IPPROTO_MAX),
#endif
#ifdef IPPROTO_MH
  C(IPPROTO_MH),
#endif
#ifdef IPPROTO_MPLS
  C(IPPROTO_MPLS),
#endif
#ifdef IPPROTO_MPTCP
  C(IPPROTO_MPTCP),
#endif
#ifdef IPPROTO_MTP
  C(IPPROTO_MTP),
#endif
#ifdef IPPROTO_ND
  C(IPPROTO_ND),
#endif
#ifdef IPPROTO_NONE
  C(IPPROTO_NONE),
#endif
#ifdef IPPROTO_OSPFIGP
  C(IPPROTO_OSPFIGP),
#endif
#ifdef IPPROTO_PFSYNC
  C(IPPROTO_PFSYNC),
#endif
#ifdef IPPROTO_PIM
  C(IPPROTO_PIM),
#endif
#ifdef IPPROTO_PUP
  C(IPPROTO_PUP),
#endif
#ifdef IPPROTO_RAW
  C(IPPROTO_RAW),
#endif
#ifdef IPPROTO_RDP
  C(IPPROTO_RDP),
#endif
#ifdef IPPROTO_ROUTING
  C(IPPROTO_ROUTING),
#endif
#ifdef IPPROTO_RSVP
  C(IPPROTO_RSVP),
#endif
#ifdef IPPROTO_SCTP
  C(IPPROTO_SCTP),
#endif
#ifdef IPPROTO_SEND
  C(IPPROTO_SEND),
#endif
#ifdef IPPROTO_SMC
  C(IPPROTO_SMC),
#endif
#ifdef IPPROTO_ST
  C(IPPROTO_ST),
#endif
#ifdef IPPROTO_TCP
  C(IPPROTO_TCP),
#endif
#ifdef IPPROTO_TP
  C(IPPROTO_TP),
#endif
#ifdef IPPROTO_UDP
  C(IPPROTO_UDP),
#endif
#ifdef IPPROTO_UDPLITE
  C(IPPROTO_UDPLITE),
#endif
#ifdef IPPROTO_VRRP
  C(IPPROTO_VRRP),
#endif
#ifdef IPPROTO_XTP
  C(IPPROTO_XTP),
#endif

  /* IPv4 options (IPPROTO_IP), and the values some of them take */
#ifdef IP_ADD_MEMBERSHIP
  C(IP_ADD_MEMBERSHIP),
#endif
#ifdef IP_ADD_SOURCE_MEMBERSHIP
  C(IP_ADD_SOURCE_MEMBERSHIP),
#endif
#ifdef IP_BINDANY
  C(IP_BINDANY),
#endif
#ifdef IP_BINDMULTI
  C(IP_BINDMULTI),
#endif
#ifdef IP_BIND_ADDRESS_NO_PORT
  C(IP_BIND_ADDRESS_NO_PORT),
#endif
#ifdef IP_BLOCK_SOURCE
  C(IP_BLOCK_SOURCE),
#endif
#ifdef IP_BOUND_IF
  C(IP_BOUND_IF),
#endif
#ifdef IP_CHECKSUM
  C(IP_CHECKSUM),
#endif
#ifdef IP_DEFAULT_MULTICAST_LOOP
  C(IP_DEFAULT_MULTICAST_LOOP),
#endif
#ifdef IP_DEFAULT_MULTICAST_TTL
  C(IP_DEFAULT_MULTICAST_TTL),
#endif
#ifdef IP_DONTFRAG
  C(IP_DONTFRAG),
#endif
#ifdef IP_DROP_MEMBERSHIP
  C(IP_DROP_MEMBERSHIP),
#endif
#ifdef IP_DROP_SOURCE_MEMBERSHIP
  C(IP_DROP_SOURCE_MEMBERSHIP),
#endif
#ifdef IP_FLOWID
  C(IP_FLOWID),
#endif
#ifdef IP_FLOWTYPE
  C(IP_FLOWTYPE),
#endif
#ifdef IP_FREEBIND
  C(IP_FREEBIND),
#endif
#ifdef IP_HDRINCL
  C(IP_HDRINCL),
#endif
#ifdef IP_IPSEC_POLICY
  C(IP_IPSEC_POLICY),
#endif
#ifdef IP_LOCAL_PORT_RANGE
  C(IP_LOCAL_PORT_RANGE),
#endif
#ifdef IP_MAX_GROUP_SRC_FILTER
  C(IP_MAX_GROUP_SRC_FILTER),
#endif
#ifdef IP_MAX_MEMBERSHIPS
  C(IP_MAX_MEMBERSHIPS),
#endif
#ifdef IP_MAX_SOCK_SRC_FILTER
  C(IP_MAX_SOCK_SRC_FILTER),
#endif
#ifdef IP_MINTTL
  C(IP_MINTTL),
#endif
#ifdef IP_MIN_MEMBERSHIPS
  C(IP_MIN_MEMBERSHIPS),
#endif
#ifdef IP_MSFILTER
  C(IP_MSFILTER),
#endif
#ifdef IP_MTU
  C(IP_MTU),
#endif
#ifdef IP_MTU_DISCOVER
  C(IP_MTU_DISCOVER),
#endif
#ifdef IP_MULTICAST_ALL
  C(IP_MULTICAST_ALL),
#endif
#ifdef IP_MULTICAST_IF
  C(IP_MULTICAST_IF),
#endif
#ifdef IP_MULTICAST_IFINDEX
  C(IP_MULTICAST_IFINDEX),
#endif
#ifdef IP_MULTICAST_LOOP
  C(IP_MULTICAST_LOOP),
#endif
#ifdef IP_MULTICAST_TTL
  C(IP_MULTICAST_TTL),
#endif
#ifdef IP_MULTICAST_VIF
  C(IP_MULTICAST_VIF),
#endif
#ifdef IP_NODEFRAG
  C(IP_NODEFRAG),
#endif
#ifdef IP_ONESBCAST
  C(IP_ONESBCAST),
#endif
#ifdef IP_OPTIONS
  C(IP_OPTIONS),
#endif
#ifdef IP_ORIGDSTADDR
  C(IP_ORIGDSTADDR),
#endif
#ifdef IP_PASSSEC
  C(IP_PASSSEC),
#endif
#ifdef IP_PKTINFO
  C(IP_PKTINFO),
#endif
#ifdef IP_PKTOPTIONS
  C(IP_PKTOPTIONS),
#endif
#ifdef IP_PMTUDISC
  C(IP_PMTUDISC),
#endif
#ifdef IP_PMTUDISC_DO
  C(IP_PMTUDISC_DO),
#endif
#ifdef IP_PMTUDISC_DONT
  C(IP_PMTUDISC_DONT),
#endif
#ifdef IP_PMTUDISC_INTERFACE
  C(IP_PMTUDISC_INTERFACE),
#endif
#ifdef IP_PMTUDISC_OMIT
  C(IP_PMTUDISC_OMIT),
#endif
#ifdef IP_PMTUDISC_PROBE
  C(IP_PMTUDISC_PROBE),
#endif
#ifdef IP_PMTUDISC_WANT
  C(IP_PMTUDISC_WANT),
#endif
#ifdef IP_PORTRANGE
  C(IP_PORTRANGE),
#endif
#ifdef IP_PORTRANGE_DEFAULT
  C(IP_PORTRANGE_DEFAULT),
#endif
#ifdef IP_PORTRANGE_HIGH
  C(IP_PORTRANGE_HIGH),
#endif
#ifdef IP_PORTRANGE_LOW
  C(IP_PORTRANGE_LOW),
#endif
#ifdef IP_PROTOCOL
  C(IP_PROTOCOL),
#endif
#ifdef IP_RECVDSTADDR
  C(IP_RECVDSTADDR),
#endif
#ifdef IP_RECVERR
  C(IP_RECVERR),
#endif
#ifdef IP_RECVERR_RFC4884
  C(IP_RECVERR_RFC4884),
#endif
#ifdef IP_RECVFLOWID
  C(IP_RECVFLOWID),
#endif
#ifdef IP_RECVFRAGSIZE
  C(IP_RECVFRAGSIZE),
#endif
#ifdef IP_RECVIF
  C(IP_RECVIF),
#endif
#ifdef IP_RECVOPTS
  C(IP_RECVOPTS),
#endif
#ifdef IP_RECVORIGDSTADDR
  C(IP_RECVORIGDSTADDR),
#endif
#ifdef IP_RECVPKTINFO
  C(IP_RECVPKTINFO),
#endif
#ifdef IP_RECVRETOPTS
  C(IP_RECVRETOPTS),
#endif
#ifdef IP_RECVRSSBUCKETID
  C(IP_RECVRSSBUCKETID),
#endif
#ifdef IP_RECVRTABLE
  C(IP_RECVRTABLE),
#endif
#ifdef IP_RECVTOS
  C(IP_RECVTOS),
#endif
#ifdef IP_RECVTTL
  C(IP_RECVTTL),
#endif
#ifdef IP_RETOPTS
  C(IP_RETOPTS),
#endif
#ifdef IP_ROUTER_ALERT
  C(IP_ROUTER_ALERT),
#endif
#ifdef IP_RSSBUCKETID
  C(IP_RSSBUCKETID),
#endif
#ifdef IP_RTABLE
  C(IP_RTABLE),
#endif
#ifdef IP_SENDSRCADDR
  C(IP_SENDSRCADDR),
#endif
#ifdef IP_STRIPHDR
  C(IP_STRIPHDR),
#endif
#ifdef IP_TOS
  C(IP_TOS),
#endif
#ifdef IP_TRANSPARENT
  C(IP_TRANSPARENT),
#endif
#ifdef IP_TTL
  C(IP_TTL),
#endif
#ifdef IP_UNBLOCK_SOURCE
  C(IP_UNBLOCK_SOURCE),
#endif
#ifdef IP_UNICAST_IF
  C(IP_UNICAST_IF),
#endif
#ifdef IP_VLAN_PCP
  C(IP_VLAN_PCP),
#endif
#ifdef IP_XFRM_POLICY
  C(IP_XFRM_POLICY),
#endif

  /* IPv6 options (IPPROTO_IPV6), and the values some of them take */
#ifdef IPV6_2292DSTOPTS
  C(IPV6_2292DSTOPTS),
#endif
#ifdef IPV6_2292HOPLIMIT
  C(IPV6_2292HOPLIMIT),
#endif
#ifdef IPV6_2292HOPOPTS
  C(IPV6_2292HOPOPTS),
#endif
#ifdef IPV6_2292PKTINFO
  C(IPV6_2292PKTINFO),
#endif
#ifdef IPV6_2292PKTOPTIONS
  C(IPV6_2292PKTOPTIONS),
#endif
#ifdef IPV6_2292RTHDR
  C(IPV6_2292RTHDR),
#endif
#ifdef IPV6_ADDRFORM
  C(IPV6_ADDRFORM),
#endif
#ifdef IPV6_ADDR_PREFERENCES
  C(IPV6_ADDR_PREFERENCES),
#endif
#ifdef IPV6_ADD_MEMBERSHIP
  C(IPV6_ADD_MEMBERSHIP),
#endif
#ifdef IPV6_AUTHHDR
  C(IPV6_AUTHHDR),
#endif
#ifdef IPV6_AUTOFLOWLABEL
  C(IPV6_AUTOFLOWLABEL),
#endif
#ifdef IPV6_BINDANY
  C(IPV6_BINDANY),
#endif
#ifdef IPV6_BINDMULTI
  C(IPV6_BINDMULTI),
#endif
#ifdef IPV6_BINDV6ONLY
  C(IPV6_BINDV6ONLY),
#endif
#ifdef IPV6_BOUND_IF
  C(IPV6_BOUND_IF),
#endif
#ifdef IPV6_CHECKSUM
  C(IPV6_CHECKSUM),
#endif
#ifdef IPV6_DONTFRAG
  C(IPV6_DONTFRAG),
#endif
#ifdef IPV6_DROP_MEMBERSHIP
  C(IPV6_DROP_MEMBERSHIP),
#endif
#ifdef IPV6_DSTOPTS
  C(IPV6_DSTOPTS),
#endif
#ifdef IPV6_FAITH
  C(IPV6_FAITH),
#endif
#ifdef IPV6_FLOWID
  C(IPV6_FLOWID),
#endif
#ifdef IPV6_FLOWINFO
  C(IPV6_FLOWINFO),
#endif
#ifdef IPV6_FLOWINFO_FLOWLABEL
  C(IPV6_FLOWINFO_FLOWLABEL),
#endif
#ifdef IPV6_FLOWINFO_PRIORITY
  C(IPV6_FLOWINFO_PRIORITY),
#endif
#ifdef IPV6_FLOWINFO_SEND
  C(IPV6_FLOWINFO_SEND),
#endif
#ifdef IPV6_FLOWLABEL_MGR
  C(IPV6_FLOWLABEL_MGR),
#endif
#ifdef IPV6_FLOWTYPE
  C(IPV6_FLOWTYPE),
#endif
#ifdef IPV6_FL_A_GET
  C(IPV6_FL_A_GET),
#endif
#ifdef IPV6_FL_A_PUT
  C(IPV6_FL_A_PUT),
#endif
#ifdef IPV6_FL_A_RENEW
  C(IPV6_FL_A_RENEW),
#endif
#ifdef IPV6_FL_F_CREATE
  C(IPV6_FL_F_CREATE),
#endif
#ifdef IPV6_FL_F_EXCL
  C(IPV6_FL_F_EXCL),
#endif
#ifdef IPV6_FL_F_REFLECT
  C(IPV6_FL_F_REFLECT),
#endif
#ifdef IPV6_FL_F_REMOTE
  C(IPV6_FL_F_REMOTE),
#endif
#ifdef IPV6_FL_S_ANY
  C(IPV6_FL_S_ANY),
#endif
#ifdef IPV6_FL_S_EXCL
  C(IPV6_FL_S_EXCL),
#endif
#ifdef IPV6_FL_S_NONE
  C(IPV6_FL_S_NONE),
#endif
#ifdef IPV6_FL_S_PROCESS
  C(IPV6_FL_S_PROCESS),
#endif
#ifdef IPV6_FL_S_USER
  C(IPV6_FL_S_USER),
#endif
#ifdef IPV6_FREEBIND
  C(IPV6_FREEBIND),
#endif
#ifdef IPV6_HDRINCL
  C(IPV6_HDRINCL),
#endif
#ifdef IPV6_HOPLIMIT
  C(IPV6_HOPLIMIT),
#endif
#ifdef IPV6_HOPOPTS
  C(IPV6_HOPOPTS),
#endif
#ifdef IPV6_IPSEC_POLICY
  C(IPV6_IPSEC_POLICY),
#endif
#ifdef IPV6_JOIN_ANYCAST
  C(IPV6_JOIN_ANYCAST),
#endif
#ifdef IPV6_JOIN_GROUP
  C(IPV6_JOIN_GROUP),
#endif
#ifdef IPV6_LEAVE_ANYCAST
  C(IPV6_LEAVE_ANYCAST),
#endif
#ifdef IPV6_LEAVE_GROUP
  C(IPV6_LEAVE_GROUP),
#endif
#ifdef IPV6_MINHOPCOUNT
  C(IPV6_MINHOPCOUNT),
#endif
#ifdef IPV6_MSFILTER
  C(IPV6_MSFILTER),
#endif
#ifdef IPV6_MTU
  C(IPV6_MTU),
#endif
#ifdef IPV6_MTU_DISCOVER
  C(IPV6_MTU_DISCOVER),
#endif
#ifdef IPV6_MULTICAST_ALL
  C(IPV6_MULTICAST_ALL),
#endif
#ifdef IPV6_MULTICAST_HOPS
  C(IPV6_MULTICAST_HOPS),
#endif
#ifdef IPV6_MULTICAST_IF
  C(IPV6_MULTICAST_IF),
#endif
#ifdef IPV6_MULTICAST_LOOP
  C(IPV6_MULTICAST_LOOP),
#endif
#ifdef IPV6_NEXTHOP
  C(IPV6_NEXTHOP),
#endif
#ifdef IPV6_ORIGDSTADDR
  C(IPV6_ORIGDSTADDR),
#endif
#ifdef IPV6_PATHMTU
  C(IPV6_PATHMTU),
#endif
#ifdef IPV6_PKTINFO
  C(IPV6_PKTINFO),
#endif
#ifdef IPV6_PMTUDISC_DO
  C(IPV6_PMTUDISC_DO),
#endif
#ifdef IPV6_PMTUDISC_DONT
  C(IPV6_PMTUDISC_DONT),
#endif
#ifdef IPV6_PMTUDISC_INTERFACE
  C(IPV6_PMTUDISC_INTERFACE),
#endif
#ifdef IPV6_PMTUDISC_OMIT
  C(IPV6_PMTUDISC_OMIT),
#endif
#ifdef IPV6_PMTUDISC_PROBE
  C(IPV6_PMTUDISC_PROBE),
#endif
#ifdef IPV6_PMTUDISC_WANT
  C(IPV6_PMTUDISC_WANT),
#endif
#ifdef IPV6_PORTRANGE
  C(IPV6_PORTRANGE),
#endif
#ifdef IPV6_PORTRANGE_DEFAULT
  C(IPV6_PORTRANGE_DEFAULT),
#endif
#ifdef IPV6_PORTRANGE_HIGH
  C(IPV6_PORTRANGE_HIGH),
#endif
#ifdef IPV6_PORTRANGE_LOW
  C(IPV6_PORTRANGE_LOW),
#endif
#ifdef IPV6_PREFER_SRC_CGA
  C(IPV6_PREFER_SRC_CGA),
#endif
#ifdef IPV6_PREFER_SRC_COA
  C(IPV6_PREFER_SRC_COA),
#endif
#ifdef IPV6_PREFER_SRC_HOME
  C(IPV6_PREFER_SRC_HOME),
#endif
#ifdef IPV6_PREFER_SRC_NONCGA
  C(IPV6_PREFER_SRC_NONCGA),
#endif
#ifdef IPV6_PREFER_SRC_PUBLIC
  C(IPV6_PREFER_SRC_PUBLIC),
#endif
#ifdef IPV6_PREFER_SRC_PUBTMP_DEFAULT
  C(IPV6_PREFER_SRC_PUBTMP_DEFAULT),
#endif
#ifdef IPV6_PREFER_SRC_TMP
  C(IPV6_PREFER_SRC_TMP),
#endif
#ifdef IPV6_PREFER_TEMPADDR
  C(IPV6_PREFER_TEMPADDR),
#endif
#ifdef IPV6_RECVDSTOPTS
  C(IPV6_RECVDSTOPTS),
#endif
#ifdef IPV6_RECVERR
  C(IPV6_RECVERR),
#endif
#ifdef IPV6_RECVERR_RFC4884
  C(IPV6_RECVERR_RFC4884),
#endif
#ifdef IPV6_RECVFLOWID
  C(IPV6_RECVFLOWID),
#endif
#ifdef IPV6_RECVFRAGSIZE
  C(IPV6_RECVFRAGSIZE),
#endif
#ifdef IPV6_RECVHOPLIMIT
  C(IPV6_RECVHOPLIMIT),
#endif
#ifdef IPV6_RECVHOPOPTS
  C(IPV6_RECVHOPOPTS),
#endif
#ifdef IPV6_RECVORIGDSTADDR
  C(IPV6_RECVORIGDSTADDR),
#endif
#ifdef IPV6_RECVPATHMTU
  C(IPV6_RECVPATHMTU),
#endif
#ifdef IPV6_RECVPKTINFO
  C(IPV6_RECVPKTINFO),
#endif
#ifdef IPV6_RECVRSSBUCKETID
  C(IPV6_RECVRSSBUCKETID),
#endif
#ifdef IPV6_RECVRTHDR
  C(IPV6_RECVRTHDR),
#endif
#ifdef IPV6_RECVTCLASS
  C(IPV6_RECVTCLASS),
#endif
#ifdef IPV6_ROUTER_ALERT
  C(IPV6_ROUTER_ALERT),
#endif
#ifdef IPV6_ROUTER_ALERT_ISOLATE
  C(IPV6_ROUTER_ALERT_ISOLATE),
#endif
#ifdef IPV6_RSSBUCKETID
  C(IPV6_RSSBUCKETID),
#endif
#ifdef IPV6_RTHDR
  C(IPV6_RTHDR),
#endif
#ifdef IPV6_RTHDRDSTOPTS
  C(IPV6_RTHDRDSTOPTS),
#endif
#ifdef IPV6_RTHDR_LOOSE
  C(IPV6_RTHDR_LOOSE),
#endif
#ifdef IPV6_RTHDR_STRICT
  C(IPV6_RTHDR_STRICT),
#endif
#ifdef IPV6_RTHDR_TYPE_0
  C(IPV6_RTHDR_TYPE_0),
#endif
#ifdef IPV6_RXDSTOPTS
  C(IPV6_RXDSTOPTS),
#endif
#ifdef IPV6_RXHOPOPTS
  C(IPV6_RXHOPOPTS),
#endif
#ifdef IPV6_TCLASS
  C(IPV6_TCLASS),
#endif
#ifdef IPV6_TRANSPARENT
  C(IPV6_TRANSPARENT),
#endif
#ifdef IPV6_UNICAST_HOPS
  C(IPV6_UNICAST_HOPS),
#endif
#ifdef IPV6_UNICAST_IF
  C(IPV6_UNICAST_IF),
#endif
#ifdef IPV6_USE_MIN_MTU
  C(IPV6_USE_MIN_MTU),
#endif
#ifdef IPV6_V6ONLY
  C(IPV6_V6ONLY),
#endif
#ifdef IPV6_VLAN_PCP
  C(IPV6_VLAN_PCP),
#endif
#ifdef IPV6_XFRM_POLICY
  C(IPV6_XFRM_POLICY),
#endif

  /* TCP options (IPPROTO_TCP), and the values some of them take. The connection
     states (TCP_ESTABLISHED...) are not options and are left out. */
#ifdef TCP_ADAPTIVE_READ_TIMEOUT
  C(TCP_ADAPTIVE_READ_TIMEOUT),
#endif
#ifdef TCP_ADAPTIVE_WRITE_TIMEOUT
  C(TCP_ADAPTIVE_WRITE_TIMEOUT),
#endif
#ifdef TCP_AO_ADD_KEY
  C(TCP_AO_ADD_KEY),
#endif
#ifdef TCP_AO_DEL_KEY
  C(TCP_AO_DEL_KEY),
#endif
#ifdef TCP_AO_GET_KEYS
  C(TCP_AO_GET_KEYS),
#endif
#ifdef TCP_AO_INFO
  C(TCP_AO_INFO),
#endif
#ifdef TCP_AO_REPAIR
  C(TCP_AO_REPAIR),
#endif
#ifdef TCP_CCALGOOPT
  C(TCP_CCALGOOPT),
#endif
#ifdef TCP_CC_INFO
  C(TCP_CC_INFO),
#endif
#ifdef TCP_CM_INQ
  C(TCP_CM_INQ),
#endif
#ifdef TCP_CONGESTION
  C(TCP_CONGESTION),
#endif
#ifdef TCP_CONNECTIONTIMEOUT
  C(TCP_CONNECTIONTIMEOUT),
#endif
#ifdef TCP_CONNECTION_INFO
  C(TCP_CONNECTION_INFO),
#endif
#ifdef TCP_COOKIE_TRANSACTIONS
  C(TCP_COOKIE_TRANSACTIONS),
#endif
#ifdef TCP_CORK
  C(TCP_CORK),
#endif
#ifdef TCP_DEFER_ACCEPT
  C(TCP_DEFER_ACCEPT),
#endif
#ifdef TCP_DELACK
  C(TCP_DELACK),
#endif
#ifdef TCP_ENABLE_ECN
  C(TCP_ENABLE_ECN),
#endif
#ifdef TCP_FASTOPEN
  C(TCP_FASTOPEN),
#endif
#ifdef TCP_FASTOPEN_CONNECT
  C(TCP_FASTOPEN_CONNECT),
#endif
#ifdef TCP_FASTOPEN_KEY
  C(TCP_FASTOPEN_KEY),
#endif
#ifdef TCP_FASTOPEN_NO_COOKIE
  C(TCP_FASTOPEN_NO_COOKIE),
#endif
#ifdef TCP_FUNCTION_ALIAS
  C(TCP_FUNCTION_ALIAS),
#endif
#ifdef TCP_FUNCTION_BLK
  C(TCP_FUNCTION_BLK),
#endif
#ifdef TCP_INFO
  C(TCP_INFO),
#endif
#ifdef TCP_INQ
  C(TCP_INQ),
#endif
#ifdef TCP_IS_MPTCP
  C(TCP_IS_MPTCP),
#endif
#ifdef TCP_KEEPALIVE
  C(TCP_KEEPALIVE),
#endif
#ifdef TCP_KEEPCNT
  C(TCP_KEEPCNT),
#endif
#ifdef TCP_KEEPIDLE
  C(TCP_KEEPIDLE),
#endif
#ifdef TCP_KEEPINIT
  C(TCP_KEEPINIT),
#endif
#ifdef TCP_KEEPINTVL
  C(TCP_KEEPINTVL),
#endif
#ifdef TCP_LINGER2
  C(TCP_LINGER2),
#endif
#ifdef TCP_LOG
  C(TCP_LOG),
#endif
#ifdef TCP_MAXSEG
  C(TCP_MAXSEG),
#endif
#ifdef TCP_MAXUNACKTIME
  C(TCP_MAXUNACKTIME),
#endif
#ifdef TCP_MD5SIG
  C(TCP_MD5SIG),
#endif
#ifdef TCP_MD5SIG_EXT
  C(TCP_MD5SIG_EXT),
#endif
#ifdef TCP_MD5SIG_FLAG_IFINDEX
  C(TCP_MD5SIG_FLAG_IFINDEX),
#endif
#ifdef TCP_MD5SIG_FLAG_PREFIX
  C(TCP_MD5SIG_FLAG_PREFIX),
#endif
#ifdef TCP_MD5SIG_MAXKEYLEN
  C(TCP_MD5SIG_MAXKEYLEN),
#endif
#ifdef TCP_NODELAY
  C(TCP_NODELAY),
#endif
#ifdef TCP_NOOPT
  C(TCP_NOOPT),
#endif
#ifdef TCP_NOPUSH
  C(TCP_NOPUSH),
#endif
#ifdef TCP_NOTIMEWAIT
  C(TCP_NOTIMEWAIT),
#endif
#ifdef TCP_NOTSENT_LOWAT
  C(TCP_NOTSENT_LOWAT),
#endif
#ifdef TCP_PCAP_IN
  C(TCP_PCAP_IN),
#endif
#ifdef TCP_PCAP_OUT
  C(TCP_PCAP_OUT),
#endif
#ifdef TCP_QUEUE_SEQ
  C(TCP_QUEUE_SEQ),
#endif
#ifdef TCP_QUICKACK
  C(TCP_QUICKACK),
#endif
#ifdef TCP_REMOTE_UDP_ENCAPS_PORT
  C(TCP_REMOTE_UDP_ENCAPS_PORT),
#endif
#ifdef TCP_REPAIR
  C(TCP_REPAIR),
#endif
#ifdef TCP_REPAIR_OFF
  C(TCP_REPAIR_OFF),
#endif
#ifdef TCP_REPAIR_OFF_NO_WP
  C(TCP_REPAIR_OFF_NO_WP),
#endif
#ifdef TCP_REPAIR_ON
  C(TCP_REPAIR_ON),
#endif
#ifdef TCP_REPAIR_OPTIONS
  C(TCP_REPAIR_OPTIONS),
#endif
#ifdef TCP_REPAIR_QUEUE
  C(TCP_REPAIR_QUEUE),
#endif
#ifdef TCP_REPAIR_WINDOW
  C(TCP_REPAIR_WINDOW),
#endif
#ifdef TCP_RTO_MIN_US
  C(TCP_RTO_MIN_US),
#endif
#ifdef TCP_RXT_CONNDROPTIME
  C(TCP_RXT_CONNDROPTIME),
#endif
#ifdef TCP_RXT_FINDROP
  C(TCP_RXT_FINDROP),
#endif
#ifdef TCP_SACK_ENABLE
  C(TCP_SACK_ENABLE),
#endif
#ifdef TCP_SAVED_SYN
  C(TCP_SAVED_SYN),
#endif
#ifdef TCP_SAVE_SYN
  C(TCP_SAVE_SYN),
#endif
#ifdef TCP_SENDMOREACKS
  C(TCP_SENDMOREACKS),
#endif
#ifdef TCP_SYNCNT
  C(TCP_SYNCNT),
#endif
#ifdef TCP_THIN_DUPACK
  C(TCP_THIN_DUPACK),
#endif
#ifdef TCP_THIN_LINEAR_TIMEOUTS
  C(TCP_THIN_LINEAR_TIMEOUTS),
#endif
#ifdef TCP_TIMESTAMP
  C(TCP_TIMESTAMP),
#endif
#ifdef TCP_TX_DELAY
  C(TCP_TX_DELAY),
#endif
#ifdef TCP_ULP
  C(TCP_ULP),
#endif
#ifdef TCP_USER_TIMEOUT
  C(TCP_USER_TIMEOUT),
#endif
#ifdef TCP_WINDOW_CLAMP
  C(TCP_WINDOW_CLAMP),
#endif
#ifdef TCP_ZEROCOPY_RECEIVE
  C(TCP_ZEROCOPY_RECEIVE),
#endif

  /* UDP options (IPPROTO_UDP), and the values UDP_ENCAP takes */
#ifdef UDP_CORK
  C(UDP_CORK),
#endif
#ifdef UDP_ENCAP
  C(UDP_ENCAP),
#endif
#ifdef UDP_ENCAP_ESPINUDP
  C(UDP_ENCAP_ESPINUDP),
#endif
#ifdef UDP_ENCAP_ESPINUDP_NON_IKE
  C(UDP_ENCAP_ESPINUDP_NON_IKE),
#endif
#ifdef UDP_ENCAP_GTP0
  C(UDP_ENCAP_GTP0),
#endif
#ifdef UDP_ENCAP_GTP1U
  C(UDP_ENCAP_GTP1U),
#endif
#ifdef UDP_ENCAP_L2TPINUDP
  C(UDP_ENCAP_L2TPINUDP),
#endif
#ifdef UDP_ENCAP_RXRPC
  C(UDP_ENCAP_RXRPC),
#endif
#ifdef UDP_GRO
  C(UDP_GRO),
#endif
#ifdef UDP_NOCKSUM
  C(UDP_NOCKSUM),
#endif
#ifdef UDP_NO_CHECK6_RX
  C(UDP_NO_CHECK6_RX),
#endif
#ifdef UDP_NO_CHECK6_TX
  C(UDP_NO_CHECK6_TX),
#endif
#ifdef UDP_SEGMENT
  C(UDP_SEGMENT),
#endif

  /* getaddrinfo(3) hints flags. glibc's deprecated no-ops
     AI_IDN_ALLOW_UNASSIGNED and AI_IDN_USE_STD3_ASCII_RULES (and their NI_
     twins) are left out. */
#ifdef AI_ADDRCONFIG
  C(AI_ADDRCONFIG),
#endif
#ifdef AI_ALL
  C(AI_ALL),
#endif
#ifdef AI_CANONIDN
  C(AI_CANONIDN),
#endif
#ifdef AI_CANONNAME
  C(AI_CANONNAME),
#endif
#ifdef AI_DEFAULT
  C(AI_DEFAULT),
#endif
#ifdef AI_FQDN
  C(AI_FQDN),
#endif
#ifdef AI_IDN
  C(AI_IDN),
#endif
#ifdef AI_MASK
  C(AI_MASK),
#endif
#ifdef AI_NUMERICHOST
  C(AI_NUMERICHOST),
#endif
#ifdef AI_NUMERICSERV
  C(AI_NUMERICSERV),
#endif
#ifdef AI_PASSIVE
  C(AI_PASSIVE),
#endif
#ifdef AI_SRV
  C(AI_SRV),
#endif
#ifdef AI_UNUSABLE
  C(AI_UNUSABLE),
#endif
#ifdef AI_V4MAPPED
  C(AI_V4MAPPED),
#endif
#ifdef AI_V4MAPPED_CFG
  C(AI_V4MAPPED_CFG),
#endif

  /* getnameinfo(3) flags and buffer sizes */
#ifdef NI_DGRAM
  C(NI_DGRAM),
#endif
#ifdef NI_IDN
  C(NI_IDN),
#endif
#ifdef NI_MAXHOST
  C(NI_MAXHOST),
#endif
#ifdef NI_MAXSERV
  C(NI_MAXSERV),
#endif
#ifdef NI_NAMEREQD
  C(NI_NAMEREQD),
#endif
#ifdef NI_NOFQDN
  C(NI_NOFQDN),
#endif
#ifdef NI_NUMERICHOST
  C(NI_NUMERICHOST),
#endif
#ifdef NI_NUMERICSCOPE
  C(NI_NUMERICSCOPE),
#endif
#ifdef NI_NUMERICSERV
  C(NI_NUMERICSERV),
#endif
#ifdef NI_WITHSCOPEID
  C(NI_WITHSCOPEID),
#endif

  /* Resolver error codes (getaddrinfo, getnameinfo) */
#ifdef EAI_ADDRFAMILY
  C(EAI_ADDRFAMILY),
#endif
#ifdef EAI_AGAIN
  C(EAI_AGAIN),
#endif
#ifdef EAI_ALLDONE
  C(EAI_ALLDONE),
#endif
#ifdef EAI_BADFLAGS
  C(EAI_BADFLAGS),
#endif
#ifdef EAI_BADHINTS
  C(EAI_BADHINTS),
#endif
#ifdef EAI_CANCELED
  C(EAI_CANCELED),
#endif
#ifdef EAI_FAIL
  C(EAI_FAIL),
#endif
#ifdef EAI_FAMILY
  C(EAI_FAMILY),
#endif
#ifdef EAI_IDN_ENCODE
  C(EAI_IDN_ENCODE),
#endif
#ifdef EAI_INPROGRESS
  C(EAI_INPROGRESS),
#endif
#ifdef EAI_INTR
  C(EAI_INTR),
#endif
#ifdef EAI_MEMORY
  C(EAI_MEMORY),
#endif
#ifdef EAI_NODATA
  C(EAI_NODATA),
#endif
#ifdef EAI_NONAME
  C(EAI_NONAME),
#endif
#ifdef EAI_NOTCANCELED
  C(EAI_NOTCANCELED),
#endif
#ifdef EAI_OVERFLOW
  C(EAI_OVERFLOW),
#endif
#ifdef EAI_PROTOCOL
  C(EAI_PROTOCOL),
#endif
#ifdef EAI_SERVICE
  C(EAI_SERVICE),
#endif
#ifdef EAI_SOCKTYPE
  C(EAI_SOCKTYPE),
#endif
#ifdef EAI_SYSTEM
  C(EAI_SYSTEM),
#endif

  /* IPv4 addresses in host byte order, ports, and address text sizes */
#ifdef INADDR_ALLHOSTS_GROUP
  C(INADDR_ALLHOSTS_GROUP),
#endif
#ifdef INADDR_ALLRTRS_GROUP
  C(INADDR_ALLRTRS_GROUP),
#endif
#ifdef INADDR_ALLSNOOPERS_GROUP
  C(INADDR_ALLSNOOPERS_GROUP),
#endif
#ifdef INADDR_ANY
  C(INADDR_ANY),
#endif
#ifdef INADDR_BROADCAST
  C(INADDR_BROADCAST),
#endif
#ifdef INADDR_DUMMY
  C(INADDR_DUMMY),
#endif
#ifdef INADDR_LOOPBACK
  C(INADDR_LOOPBACK),
#endif
#ifdef INADDR_MAX_LOCAL_GROUP
  C(INADDR_MAX_LOCAL_GROUP),
#endif
#ifdef INADDR_NONE
  C(INADDR_NONE),
#endif
#ifdef INADDR_UNSPEC_GROUP
  C(INADDR_UNSPEC_GROUP),
#endif
#ifdef INET6_ADDRSTRLEN
  C(INET6_ADDRSTRLEN),
#endif
#ifdef INET_ADDRSTRLEN
  C(INET_ADDRSTRLEN),
#endif
#ifdef IPPORT_RESERVED
  C(IPPORT_RESERVED),
#endif
#ifdef IPPORT_USERRESERVED
  C(IPPORT_USERRESERVED),
#endif
#ifdef SOMAXCONN
  C(SOMAXCONN),
#endif

  /* poll(2) events, as the poller takes and returns them */
#ifdef POLLATTRIB
  C(POLLATTRIB),
#endif
#ifdef POLLERR
  C(POLLERR),
#endif
#ifdef POLLEXTEND
  C(POLLEXTEND),
#endif
#ifdef POLLHUP
  C(POLLHUP),
#endif
#ifdef POLLIN
  C(POLLIN),
#endif
#ifdef POLLINIGNEOF
  C(POLLINIGNEOF),
#endif
#ifdef POLLMSG
  C(POLLMSG),
#endif
#ifdef POLLNLINK
  C(POLLNLINK),
#endif
#ifdef POLLNVAL
  C(POLLNVAL),
#endif
#ifdef POLLOUT
  C(POLLOUT),
#endif
#ifdef POLLPRI
  C(POLLPRI),
#endif
#ifdef POLLRDBAND
  C(POLLRDBAND),
#endif
#ifdef POLLRDHUP
  C(POLLRDHUP),
#endif
#ifdef POLLRDNORM
  C(POLLRDNORM),
#endif
#ifdef POLLREMOVE
  C(POLLREMOVE),
#endif
#ifdef POLLWRBAND
  C(POLLWRBAND),
#endif
#ifdef POLLWRITE
  C(POLLWRITE),
#endif
#ifdef POLLWRNORM
  C(POLLWRNORM),
#endif

  /* waitpid(2) options (core.waitpid) */
#ifdef WCONTINUED
  C(WCONTINUED),
#endif
#ifdef WNOHANG
  C(WNOHANG),
#endif
#ifdef WUNTRACED
  C(WUNTRACED),
#endif
  {NULL, 0}
};

/* errno names, every one the C library defines. Aliases are kept
   (EAGAIN and EWOULDBLOCK, EDEADLK and EDEADLOCK, EOPNOTSUPP and ENOTSUP
   share a value on Linux); the reverse lookup, errno -> name, is
   lsk_errname in error.c, which must know the same names. */
const lsk_const lsk_errnos[] = {
#ifdef E2BIG
  C(E2BIG),
#endif
#ifdef EACCES
  C(EACCES),
#endif
#ifdef EADDRINUSE
  C(EADDRINUSE),
#endif
#ifdef EADDRNOTAVAIL
  C(EADDRNOTAVAIL),
#endif
#ifdef EADV
  C(EADV),
#endif
#ifdef EAFNOSUPPORT
  C(EAFNOSUPPORT),
#endif
#ifdef EAGAIN
  C(EAGAIN),
#endif
#ifdef EALREADY
  C(EALREADY),
#endif
#ifdef EAUTH
  C(EAUTH),
#endif
#ifdef EBADARCH
  C(EBADARCH),
#endif
#ifdef EBADE
  C(EBADE),
#endif
#ifdef EBADEXEC
  C(EBADEXEC),
#endif
#ifdef EBADF
  C(EBADF),
#endif
#ifdef EBADFD
  C(EBADFD),
#endif
#ifdef EBADMACHO
  C(EBADMACHO),
#endif
#ifdef EBADMSG
  C(EBADMSG),
#endif
#ifdef EBADR
  C(EBADR),
#endif
#ifdef EBADRPC
  C(EBADRPC),
#endif
#ifdef EBADRQC
  C(EBADRQC),
#endif
#ifdef EBADSLT
  C(EBADSLT),
#endif
#ifdef EBFONT
  C(EBFONT),
#endif
#ifdef EBUSY
  C(EBUSY),
#endif
#ifdef ECANCELED
  C(ECANCELED),
#endif
#ifdef ECAPMODE
  C(ECAPMODE),
#endif
#ifdef ECHILD
  C(ECHILD),
#endif
#ifdef ECHRNG
  C(ECHRNG),
#endif
#ifdef ECOMM
  C(ECOMM),
#endif
#ifdef ECONNABORTED
  C(ECONNABORTED),
#endif
#ifdef ECONNREFUSED
  C(ECONNREFUSED),
#endif
#ifdef ECONNRESET
  C(ECONNRESET),
#endif
#ifdef EDEADLK
  C(EDEADLK),
#endif
#ifdef EDEADLOCK
  C(EDEADLOCK),
#endif
#ifdef EDESTADDRREQ
  C(EDESTADDRREQ),
#endif
#ifdef EDEVERR
  C(EDEVERR),
#endif
#ifdef EDOM
  C(EDOM),
#endif
#ifdef EDOOFUS
  C(EDOOFUS),
#endif
#ifdef EDOTDOT
  C(EDOTDOT),
#endif
#ifdef EDQUOT
  C(EDQUOT),
#endif
#ifdef EEXIST
  C(EEXIST),
#endif
#ifdef EFAULT
  C(EFAULT),
#endif
#ifdef EFBIG
  C(EFBIG),
#endif
#ifdef EFTYPE
  C(EFTYPE),
#endif
#ifdef EHOSTDOWN
  C(EHOSTDOWN),
#endif
#ifdef EHOSTUNREACH
  C(EHOSTUNREACH),
#endif
#ifdef EHWPOISON
  C(EHWPOISON),
#endif
#ifdef EIDRM
  C(EIDRM),
#endif
#ifdef EILSEQ
  C(EILSEQ),
#endif
#ifdef EINPROGRESS
  C(EINPROGRESS),
#endif
#ifdef EINTEGRITY
  C(EINTEGRITY),
#endif
#ifdef EINTR
  C(EINTR),
#endif
#ifdef EINVAL
  C(EINVAL),
#endif
#ifdef EIO
  C(EIO),
#endif
#ifdef EIPSEC
  C(EIPSEC),
#endif
#ifdef EISCONN
  C(EISCONN),
#endif
#ifdef EISDIR
  C(EISDIR),
#endif
#ifdef EISNAM
  C(EISNAM),
#endif
#ifdef EKEYEXPIRED
  C(EKEYEXPIRED),
#endif
#ifdef EKEYREJECTED
  C(EKEYREJECTED),
#endif
#ifdef EKEYREVOKED
  C(EKEYREVOKED),
#endif
#ifdef EL2HLT
  C(EL2HLT),
#endif
#ifdef EL2NSYNC
  C(EL2NSYNC),
#endif
#ifdef EL3HLT
  C(EL3HLT),
#endif
#ifdef EL3RST
  C(EL3RST),
#endif
#ifdef ELIBACC
  C(ELIBACC),
#endif
#ifdef ELIBBAD
  C(ELIBBAD),
#endif
#ifdef ELIBEXEC
  C(ELIBEXEC),
#endif
#ifdef ELIBMAX
  C(ELIBMAX),
#endif
#ifdef ELIBSCN
  C(ELIBSCN),
#endif
#ifdef ELNRNG
  C(ELNRNG),
#endif
#ifdef ELOOP
  C(ELOOP),
#endif
#ifdef EMEDIUMTYPE
  C(EMEDIUMTYPE),
#endif
#ifdef EMFILE
  C(EMFILE),
#endif
#ifdef EMLINK
  C(EMLINK),
#endif
#ifdef EMSGSIZE
  C(EMSGSIZE),
#endif
#ifdef EMULTIHOP
  C(EMULTIHOP),
#endif
#ifdef ENAMETOOLONG
  C(ENAMETOOLONG),
#endif
#ifdef ENAVAIL
  C(ENAVAIL),
#endif
#ifdef ENEEDAUTH
  C(ENEEDAUTH),
#endif
#ifdef ENETDOWN
  C(ENETDOWN),
#endif
#ifdef ENETRESET
  C(ENETRESET),
#endif
#ifdef ENETUNREACH
  C(ENETUNREACH),
#endif
#ifdef ENFILE
  C(ENFILE),
#endif
#ifdef ENOANO
  C(ENOANO),
#endif
#ifdef ENOATTR
  C(ENOATTR),
#endif
#ifdef ENOBUFS
  C(ENOBUFS),
#endif
#ifdef ENOCSI
  C(ENOCSI),
#endif
#ifdef ENODATA
  C(ENODATA),
#endif
#ifdef ENODEV
  C(ENODEV),
#endif
#ifdef ENOENT
  C(ENOENT),
#endif
#ifdef ENOEXEC
  C(ENOEXEC),
#endif
#ifdef ENOKEY
  C(ENOKEY),
#endif
#ifdef ENOLCK
  C(ENOLCK),
#endif
#ifdef ENOLINK
  C(ENOLINK),
#endif
#ifdef ENOMEDIUM
  C(ENOMEDIUM),
#endif
#ifdef ENOMEM
  C(ENOMEM),
#endif
#ifdef ENOMSG
  C(ENOMSG),
#endif
#ifdef ENONET
  C(ENONET),
#endif
#ifdef ENOPKG
  C(ENOPKG),
#endif
#ifdef ENOPOLICY
  C(ENOPOLICY),
#endif
#ifdef ENOPROTOOPT
  C(ENOPROTOOPT),
#endif
#ifdef ENOSPC
  C(ENOSPC),
#endif
#ifdef ENOSR
  C(ENOSR),
#endif
#ifdef ENOSTR
  C(ENOSTR),
#endif
#ifdef ENOSYS
  C(ENOSYS),
#endif
#ifdef ENOTBLK
  C(ENOTBLK),
#endif
#ifdef ENOTCAPABLE
  C(ENOTCAPABLE),
#endif
#ifdef ENOTCONN
  C(ENOTCONN),
#endif
#ifdef ENOTDIR
  C(ENOTDIR),
#endif
#ifdef ENOTEMPTY
  C(ENOTEMPTY),
#endif
#ifdef ENOTNAM
  C(ENOTNAM),
#endif
#ifdef ENOTRECOVERABLE
  C(ENOTRECOVERABLE),
#endif
#ifdef ENOTSOCK
  C(ENOTSOCK),
#endif
#ifdef ENOTSUP
  C(ENOTSUP),
#endif
#ifdef ENOTTY
  C(ENOTTY),
#endif
#ifdef ENOTUNIQ
  C(ENOTUNIQ),
#endif
#ifdef ENXIO
  C(ENXIO),
#endif
#ifdef EOPNOTSUPP
  C(EOPNOTSUPP),
#endif
#ifdef EOVERFLOW
  C(EOVERFLOW),
#endif
#ifdef EOWNERDEAD
  C(EOWNERDEAD),
#endif
#ifdef EPERM
  C(EPERM),
#endif
#ifdef EPFNOSUPPORT
  C(EPFNOSUPPORT),
#endif
#ifdef EPIPE
  C(EPIPE),
#endif
#ifdef EPROCLIM
  C(EPROCLIM),
#endif
#ifdef EPROCUNAVAIL
  C(EPROCUNAVAIL),
#endif
#ifdef EPROGMISMATCH
  C(EPROGMISMATCH),
#endif
#ifdef EPROGUNAVAIL
  C(EPROGUNAVAIL),
#endif
#ifdef EPROTO
  C(EPROTO),
#endif
#ifdef EPROTONOSUPPORT
  C(EPROTONOSUPPORT),
#endif
#ifdef EPROTOTYPE
  C(EPROTOTYPE),
#endif
#ifdef EPWROFF
  C(EPWROFF),
#endif
#ifdef EQFULL
  C(EQFULL),
#endif
#ifdef ERANGE
  C(ERANGE),
#endif
#ifdef EREMCHG
  C(EREMCHG),
#endif
#ifdef EREMOTE
  C(EREMOTE),
#endif
#ifdef EREMOTEIO
  C(EREMOTEIO),
#endif
#ifdef ERESTART
  C(ERESTART),
#endif
#ifdef ERFKILL
  C(ERFKILL),
#endif
#ifdef EROFS
  C(EROFS),
#endif
#ifdef ERPCMISMATCH
  C(ERPCMISMATCH),
#endif
#ifdef ESHLIBVERS
  C(ESHLIBVERS),
#endif
#ifdef ESHUTDOWN
  C(ESHUTDOWN),
#endif
#ifdef ESOCKTNOSUPPORT
  C(ESOCKTNOSUPPORT),
#endif
#ifdef ESPIPE
  C(ESPIPE),
#endif
#ifdef ESRCH
  C(ESRCH),
#endif
#ifdef ESRMNT
  C(ESRMNT),
#endif
#ifdef ESTALE
  C(ESTALE),
#endif
#ifdef ESTRPIPE
  C(ESTRPIPE),
#endif
#ifdef ETIME
  C(ETIME),
#endif
#ifdef ETIMEDOUT
  C(ETIMEDOUT),
#endif
#ifdef ETOOMANYREFS
  C(ETOOMANYREFS),
#endif
#ifdef ETXTBSY
  C(ETXTBSY),
#endif
#ifdef EUCLEAN
  C(EUCLEAN),
#endif
#ifdef EUNATCH
  C(EUNATCH),
#endif
#ifdef EUSERS
  C(EUSERS),
#endif
#ifdef EWOULDBLOCK
  C(EWOULDBLOCK),
#endif
#ifdef EXDEV
  C(EXDEV),
#endif
#ifdef EXFULL
  C(EXFULL),
#endif
  {NULL, 0}
};

/* Signal names (core.kill, core.waitpid), every one the C library defines
   as a constant (glibc's SIGRTMIN and SIGRTMAX are calls, and left out).
   Sorted, so that the reverse lookup in process.c finds SIGABRT before
   its alias SIGIOT, SIGCHLD before SIGCLD and SIGIO before SIGPOLL. */
const lsk_const lsk_signals[] = {
#ifdef SIGABRT
  C(SIGABRT),
#endif
#ifdef SIGALRM
  C(SIGALRM),
#endif
#ifdef SIGBUS
  C(SIGBUS),
#endif
#ifdef SIGCHLD
  C(SIGCHLD),
#endif
#ifdef SIGCLD
  C(SIGCLD),
#endif
#ifdef SIGCONT
  C(SIGCONT),
#endif
#ifdef SIGEMT
  C(SIGEMT),
#endif
#ifdef SIGFPE
  C(SIGFPE),
#endif
#ifdef SIGHUP
  C(SIGHUP),
#endif
#ifdef SIGILL
  C(SIGILL),
#endif
#ifdef SIGINFO
  C(SIGINFO),
#endif
#ifdef SIGINT
  C(SIGINT),
#endif
#ifdef SIGIO
  C(SIGIO),
#endif
#ifdef SIGIOT
  C(SIGIOT),
#endif
#ifdef SIGKILL
  C(SIGKILL),
#endif
#ifdef SIGLOST
  C(SIGLOST),
#endif
#ifdef SIGPIPE
  C(SIGPIPE),
#endif
#ifdef SIGPOLL
  C(SIGPOLL),
#endif
#ifdef SIGPROF
  C(SIGPROF),
#endif
#ifdef SIGPWR
  C(SIGPWR),
#endif
#ifdef SIGQUIT
  C(SIGQUIT),
#endif
#ifdef SIGSEGV
  C(SIGSEGV),
#endif
#ifdef SIGSTKFLT
  C(SIGSTKFLT),
#endif
#ifdef SIGSTOP
  C(SIGSTOP),
#endif
#ifdef SIGSYS
  C(SIGSYS),
#endif
#ifdef SIGTERM
  C(SIGTERM),
#endif
#ifdef SIGTHR
  C(SIGTHR),
#endif
#ifdef SIGTRAP
  C(SIGTRAP),
#endif
#ifdef SIGTSTP
  C(SIGTSTP),
#endif
#ifdef SIGTTIN
  C(SIGTTIN),
#endif
#ifdef SIGTTOU
  C(SIGTTOU),
#endif
#ifdef SIGURG
  C(SIGURG),
#endif
#ifdef SIGUSR1
  C(SIGUSR1),
#endif
#ifdef SIGUSR2
  C(SIGUSR2),
#endif
#ifdef SIGVTALRM
  C(SIGVTALRM),
#endif
#ifdef SIGWINCH
  C(SIGWINCH),
#endif
#ifdef SIGXCPU
  C(SIGXCPU),
#endif
#ifdef SIGXFSZ
  C(SIGXFSZ),
#endif
  {NULL, 0}
};
