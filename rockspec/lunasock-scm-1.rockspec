rockspec_format = "3.0"
package = "lunasock"
version = "scm-1"
source = {
  url = "git+file:///dev/null",  -- installed from a checkout: luarocks make
}
description = {
  summary = "The whole BSD socket API for Lua 5.4, with an event loop, "
            .. "streams, echo, chat and HTTP on top",
  detailed = [[
lunasock puts every socket family, type, flag and option a C program has
in a Lua script's hands (lunasock.core), and builds a coroutine event loop,
buffered streams, framers, echo, chat and HTTP layers on top.]],
  license = "MIT",
  labels = {"socket", "network", "event-loop", "http"},
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  OPENSSL = {header = "openssl/ssl.h"},
}
build = {
  type = "builtin",
  modules = {
    ["lunasock.core"] = {
      sources = {
        "csrc/core.c", "csrc/socket.c", "csrc/io.c", "csrc/addr.c",
        "csrc/options.c", "csrc/constants.c", "csrc/error.c", "csrc/resolver.c",
        "csrc/poller.c", "csrc/poller_epoll.c", "csrc/poller_poll.c",
        "csrc/process.c", "csrc/http.c", "csrc/http_cycle.c", "csrc/http_parse.c", "csrc/fs.c",
        "csrc/sendfile.c", "csrc/wait.c", "csrc/errmsg.c",
      },
      defines = {"_GNU_SOURCE"},
      libraries = {"pthread"},
    },
    -- the only module linked with OpenSSL (Debian: libssl-dev); point
    -- luarocks at another one with OPENSSL_INCDIR / OPENSSL_LIBDIR
    ["lunasock.tls"] = {
      sources = {
        "csrc/tls.c", "csrc/tls_context.c", "csrc/tls_io.c", "csrc/tls_socket.c",
        "csrc/tls_wrap.c", "csrc/tls_info.c", "csrc/wait.c", "csrc/errmsg.c",
      },
      defines = {"_GNU_SOURCE"},
      libraries = {"ssl", "crypto"},
      incdirs = {"$(OPENSSL_INCDIR)"},
      libdirs = {"$(OPENSSL_LIBDIR)"},
    },
    ["lunasock"] = "lua/lunasock/init.lua",
    ["lunasock.loop"] = "lua/lunasock/loop.lua",
    ["lunasock.stream"] = "lua/lunasock/stream.lua",
    ["lunasock.serve"] = "lua/lunasock/serve.lua",
    ["lunasock.check"] = "lua/lunasock/check.lua",
    ["lunasock.echo"] = "lua/lunasock/echo.lua",
    ["lunasock.chat"] = "lua/lunasock/chat.lua",
    ["lunasock.frame"] = "lua/lunasock/frame.lua",
    ["lunasock.workers"] = "lua/lunasock/workers.lua",
    ["lunasock.http"] = "lua/lunasock/http/init.lua",
    ["lunasock.http.server"] = "lua/lunasock/http/server.lua",
    ["lunasock.http.router"] = "lua/lunasock/http/router.lua",
    ["lunasock.http.parse"] = "lua/lunasock/http/parse.lua",
    ["lunasock.http.h1"] = "lua/lunasock/http/h1.lua",
    ["lunasock.http.request"] = "lua/lunasock/http/request.lua",
    ["lunasock.http.response"] = "lua/lunasock/http/response.lua",
    ["lunasock.http.pool"] = "lua/lunasock/http/pool.lua",
    ["lunasock.http.body"] = "lua/lunasock/http/body.lua",
    ["lunasock.http.static"] = "lua/lunasock/http/static.lua",
    ["lunasock.http.client"] = "lua/lunasock/http/client.lua",
    ["lunasock.http.url"] = "lua/lunasock/http/url.lua",
  },
  install = {
    bin = {lunasock = "bin/lunasock"},
  },
}
test = {
  type = "busted",
}
