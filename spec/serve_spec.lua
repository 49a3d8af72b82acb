-- lunasock.tcp.serve / lunasock.serve: the one accept loop.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local helper = require "helper"
local core = lunasock.core

-- Runs fn() as the main task; every server it makes must be closed by it.
local function run(fn)
  local ok, err = loop.run(function()
    local r = table.pack(pcall(fn))
    assert(r[1], r[2])
    return true
  end)
  assert(ok, err)
end

local function connect(port)
  return stream.new(assert(lunasock.tcp.connect("127.0.0.1", port,
                                                {timeout = helper.TIMEOUT})))
end

local reports = helper.reports   -- loop.on_error's reports while fn runs

local settle = helper.settle

describe("lunasock.tcp.serve", function()
  it("runs the handler per connection with the peer's address, then closes", function()
    run(function()
      local peers = {}
      local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st, host, port)
        peers[#peers + 1] = {host, port}
        st:write("hello ", st:readline(), "\n")
      end))
      assert.equal("127.0.0.1", server.host)
      assert.is_true(server.port > 0)
      for i = 1, 3 do
        local c <close> = connect(server.port)
        c:write("client ", i, "\n")
        assert.equal("hello client " .. i, c:readline())
        assert.same({nil, "closed", "EOF"}, {c:readline()})   -- closed after
        local _, port = c:socket():getsockname()
        assert.same({"127.0.0.1", port}, peers[i])
      end
    end)
  end)

  it("reports a failing handler and goes on serving", function()
    local got = reports(function()
      run(function()
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          local line = st:readline()
          if line == "boom" then error("handler exploded") end
          st:write("ok\n")
        end))
        local bad <close> = connect(server.port)
        bad:write("boom\n")
        assert.same({nil, "closed", "EOF"}, {bad:readline()})
        local good <close> = connect(server.port)
        good:write("fine\n")
        assert.equal("ok", good:readline())
      end)
    end)
    assert.equal(1, #got)
    assert.truthy(got[1]:find("handler exploded", 1, true))
    assert.truthy(got[1]:find("stack traceback", 1, true))
  end)

  it("answers pipelined lines with buffered writes, in order", function()
    run(function()
      local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        for line in st:lines() do st:write(line:upper(), "\n") end
      end))
      local c <close> = connect(server.port)
      c:socket():send("one\ntwo\nthree\n")
      assert.equal("ONE", c:readline())
      assert.equal("TWO", c:readline())
      assert.equal("THREE", c:readline())
    end)
  end)

  it("has TCP_NODELAY on accepted sockets by default, off with nodelay = false", function()
    run(function()
      for _, case in ipairs{{nil, true}, {true, true}, {false, false}} do
        local seen
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          seen = st:socket():getopt("nodelay")
          st:write("x")
        end, {nodelay = case[1]}))
        local c <close> = connect(server.port)
        assert.equal("x", c:read(1))
        assert.equal(case[2], seen)
      end
    end)
  end)

  it("stops accepting at max_conns and goes on when a connection ends", function()
    run(function()
      local served = 0
      local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        served = served + 1
        st:write("in ", served, "\n")
        st:flush()
        st:readall()
      end, {max_conns = 2}))
      local a = connect(server.port)
      local b <close> = connect(server.port)
      assert.equal("in 1", a:readline())
      assert.equal("in 2", b:readline())
      local c <close> = connect(server.port)   -- connects: the backlog holds it
      c:settimeout(0.05)
      assert.equal("ETIMEDOUT", select(3, c:readline()))
      assert.equal(2, server:connections())
      a:close()
      c:settimeout(helper.TIMEOUT)
      assert.equal("in 3", c:readline())
    end)
  end)

  it("applies timeout to each read and write of a connection", function()
    run(function()
      local code
      local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        code = select(3, st:readline())
        st:write("done\n")
      end, {timeout = 0.05}))
      local c <close> = connect(server.port)
      assert.equal("done", c:readline())
      assert.equal("ETIMEDOUT", code)
    end)
  end)

  it("close() stops accepting and closes open connections", function()
    run(function()
      local ended = loop.current()
      local result
      local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        st:write("hi\n")
        st:flush()
        result = table.pack(st:readline())
        loop.wake(ended)
      end))
      local c <close> = connect(server.port)
      assert.equal("hi", c:readline())
      server:close()
      assert.is_true(loop.suspend(helper.TIMEOUT))
      assert.is_nil(result[1])
      assert.same({nil, "closed", "EOF"}, {c:readline()})
      assert.is_nil(lunasock.tcp.connect("127.0.0.1", server.port, {timeout = helper.TIMEOUT}))
    end)
  end)

  it("serve.listener raises for a socket that is not listening", function()
    -- a datagram socket was taken, and its accept (EOPNOTSUPP) retried
    -- with back-off for ever, silently
    local serve = require "lunasock.serve"
    local u <close> = assert(core.socket("inet", "dgram"))
    assert(u:bind("127.0.0.1", 0))
    local t <close> = assert(core.socket("inet", "stream"))
    assert(t:bind("127.0.0.1", 0))
    for _, sock in ipairs{u, t} do
      local ok, err = pcall(serve.listener, sock, function() end)
      assert.is_false(ok)
      assert.matches("listening socket expected, got a %a+ socket not listening", err)
    end
  end)

  describe("park", function()
    -- A line server that keeps its count per connection (by socket), as
    -- a handler called again after a park must.
    local function line_server(calls, socks, opts)
      local count = {}
      return assert(lunasock.tcp.serve("127.0.0.1", 0, function(st, host)
        local sock = st:socket()
        calls[#calls + 1] = host or "again"
        socks[#socks + 1] = sock
        for line in st:lines() do
          count[sock] = (count[sock] or 0) + 1
          st:write(count[sock], " ", line, "\n")
          st:flush()
        end
      end, opts))
    end

    it("ends a waiting handler's task and calls the handler again when input comes", function()
      run(function()
        local calls, socks = {}, {}
        local server <close> = line_server(calls, socks)
        local c <close> = connect(server.port)
        c:write("one\n")
        assert.equal("1 one", c:readline())
        assert.same({1, 0}, {server:connections()})
        assert.is_true(server:park(socks[1]))
        assert.is_false(server:park(socks[1]))      -- parked already
        assert.same({1, 1}, {server:connections()})
        c:write("two\n")
        assert.equal("2 two", c:readline())         -- the handler again, state kept
        assert.same({"127.0.0.1", "again"}, calls)
        assert.same({1, 0}, {server:connections()})
        c:close()
        settle(server, 0, 0)
      end)
    end)

    it("parks a connection whose handler returns serve.PARK", function()
      run(function()
        local calls = {}
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st, host)
          calls[#calls + 1] = host or "again"
          local line = st:readline()
          if not line then return end
          st:write(line:upper(), "\n")
          st:flush()
          return require("lunasock.serve").PARK
        end))
        local c <close> = connect(server.port)
        for _, word in ipairs{"a", "b", "c"} do
          c:write(word, "\n")
          assert.equal(word:upper(), c:readline())
          settle(server, 1, 1)
        end
        assert.same({"127.0.0.1", "again", "again"}, calls)
        c:close()
        settle(server, 0, 0)
      end)
    end)

    it("ends a connection whose handler returns serve.PARK after EOF (no spin)", function()
      -- parked at EOF, the readable end called the handler again at once,
      -- for ever: thousands of calls while the loop ran
      run(function()
        local calls = 0
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          calls = calls + 1
          local data = st:read()
          if data then st:write(data) end
          return require("lunasock.serve").PARK   -- even at EOF
        end))
        local c <close> = connect(server.port)
        c:write("x")
        assert.equal("x", c:read(1))
        settle(server, 1, 1)
        c:close()
        settle(server, 0, 0)
        assert.equal(2, calls)
      end)
    end)

    it("counts a parked connection against max_conns", function()
      run(function()
        local calls, socks = {}, {}
        local server <close> = line_server(calls, socks, {max_conns = 1})
        local a = connect(server.port)
        a:write("one\n")
        assert.equal("1 one", a:readline())
        assert.is_true(server:park(socks[1]))
        local b <close> = connect(server.port)   -- the backlog holds it
        b:write("two\n")
        b:settimeout(0.05)
        assert.equal("ETIMEDOUT", select(3, b:readline()))
        assert.same({1, 1}, {server:connections()})
        a:close()                                 -- the parked one ends: b is let in
        b:settimeout(helper.TIMEOUT)
        assert.equal("1 two", b:readline())
      end)
    end)

    it("keeps a parked connection until close(), which closes it", function()
      run(function()
        local calls, socks = {}, {}
        local server = line_server(calls, socks)
        local c <close> = connect(server.port)
        c:write("one\n")
        assert.equal("1 one", c:readline())
        assert.is_true(server:park(socks[1]))
        server:close()
        assert.same({nil, "closed", "EOF"}, {c:readline()})
        settle(server, 0, 0)
        assert.same({"127.0.0.1"}, calls)   -- not called again for a closed server
      end)
    end)

    it("is false for a socket it does not serve, and raises in the connection's own task",
       function()
      run(function()
        local err, server
        server = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          err = select(2, pcall(server.park, server, st:socket()))
        end))
        local _s <close> = server
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        assert.is_false(server:park(a))
        local c <close> = connect(server.port)
        assert.same({nil, "closed", "EOF"}, {c:readline()})
        assert.matches("park: a connection cannot park itself", err)
      end)
    end)
  end)

  -- hardening (harden2): the lifetimes of parked connections
  describe("park lifetimes", function()
    local PARK = require("lunasock.serve").PARK

    it("sends what a parking handler left in its write buffer (regression: held until next input)",
       function()
      run(function()
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          local line = st:readline()
          if not line then return end
          st:write(line:upper(), "\n")           -- buffered (tcp.serve streams)
          return PARK
        end))
        local c <close> = connect(server.port)
        c:write("a\n")
        assert.equal("A", c:readline())
        settle(server, 1, 1)
      end)
    end)

    it("calls a parking handler again at once for input its stream holds (pipelined hang)",
       function()
      run(function()
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          local line = st:readline()
          if not line then return end
          st:write(line:upper(), "\n")
          st:flush()
          return PARK
        end))
        local c <close> = connect(server.port)
        c:write("a\nb\nc\n")                    -- one segment: the stream holds b and c
        assert.equal("A", c:readline())
        assert.equal("B", c:readline())
        assert.equal("C", c:readline())
      end)
    end)

    it("ends a parked connection whose socket other code closed, without calling the handler",
       function()
      local got = reports(function()
        run(function()
          local calls, socks = 0, {}
          local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
            calls = calls + 1
            socks[#socks + 1] = st:socket()
            for line in st:lines() do st:write(line, "\n") st:flush() end
          end))
          local c <close> = connect(server.port)
          c:write("a\n")
          assert.equal("a", c:readline())
          assert.is_true(server:park(socks[1]))
          socks[1]:close()
          settle(server, 0, 0)
          assert.equal(1, calls)
          assert.same({nil, "closed", "EOF"}, {c:readline()})
        end)
      end)
      assert.same({}, got)   -- was: "handler failed: attempt to use a closed socket"
    end)

    it("closes a connection it cannot watch rather than leave it open with no task", function()
      local got = reports(function()
        run(function()
          local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
            local sock = st:socket()
            if not st:readline() then return end
            -- another task reads it too (and ends when it is closed)
            loop.spawn(function() return sock:recv(10) end)
            loop.sleep(0)
            return PARK
          end))
          local c <close> = connect(server.port)
          c:write("a\n")
          assert.same({nil, "closed", "EOF"}, {c:readline()})
          settle(server, 0, 0)                 -- was: {1, 1} for ever
        end)
      end)
      assert.equal(1, #got)
      assert.matches("not parked", got[1])
    end)

    it("does not park a connection whose stream holds output to send", function()
      run(function()
        local socks = {}
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          socks[#socks + 1] = st:socket()
          st:write("held")                     -- buffered, never flushed before the suspend
          loop.suspend(helper.TIMEOUT)
        end))
        local _c <close> = connect(server.port)
        settle(server, 1, 0)
        while #socks == 0 do loop.sleep(0.005) end
        assert.is_false(server:park(socks[1]))
      end)
    end)

    it("ends a parked connection the peer resets, and one at max_conns lets the next in", function()
      run(function()
        local socks = {}
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          socks[#socks + 1] = st:socket()
          for line in st:lines() do st:write(line, "\n") st:flush() end
        end, {max_conns = 1}))
        local a = connect(server.port)
        a:write("a\n")
        assert.equal("a", a:readline())
        assert.is_true(server:park(socks[1]))
        settle(server, 1, 1)
        local b <close> = connect(server.port)  -- in the backlog: max_conns
        a:socket():setopt("linger", 0)
        a:close()                               -- RST to the parked connection
        b:write("b\n")
        assert.equal("b", b:readline())
        settle(server, 1, 0)
      end)
    end)

    it("returns descriptors and memory to their baseline over thousands of park cycles", function()
      run(function()
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          local line = st:readline()
          if not line then return end
          st:write(line, "\n")
          return PARK
        end))
        local function cycles(conns, per)
          for _ = 1, conns do
            local c <close> = connect(server.port)
            for i = 1, per do
              c:write(i, "\n")
              assert.equal(tostring(i), c:readline())
            end
          end
          settle(server, 0, 0)
        end
        cycles(20, 20)                          -- warm: pools, tables at size
        collectgarbage()
        collectgarbage()
        local fds, mem = helper.fd_count(), collectgarbage("count")
        cycles(100, 30)                         -- 3,000 park/unpark cycles
        collectgarbage()
        collectgarbage()
        assert.equal(fds, helper.fd_count())
        assert.is_true(collectgarbage("count") - mem < 256,
                       "memory grew " .. (collectgarbage("count") - mem) .. " KB")
      end)
    end)
  end)

  describe("deferred", function()
    it("starts a connection's task with its first input, with the peer's address", function()
      run(function()
        local peers = {}
        local server <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st, host, port)
          peers[#peers + 1] = {host, port}
          st:write("hello ", st:readline(), "\n")
        end, {deferred = helper.TIMEOUT}))
        local c <close> = connect(server.port)
        settle(server, 1, 1)   -- accepted, no task
        assert.same({}, peers)
        c:write("you\n")
        assert.equal("hello you", c:readline())
        local _, port = c:socket():getsockname()
        assert.same({{"127.0.0.1", port}}, peers)
      end)
    end)

    it("closes a connection that sends nothing in time, and the rest at close()", function()
      run(function()
        local called = 0
        local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function()
          called = called + 1
        end, {deferred = 0.1}))
        local silent <close> = connect(server.port)
        local t0 = loop.now()
        assert.same({nil, "closed", "EOF"}, {silent:readline()})
        assert.is_true(loop.now() - t0 < helper.TIMEOUT)
        local other <close> = connect(server.port)
        server:close()
        assert.same({nil, "closed", "EOF"}, {other:readline()})
        settle(server, 0, 0)
        assert.equal(0, called)
      end)
    end)
  end)

  -- server:close() once closed every connection's socket, so a handler
  -- busy between two calls (a slow HTTP handler, say) raised "attempt to
  -- use a closed socket" on its next write, reported as a handler failure.
  it("close() makes a busy handler's next calls fail (EPIPE, EOF), never raise", function()
    local got = reports(function()
      run(function()
        local main, results, handler = loop.current(), {}, nil
        local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
          assert(st:readline())
          handler = loop.current()
          loop.wake(main)
          loop.suspend()   -- busy elsewhere while the server closes
          results.write = table.pack(st:write("late\n"))
          results.flush = table.pack(st:flush())
          results.read = table.pack(st:readline())
          loop.wake(main)
        end))
        local c <close> = connect(server.port)
        assert(c:write("go\n"))
        assert.is_true(loop.suspend(helper.TIMEOUT))
        server:close()
        loop.wake(handler)
        assert.is_true(loop.suspend(helper.TIMEOUT))
        assert.is_nil(results.write[1] and results.flush[1])
        assert.equal("EPIPE", results.write[3] or results.flush[3])
        assert.same({nil, "closed", "EOF"}, {results.read[1], results.read[2], results.read[3]})
      end)
    end)
    assert.same({}, got)
  end)

  it("can be closed before its accept task first runs", function()
    local got = reports(function()
      run(function()
        local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function() end))
        server:close()
      end)
    end)
    assert.same({}, got)
  end)

  it("ends quietly when its listener is closed directly, even while it backs off", function()
    local got = reports(function()
      run(function()
        local server = assert(lunasock.tcp.serve("127.0.0.1", 0, function() end))
        loop.sleep(0)                   -- the accept task waits in accept
        server.sock:close()
        local other = assert(lunasock.tcp.serve("127.0.0.1", 0, function() end))
        other.sock:close()              -- before its task first ran
        loop.sleep(0)
        assert.equal("done", server.task:status())
        assert.equal("done", other.task:status())
        server:close()
        other:close()
      end)
    end)
    assert.same({}, got)
  end)

  it("serves a unix socket with unix.serve, and removes the file on close", function()
    local path = helper.tmpdir() .. "/serve.sock"
    run(function()
      local server = assert(lunasock.unix.serve(path, function(st, peer)
        st:write("peer ", tostring(peer), "\n")
      end))
      assert.equal(path, server.path)
      local c = stream.new(assert(lunasock.unix.connect(path, {timeout = helper.TIMEOUT})))
      assert.truthy(c:readline():find("^peer "))
      c:close()
      server:close()
    end)
    assert.is_nil(io.open(path))
    helper.rmdir(path:match("^(.*)/"))
  end)

  it("raises on misuse: unknown options, bad values, no handler", function()
    local function serve(opts)
      return lunasock.tcp.serve("127.0.0.1", 0, function() end, opts)
    end
    assert.has_error(function() serve{nodelai = true} end,
                     "unknown option 'nodelai' to 'tcp.serve'")
    assert.has_error(function() lunasock.tcp.serve("127.0.0.1", 0) end)
    assert.has_error(function() serve{max_conns = 0} end)
    assert.has_error(function() serve{timeout = -1} end)
    assert.has_error(function() serve{tls = 5} end)
    assert.has_error(function() serve{stream = {chunkk = 1}} end)
  end)
