/* lunasock.core: socket options, named and raw. See LICENSE. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "lunasock.h"

/* Spellings that differ between platforms: the RFC 3493 names for IPv6
   group membership, and macOS's name for the keepalive idle time. */
#if !defined(IPV6_JOIN_GROUP) && defined(IPV6_ADD_MEMBERSHIP)
#define IPV6_JOIN_GROUP IPV6_ADD_MEMBERSHIP
#define IPV6_LEAVE_GROUP IPV6_DROP_MEMBERSHIP
#endif
#if !defined(TCP_KEEPIDLE) && defined(TCP_KEEPALIVE)
#define TCP_KEEPIDLE TCP_KEEPALIVE
#endif

/* Largest raw option value, set or read, in bytes. */
#define LSK_MAXOPTLEN 65536

/* Longest value of a string option other than an interface name. */
#define LSK_MAXOPTSTR 255

enum kind {
  K_BOOL,     /* boolean <-> int 0/1 */
  K_INT,      /* integer <-> int */
  K_LINGER,   /* seconds or false/nil <-> struct linger */
  K_TIMEVAL,  /* seconds (float) <-> struct timeval */
  K_IFNAME,   /* interface name, "" for none <-> char[IFNAMSIZ] */
  K_STRING,   /* short string (a congestion control name) */
  K_INADDR,   /* IPv4 address text <-> struct in_addr */
  K_IFINDEX,  /* interface index or name -> int; reads back the index */
  K_MREQ4,    /* {multiaddr=, interface=IPv4 text} -> struct ip_mreq */
  K_MREQ6,    /* {multiaddr=, interface=index or name} -> ipv6_mreq */
  K_ERRNO     /* pending error: integer errno and its name */
};

enum access { RW, RO, WO };

typedef struct option {
  const char *name;
  int family;        /* 0: any socket; else only sockets of this family */
  int level;
  int optname;
  unsigned char kind;
  unsigned char access;
} option;

/*
 * The named options. A name is looked up as the first entry whose family
 * is 0 or the socket's family, so a family-specific entry placed before a
 * generic one overrides it. The rule: "ttl", "tos", "recverr" and
 * "pktinfo" name a property of the socket's own IP version, so on an
 * AF_INET6 socket they mean IPV6_UNICAST_HOPS, IPV6_TCLASS, IPV6_RECVERR
 * and IPV6_RECVPKTINFO, and IPPROTO_IP options elsewhere. Every other
 * name means one option whatever the family: the IPv4 multicast options
 * keep their IPPROTO_IP meaning on an AF_INET6 socket (Linux applies them
 * to v4-mapped traffic) and the IPv6 ones have their own ipv6_ names.
 * Only options the platform defines are listed.
 */
