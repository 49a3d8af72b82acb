# lunasock - build, test, lint, bench, install.  See README.md.
LUA        ?= lua5.4
PKG_CONFIG ?= pkg-config
LUA_PC     ?= lua5.4
LUA_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)
LUAROCKS   ?= luarocks
BUSTED     ?= $(LUA) $(shell command -v busted 2>/dev/null || echo /usr/bin/busted)
BUSTED_FLAGS ?=

PREFIX   ?= /usr/local
LUA_CMOD ?= $(PREFIX)/lib/lua/5.4
LUA_LMOD ?= $(PREFIX)/share/lua/5.4
BINDIR   ?= $(PREFIX)/bin
DESTDIR  ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wcast-align \
           -Wwrite-strings -Wmissing-prototypes -Wstrict-prototypes \
           -Wundef -Wformat=2 -Wvla -Wdeclaration-after-statement -Werror=implicit
ALL_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) \
             $(LUA_CFLAGS) $(CFLAGS)
LDLIBS  ?= -lpthread

UNAME := $(shell uname -s)
ifeq ($(UNAME),Darwin)
  SHARED = -bundle -undefined dynamic_lookup
else
  SHARED = -shared
endif

# The C sources of lunasock.core; rockspec/lunasock-scm-1.rockspec lists the
# same (make lint checks).
SRCS = csrc/core.c csrc/socket.c csrc/io.c csrc/addr.c csrc/options.c \
       csrc/constants.c csrc/error.c csrc/resolver.c csrc/poller.c \
       csrc/poller_epoll.c csrc/poller_poll.c csrc/process.c \
       csrc/http.c csrc/http_cycle.c csrc/http_parse.c csrc/fs.c csrc/sendfile.c csrc/wait.c \
       csrc/errmsg.c
# lunasock.tls, the only part linked with OpenSSL (libssl-dev); the
# rockspec lists the same (make lint checks).
TLS_SRCS = csrc/tls.c csrc/tls_context.c csrc/tls_io.c csrc/tls_socket.c \
           csrc/tls_wrap.c csrc/tls_info.c csrc/wait.c csrc/errmsg.c
OPENSSL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
OPENSSL_LIBS   ?= $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
LUA_MODS = $(wildcard lua/lunasock/*.lua lua/lunasock/*/*.lua)

BUILD  ?= build
OBJS    = $(SRCS:csrc/%.c=$(BUILD)/%.o)
MODULE  = $(BUILD)/lunasock/core.so
TLS_OBJS   = $(TLS_SRCS:csrc/%.c=$(BUILD)/%.o)
TLS_MODULE = $(BUILD)/lunasock/tls.so

# Packages a fresh Debian 12 machine needs for everything here.
# The specs drive real peers: nc, curl, python3, nginx (with its echo
# module) and openssl; they stop what they started with kill and pkill -P
# (procps, which minimal images leave out).
DEB_PKGS = gcc make pkg-config lua5.4 liblua5.4-dev luarocks lua-busted \
           lua-check valgrind netcat-openbsd curl python3 nginx-light \
           libssl-dev openssl procps
DEPS_OK = command -v $(LUA) && command -v luarocks && command -v busted && \
          command -v luacheck && command -v gcc && command -v valgrind && \
          command -v nc && command -v curl && command -v python3 && \
          { command -v nginx || test -x /usr/sbin/nginx; } && \
          command -v openssl && test -f /usr/include/openssl/ssl.h && \
          command -v pkill && command -v ps && \
          $(PKG_CONFIG) --exists $(LUA_PC)
# make bench also measures peer libraries and drives HTTP with wrk; its
# scripts find listening ports with ss (iproute2) and pin with taskset.
BENCH_PKGS = wrk lua-socket lua-cqueues lua-luv redis-tools iproute2 util-linux
BENCH_OK = command -v wrk && command -v redis-benchmark && command -v ss && \
           command -v taskset && $(LUA) -e 'require "socket"; require "cqueues"; require "luv"'

.PHONY: all deps bench-deps fuzz-deps test lint sanitize valgrind bench bench-tls examples demo \
        install uninstall clean fuzz fuzz-long soak

all: $(MODULE) $(TLS_MODULE)

$(BUILD)/%.o: csrc/%.c csrc/lunasock.h csrc/poller.h csrc/http_parse.h csrc/http_cycle.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SHARED) $(ALL_CFLAGS) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS)

$(TLS_OBJS): $(BUILD)/%.o: csrc/%.c csrc/tls.h csrc/lunasock.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(OPENSSL_CFLAGS) -c -o $@ $<

