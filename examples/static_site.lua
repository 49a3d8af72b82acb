#!/usr/bin/env lua5.4
-- Serves the files under a directory over HTTP: content types, ETag and
-- Last-Modified with If-None-Match / If-Modified-Since, byte ranges (large
-- files go by sendfile), index.html, an optional listing, and no way out
-- of the directory (.., encoded forms, symlinks).
--
-- Usage: lua5.4 examples/static_site.lua [--root DIR] [--listing]
--                                        [--host HOST] [--port PORT] [--selftest]
-- DIR defaults to the current directory. --selftest serves a temporary
-- directory, fetches a file, a range and a traversal attempt, and exits.
local http = require "lunasock.http"
local loop = require "lunasock.loop"
local lunasock = require "lunasock"

local opts = {host = "127.0.0.1", port = 0, root = "."}
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--host" then opts.host, i = arg[i + 1], i + 1
  elseif a == "--port" and math.tointeger(tonumber(arg[i + 1])) then
    opts.port, i = math.tointeger(tonumber(arg[i + 1])), i + 1
  elseif a == "--root" then opts.root, i = arg[i + 1], i + 1
  elseif a == "--listing" then opts.listing = true
  elseif a == "--selftest" then opts.selftest = true
  else
    io.stderr:write("usage: static_site.lua [--root DIR] [--listing] [--host HOST] [--port PORT]"
                    .. " [--selftest]\n")
    os.exit(2)
  end
  i = i + 1
end

local tmp
if opts.selftest then
  tmp = os.tmpname()
  os.remove(tmp)
  assert(os.execute("mkdir -m 700 " .. tmp))
  local f = assert(io.open(tmp .. "/hello.txt", "w"))
  f:write("hello static\n")
  f:close()
  opts.root = tmp
end

local server = assert(http.server{host = opts.host, port = opts.port, root = opts.root,
                                  listing = opts.listing})
io.stdout:write(("listening on %s:%d\n"):format(server.host, server.port))
io.stdout:flush()

if opts.selftest then
  loop.spawn(function()
    local stream = require "lunasock.stream"
    local ok = true
    local function get(path, extra, want_status, want_body)
      local s <close> = assert(lunasock.tcp.connect(server.host, server.port, {timeout = 5}))
      local st = stream.new(s)
      assert(st:write("GET " .. path .. " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      .. (extra or "") .. "\r\n"))
      local head = assert(st:readuntil("\r\n\r\n"))
      local status = tonumber(head:match("^HTTP/1%.1 (%d+)"))
      local body = st:readall()
      local pass = status == want_status and (want_body == nil or body == want_body)
      ok = ok and pass
      print((pass and "ok   " or "FAIL ") .. "GET " .. path .. " -> " .. status)
    end
    get("/hello.txt", nil, 200, "hello static\n")
    get("/hello.txt", "Range: bytes=0-4\r\n", 206, "hello")
    get("/%2e%2e/%2e%2e/etc/passwd", nil, 403)
    server:close()
    os.execute("rm -rf '" .. tmp .. "'")
    if not ok then os.exit(1) end
  end)
end
loop.run()
