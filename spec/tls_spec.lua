-- lunasock.tls: TLS sockets against real peers (openssl s_server,
-- openssl s_client, python3's ssl) and against themselves, on loopback,
-- with certificates made at test time (spec/tls_certs.lua).
local core = require "lunasock.core"
local tls = require "lunasock.tls"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local helper = require "helper"
local certs = require("tls_certs").get()
local peers = require "tls_peers"

local TIMEOUT = helper.TIMEOUT

---------------------------------------------------------------- peers

-- Starts a command (tls_peers.spawn: its pid, and its output with
-- stderr joined) under timeout(1), so it can never outlive the run.
local function spawn(cmd)
  return peers.spawn(helper.TOOL .. "timeout 60 " .. cmd .. " 2>&1")
end

local stop = peers.stop

-- openssl s_server on 127.0.0.1 (a port of its choosing, read back from
-- its "ACCEPT host:port" line). args: extra s_server arguments.
local function s_server(cert, args)
  local pid, proc = spawn(("openssl s_server -accept 127.0.0.1:0 -cert %s -key %s %s")
                          :format(cert.cert, cert.key, args or "-www"))
  local port
  for line in proc:lines() do
    port = line:match("^ACCEPT .*:(%d+)%s*$")
    if port or line:match("^ACCEPT") then break end
  end
  if not port then
    stop(pid, proc)
    error("openssl s_server did not report its port")
  end
  return {port = tonumber(port), close = function() stop(pid, proc) end}
end

-- A TCP connection to 127.0.0.1:port, with the spec's timeout.
local function dial(port)
  local s = assert(core.socket("inet", "stream"))
  s:settimeout(TIMEOUT)
  assert(s:connect("127.0.0.1", port))
  return s
end

-- GET / from an s_server -www over a TLS socket; returns the whole reply.
local function get(t)
  assert(t:send("GET / HTTP/1.0\r\n\r\n"))
  local parts = {}
  while true do
    local data, err, code = t:recv(16384)
    if not data then return nil, err, code end
    if data == "" then break end
    parts[#parts + 1] = data
  end
  return table.concat(parts)
end

local function client_ctx(opts)
  opts = opts or {}
  if opts.cafile == nil and opts.verify ~= false then opts.cafile = certs.ca.cert end
  return assert(tls.context(opts))
end

local function server_ctx(cert, opts)
  opts = opts or {}
  opts.mode, opts.cert, opts.key = "server", cert.cert, cert.key
  return assert(tls.context(opts))
end

-- Runs server(tls_or_nil, err, code) and client(tls_or_nil, err, code)
-- in one loop over a socketpair, each side wrapped with its context.
local function over_pair(sctx, cctx, copts, server, client)
  local a, b = assert(core.socketpair())
  a:settimeout(TIMEOUT)
  b:settimeout(TIMEOUT)
  -- a failure in server() fails the test too (the task's error was only
  -- reported, and the test passed)
  local failed
  local ok, err = loop.run(function()
    local st = loop.spawn(function()
      local done, e = pcall(server, tls.wrap(b, sctx, {timeout = TIMEOUT}))
      if not done then failed = e end
    end)
    copts = copts or {}
    if copts.servername == nil then copts.servername = "localhost" end
    copts.timeout = copts.timeout or TIMEOUT
    client(tls.wrap(a, cctx, copts))
    st:join()
    return true
  end)
  assert(ok, err)
  if failed then error(failed, 0) end
end

---------------------------------------------------------------- client

describe("lunasock.tls client against openssl s_server", function()
  it("connects, verifies the chain and the name, and reads the reply", function()
    local srv = s_server(certs.leaf)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t, err, code = tls.wrap(dial(srv.port), client_ctx(), {servername = "localhost"})
    assert.is_truthy(t, tostring(err) .. " " .. tostring(code))
    local info = t:info()
    assert.is_true(info.verified)
    assert.matches("^TLSv1%.[23]$", info.version)
    assert.equal("localhost", info.servername)
    assert.equal("CN=localhost", info.peer.subject)
    assert.equal("CN=lunasock test CA", info.peer.issuer)
    assert.same({"localhost", "127.0.0.1", "::1"}, info.peer.san)
    assert.equal(64, #info.peer.sha256)
    assert.is_true(info.peer.not_after > os.time())
    local reply = assert(get(t))
    assert.matches("^HTTP/1%.0 200 ok", reply)
    assert.equal("", t:recv(10))   -- close_notify: "" again
    assert.is_true(t:close())
    assert.is_true(t:close())      -- idempotent
    assert.equal("closed tls socket", tls.type(t))
  end)

  it("selects the ALPN protocol both sides have", function()
    local srv = s_server(certs.leaf, "-www -alpn h2,http/1.1")
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx{alpn = {"http/1.1", "x"}},
                              {servername = "localhost"}))
    assert.equal("http/1.1", t:info().alpn)
    t:close()
  end)

  it("resumes a session given session()", function()
    local srv = s_server(certs.leaf)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local ctx = client_ctx()
    local t = assert(tls.wrap(dial(srv.port), ctx, {servername = "localhost"}))
    assert(get(t))
    local sess = assert(t:session())
    local der = assert(t:session("der"))
    assert.is_false(t:info().session_reused)
    t:close()
    local t2 = assert(tls.wrap(dial(srv.port), ctx, {servername = "localhost", session = sess}))
    assert.is_true(t2:info().session_reused)
    assert(get(t2))
    t2:close()
    local t3 = assert(tls.wrap(dial(srv.port), ctx, {servername = "localhost", session = der}))
    assert.is_true(t3:info().session_reused)
    t3:close()
  end)

  local function refused(cert, opts, want_code, want_msg, ctx_opts)
    local srv = s_server(cert)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local s = dial(srv.port)
    local t, err, code = tls.wrap(s, client_ctx(ctx_opts), opts or {servername = "localhost"})
    assert.is_nil(t)
    assert.equal(want_code, code)
    if want_msg then assert.matches(want_msg, err) end
    assert.equal("closed socket", core.type(s))   -- the socket is closed
  end

  -- regression: a resumed handshake checks no certificate, and wrap took
  -- it as verified: a session made without verification, or for another
  -- name, connected a verifying client to a server it would refuse
  it("checks a resumed session's certificate against the name it dials now", function()
    local srv = s_server(certs.other)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx(), {servername = "other.test"}))
    assert(get(t))
    local sess, der = assert(t:session()), assert(t:session("der"))
    t:close()
    for _, s in ipairs{der, sess} do
      local t2, err, code = tls.wrap(dial(srv.port), client_ctx(), {servername = "localhost",
                                                                   session = s})
      assert.is_nil(t2)
      assert.equal("TLS_HOSTNAME", code, err)
    end
    t = assert(tls.wrap(dial(srv.port), client_ctx(), {servername = "other.test", session = der}))
    assert.is_true(t:info().session_reused)
    t:close()
    -- a session from a connection that verified nothing
    local self = s_server(certs.selfsigned)
    local _ <close> = setmetatable({}, {__close = self.close})
    t = assert(tls.wrap(dial(self.port), client_ctx({verify = false})))
    assert(get(t))
    der = assert(t:session("der"))
    t:close()
    local t2, err, code = tls.wrap(dial(self.port), client_ctx(), {servername = "localhost",
                                                                  session = der})
    assert.is_nil(t2)
    assert.equal("TLS_VERIFY", code, err)
  end)

  it("refuses an expired certificate: TLS_VERIFY, 'expired'", function()
    refused(certs.expired, nil, "TLS_VERIFY", "expired")
  end)

  it("refuses a certificate for another name: TLS_HOSTNAME", function()
    refused(certs.other, nil, "TLS_HOSTNAME", "hostname mismatch")
  end)

  it("refuses a self-signed certificate: TLS_VERIFY", function()
    refused(certs.selfsigned, nil, "TLS_VERIFY", "self%-signed")
  end)

  it("refuses a certificate from a CA it does not trust: TLS_VERIFY", function()
    refused(certs.untrusted, nil, "TLS_VERIFY", "issuer certificate")
  end)

  it("refuses a server whose certificate is for the system CAs only", function()
    -- the default store (no cafile) does not hold the test CA
    local srv = s_server(certs.leaf)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t, _, code = tls.wrap(dial(srv.port), assert(tls.context{}), {servername = "localhost"})
    assert.is_nil(t)
    assert.equal("TLS_VERIFY", code)
  end)

  it("accepts a self-signed certificate with verify = false", function()
    local srv = s_server(certs.selfsigned)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx{verify = false}))
    assert.is_false(t:info().verified)
    assert.matches("^HTTP/1%.0 200", assert(get(t)))
    t:close()
  end)

  it("checks an IP address against the IP SAN, sending no SNI", function()
    local srv = s_server(certs.leaf)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx(), {servername = "127.0.0.1"}))
    assert.is_true(t:info().verified)
    assert.is_nil(t:info().servername)
    t:close()
    refused(certs.other, {servername = "127.0.0.1"}, "TLS_HOSTNAME", "IP address mismatch")
  end)

  it("matches a wildcard one label deep only", function()
    local srv = s_server(certs.wildcard)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local ctx = client_ctx()
    local t = assert(tls.wrap(dial(srv.port), ctx, {servername = "a.example.test"}))
    assert.is_true(t:info().verified)
    t:close()
    for _, name in ipairs{"example.test", "a.b.example.test", "aexample.test"} do
      local t2, _, code = tls.wrap(dial(srv.port), ctx, {servername = name})
      assert.is_nil(t2, name)
      assert.equal("TLS_HOSTNAME", code, name)
    end
  end)

  it("takes names from the subjectAltName only, never the CN", function()
    refused(certs.nosan, nil, "TLS_HOSTNAME", "hostname mismatch")
  end)

  it("checks verify_host when it differs from servername", function()
    local srv = s_server(certs.other)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx(),
                              {servername = "localhost", verify_host = "other.test"}))
    assert.is_true(t:info().verified)
    t:close()
    t = assert(tls.wrap(dial(srv.port), client_ctx(),
                        {servername = "localhost", verify_host = false}))
    assert.is_true(t:info().verified)   -- the chain is still checked
    t:close()
  end)

  it("presents a client certificate to s_server -Verify, and learns of a refusal", function()
    local srv = s_server(certs.leaf, "-www -Verify 1 -verify_return_error -CAfile "
                                     .. certs.ca.cert)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local with = client_ctx{cert = certs.client.cert, key = certs.client.key}
    local t = assert(tls.wrap(dial(srv.port), with, {servername = "localhost"}))
    assert.matches("^HTTP/1%.0 200", assert(get(t)))
    t:close()
    -- without: TLS 1.3 finishes the client's handshake first; the refusal
    -- comes with the first read
    local t2, err, code = tls.wrap(dial(srv.port), client_ctx(), {servername = "localhost"})
    if t2 then
      t2:send("GET / HTTP/1.0\r\n\r\n")
      local data
      data, err, code = t2:recv(100)
      assert.is_nil(data)
      t2:close()
    end
    assert.equal("TLS_VERIFY", code)
    assert.matches("certificate required", err)
  end)

  it("times out a recv outside the loop, and the connection goes on", function()
    local srv = s_server(certs.leaf)
    local _ <close> = setmetatable({}, {__close = srv.close})
    local t = assert(tls.wrap(dial(srv.port), client_ctx(), {servername = "localhost"}))
    t:settimeout(0.05)
    assert.equal(0.05, t:gettimeout())
    local data, _, code = t:recv(100)
    assert.is_nil(data)
    assert.equal("ETIMEDOUT", code)
    t:settimeout(TIMEOUT)
    assert.matches("^HTTP/1%.0 200", assert(get(t)))
    t:close()
  end)
