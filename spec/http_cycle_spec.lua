-- The HTTP server's common cycle in C (core.http_parser's second closure,
-- csrc/http_cycle.c): reads, handler calls and fast answers without the
-- Lua loop, and everything it hands back to it.
local helper = require "helper"
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local http = require "lunasock.http"

local with_server, connect = helper.with_http_server, helper.http_connect

-- The next whole response on st: status, fields by lower-case name, the
-- raw bytes of head and body.
local function response_of(st, head_request)
  local lines = {}
  local line = assert(st:readline())
  lines[1] = line
  local fields = {}
  repeat
    line = assert(st:readline())
    lines[#lines + 1] = line
    local k, v = line:match("^([^:]+): (.*)$")
    if k then fields[k:lower()] = v end
  until line == ""
  local n = head_request and 0 or tonumber(fields["content-length"] or 0)
  local b = n > 0 and assert(st:read(n)) or ""
  return tonumber(lines[1]:match("^HTTP/1%.%d (%d+)")), fields,
         table.concat(lines, "\r\n") .. "\r\n" .. b, b
end

local function ask(st, path, extra)
  assert(st:write("GET " .. path .. " HTTP/1.1\r\nHost: x\r\n" .. (extra or "") .. "\r\n"))
  return response_of(st)
end

describe("lunasock.http.server's cycle", function()
  it("answers the common request with the Lua loop's bytes, its request lean", function()
    local seen = {}
    local function handler(req)
      seen[#seen + 1] = {rawget(req, "version"), req.version, req.keep_alive, req.method,
                         req.path, req.target}
      return 200, nil, "hello world"
    end
    local raw = {}
    -- an access log turns the cycle off: the same answer from the Lua loop
    for i, opts in ipairs{{handler = handler}, {handler = handler, access_log = function() end}} do
      with_server(opts, function(srv)
        local _s <close>, st = connect(srv)
        local status, fields, bytes = ask(st, "/a")
        assert.are.equal(200, status)
        raw[i] = bytes:gsub("\r\nDate: [^\r]*", "\r\nDate: -")
        assert.are.equal("11", fields["content-length"])
      end)
    end
    assert.are.equal(raw[2], raw[1])
    assert.are.same({nil, "1.1", true, "GET", "/a", "/a"}, seen[1])
    assert.are.same({"1.1", "1.1", true, "GET", "/a", "/a"}, seen[2])
  end)

  it("hands HEAD, HTTP/1.0, header fields and other bodies to the Lua loop", function()
    local function handler(req)
      if req.path == "/h" then return 201, {["Content-Type"] = "application/json"}, "{}" end
      if req.path == "/t" then return {status = 202, body = "table"} end
      if req.path == "/f" then
        local i = 0
        return 200, nil, function() i = i + 1; return i <= 2 and "ab" or nil end
      end
      return 200, nil, "plain"
    end
    with_server({handler = handler}, function(srv)
      local _s <close>, st = connect(srv)
      assert(st:write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"))
      local status, fields, _, b = response_of(st, true)
      assert.are.same({200, "5", ""}, {status, fields["content-length"], b})
      status, fields, _, b = ask(st, "/h")
      assert.are.same({201, "application/json", "{}"}, {status, fields["content-type"], b})
      status, _, _, b = ask(st, "/t")
      assert.are.same({202, "table"}, {status, b})
      assert(st:write("GET /f HTTP/1.1\r\nHost: x\r\n\r\n"))
      local line = assert(st:readline())
      assert.matches("^HTTP/1.1 200", line)
      local head = {}
      repeat line = assert(st:readline()); head[#head + 1] = line until line == ""
      assert.matches("Transfer%-Encoding: chunked", table.concat(head, "\n"))
      assert.are.equal("abab", assert(require("lunasock.http.body").readall(
        require("lunasock.http.body").chunked(st))))
      status, _, _, b = ask(st, "/")
      assert.are.same({200, "plain"}, {status, b})
      assert(st:write("GET / HTTP/1.0\r\nHost: x\r\n\r\n"))
      status, fields, _, b = response_of(st)
      assert.are.same({200, "plain", "close"}, {status, b, fields["connection"]})
      assert.is_nil(st:read(1))                   -- a 1.0 request: then EOF
    end)
  end)

  it("answers requests whose handler waits, one after another", function()
    local function handler(req)
      loop.sleep(0.001)
      return 200, nil, "slept " .. req.path
    end
    with_server({handler = handler}, function(srv)
      local _s <close>, st = connect(srv)
      for i = 1, 5 do
        local status, _, _, b = ask(st, "/" .. i)
        assert.are.same({200, "slept /" .. i}, {status, b})
      end
    end)
  end)

  it("answers a handler's error with 500 and closes, the next connection served", function()
    local errors = {}
    local function handler(req)
      if req.path == "/boom" then error("boom in the handler") end
      if req.path == "/late" then
        loop.sleep(0.001)            -- raised after a wait: the cycle was suspended
        error({"not a string"})
      end
      return 200, nil, "fine"
    end
    with_server({handler = handler, on_error = function(m) errors[#errors + 1] = m end},
                function(srv)
      local s <close>, st = connect(srv)
      assert.are.equal(200, (ask(st, "/")))
      local status, fields = ask(st, "/boom")
      assert.are.equal(500, status)
      assert.are.equal("close", fields["connection"])
      assert.are.equal("", s:recv(1))            -- EOF
      local s2 <close>, st2 = connect(srv)
      assert.are.equal(200, (ask(st2, "/")))
      status, fields = ask(st2, "/late")
      assert.are.same({500, "close"}, {status, fields["connection"]})
      assert.are.equal("", s2:recv(1))
      local _s3 <close>, st3 = connect(srv)
      assert.are.equal(200, (ask(st3, "/")))
    end)
    assert.are.equal(2, #errors)
    assert.matches("boom in the handler", errors[1])
    assert.matches("traceback", errors[1])
    assert.matches("table: 0x", errors[2])
    assert.matches("traceback", errors[2])
  end)

  it("ends quietly when a handler closes the server (and with it the connection)", function()
    local srv_of
    local function handler(req)
      if req.path == "/close" then srv_of:close() end
      return 200, nil, "bye"
    end
    local reports = helper.reports(helper.run_task, function()
      local srv = assert(http.server{handler = handler})
      srv_of = srv
      local s <close>, st = connect(srv)
      assert.are.equal(200, (ask(st, "/")))
      assert(st:write("GET /close HTTP/1.1\r\nHost: x\r\n\r\n"))
      -- server:close() closes every connection, this one too: the answer
      -- may be lost, never the end
      local data = s:recv(4096)
      while data and data ~= "" do data = s:recv(4096) end
      assert.is_true(data == "" or data == nil)
    end)
    assert.are.same({}, reports)
  end)

  it("answers pipelined requests in order", function()
    with_server({handler = function(req) return 200, nil, req.path end}, function(srv)
      local _s <close>, st = connect(srv)
      local all = {}
      for i = 1, 20 do all[i] = "GET /p" .. i .. " HTTP/1.1\r\nHost: x\r\n\r\n" end
      assert(st:write(table.concat(all)))
      for i = 1, 20 do
        local status, _, _, b = response_of(st)
        assert.are.same({200, "/p" .. i}, {status, b})
      end
      local status, _, _, b = ask(st, "/after")
      assert.are.same({200, "/after"}, {status, b})
    end)
  end)

  it("sends what one send left of a large answer through the stream", function()
    local big = ("0123456789abcdef"):rep(512 * 1024)     -- 8 MiB: more than a socket holds
    with_server({handler = function(req) return 200, nil, req.path == "/big" and big or "s" end},
                function(srv)
      local s = assert(core.socket("inet", "stream"))
      s:setopt("rcvbuf", 4096)
      s:settimeout(helper.TIMEOUT)
      assert(s:connect("127.0.0.1", srv.port))
      local _c <close> = s
      local st = require("lunasock.stream").new(s)
      local status, _, _, b = ask(st, "/big")
      assert.are.equal(200, status)
      assert.is_true(b == big, "the body differs")
      status, _, _, b = ask(st, "/small")
      assert.are.same({200, "s"}, {status, b})
    end)
  end)

  it("keeps its answers per body string, for the current Server value", function()
    local response = require "lunasock.http.response"
    local n = 0
    local function handler(req)
      -- a new string each time (long: not interned), and a constant one
      if req.path == "/new" then
        n = n + 1
        return 200, nil, ("x"):rep(50) .. n
      end
      return 404, nil, "same\n"
    end
    with_server({handler = handler}, function(srv)
      local _s <close>, st = connect(srv)
      for i = 1, 3 do
        local status, _, _, b = ask(st, "/new")
        assert.are.same({200, ("x"):rep(50) .. i}, {status, b})
        local st2, fields, _, b2 = ask(st, "/other")
        assert.are.same({404, "same\n", "lunasock"}, {st2, b2, fields.server})
      end
      local old = response.SERVER
      response.SERVER = "changed/1"
      local ok, err = pcall(function()
        local _, fields = ask(st, "/other")
        assert.are.equal("changed/1", fields.server)
      end)
      response.SERVER = old
      assert(ok, err)
      local _, fields = ask(st, "/other")
      assert.are.equal("lunasock", fields.server)
    end)
  end)

  it("reads each request's own fields, heads repeated or not, on any connection", function()
    local kept = {}
    local function handler(req)
      kept[#kept + 1] = req      -- kept past its response: its fields stay its own
      return 200, nil, req.headers["x-a"] .. "," .. req.headers.host
    end
    with_server({handler = handler}, function(srv)
      local _a <close>, a = connect(srv)
      local _b <close>, b = connect(srv)
      local want = {}
      for i = 1, 12 do
        local st = i % 3 == 0 and b or a
        local v = tostring(i % 2)
        local status, _, _, body = ask(st, "/", "X-A: " .. v .. "\r\n")
        want[i] = v .. ",x"
        assert.are.same({200, want[i]}, {status, body})
      end
      for i, req in ipairs(kept) do
        assert.are.equal(want[i], req.headers["x-a"] .. "," .. req.headers.host, i)
      end
    end)
  end)

  it("is made in a coroutine's small stack as well (regression: a stack overflow)", function()
    local response = require "lunasock.http.response"
    local request = require "lunasock.http.request"
    for _ = 1, 50 do
      local co = coroutine.wrap(function()
        local parse, cycle = core.http_parser(8192, 32768, 100, {GET = true}, request.Request,
                                              response.whole, response)
        return type(parse), type(cycle)
      end)
      assert.are.same({"function", "function"}, {co()})
    end
    assert.are.equal(1, select("#", core.http_parser(1, 1, 1, {}, {})))
    -- bad arguments raise, naming them
    assert.has_error(function() core.http_parser(1, 1, 1, {}, {}, 5, {}) end)
    local _, cycle = core.http_parser(1, 1, 1, {}, {}, response.whole, response)
    local s <close> = assert(core.socket("inet", "stream"))
    local ok, err = pcall(cycle, s, {}, print, nil, "not a function", {}, 1)
    assert.is_false(ok)
    assert.matches("bad argument #5", err)
    ok, err = pcall(cycle, {}, {}, print, nil, print, {}, 1)
    assert.is_false(ok)
    assert.matches("bad argument #1", err)
    -- outside a loop task it waits for nothing: request.read's (false)
    assert.is_false(cycle(s, {}, print, nil, print, {}, 1))
  end)

  it("is used by a plain server only: TLS and access logs go through the Lua loop", function()
    local logged = {}
    with_server({handler = function() return 200, nil, "x" end,
                 access_log = function(_, status) logged[#logged + 1] = status end},
                function(srv)
      local _s <close>, st = connect(srv)
      for _ = 1, 3 do assert.are.equal(200, (ask(st, "/"))) end
    end)
    assert.are.same({200, 200, 200}, logged)
  end)
end)