static const option options[] = {
  /* SOL_SOCKET */
  {"reuseaddr", 0, SOL_SOCKET, SO_REUSEADDR, K_BOOL, RW},
#if defined(SO_REUSEPORT)
  {"reuseport", 0, SOL_SOCKET, SO_REUSEPORT, K_BOOL, RW},
#endif
  {"keepalive", 0, SOL_SOCKET, SO_KEEPALIVE, K_BOOL, RW},
  {"linger", 0, SOL_SOCKET, SO_LINGER, K_LINGER, RW},
  {"rcvbuf", 0, SOL_SOCKET, SO_RCVBUF, K_INT, RW},
  {"sndbuf", 0, SOL_SOCKET, SO_SNDBUF, K_INT, RW},
  {"rcvlowat", 0, SOL_SOCKET, SO_RCVLOWAT, K_INT, RW},
  {"sndlowat", 0, SOL_SOCKET, SO_SNDLOWAT, K_INT, RW},
  {"rcvtimeo", 0, SOL_SOCKET, SO_RCVTIMEO, K_TIMEVAL, RW},
  {"sndtimeo", 0, SOL_SOCKET, SO_SNDTIMEO, K_TIMEVAL, RW},
  {"broadcast", 0, SOL_SOCKET, SO_BROADCAST, K_BOOL, RW},
  {"oobinline", 0, SOL_SOCKET, SO_OOBINLINE, K_BOOL, RW},
  {"dontroute", 0, SOL_SOCKET, SO_DONTROUTE, K_BOOL, RW},
#if defined(SO_BINDTODEVICE)
  {"bindtodevice", 0, SOL_SOCKET, SO_BINDTODEVICE, K_IFNAME, RW},
#endif
#if defined(SO_PRIORITY)
  {"priority", 0, SOL_SOCKET, SO_PRIORITY, K_INT, RW},
#endif
#if defined(SO_MARK)
  {"mark", 0, SOL_SOCKET, SO_MARK, K_INT, RW},
#endif
#if defined(SO_BUSY_POLL)
  {"busy_poll", 0, SOL_SOCKET, SO_BUSY_POLL, K_INT, RW},
#endif
#if defined(SO_PEEK_OFF)
  {"peek_off", 0, SOL_SOCKET, SO_PEEK_OFF, K_INT, RW},
#endif
#if defined(SO_PASSCRED)
  {"passcred", 0, SOL_SOCKET, SO_PASSCRED, K_BOOL, RW},
#endif
#if defined(SO_TIMESTAMP)
  {"timestamp", 0, SOL_SOCKET, SO_TIMESTAMP, K_BOOL, RW},
#endif
#if defined(SO_NOSIGPIPE)
  {"nosigpipe", 0, SOL_SOCKET, SO_NOSIGPIPE, K_BOOL, RW},
#endif
  {"error", 0, SOL_SOCKET, SO_ERROR, K_ERRNO, RO},
  {"type", 0, SOL_SOCKET, SO_TYPE, K_INT, RO},
#if defined(SO_ACCEPTCONN)
  {"acceptconn", 0, SOL_SOCKET, SO_ACCEPTCONN, K_BOOL, RO},
#endif
#if defined(SO_DOMAIN)
  {"domain", 0, SOL_SOCKET, SO_DOMAIN, K_INT, RO},
#endif
#if defined(SO_PROTOCOL)
  {"protocol", 0, SOL_SOCKET, SO_PROTOCOL, K_INT, RO},
#endif
  /* IPPROTO_TCP */
  {"nodelay", 0, IPPROTO_TCP, TCP_NODELAY, K_BOOL, RW},
#if defined(TCP_CORK)
  {"cork", 0, IPPROTO_TCP, TCP_CORK, K_BOOL, RW},
#endif
#if defined(TCP_KEEPIDLE)
  {"keepidle", 0, IPPROTO_TCP, TCP_KEEPIDLE, K_INT, RW},
#endif
#if defined(TCP_KEEPINTVL)
  {"keepintvl", 0, IPPROTO_TCP, TCP_KEEPINTVL, K_INT, RW},
#endif
#if defined(TCP_KEEPCNT)
  {"keepcnt", 0, IPPROTO_TCP, TCP_KEEPCNT, K_INT, RW},
#endif
#if defined(TCP_MAXSEG)
  {"maxseg", 0, IPPROTO_TCP, TCP_MAXSEG, K_INT, RW},
#endif
#if defined(TCP_QUICKACK)
  {"quickack", 0, IPPROTO_TCP, TCP_QUICKACK, K_BOOL, RW},
#endif
#if defined(TCP_USER_TIMEOUT)
  {"user_timeout", 0, IPPROTO_TCP, TCP_USER_TIMEOUT, K_INT, RW},
#endif
#if defined(TCP_DEFER_ACCEPT)
  {"defer_accept", 0, IPPROTO_TCP, TCP_DEFER_ACCEPT, K_INT, RW},
#endif
#if defined(TCP_FASTOPEN)
  {"fastopen", 0, IPPROTO_TCP, TCP_FASTOPEN, K_INT, RW},
#endif
#if defined(TCP_NOTSENT_LOWAT)
  {"notsent_lowat", 0, IPPROTO_TCP, TCP_NOTSENT_LOWAT, K_INT, RW},
#endif
#if defined(TCP_CONGESTION)
  {"congestion", 0, IPPROTO_TCP, TCP_CONGESTION, K_STRING, RW},
#endif
  /* names whose meaning follows the family (see above): IPv6 first */
  {"ttl", AF_INET6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, K_INT, RW},
  {"ttl", 0, IPPROTO_IP, IP_TTL, K_INT, RW},
#if defined(IPV6_TCLASS)
  {"tos", AF_INET6, IPPROTO_IPV6, IPV6_TCLASS, K_INT, RW},
#endif
  {"tos", 0, IPPROTO_IP, IP_TOS, K_INT, RW},
#if defined(IPV6_RECVERR)
  {"recverr", AF_INET6, IPPROTO_IPV6, IPV6_RECVERR, K_BOOL, RW},
#endif
#if defined(IP_RECVERR)
  {"recverr", 0, IPPROTO_IP, IP_RECVERR, K_BOOL, RW},
#endif
#if defined(IPV6_RECVPKTINFO)
  {"pktinfo", AF_INET6, IPPROTO_IPV6, IPV6_RECVPKTINFO, K_BOOL, RW},
#endif
#if defined(IP_PKTINFO)
  {"pktinfo", 0, IPPROTO_IP, IP_PKTINFO, K_BOOL, RW},
#endif
  /* IPPROTO_IP */
  {"multicast_ttl", 0, IPPROTO_IP, IP_MULTICAST_TTL, K_INT, RW},
  {"multicast_loop", 0, IPPROTO_IP, IP_MULTICAST_LOOP, K_BOOL, RW},
  {"multicast_if", 0, IPPROTO_IP, IP_MULTICAST_IF, K_INADDR, RW},
  {"add_membership", 0, IPPROTO_IP, IP_ADD_MEMBERSHIP, K_MREQ4, WO},
  {"drop_membership", 0, IPPROTO_IP, IP_DROP_MEMBERSHIP, K_MREQ4, WO},
#if defined(IP_FREEBIND)
  {"freebind", 0, IPPROTO_IP, IP_FREEBIND, K_BOOL, RW},
#endif
#if defined(IP_TRANSPARENT)
  {"transparent", 0, IPPROTO_IP, IP_TRANSPARENT, K_BOOL, RW},
#endif
#if defined(IP_MTU_DISCOVER)
  {"mtu_discover", 0, IPPROTO_IP, IP_MTU_DISCOVER, K_INT, RW},
#endif
  /* IPPROTO_IPV6 */
  {"v6only", 0, IPPROTO_IPV6, IPV6_V6ONLY, K_BOOL, RW},
  {"unicast_hops", 0, IPPROTO_IPV6, IPV6_UNICAST_HOPS, K_INT, RW},
#if defined(IPV6_TCLASS)
  {"tclass", 0, IPPROTO_IPV6, IPV6_TCLASS, K_INT, RW},
#endif
  {"ipv6_multicast_hops", 0, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, K_INT, RW},
  {"ipv6_multicast_loop", 0, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, K_BOOL, RW},
  {"ipv6_multicast_if", 0, IPPROTO_IPV6, IPV6_MULTICAST_IF, K_IFINDEX, RW},
  {"ipv6_add_membership", 0, IPPROTO_IPV6, IPV6_JOIN_GROUP, K_MREQ6, WO},
  {"ipv6_drop_membership", 0, IPPROTO_IPV6, IPV6_LEAVE_GROUP, K_MREQ6, WO},
  {"join_group", 0, IPPROTO_IPV6, IPV6_JOIN_GROUP, K_MREQ6, WO},
  {"leave_group", 0, IPPROTO_IPV6, IPV6_LEAVE_GROUP, K_MREQ6, WO},
  {NULL, 0, 0, 0, 0, 0}
};

