#!/usr/bin/env lua5.4
-- Fetches a URL with lunasock.http.client and prints the body as it
-- arrives (nothing is held whole in memory); with -i the status line and
-- header fields come first, as curl -i shows them. Redirects are followed.
--
-- Usage: lua5.4 examples/http_get.lua [URL] [-i] [--timeout SECONDS]
--                                     [--host HOST] [--port PORT]
--   URL is a full URL (http://127.0.0.1:8080/path) or address-bar style
--   (127.0.0.1:8080/path, port 80 by default). With no URL it starts a
--   tiny HTTP server in this process (on --host, default 127.0.0.1, and
--   --port, default 0: a free one, printed as "listening on HOST:PORT"),
--   and fetches "/" from it, which redirects to "/hello".
-- Exits 0 when a response came (whatever its status), 1 on an error.
local client = require "lunasock.http.client"
local loop = require "lunasock.loop"

local target, show_head, timeout = nil, false, 30
local host, port = "127.0.0.1", 0
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "-i" or a == "--include" then
    show_head = true
  elseif a == "--timeout" and tonumber(arg[i + 1]) then
    timeout, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--host" then
    host, i = arg[i + 1], i + 1
  elseif a == "--port" and math.tointeger(tonumber(arg[i + 1])) then
    port, i = math.tointeger(tonumber(arg[i + 1])), i + 1
  elseif a:sub(1, 1) ~= "-" and not target then
    target = a
  else
    io.stderr:write("usage: http_get.lua [URL] [-i] [--timeout SECONDS]",
                    " [--host HOST] [--port PORT]\n")
    os.exit(2)
  end
  i = i + 1
end

-- Fetches u, writing to stdout as the response arrives. true, or nil, msg.
local function fetch(u)
  local out = io.stdout
  local r, err, code = client.get(u, {
    timeout = timeout,
    pool = false,
    on_head = function(head)
      if not show_head then return end
      out:write(("HTTP/%s %d %s\r\n"):format(head.version, head.status, head.reason))
      for _, f in ipairs(head.fields) do out:write(f[1], ": ", f[2], "\r\n") end
      out:write("\r\n")
    end,
    sink = function(piece) out:write(piece) end,
  })
  out:flush()
  if not r then return nil, ("%s (%s)"):format(err, code) end
  return true
end

-- The demo server: "/" redirects to "/hello", which says hello.
local function demo_server()
  local http = require "lunasock.http"
  local srv = assert(http.server{host = host, port = port, handler = function(req)
    if req.path == "/" then return 302, {Location = "/hello"}, "see /hello\n" end
    return 200, {["Content-Type"] = "text/plain"}, "hello from lunasock.http\n"
  end})
  return srv.host, srv.port, function() srv:close() end
end

local ok, err
if target then
  ok, err = fetch(target)
else
  loop.run(function()
    local h, p, close = demo_server()
    io.stdout:write(("listening on %s:%d\n"):format(h, p))
    io.stdout:flush()
    local hp = h:find(":", 1, true) and "[" .. h .. "]" or h
    ok, err = fetch(("http://%s:%d/"):format(hp, p))
    close()
  end)
end
if not ok then
  io.stderr:write("http_get: ", tostring(err), "\n")
  os.exit(1)
end
