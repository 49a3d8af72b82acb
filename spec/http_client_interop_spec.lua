-- lunasock.http.client against real servers: Python's http.server and
-- nginx, each started here as a child process on 127.0.0.1 (a port the
-- child picks, or one we pick and retry on EADDRINUSE) and stopped by its
-- PID afterwards. The client blocks (outside any loop) except where a test
-- runs it in a loop task.
local helper = require "helper"
local loop = require "lunasock.loop"
local client = require "lunasock.http.client"
local peers = require "tls_peers"

local TIMEOUT = helper.TIMEOUT

-- A megabyte of bytes of every value, the same on every run.
local function big_data()
  local parts = {}
  for i = 1, 4096 do
    local row = {}
    for j = 1, 256 do row[j] = string.char((i * 7 + j) % 256) end
    parts[i] = table.concat(row)
  end
  return table.concat(parts)
end

-- The site both servers serve from dir/www: hello.txt (text), sub/ with
-- an index.html, and big.bin (big_data()). Returns big.bin's contents.
local function make_site(dir, hello, index)
  os.execute("mkdir " .. dir .. "/www " .. dir .. "/www/sub")
  peers.write_file(dir .. "/www/hello.txt", hello)
  peers.write_file(dir .. "/www/sub/index.html", index)
  local big = big_data()
  peers.write_file(dir .. "/www/big.bin", big)
  return big
end

---------------------------------------------------------------- python