/* Room for any named option's value. */
typedef union optval {
  int i;
  struct linger l;
  struct timeval tv;
  struct in_addr a4;
  struct ip_mreq m4;
  struct ipv6_mreq m6;
  char s[LSK_MAXOPTSTR + 1];
} optval;


/*
 * Plain C: the system calls. Each returns 0 or the errno.
 */

static int setraw(int fd, int level, int optname, const void *p,
                  socklen_t len) {
  return setsockopt(fd, level, optname, p, len) == 0 ? 0 : errno;
}

static int getraw(int fd, int level, int optname, void *p, socklen_t *len) {
  return getsockopt(fd, level, optname, p, len) == 0 ? 0 : errno;
}

/* An int-sized value as the kernel wrote it; some BSD options are one
   byte (u_char) long. */
static int intvalue(const optval *v, socklen_t len) {
  return len == 1 ? (unsigned char)v->s[0] : v->i;
}

static socklen_t kindsize(int kind) {
  switch (kind) {
    case K_LINGER: return sizeof(struct linger);
    case K_TIMEVAL: return sizeof(struct timeval);
    case K_IFNAME: return IFNAMSIZ;
    case K_STRING: return LSK_MAXOPTSTR + 1;
    case K_INADDR: return sizeof(struct in_addr);
    default: return sizeof(int);
  }
}