end)

---------------------------------------------------------------- server

-- A lunasock TLS server in a child process: serves n connections (each:
-- handshake, then echoes one line upper-cased, prints what it saw) and
-- exits. Returns the port and the child's output handle.
local function child_server(opts, n)
  local p = helper.run_lua(([[
    local core = require "lunasock.core"
    local tls = require "lunasock.tls"
    local opts = %s
    local ctx = assert(tls.context(opts))
    local l = assert(core.socket("inet", "stream"))
    assert(l:bind("127.0.0.1", 0)); assert(l:listen())
    l:settimeout(%g)
    print("port " .. select(2, l:getsockname())); io.stdout:flush()
    for _ = 1, %d do
      local c = assert(l:accept())
      c:settimeout(%g)
      local t, err, code = tls.wrap(c, ctx)
      if t then
        local info = t:info()
        local line = t:recv(100)
        t:send(line and line:upper() or "")
        t:close()
        print("ok", info.version, info.peer and info.peer.subject or "-", info.servername or "-")
      else
        print("fail", code, err)
      end
      io.stdout:flush()
    end
  ]]):format(opts, TIMEOUT, n, TIMEOUT))
  local port = tonumber(p:read("l"):match("port (%d+)"))
  return port, p
end

local function python_client(port, extra)
  local code = ([[
import socket, ssl
ctx = ssl.create_default_context(cafile=%q)
%s
raw = socket.create_connection(("127.0.0.1", %d), timeout=%g)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"hello python\n")
print(s.recv(100).decode().strip(), s.version())
]]):format(certs.ca.cert, extra or "", port, TIMEOUT)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  local p = assert(io.popen(helper.TOOL .. "python3 " .. path .. " 2>&1"))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return out
end

