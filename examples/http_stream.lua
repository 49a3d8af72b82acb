#!/usr/bin/env lua5.4
-- A streaming HTTP response: GET /count?n=N&delay=S sends N lines, one
-- every S seconds, as a chunked body (no Content-Length is known up
-- front), each line written as soon as it is made.
--
-- Usage: lua5.4 examples/http_stream.lua [--host HOST] [--port PORT] [--selftest]
--   then: curl -N http://HOST:PORT/count?n=5&delay=0.5
-- --selftest fetches /count?n=3 over loopback, checks the chunks and exits.
local http = require "lunasock.http"
local loop = require "lunasock.loop"
local lunasock = require "lunasock"

local opts = {host = "127.0.0.1", port = 0}
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--host" then opts.host, i = arg[i + 1], i + 1
  elseif a == "--port" and math.tointeger(tonumber(arg[i + 1])) then
    opts.port, i = math.tointeger(tonumber(arg[i + 1])), i + 1
  elseif a == "--selftest" then opts.selftest = true
  else io.stderr:write("usage: http_stream.lua [--host HOST] [--port PORT] [--selftest]\n")
    os.exit(2)
  end
  i = i + 1
end

local app = http.router()
app:get("/count", function(req)
  local n = math.tointeger(tonumber(req.query.n)) or 10
  local delay = tonumber(req.query.delay) or 0.2
  if n < 0 or n > 10000 or delay < 0 or delay > 10 then return 400, nil, "bad n or delay\n" end
  local w = req:respond(200, {["Content-Type"] = "text/plain; charset=utf-8"})
  for k = 1, n do
    if not w:write(("line %d of %d\n"):format(k, n)) then return end  -- client gone
    if k < n then loop.sleep(delay) end
  end
  w:finish()
end)

local server = assert(http.server{host = opts.host, port = opts.port, handler = app})
io.stdout:write(("listening on %s:%d\n"):format(server.host, server.port))
io.stdout:flush()

if opts.selftest then
  loop.spawn(function()
    local stream = require "lunasock.stream"
    local s <close> = assert(lunasock.tcp.connect(server.host, server.port, {timeout = 5}))
    local st = stream.new(s)
    assert(st:write("GET /count?n=3&delay=0.01 HTTP/1.1\r\nHost: x\r\n\r\n"))
    local head = assert(st:readuntil("\r\n\r\n"))
    local chunked = head:lower():find("transfer-encoding: chunked", 1, true) ~= nil
    local r = http.body.chunked(st)
    local got = assert(http.body.readall(r))
    local ok = chunked and got == "line 1 of 3\nline 2 of 3\nline 3 of 3\n"
    print((ok and "ok   " or "FAIL ") .. "GET /count?n=3 -> chunked " .. #got .. " bytes")
    server:close()
    if not ok then os.exit(1) end
  end)
end
loop.run()
