/*
 * epoll_server.h - what the C baselines (echo_epoll.c, http_epoll.c) share
 * apart from their protocol: the signals, the listener, the epoll set and
 * accepting. Static functions in a header, so that each baseline is still
 * one gcc command (bench/run.sh).
 *
 * A baseline's struct conn must have `int fd` as its first member; the
 * listener is registered with data.ptr NULL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) { perror(what); exit(1); }

/* Raises RLIMIT_NOFILE to its hard limit, ignores SIGPIPE, and blocks
 * SIGTERM/SIGINT except in *waitmask (for epoll_pwait), so a signal can
 * never slip in between the `stop` check and the wait (and be lost).
 * Listens on host:port (IPv4, SO_REUSEADDR, backlog 4096) and returns the
 * epoll descriptor with the listener in it; *lfd is the listener. */
static int server_start(const char *host, int port, sigset_t *waitmask, int *lfd) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, waitmask);
    sigdelset(waitmask, SIGTERM);
    sigdelset(waitmask, SIGINT);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); exit(2); }
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &lev) < 0) die("epoll_ctl listen");
    *lfd = fd;
    return ep;
}

/* Accepts everything pending on lfd: each connection (TCP_NODELAY) gets
 * a zeroed struct conn of size bytes holding its fd, registered for
 * EPOLLIN | EPOLLRDHUP. */
static void accept_all(int ep, int lfd, size_t size) {
    int one = 1;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");
            break;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int *nc = calloc(1, size);       /* a struct conn: fd comes first */
        if (!nc) { close(fd); continue; }
        *nc = fd;
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) { close(fd); free(nc); }
    }
}