local function server_opts(extra)
  return ("{mode = 'server', cert = %q, key = %q%s}"):format(certs.leaf.cert,
                                                          certs.leaf.key, extra or "")
end

describe("lunasock.tls server against real clients", function()
  it("serves openssl s_client and python3's default context", function()
    local port, p = child_server(server_opts(), 2)
    local sc = io.popen(("echo 'hello openssl' | %stimeout 30 openssl s_client "
                         .. "-connect 127.0.0.1:%d "
                         .. "-CAfile %s -servername localhost -verify_return_error -quiet 2>&1")
                        :format(helper.TOOL, port, certs.ca.cert))
    local out = sc:read("a")
    sc:close()
    assert.matches("HELLO OPENSSL", out)
    assert.matches("HELLO PYTHON TLSv1.3", python_client(port))
    local log = p:read("a")
    assert.is_true(p:close())
    assert.matches("ok\tTLSv1.3\t%-\tlocalhost", log)
  end)

  it("requires a client certificate with verify = true (mutual TLS)", function()
    local port, p = child_server(server_opts((", verify = true, cafile = %q")
                                             :format(certs.ca.cert)), 3)
    local without = python_client(port)
    assert.not_matches("HELLO PYTHON", without)
    local with = python_client(port, ("ctx.load_cert_chain(%q, %q)")
                                     :format(certs.client.cert, certs.client.key))
    assert.matches("HELLO PYTHON", with)
    local wrong = python_client(port, ("ctx.load_cert_chain(%q, %q)")
                                      :format(certs.client_untrusted.cert,
                                              certs.client_untrusted.key))
    assert.not_matches("HELLO PYTHON", wrong)
    local log = p:read("a")
    assert.is_true(p:close())
    assert.matches("fail\tTLS_VERIFY\t[^\n]*certificate", log)
    assert.matches("ok\tTLSv1.3\tCN=lunasock test client", log)
    assert.matches("fail\tTLS_VERIFY\t[^\n]*unable to get local issuer", log)
  end)
end)