static void totimeval(double seconds, struct timeval *tv) {
  double whole = (double)(long)seconds;  /* seconds <= LSK_MAX_TIMEOUT */
  long usec = (long)((seconds - whole) * 1e6 + 0.5);
  if (seconds > 0 && whole == 0 && usec == 0)
    usec = 1;  /* 0 would mean no timeout at all */
  tv->tv_sec = (time_t)whole;
  tv->tv_usec = usec;
  if (usec >= 1000000) {
    tv->tv_sec++;
    tv->tv_usec = usec - 1000000;
  }
}


/*
 * Lua values <-> option values
 */

static int checkint(lua_State *L, int idx) {
  lua_Integer v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, INT_MIN <= v && v <= INT_MAX, idx,
                "value out of range for a C int");
  return (int)v;
}

static const option *checkoption(lua_State *L, const lsk_socket *s,
                                  int idx) {
  const char *name = luaL_checkstring(L, idx);
  const option *o;
  for (o = options; o->name != NULL; o++) {
    if ((o->family == 0 || o->family == s->family) &&
        strcmp(o->name, name) == 0)
      return o;
  }
  luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'", name));
  return NULL;
}

/* Raises for a key of the table at idx that names (NULL-ended) does not
   list: a misspelt field must not be ignored silently. The error names
   the argument and the function, as luaL_argerror does:
   "bad argument #3 to 'getaddrinfo' (unknown field 'flag')". */
void lsk_checkfields(lua_State *L, int idx, const char *const *names) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *const *n = names;
    lua_pop(L, 1);  /* the value; the key stays for lua_next */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown field (a %s key)",
                                            luaL_typename(L, -1)));
    while (*n != NULL && strcmp(*n, lua_tostring(L, -1)) != 0) n++;
    if (*n == NULL)
      luaL_argerror(L, idx, lua_pushfstring(L, "unknown field '%s'",
                                            lua_tostring(L, -1)));
  }
}

/* Reads an IPv4 address in text form from field of the table at idx (or
   the value at idx itself when field is NULL). */
static struct in_addr checkinaddr(lua_State *L, int idx, const char *field,
                                  const char *def) {
  struct in_addr a;
  const char *text = NULL;
  if (field != NULL)
    lua_getfield(L, idx, field);
  else
    lua_pushvalue(L, idx);
  if (lua_isnil(L, -1) && def != NULL)
    text = def;
  else if (lua_type(L, -1) == LUA_TSTRING)
    text = lua_tostring(L, -1);
  else if (field != NULL)
    luaL_argerror(L, idx, lua_pushfstring(L, "field '%s': IPv4 address "
                  "string expected, got %s", field, luaL_typename(L, -1)));
  else
    luaL_typeerror(L, idx, "IPv4 address string");
  if (inet_pton(AF_INET, text, &a) != 1)
    luaL_argerror(L, idx, lua_pushfstring(L, "invalid IPv4 address '%s'",
                                          text));
  lua_pop(L, 1);
  return a;
}

/* Reads an interface index or name at idx; errors blame argument arg.
   Returns 0, or pushes the error triple for an unknown name and
   returns 3. */
static int toifindex(lua_State *L, int idx, int arg, const char *what,
                     unsigned *index) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    int err;
    *index = if_nametoindex(name);
    err = errno;
    if (*index == 0)
      return lsk_pusherror(L, err != 0 ? err : ENODEV, name);
  }
  else if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    luaL_argcheck(L, 0 <= i && i <= INT_MAX, arg,
                  lua_pushfstring(L, "%s: interface index out of range",
                                  what));
    *index = (unsigned)i;
  }
  else
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: interface index or name "
                  "expected, got %s", what, luaL_typename(L, idx)));
  return 0;
}

/*
 * Converts the value at idx for option o into the bytes setsockopt takes:
 * p and len, pointing into v or at a Lua string that stays on the stack.
 * Raises on a wrong type or range; returns 0, or pushes an error triple
 * and returns 3.
 */
/* The fields of a membership value ({multiaddr, interface}). */
static const char *const mreq_fields[] = {"multiaddr", "interface", NULL};

