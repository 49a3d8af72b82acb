/* lunasock: socket library for Lua 5.4. See LICENSE. */
#ifndef LUNASOCK_H
#define LUNASOCK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <lua.h>
#include <lauxlib.h>

#if defined(__GNUC__)
#define LUNASOCK_API __attribute__((visibility("default")))
#else
#define LUNASOCK_API
#endif

LUNASOCK_API int luaopen_lunasock_core(lua_State *L);

#define LSK_SOCKET "lunasock.socket"
#define LSK_POLLER "lunasock.poller"

/*
 * A socket. Closed means fd == -1. The descriptor itself is always
 * O_NONBLOCK: blocking, timeouts and loop suspension are done above it
 * (io.c), so one descriptor serves scripts, servers and coroutines alike.
 */
typedef struct lsk_socket {
  int fd;
  int family;
  int type;        /* SOCK_STREAM, SOCK_DGRAM, ... without NONBLOCK/CLOEXEC */
  int protocol;
  double timeout;  /* seconds per call; < 0 blocks forever, 0 never blocks */
  int drained;     /* the last stream recv emptied the kernel's buffer */
  int pending;     /* errno a MSG_WAITALL read met after data; next read */
} lsk_socket;

/* A constant: name and value, registered by one loop (constants.c). */
typedef struct lsk_const {
  const char *name;
  lua_Integer value;
} lsk_const;

/* Largest timeout accepted, in seconds (about 31 years): keeps the
   conversions to milliseconds and timespec in range. */
#define LSK_MAX_TIMEOUT 1e9

/* Every C function of the module (functions, methods and metamethods)
   shares these upvalues (core.c): the socket metatable, for a type check
   cheaper than luaL_checkudata's lookup by name; the weak set of loop
   task threads (io.c); and the poller metatable, for the same cheap check
   on every loop turn. */
#define LSK_UV_SOCKETMT lua_upvalueindex(1)
#define LSK_UV_TASKS lua_upvalueindex(2)
#define LSK_UV_POLLERMT lua_upvalueindex(3)
#define LSK_NUPVALUES 3

/* socket.c: the userdata and its two gates (liolib style) */
void *lsk_toclass(lua_State *L, int idx, int mt, const char *name);
lsk_socket *lsk_tosock(lua_State *L, int idx);    /* type check only */
lsk_socket *lsk_checkopen(lua_State *L, int idx); /* ... and open */
lsk_socket *lsk_newsocket(lua_State *L);          /* pushes, fd = -1 */
int lsk_setcloexec(int fd);
int lsk_setnonblock(int fd);
int lsk_checkfamily(lua_State *L, int idx);       /* name or integer */
int lsk_checktype(lua_State *L, int idx);         /* name or integer */
double lsk_opttimeout(lua_State *L, int idx);     /* nil -> -1 */
int lsk_fdarg(lua_State *L, int idx);  /* integer, socket or Lua file */
/* raises for a key of the table at idx not in names (NULL-ended) */
void lsk_checkfields(lua_State *L, int idx, const char *const *names);

/* io.c: the one place that waits. An attempt makes one try at an
   operation: it pushes the results and returns their count (>= 0), or
   returns LSK_WANT_READ / LSK_WANT_WRITE when the call would block.
   lsk_blocking runs an operation to completion: it waits for the
   descriptor (poll with a deadline outside a loop task, a yield inside
   one, see io.c) and pushes ETIMEDOUT or EAGAIN when it must give up.
   Stack: arguments 1..nargs (lsk_blocking sets the top to nargs),
   nargs+1 the deadline, nargs+2 scratch the attempt may keep state in
   across waits (a string left there is partial data, returned instead of
   an error on timeout; an integer is a count of bytes sent, returned as a
   fourth value after the error triple). */
#define LSK_WANT_READ (-1)
#define LSK_WANT_WRITE (-2)
typedef int (*lsk_attempt)(lua_State *L, lsk_socket *s, int base);
typedef struct lsk_op {
  lsk_attempt attempt;
  int nargs;
} lsk_op;
int lsk_blocking(lua_State *L, const lsk_op *op, lsk_socket *s);
/* One plain read of at most n bytes into buf, as recv(n) makes it (the
   socket's drained and pending state kept): 0 with *got set (0 at EOF),
   LSK_WANT_READ, or the error triple pushed (its count). An attempt's
   building block for a caller that parses what came in C (http.c). */