---------------------------------------------------------------- both sides

describe("lunasock.tls on both sides in one loop", function()
  it("talks over a socketpair, and a stream works on top", function()
    over_pair(server_ctx(certs.leaf), client_ctx(), nil, function(s, err)
      assert(s, err)
      local st = stream.new(s)
      local line = assert(st:readline())
      assert(st:write(line:upper(), "\n", string.rep("x", 100000), "\n"))
      assert.equal("", s:recv(1))    -- the client's close_notify
      s:close()
    end, function(c, err)
      assert(c, err)
      local st = stream.new(c)
      assert(st:write("hello over tls\n"))
      assert.equal("HELLO OVER TLS", st:readline())
      assert.equal(string.rep("x", 100000) .. "\n", st:read(100001))
      st:close()
    end)
  end)

  it("fails both sides with TLS_ALPN when no protocol is shared", function()
    over_pair(server_ctx(certs.leaf, {alpn = {"h2"}}), client_ctx{alpn = {"foo"}}, nil,
      function(s, _, code)
        assert.is_nil(s)
        assert.equal("TLS_ALPN", code)
      end, function(c, _, code)
        assert.is_nil(c)
        assert.equal("TLS_ALPN", code)
      end)
  end)

  it("prefers the server's ALPN order", function()
    over_pair(server_ctx(certs.leaf, {alpn = {"b", "a"}}), client_ctx{alpn = {"a", "b"}}, nil,
      function(s) assert.equal("b", s:info().alpn); s:close() end,
      function(c) assert.equal("b", c:info().alpn); c:close() end)
  end)

  it("picks the certificate by SNI (table and function)", function()
    local other = server_ctx(certs.other)
    for _, sni in ipairs{{["other.test"] = other}, function(name)
                           if name == "other.test" then return other end
                         end} do
      over_pair(server_ctx(certs.leaf, {sni = sni}), client_ctx(), {servername = "other.test"},
        function(s)
          assert.equal("other.test", s:info().servername)
          s:close()
        end, function(c, err)
          assert(c, err)
          assert.equal("CN=other.test", c:info().peer.subject)
          c:close()
        end)
    end
  end)

  -- regression: SSL_set_SSL_CTX took the chosen context's certificate
  -- only; its verify = true asked no client for a certificate, and its
  -- versions and TLS 1.3 ciphersuites were the first context's
  it("applies the verify mode, versions and ciphers of the context SNI chose", function()
    local function sni_to(opts)
      return server_ctx(certs.other, {sni = {localhost = server_ctx(certs.leaf, opts)}})
    end
    -- mutual TLS: no certificate, no service; a client certificate is seen
    local mtls = sni_to({verify = true, cafile = certs.ca.cert})
    over_pair(mtls, client_ctx(), nil, function(s, _, code)
      assert.is_nil(s)
      assert.equal("TLS_VERIFY", code)
    end, function(c)
      if c then
        local _, _, code = c:recv(1)   -- TLS 1.3: the refusal comes after
        assert.equal("TLS_VERIFY", code)
        c:close()
      end
    end)
    over_pair(mtls, client_ctx({cert = certs.client.cert, key = certs.client.key}), nil,
      function(s, err)
        assert(s, err)
        assert.equal("CN=lunasock test client", s:info().peer.subject)
        s:close()
      end, function(c, err) assert(c, err); c:close() end)
    -- versions
    over_pair(sni_to({min_version = "tls1.3"}), client_ctx({max_version = "tls1.2"}), nil,
      function(s) assert.is_nil(s) end,
      function(c, _, code)
        assert.is_nil(c)
        assert.equal("TLS_HANDSHAKE", code)
      end)
    -- ciphers, TLS 1.3 and 1.2
    local suites = sni_to({ciphersuites = "TLS_CHACHA20_POLY1305_SHA256",
                           ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"})
    for _, copts in ipairs{{}, {max_version = "tls1.2"}} do
      over_pair(suites, client_ctx(copts), nil, function(s) if s then s:close() end end,
        function(c, err)
          assert(c, err)
          assert.matches("CHACHA20", c:info().cipher)
          c:close()
        end)
    end
    over_pair(suites, client_ctx({ciphersuites = "TLS_AES_128_GCM_SHA256"}), nil,
      function(s) assert.is_nil(s) end,
      function(c) assert.is_nil(c) end)
  end)

  it("tells the server the name a resumed TLS 1.2 client sent", function()
    local sctx = server_ctx(certs.leaf, {sni = {["other.test"] = server_ctx(certs.other)}})
    local cctx = client_ctx({max_version = "tls1.2"})
    local sess
    for round = 1, 2 do
      over_pair(sctx, cctx, {servername = "other.test", session = sess}, function(s, err)
        assert(s, err)
        assert.equal("other.test", s:info().servername)
        assert.equal(round == 2, s:info().session_reused)
        s:close()
      end, function(c, err)
        assert(c, err)
        sess = assert(c:session())
        c:close()
      end)
    end
  end)

  it("reports an SNI function's error as TLS_HANDSHAKE", function()
    over_pair(server_ctx(certs.leaf, {sni = function() error("no such site") end}), client_ctx(),
      nil, function(s, err, code)
        assert.is_nil(s)
        assert.equal("TLS_HANDSHAKE", code)
        assert.matches("no such site", err)
      end, function(c)
        assert.is_nil(c)
      end)
  end)

  it("gives TLS_TRUNCATED when the peer closes without close_notify", function()
    local a, b = assert(core.socketpair())
    loop.run(function()
      local st = loop.spawn(function()
        local s = assert(tls.wrap(b, server_ctx(certs.leaf)))
        assert(s:send("partial"))
        b:close()   -- the TCP level only: no close_notify
        assert.equal("closed tls socket", tls.type(s))
      end)
      local c = assert(tls.wrap(a, client_ctx(), {servername = "localhost"}))
      assert.equal("partial", c:recv(100))
      local data, err, code = c:recv(100)
      assert.is_nil(data)
      assert.equal("TLS_TRUNCATED", code)
      assert.matches("close_notify", err)
      local _, _, again = c:recv(100)
      assert.equal("TLS_TRUNCATED", again)
      c:close()
      st:join()
    end)
  end)

  it("cuts a client that stalls in the handshake and serves the others", function()
    local l, port = helper.listener()
    local sctx = server_ctx(certs.leaf)
    local served, stalled_code = 0, nil
    loop.run(function()
      local acceptor = loop.spawn(function()
        for i = 1, 2 do
          local c = assert(l:accept())
          loop.spawn(function()
            local s, _, code = tls.wrap(c, sctx, {timeout = i == 1 and 0.3 or TIMEOUT})
            if not s then stalled_code = code; return end
            assert.equal("hi", s:recv(10))
            s:send("served")
            served = served + 1
            s:close()
          end)
        end
      end)
      -- the staller: a ClientHello's first bytes, then nothing
      local staller = assert(core.socket("inet", "stream"))
      assert(staller:connect("127.0.0.1", port))
      assert(staller:send("\22\3\1\0\200\1"))
      loop.sleep(0.05)
      local c = assert(core.socket("inet", "stream"))
      c:settimeout(TIMEOUT)
      assert(c:connect("127.0.0.1", port))
      local t = assert(tls.wrap(c, client_ctx(), {servername = "localhost"}))
      t:send("hi")
      assert.equal("served", t:recv(100))
      t:close()
      acceptor:join()
      while stalled_code == nil do loop.sleep(0.02) end
      staller:close()
    end)
    l:close()
    assert.equal(1, served)
    assert.equal("ETIMEDOUT", stalled_code)
  end)

  it("upgrades a connection that spoke plaintext first (STARTTLS)", function()
    local a, b = assert(core.socketpair())
    loop.run(function()
      local st = loop.spawn(function()
        assert.equal("STARTTLS\n", b:recv(9))
        b:send("GO\n")
        local s = assert(tls.wrap(b, server_ctx(certs.leaf)))
        s:send(s:recv(100):upper())
        s:close()
      end)
      a:send("STARTTLS\n")
      assert.equal("GO\n", a:recv(3))
      local c = assert(tls.wrap(a, client_ctx(), {servername = "localhost"}))
      c:send("secret")
      assert.equal("SECRET", c:recv(100))
      c:close()
      st:join()
    end)
  end)

  it("keeps a context alive while a socket uses it", function()
    local a, b = assert(core.socketpair())
    loop.run(function()
      local st = loop.spawn(function()
        local s = assert(tls.wrap(b, {mode = "server", cert = certs.leaf.cert,
                                      key = certs.leaf.key}))
        collectgarbage(); collectgarbage()
        s:send(assert(s:recv(100)))
        s:close()
      end)
      local c = assert(tls.wrap(a, {cafile = certs.ca.cert}, {servername = "localhost"}))
      collectgarbage(); collectgarbage()
      c:send("still here")
      assert.equal("still here", c:recv(100))
      c:close()
      st:join()
    end)
  end)
end)

---------------------------------------------------------------- contexts

describe("lunasock.tls.context", function()
  it("returns nil, msg, TLS_CONFIG for bad files and keys", function()
    local function bad(opts, pattern)
      local ctx, err, code = tls.context(opts)
      assert.is_nil(ctx)
      assert.equal("TLS_CONFIG", code)
      if pattern then assert.matches(pattern, err) end
    end
    bad({cafile = "/nonexistent/ca.pem"}, "cafile")
    bad({mode = "server", cert = "/nonexistent/cert.pem", key = certs.leaf.key}, "cert")
    bad({mode = "server", cert = certs.leaf.cert, key = certs.other.key}, "mismatch")
    bad({mode = "server", cert = certs.leaf_pw.cert, key = certs.leaf_pw.key, password = "nope"})
    bad({mode = "server"}, "needs cert")
    bad({ciphers = "NO-SUCH-CIPHER"}, "ciphers")
    bad({min_version = "tls1.3", max_version = "tls1.2"})
  end)

  -- regression: every key that did not load said "encrypted? no password
  -- given", a file holding no key at all included
  it("says whether a key is missing, needs a password, or has another", function()
    local function bad(opts, text)
      local ctx, err, code = tls.context(opts)
      assert.is_nil(ctx)
      assert.equal("TLS_CONFIG", code)
      assert.is_truthy(err:find(text, 1, true), err)
    end
    bad({mode = "server", cert = certs.leaf.cert},
        "no private key found (no key option: looked for it with the cert)")
    bad({mode = "server", cert = certs.leaf.cert, key = certs.leaf.cert}, "no private key found")
    bad({mode = "server", cert = certs.leaf_pw.cert, key = certs.leaf_pw.key},
        "the key is encrypted and no password was given")
    bad({mode = "server", cert = certs.leaf_pw.cert, key = certs.leaf_pw.key, password = "nope"},
        "wrong password")
    bad({mode = "server", cert = "/tmp/x\0y", key = certs.leaf.key}, "a path holds no NUL byte")
  end)

  it("tells a client context from a server one (ctx:mode())", function()
    assert.equal("client", tls.context{verify = false}:mode())
    assert.equal("server", tls.context{mode = "server", cert = certs.leaf.cert,
                                       key = certs.leaf.key}:mode())
    assert.has_error(function() tls.context{}.mode(io.stdout) end)
  end)

  it("takes PEM text as well as paths, and an encrypted key's password", function()
    assert(tls.context{mode = "server", cert = certs.read(certs.leaf.cert),
                       key = certs.read(certs.leaf.key)})
    assert(tls.context{mode = "server", cert = certs.leaf_pw.cert, key = certs.leaf_pw.key,
                       password = "secret"})
    assert(tls.context{ca = certs.read(certs.ca.cert)})
  end)

  it("raises on unknown options and wrong types", function()
    assert.has_error(function() tls.context{bogus = 1} end)
    assert.has_error(function() tls.context{verify = "yes"} end)
    assert.has_error(function() tls.context{mode = "both"} end)
    assert.has_error(function() tls.context{min_version = "ssl3"} end)
    assert.has_error(function() tls.context{alpn = "h2"} end)
    assert.has_error(function() tls.context{sni = {}} end)   -- client
    local a, b = core.socketpair()
    assert.has_error(function() tls.wrap(a, tls.context{}, {bogus = true}) end)
    -- a verifying client must be told the name it dialled
    assert.has_error(function() tls.wrap(a, tls.context{}) end)
    -- regression: a number passed as a name (lua_tolstring made it "5")
    a:settimeout(TIMEOUT)
    assert.has_error(function() tls.wrap(a, tls.context{}, {servername = 5}) end)
    assert.has_error(function() tls.wrap(a, tls.context{}, {verify_host = 5}) end)
    a:close(); b:close()
  end)
end)

---------------------------------------------------------------- robustness

local CLIENT_NOVERIFY = assert(tls.context{verify = false})

describe("lunasock.tls robustness", function()
  it("raises, never crashes, whatever the arguments", function()
    local a, b = core.socketpair()
    local closed = core.socket("inet", "stream"); closed:close()
    local values = {n = 12, nil, true, 0, -1, 1e308, 0 / 0, "", "x", {}, print,
                    io.stdout, closed, b}
    local funcs = {tls.context, tls.wrap, tls.type}
    for _, f in ipairs(funcs) do
      for i = 1, values.n do
        for j = 1, values.n do
          local ok, err = pcall(f, values[i], values[j])
          if not ok then assert.is_string(err) end
        end
      end
    end
    -- every option, given every junk value
    local ctx_options = {"mode", "verify", "cafile", "capath", "ca", "cert", "key", "password",
                         "min_version", "max_version", "ciphers", "ciphersuites", "alpn", "sni"}
    for _, name in ipairs(ctx_options) do
      for i = 1, values.n do
        local ok, err = pcall(tls.context, {[name] = values[i]})
        if not ok then assert.is_string(err) end
        ok, err = pcall(tls.context, {mode = "server", cert = certs.leaf.cert,
                                      key = certs.leaf.key, [name] = values[i]})
        if not ok then assert.is_string(err) end
        ok, err = pcall(tls.context, {alpn = {values[i]}})
        if not ok then assert.is_string(err) end
      end
    end
    for _, name in ipairs{"servername", "verify_host", "alpn", "session", "timeout"} do
      for i = 1, values.n do
        local x, y = core.socketpair()
        -- a handshake with nobody: it must not wait (the socket's timeout
        -- is 0; a timeout option can only be 0 here, or invalid)
        x:settimeout(0)
        local opts = {[name] = values[i]}
        if name ~= "timeout" then opts.timeout = 0 end
        local ok, err = pcall(tls.wrap, x, CLIENT_NOVERIFY, opts)
        if not ok then assert.is_string(err) end
        x:close(); y:close()
      end
    end
    -- methods, on a live and on a closed TLS socket, given junk
    local live
    local ok = loop.run(function()
      local st = loop.spawn(function() return tls.wrap(b, server_ctx(certs.leaf)) end)
      live = assert(tls.wrap(a, client_ctx(), {servername = "localhost"}))
      local srv = st:join()
      srv:close()
      return true
    end)
    assert(ok)
    local dead = live
    local mt_index = getmetatable(live)  -- locked: a string
    assert.is_string(mt_index)
    for _, m in ipairs{"send", "recv", "shutdown", "settimeout", "gettimeout", "setblocking",
                       "fileno", "getsockname", "getpeername", "setopt", "getopt", "info",
                       "session", "family", "socktype", "pending"} do
      for i = 1, values.n do
        local fn = live[m]
        pcall(fn, live, values[i], values[i])
        pcall(fn, values[i], values[i])
      end
    end
    dead:close()
    for _, m in ipairs{"send", "recv", "info", "session", "fileno"} do
      assert.has_error(function() dead[m](dead, 1) end)
    end
    assert.is_true(dead:close())
    assert.matches("closed", tostring(dead))
  end)

  -- regression (heap use after free, seen by make sanitize): wrap popped
  -- servername and verify_host, and the ALPN builder each name, before
  -- using them; opts whose __index makes the strings let the collector
  -- free them first. With the collector running all the time, every
  -- name must still be what the table said.
  it("keeps names a table's __index makes alive until they are used", function()
    local alpn = setmetatable({}, {__len = function() return 100 end,
      __index = function(_, i) return ("proto-%d-"):format(i) .. ("x"):rep(200) end})
    local pause = collectgarbage("setpause", 0)
    local ok, err = pcall(function()
      for round = 1, 20 do
        assert(tls.context{verify = false, alpn = alpn})
        local a, b = core.socketpair()
        a:settimeout(0)
        local opts = setmetatable({}, {__index = function(_, k)
          if k == "servername" then return ("local"):rep(1) .. "host" end
          if k == "verify_host" then return ("127.0.0.%d"):format(round) end
          if k == "alpn" then return alpn end
        end})
        local t, _, code = tls.wrap(a, CLIENT_NOVERIFY, opts)
        assert.is_nil(t)
        assert.equal("EAGAIN", code)
        b:close()
      end
    end)
    collectgarbage("setpause", pause)
    assert(ok, err)
  end)

  -- regression: a list over the ClientHello's room was taken, and every
  -- handshake then failed with "internal error"
  it("refuses an ALPN list too long for a ClientHello", function()
    local names = {}
    for i = 1, 200 do names[i] = ("%03d"):format(i) .. ("a"):rep(252) end
    local ok, err = pcall(tls.context, {verify = false, alpn = names})
    assert.is_false(ok)
    assert.matches("option 'alpn' is too long", err)
    ok, err = pcall(tls.wrap, core.socketpair(), CLIENT_NOVERIFY, {alpn = names})
    assert.is_false(ok)
    assert.matches("option 'alpn' is too long", err)
    local fits = table.move(names, 1, 128, 1, {})   -- 32768 bytes in all
    assert(tls.context{verify = false, alpn = fits})
  end)
end)