static int tovalue(lua_State *L, const option *o, int idx, optval *v,
                   const void **p, socklen_t *len) {
  memset(v, 0, sizeof *v);
  *p = v;
  *len = kindsize(o->kind);
  switch (o->kind) {
    case K_BOOL:
      if (!lua_isboolean(L, idx))
        luaL_typeerror(L, idx, "boolean");
      v->i = lua_toboolean(L, idx);
      return 0;
    case K_INT:
      v->i = checkint(L, idx);
      return 0;
    case K_LINGER:
      if (lua_isnoneornil(L, idx) ||
          (lua_isboolean(L, idx) && !lua_toboolean(L, idx)))
        return 0;  /* off */
      if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_typeerror(L, idx, "integer seconds or false");
      v->l.l_onoff = 1;
      v->l.l_linger = checkint(L, idx);
      luaL_argcheck(L, v->l.l_linger >= 0, idx, "negative linger time");
      return 0;
    case K_TIMEVAL: {
      lua_Number sec = luaL_checknumber(L, idx);
      luaL_argcheck(L, sec >= 0 && sec <= LSK_MAX_TIMEOUT, idx,
                    "seconds out of range (0..1e9, 0 means none)");
      totimeval(sec, &v->tv);
      return 0;
    }
    case K_IFNAME: case K_STRING: {
      size_t n, max = o->kind == K_IFNAME ? IFNAMSIZ - 1 : LSK_MAXOPTSTR;
      const char *str = luaL_checklstring(L, idx, &n);
      luaL_argcheck(L, strlen(str) == n, idx, "string contains a zero byte");
      if (n > max)
        luaL_argerror(L, idx, lua_pushfstring(L, "string too long (at most "
                                              "%d bytes)", (int)max));
      *p = str;
      *len = (socklen_t)n;
      return 0;
    }
    case K_INADDR:
      v->a4 = checkinaddr(L, idx, NULL, NULL);
      return 0;
    case K_IFINDEX: {
      unsigned index;
      int n = toifindex(L, idx, idx, "value", &index);
      v->i = (int)index;
      return n;
    }
    case K_MREQ4:
      luaL_checktype(L, idx, LUA_TTABLE);
      lsk_checkfields(L, idx, mreq_fields);
      v->m4.imr_multiaddr = checkinaddr(L, idx, "multiaddr", NULL);
      v->m4.imr_interface = checkinaddr(L, idx, "interface", "0.0.0.0");
      *len = sizeof v->m4;
      return 0;
    case K_MREQ6: {
      const char *text;
      unsigned index = 0;
      int n = 0;
      luaL_checktype(L, idx, LUA_TTABLE);
      lsk_checkfields(L, idx, mreq_fields);
      lua_getfield(L, idx, "multiaddr");
      text = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (text == NULL ||
          inet_pton(AF_INET6, text, &v->m6.ipv6mr_multiaddr) != 1)
        luaL_argerror(L, idx, "field 'multiaddr': IPv6 address expected");
      if (lua_getfield(L, idx, "interface") != LUA_TNIL)
        n = toifindex(L, lua_gettop(L), idx, "field 'interface'", &index);
      if (n != 0)
        return n;
      v->m6.ipv6mr_interface = index;
      lua_pop(L, 2);
      *len = sizeof v->m6;
      return 0;
    }
    default:  /* K_ERRNO: read-only, never reached */
      return luaL_argerror(L, idx, "read-only option");
  }
}

/* Pushes the value of option o as read into v (len bytes). */
static int pushvalue(lua_State *L, const option *o, const optval *v,
                     socklen_t len) {
  char text[INET_ADDRSTRLEN];
  switch (o->kind) {
    case K_BOOL:
      lua_pushboolean(L, intvalue(v, len) != 0);
      return 1;
    case K_LINGER:
      if (v->l.l_onoff)
        lua_pushinteger(L, v->l.l_linger);
      else
        lua_pushboolean(L, 0);
      return 1;
    case K_TIMEVAL:
      lua_pushnumber(L, (lua_Number)v->tv.tv_sec +
                        (lua_Number)v->tv.tv_usec / 1e6);
      return 1;
    case K_IFNAME: case K_STRING:
      lua_pushlstring(L, v->s, strnlen(v->s, len));
      return 1;
    case K_INADDR:
      if (inet_ntop(AF_INET, &v->a4, text, sizeof text) == NULL)
        text[0] = '\0';
      lua_pushstring(L, text);
      return 1;
    case K_ERRNO: {
      int err = intvalue(v, len);
      lua_pushinteger(L, err);
      if (err == 0)
        return 1;
      lua_pushstring(L, lsk_errname(err));
      return 2;
    }
    default:  /* K_INT, K_IFINDEX */
      lua_pushinteger(L, intvalue(v, len));
      return 1;
  }
}

