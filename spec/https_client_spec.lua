-- lunasock.http.client and `lunasock get` over https://, against real
-- servers on 127.0.0.1: nginx with ssl (certificates from tls_certs: a
-- good leaf, one for another name, one by a CA nobody trusts, and a plain
-- http server for redirects), and a Python server that closes without
-- close_notify. Each server is a child process stopped by its PID.
local helper = require "helper"
local loop = require "lunasock.loop"
local client = require "lunasock.http.client"
local tls_certs = require "tls_certs"
local peers = require "tls_peers"

local TIMEOUT = helper.TIMEOUT

describe("lunasock.http.client over https against nginx", function()
  local certs, dir, ng, why
  local good, other, untrusted, plain   -- base URLs
  local ca

  setup(function()
    certs = tls_certs.get()
    ca = certs.ca.cert
    dir = helper.tmpdir()
    os.execute("mkdir " .. dir .. "/www")
    peers.write_file(dir .. "/www/hello.txt", "hello over tls\n")
    ng, why = peers.nginx(dir, function(p)
      local function tls_server(port, cert, extra)
        return ([[
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_session_cache shared:S%d:1m;
    root %s/www;
    location = /conn { return 200 "$connection"; }
    location = /reused { return 200 "$ssl_session_reused"; }
    location = /close { keepalive_timeout 0; return 200 "$ssl_session_reused"; }
    %s
  }
]]):format(port, cert.cert, cert.key, port, dir, extra or "")
      end
      return tls_server(p[1], certs.leaf,
                        ("location = /down { return 302 http://127.0.0.1:%d/hello.txt; }")
                          :format(p[4]))
        .. tls_server(p[2], certs.other) .. tls_server(p[3], certs.untrusted)
        .. ([[
  server {
    listen 127.0.0.1:%d;
    root %s/www;
    location = /up { return 302 https://127.0.0.1:%d/hello.txt; }
  }
]]):format(p[4], dir, p[1])
    end, 4)
    if ng then
      local function base(i) return "https://127.0.0.1:" .. ng.ports[i] end
      good, other, untrusted = base(1), base(2), base(3)
      plain = "http://127.0.0.1:" .. ng.ports[4]
    end
  end)

  teardown(function()
    if ng then ng:stop() end
    if dir then helper.rmdir(dir) end
  end)

  before_each(function()
    if why then pending(why) end
  end)

  local function get(u, opts)
    opts = opts or {}
    opts.url = u
    opts.timeout = TIMEOUT
    if opts.tls == nil then opts.tls = {cafile = ca} end
    return client.request(opts)
  end

  it("gets a file over a verified connection, by address and by name", function()
    if not ng then return end
    local pool <close> = client.pool()
    local r = assert(get(good .. "/hello.txt", {pool = pool}))
    assert.are.same({200, "hello over tls\n"}, {r.status, r.body})
    assert.are.equal(good .. "/hello.txt", r.url)
    r = assert(get("https://localhost:" .. ng.ports[1] .. "/hello.txt", {pool = pool}))
    assert.are.equal("hello over tls\n", r.body)
  end)

  it("keeps one connection alive for several requests", function()
    if not ng then return end
    local pool <close> = client.pool()
    local c1 = assert(get(good .. "/conn", {pool = pool})).body
    assert.are.equal(c1, assert(get(good .. "/conn", {pool = pool})).body)
    assert.are.equal(c1, assert(get(good .. "/conn", {pool = pool})).body)
    assert.are.equal(1, pool:idle_count())
  end)

  it("resumes the TLS session on a new connection of the same pool", function()
    if not ng then return end
    local pool <close> = client.pool()
    -- /close answers and closes: each request needs a new connection
    assert.are.equal(".", assert(get(good .. "/close", {pool = pool})).body)
    assert.are.equal(0, pool:idle_count())
    assert.are.equal("r", assert(get(good .. "/close", {pool = pool})).body)
    assert.are.equal("r", assert(get(good .. "/reused", {pool = pool})).body)
    -- another pool has no session to offer
    local pool2 <close> = client.pool()
    assert.are.equal(".", assert(get(good .. "/reused", {pool = pool2})).body)
  end)

  it("never shares connections or sessions between TLS settings", function()
    if not ng then return end
    local pool <close> = client.pool()
    local c1 = assert(get(good .. "/conn", {pool = pool})).body
    local r = assert(get(good .. "/reused", {pool = pool, tls = {cafile = ca, verify = false}}))
    assert.are.equal(".", r.body)
    assert.are_not.equal(c1, assert(get(good .. "/conn", {pool = pool,
                                                           tls = {verify = false}})).body)
    assert.are.equal(c1, assert(get(good .. "/conn", {pool = pool})).body)
  end)

  it("takes the pool's TLS settings when a request gives none", function()
    if not ng then return end
    local pool <close> = client.pool{tls = {cafile = ca}}
    local r = assert(client.get(good .. "/hello.txt", {pool = pool, timeout = TIMEOUT}))
    assert.are.equal("hello over tls\n", r.body)
  end)

  it("refuses a server the system's CA store does not trust (TLS_VERIFY)", function()
    if not ng then return end
    local r, msg, code = client.get(good .. "/hello.txt", {pool = false, timeout = TIMEOUT})
    assert.is_nil(r)
    assert.are.equal("TLS_VERIFY", code, msg)
  end)

  it("refuses a certificate by another CA (TLS_VERIFY)", function()
    if not ng then return end
    local r, msg, code = get(untrusted .. "/hello.txt", {pool = false})
    assert.is_nil(r)
    assert.are.equal("TLS_VERIFY", code, msg)
  end)

  it("refuses a certificate for another name (TLS_HOSTNAME)", function()
    if not ng then return end
    for _, u in ipairs{other .. "/", "https://localhost:" .. ng.ports[2] .. "/"} do
      local r, msg, code = get(u, {pool = false})
      assert.is_nil(r)
      assert.are.equal("TLS_HOSTNAME", code, msg)
    end
  end)

  it("connects without checks only when verify = false is asked for", function()
    if not ng then return end
    local r = assert(get(untrusted .. "/hello.txt", {pool = false, tls = {verify = false}}))
    assert.are.equal("hello over tls\n", r.body)
  end)

  it("follows a redirect from http to https", function()
    if not ng then return end
    local r = assert(get(plain .. "/up", {pool = false}))
    assert.are.same({200, "hello over tls\n", good .. "/hello.txt", 1},
                    {r.status, r.body, r.url, r.redirects})
  end)

  it("refuses a redirect from https to http unless allow_downgrade is set", function()
    if not ng then return end
    local r, msg, code = get(good .. "/down", {pool = false})
    assert.is_nil(r)
    assert.are.equal("EPERM", code)
    assert.matches("allow_downgrade", msg)
    r = assert(get(good .. "/down", {pool = false, allow_downgrade = true}))
    assert.are.same({200, plain .. "/hello.txt"}, {r.status, r.url})
  end)

  it("works from loop tasks, several at once, on one pool", function()
    if not ng then return end
    local pool <close> = client.pool()
    local results = {}
    loop.run(function()
      local tasks = {}
      for i = 1, 4 do
        tasks[i] = loop.spawn(function()
          return assert(get(good .. "/hello.txt", {pool = pool})).body
        end)
      end
      for i = 1, 4 do results[i] = tasks[i]:join() end
    end)
    for i = 1, 4 do assert.are.equal("hello over tls\n", results[i]) end
    assert.is_true(pool:idle_count() >= 1)
  end)

  describe("lunasock get", function()
    it("gets https://127.0.0.1:PORT/ with --cacert", function()
      if not ng then return end
      local ok, out, err = peers.cli{"get", "--cacert", ca, good .. "/hello.txt"}
      assert.is_true(ok, err)
      assert.are.equal("hello over tls\n", out)
    end)

    it("refuses the same server without --cacert (untrusted)", function()
      if not ng then return end
      local ok, out, err = peers.cli{"get", good .. "/hello.txt"}
      assert.is_false(ok)
      assert.are.equal("", out)
      assert.matches("TLS_VERIFY", err)
    end)

    it("refuses a certificate for another name", function()
      if not ng then return end
      local ok, out, err = peers.cli{"get", "--cacert", ca, other .. "/hello.txt"}
      assert.is_false(ok)
      assert.are.equal("", out)
      assert.matches("TLS_HOSTNAME", err)
    end)

    it("connects with -k and warns on stderr", function()
      if not ng then return end
      local ok, out, err = peers.cli{"get", "-k", untrusted .. "/hello.txt"}
      assert.is_true(ok, err)
      assert.are.equal("hello over tls\n", out)
      assert.matches("warning: %-%-insecure", err)
    end)
  end)
end)

