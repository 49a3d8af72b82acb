-- lunasock.http.url and lunasock.http.client over loopback. The servers
-- are written here, on raw sockets in loop tasks, so each test controls
-- the exact bytes: chunk sizes, closes, redirects, slow answers, stale
-- keep-alive connections. Every run is bounded by helper.TIMEOUT.
local helper = require "helper"
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local body = require "lunasock.http.body"
local client = require "lunasock.http.client"
local url = require "lunasock.http.url"

local TIMEOUT = helper.TIMEOUT

---------------------------------------------------------------- harness

local tracked = {}
local function track(s)
  tracked[#tracked + 1] = s
  return s
end

local function close_tracked()
  for _, s in ipairs(tracked) do s:close() end
  tracked = {}
end

-- Runs fn as a loop task; the servers it started are closed at the end
-- (which ends their tasks). Errors propagate.
local function run(fn)
  local result
  local guard = loop.after(TIMEOUT * 2, function() loop.stop() end)
  loop.run(function()
    result = table.pack(pcall(fn))
    close_tracked()
    guard:cancel()
  end)
  close_tracked()
  assert(result, "the test did not finish in time")
  if not result[1] then error(result[2], 0) end
end

-- A server on host (default 127.0.0.1): handler(st, srv, n) serves its
-- n-th connection in a task of its own. srv.conns counts connections.
local function server(handler, host)
  local l, port = helper.listener(host)
  track(l)
  local srv = {port = port, conns = 0, reqs = {}, host = host or "127.0.0.1"}
  srv.base = "http://" .. (srv.host:find(":") and "[" .. srv.host .. "]" or srv.host)
             .. ":" .. port
  -- the test ends by closing the server's sockets under its tasks: the
  -- errors that raises are expected; others are reported
  local function quietly(fn, ...)
    local ok_, err = pcall(fn, ...)
    if not ok_ and not tostring(err):find("closed socket", 1, true) then error(err, 0) end
  end
  loop.spawn(quietly, function()
    while true do
      local s = l:accept()
      if not s then return end
      track(s)
      s:settimeout(TIMEOUT)
      srv.conns = srv.conns + 1
      local n = srv.conns
      loop.spawn(quietly, handler, stream.new(s), srv, n)
    end
  end)
  return srv
end

-- One request off st: {line, method, target, headers (lower-case names),
-- body}, or nil at EOF.
local function read_request(st)
  local line = st:readline()
  if not line then return nil end
  local req = {line = line, headers = {}, fields = {}}
  req.method, req.target = line:match("^(%S+) (%S+) HTTP/1%.1$")
  while true do
    local l = assert(st:readline())
    if l == "" then break end
    local k, v = l:match("^([^:]+): (.*)$")
    req.fields[#req.fields + 1] = k
    req.headers[k:lower()] = v
  end
  local h = req.headers
  if h["transfer-encoding"] == "chunked" then
    req.body = assert(body.readall(body.chunked(st)))
  elseif h["content-length"] then
    req.body = assert(body.readall(body.fixed(st, tonumber(h["content-length"]))))
  end
  return req
end

-- A keep-alive server: answer(req, srv, st, n) returns the raw response
-- bytes to send, or nil to close the connection. Requests go to srv.reqs.
local function http_server(answer, host)
  return server(function(st, srv, n)
    while true do
      local req = read_request(st)
      if not req then return end
      req.conn = n
      srv.reqs[#srv.reqs + 1] = req
      local out = answer(req, srv, st, n)
      if out == nil then
        st:close()
        return
      end
      if not st:write(out) then return end
    end
  end, host)
end

local function ok(b, extra)
  return "HTTP/1.1 200 OK\r\nContent-Length: " .. #b .. "\r\n" .. (extra or "")
         .. "\r\n" .. b
end

local function ipv6_available()
  local s = core.socket("inet6", "stream")
  if not s then return false end
  local bound = s:bind("::1", 0)
  s:close()
  return bound ~= nil
end

---------------------------------------------------------------- url

describe("lunasock.http.url", function()
  it("parses a full URL, keeping percent-encoding and dropping the fragment", function()
    local u = assert(url.parse("HTTP://Example.COM:8080/a%2Fb/c?x=%41&y#frag"))
    assert.are.equal("http", u.scheme)
    assert.are.equal("example.com", u.host)
    assert.are.equal(8080, u.port)
    assert.are.equal("/a%2Fb/c", u.path)
    assert.are.equal("x=%41&y", u.query)
    assert.are.equal("/a%2Fb/c?x=%41&y", u.target)
    assert.are.equal("http://example.com:8080/a%2Fb/c?x=%41&y", tostring(u))
    assert.are.equal("example.com:8080", url.authority(u))
  end)

  it("takes address-bar URLs with port 80 by default", function()
    local u = assert(url.parse("localhost/x/y?z"))
    assert.are.same({"localhost", 80, "/x/y?z"}, {u.host, u.port, u.target})
    assert.are.equal("localhost", url.authority(u))
    u = assert(url.parse("127.0.0.1:8081"))
    assert.are.same({"127.0.0.1", 8081, "/"}, {u.host, u.port, u.target})
    u = assert(url.parse("http://h:/p"))
    assert.are.equal(80, u.port)
  end)

  it("takes IPv6 literals in brackets, with a zone", function()
    local u = assert(url.parse("[::1]:8080/p"))
    assert.are.same({"::1", 8080, true}, {u.host, u.port, u.ipv6})
    assert.are.equal("[::1]:8080", url.authority(u))
    u = assert(url.parse("http://[FE80::1%25lo]/"))
    assert.are.equal("fe80::1%lo", u.host)
    assert.are.equal("http://[fe80::1%25lo]/", tostring(u))
    local _, _, code = url.parse("http://[::zz]/")
    assert.are.equal("EINVAL", code)
  end)

  it("decodes userinfo into user and password", function()
    local u = assert(url.parse("http://al%40ice:p%3Ass@h/"))
    assert.are.same({"al@ice", "p:ss", "h"}, {u.user, u.password, u.host})
    assert.are.equal("http://h/", tostring(u))
  end)

  it("percent-encodes what cannot go in a request line", function()
    local u = assert(url.parse("http://h/a b/\xc3\xa4%zz%4?q=1 2\"<>"))
    assert.are.equal("/a%20b/%C3%A4%25zz%254?q=1%202%22%3C%3E", u.target)
  end)

  it("parses https URLs, port 443 by default, and refuses other schemes", function()
    local u = assert(url.parse("HTTPS://Example.com/a?b"))
    assert.are.same({"https", "example.com", 443, "/a?b"}, {u.scheme, u.host, u.port, u.target})
    assert.are.equal("https://example.com/a?b", tostring(u))
    assert.are.equal("example.com", url.authority(u))
    u = assert(url.parse("https://[::1]:80/"))
    assert.are.same({"https://[::1]:80/", "[::1]:80"}, {tostring(u), url.authority(u)})
    assert.are.equal("http", assert(url.parse("example.com:443/")).scheme)
    local _, msg, code = url.parse("ftp://h/")
    assert.are.equal("EPROTONOSUPPORT", code)
    assert.matches("ftp", msg)
    _, _, code = url.parse("https:/x")
    assert.are.equal("EINVAL", code)
  end)

  it("refuses malformed URLs with EINVAL", function()
    for _, s in ipairs{"", "   ", "/path", "http://:80/", "http://h:0/", "http://h:65536/",
                       "http://h:8x/", "http://a b/", "h\r\nX: y/", "http://h/\0",
                       "http://[::1/", "http://[::1]x/", "http:/h"} do
      local u, msg, code = url.parse(s)
      assert.is_nil(u, s)
      assert.are.equal("EINVAL", code, s)
      assert.is_string(msg)
    end
    assert.has_error(function() url.parse(42) end)
  end)

  it("resolves references as RFC 3986 section 5.4 does", function()
    local base = "http://a/b/c/d;p?q"
    local cases = {
      g = "http://a/b/c/g", ["./g"] = "http://a/b/c/g", ["g/"] = "http://a/b/c/g/",
      ["/g"] = "http://a/g", ["//g"] = "http://g/", ["?y"] = "http://a/b/c/d;p?y",
      ["g?y"] = "http://a/b/c/g?y", ["#s"] = "http://a/b/c/d;p?q",
      [""] = "http://a/b/c/d;p?q", ["."] = "http://a/b/c/", ["./"] = "http://a/b/c/",
      [".."] = "http://a/b/", ["../g"] = "http://a/b/g", ["../.."] = "http://a/",
      ["../../g"] = "http://a/g", ["../../../g"] = "http://a/g",
      ["/./g"] = "http://a/g", ["/../g"] = "http://a/g", ["g."] = "http://a/b/c/g.",
      ["./../g"] = "http://a/b/g", ["g/./h"] = "http://a/b/c/g/h",
      ["g/../h"] = "http://a/b/c/h", ["http://x:81/y"] = "http://x:81/y",
    }
    for ref, want in pairs(cases) do
      local u = assert(url.resolve(base, ref))
      assert.are.equal(want, tostring(u), ref)
    end
    assert.are.equal("https://a/", tostring(assert(url.resolve(base, "https://a/"))))
    assert.are.equal("https://g/x", tostring(assert(url.resolve("https://a/b", "//g/x"))))
    assert.are.equal("https://a/c", tostring(assert(url.resolve("https://a/b", "/c"))))
    local _, _, code = url.resolve(base, "ftp://a/")
    assert.are.equal("EPROTONOSUPPORT", code)
  end)
end)

---------------------------------------------------------------- client

describe("lunasock.http.client", function()
  it("GETs a Content-Length response, with case-insensitive headers", function()
    run(function()
      local srv = http_server(function()
        return "HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nX-Dup: a\r\n"
               .. "Content-Length: 5\r\nx-dup: b\r\n\r\nhello"
      end)
      local pool <close> = client.pool()
      local r = assert(client.request{url = srv.base .. "/p/a%2Fb?q=1", pool = pool})
      assert.are.equal(200, r.status)
      assert.are.equal("Fine Thanks", r.reason)
      assert.are.equal("1.1", r.version)
      assert.are.equal("hello", r.body)
      assert.are.equal("text/plain", r.headers["Content-Type"])
      assert.are.equal("text/plain", r.headers["content-type"])
      assert.are.equal("a, b", r.headers["X-DUP"])
      assert.are.same({"X-Dup", "a"}, r.fields[2])
      assert.are.equal(srv.base .. "/p/a%2Fb?q=1", r.url)
      assert.are.equal(0, r.redirects)
      local req = srv.reqs[1]
      assert.are.equal("GET /p/a%2Fb?q=1 HTTP/1.1", req.line)
      assert.are.equal("127.0.0.1:" .. srv.port, req.headers.host)
      assert.matches("^lunasock/", req.headers["user-agent"])
      assert.is_nil(req.headers.connection)
    end)
  end)

  it("takes address-bar URLs", function()
    run(function()
      local srv = http_server(function(req) return ok(req.target) end)
      local pool <close> = client.pool()
      local r = assert(client.get("127.0.0.1:" .. srv.port .. "/bar?x", {pool = pool}))
      assert.are.equal("/bar?x", r.body)
      r = assert(client.get("127.0.0.1:" .. srv.port, {pool = pool}))
      assert.are.equal("/", r.body)
    end)
  end)

  it("talks to IPv6 literals", function()
    if not ipv6_available() then
      pending("no IPv6 loopback here")
      return
    end
    run(function()
      local srv = http_server(function(req) return ok(req.headers.host) end, "::1")
      local r = assert(client.get("[::1]:" .. srv.port .. "/", {pool = false}))
      assert.are.equal("[::1]:" .. srv.port, r.body)
    end)
  end)

  it("speaks TLS to an https:// URL, never plaintext", function()
    run(function()
      local first = {}
      local srv = server(function(st, _, n)
        first[n] = st:read(1)           -- a TLS record starts with 0x16
        st:close()                     -- no TLS here: the handshake fails
      end)
      local r, msg, code = client.get("https://127.0.0.1:" .. srv.port .. "/",
                                      {pool = false, timeout = TIMEOUT})
      assert.is_nil(r)
      assert.is_string(msg)
      assert.matches("^TLS_HANDSHAKE$", code)
      assert.are.same({"\22"}, first)
    end)
  end)

  it("sends Basic credentials from the URL's userinfo", function()
    run(function()
      local srv = http_server(function(req) return ok(req.headers.authorization or "-") end)
      local r = assert(client.get("http://Aladdin:open%20sesame@127.0.0.1:" .. srv.port .. "/",
                                  {pool = false}))
      assert.are.equal("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", r.body)
    end)
  end)

  it("reads chunked bodies, with extensions and trailers", function()
    run(function()
      local srv = http_server(function()
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               .. "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\n\r\n"
      end)
      local pool <close> = client.pool()
      local r = assert(client.get(srv.base .. "/", {pool = pool}))
      assert.are.equal("hello world", r.body)
      assert.are.equal("42", r.trailers["x-sum"])
      assert.are.equal(1, pool:idle_count())
    end)
  end)

  it("rejects bad chunk sizes with EPROTO", function()
    run(function()
      local srv = http_server(function()
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
      end)
      local pool <close> = client.pool()
      local r, _, code = client.get(srv.base .. "/", {pool = pool})
      assert.is_nil(r)
      assert.are.equal("EPROTO", code)
      assert.are.equal(0, pool:idle_count())
    end)
  end)

  it("reads an HTTP/1.0 body until the server closes, and does not pool it", function()
    run(function()
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for i = 1, 3 do
          st:write("part" .. i .. ";")
          loop.sleep(0.01)
        end
        st:close()
      end)
      local pool <close> = client.pool()
      local r = assert(client.get(srv.base .. "/", {pool = pool}))
      assert.are.equal("1.0", r.version)
      assert.are.equal("part1;part2;part3;", r.body)
      assert.are.equal(0, pool:idle_count())
    end)
  end)

  it("reads no body for HEAD, 204 and 304, and keeps the connection", function()
    run(function()
      local srv = http_server(function(req)
        if req.method == "HEAD" then
          return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        elseif req.target == "/204" then
          return "HTTP/1.1 204 No Content\r\n\r\n"
        elseif req.target == "/304" then
          return "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"
        end
        return ok("last")
      end)
      local pool <close> = client.pool()
      local r = assert(client.request{method = "HEAD", url = srv.base .. "/", pool = pool})
      assert.are.same({200, "", "1000"}, {r.status, r.body, r.headers["content-length"]})
      r = assert(client.get(srv.base .. "/204", {pool = pool}))
      assert.are.same({204, ""}, {r.status, r.body})
      r = assert(client.get(srv.base .. "/304", {pool = pool}))
      assert.are.same({304, ""}, {r.status, r.body})
      r = assert(client.get(srv.base .. "/", {pool = pool}))
      assert.are.equal("last", r.body)
      assert.are.equal(1, srv.conns)
    end)
  end)

  it("skips 1xx interim responses", function()
    run(function()
      local srv = http_server(function()
        return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
               .. ok("final")
      end)
      local r = assert(client.request{url = srv.base .. "/", method = "PUT", body = "x",
                                      pool = false})
      assert.are.same({200, "final"}, {r.status, r.body})
      assert.is_nil(r.headers.link)
    end)
  end)

  it("reuses a keep-alive connection per host:port", function()
    run(function()
      local srv = http_server(function(req) return ok(req.target .. "@" .. req.conn) end)
      local pool <close> = client.pool()
      for i = 1, 5 do
        local r = assert(client.get(srv.base .. "/" .. i, {pool = pool}))
        assert.are.equal("/" .. i .. "@1", r.body)
      end
      assert.are.equal(1, srv.conns)
      assert.are.equal(1, pool:idle_count("127.0.0.1:" .. srv.port))
    end)
  end)

  it("keeps no more idle connections than the pool's bound", function()
    run(function()
      local waiting = {}
      local srv = http_server(function(req)
        -- hold both requests until both have arrived: two connections
        if #waiting < 1 then
          waiting[#waiting + 1] = loop.current()
          loop.suspend(TIMEOUT)
        else
          for _, t in ipairs(waiting) do loop.wake(t) end
        end
        return ok(req.target)
      end)
      local pool <close> = client.pool{max_idle = 1}
      local tasks = {}
      for i = 1, 2 do
        tasks[i] = loop.spawn(function()
          return client.get(srv.base .. "/" .. i, {pool = pool})
        end)
      end
      for i = 1, 2 do assert.are.equal("/" .. i, assert(tasks[i]:join()).body) end
      assert.are.equal(2, srv.conns)
      assert.are.equal(1, pool:idle_count())
    end)
  end)

  it("does not pool a connection the server answered with Connection: close", function()
    run(function()
      local srv = http_server(function() return ok("bye", "Connection: close\r\n") end)
      local pool <close> = client.pool()
      assert(client.get(srv.base .. "/", {pool = pool}))
      assert.are.equal(0, pool:idle_count())
    end)
  end)

  it("sends Connection: close without a pool", function()
    run(function()
      local srv = http_server(function(req) return ok(req.headers.connection or "-") end)
      local r = assert(client.get(srv.base .. "/", {pool = false}))
      assert.are.equal("close", r.body)
    end)
  end)

  it("drops a pooled connection the server closed and uses a new one", function()
    run(function()
      local srv = http_server(function(req)
        -- answers once per connection, then closes without saying so
        return ok(req.target .. "@" .. req.conn)
      end)
      local pool <close> = client.pool()
      local r = assert(client.get(srv.base .. "/a", {pool = pool}))
      assert.are.equal("/a@1", r.body)
      -- the server side of connection 1 closes now
      tracked[#tracked]:close()
      r = assert(client.get(srv.base .. "/b", {pool = pool}))
      assert.are.equal("/b@2", r.body)
      assert.are.equal(2, srv.conns)
    end)
  end)

  it("checks a pooled connection before reuse, so a POST after a close goes on a new one",
     function()
    run(function()
      local srv = http_server(function(req) return ok(req.method .. "@" .. req.conn) end)
      local pool <close> = client.pool()
      assert.are.equal("GET@1", assert(client.get(srv.base .. "/", {pool = pool})).body)
      tracked[#tracked]:close()   -- the server side of connection 1
      local r = assert(client.request{url = srv.base .. "/", body = "x", pool = pool})
      assert.are.equal("POST@2", r.body)
    end)
  end)

  it("retries an idempotent request once when a reused connection dies unanswered", function()
    run(function()
      local srv = http_server(function(req)
        -- the second request on a connection is read and never answered
        if req.conn == 1 and #req.target > 2 then return nil end
        return ok(req.target .. "@" .. req.conn)
      end)
      local pool <close> = client.pool()
      assert.are.equal("/a@1", assert(client.get(srv.base .. "/a", {pool = pool})).body)
      local r = assert(client.get(srv.base .. "/bb", {pool = pool}))
      assert.are.equal("/bb@2", r.body)
      assert.are.equal(2, srv.conns)
    end)
  end)

  it("does not retry a POST on a reused connection that died", function()
    run(function()
      local srv = http_server(function(req)
        if req.conn == 1 and req.method == "POST" then return nil end
        return ok(req.target)
      end)
      local pool <close> = client.pool()
      assert(client.get(srv.base .. "/a", {pool = pool}))
      local r, msg, code = client.request{url = srv.base .. "/p", body = "data", pool = pool}
      assert.is_nil(r)
      assert.are.equal("closed", code)
      assert.is_string(msg)
      assert.are.equal(1, srv.conns)
    end)
  end)

  it("does not reuse a pooled connection past the idle timeout", function()
    run(function()
      local srv = http_server(function(req) return ok(tostring(req.conn)) end)
      local pool <close> = client.pool{idle_timeout = 0}
      assert.are.equal("1", assert(client.get(srv.base .. "/", {pool = pool})).body)
      assert.are.equal("2", assert(client.get(srv.base .. "/", {pool = pool})).body)
      local keep <close> = client.pool{idle_timeout = 60}
      assert.are.equal("3", assert(client.get(srv.base .. "/", {pool = keep})).body)
      assert.are.equal("3", assert(client.get(srv.base .. "/", {pool = keep})).body)
    end)
  end)

  it("gives up connecting after connect_timeout", function()
    -- a listener with a full accept queue (backlog 0): further SYNs go
    -- unanswered, so a connection attempt hangs until its timeout
    local l <close> = assert(core.socket("inet", "stream"))
    assert(l:bind("127.0.0.1", 0))
    assert(l:listen(0))
    local _, port = l:getsockname()
    local fill, full = {}, false
    for i = 1, 16 do
      local s = assert(core.socket("inet", "stream"))
      fill[i] = s
      s:settimeout(0.1)
      local _, _, code = s:connect("127.0.0.1", port)
      if code == "ETIMEDOUT" then
        full = true
        break
      end
    end
    local _f <close> = helper.closing(table.unpack(fill))
    if not full then
      pending("the accept queue never filled up here")
      return
    end
    local t0 = core.monotime()
    local r, _, code = client.get("127.0.0.1:" .. port .. "/",
                                  {connect_timeout = 0.2, pool = false})
    local took = core.monotime() - t0
    assert.is_nil(r)
    assert.are.equal("ETIMEDOUT", code)
    assert.is_true(took >= 0.15 and took < 2, "took " .. took)
    -- the overall timeout bounds the connection too
    t0 = core.monotime()
    r, _, code = client.get("127.0.0.1:" .. port .. "/", {timeout = 0.2, pool = false})
    took = core.monotime() - t0
    assert.is_nil(r)
    assert.are.equal("ETIMEDOUT", code)
    assert.is_true(took >= 0.15 and took < 2, "took " .. took)
  end)

  it("times out a server that never answers", function()
    run(function()
      local srv = server(function(st)
        read_request(st)
        st:read(1)  -- waits for the client to give up
      end)
      local t0 = loop.now()
      local r, _, code = client.get(srv.base .. "/", {timeout = 0.2, pool = false})
      local took = loop.now() - t0
      assert.is_nil(r)
      assert.are.equal("ETIMEDOUT", code)
      assert.is_true(took >= 0.15 and took < 2, "took " .. took)
    end)
  end)

  it("bounds the whole request by timeout, even when bytes keep trickling", function()
    run(function()
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while st:write("x") do loop.sleep(0.02) end
      end)
      local t0 = loop.now()
      local r, _, code = client.get(srv.base .. "/", {timeout = 0.3, pool = false})
      local took = loop.now() - t0
      assert.is_nil(r)
      assert.are.equal("ETIMEDOUT", code)
      assert.is_true(took >= 0.25 and took < 2, "took " .. took)
    end)
  end)

  it("returns ECONNREFUSED when nobody listens", function()
    local l, port = helper.listener()
    l:close()
    local r, msg, code = client.get("127.0.0.1:" .. port .. "/", {pool = false})
    assert.is_nil(r)
    assert.are.equal("ECONNREFUSED", code)
    assert.matches("127.0.0.1:" .. port, msg, 1, true)
  end)

  it("sends a string body with Content-Length", function()
    run(function()
      local srv = http_server(function(req) return ok(req.body) end)
      local r = assert(client.request{url = srv.base .. "/e", body = "payload", pool = false,
                                      headers = {["Content-Type"] = "text/plain"}})
      assert.are.equal("payload", r.body)
      local req = srv.reqs[1]
      assert.are.equal("POST", req.method)
      assert.are.equal("7", req.headers["content-length"])
      assert.are.equal("text/plain", req.headers["content-type"])
    end)
  end)

  it("sends a source body chunked, or raw with a given Content-Length", function()
    run(function()
      local srv = http_server(function(req)
        return ok(req.body .. "|" .. (req.headers["transfer-encoding"] or "-"))
      end)
      local pool <close> = client.pool()
      local function source(list)
        local i = 0
        return function()
          i = i + 1
          return list[i]
        end
      end
      local r = assert(client.request{url = srv.base .. "/", method = "PUT", pool = pool,
                                      body = source{"ab", "", "cd", "e"}})
      assert.are.equal("abcde|chunked", r.body)
      r = assert(client.request{url = srv.base .. "/", method = "PUT", pool = pool,
                                body = source{"xy", "z"}, headers = {["Content-Length"] = 3}})
      assert.are.equal("xyz|-", r.body)
      assert.are.equal(1, srv.conns)
      -- a source shorter than its Content-Length is an error, and the
      -- connection is not reused
      local _, _, code = client.request{url = srv.base .. "/", method = "PUT", pool = pool,
                                        body = source{"x"}, headers = {["Content-Length"] = 3}}
      assert.are.equal("EINVAL", code)
      assert.are.equal(0, pool:idle_count())
    end)
  end)

  it("passes a failing source's message on", function()
    run(function()
      local srv = http_server(function() return ok("") end)
      local r, msg, code = client.request{url = srv.base .. "/", pool = false,
                                          body = function() return nil, "disk on fire" end}
      assert.is_nil(r)
      assert.are.equal("EIO", code)
      assert.matches("disk on fire", msg)
    end)
  end)

  it("streams a large body to a sink piece by piece", function()
    run(function()
      local size = 3 * body.PIECE + 123
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.1 200 OK\r\nContent-Length: " .. size .. "\r\n\r\n")
        local block = string.rep("0123456789abcdef", 1024)
        local sent = 0
        while sent < size do
          local n = math.min(#block, size - sent)
          st:write(block:sub(1, n))
          sent = sent + n
        end
      end)
      local pieces, total, biggest, head_first = 0, 0, 0, nil
      local r = assert(client.get(srv.base .. "/", {pool = false, sink = function(p)
        pieces = pieces + 1
        total = total + #p
        biggest = math.max(biggest, #p)
      end, on_head = function(h)
        head_first = pieces == 0 and h.status == 200
                     and h.headers["Content-Length"] == tostring(size)
      end}))
      assert.is_true(head_first)
      assert.are.equal(200, r.status)
      assert.is_nil(r.body)
      assert.are.equal(size, total)
      assert.is_true(pieces >= 4)
      assert.is_true(biggest <= body.PIECE)
    end)
  end)

  it("stops when the sink says so, with ECANCELED", function()
    run(function()
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while st:write("3\r\nabc\r\n") do loop.sleep(0.005) end
      end)
      local pool <close> = client.pool()
      local got = 0
      local r, msg, code = client.get(srv.base .. "/", {pool = pool, sink = function(p)
        got = got + #p
        if got >= 9 then return nil, "enough" end
        return true
      end})
      assert.is_nil(r)
      assert.are.equal("ECANCELED", code)
      assert.matches("enough", msg)
      assert.are.equal(0, pool:idle_count())
    end)
  end)

  it("closes the connection when a sink raises", function()
    run(function()
      local closed
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
        local data, _, code = st:read(1)
        closed = data == nil and code
      end)
      local pool <close> = client.pool()
      assert.has_error(function()
        client.get(srv.base .. "/", {pool = pool, sink = function() error("sink bug") end})
      end, "sink bug")
      while closed == nil do loop.sleep(0.001) end
      assert.are.equal("EOF", closed)
    end)
  end)

  it("refuses a body larger than max_body with EMSGSIZE", function()
    run(function()
      local srv = http_server(function() return ok(string.rep("x", 2000)) end)
      local r, _, code = client.get(srv.base .. "/", {pool = false, max_body = 1000})
      assert.is_nil(r)
      assert.are.equal("EMSGSIZE", code)
    end)
  end)

  it("refuses a Content-Length over max_body from the head, not waiting for the body", function()
    run(function()
      local closed
      local srv = server(function(st)
        read_request(st)
        st:write("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n")  -- and no body
        local data, _, code = st:read(1)
        closed = data == nil and code
      end)
      local pool <close> = client.pool()
      local r, _, code = client.get(srv.base .. "/", {pool = pool, max_body = 1000,
                                                      timeout = TIMEOUT})
      assert.is_nil(r)
      assert.are.equal("EMSGSIZE", code)
      while closed == nil do loop.sleep(0.001) end
      assert.are.equal("EOF", closed)    -- the connection was not kept
    end)
  end)

  describe("redirects", function()
    it("follows a relative Location and reports the final URL", function()
      run(function()
        local srv = http_server(function(req)
          if req.target == "/a/b" then
            return "HTTP/1.1 302 Found\r\nLocation: ../c?x=1\r\nContent-Length: 4\r\n\r\nmove"
          end
          return ok("at " .. req.target)
        end)
        local pool <close> = client.pool()
        local r = assert(client.get(srv.base .. "/a/b", {pool = pool}))
        assert.are.same({200, "at /c?x=1", 1}, {r.status, r.body, r.redirects})
        assert.are.equal(srv.base .. "/c?x=1", r.url)
        assert.are.equal(1, srv.conns)
      end)
    end)

    it("turns a POST into a GET without a body on 303, 301 and 302", function()
      for _, status in ipairs{303, 301, 302} do
        run(function()
          local srv = http_server(function(req)
            if req.target == "/form" then
              return "HTTP/1.1 " .. status .. " X\r\nLocation: /done\r\nContent-Length: 0\r\n\r\n"
            end
            return ok(req.method .. " " .. (req.body or "no body"))
          end)
          local r = assert(client.request{url = srv.base .. "/form", body = "a=1", pool = false,
                                          headers = {["Content-Type"] = "x-www-form-urlencoded",
                                                     ["X-Keep"] = "yes"}})
          assert.are.equal("GET no body", r.body)
          local h = srv.reqs[2].headers
          assert.is_nil(h["content-length"])
          assert.is_nil(h["content-type"])
          assert.are.equal("yes", h["x-keep"])
        end)
      end
    end)

    it("keeps the method and body on 307 and 308", function()
      for _, status in ipairs{307, 308} do
        run(function()
          local srv = http_server(function(req)
            if req.target == "/old" then
              return "HTTP/1.1 " .. status .. " X\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"
            end
            return ok(req.method .. " " .. req.body)
          end)
          local r = assert(client.request{url = srv.base .. "/old", method = "PUT",
                                          body = "data", pool = false})
          assert.are.equal("PUT data", r.body)
        end)
      end
    end)

    it("stops after the limit with ELOOP", function()
      run(function()
        local srv = http_server(function(req)
          local n = tonumber(req.target:match("%d+"))
          return "HTTP/1.1 301 Moved\r\nLocation: /r" .. (n + 1) .. "\r\nContent-Length: 0\r\n\r\n"
        end)
        local pool <close> = client.pool()
        local r, msg, code = client.get(srv.base .. "/r0", {pool = pool})
        assert.is_nil(r)
        assert.are.equal("ELOOP", code)
        assert.matches("redirects", msg)
        assert.are.equal(6, #srv.reqs)
        r, msg, code = client.get(srv.base .. "/r0", {pool = pool, redirects = 2})
        assert.is_nil(r)
        assert.are.equal("ELOOP", code)
        assert.matches("(2)", msg, 1, true)
        assert.are.equal(6 + 3, #srv.reqs)
      end)
    end)

    it("returns the 3xx itself with redirects = false", function()
      run(function()
        local srv = http_server(function()
          return "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 2\r\n\r\nhi"
        end)
        local r = assert(client.get(srv.base .. "/", {pool = false, redirects = false}))
        assert.are.same({302, "/x", "hi"}, {r.status, r.headers.location, r.body})
      end)
    end)

    it("drops Authorization and Cookie on a redirect to another host:port", function()
      run(function()
        local other = http_server(function(req)
          return ok((req.headers.authorization or "-") .. " " .. (req.headers.cookie or "-")
                    .. " " .. (req.headers["x-other"] or "-"))
        end)
        local srv = http_server(function(req)
          if req.target == "/same" then
            return "HTTP/1.1 302 Found\r\nLocation: /here\r\nContent-Length: 0\r\n\r\n"
          elseif req.target == "/here" then
            return ok(req.headers.authorization or "-")
          end
          return "HTTP/1.1 302 Found\r\nLocation: " .. other.base
                 .. "/there\r\nContent-Length: 0\r\n\r\n"
        end)
        local headers = {Authorization = "Bearer t", Cookie = "c=1", ["X-Other"] = "kept"}
        local r = assert(client.get(srv.base .. "/same", {pool = false, headers = headers}))
        assert.are.equal("Bearer t", r.body)
        r = assert(client.get(srv.base .. "/away", {pool = false, headers = headers}))
        assert.are.equal("- - kept", r.body)
        assert.are.equal(other.base .. "/there", r.url)
      end)
    end)

    it("follows a redirect to https with TLS, never in plaintext", function()
      run(function()
        local first
        local tls_srv = server(function(st)
          first = st:read(1)            -- a TLS record starts with 0x16
          st:close()
        end)
        local srv = http_server(function()
          return "HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1:" .. tls_srv.port
                 .. "/\r\nContent-Length: 0\r\n\r\n"
        end)
        local r, _, code = client.get(srv.base .. "/", {pool = false, timeout = TIMEOUT})
        assert.is_nil(r)
        assert.matches("^TLS_HANDSHAKE$", code)
        assert.are.equal("\22", first)
      end)
    end)
  end)

  describe("response heads", function()
    local function answer_with(raw, opts)
      local r, msg, code
      run(function()
        local srv = server(function(st)
          read_request(st)
          st:write(raw)
          st:close()
        end)
        opts = opts or {}
        opts.pool = false
        r, msg, code = client.get(srv.base .. "/", opts)
      end)
      return r, msg, code
    end

    it("rejects conflicting Content-Length values", function()
      local r, _, code = answer_with("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                     .. "Content-Length: 4\r\n\r\nabcd")
      assert.is_nil(r)
      assert.are.equal("EPROTO", code)
      _, _, code = answer_with("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd")
      assert.are.equal("EPROTO", code)
      _, _, code = answer_with("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc")
      assert.are.equal("EPROTO", code)
      r = assert(answer_with("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                             .. "Content-Length: 3\r\n\r\nabc"))
      assert.are.equal("abc", r.body)
    end)

    it("rejects Transfer-Encoding with Content-Length, and unknown codings", function()
      local _, _, code = answer_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                     .. "Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
      assert.are.equal("EPROTO", code)
      _, _, code = answer_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")
      assert.are.equal("EPROTO", code)
    end)

    it("rejects malformed status lines and fields", function()
      for _, raw in ipairs{
        "HTTP/1.1 200OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 99 Low\r\n\r\n",
        "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
        "HTTP/1.1 200 OK\r\n continued: x\r\n\r\n",
      } do
        local r, _, code = answer_with(raw)
        assert.is_nil(r, raw)
        assert.are.equal("EPROTO", code, raw)
      end
    end)

    it("limits the head's size and field count with EMSGSIZE", function()
      local _, _, code = answer_with("HTTP/1.1 200 OK\r\nX: " .. string.rep("a", 2000)
                                     .. "\r\n\r\n", {max_head = 1024})
      assert.are.equal("EMSGSIZE", code)
      local many = {}
      for i = 1, 20 do many[i] = "X-" .. i .. ": v\r\n" end
      _, _, code = answer_with("HTTP/1.1 200 OK\r\n" .. table.concat(many) .. "\r\n",
                               {max_headers = 10})
      assert.are.equal("EMSGSIZE", code)
      _, _, code = answer_with("HTTP/1.1 200 " .. string.rep("r", 9000) .. "\r\n\r\n")
      assert.are.equal("EMSGSIZE", code)
    end)

    it("unfolds obs-fold, accepts bare LF and a missing reason", function()
      local r = assert(answer_with("HTTP/1.1 200\nX-Long: a\n  b\nContent-Length: 2\n\nok"))
      assert.are.same({200, "", "a b", "ok"}, {r.status, r.reason, r.headers["x-long"], r.body})
    end)

    it("issue 11: a field or Location of 100,000 inner blanks costs linear time", function()
      local t0 = os.clock()
      local blanks = "a" .. (" "):rep(100000) .. "b"
      local r = assert(answer_with("HTTP/1.1 200 OK\r\nX-A: " .. blanks .. "\r\nX-B: v\r\n "
                                   .. blanks .. "\r\nContent-Length: 0\r\n\r\n",
                                   {max_head = 300000}))
      assert.are.equal(#blanks, #r.headers["x-a"])
      local _, _, code = answer_with("HTTP/1.1 302 Found\r\nLocation: /x" .. blanks
                                     .. "\r\nContent-Length: 0\r\n\r\n", {max_head = 300000})
      assert.is_string(code)
      assert.is_true(os.clock() - t0 < 2 * helper.CPU_SLACK, "quadratic")
    end)

    it("issue 11: an endless body of 1-byte chunks stops at max_body, holding little", function()
      local r, code, _
      run(function()
        local srv = server(function(st)
          read_request(st)
          st:write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
          local piece = ("1\r\nx\r\n"):rep(1000)
          while st:write(piece) do end
        end)
        r, _, code = client.get(srv.base .. "/", {pool = false, max_body = 300000})
      end)
      assert.is_nil(r)
      assert.are.equal("EMSGSIZE", code)
    end)

    it("reports a close in the middle of the body", function()
      local r, _, code = answer_with("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
      assert.is_nil(r)
      assert.are.equal("closed", code)
    end)
  end)

  it("closes its connection when its task is cancelled", function()
    run(function()
      local closed, asked
      local srv = server(function(st)
        asked = read_request(st)
        local data, _, code = st:read(1)
        closed = data == nil and code
      end)
      local t = loop.spawn(function() return client.get(srv.base .. "/", {pool = false}) end)
      while not asked do loop.sleep(0.001) end
      assert.are.equal("waiting", t:status())
      t:cancel()
      while closed == nil do loop.sleep(0.001) end
      assert.are.equal("EOF", closed)
    end)
  end)

  it("works outside the loop, blocking, with keep-alive", function()
    local child = helper.run_lua([[
      local lunasock = require "lunasock"
      local loop = require "lunasock.loop"
      local stream = require "lunasock.stream"
      local l = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = 5}))
      local _, port = l:getsockname()
      io.write("listening on 127.0.0.1:", port, "\n")
      io.flush()
      loop.run(function()
        local s = assert(l:accept())
        s:settimeout(5)
        local st, n = stream.new(s), 0
        while true do
          local line = st:readline()
          if not line then break end
          repeat local h = assert(st:readline()) until h == ""
          n = n + 1
          local b = "request " .. n
          st:write("HTTP/1.1 200 OK\r\nContent-Length: " .. #b .. "\r\n\r\n" .. b)
        end
        s:close()
      end)
      l:close()
    ]])
    local line = child:read("l")
    local port = assert(tonumber(line and line:match("listening on [%d.]+:(%d+)")), line)
    local pool <close> = client.pool()
    local before = helper.fd_count()
    for i = 1, 3 do
      local r = assert(client.get("127.0.0.1:" .. port .. "/", {pool = pool, timeout = TIMEOUT}))
      assert.are.equal("request " .. i, r.body)
    end
    assert.are.equal(before + 1, helper.fd_count())
    pool:close()
    assert.are.equal(before, helper.fd_count())
    assert.is_true(child:close())
  end)

  it("leaks no descriptors", function()
    local before = helper.fd_count()
    run(function()
      local srv = http_server(function(req)
        if req.target == "/close" then return nil end
        return ok("x")
      end)
      local no_tls = server(function(st) st:close() end)
      local pool <close> = client.pool()
      for _ = 1, 3 do
        assert(client.get(srv.base .. "/", {pool = pool}))
        client.get(srv.base .. "/close", {pool = pool})
        client.get("https://127.0.0.1:" .. no_tls.port .. "/", {pool = pool})
      end
    end)
    assert.are.equal(before, helper.fd_count())
  end)

  it("raises on misuse", function()
    assert.has_error(function() client.request(42) end)
    assert.has_error(function() client.request{} end)
    assert.has_error(function() client.request{url = "h/", method = "GE T"} end)
    assert.has_error(function() client.request{url = "h/", body = 42} end)
    assert.has_error(function() client.request{url = "h/", headers = {["X"] = "a\r\nB: c"}} end)
    assert.has_error(function() client.request{url = "h/", headers = {["Bad Name"] = "a"}} end)
    assert.has_error(function()
      client.request{url = "h/", headers = {["Transfer-Encoding"] = "chunked"}}
    end)
    assert.has_error(function()
      client.request{url = "h/", body = "abc", headers = {["Content-Length"] = "4"}}
    end)
    assert.has_error(function() client.request{url = "h/", timeout = -1} end)
    assert.has_error(function() client.request{url = "h/", pool = {}} end)
    assert.has_error(function() client.get(nil) end)
    -- allow_downgrade = "no" meant yes; user_agent = 5 was sent as "5"
    assert.has_error(function() client.request{url = "h/", allow_downgrade = "no"} end,
                     "bad option 'allow_downgrade' to 'http.request' (boolean expected, "
                     .. "got string \"no\")")
    assert.has_error(function() client.request{url = "h/", user_agent = 5} end)
    assert.has_error(function() client.get("h/", {url = "h/"}) end)
    -- every misuse names the option and the function
    for k, v in pairs{url = 5, method = "G T", body = {}, sink = 1, on_head = 1, timeout = -1,
                      redirects = 1.5, pool = {}, tls = 5, headers = 5, max_head = -1,
                      user_agent = true} do
      local o = {url = "h/"}
      o[k] = v
      local fine, err = pcall(client.request, o)
      assert.is_false(fine, k)
      assert.matches("bad option '" .. k .. "' to 'http.request'", err, 1, true)
      if k ~= "url" then
        o.url = nil
        fine, err = pcall(client.get, "h/", o)
        assert.is_false(fine, k)
        assert.matches("bad option '" .. k .. "' to 'http.get'", err, 1, true)
      end
    end
  end)

  it("is what lunasock.http re-exports", function()
    local ok_, http = pcall(require, "lunasock.http")
    if not ok_ then
      pending("lunasock.http does not load: " .. tostring(http))
      return
    end
    run(function()
      local srv = http_server(function() return ok("front") end)
      local r = assert(http.get(srv.base .. "/", {pool = false}))
      assert.are.equal("front", r.body)
      r = assert(http.request{url = srv.base .. "/", pool = false})
      assert.are.equal("front", r.body)
    end)
  end)
end)