local PY_SERVER = [[
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_bytes(self, code, data, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if self.path == "/port":
            return self.send_bytes(200, str(self.client_address[1]).encode())
        if self.path == "/redirect":
            return self.send_bytes(302, b"moved", [("Location", "/hello.txt")])
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"from ", b"python"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
            return
        return super().do_GET()

    def do_POST(self):
        te = self.headers.get("Transfer-Encoding", "-")
        if te.lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_bytes(200, data, [("X-Transfer-Encoding", te)])

handler = functools.partial(Handler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
]]

describe("lunasock.http.client against Python's http.server", function()
  local pid, proc, dir, base, big
  local pool

  setup(function()
    if not peers.have("python3") then return end
    dir = helper.tmpdir()
    big = make_site(dir, "hello from a file\n", "<p>index</p>\n")
    local port
    pid, proc, port = peers.python(dir, "server.py", PY_SERVER, dir .. "/www")
    assert(pid, proc)
    base = "http://127.0.0.1:" .. port
    pool = client.pool()
  end)

  teardown(function()
    if pool then pool:close() end
    peers.stop(pid, proc)
    if dir then helper.rmdir(dir) end
  end)

  before_each(function()
    if not peers.have("python3") then pending("python3 is not installed") end
  end)

  local function get(path, opts)
    opts = opts or {}
    opts.pool = opts.pool == nil and pool or opts.pool
    opts.timeout = TIMEOUT
    opts.url = base .. path
    return client.request(opts)
  end

  it("gets a file, then reuses the connection", function()
    if not base then return end
    local r = assert(get("/hello.txt"))
    assert.are.same({200, "hello from a file\n"}, {r.status, r.body})
    assert.are.equal("text/plain", r.headers["Content-Type"])
    assert.matches("^SimpleHTTP", r.headers.server)
    local p1 = assert(get("/port")).body
    local p2 = assert(get("/port")).body
    assert.are.equal(p1, p2)
  end)

  it("answers HEAD without a body and goes on", function()
    if not base then return end
    local r = assert(get("/hello.txt", {method = "HEAD"}))
    assert.are.same({200, "", "18"}, {r.status, r.body, r.headers["content-length"]})
    assert.are.equal("hello from a file\n", assert(get("/hello.txt")).body)
  end)

  it("reports a 404", function()
    if not base then return end
    local r = assert(get("/missing"))
    assert.are.equal(404, r.status)
  end)

  it("follows a 302 and Python's directory 301", function()
    if not base then return end
    local r = assert(get("/redirect"))
    assert.are.same({200, "hello from a file\n", 1}, {r.status, r.body, r.redirects})
    r = assert(get("/sub"))
    assert.are.same({200, "<p>index</p>\n", base .. "/sub/"}, {r.status, r.body, r.url})
  end)

  it("reads a chunked response and one that ends with the connection", function()
    if not base then return end
    assert.are.equal("hello from python", assert(get("/chunked")).body)
    local r = assert(get("/close"))
    assert.are.equal("until close", r.body)
  end)

  it("streams a megabyte file to a sink", function()
    if not base then return end
    local parts = {}
    local r = assert(get("/big.bin", {sink = function(p) parts[#parts + 1] = p end}))
    assert.are.equal(200, r.status)
    assert.is_true(#parts > 1)
    assert.is_true(table.concat(parts) == big)
  end)

  it("uploads a string body and a chunked source", function()
    if not base then return end
    local r = assert(get("/up", {body = "small body"}))
    assert.are.same({"small body", "-"}, {r.body, r.headers["x-transfer-encoding"]})
    local pos = 1
    r = assert(get("/up", {method = "POST", body = function()
      if pos > #big then return nil end
      local piece = big:sub(pos, pos + 9999)
      pos = pos + 10000
      return piece
    end}))
    assert.are.equal("chunked", r.headers["x-transfer-encoding"])
    assert.is_true(r.body == big)
  end)
end)

---------------------------------------------------------------- nginx

local ECHO_MODULE = "/usr/share/nginx/modules/ngx_http_echo_module.so"

-- The server block for dir/www on port; with echo, /echo answers with the
-- request body (chunked) through nginx's echo module.
local function nginx_server(dir, port, echo)
  return ([[
  server {
    listen 127.0.0.1:%d;
    root %s/www;
    location = /conn { return 200 "$connection"; }
    location = /redirect { return 302 /hello.txt; }
    location = /see-other { return 303 /conn; }
    location = /upload { client_max_body_size 4m; return 200 "uploaded"; }
    %s
  }
]]):format(port, dir,
           echo and "location = /echo { client_max_body_size 4m; client_body_buffer_size 4m; "
                    .. "echo_read_request_body; echo_request_body; }" or "")
end

describe("lunasock.http.client against nginx", function()
  local ng, dir, base, big, echo, why
  local pool

  setup(function()
    dir = helper.tmpdir()
    big = make_site(dir, "hello from nginx\n", "<p>nginx index</p>\n")
    local function servers(ports) return nginx_server(dir, ports[1], echo) end
    -- the echo module, when it loads, gives a chunked echo of the body
    local module = io.open(ECHO_MODULE)
    echo = module ~= nil
    if module then
      module:close()
      ng = peers.nginx(dir, servers, 1, "load_module " .. ECHO_MODULE .. ";")
      echo = ng ~= nil
    end
    if not ng then ng, why = peers.nginx(dir, servers) end
    if ng then base = "http://127.0.0.1:" .. ng.ports[1] end
    pool = client.pool()
  end)

  teardown(function()
    if pool then pool:close() end
    if ng then ng:stop() end
    if dir then helper.rmdir(dir) end
  end)

  before_each(function()
    if why then pending(why) end
  end)

  local function get(path, opts)
    opts = opts or {}
    if opts.pool == nil then opts.pool = pool end
    opts.timeout = TIMEOUT
    opts.url = base .. path
    return client.request(opts)
  end

  it("gets a file and reuses one connection", function()
    if not base then return end
    local r = assert(get("/hello.txt"))
    assert.are.same({200, "hello from nginx\n"}, {r.status, r.body})
    assert.matches("^nginx", r.headers.Server)
    assert.are.equal("text/plain", r.headers["content-type"])
    local c1 = assert(get("/conn")).body
    assert.are.equal(c1, assert(get("/conn")).body)
    assert.are.equal(c1, assert(get("/conn")).body)
    assert.are.equal(1, pool:idle_count())
  end)

  it("answers HEAD and a conditional GET without bodies", function()
    if not base then return end
    local r = assert(get("/hello.txt", {method = "HEAD"}))
    assert.are.same({200, ""}, {r.status, r.body})
    local last = assert(r.headers["last-modified"])
    r = assert(get("/hello.txt", {headers = {["If-Modified-Since"] = last}}))
    assert.are.same({304, ""}, {r.status, r.body})
    local c1 = assert(get("/conn")).body
    assert.are.equal(c1, assert(get("/conn")).body)
  end)

  it("follows nginx's redirects", function()
    if not base then return end
    local r = assert(get("/redirect"))
    assert.are.same({200, "hello from nginx\n", 1}, {r.status, r.body, r.redirects})
    r = assert(get("/sub"))
    assert.are.same({200, "<p>nginx index</p>\n"}, {r.status, r.body})
    r = assert(get("/see-other", {body = "form=1"}))
    assert.are.equal(200, r.status)
    assert.are.equal(base .. "/conn", r.url)
  end)

  it("streams a megabyte file to a sink", function()
    if not base then return end
    local parts = {}
    local r = assert(get("/big.bin", {sink = function(p) parts[#parts + 1] = p end}))
    assert.are.equal(tostring(#big), r.headers["content-length"])
    assert.is_true(table.concat(parts) == big)
  end)

  it("sends a chunked upload nginx accepts, and keeps the connection", function()
    if not base then return end
    local c1 = assert(get("/conn")).body
    local sent = false
    local r = assert(get("/upload", {method = "POST", body = function()
      if sent then return nil end
      sent = true
      return big
    end}))
    assert.are.same({200, "uploaded"}, {r.status, r.body})
    assert.are.equal(c1, assert(get("/conn")).body)
  end)

  it("gets a chunked echo of a chunked upload", function()
    if not base then return end
    if not echo then
      pending("nginx's echo module does not load here")
      return
    end
    local i = 0
    local r = assert(get("/echo", {method = "POST", body = function()
      i = i + 1
      if i <= 4 then return ("piece %d;"):format(i) end
    end}))
    assert.are.equal("chunked", r.headers["transfer-encoding"])
    assert.are.equal("piece 1;piece 2;piece 3;piece 4;", r.body)
  end)

  it("works from loop tasks, several at once", function()
    if not base then return end
    local results = {}
    loop.run(function()
      local tasks = {}
      for i = 1, 4 do
        tasks[i] = loop.spawn(function()
          return assert(get("/hello.txt")).body
        end)
      end
      for i = 1, 4 do results[i] = tasks[i]:join() end
    end)
    for i = 1, 4 do assert.are.equal("hello from nginx\n", results[i]) end
  end)

  it("returns a clean error once nginx is gone", function()
    if not base then return end
    ng:stop()
    local r, _, code = get("/hello.txt")
    assert.is_nil(r)
    assert.are.equal("ECONNREFUSED", code)
    assert.are.equal(0, pool:idle_count())
  end)
end)