int lsk_recv_into(lua_State *L, lsk_socket *s, char *buf, size_t n,
                  size_t *got);
int lsk_isloopthread(lua_State *L);
void lsk_notifyclose(lua_State *L, int fd);       /* calls the close hook */

/* wait.c, compiled into lunasock.core and lunasock.tls alike: the clock
   and a poll(2) on one descriptor with a deadline (< 0: forever), EINTR
   resumed with the time left; 0 when ready, ETIMEDOUT, or the errno. */
double lsk_now(void);                             /* monotonic seconds */
int lsk_poll1(int fd, int events, double timeout);

/* errmsg.c, compiled into both modules too: strerror(err), thread-safe,
   in buf (or a static string) */
const char *lsk_strerror(int err, char *buf, size_t size);

/* error.c: errno / resolver errors to the nil, message, "ENAME" triple */
const char *lsk_errname(int err);                 /* "ECONNREFUSED", ... */
int lsk_pusherror(lua_State *L, int err, const char *context);
int lsk_pushgaierror(lua_State *L, int gaierr, int err);
int lsk_pushfailure(lua_State *L, const char *msg, const char *name);

/* addr.c: sockaddr <-> Lua values */
/* Reads an address for family at idx (host, port at idx, idx+1, or a path
   at idx for AF_UNIX). Returns 0, or pushes an error triple and returns 3.
   Raises on wrong argument types. */
int lsk_toaddr(lua_State *L, int family, int socktype, int idx,
               struct sockaddr_storage *ss, socklen_t *len);
/* Pushes host, port (2 values) or path (1 value); returns the count. */
int lsk_pushaddr(lua_State *L, const struct sockaddr *sa, socklen_t len);

struct addrinfo;
void lsk_pushaddrinfo(lua_State *L, const struct addrinfo *ai);

/* resolver.c: getaddrinfo on a worker thread, for loop tasks. Takes the
   arguments core.getaddrinfo parsed (stack: its 3 arguments); yields until
   the answer is in, and returns what core.getaddrinfo returns. */
int lsk_getaddrinfo_async(lua_State *L, const char *host, const char *serv,
                          const struct addrinfo *hints);
/* Around fork(2) (process.c): lsk_prefork waits until no lookup is
   running on a worker thread and keeps new ones waiting; lsk_postfork
   lets them go (parent) or starts afresh (child, child = 1). */
void lsk_prefork(void);
void lsk_postfork(int child);

/* the registration arrays, assembled by core.c */
extern const luaL_Reg lsk_socket_funcs[];    /* socket.c */
extern const luaL_Reg lsk_socket_methods[];  /* socket.c */
extern const luaL_Reg lsk_socket_meta[];     /* socket.c */
extern const luaL_Reg lsk_io_funcs[];        /* io.c */
extern const luaL_Reg lsk_io_methods[];      /* io.c */
extern const luaL_Reg lsk_option_methods[];  /* options.c */
extern const luaL_Reg lsk_addr_funcs[];      /* addr.c */
extern const luaL_Reg lsk_poller_funcs[];    /* poller.c */
extern const luaL_Reg lsk_poller_methods[];  /* poller.c */
extern const luaL_Reg lsk_poller_meta[];     /* poller.c */
extern const luaL_Reg lsk_process_funcs[];   /* process.c */
extern const luaL_Reg lsk_http_funcs[];      /* http.c */
extern const luaL_Reg lsk_fs_funcs[];        /* fs.c */
extern const luaL_Reg lsk_sendfile_methods[]; /* sendfile.c */
extern const lsk_const lsk_constants[];      /* constants.c, {NULL, 0} ends */
extern const lsk_const lsk_errnos[];         /* constants.c, {NULL, 0} ends */
extern const lsk_const lsk_signals[];        /* constants.c: SIG*, sorted */

#endif