end)

describe("lunasock.tcp.listen and connect: TCP_NODELAY", function()
  it("is on for connected and accepted sockets by default; nodelay = false turns it off", function()
    for _, case in ipairs{{nil, true}, {false, false}} do
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0,
                                                   {nodelay = case[1], timeout = helper.TIMEOUT}))
      local _, port = l:getsockname()
      local c <close> = assert(lunasock.tcp.connect("127.0.0.1", port,
                                                    {nodelay = case[1], timeout = helper.TIMEOUT}))
      local a <close> = assert(l:accept())
      assert.equal(case[2], c:getopt("nodelay"))
      assert.equal(case[2], a:getopt("nodelay"))   -- inherited from the listener
    end
  end)

  it("tcp.listen raises on an option it does not know", function()
    assert.has_error(function() lunasock.tcp.listen("127.0.0.1", 0, {nodely = true}) end,
                     "unknown option 'nodely' to 'tcp.listen'")
    assert.has_error(function() lunasock.unix.listen("/nonexistent/x", {bogus = 1}) end,
                     "unknown option 'bogus' to 'unix.listen'")
    local dir = helper.tmpdir()
    assert.has_error(function() lunasock.unix.listen(dir .. "/d", {type = "dgram"}) end,
                     "bad option 'type' to 'unix.listen' ('stream' or 'seqpacket' expected)")
    assert.is_nil(io.open(dir .. "/d"))   -- nothing bound, no file left
    helper.rmdir(dir)
  end)
end)

describe("accept on a listener closed by another task", function()
  it("returns nil, msg, code in the waiting task, never raises", function()
    local l = assert(lunasock.tcp.listen("127.0.0.1", 0))
    run(function()
      local waiter = loop.spawn(function() return table.pack(l:accept()) end)
      loop.sleep(0)
      assert.equal("waiting", waiter:status())
      l:close()
      local r = waiter:join()
      assert.is_nil(r[1])
      assert.equal("string", type(r[2]))
      assert.equal("EBADF", r[3])
    end)
    assert.equal("closed socket", core.type(l))
  end)
end)
