-- lunasock.tls: the TLS socket's transfer contracts (partial sends, peeks,
-- half-close, timeouts, closing while waiting), lifetimes and
-- descriptors, inside and outside the loop, over loopback.
local core = require "lunasock.core"
local tls = require "lunasock.tls"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local helper = require "helper"
local certs = require("tls_certs").get()

local TIMEOUT = helper.TIMEOUT
local PEEK_NOW = core.MSG_PEEK | core.MSG_DONTWAIT

local SERVER = assert(tls.context{mode = "server", cert = certs.leaf.cert, key = certs.leaf.key})
local CLIENT = assert(tls.context{cafile = certs.ca.cert})

-- Inside a loop task: peeks n bytes from the TLS socket t without
-- waiting, every 10 ms until something (or "" after close_notify) is
-- there; fails after TIMEOUT.
local function peek(t, n)
  local deadline = loop.now() + TIMEOUT
  repeat
    local data = t:recv(n, PEEK_NOW)
    if data then return data end
    loop.sleep(0.01)
  until loop.now() > deadline
  error("nothing to peek after " .. TIMEOUT .. " s")
end

-- Both ends of a TLS connection over a socketpair, handshakes done in a
-- loop; returns client, server (TLS sockets) with the spec's timeout.
local function tls_pair(sctx, cctx, copts)
  local a, b = assert(core.socketpair())
  a:settimeout(TIMEOUT)
  b:settimeout(TIMEOUT)
  local c, s
  assert(loop.run(function()
    local st = loop.spawn(function() return assert(tls.wrap(b, sctx or SERVER)) end)
    c = assert(tls.wrap(a, cctx or CLIENT, copts or {servername = "localhost"}))
    s = st:join()
    return true
  end))
  return c, s
end

-- Sends from c, not waiting, until the socket and the TLS socket's own
-- pending record are full (a peer that does not read); the bytes taken.
local function fill(c)
  c:settimeout(0)
  local total, n = 0
  repeat
    n = assert(c:send(string.rep("x", 1024 * 1024)))
    total = total + n
  until n < 1024 * 1024
  return total
end

-- Inside a loop task: both ends of a TLS connection over TCP on loopback
-- (the client connects to listener l on port): client and server TLS
-- sockets, handshakes done, and the server's TCP socket.
local function tcp_tls_pair(l, port)
  local c = assert(core.socket("inet", "stream"))
  c:settimeout(TIMEOUT)
  assert(c:connect("127.0.0.1", port))
  local raw = assert(l:accept())
  raw:settimeout(TIMEOUT)
  local st = loop.spawn(function() return assert(tls.wrap(raw, SERVER)) end)
  local t = assert(tls.wrap(c, CLIENT, {servername = "localhost"}))
  return t, st:join(), raw
end

-- A lunasock TLS echo server in a child process (for blocking clients):
-- echoes every connection until close_notify. Returns port, handle.
local function child_echo(n)
  local p = helper.run_lua(([[
    local core = require "lunasock.core"
    local tls = require "lunasock.tls"
    local loop = require "lunasock.loop"
    local ctx = assert(tls.context{mode = "server", cert = %q, key = %q})
    local l = assert(core.socket("inet", "stream"))
    assert(l:bind("127.0.0.1", 0)); assert(l:listen())
    l:settimeout(%g)
    print("port " .. select(2, l:getsockname())); io.stdout:flush()
    loop.run(function()
      for _ = 1, %d do
        local c = assert(l:accept())
        c:settimeout(%g)
        loop.spawn(function()
          local t = assert(tls.wrap(c, ctx))
          while true do
            local data = t:recv(65536)
            if not data or data == "" then break end
            local sent = 0
            while sent < #data do sent = sent + assert(t:send(data:sub(sent + 1))) end
          end
          t:close()
        end)
      end
    end)
  ]]):format(certs.leaf.cert, certs.leaf.key, TIMEOUT, n, TIMEOUT))
  local port = tonumber(p:read("l"):match("port (%d+)"))
  return port, p
end

