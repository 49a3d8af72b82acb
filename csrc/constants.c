/* lunasock.core: the constants, as plain integers on the module. Each
 * entry is compiled only where the platform defines it. See LICENSE. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lunasock.h"

/* C(name): {"name", name} where the platform has it, nothing elsewhere;
   the #ifdef per entry is written out because a macro cannot test for
   a macro. */
#define C(x) {#x, (lua_Integer)(x)},

const lsk_const lsk_constants[] = {
  /* address families */
#ifdef AF_ALG
  C(AF_ALG)
#endif
#ifdef AF_APPLETALK
  C(AF_APPLETALK)
#endif
#ifdef AF_ASH
  C(AF_ASH)
#endif
#ifdef AF_ATMPVC
  C(AF_ATMPVC)
#endif
#ifdef AF_ATMSVC
  C(AF_ATMSVC)
#endif
#ifdef AF_AX25
  C(AF_AX25)
#endif
#ifdef AF_BLUETOOTH
  C(AF_BLUETOOTH)
#endif
#ifdef AF_BRIDGE
  C(AF_BRIDGE)
#endif
#ifdef AF_CAIF
  C(AF_CAIF)
#endif
#ifdef AF_CAN
  C(AF_CAN)
#endif
#ifdef AF_DECnet
  C(AF_DECnet)
#endif
#ifdef AF_ECONET
  C(AF_ECONET)
#endif
#ifdef AF_FILE
  C(AF_FILE)
#endif
#ifdef AF_IB
  C(AF_IB)
#endif
#ifdef AF_IEEE802154
  C(AF_IEEE802154)
#endif
#ifdef AF_INET
  C(AF_INET)
#endif
#ifdef AF_INET6
  C(AF_INET6)
#endif
#ifdef AF_IPX
  C(AF_IPX)
#endif
#ifdef AF_IRDA
  C(AF_IRDA)
#endif
#ifdef AF_ISDN
  C(AF_ISDN)
#endif
#ifdef AF_IUCV
  C(AF_IUCV)
#endif
#ifdef AF_KCM
  C(AF_KCM)
#endif
#ifdef AF_KEY
  C(AF_KEY)
#endif
#ifdef AF_LLC
  C(AF_LLC)
#endif
#ifdef AF_LOCAL
  C(AF_LOCAL)
#endif
#ifdef AF_MCTP
  C(AF_MCTP)
#endif
#ifdef AF_MPLS
  C(AF_MPLS)
#endif
#ifdef AF_NETBEUI
  C(AF_NETBEUI)
#endif
#ifdef AF_NETLINK
  C(AF_NETLINK)
#endif
#ifdef AF_NETROM
  C(AF_NETROM)
#endif
#ifdef AF_NFC
  C(AF_NFC)
#endif
#ifdef AF_PACKET
  C(AF_PACKET)
#endif
#ifdef AF_PHONET
  C(AF_PHONET)
#endif
#ifdef AF_PPPOX
  C(AF_PPPOX)
#endif
#ifdef AF_QIPCRTR
  C(AF_QIPCRTR)
#endif
#ifdef AF_RDS
  C(AF_RDS)
#endif
#ifdef AF_ROSE
  C(AF_ROSE)
#endif
#ifdef AF_ROUTE
  C(AF_ROUTE)
#endif
#ifdef AF_RXRPC
  C(AF_RXRPC)
#endif
#ifdef AF_SECURITY
  C(AF_SECURITY)
#endif
#ifdef AF_SMC
  C(AF_SMC)
#endif
#ifdef AF_SNA
  C(AF_SNA)
#endif
#ifdef AF_TIPC
  C(AF_TIPC)
#endif
#ifdef AF_UNIX
  C(AF_UNIX)
#endif
#ifdef AF_UNSPEC
  C(AF_UNSPEC)
#endif
#ifdef AF_VSOCK
  C(AF_VSOCK)
#endif
#ifdef AF_WANPIPE
  C(AF_WANPIPE)
#endif
#ifdef AF_X25
  C(AF_X25)
#endif
#ifdef AF_XDP
  C(AF_XDP)
#endif
  /* socket types */
#ifdef SOCK_CLOEXEC
  C(SOCK_CLOEXEC)
#endif
#ifdef SOCK_DCCP
  C(SOCK_DCCP)
#endif
#ifdef SOCK_DGRAM
  C(SOCK_DGRAM)
#endif
#ifdef SOCK_NONBLOCK
  C(SOCK_NONBLOCK)
#endif
#ifdef SOCK_PACKET
  C(SOCK_PACKET)
#endif
#ifdef SOCK_RAW
  C(SOCK_RAW)
#endif
#ifdef SOCK_RDM
  C(SOCK_RDM)
#endif
#ifdef SOCK_SEQPACKET
  C(SOCK_SEQPACKET)
#endif
#ifdef SOCK_STREAM
  C(SOCK_STREAM)
#endif
  /* protocols */
#ifdef IPPROTO_AH
  C(IPPROTO_AH)
#endif
#ifdef IPPROTO_BEETPH
  C(IPPROTO_BEETPH)
#endif
#ifdef IPPROTO_COMP
  C(IPPROTO_COMP)
#endif
#ifdef IPPROTO_DCCP
  C(IPPROTO_DCCP)
#endif
#ifdef IPPROTO_DSTOPTS
  C(IPPROTO_DSTOPTS)
#endif
#ifdef IPPROTO_EGP
  C(IPPROTO_EGP)
#endif
#ifdef IPPROTO_ENCAP
  C(IPPROTO_ENCAP)
#endif
#ifdef IPPROTO_ESP
  C(IPPROTO_ESP)
#endif
#ifdef IPPROTO_ETHERNET
  C(IPPROTO_ETHERNET)
#endif
#ifdef IPPROTO_FRAGMENT
  C(IPPROTO_FRAGMENT)
#endif
#ifdef IPPROTO_GRE
  C(IPPROTO_GRE)
#endif
#ifdef IPPROTO_HOPOPTS
  C(IPPROTO_HOPOPTS)
#endif
#ifdef IPPROTO_ICMP
  C(IPPROTO_ICMP)
#endif
#ifdef IPPROTO_ICMPV6
  C(IPPROTO_ICMPV6)
#endif
#ifdef IPPROTO_IDP
  C(IPPROTO_IDP)
#endif
#ifdef IPPROTO_IGMP
  C(IPPROTO_IGMP)
#endif
#ifdef IPPROTO_IP
  C(IPPROTO_IP)
#endif
#ifdef IPPROTO_IPIP
  C(IPPROTO_IPIP)
#endif
#ifdef IPPROTO_IPV6
  C(IPPROTO_IPV6)
#endif
#ifdef IPPROTO_MH
  C(IPPROTO_MH)
#endif
#ifdef IPPROTO_MPLS
  C(IPPROTO_MPLS)
#endif
#ifdef IPPROTO_MPTCP
  C(IPPROTO_MPTCP)
#endif
#ifdef IPPROTO_MTP
  C(IPPROTO_MTP)
#endif
#ifdef IPPROTO_NONE
  C(IPPROTO_NONE)
#endif
#ifdef IPPROTO_PIM
  C(IPPROTO_PIM)
#endif
#ifdef IPPROTO_PUP
  C(IPPROTO_PUP)
#endif
#ifdef IPPROTO_RAW
  C(IPPROTO_RAW)
#endif
#ifdef IPPROTO_ROUTING
  C(IPPROTO_ROUTING)
#endif
#ifdef IPPROTO_RSVP
  C(IPPROTO_RSVP)
#endif
#ifdef IPPROTO_SCTP
  C(IPPROTO_SCTP)
#endif
#ifdef IPPROTO_TCP
  C(IPPROTO_TCP)
#endif
#ifdef IPPROTO_TP
  C(IPPROTO_TP)
#endif
#ifdef IPPROTO_UDP
  C(IPPROTO_UDP)
#endif
#ifdef IPPROTO_UDPLITE
  C(IPPROTO_UDPLITE)
#endif
  /* send/recv flags */
#ifdef MSG_BATCH
  C(MSG_BATCH)
#endif
#ifdef MSG_CMSG_CLOEXEC
  C(MSG_CMSG_CLOEXEC)
#endif
#ifdef MSG_CONFIRM
  C(MSG_CONFIRM)
#endif
#ifdef MSG_CTRUNC
  C(MSG_CTRUNC)
#endif
#ifdef MSG_DONTROUTE
  C(MSG_DONTROUTE)
#endif
#ifdef MSG_DONTWAIT
  C(MSG_DONTWAIT)
#endif
#ifdef MSG_EOR
  C(MSG_EOR)
#endif
#ifdef MSG_ERRQUEUE
  C(MSG_ERRQUEUE)
#endif
#ifdef MSG_FASTOPEN
  C(MSG_FASTOPEN)
#endif
#ifdef MSG_FIN
  C(MSG_FIN)
#endif
#ifdef MSG_MORE
  C(MSG_MORE)
#endif
#ifdef MSG_NOSIGNAL
  C(MSG_NOSIGNAL)
#endif
#ifdef MSG_OOB
  C(MSG_OOB)
#endif
#ifdef MSG_PEEK
  C(MSG_PEEK)
#endif
#ifdef MSG_PROXY
  C(MSG_PROXY)
#endif
#ifdef MSG_RST
  C(MSG_RST)
#endif
#ifdef MSG_SYN
  C(MSG_SYN)
#endif
#ifdef MSG_TRUNC
  C(MSG_TRUNC)
#endif
#ifdef MSG_TRYHARD
  C(MSG_TRYHARD)
#endif
#ifdef MSG_WAITALL
  C(MSG_WAITALL)
#endif
#ifdef MSG_WAITFORONE
  C(MSG_WAITFORONE)
#endif
#ifdef MSG_ZEROCOPY
  C(MSG_ZEROCOPY)
#endif
  /* shutdown */
#ifdef SHUT_RD
  C(SHUT_RD)
#endif
#ifdef SHUT_RDWR
  C(SHUT_RDWR)
#endif
#ifdef SHUT_WR
  C(SHUT_WR)
#endif
  /* option levels */
#ifdef SOL_AAL
  C(SOL_AAL)
#endif
#ifdef SOL_ALG
  C(SOL_ALG)
#endif
#ifdef SOL_ATM
  C(SOL_ATM)
#endif
#ifdef SOL_BLUETOOTH
  C(SOL_BLUETOOTH)
#endif
#ifdef SOL_CAIF
  C(SOL_CAIF)
#endif
#ifdef SOL_DCCP
  C(SOL_DCCP)
#endif
#ifdef SOL_DECNET
  C(SOL_DECNET)
#endif
#ifdef SOL_ICMPV6
  C(SOL_ICMPV6)
#endif
#ifdef SOL_IP
  C(SOL_IP)
#endif
#ifdef SOL_IPV6
  C(SOL_IPV6)
#endif
#ifdef SOL_IUCV
  C(SOL_IUCV)
#endif
#ifdef SOL_KCM
  C(SOL_KCM)
#endif
#ifdef SOL_LLC
  C(SOL_LLC)
#endif
#ifdef SOL_MCTP
  C(SOL_MCTP)
#endif
#ifdef SOL_MPTCP
  C(SOL_MPTCP)
#endif
#ifdef SOL_NETBEUI
  C(SOL_NETBEUI)
#endif
#ifdef SOL_NETLINK
  C(SOL_NETLINK)
#endif
#ifdef SOL_NFC
  C(SOL_NFC)
#endif
#ifdef SOL_PACKET
  C(SOL_PACKET)
#endif
#ifdef SOL_PNPIPE
  C(SOL_PNPIPE)
#endif
#ifdef SOL_PPPOL2TP
  C(SOL_PPPOL2TP)
#endif
#ifdef SOL_RAW
  C(SOL_RAW)
#endif
#ifdef SOL_RDS
  C(SOL_RDS)
#endif
#ifdef SOL_RXRPC
  C(SOL_RXRPC)
#endif
#ifdef SOL_SMC
  C(SOL_SMC)
#endif
#ifdef SOL_SOCKET
  C(SOL_SOCKET)
#endif
#ifdef SOL_TCP
  C(SOL_TCP)
#endif
#ifdef SOL_TIPC
  C(SOL_TIPC)
#endif
#ifdef SOL_TLS
  C(SOL_TLS)
#endif
#ifdef SOL_UDP
  C(SOL_UDP)
#endif
#ifdef SOL_X25
  C(SOL_X25)
#endif
#ifdef SOL_XDP
  C(SOL_XDP)
#endif
  /* socket options */
#ifdef SO_ACCEPTCONN
  C(SO_ACCEPTCONN)
#endif
#ifdef SO_ATTACH_BPF
  C(SO_ATTACH_BPF)
#endif
#ifdef SO_ATTACH_FILTER
  C(SO_ATTACH_FILTER)
#endif
#ifdef SO_ATTACH_REUSEPORT_CBPF
  C(SO_ATTACH_REUSEPORT_CBPF)
#endif
#ifdef SO_ATTACH_REUSEPORT_EBPF
  C(SO_ATTACH_REUSEPORT_EBPF)
#endif
#ifdef SO_BINDTODEVICE
  C(SO_BINDTODEVICE)
#endif
#ifdef SO_BINDTOIFINDEX
  C(SO_BINDTOIFINDEX)
#endif
#ifdef SO_BPF_EXTENSIONS
  C(SO_BPF_EXTENSIONS)
#endif
#ifdef SO_BROADCAST
  C(SO_BROADCAST)
#endif
#ifdef SO_BSDCOMPAT
  C(SO_BSDCOMPAT)
#endif
#ifdef SO_BUF_LOCK
  C(SO_BUF_LOCK)
#endif
#ifdef SO_BUSY_POLL
  C(SO_BUSY_POLL)
#endif
#ifdef SO_BUSY_POLL_BUDGET
  C(SO_BUSY_POLL_BUDGET)
#endif
#ifdef SO_CNX_ADVICE
  C(SO_CNX_ADVICE)
#endif
#ifdef SO_COOKIE
  C(SO_COOKIE)
#endif
#ifdef SO_DEBUG
  C(SO_DEBUG)
#endif
#ifdef SO_DETACH_BPF
  C(SO_DETACH_BPF)
#endif
#ifdef SO_DETACH_FILTER
  C(SO_DETACH_FILTER)
#endif
#ifdef SO_DETACH_REUSEPORT_BPF
  C(SO_DETACH_REUSEPORT_BPF)
#endif
#ifdef SO_DOMAIN
  C(SO_DOMAIN)
#endif
#ifdef SO_DONTROUTE
  C(SO_DONTROUTE)
#endif
#ifdef SO_ERROR
  C(SO_ERROR)
#endif
#ifdef SO_GET_FILTER
  C(SO_GET_FILTER)
#endif
#ifdef SO_INCOMING_CPU
  C(SO_INCOMING_CPU)
#endif
#ifdef SO_INCOMING_NAPI_ID
  C(SO_INCOMING_NAPI_ID)
#endif
#ifdef SO_KEEPALIVE
  C(SO_KEEPALIVE)
#endif
#ifdef SO_LINGER
  C(SO_LINGER)
#endif
#ifdef SO_LOCK_FILTER
  C(SO_LOCK_FILTER)
#endif
#ifdef SO_MARK
  C(SO_MARK)
#endif
#ifdef SO_MAX_PACING_RATE
  C(SO_MAX_PACING_RATE)
#endif
#ifdef SO_MEMINFO
  C(SO_MEMINFO)
#endif
#ifdef SO_NETNS_COOKIE
  C(SO_NETNS_COOKIE)
#endif
#ifdef SO_NOFCS
  C(SO_NOFCS)
#endif
#ifdef SO_NO_CHECK
  C(SO_NO_CHECK)
#endif
#ifdef SO_OOBINLINE
  C(SO_OOBINLINE)
#endif
#ifdef SO_PASSCRED
  C(SO_PASSCRED)
#endif
#ifdef SO_PASSSEC
  C(SO_PASSSEC)
#endif
#ifdef SO_PEEK_OFF
  C(SO_PEEK_OFF)
#endif
#ifdef SO_PEERCRED
  C(SO_PEERCRED)
#endif
#ifdef SO_PEERGROUPS
  C(SO_PEERGROUPS)
#endif
#ifdef SO_PEERNAME
  C(SO_PEERNAME)
#endif
#ifdef SO_PEERSEC
  C(SO_PEERSEC)
#endif
#ifdef SO_PREFER_BUSY_POLL
  C(SO_PREFER_BUSY_POLL)
#endif
#ifdef SO_PRIORITY
  C(SO_PRIORITY)
#endif
#ifdef SO_PROTOCOL
  C(SO_PROTOCOL)
#endif
#ifdef SO_RCVBUF
  C(SO_RCVBUF)
#endif
#ifdef SO_RCVBUFFORCE
  C(SO_RCVBUFFORCE)
#endif
#ifdef SO_RCVLOWAT
  C(SO_RCVLOWAT)
#endif
#ifdef SO_RCVMARK
  C(SO_RCVMARK)
#endif
#ifdef SO_RCVTIMEO
  C(SO_RCVTIMEO)
#endif
#ifdef SO_RESERVE_MEM
  C(SO_RESERVE_MEM)
#endif
#ifdef SO_REUSEADDR
  C(SO_REUSEADDR)
#endif
#ifdef SO_REUSEPORT
  C(SO_REUSEPORT)
#endif
#ifdef SO_RXQ_OVFL
  C(SO_RXQ_OVFL)
#endif
#ifdef SO_SECURITY_AUTHENTICATION
  C(SO_SECURITY_AUTHENTICATION)
#endif
#ifdef SO_SECURITY_ENCRYPTION_NETWORK
  C(SO_SECURITY_ENCRYPTION_NETWORK)
#endif
#ifdef SO_SECURITY_ENCRYPTION_TRANSPORT
  C(SO_SECURITY_ENCRYPTION_TRANSPORT)
#endif
#ifdef SO_SELECT_ERR_QUEUE
  C(SO_SELECT_ERR_QUEUE)
#endif
#ifdef SO_SNDBUF
  C(SO_SNDBUF)
#endif
#ifdef SO_SNDBUFFORCE
  C(SO_SNDBUFFORCE)
#endif
#ifdef SO_SNDLOWAT
  C(SO_SNDLOWAT)
#endif
#ifdef SO_SNDTIMEO
  C(SO_SNDTIMEO)
#endif
#ifdef SO_TIMESTAMP
  C(SO_TIMESTAMP)
#endif
#ifdef SO_TIMESTAMPING
  C(SO_TIMESTAMPING)
#endif
#ifdef SO_TIMESTAMPNS
  C(SO_TIMESTAMPNS)
#endif
#ifdef SO_TXREHASH
  C(SO_TXREHASH)
#endif
#ifdef SO_TXTIME
  C(SO_TXTIME)
#endif
#ifdef SO_TYPE
  C(SO_TYPE)
#endif
#ifdef SO_WIFI_STATUS
  C(SO_WIFI_STATUS)
#endif
#ifdef SO_ZEROCOPY
  C(SO_ZEROCOPY)
#endif
  /* TCP options */
#ifdef TCP_CC_INFO
  C(TCP_CC_INFO)
#endif
#ifdef TCP_CM_INQ
  C(TCP_CM_INQ)
#endif
#ifdef TCP_CONGESTION
  C(TCP_CONGESTION)
#endif
#ifdef TCP_CORK
  C(TCP_CORK)
#endif
#ifdef TCP_DEFER_ACCEPT
  C(TCP_DEFER_ACCEPT)
#endif
#ifdef TCP_FASTOPEN
  C(TCP_FASTOPEN)
#endif
#ifdef TCP_FASTOPEN_CONNECT
  C(TCP_FASTOPEN_CONNECT)
#endif
#ifdef TCP_FASTOPEN_KEY
  C(TCP_FASTOPEN_KEY)
#endif
#ifdef TCP_FASTOPEN_NO_COOKIE
  C(TCP_FASTOPEN_NO_COOKIE)
#endif
#ifdef TCP_INFO
  C(TCP_INFO)
#endif
#ifdef TCP_INQ
  C(TCP_INQ)
#endif
#ifdef TCP_KEEPCNT
  C(TCP_KEEPCNT)
#endif
#ifdef TCP_KEEPIDLE
  C(TCP_KEEPIDLE)
#endif
#ifdef TCP_KEEPINTVL
  C(TCP_KEEPINTVL)
#endif
#ifdef TCP_LINGER2
  C(TCP_LINGER2)
#endif
#ifdef TCP_MAXSEG
  C(TCP_MAXSEG)
#endif
#ifdef TCP_MD5SIG
  C(TCP_MD5SIG)
#endif
#ifdef TCP_MD5SIG_EXT
  C(TCP_MD5SIG_EXT)
#endif
#ifdef TCP_NODELAY
  C(TCP_NODELAY)
#endif
#ifdef TCP_NOTSENT_LOWAT
  C(TCP_NOTSENT_LOWAT)
#endif
#ifdef TCP_QUEUE_SEQ
  C(TCP_QUEUE_SEQ)
#endif
#ifdef TCP_QUICKACK
  C(TCP_QUICKACK)
#endif
#ifdef TCP_REPAIR
  C(TCP_REPAIR)
#endif
#ifdef TCP_REPAIR_OPTIONS
  C(TCP_REPAIR_OPTIONS)
#endif
#ifdef TCP_REPAIR_QUEUE
  C(TCP_REPAIR_QUEUE)
#endif
#ifdef TCP_REPAIR_WINDOW
  C(TCP_REPAIR_WINDOW)
#endif
#ifdef TCP_SAVED_SYN
  C(TCP_SAVED_SYN)
#endif
#ifdef TCP_SAVE_SYN
  C(TCP_SAVE_SYN)
#endif
#ifdef TCP_SYNCNT
  C(TCP_SYNCNT)
#endif
#ifdef TCP_S_DATA_IN
  C(TCP_S_DATA_IN)
#endif
#ifdef TCP_S_DATA_OUT
  C(TCP_S_DATA_OUT)
#endif
#ifdef TCP_THIN_DUPACK
  C(TCP_THIN_DUPACK)
#endif
#ifdef TCP_THIN_LINEAR_TIMEOUTS
  C(TCP_THIN_LINEAR_TIMEOUTS)
#endif
#ifdef TCP_TIMESTAMP
  C(TCP_TIMESTAMP)
#endif
#ifdef TCP_TX_DELAY
  C(TCP_TX_DELAY)
#endif
#ifdef TCP_ULP
  C(TCP_ULP)
#endif
#ifdef TCP_USER_TIMEOUT
  C(TCP_USER_TIMEOUT)
#endif
#ifdef TCP_WINDOW_CLAMP
  C(TCP_WINDOW_CLAMP)
#endif
#ifdef TCP_ZEROCOPY_RECEIVE
  C(TCP_ZEROCOPY_RECEIVE)
#endif
  /* IPv4 options */
#ifdef IP_ADD_MEMBERSHIP
  C(IP_ADD_MEMBERSHIP)
#endif
#ifdef IP_ADD_SOURCE_MEMBERSHIP
  C(IP_ADD_SOURCE_MEMBERSHIP)
#endif
#ifdef IP_BIND_ADDRESS_NO_PORT
  C(IP_BIND_ADDRESS_NO_PORT)
#endif
#ifdef IP_BLOCK_SOURCE
  C(IP_BLOCK_SOURCE)
#endif
#ifdef IP_CHECKSUM
  C(IP_CHECKSUM)
#endif
#ifdef IP_DROP_MEMBERSHIP
  C(IP_DROP_MEMBERSHIP)
#endif
#ifdef IP_DROP_SOURCE_MEMBERSHIP
  C(IP_DROP_SOURCE_MEMBERSHIP)
#endif
#ifdef IP_FREEBIND
  C(IP_FREEBIND)
#endif
#ifdef IP_HDRINCL
  C(IP_HDRINCL)
#endif
#ifdef IP_IPSEC_POLICY
  C(IP_IPSEC_POLICY)
#endif
#ifdef IP_MINTTL
  C(IP_MINTTL)
#endif
#ifdef IP_MSFILTER
  C(IP_MSFILTER)
#endif
#ifdef IP_MTU
  C(IP_MTU)
#endif
#ifdef IP_MTU_DISCOVER
  C(IP_MTU_DISCOVER)
#endif
#ifdef IP_MULTICAST_ALL
  C(IP_MULTICAST_ALL)
#endif
#ifdef IP_MULTICAST_IF
  C(IP_MULTICAST_IF)
#endif
#ifdef IP_MULTICAST_LOOP
  C(IP_MULTICAST_LOOP)
#endif
#ifdef IP_MULTICAST_TTL
  C(IP_MULTICAST_TTL)
#endif
#ifdef IP_NODEFRAG
  C(IP_NODEFRAG)
#endif
#ifdef IP_OPTIONS
  C(IP_OPTIONS)
#endif
#ifdef IP_ORIGDSTADDR
  C(IP_ORIGDSTADDR)
#endif
#ifdef IP_PASSSEC
  C(IP_PASSSEC)
#endif
#ifdef IP_PKTINFO
  C(IP_PKTINFO)
#endif
#ifdef IP_PKTOPTIONS
  C(IP_PKTOPTIONS)
#endif
#ifdef IP_PMTUDISC
  C(IP_PMTUDISC)
#endif
#ifdef IP_RECVERR
  C(IP_RECVERR)
#endif
#ifdef IP_RECVERR_RFC4884
  C(IP_RECVERR_RFC4884)
#endif
#ifdef IP_RECVFRAGSIZE
  C(IP_RECVFRAGSIZE)
#endif
#ifdef IP_RECVOPTS
  C(IP_RECVOPTS)
#endif
#ifdef IP_RECVORIGDSTADDR
  C(IP_RECVORIGDSTADDR)
#endif
#ifdef IP_RECVRETOPTS
  C(IP_RECVRETOPTS)
#endif
#ifdef IP_RECVTOS
  C(IP_RECVTOS)
#endif
#ifdef IP_RECVTTL
  C(IP_RECVTTL)
#endif
#ifdef IP_RETOPTS
  C(IP_RETOPTS)
#endif
#ifdef IP_ROUTER_ALERT
  C(IP_ROUTER_ALERT)
#endif
#ifdef IP_TOS
  C(IP_TOS)
#endif
#ifdef IP_TRANSPARENT
  C(IP_TRANSPARENT)
#endif
#ifdef IP_TTL
  C(IP_TTL)
#endif
#ifdef IP_UNBLOCK_SOURCE
  C(IP_UNBLOCK_SOURCE)
#endif
#ifdef IP_UNICAST_IF
  C(IP_UNICAST_IF)
#endif
#ifdef IP_XFRM_POLICY
  C(IP_XFRM_POLICY)
#endif
  /* IPv6 options */
#ifdef IPV6_2292DSTOPTS
  C(IPV6_2292DSTOPTS)
#endif
#ifdef IPV6_2292HOPLIMIT
  C(IPV6_2292HOPLIMIT)
#endif
#ifdef IPV6_2292HOPOPTS
  C(IPV6_2292HOPOPTS)
#endif
#ifdef IPV6_2292PKTINFO
  C(IPV6_2292PKTINFO)
#endif
#ifdef IPV6_2292PKTOPTIONS
  C(IPV6_2292PKTOPTIONS)
#endif
#ifdef IPV6_2292RTHDR
  C(IPV6_2292RTHDR)
#endif
#ifdef IPV6_ADDRFORM
  C(IPV6_ADDRFORM)
#endif
#ifdef IPV6_ADD_MEMBERSHIP
  C(IPV6_ADD_MEMBERSHIP)
#endif
#ifdef IPV6_AUTHHDR
  C(IPV6_AUTHHDR)
#endif
#ifdef IPV6_AUTOFLOWLABEL
  C(IPV6_AUTOFLOWLABEL)
#endif
#ifdef IPV6_CHECKSUM
  C(IPV6_CHECKSUM)
#endif
#ifdef IPV6_DONTFRAG
  C(IPV6_DONTFRAG)
#endif
#ifdef IPV6_DROP_MEMBERSHIP
  C(IPV6_DROP_MEMBERSHIP)
#endif
#ifdef IPV6_DSTOPTS
  C(IPV6_DSTOPTS)
#endif
#ifdef IPV6_FREEBIND
  C(IPV6_FREEBIND)
#endif
#ifdef IPV6_HDRINCL
  C(IPV6_HDRINCL)
#endif
#ifdef IPV6_HOPLIMIT
  C(IPV6_HOPLIMIT)
#endif
#ifdef IPV6_HOPOPTS
  C(IPV6_HOPOPTS)
#endif
#ifdef IPV6_IPSEC_POLICY
  C(IPV6_IPSEC_POLICY)
#endif
#ifdef IPV6_JOIN_ANYCAST
  C(IPV6_JOIN_ANYCAST)
#endif
#ifdef IPV6_JOIN_GROUP
  C(IPV6_JOIN_GROUP)
#endif
#ifdef IPV6_LEAVE_ANYCAST
  C(IPV6_LEAVE_ANYCAST)
#endif
#ifdef IPV6_LEAVE_GROUP
  C(IPV6_LEAVE_GROUP)
#endif
#ifdef IPV6_MINHOPCOUNT
  C(IPV6_MINHOPCOUNT)
#endif
#ifdef IPV6_MTU
  C(IPV6_MTU)
#endif
#ifdef IPV6_MTU_DISCOVER
  C(IPV6_MTU_DISCOVER)
#endif
#ifdef IPV6_MULTICAST_ALL
  C(IPV6_MULTICAST_ALL)
#endif
#ifdef IPV6_MULTICAST_HOPS
  C(IPV6_MULTICAST_HOPS)
#endif
#ifdef IPV6_MULTICAST_IF
  C(IPV6_MULTICAST_IF)
#endif
#ifdef IPV6_MULTICAST_LOOP
  C(IPV6_MULTICAST_LOOP)
#endif
#ifdef IPV6_NEXTHOP
  C(IPV6_NEXTHOP)
#endif
#ifdef IPV6_ORIGDSTADDR
  C(IPV6_ORIGDSTADDR)
#endif
#ifdef IPV6_PATHMTU
  C(IPV6_PATHMTU)
#endif
#ifdef IPV6_PKTINFO
  C(IPV6_PKTINFO)
#endif
#ifdef IPV6_RECVDSTOPTS
  C(IPV6_RECVDSTOPTS)
#endif
#ifdef IPV6_RECVERR
  C(IPV6_RECVERR)
#endif
#ifdef IPV6_RECVERR_RFC4884
  C(IPV6_RECVERR_RFC4884)
#endif
#ifdef IPV6_RECVFRAGSIZE
  C(IPV6_RECVFRAGSIZE)
#endif
#ifdef IPV6_RECVHOPLIMIT
  C(IPV6_RECVHOPLIMIT)
#endif
#ifdef IPV6_RECVHOPOPTS
  C(IPV6_RECVHOPOPTS)
#endif
#ifdef IPV6_RECVORIGDSTADDR
  C(IPV6_RECVORIGDSTADDR)
#endif
#ifdef IPV6_RECVPATHMTU
  C(IPV6_RECVPATHMTU)
#endif
#ifdef IPV6_RECVPKTINFO
  C(IPV6_RECVPKTINFO)
#endif
#ifdef IPV6_RECVRTHDR
  C(IPV6_RECVRTHDR)
#endif
#ifdef IPV6_RECVTCLASS
  C(IPV6_RECVTCLASS)
#endif
#ifdef IPV6_ROUTER_ALERT
  C(IPV6_ROUTER_ALERT)
#endif
#ifdef IPV6_ROUTER_ALERT_ISOLATE
  C(IPV6_ROUTER_ALERT_ISOLATE)
#endif
#ifdef IPV6_RTHDR
  C(IPV6_RTHDR)
#endif
#ifdef IPV6_RTHDRDSTOPTS
  C(IPV6_RTHDRDSTOPTS)
#endif
#ifdef IPV6_RTHDR_LOOSE
  C(IPV6_RTHDR_LOOSE)
#endif
#ifdef IPV6_RTHDR_STRICT
  C(IPV6_RTHDR_STRICT)
#endif
#ifdef IPV6_RTHDR_TYPE_0
  C(IPV6_RTHDR_TYPE_0)
#endif
#ifdef IPV6_RXDSTOPTS
  C(IPV6_RXDSTOPTS)
#endif
#ifdef IPV6_RXHOPOPTS
  C(IPV6_RXHOPOPTS)
#endif
#ifdef IPV6_TCLASS
  C(IPV6_TCLASS)
#endif
#ifdef IPV6_TRANSPARENT
  C(IPV6_TRANSPARENT)
#endif
#ifdef IPV6_UNICAST_HOPS
  C(IPV6_UNICAST_HOPS)
#endif
#ifdef IPV6_UNICAST_IF
  C(IPV6_UNICAST_IF)
#endif
#ifdef IPV6_V6ONLY
  C(IPV6_V6ONLY)
#endif
#ifdef IPV6_XFRM_POLICY
  C(IPV6_XFRM_POLICY)
#endif
  /* getaddrinfo flags */
#ifdef AI_ADDRCONFIG
  C(AI_ADDRCONFIG)
#endif
#ifdef AI_ALL
  C(AI_ALL)
#endif
#ifdef AI_CANONIDN
  C(AI_CANONIDN)
#endif
#ifdef AI_CANONNAME
  C(AI_CANONNAME)
#endif
#ifdef AI_IDN
  C(AI_IDN)
#endif
#ifdef AI_NUMERICHOST
  C(AI_NUMERICHOST)
#endif
#ifdef AI_NUMERICSERV
  C(AI_NUMERICSERV)
#endif
#ifdef AI_PASSIVE
  C(AI_PASSIVE)
#endif
#ifdef AI_V4MAPPED
  C(AI_V4MAPPED)
#endif
  /* getnameinfo flags */
#ifdef NI_DGRAM
  C(NI_DGRAM)
#endif
#ifdef NI_IDN
  C(NI_IDN)
#endif
#ifdef NI_MAXHOST
  C(NI_MAXHOST)
#endif
#ifdef NI_MAXSERV
  C(NI_MAXSERV)
#endif
#ifdef NI_NAMEREQD
  C(NI_NAMEREQD)
#endif
#ifdef NI_NOFQDN
  C(NI_NOFQDN)
#endif
#ifdef NI_NUMERICHOST
  C(NI_NUMERICHOST)
#endif
#ifdef NI_NUMERICSERV
  C(NI_NUMERICSERV)
#endif
  /* resolver errors */
#ifdef EAI_ADDRFAMILY
  C(EAI_ADDRFAMILY)
#endif
#ifdef EAI_AGAIN
  C(EAI_AGAIN)
#endif
#ifdef EAI_ALLDONE
  C(EAI_ALLDONE)
#endif
#ifdef EAI_BADFLAGS
  C(EAI_BADFLAGS)
#endif
#ifdef EAI_CANCELED
  C(EAI_CANCELED)
#endif
#ifdef EAI_FAIL
  C(EAI_FAIL)
#endif
#ifdef EAI_FAMILY
  C(EAI_FAMILY)
#endif
#ifdef EAI_IDN_ENCODE
  C(EAI_IDN_ENCODE)
#endif
#ifdef EAI_INPROGRESS
  C(EAI_INPROGRESS)
#endif
#ifdef EAI_INTR
  C(EAI_INTR)
#endif
#ifdef EAI_MEMORY
  C(EAI_MEMORY)
#endif
#ifdef EAI_NODATA
  C(EAI_NODATA)
#endif
#ifdef EAI_NONAME
  C(EAI_NONAME)
#endif
#ifdef EAI_NOTCANCELED
  C(EAI_NOTCANCELED)
#endif
#ifdef EAI_OVERFLOW
  C(EAI_OVERFLOW)
#endif
#ifdef EAI_SERVICE
  C(EAI_SERVICE)
#endif
#ifdef EAI_SOCKTYPE
  C(EAI_SOCKTYPE)
#endif
#ifdef EAI_SYSTEM
  C(EAI_SYSTEM)
#endif
  /* control messages */
#ifdef SCM_CREDENTIALS
  C(SCM_CREDENTIALS)
#endif
#ifdef SCM_RIGHTS
  C(SCM_RIGHTS)
#endif
#ifdef SCM_TIMESTAMP
  C(SCM_TIMESTAMP)
#endif
#ifdef SCM_TIMESTAMPING
  C(SCM_TIMESTAMPING)
#endif
#ifdef SCM_TIMESTAMPING_OPT_STATS
  C(SCM_TIMESTAMPING_OPT_STATS)
#endif
#ifdef SCM_TIMESTAMPING_PKTINFO
  C(SCM_TIMESTAMPING_PKTINFO)
#endif
#ifdef SCM_TIMESTAMPNS
  C(SCM_TIMESTAMPNS)
#endif
#ifdef SCM_TXTIME
  C(SCM_TXTIME)
#endif
#ifdef SCM_WIFI_STATUS
  C(SCM_WIFI_STATUS)
#endif
  /* IPv4 addresses */
#ifdef INADDR_ANY
  C(INADDR_ANY)
#endif
#ifdef INADDR_BROADCAST
  C(INADDR_BROADCAST)
#endif
#ifdef INADDR_DUMMY
  C(INADDR_DUMMY)
#endif
#ifdef INADDR_LOOPBACK
  C(INADDR_LOOPBACK)
#endif
#ifdef INADDR_NONE
  C(INADDR_NONE)
#endif
  /* poll events */
#ifdef POLLERR
  C(POLLERR)
#endif
#ifdef POLLHUP
  C(POLLHUP)
#endif
#ifdef POLLIN
  C(POLLIN)
#endif
#ifdef POLLMSG
  C(POLLMSG)
#endif
#ifdef POLLNVAL
  C(POLLNVAL)
#endif
#ifdef POLLOUT
  C(POLLOUT)
#endif
#ifdef POLLPRI
  C(POLLPRI)
#endif
#ifdef POLLRDBAND
  C(POLLRDBAND)
#endif
#ifdef POLLRDHUP
  C(POLLRDHUP)
#endif
#ifdef POLLRDNORM
  C(POLLRDNORM)
#endif
#ifdef POLLREMOVE
  C(POLLREMOVE)
#endif
#ifdef POLLWRBAND
  C(POLLWRBAND)
#endif
#ifdef POLLWRNORM
  C(POLLWRNORM)
#endif
  /* listen backlog */
#ifdef SOMAXCONN
  C(SOMAXCONN)
#endif
  {NULL, 0}
};