/* The value of a raw setopt: an integer or boolean (as a C int) or a
   string of bytes passed as is. */
static void torawvalue(lua_State *L, int idx, optval *v, const void **p,
                       socklen_t *len) {
  *p = v;
  *len = sizeof v->i;
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      v->i = checkint(L, idx);
      break;
    case LUA_TBOOLEAN:
      v->i = lua_toboolean(L, idx);
      break;
    case LUA_TSTRING: {
      size_t n;
      *p = lua_tolstring(L, idx, &n);
      luaL_argcheck(L, n <= LSK_MAXOPTLEN, idx,
                    "value too long (at most 65536 bytes)");
      *len = (socklen_t)n;
      break;
    }
    default:
      luaL_typeerror(L, idx, "integer, boolean or string");
  }
}


/*
 * Methods
 */

/* setopt(name, value) or setopt(level, optname, value) -> true, or nil,
   msg, "ENAME" from the kernel. */
static int sock_setopt(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  optval v;
  const void *p;
  socklen_t len;
  int level, optname, n, err;
  const char *context;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const option *o = checkoption(L, s, 2);
    luaL_argcheck(L, o->access != RO, 2,
                  lua_pushfstring(L, "option '%s' is read-only", o->name));
    if ((n = tovalue(L, o, 3, &v, &p, &len)) != 0)
      return n;
    level = o->level;
    optname = o->optname;
    context = o->name;
  }
  else {
    if (lua_type(L, 2) != LUA_TNUMBER)
      luaL_typeerror(L, 2, "option name or level");
    level = checkint(L, 2);
    optname = checkint(L, 3);
    torawvalue(L, 4, &v, &p, &len);
    context = "setopt";
  }
  err = setraw(s->fd, level, optname, p, len);
  if (err != 0)
    return lsk_pusherror(L, err, context);
  lua_pushboolean(L, 1);
  return 1;
}

/* getopt(name) -> value; getopt(level, optname) -> integer;
   getopt(level, optname, size) -> at most size raw bytes. */
static int sock_getopt(lua_State *L) {
  lsk_socket *s = lsk_checkopen(L, 1);
  optval v;
  socklen_t len;
  int level, optname, err;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const option *o = checkoption(L, s, 2);
    luaL_argcheck(L, o->access != WO, 2,
                  lua_pushfstring(L, "option '%s' is write-only", o->name));
    memset(&v, 0, sizeof v);
    len = kindsize(o->kind);
    err = getraw(s->fd, o->level, o->optname, &v, &len);
    if (err != 0)
      return lsk_pusherror(L, err, o->name);
    return pushvalue(L, o, &v, len);
  }
  if (lua_type(L, 2) != LUA_TNUMBER)
    luaL_typeerror(L, 2, "option name or level");
  level = checkint(L, 2);
  optname = checkint(L, 3);
  if (lua_isnoneornil(L, 4)) {
    memset(&v, 0, sizeof v);
    len = sizeof v.i;
    err = getraw(s->fd, level, optname, &v, &len);
    if (err != 0)
      return lsk_pusherror(L, err, "getopt");
    lua_pushinteger(L, intvalue(&v, len));
    return 1;
  }
  else {
    lua_Integer size = luaL_checkinteger(L, 4);
    luaL_Buffer b;
    char *buf;
    luaL_argcheck(L, 1 <= size && size <= LSK_MAXOPTLEN, 4,
                  "size out of range (1..65536)");
    buf = luaL_buffinitsize(L, &b, (size_t)size);
    len = (socklen_t)size;
    err = getraw(s->fd, level, optname, buf, &len);
    if (err != 0)
      return lsk_pusherror(L, err, "getopt");
    luaL_pushresultsize(&b, len < (socklen_t)size ? len : (size_t)size);
    return 1;
  }
}

const luaL_Reg lsk_option_methods[] = {
  {"setopt", sock_setopt},
  {"getopt", sock_getopt},
  {NULL, NULL}
};