describe("lunasock.tls transfer", function()
  it("moves megabytes both ways at once between two tasks of one socket", function()
    local c, s = tls_pair()
    local N = 4 * 1024 * 1024
    local block = string.rep("0123456789abcdef", 4096)   -- 64 KiB
    assert(loop.run(function()
      -- the server echoes; the client writes in one task, reads in another
      local echo = loop.spawn(function()
        local st = stream.new(s)
        while true do
          local data, _, code = st:read()
          if not data then assert.equal("EOF", code); break end
          assert(st:write(data))
        end
        s:close()
      end)
      local writer = loop.spawn(function()
        local st = stream.new(c)
        for _ = 1, N // #block do assert(st:write(block)) end
        return true
      end)
      local got, n = {}, 0
      while n < N do
        local data = assert(c:recv(65536))
        assert.is_true(#data > 0 and #data <= 16384)
        got[#got + 1] = data
        n = n + #data
      end
      assert(writer:join())
      assert.equal(N, n)
      local all = table.concat(got)
      assert.equal(block, all:sub(1, #block))
      assert.equal(block, all:sub(-#block))
      assert(c:shutdown("w"))
      echo:join()
      assert.equal("", c:recv(1))
      c:close()
      return true
    end))
  end)

  it("reports partial progress: a send takes what the socket holds", function()
    local c, s = tls_pair()
    local total = fill(c)
    assert.is_true(total > 0)
    local more, _, code = c:send("y")   -- full: nothing taken, no waiting
    assert.is_nil(more)
    assert.equal("EAGAIN", code)
    -- the peer reads it all back, in order
    s:settimeout(TIMEOUT)
    local got = 0
    loop.run(function()
      loop.spawn(function()
        while got < total do got = got + #assert(s:recv(16384)) end
      end)
      c:settimeout(TIMEOUT)
      assert.equal(1, c:send("y"))
    end)
    assert.equal(total, got)
    assert.equal("y", s:recv(1))
    c:close(); s:close()
  end)

  it("blocks outside the loop, bounded by the timeout, against a peer process", function()
    local port, p = child_echo(1)
    local sock = assert(core.socket("inet", "stream"))
    sock:settimeout(TIMEOUT)
    assert(sock:connect("127.0.0.1", port))
    local t = assert(tls.wrap(sock, CLIENT, {servername = "localhost"}))
    local st = stream.new(t)
    for i = 1, 16 do
      local chunk = string.rep(string.char(64 + i), 65536)
      assert(st:write(chunk))
      assert.equal(chunk, st:read(65536))
    end
    t:settimeout(0.05)
    local data, _, code = t:recv(10)    -- nothing comes: the timeout
    assert.is_nil(data)
    assert.equal("ETIMEDOUT", code)
    t:settimeout(TIMEOUT)
    assert(st:write("after the timeout"))
    assert.equal("after the timeout", st:read(17))
    t:close()
    p:read("a")
    assert.is_true(p:close())
  end)

  it("peeks without waiting: EAGAIN when idle, data kept, '' after close_notify", function()
    local c, s = tls_pair()
    local _, _, code = c:recv(1, PEEK_NOW)
    assert.equal("EAGAIN", code)
    s:send("hello")
    helper.run_task(function()
      assert.equal("hello", peek(c, 5))   -- waits for it to arrive, then peeks
    end)
    assert.equal(5, c:pending())          -- the peek decrypted it
    assert.equal("hel", c:recv(3))
    assert.equal(2, c:pending())
    assert.equal("lo", c:recv(5))
    assert.equal(0, c:pending())
    c:settimeout(0)
    local none, _, code2 = c:recv(5)
    assert.is_nil(none)
    assert.equal("EAGAIN", code2)
    s:close()
    c:settimeout(TIMEOUT)
    helper.run_task(function() assert.equal("", peek(c, 1)) end)
    assert.equal("", c:recv(1))
    c:close()
  end)

  -- regression: read_ahead takes every record the descriptor holds, and
  -- pending() counted only the one being read; a caller that polled
  -- the descriptor when pending() said 0 (lunasock.serve parking a
  -- connection) waited for a record already read.
  it("counts in pending() the records read ahead with an earlier one", function()
    local c, s = tls_pair()
    assert.equal(3, s:send("one"))
    assert.equal(3, s:send("two"))       -- two records, both in the socket
    assert.equal("one", c:recv(100))     -- one recv read both
    assert.same({3, 0}, {c:pending()})
    assert.equal("two", c:recv(100))
    assert.same({0, 0}, {c:pending()})
    c:close(); s:close()
  end)

  it("says in pending() how much ciphertext it holds for a peer that does not read", function()
    local c, s = tls_pair()
    local total = fill(c)
    local _, held = c:pending()
    assert.is_true(held > 0 and held < 17 * 1024, "held " .. held)
    s:settimeout(TIMEOUT)
    c:settimeout(TIMEOUT)
    local got = 0
    assert(loop.run(function()
      local reader = loop.spawn(function()
        while got < total do got = got + #assert(s:recv(16384)) end
        return true
      end)
      assert.equal(0, c:send(""))        -- waits until what it held went out
      return reader:join()
    end))
    assert.equal(total, got)
    assert.same({0, 0}, {c:pending()})
    c:close(); s:close()
  end)

  -- regression: shutdown set its flags and sent close_notify before the
  -- core's shutdown looked at how, so a refused call had half-closed
  it("checks shutdown's how before it half-closes anything", function()
    local c, s = tls_pair()
    local raised, err = pcall(c.shutdown, c, "write")
    assert.is_false(raised)
    assert.matches("invalid option 'write'", err)
    assert.has_error(function() c:shutdown({}) end)
    local ok, _, code = c:shutdown(99)
    assert.is_nil(ok)
    assert.equal("EINVAL", code)
    assert.equal(5, c:send("still"))     -- no close_notify went out
    assert.equal("still", s:recv(100))
    assert(s:send("back"))
    assert.equal("back", c:recv(100))    -- and the read side is open
    assert.is_true(c:shutdown(core.SHUT_WR))
    assert.equal("", s:recv(100))
    c:close(); s:close()
  end)

  it("half-closes: shutdown('w') sends close_notify, the other way still works", function()
    local c, s = tls_pair()
    assert(c:send("request"))
    assert.is_true(c:shutdown("w"))
    local _, _, code = c:send("more")
    assert.equal("EPIPE", code)
    assert.equal("request", s:recv(100))
    assert.equal("", s:recv(100))
    assert(s:send("response"))
    assert.equal("response", c:recv(100))
    s:close()
    assert.equal("", c:recv(100))
    c:close()
  end)

  it("keeps its last writes when it closes with unread data (no RST)", function()
    -- regression: a TLS 1.3 client that never reads has the server's
    -- session tickets unread; closing such a TCP socket sends RST, and
    -- the server lost what it had not read yet (ECONNRESET)
    local l, port = helper.listener()
    local total, got, last = 0, 0, nil
    assert(loop.run(function()
      local t, s = tcp_tls_pair(l, port)
      loop.sleep(0.05)      -- the tickets arrive, and are never read
      t:settimeout(0)       -- as much as the socket takes, no waiting
      local block = string.rep("z", 65536)
      repeat
        local n = t:send(block)
        total = total + (n or 0)
      until not n
      t:settimeout(TIMEOUT)
      t:close()
      repeat
        last = {s:recv(65536)}
        got = got + #(last[1] or "")
      until last[1] == nil or last[1] == ""
      s:close()
      return true
    end))
    l:close()
    assert.is_true(total > 0)
    assert.same({""}, last)
    assert.equal(total, got)
  end)

  it("passes the socket's errors through: ECONNRESET when the peer resets", function()
    local l, port = helper.listener()
    assert(loop.run(function()
      local t, s, raw = tcp_tls_pair(l, port)
      assert(raw:setopt("linger", 0))   -- close sends RST
      raw:close()
      assert.equal("closed tls socket", tls.type(s))
      local data, _, code = t:recv(10)
      assert.is_nil(data)
      assert.equal("ECONNRESET", code)
      local _, _, again = t:send("x")   -- and every call after it
      assert.equal("ECONNRESET", again)
      t:close()
      return true
    end))
    l:close()
  end)

  it("returns '' from recv after shutdown('r'), and for recv(0)", function()
    local c, s = tls_pair()
    assert.equal("", c:recv(0))
    assert.is_true(c:shutdown("r"))
    assert.equal("", c:recv(10))
    c:close(); s:close()
  end)

  -- shutdown("r") once flushed the ciphertext the socket still held
  -- before shutting the read side, so with a peer not reading it waited
  -- the 2 s close linger (and then failed ETIMEDOUT). The read side has
  -- nothing to flush: it returns at once, and what was held still goes
  -- out when the peer reads.
  it("shuts the read side at once while it holds ciphertext the peer has not taken", function()
    local c, s = tls_pair()
    local total = fill(c)
    c:settimeout(TIMEOUT)
    local t0 = core.monotime()
    assert.is_true(c:shutdown("r"))
    assert.is_true(core.monotime() - t0 < 0.5, "shutdown('r') waited")
    assert.equal("", c:recv(10))
    -- the send direction is intact: the peer gets every byte, then more
    s:settimeout(TIMEOUT)
    local got = 0
    assert(loop.run(function()
      local reader = loop.spawn(function()
        while got < total + 1 do got = got + #assert(s:recv(16384)) end
        return true
      end)
      assert.equal(1, c:send("y"))
      return reader:join()
    end))
    assert.equal(total + 1, got)
    c:close(); s:close()
  end)

  it("wakes a task waiting in recv with EBADF when another closes the socket", function()
    local c, s = tls_pair()
    loop.run(function()
      local waiter = loop.spawn(function() return c:recv(10) end)
      loop.sleep(0.02)
      assert.is_true(c:close())
      local data, _, code = waiter:join()
      assert.is_nil(data)
      assert.equal("EBADF", code)
    end)
    s:close()
  end)

  it("times out a handshake the peer never answers, outside the loop", function()
    local l, port = helper.listener()
    local sock = assert(core.socket("inet", "stream"))
    sock:settimeout(TIMEOUT)
    assert(sock:connect("127.0.0.1", port))
    local t0 = core.monotime()
    local t, _, code = tls.wrap(sock, CLIENT, {servername = "localhost", timeout = 0.1})
    assert.is_nil(t)
    assert.equal("ETIMEDOUT", code)
    assert.is_true(core.monotime() - t0 < TIMEOUT)
    assert.equal("closed socket", core.type(sock))
    l:close()
  end)

  it("fails with TLS_HANDSHAKE against a plaintext peer", function()
    local a, b = assert(core.socketpair())
    a:settimeout(TIMEOUT)
    b:settimeout(TIMEOUT)
    assert(loop.run(function()
      loop.spawn(function()
        assert(b:recv(4096))   -- the ClientHello
        b:send("HTTP/1.1 400 Bad Request\r\n\r\n")
        b:close()
      end)
      local t, err, code = tls.wrap(a, CLIENT, {servername = "localhost"})
      assert.is_nil(t)
      assert.equal("TLS_HANDSHAKE", code)
      assert.matches("wrong version number", err)
      return true
    end))
  end)
end)

describe("lunasock.tls versions, keys and identities", function()
  it("speaks TLS 1.2 when the client caps it, and resumes a 1.2 session", function()
    local cctx = assert(tls.context{cafile = certs.ca.cert, max_version = "tls1.2"})
    local c, s = tls_pair(nil, cctx)
    assert.equal("TLSv1.2", c:info().version)
    assert.equal("TLSv1.2", s:info().version)
    local sess = assert(c:session())
    assert.equal("tls session", tls.type(sess))
    c:close(); s:close()
    local c2, s2 = tls_pair(nil, cctx, {servername = "localhost", session = sess})
    assert.is_true(c2:info().session_reused)
    assert.is_true(s2:info().session_reused)
    c2:close(); s2:close()
  end)

  it("serves an RSA-2048 leaf as well as ECDSA P-256", function()
    local sctx = assert(tls.context{mode = "server", cert = certs.leaf_rsa.cert,
                                    key = certs.leaf_rsa.key})
    local c, s = tls_pair(sctx)
    assert.is_true(c:info().verified)
    c:close(); s:close()
  end)

  it("verifies ::1 against the IPv6 SAN", function()
    for _, name in ipairs{"::1", "[::1]"} do
      local c, s = tls_pair(nil, nil, {servername = name})
      assert.is_true(c:info().verified)
      assert.is_nil(c:info().servername)   -- no SNI for an address
      c:close(); s:close()
    end
    local a, b = assert(core.socketpair())
    assert(loop.run(function()
      loop.spawn(function() tls.wrap(b, SERVER, {timeout = TIMEOUT}) end)
      local t, _, code = tls.wrap(a, CLIENT, {servername = "::2", timeout = TIMEOUT})
      assert.is_nil(t)
      assert.equal("TLS_HOSTNAME", code)
      return true
    end))
  end)

  it("presents a client certificate to a server that asks (mutual TLS)", function()
    local sctx = assert(tls.context{mode = "server", cert = certs.leaf.cert, key = certs.leaf.key,
                                    verify = true, cafile = certs.ca.cert})
    local cctx = assert(tls.context{cafile = certs.ca.cert, cert = certs.client_rsa.cert,
                                    key = certs.client_rsa.key})
    local c, s = tls_pair(sctx, cctx)
    assert.is_true(s:info().verified)
    assert.equal("CN=lunasock test client", s:info().peer.subject)
    c:close(); s:close()
    -- without one: the server refuses; with TLS 1.3 the client learns it
    -- on its first read
    local a, b = assert(core.socketpair())
    a:settimeout(TIMEOUT); b:settimeout(TIMEOUT)
    assert(loop.run(function()
      local st = loop.spawn(function() return tls.wrap(b, sctx) end)
      local t = tls.wrap(a, CLIENT, {servername = "localhost"})
      local _, _, scode = st:join()
      assert.equal("TLS_VERIFY", scode)
      if t then
        local data, err, code = t:recv(1)
        assert.is_nil(data)
        assert.equal("TLS_VERIFY", code)
        assert.matches("rejected our certificate", err)
        t:close()
      end
      return true
    end))
  end)
end)

describe("lunasock.tls lifetimes", function()
  it("leaks no descriptor through successes, failures and forgotten sockets", function()
    collectgarbage(); collectgarbage()
    local before = helper.fd_count()
    for _ = 1, 3 do
      local c, s = tls_pair()
      c:close(); s:close()
      tls_pair()                    -- forgotten: collected
      local a, b = assert(core.socketpair())
      b:close()
      assert.is_nil((tls.wrap(a, CLIENT, {servername = "localhost", timeout = TIMEOUT})))
      local x = assert(core.socketpair())
      assert.is_nil((tls.wrap(x, {cafile = "/nonexistent"}, {servername = "localhost"})))
      assert.equal("closed socket", core.type(x))
    end
    collectgarbage(); collectgarbage()
    assert.equal(before, helper.fd_count())
  end)

  it("closes the socket of a task cancelled in the middle of its handshake", function()
    local a, b = assert(core.socketpair())
    loop.run(function()
      local t = loop.spawn(function() return tls.wrap(b, SERVER) end)
      loop.sleep(0.02)
      assert.equal("waiting", t:status())
      t:cancel()
    end)
    collectgarbage(); collectgarbage()
    assert.equal("closed socket", core.type(b))
    a:close()
  end)

  it("keeps sockets working when the module is loaded again", function()
    -- regression: busted's insulation clears package.loaded between
    -- files; a second luaopen freed the BIO method of the sockets made
    -- before (a use after free under valgrind)
    local c, s = tls_pair()
    package.loaded["lunasock.tls"] = nil
    local again = require "lunasock.tls"
    assert.equal("tls socket", again.type(c))
    for _ = 1, 3 do collectgarbage() end
    assert(c:send("still"))
    assert.equal("still", s:recv(10))
    c:close(); s:close()
    package.loaded["lunasock.tls"] = tls
  end)

  it("shows what it is in tostring and tls.type", function()
    local c, s = tls_pair()
    assert.matches("^lunasock%.tls%.socket %(client TLSv1%.3, fd %d+%)$", tostring(c))
    assert.matches("^lunasock%.tls%.socket %(server", tostring(s))
    assert.equal("tls socket", tls.type(c))
    assert.equal("tls context", tls.type(SERVER))
    assert.is_nil(tls.type(core.socket("inet", "stream")))
    assert.is_nil(tls.type({}))
    assert.is_number(c:fileno())
    assert.equal("unix", select(2, c:family()))
    assert(c:setopt("sndbuf", 65536))
    assert.is_number(c:getopt("sndbuf"))
    c:close(); s:close()
    assert.equal("lunasock.tls.socket (closed)", tostring(c))
    assert.has_error(function() c:recv(1) end, "attempt to use a closed TLS socket")
  end)

  it("raises for a closed, datagram or foreign socket given to wrap", function()
    local closed = core.socket("inet", "stream"); closed:close()
    assert.has_error(function() tls.wrap(closed, CLIENT, {servername = "x"}) end)
    local d = core.socket("inet", "dgram")
    assert.has_error(function() tls.wrap(d, CLIENT, {servername = "x"}) end)
    d:close()
    assert.has_error(function() tls.wrap(io.stdout, CLIENT, {servername = "x"}) end)
    local a, b = core.socketpair()
    assert.has_error(function() tls.wrap(a, CLIENT, {servername = "x", session = "junk"}) end)
    assert.has_error(function() tls.wrap(a, SERVER, {servername = "x"}) end)
    assert.has_error(function() tls.wrap(a, CLIENT, {servername = "x", timeout = -1}) end)
    a:close(); b:close()
  end)
end)
