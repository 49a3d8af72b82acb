#!/usr/bin/env lua5.4
-- A small HTTP server through the router: GET / -> "hello world",
-- POST /echo -> the request body, GET /hello/:name -> "hello NAME".
--
-- Usage: lua5.4 examples/http_server.lua [--host HOST] [--port PORT]
--                                        [--access-log] [--selftest]
-- Port 0 (the default) picks a free port; the line "listening on
-- HOST:PORT" tells which. --selftest starts it, makes one request of each
-- kind over loopback, prints what passed and exits.
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
  elseif a == "--access-log" then opts.access_log = true
  elseif a == "--selftest" then opts.selftest = true
  else
    io.stderr:write("usage: http_server.lua [--host HOST] [--port PORT] [--access-log]"
                    .. " [--selftest]\n")
    os.exit(2)
  end
  i = i + 1
end

local app = http.router()
app:get("/", function() return 200, nil, "hello world" end)
app:post("/echo", function(req)
  local body, err, code = req:read_body()
  if not body then return 400, nil, err .. " (" .. code .. ")\n" end
  return 200, {["Content-Type"] = "application/octet-stream"}, body
end)
app:get("/hello/:name", function(req) return 200, nil, "hello " .. req.params.name end)

local server = assert(http.server{host = opts.host, port = opts.port, handler = app,
                                  access_log = opts.access_log})
io.stdout:write(("listening on %s:%d\n"):format(server.host, server.port))
io.stdout:flush()

if opts.selftest then
  loop.spawn(function()
    local stream = require "lunasock.stream"
    local s <close> = assert(lunasock.tcp.connect(server.host, server.port, {timeout = 5}))
    local st = stream.new(s)
    local ok = true
    local function check(req, want)
      assert(st:write(req))
      local status = st:readline()
      local len
      repeat
        local line = st:readline()
        len = len or tonumber(line:match("^[Cc]ontent%-[Ll]ength: *(%d+)"))
      until line == ""
      local body = st:read(len)
      local pass = body == want
      ok = ok and pass
      print((pass and "ok   " or "FAIL ") .. req:match("^[^\r]*") .. " -> " .. status
            .. " " .. body)
    end
    check("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "hello world")
    check("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", "abcde")
    check("GET /hello/lua HTTP/1.1\r\nHost: x\r\n\r\n", "hello lua")
    server:close()
    if not ok then os.exit(1) end
  end)
end
loop.run()