/* errno names: also used in reverse, errno -> name (error.c) */
const lsk_const lsk_errnos[] = {
#ifdef E2BIG
  C(E2BIG)
#endif
#ifdef EACCES
  C(EACCES)
#endif
#ifdef EADDRINUSE
  C(EADDRINUSE)
#endif
#ifdef EADDRNOTAVAIL
  C(EADDRNOTAVAIL)
#endif
#ifdef EADV
  C(EADV)
#endif
#ifdef EAFNOSUPPORT
  C(EAFNOSUPPORT)
#endif
#ifdef EAGAIN
  C(EAGAIN)
#endif
#ifdef EALREADY
  C(EALREADY)
#endif
#ifdef EBADE
  C(EBADE)
#endif
#ifdef EBADF
  C(EBADF)
#endif
#ifdef EBADFD
  C(EBADFD)
#endif
#ifdef EBADMSG
  C(EBADMSG)
#endif
#ifdef EBADR
  C(EBADR)
#endif
#ifdef EBADRQC
  C(EBADRQC)
#endif
#ifdef EBADSLT
  C(EBADSLT)
#endif
#ifdef EBFONT
  C(EBFONT)
#endif
#ifdef EBUSY
  C(EBUSY)
#endif
#ifdef ECANCELED
  C(ECANCELED)
#endif
#ifdef ECHILD
  C(ECHILD)
#endif
#ifdef ECHRNG
  C(ECHRNG)
#endif
#ifdef ECOMM
  C(ECOMM)
#endif
#ifdef ECONNABORTED
  C(ECONNABORTED)
#endif
#ifdef ECONNREFUSED
  C(ECONNREFUSED)
#endif
#ifdef ECONNRESET
  C(ECONNRESET)
#endif
#ifdef EDEADLK
  C(EDEADLK)
#endif
#ifdef EDEADLOCK
  C(EDEADLOCK)
#endif
#ifdef EDESTADDRREQ
  C(EDESTADDRREQ)
#endif
#ifdef EDOM
  C(EDOM)
#endif
#ifdef EDOTDOT
  C(EDOTDOT)
#endif
#ifdef EDQUOT
  C(EDQUOT)
#endif
#ifdef EEXIST
  C(EEXIST)
#endif
#ifdef EFAULT
  C(EFAULT)
#endif
#ifdef EFBIG
  C(EFBIG)
#endif
#ifdef EHOSTDOWN
  C(EHOSTDOWN)
#endif
#ifdef EHOSTUNREACH
  C(EHOSTUNREACH)
#endif
#ifdef EHWPOISON
  C(EHWPOISON)
#endif
#ifdef EIDRM
  C(EIDRM)
#endif
#ifdef EILSEQ
  C(EILSEQ)
#endif
#ifdef EINPROGRESS
  C(EINPROGRESS)
#endif
#ifdef EINTR
  C(EINTR)
#endif
#ifdef EINVAL
  C(EINVAL)
#endif
#ifdef EIO
  C(EIO)
#endif
#ifdef EISCONN
  C(EISCONN)
#endif
#ifdef EISDIR
  C(EISDIR)
#endif
#ifdef EISNAM
  C(EISNAM)
#endif
#ifdef EKEYEXPIRED
  C(EKEYEXPIRED)
#endif
#ifdef EKEYREJECTED
  C(EKEYREJECTED)
#endif
#ifdef EKEYREVOKED
  C(EKEYREVOKED)
#endif
#ifdef EL2HLT
  C(EL2HLT)
#endif
#ifdef EL2NSYNC
  C(EL2NSYNC)
#endif
#ifdef EL3HLT
  C(EL3HLT)
#endif
#ifdef EL3RST
  C(EL3RST)
#endif
#ifdef ELIBACC
  C(ELIBACC)
#endif
#ifdef ELIBBAD
  C(ELIBBAD)
#endif
#ifdef ELIBEXEC
  C(ELIBEXEC)
#endif
#ifdef ELIBMAX
  C(ELIBMAX)
#endif
#ifdef ELIBSCN
  C(ELIBSCN)
#endif
#ifdef ELNRNG
  C(ELNRNG)
#endif
#ifdef ELOOP
  C(ELOOP)
#endif
#ifdef EMEDIUMTYPE
  C(EMEDIUMTYPE)
#endif
#ifdef EMFILE
  C(EMFILE)
#endif
#ifdef EMLINK
  C(EMLINK)
#endif
#ifdef EMSGSIZE
  C(EMSGSIZE)
#endif
#ifdef EMULTIHOP
  C(EMULTIHOP)
#endif
#ifdef ENAMETOOLONG
  C(ENAMETOOLONG)
#endif
#ifdef ENAVAIL
  C(ENAVAIL)
#endif
#ifdef ENETDOWN
  C(ENETDOWN)
#endif
#ifdef ENETRESET
  C(ENETRESET)
#endif
#ifdef ENETUNREACH
  C(ENETUNREACH)
#endif
#ifdef ENFILE
  C(ENFILE)
#endif
#ifdef ENOANO
  C(ENOANO)
#endif
#ifdef ENOBUFS
  C(ENOBUFS)
#endif
#ifdef ENOCSI
  C(ENOCSI)
#endif
#ifdef ENODATA
  C(ENODATA)
#endif
#ifdef ENODEV
  C(ENODEV)
#endif
#ifdef ENOENT
  C(ENOENT)
#endif
#ifdef ENOEXEC
  C(ENOEXEC)
#endif
#ifdef ENOKEY
  C(ENOKEY)
#endif
#ifdef ENOLCK
  C(ENOLCK)
#endif
#ifdef ENOLINK
  C(ENOLINK)
#endif
#ifdef ENOMEDIUM
  C(ENOMEDIUM)
#endif
#ifdef ENOMEM
  C(ENOMEM)
#endif
#ifdef ENOMSG
  C(ENOMSG)
#endif
#ifdef ENONET
  C(ENONET)
#endif
#ifdef ENOPKG
  C(ENOPKG)
#endif
#ifdef ENOPROTOOPT
  C(ENOPROTOOPT)
#endif
#ifdef ENOSPC
  C(ENOSPC)
#endif
#ifdef ENOSR
  C(ENOSR)
#endif
#ifdef ENOSTR
  C(ENOSTR)
#endif
#ifdef ENOSYS
  C(ENOSYS)
#endif
#ifdef ENOTBLK
  C(ENOTBLK)
#endif
#ifdef ENOTCONN
  C(ENOTCONN)
#endif
#ifdef ENOTDIR
  C(ENOTDIR)
#endif
#ifdef ENOTEMPTY
  C(ENOTEMPTY)
#endif
#ifdef ENOTNAM
  C(ENOTNAM)
#endif
#ifdef ENOTRECOVERABLE
  C(ENOTRECOVERABLE)
#endif
#ifdef ENOTSOCK
  C(ENOTSOCK)
#endif
#ifdef ENOTSUP
  C(ENOTSUP)
#endif
#ifdef ENOTTY
  C(ENOTTY)
#endif
#ifdef ENOTUNIQ
  C(ENOTUNIQ)
#endif
#ifdef ENXIO
  C(ENXIO)
#endif
#ifdef EOPNOTSUPP
  C(EOPNOTSUPP)
#endif
#ifdef EOVERFLOW
  C(EOVERFLOW)
#endif
#ifdef EOWNERDEAD
  C(EOWNERDEAD)
#endif
#ifdef EPERM
  C(EPERM)
#endif
#ifdef EPFNOSUPPORT
  C(EPFNOSUPPORT)
#endif
#ifdef EPIPE
  C(EPIPE)
#endif
#ifdef EPROTO
  C(EPROTO)
#endif
#ifdef EPROTONOSUPPORT
  C(EPROTONOSUPPORT)
#endif
#ifdef EPROTOTYPE
  C(EPROTOTYPE)
#endif
#ifdef ERANGE
  C(ERANGE)
#endif
#ifdef EREMCHG
  C(EREMCHG)
#endif
#ifdef EREMOTE
  C(EREMOTE)
#endif
#ifdef EREMOTEIO
  C(EREMOTEIO)
#endif
#ifdef ERESTART
  C(ERESTART)
#endif
#ifdef ERFKILL
  C(ERFKILL)
#endif
#ifdef EROFS
  C(EROFS)
#endif
#ifdef ESHUTDOWN
  C(ESHUTDOWN)
#endif
#ifdef ESOCKTNOSUPPORT
  C(ESOCKTNOSUPPORT)
#endif
#ifdef ESPIPE
  C(ESPIPE)
#endif
#ifdef ESRCH
  C(ESRCH)
#endif
#ifdef ESRMNT
  C(ESRMNT)
#endif
#ifdef ESTALE
  C(ESTALE)
#endif
#ifdef ESTRPIPE
  C(ESTRPIPE)
#endif
#ifdef ETIME
  C(ETIME)
#endif
#ifdef ETIMEDOUT
  C(ETIMEDOUT)
#endif
#ifdef ETOOMANYREFS
  C(ETOOMANYREFS)
#endif
#ifdef ETXTBSY
  C(ETXTBSY)
#endif
#ifdef EUCLEAN
  C(EUCLEAN)
#endif
#ifdef EUNATCH
  C(EUNATCH)
#endif
#ifdef EUSERS
  C(EUSERS)
#endif
#ifdef EWOULDBLOCK
  C(EWOULDBLOCK)
#endif
#ifdef EXDEV
  C(EXDEV)
#endif
#ifdef EXFULL
  C(EXFULL)
#endif
  {NULL, 0}
};