---------------------------------------------------------------- truncation

-- A TLS server in Python that answers by path and then closes the TCP
-- connection, with close_notify (/clean) or without it (the rest).
local PY_CUT = [[
import socket, ssl, sys, threading
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(16)
print(ls.getsockname()[1], flush=True)
HEAD = b"HTTP/1.1 200 OK\r\n"
REPLIES = {
    b"/cut": HEAD + b"Connection: close\r\n\r\npartial body",
    b"/clean": HEAD + b"Connection: close\r\n\r\nwhole body",
    b"/length": HEAD + b"Content-Length: 5\r\n\r\nhello",
    b"/short": HEAD + b"Content-Length: 50\r\n\r\nhello",
    b"/chunked": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
}

def serve(raw):
    raw.settimeout(10)
    try:
        c = ctx.wrap_socket(raw, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return
            data += d
        path = data.split(b" ")[1]
        c.sendall(REPLIES.get(path, HEAD + b"Content-Length: 0\r\n\r\n"))
        if path == b"/clean":
            c.unwrap()
        else:
            c.shutdown(socket.SHUT_RDWR)   # drops TLS: no close_notify
        c.close()
    except Exception:
        pass
    finally:
        raw.close()

while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
]]

describe("lunasock.http.client over https, a peer that closes without close_notify", function()
  local certs, dir, pid, proc, base, why

  setup(function()
    certs = tls_certs.get()
    dir = helper.tmpdir()
    local port
    pid, proc, port = peers.python(dir, "cut.py", PY_CUT,
                                   certs.leaf.cert .. " " .. certs.leaf.key)
    if not pid then why = proc return end
    base = "https://127.0.0.1:" .. port
  end)

  teardown(function()
    peers.stop(pid, proc)
    if dir then helper.rmdir(dir) end
  end)

  before_each(function()
    if why then pending(why) end
  end)

  local function get(path, pool)
    return client.get(base .. path, {pool = pool or false, timeout = TIMEOUT,
                                     tls = {cafile = certs.ca.cert}})
  end

  it("fails a close-delimited body cut without close_notify (TLS_TRUNCATED)", function()
    if not base then return end
    local r, msg, code = get("/cut")
    assert.is_nil(r)
    assert.are.equal("TLS_TRUNCATED", code, msg)
  end)

  it("reads a close-delimited body ended by close_notify", function()
    if not base then return end
    assert.are.equal("whole body", assert(get("/clean")).body)
  end)

  it("keeps a complete Content-Length or chunked body read before such an EOF", function()
    if not base then return end
    local pool <close> = client.pool()
    assert.are.equal("hello", assert(get("/length", pool)).body)
    -- the pooled connection has been cut since: a new one serves
    assert.are.equal("hello", assert(get("/chunked", pool)).body)
    assert.are.equal("hello", assert(get("/length", pool)).body)
  end)

  it("fails a Content-Length body cut short", function()
    if not base then return end
    local r = get("/short")
    assert.is_nil(r)
  end)
end)

describe("lunasock.http.client over https against lunasock's own server", function()
  local certs
  setup(function() certs = tls_certs.get() end)

  local run = helper.run_task

  it("sends a client certificate when the server asks (mutual TLS)", function()
    run(function()
      local http = require "lunasock.http"
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0,
        tls = {cert = certs.leaf.cert, key = certs.leaf.key, verify = true,
               cafile = certs.ca.cert},
        handler = function(req)
          return 200, nil, tostring(req.tls.peer.subject)
        end})
      local base = "https://localhost:" .. srv.port .. "/"
      local r = assert(client.get(base, {pool = false, timeout = TIMEOUT, tls = {
        cafile = certs.ca.cert, cert = certs.client.cert, key = certs.client.key}}))
      assert.matches("lunasock test client", r.body)
      assert.is_true(r.tls.verified)
      local none = client.get(base, {pool = false, timeout = TIMEOUT,
                                     tls = {cafile = certs.ca.cert}})
      assert.is_nil(none)
    end)
  end)

  it("reports the connection's TLS details and resumes on a new pooled connection", function()
    run(function()
      local http = require "lunasock.http"
      local srv <close> = assert(http.server{host = "127.0.0.1", port = 0,
        tls = {cert = certs.leaf.cert, key = certs.leaf.key},
        handler = function() return 200, {Connection = "close"}, "bye" end})
      local pool <close> = client.pool{tls = {cafile = certs.ca.cert}}
      local base = "https://localhost:" .. srv.port .. "/"
      local r1 = assert(client.get(base, {pool = pool, timeout = TIMEOUT}))
      assert.are.same({"bye", false, "localhost"},
                      {r1.body, r1.tls.session_reused, r1.tls.servername})
      local r2 = assert(client.get(base, {pool = pool, timeout = TIMEOUT}))
      assert.is_true(r2.tls.session_reused)
    end)
  end)
end)
