-- The TLS front: lunasock.tcp.connect{tls = ...} and the servers that
-- take tls (lunasock.tcp.serve, http.server, echo.serve, chat.serve),
-- over loopback, against lunasock's own peers and real clients started
-- here: curl --cacert, openssl s_client and Python's ssl module with
-- create_default_context, mutual TLS included. Certificates come from
-- tls_certs (a test CA and leaves made with the openssl command).
local helper = require "helper"
local core = require "lunasock.core"
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local tls_certs = require "tls_certs"
local peers = require "tls_peers"

local TIMEOUT = helper.TIMEOUT

-- Runs fn as a loop task, bounded; errors propagate.
local function run(fn)
  return helper.run_task(fn, TIMEOUT * 3)
end

-- A line service: each line comes back in upper case; "who" answers with
-- the client certificate's subject as the server saw it.
local function upper(st)
  for line in st:lines() do
    if line == "who" then
      local info = st:socket():info()
      st:write(tostring(info.peer and info.peer.subject), "\n")
    else
      st:write(line:upper(), "\n")
    end
    st:flush()
  end
end

local certs

setup(function()
  certs = tls_certs.get()
end)

describe("lunasock.tcp.connect with tls", function()
  local function serve(tls, handler)
    return assert(lunasock.tcp.serve("127.0.0.1", 0, handler or upper,
                                      {tls = tls, timeout = TIMEOUT}))
  end

  it("verifies the host it dials: a name (sent as SNI) or an address (IP SAN)", function()
    run(function()
      local srv <close> = serve{cert = certs.leaf.cert, key = certs.leaf.key}
      for _, host in ipairs{"localhost", "127.0.0.1"} do
        local s <close> = assert(lunasock.tcp.connect(host, srv.port, {
          tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
        local info = s:info()
        assert.is_true(info.verified)
        assert.matches("^TLSv1%.[23]$", info.version)
        assert(s:send("hi\n"))
        assert.are.equal("HI\n", s:recv(3))
      end
    end)
  end)

  it("verifies an IPv6 literal against the certificate's IP SAN", function()
    local probe = core.socket("inet6", "stream")
    local v6 = probe and probe:bind("::1", 0)
    if probe then probe:close() end
    if not v6 then return pending("no IPv6 loopback here") end
    run(function()
      local srv <close> = assert(lunasock.tcp.serve("::1", 0, upper, {
        tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local s <close> = assert(lunasock.tcp.connect("::1", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      assert.is_true(s:info().verified)
      assert.is_nil(s:info().servername)          -- no SNI for an address
      local other <close> = assert(lunasock.tcp.serve("::1", 0, upper, {
        tls = {cert = certs.other.cert, key = certs.other.key}}))
      local bad, msg, code = lunasock.tcp.connect("::1", other.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT})
      assert.is_nil(bad)
      assert.are.equal("TLS_HOSTNAME", code, msg)
    end)
  end)

  it("refuses the system's store for a private CA, another name, another address", function()
    run(function()
      local srv <close> = serve{cert = certs.leaf.cert, key = certs.leaf.key}
      local other <close> = serve{cert = certs.other.cert, key = certs.other.key}
      local s, msg, code = lunasock.tcp.connect("localhost", srv.port, {tls = true,
                                                                         timeout = TIMEOUT})
      assert.is_nil(s)
      assert.are.equal("TLS_VERIFY", code, msg)
      for _, host in ipairs{"localhost", "127.0.0.1"} do
        s, msg, code = lunasock.tcp.connect(host, other.port, {
          tls = {cafile = certs.ca.cert}, timeout = TIMEOUT})
        assert.is_nil(s)
        assert.are.equal("TLS_HOSTNAME", code, msg)
      end
      -- servername names the certificate to expect, whatever is dialled
      local ok <close> = assert(lunasock.tcp.connect("127.0.0.1", other.port, {
        tls = {cafile = certs.ca.cert}, servername = "other.test", timeout = TIMEOUT}))
      assert.are.equal("other.test", ok:info().servername)
    end)
  end)

  it("takes a context, and resumes a session", function()
    run(function()
      local tls = require "lunasock.tls"
      local srv <close> = serve{cert = certs.leaf.cert, key = certs.leaf.key}
      local ctx = assert(tls.context{cafile = certs.ca.cert})
      local a = assert(lunasock.tcp.connect("localhost", srv.port, {tls = ctx,
                                                                     timeout = TIMEOUT}))
      assert(a:send("x\n"))
      assert.are.equal("X\n", a:recv(2))   -- TLS 1.3 tickets came with it
      local sess = assert(a:session())
      a:close()
      local b <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = ctx, session = sess, timeout = TIMEOUT}))
      assert.is_true(b:info().session_reused)
    end)
  end)

  it("bounds the handshake by opts.timeout, overall", function()
    run(function()
      local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0))
      local _, port = l:getsockname()
      local t0 = core.monotime()
      -- the kernel accepts for us; nobody ever answers the ClientHello
      local s, _, code = lunasock.tcp.connect("127.0.0.1", port, {
        tls = {cafile = certs.ca.cert}, timeout = 0.3})
      assert.is_nil(s)
      assert.are.equal("ETIMEDOUT", code)
      assert.is_true(core.monotime() - t0 < 0.3 + 1)
    end)
  end)

  it("blocks outside the loop, bounded by the same timeout", function()
    local l <close> = assert(lunasock.tcp.listen("127.0.0.1", 0))
    local _, port = l:getsockname()
    local s, _, code = lunasock.tcp.connect("127.0.0.1", port, {
      tls = {cafile = certs.ca.cert}, timeout = 0.2})
    assert.is_nil(s)
    assert.are.equal("ETIMEDOUT", code)
  end)
end)

describe("lunasock.tcp.serve with tls", function()
  it("serves many clients while one stalls after its ClientHello, and cuts that one", function()
    run(function()
      local serve = require "lunasock.serve"
      assert.is_number(serve.HANDSHAKE_TIMEOUT)
      local hs = TIMEOUT / 10     -- 0.5 s; longer under valgrind
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {
        tls = {cert = certs.leaf.cert, key = certs.leaf.key}, handshake_timeout = hs}))
      -- a real ClientHello, taken from a lunasock client on a socketpair
      local a, b = assert(core.socketpair())
      local tls = require "lunasock.tls"
      local t = loop.spawn(tls.wrap, a, {verify = false}, {timeout = TIMEOUT})
      b:settimeout(TIMEOUT)
      local hello = assert(b:recv(65536))
      assert.are.equal(22, hello:byte(1))         -- a handshake record
      t:cancel()
      a:close()
      b:close()
      local stalled <close> = assert(lunasock.tcp.connect("127.0.0.1", srv.port))
      assert(stalled:send(hello))
      local t0 = core.monotime()
      -- meanwhile, others are served at once
      local tasks = {}
      for i = 1, 5 do
        tasks[i] = loop.spawn(function()
          local s <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
            tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
          assert(s:send("client " .. i .. "\n"))
          return s:recv(64)
        end)
      end
      for i = 1, 5 do assert.are.equal("CLIENT " .. i .. "\n", tasks[i]:join()) end
      -- all served while the stalled handshake was still pending
      assert.is_true(core.monotime() - t0 < hs, "the others waited for the stalled one")
      -- the stalled one gets its ServerHello, then is cut at the timeout
      stalled:settimeout(TIMEOUT)
      local got = {}
      repeat
        local data = stalled:recv(65536)
        got[#got + 1] = data
      until not data or data == ""
      assert.are.equal(22, got[1] and got[1]:byte(1))   -- the ServerHello came
      local elapsed = core.monotime() - t0
      assert.is_true(elapsed >= hs * 0.8 and elapsed < hs + TIMEOUT, tostring(elapsed))
      local deadline = core.monotime() + TIMEOUT
      while srv:connections() > 0 and core.monotime() < deadline do loop.sleep(0.01) end
      assert.are.equal(0, srv:connections())
    end)
  end)

  it("closes a connection whose client refuses the certificate, and goes on", function()
    run(function()
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {
        tls = {cert = certs.untrusted.cert, key = certs.untrusted.key}}))
      local s, _, code = lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT})
      assert.is_nil(s)
      assert.are.equal("TLS_VERIFY", code)
      s = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {verify = false}, timeout = TIMEOUT}))
      assert(s:send("still\n"))
      assert.are.equal("STILL\n", s:recv(6))
      s:close()
    end)
  end)

  it("runs a chat room over TLS: joins, messages, /quit, leave notices", function()
    run(function()
      local chat = require "lunasock.chat"
      local stream = require "lunasock.stream"
      local room <close> = assert(chat.serve{host = "127.0.0.1", port = 0,
                                             tls = {cert = certs.leaf.cert, key = certs.leaf.key}})
      local function join(nick)
        local s = assert(lunasock.tcp.connect("localhost", room.port, {
          tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
        local st = stream.new(s)
        local function until_line(pattern)
          while true do
            local line = assert(st:readline())
            if line:find(pattern) then return line end
          end
        end
        until_line("choose a nickname")
        assert(st:write(nick, "\r\n"))
        until_line("you are " .. nick)
        return st, until_line
      end
      local a, a_until = join("alice")
      local b, b_until = join("bob")
      a_until("bob joined")
      assert(a:write("hello over tls\r\n"))
      assert.are.equal("<alice> hello over tls", b_until("hello over tls"))
      assert(a:write("/quit done\r\n"))
      a_until("bye")
      assert.is_nil(a:readline())          -- the server closed it
      a:close()
      b_until("alice left")
      b:close()
    end)
  end)

  it("takes a server tls.context as well as a table (regression: locked metatable)", function()
    run(function()
      local tls = require "lunasock.tls"
      local ctx = assert(tls.context{mode = "server", cert = certs.leaf.cert,
                                     key = certs.leaf.key})
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {tls = ctx}))
      local s <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      assert(s:send("ctx\n"))
      assert.are.equal("CTX\n", s:recv(4))
    end)
  end)

  -- regression: a client context was taken, and every handshake then
  -- failed ("unexpected message", or a raise about servername)
  it("refuses a client context at every server's door, a server one at the clients'", function()
    local tls = require "lunasock.tls"
    local http = require "lunasock.http"
    local client = assert(tls.context{verify = false})
    local server = assert(tls.context{mode = "server", cert = certs.leaf.cert,
                                      key = certs.leaf.key})
    local function refused(pattern, fn, ...)
      local ok, err = pcall(fn, ...)
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    run(function()
      local as_table = {mode = "client", cert = certs.leaf.cert, key = certs.leaf.key}
      for _, bad in ipairs{client, as_table} do
        refused("bad option 'tls'", lunasock.tcp.serve, "127.0.0.1", 0, upper, {tls = bad})
        refused("bad option 'tls'", http.server, {port = 0, handler = upper, tls = bad})
        refused("bad option 'tls'", require("lunasock.echo").serve, {port = 0, tls = bad})
        refused("bad option 'tls'", require("lunasock.chat").serve, {port = 0, tls = bad})
      end
      refused("a server tls.context expected, got a client one",
              lunasock.tcp.serve, "127.0.0.1", 0, upper, {tls = client})
      -- said at the door, not at a line inside chat.lua
      refused("^bad option 'tls'", require("lunasock.chat").serve, {port = 0, tls = client})
      refused("^bad option 'tls' to 'tcp.serve' %(a server tls.context",
              lunasock.tcp.serve, "127.0.0.1", 0, upper, {tls = 5})
      for _, bad in ipairs{server, {mode = "server"}, io.stdout} do
        refused("bad option 'tls' to 'tcp.connect'", lunasock.tcp.connect, "127.0.0.1", 1,
                {tls = bad})
        refused("bad option 'tls' to 'http.get'", http.get, "https://127.0.0.1:1/", {tls = bad})
      end
    end)
  end)

  it("returns TLS_CONFIG for a key that does not load", function()
    run(function()
      local srv, msg, code = lunasock.tcp.serve("127.0.0.1", 0, upper, {
        tls = {cert = certs.leaf.cert, key = certs.dir .. "/missing.key"}})
      assert.is_nil(srv)
      assert.are.equal("TLS_CONFIG", code, msg)
    end)
  end)
end)