$(TLS_MODULE): $(TLS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SHARED) $(ALL_CFLAGS) -o $@ $(TLS_OBJS) $(LDFLAGS) $(OPENSSL_LIBS)

# A no-op when everything is present; otherwise installs it from Debian.
define apt_install
	@if ( $(1) ) >/dev/null 2>&1; then :; else \
	  echo "make: installing $(2)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $(2); \
	fi
endef

deps:
	$(call apt_install,$(DEPS_OK),$(DEB_PKGS))

bench-deps: deps
	$(call apt_install,$(BENCH_OK),$(BENCH_PKGS))

test: deps all
	$(BUSTED) $(BUSTED_FLAGS) spec

examples: deps all
	$(BUSTED) $(BUSTED_FLAGS) spec/examples_spec.lua

demo: deps all
	$(LUA) bin/demo.lua

lint: deps
	$(LUA) bin/lint.lua
	luacheck --no-color lua spec examples bin fuzz soak

# ASan + UBSan build of the module, specs run with the runtime preloaded into
# the (uninstrumented) interpreter. Leaks are valgrind's job (make valgrind).
SAN_BUILD = build-san
sanitize: deps
	$(MAKE) BUILD=$(SAN_BUILD) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" all
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 LUNASOCK_CPU_SLACK=4 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LUNASOCK_BUILD=$(SAN_BUILD) $(BUSTED) $(BUSTED_FLAGS) spec

# Under memcheck everything runs some 20-50 times slower: each bounded wait
# in the specs gets 30 s instead of 5, and a CPU budget in a linear-time
# check 40 times its plain value.
valgrind: deps all
	LUNASOCK_TEST_TIMEOUT=30 LUNASOCK_CPU_SLACK=40 valgrind --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	  --track-fds=no --num-callers=30 --suppressions=spec/valgrind.supp \
	  $(BUSTED) $(BUSTED_FLAGS) spec

# make fuzz: coverage-guided fuzzing with libFuzzer (clang), a bounded
# pass of FUZZ_TIME seconds across every harness in fuzz/ (see
# fuzz/README.md); make fuzz-long for a local run of 10 minutes or more.
FUZZ_TIME ?= 60
FUZZ_PKGS = clang libclang-rt-14-dev
FUZZ_OK = printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
          | clang -fsanitize=fuzzer -x c - -o /dev/null
fuzz-deps: deps
	$(call apt_install,$(FUZZ_OK),$(FUZZ_PKGS))

fuzz: fuzz-deps
	fuzz/run.sh $(FUZZ_TIME)

# make soak: the HTTP, chat and echo servers, each in its own process at
# ulimit -n 256, under a well-behaved load and a fault mix for SOAK_TIME
# seconds (see soak/README.md); exits non-zero when a bound is violated.
SOAK_TIME ?= 150
soak: deps all
	$(LUA) soak/soak.lua --time $(SOAK_TIME)

fuzz-long: fuzz-deps
	fuzz/run.sh $(if $(filter command line,$(origin FUZZ_TIME)),$(FUZZ_TIME),600)

bench: bench-deps all
	bench/run.sh

# TLS against nginx, same certificate and cipher (bench/README.md)
bench-tls: bench-deps all
	bench/tls.sh

install: all
	install -d $(DESTDIR)$(LUA_CMOD)/lunasock $(DESTDIR)$(LUA_LMOD)/lunasock/http $(DESTDIR)$(BINDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/lunasock/core.so
	install -m 755 $(TLS_MODULE) $(DESTDIR)$(LUA_CMOD)/lunasock/tls.so
	for f in $(LUA_MODS); do \
	  install -m 644 $$f $(DESTDIR)$(LUA_LMOD)/$${f#lua/}; done
	if [ -f bin/lunasock ]; then install -m 755 bin/lunasock $(DESTDIR)$(BINDIR)/lunasock; fi

uninstall:
	rm -f $(DESTDIR)$(LUA_CMOD)/lunasock/core.so $(DESTDIR)$(LUA_CMOD)/lunasock/tls.so \
	      $(DESTDIR)$(BINDIR)/lunasock
	for f in $(LUA_MODS); do rm -f $(DESTDIR)$(LUA_LMOD)/$${f#lua/}; done
	-rmdir $(DESTDIR)$(LUA_CMOD)/lunasock $(DESTDIR)$(LUA_LMOD)/lunasock/http $(DESTDIR)$(LUA_LMOD)/lunasock 2>/dev/null

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-fuzz
