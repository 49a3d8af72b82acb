-- lunasock (init.lua): tcp/udp/unix front.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local helper = require "helper"
local core = lunasock.core

describe("lunasock", function()
  it("re-exports core and loop", function()
    assert.equal(require "lunasock.core", lunasock.core)
    assert.equal(loop, lunasock.loop)
  end)

  describe("tcp", function()
    it("listen on port 0 and connect, outside the loop", function()
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = helper.TIMEOUT}))
      local _, port = l:getsockname()
      local c <close> = assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = helper.TIMEOUT}))
      local s <close> = assert(l:accept())
      assert(c:send("hi"))
      s:settimeout(helper.TIMEOUT)
      assert.equal("hi", s:recv(2))
      assert.equal(helper.TIMEOUT, c:gettimeout())
    end)

    it("connect outside the loop returns once decided, whatever tasks wait", function()
      -- a name with two addresses (::1 refused, then 127.0.0.1) makes
      -- connect race in a private run of the loop; a task spawned before,
      -- waiting long, must not hold that run open
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = helper.TIMEOUT}))
      local _, port = l:getsockname()
      local idle <close> = assert(lunasock.tcp.listen("127.0.0.1", 0))
      idle:settimeout(helper.TIMEOUT)
      local waiter = loop.spawn(function() return idle:accept() end)
      local real = core.getaddrinfo
      core.getaddrinfo = function(host, ...)
        if host == "two.test" then
          local st = core.SOCK_STREAM
          return {{family = core.AF_INET6, socktype = st, addr = "::1", port = port},
                  {family = core.AF_INET, socktype = st, addr = "127.0.0.1", port = port}}
        end
        return real(host, ...)
      end
      local t0 = loop.now()
      local ok, c, err = pcall(lunasock.tcp.connect, "two.test", port, {timeout = helper.TIMEOUT})
      core.getaddrinfo = real
      local elapsed = loop.now() - t0
      assert.is_true(ok, c)
      assert.is_truthy(c, err)
      c:close()
      assert.is_true(elapsed < helper.TIMEOUT / 2, "took " .. elapsed .. " s")
      -- end the waiting task: closing inside a run wakes it (EBADF)
      loop.run(function() idle:close() end)
      assert.equal("done", waiter:status())
    end)

    it("bind holds a port without taking connections; reuseport listeners share it", function()
      local hold <close> = assert(lunasock.tcp.bind("127.0.0.1", 0, {reuseport = true}))
      local host, port = hold:getsockname()
      assert.equal("127.0.0.1", host)
      assert.is_true(port > 0)
      assert.is_true(hold:getopt("reuseaddr"))
      local c <close> = assert(core.socket("inet", "stream"))
      assert.equal("ECONNREFUSED", select(3, c:connect("127.0.0.1", port)))
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", port, {reuseport = true,
                                                                        timeout = helper.TIMEOUT}))
      local _c <close> = assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = helper.TIMEOUT}))
      assert.is_truthy(l:accept())
      local dual <close> = assert(lunasock.tcp.bind("*", 0))
      assert.equal("::", (dual:getsockname()))
      assert.is_false(dual:getopt("v6only"))
    end)

    it("listen on '*' is dual stack", function()
      local l <close> = assert(lunasock.tcp.listen("*", 0, {timeout = helper.TIMEOUT}))
      local host, port = l:getsockname()
      assert.equal("::", host)
      for _, addr in ipairs{"127.0.0.1", "::1"} do
        local _c <close> = assert(lunasock.tcp.connect(addr, port, {timeout = helper.TIMEOUT}))
        local s <close> = assert(l:accept())
        assert.is_truthy(s)
      end
    end)

    it("connect to localhost tries every address until one answers", function()
      -- listening on IPv4 only: ::1 (if tried first) is refused
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = helper.TIMEOUT}))
      local _, port = l:getsockname()
      local c <close> = assert(lunasock.tcp.connect("localhost", port, {timeout = helper.TIMEOUT}))
      assert.equal("127.0.0.1", (c:getpeername()))
    end)

    it("races a silent address against a live one (RFC 8305)", function()
      -- a listener with a full accept queue drops SYNs: a silent address
      local silent <close> = assert(core.socket("inet", "stream"))
      assert(silent:bind("127.0.0.1", 0))
      assert(silent:listen(0))
      local _, silent_port = silent:getsockname()
      -- (backlog 0: one queued connection fills it)
      local filler <close> = assert(core.socket("inet", "stream"))
      filler:settimeout(helper.TIMEOUT)
      assert(filler:connect("127.0.0.1", silent_port))
      local live <close> = assert(lunasock.tcp.listen("127.0.0.1", 0))
      local _, live_port = live:getsockname()
      -- the resolver answers with the silent address first
      local real = core.getaddrinfo
      core.getaddrinfo = function()
        return {
          {family = core.AF_INET, socktype = core.SOCK_STREAM, protocol = 6,
           addr = "127.0.0.1", port = silent_port},
          {family = core.AF_INET, socktype = core.SOCK_STREAM, protocol = 6,
           addr = "127.0.0.1", port = live_port},
        }
      end
      local start = loop.now()
      local c, err = lunasock.tcp.connect("example.invalid", 80, {timeout = helper.TIMEOUT})
      core.getaddrinfo = real
      assert(c, err)
      local elapsed = loop.now() - start
      assert.equal(live_port, select(2, c:getpeername()))
      assert.is_true(elapsed >= lunasock.CONNECTION_ATTEMPT_DELAY * 0.9, "took " .. elapsed)
      assert.is_true(elapsed < 1, "took " .. elapsed)
      c:close()
    end)

    it("connect returns the last error when every address fails", function()
      local l, port = helper.listener()
      l:close()
      local c, _, code = lunasock.tcp.connect("127.0.0.1", port, {timeout = helper.TIMEOUT})
      assert.is_nil(c)
      assert.equal("ECONNREFUSED", code)
    end)

    it("connect works inside a loop task and suspends only it", function()
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      local got
      loop.run(function()
        local server = loop.spawn(function()
          local s <close> = assert(l:accept())
          got = s:recv(5)
        end)
        local c <close> = assert(lunasock.tcp.connect("localhost", port,
                                                       {timeout = helper.TIMEOUT}))
        assert(c:send("hello"))
        server:join()
      end)
      assert.equal("hello", got)
    end)
  end)

  it("binds a service name as a port, with a host and with the any-address", function()
    -- a service name raised inside bind ('number expected, got string'):
    -- the name was resolved, but its number not used
    local calls = {
      function() return lunasock.tcp.bind("127.0.0.1", "echo") end,
      function() return lunasock.tcp.bind("*", "echo") end,
      function() return lunasock.udp.bind("127.0.0.1", "echo") end,
      function() return lunasock.udp.bind(nil, "echo") end,
    }
    for i, call in ipairs(calls) do
      local ok, s, _, code = pcall(call)
      assert.is_true(ok, s)
      if s then   -- root may bind port 7; others get EACCES
        assert.equal(7, select(2, s:getsockname()), i)
        s:close()
      else
        assert.is_truthy(code == "EACCES" or code == "EADDRINUSE", code)
      end
    end
    assert.equal("EAI_SERVICE", select(3, lunasock.tcp.bind("*", "no-such-service")))
  end)

  it("raises for a unix path with a zero byte after its first, naming the function", function()
    for _, name in ipairs{"listen", "connect", "serve"} do
      local ok, err = pcall(lunasock.unix[name], "/tmp/a\0b", name == "serve" and print or nil)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'unix." .. name .. "' (path contains a zero byte)",
                     err, 1, true)
    end
  end)

  it("checks a unix type option at the door; connect takes 'dgram' too", function()
    -- unix.connect{type = "bogus"} raised from core.socket inside
    -- init.lua, and unix.serve's from its listen, not at the caller
    for _, case in ipairs{{"listen", "dgram"}, {"connect", "bogus"}, {"serve", "dgram"}} do
      local ok, err = pcall(function()
        local r = lunasock.unix[case[1]]("\0lunasock-spec-type", case[1] == "serve" and print
                                          or {type = case[2]}, {type = case[2]})
        return r
      end)
      assert.is_false(ok)
      assert.matches("^spec/lunasock_spec%.lua:%d+: bad option 'type' to 'unix%." .. case[1], err)
    end
    local srv <close> = assert(core.socket("unix", "dgram"))
    assert(srv:bind(""))
    srv:settimeout(helper.TIMEOUT)
    local c <close> = assert(lunasock.unix.connect(srv:getsockname(), {type = "dgram"}))
    assert(c:send("a datagram"))
    assert.equal("a datagram", srv:recv(100))
  end)

  describe("udp", function()
    it("bind and connect exchange datagrams", function()
      local srv <close> = assert(lunasock.udp.bind("127.0.0.1", 0, {timeout = helper.TIMEOUT}))
      local _, port = srv:getsockname()
      local cli <close> = assert(lunasock.udp.connect("127.0.0.1", port,
                                                      {timeout = helper.TIMEOUT}))
      assert(cli:send("ping"))
      local data, host, cport = srv:recvfrom(100)
      assert.equal("ping", data)
      assert(srv:sendto("pong", host, cport))
      assert.equal("pong", cli:recv(100))
    end)
  end)

  describe("unix", function()
    it("listen replaces a stale socket file but not a live one", function()
      local dir = helper.tmpdir()
      local path = dir .. "/s"
      local first = assert(lunasock.unix.listen(path))
      local again, _, code = lunasock.unix.listen(path)
      assert.is_nil(again)
      assert.equal("EADDRINUSE", code)
      first:close()  -- the file stays behind, stale
      local second <close> = assert(lunasock.unix.listen(path, {timeout = helper.TIMEOUT}))
      local c <close> = assert(lunasock.unix.connect(path, {timeout = helper.TIMEOUT}))
      local s <close> = assert(second:accept())
      assert(c:send("u"))
      s:settimeout(helper.TIMEOUT)
      assert.equal("u", s:recv(1))
      helper.rmdir(dir)
    end)

    it("a unix server's close removes its own socket file, not a newer one", function()
      -- close removed whatever was at path: another server's socket,
      -- bound there after this one's file had been removed
      local dir = helper.tmpdir()
      local path = dir .. "/s"
      local ok, err = pcall(helper.run_task, function()
        local first <close> = assert(lunasock.unix.serve(path, function(st)
          st:write("first\n")
        end))
        os.remove(path)
        local second <close> = assert(lunasock.unix.serve(path, function(st)
          st:write("second\n")
        end))
        first:close()
        assert.equal("socket", core.stat(path, false).type)
        local c <close> = assert(lunasock.unix.connect(path, {timeout = helper.TIMEOUT}))
        c:settimeout(helper.TIMEOUT)
        assert.equal("second\n", c:recv(100))
        second:close()
        assert.is_nil(core.stat(path, false))   -- its own file: removed
      end)
      helper.rmdir(dir)
      assert(ok, err)
    end)

    it("listen never removes a file at path that is not a socket", function()
      -- connect(2) to a regular file or a FIFO fails with ECONNREFUSED,
      -- as to a stale socket: listen used to delete them.
      local dir = helper.tmpdir()
      local path = dir .. "/data"
      local f = assert(io.open(path, "w"))
      f:write("precious")
      f:close()
      local s, _, code = lunasock.unix.listen(path)
      assert.is_nil(s)
      assert.equal("EADDRINUSE", code)
      assert.equal("file", core.stat(path).type)
      f = assert(io.open(path))
      assert.equal("precious", f:read("a"))
      f:close()
      assert(os.execute("mkfifo " .. path .. ".fifo"))
      s, _, code = lunasock.unix.listen(path .. ".fifo")
      assert.is_nil(s)
      assert.equal("EADDRINUSE", code)
      assert.equal("fifo", core.stat(path .. ".fifo").type)
      os.remove(path)
      os.remove(path .. ".fifo")
      helper.rmdir(dir)
    end)
  end)
end)