describe("TLS servers and a client that stops reading", function()
  -- A TLS socket's shutdown and close first flush what it holds; with a
  -- peer that does not read, that waits (up to 2 s). The server's own
  -- housekeeping must never wait on it.

  -- A TLS client on a small receive buffer that asks for big and never
  -- reads; returns the TLS socket.
  local function greedy(port, request)
    local c = assert(core.socket("inet", "stream"))
    c:setopt("rcvbuf", 4096)
    c:settimeout(TIMEOUT)
    assert(c:connect("127.0.0.1", port))
    local tls = require "lunasock.tls"
    local t = assert(tls.wrap(c, {cafile = certs.ca.cert}, {servername = "localhost",
                                                            timeout = TIMEOUT}))
    assert(t:send(request))
    return t
  end

  it("http.server still cuts an idle connection on time (the reaper never waits)", function()
    run(function()
      local http = require "lunasock.http"
      local big = string.rep("x", 4 * 1024 * 1024)
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0,
        tls = {cert = certs.leaf.cert, key = certs.leaf.key},
        idle_timeout = 0.4, header_timeout = 0.4, body_timeout = 0.3, request_timeout = 0.5,
        handler = function() return 200, nil, big end})
      local stuck = {}
      for i = 1, 3 do stuck[i] = greedy(srv.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") end
      loop.sleep(0.7)                          -- past their request_timeout: cut
      local idle <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      local t0 = core.monotime()
      local data, _, code = idle:recv(1)       -- "" or an error when the server cuts it
      local took = core.monotime() - t0
      assert.is_true(data == "" or data == nil, tostring(code))
      assert.is_true(took < 0.4 + 1.5, ("the idle connection was cut after %.2f s"):format(took))
      for _, t in ipairs(stuck) do t:close() end
    end)
  end)

  it("http.server parks an idle TLS connection and serves its next request", function()
    run(function()
      local http = require "lunasock.http"
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0,
        tls = {cert = certs.leaf.cert, key = certs.leaf.key}, header_timeout = 0.2,
        handler = function(req) return 200, nil, "hi " .. req.path end})
      local c <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      local st = require("lunasock.stream").new(c)
      for i = 1, 2 do
        local t0 = loop.now()
        while select(2, srv:connections()) < 1 and loop.now() - t0 < TIMEOUT do
          loop.sleep(0.01)
        end
        assert.same({1, 1}, {srv:connections()})   -- no task: not started, then parked
        assert(st:write("GET /" .. i .. " HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert.equal("HTTP/1.1 200 OK", st:readline())
        repeat local line = assert(st:readline()) until line == ""
        assert.equal("hi /" .. i, st:read(#("hi /" .. i)))
      end
    end)
  end)

  -- regression: a TLS send counts a record as sent when the socket took
  -- part of it and the TLS socket holds the rest, which goes out with its
  -- next call; a connection parked then (its handler returned PARK after
  -- writing, or server:park while its task waited to send that rest) had
  -- no next call: the peer waited for bytes nobody would send.
  it("tcp.serve sends what TLS held before a handler that wrote parks", function()
    run(function()
      local serve = require "lunasock.serve"
      local reply = string.rep("z", 16384)   -- one record, more than the socket takes
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        if not st:readline() then return end
        st:socket():setopt("sndbuf", 4096)
        assert(st:write(reply))
        return serve.PARK
      end, {tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local t <close> = greedy(srv.port, "go\n")
      local got = {}
      while #table.concat(got) < #reply do got[#got + 1] = assert(t:recv(16384)) end
      assert.equal(reply, table.concat(got))
    end)
  end)

  it("tcp.serve does not park a connection whose task waits to send what TLS held", function()
    run(function()
      local reply = string.rep("z", 16384)
      local sock, waiting
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        sock = st:socket()
        if not st:readline() then return end
        sock:setopt("sndbuf", 4096)
        assert(st:write(reply))
        waiting = true
        st:readline()                        -- flushes the rest first: waits
      end, {tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local t <close> = greedy(srv.port, "go\n")
      local t0 = loop.now()
      while not waiting and loop.now() - t0 < TIMEOUT do loop.sleep(0.01) end
      assert.is_true(waiting)
      assert.is_true(select(2, sock:pending()) > 0)
      assert.is_false(srv:park(sock))
      local got = {}
      while #table.concat(got) < #reply do got[#got + 1] = assert(t:recv(16384)) end
      assert.equal(reply, table.concat(got))
    end)
  end)

  -- regression: read_ahead took the client's second record with its
  -- first; the handler answered the first and parked, the loop watched
  -- the descriptor, and the second was never answered.
  it("tcp.serve answers a record TLS read ahead when a handler parks", function()
    run(function()
      local serve = require "lunasock.serve"
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        local line = st:readline()
        if not line then return end
        assert(st:write("got " .. line .. "\n"))
        assert(st:flush())
        return serve.PARK
      end, {tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local c <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      assert(c:send("one\n"))                -- two records, sent before the
      assert(c:send("two\n"))                -- server's task runs again
      local st = require("lunasock.stream").new(c)
      assert.equal("got one", st:readline())
      assert.equal("got two", st:readline())
    end)
  end)

  -- regression: the same, through http.server: past BUSY_TASKS it parks
  -- a connection as soon as it has answered, and requests the client
  -- pipelined in records of their own, read ahead with the first, waited
  -- for input that had come already
  it("http.server answers pipelined requests TLS read ahead, when it parks after each", function()
    local server_mod = require "lunasock.http.server"
    local saved = server_mod.BUSY_TASKS
    server_mod.BUSY_TASKS = 0
    local ok, err = pcall(run, function()
      local http = require "lunasock.http"
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0,
        tls = {cert = certs.leaf.cert, key = certs.leaf.key},
        handler = function(req) return 200, nil, "hi " .. req.path end})
      local c <close> = assert(lunasock.tcp.connect("localhost", srv.port, {
        tls = {cafile = certs.ca.cert}, timeout = TIMEOUT}))
      for i = 1, 3 do assert(c:send("GET /" .. i .. " HTTP/1.1\r\nHost: x\r\n\r\n")) end
      local st = require("lunasock.stream").new(c)
      for i = 1, 3 do
        assert.equal(200, (helper.read_head(st)))
        assert.equal("hi /" .. i, st:read(#("hi /" .. i)))
      end
    end)
    server_mod.BUSY_TASKS = saved
    assert(ok, err)
  end)

  it("tcp.serve closes at once with connections that do not read", function()
    run(function()
      local chunk = string.rep("y", 65536)
      local srv = assert(lunasock.tcp.serve("127.0.0.1", 0, function(st)
        while st:write(chunk) and st:flush() do end
      end, {tls = {cert = certs.leaf.cert, key = certs.leaf.key}}))
      local stuck = {}
      for i = 1, 3 do stuck[i] = greedy(srv.port, "go") end
      loop.sleep(0.3)                          -- their buffers fill
      local t0 = core.monotime()
      srv:close()
      local took = core.monotime() - t0
      assert.is_true(took < 1, ("close took %.2f s"):format(took))
      for _, t in ipairs(stuck) do t:close() end
    end)
  end)
end)

---------------------------------------------------------------- real clients

local PY_CLIENT = [[
import socket, ssl, sys
port, cafile, nlines = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
if len(sys.argv) > 5:
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        f = s.makefile("rwb")
        f.write(b"hello from python\nwho\n")
        f.flush()
        print(f.readline().decode().strip(), s.version())
        for _ in range(nlines - 1):
            print(f.readline().decode().strip())
]]

describe("lunasock servers with tls against real clients", function()
  local dir

  setup(function()
    dir = helper.tmpdir()
    peers.write_file(dir .. "/client.py", PY_CLIENT)
  end)

  teardown(function()
    if dir then helper.rmdir(dir) end
  end)

  local leaf = function() return {cert = certs.leaf.cert, key = certs.leaf.key} end

  it("tcp.serve answers openssl s_client, verified by name", function()
    if not peers.have("openssl") then return pending("openssl is not installed") end
    run(function()
      -- one line, then the server closes (s_client -quiet waits for that)
      local function once(st)
        st:write(st:readline():upper(), "\n")
      end
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, once, {tls = leaf()}))
      local ok, out = peers.run(("openssl s_client -connect 127.0.0.1:%d -servername localhost"
        .. " -verify_hostname localhost -CAfile %s -verify_return_error -quiet")
        :format(srv.port, certs.ca.cert), "ping\n")
      assert.is_true(ok, out)
      assert.matches("PING\n", out)
    end)
  end)

  it("http.server answers curl --cacert over https, and curl refuses it without", function()
    if not peers.have("curl") then return pending("curl is not installed") end
    run(function()
      local http = require "lunasock.http"
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0, tls = leaf(),
                                             handler = function(req)
        return 200, {["Content-Type"] = "text/plain"}, "hello " .. req.path .. "\n"
      end})
      local url = ("https://localhost:%d/tls"):format(srv.port)
      local ok, out = peers.run(("curl -sS --cacert %s %s %s"):format(certs.ca.cert, url, url))
      assert.is_true(ok, out)
      assert.are.equal("hello /tls\nhello /tls\n", out)
      ok, out = peers.run("curl -sS " .. url)
      assert.is_false(ok)
      assert.matches("certificate", out)
    end)
  end)

  it("http.server with root sends a file over TLS whole (no sendfile under TLS)", function()
    if not peers.have("curl") then return pending("curl is not installed") end
    run(function()
      local http = require "lunasock.http"
      local parts = {}
      for i = 1, 20000 do parts[i] = ("%07d\n"):format(i * 7) end
      local data = table.concat(parts)                 -- 160,000 bytes
      peers.write_file(dir .. "/file.txt", data)
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0, root = dir,
                                             tls = leaf()})
      local ok, out = peers.run(("curl -sS --cacert %s https://localhost:%d/file.txt -o %s/got")
                                :format(certs.ca.cert, srv.port, dir))
      assert.is_true(ok, out)
      assert.is_true(peers.read_file(dir .. "/got") == data)
    end)
  end)

  it("http.server with workers serves TLS from each, and refuses a bad key at once", function()
    if not peers.have("curl") then return pending("curl is not installed") end
    run(function()
      local http = require "lunasock.http"
      local srv, msg, code = http.server{host = "127.0.0.1", port = 0, workers = 2,
                                         tls = {cert = certs.leaf.cert, key = certs.dir .. "/none"},
                                         handler = function() return 200, nil, "w\n" end}
      assert.is_nil(srv)
      assert.are.equal("TLS_CONFIG", code, msg)
      srv = assert(http.server{host = "127.0.0.1", port = 0, workers = 2, tls = leaf(),
                               handler = function() return 200, nil, "w\n" end})
      local url = ("https://localhost:%d/"):format(srv.port)
      local ok, out = peers.run(("curl -sS --cacert %s %s %s %s"):format(certs.ca.cert, url, url,
                                                                         url))
      srv:close()
      assert.is_true(ok, out)
      assert.are.equal("w\nw\nw\n", out)
    end)
  end)

  it("echo.serve and chat.serve speak TLS to Python's default context", function()
    if not peers.have("python3") then return pending("python3 is not installed") end
    run(function()
      local echo = require "lunasock.echo"
      local e <close> = assert(echo.serve{host = "127.0.0.1", port = 0, tls = leaf()})
      local ok, out = peers.run(("python3 %s/client.py %d %s 2"):format(dir, e.port,
                                                                       certs.ca.cert))
      assert.is_true(ok, out)
      assert.matches("^hello from python TLSv1%.3\nwho\n$", out)
      local chat = require "lunasock.chat"
      local c <close> = assert(chat.serve{host = "127.0.0.1", port = 0, tls = leaf()})
      ok, out = peers.run(("python3 %s/client.py %d %s 1"):format(dir, c.port, certs.ca.cert))
      assert.is_true(ok, out)
      assert.matches("TLSv1%.3", out)       -- the room's prompt, over TLS
    end)
  end)

  it("requires a client certificate with verify = true (mutual TLS)", function()
    if not peers.have("python3") then return pending("python3 is not installed") end
    run(function()
      local tls = leaf()
      tls.verify, tls.cafile = true, certs.ca.cert
      local srv <close> = assert(lunasock.tcp.serve("127.0.0.1", 0, upper, {tls = tls}))
      local cmd = ("python3 %s/client.py %d %s 2"):format(dir, srv.port, certs.ca.cert)
      local ok, out = peers.run(cmd .. " " .. certs.client.cert .. " " .. certs.client.key)
      assert.is_true(ok, out)
      assert.matches("^HELLO FROM PYTHON TLSv1%.3\n.*lunasock test client", out)
      ok, out = peers.run(cmd)                  -- no client certificate
      assert.is_false(ok, out)
      ok, out = peers.run(cmd .. " " .. certs.client_untrusted.cert .. " "
                          .. certs.client_untrusted.key)
      assert.is_false(ok, out)
      -- curl with a client certificate too
      if peers.have("curl") then
        local http = require "lunasock.http"
        local h <close> = assert(http.server{host = "127.0.0.1", port = 0, tls = tls,
                                             handler = function() return 200, nil, "mtls\n" end})
        ok, out = peers.run(("curl -sS --cacert %s --cert %s --key %s https://localhost:%d/")
          :format(certs.ca.cert, certs.client.cert, certs.client.key, h.port))
        assert.is_true(ok, out)
        assert.are.equal("mtls\n", out)
      end
    end)
  end)
end)
