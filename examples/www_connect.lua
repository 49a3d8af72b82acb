#!/usr/bin/env lua5.4
-- An HTTP GET over a raw core socket, the way a C program does it:
-- getaddrinfo, socket, connect (each address in turn), send the request,
-- recv until EOF. Prints the status line and the headers, then the size
-- of the body (not the body).
--
-- Usage: lua5.4 examples/www_connect.lua [HOST[:PORT] [PATH]]
--   HOST is a name, an IPv4 address or an IPv6 address in brackets
--   ([::1]:8080; a bare ::1 works without a port). PORT defaults to 80,
--   PATH to /. With no arguments the script starts its own tiny HTTP
--   responder on 127.0.0.1 (a task of the event loop, port 0) and fetches
--   from that.
local core = require "lunasock.core"
local loop = require "lunasock.loop"

local TIMEOUT = 10   -- seconds per connect, send or recv

-- "host", "host:port", "[v6]", "[v6]:port", "v6" -> host, port (or nil)
local function parse_target(s)
  s = s:gsub("^%a[%w+.-]*://", "")       -- a pasted URL's scheme
  local path = s:match("^[^/]*(/.*)$")   -- and its path
  s = s:match("^[^/]*")
  local host, port = s:match("^%[(.-)%]:?(%d*)$")
  if not host then
    local colons = select(2, s:gsub(":", ""))
    if colons > 1 then
      host, port = s, ""                  -- a bare IPv6 address
    else
      host, port = s:match("^([^:]*):?(%d*)$")
    end
  end
  if not host or host == "" then return nil end
  return host, tonumber(port), path
end

-- Connects to the first address of host that answers.
local function connect(host, port)
  local addrs, err, code = core.getaddrinfo(host, port, {socktype = core.SOCK_STREAM})
  if not addrs then return nil, err, code end
  for _, ai in ipairs(addrs) do
    local s
    s, err, code = core.socket(ai.family, "stream")
    if s then
      s:settimeout(TIMEOUT)
      local ok
      ok, err, code = s:connect(ai.addr, ai.port)
      if ok then return s, ai end
      io.stderr:write(("www_connect: %s port %d: %s\n"):format(ai.addr, ai.port, err))
      s:close()
    end
  end
  return nil, err or ("no address for " .. host), code
end

-- GET path from host, port: prints the head of the response. Returns
-- true, or nil and a message.
local function fetch(host, port, path)
  local s <close>, ai = connect(host, port)
  if not s then return nil, ai end
  print(("connected to %s port %d (%s)"):format(ai.addr, ai.port, tostring(s)))
  local hosthdr = host:find(":", 1, true) and "[" .. host .. "]" or host
  if port ~= 80 then hosthdr = hosthdr .. ":" .. port end
  local request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lunasock-www_connect\r\n"
                   .. "Accept: */*\r\nConnection: close\r\n\r\n"):format(path, hosthdr)
  local sent = 0
  while sent < #request do
    local n, err = s:send(request:sub(sent + 1))
    if not n then return nil, "send: " .. err end
    sent = sent + n
  end
  local parts = {}
  while true do   -- until EOF: the server closes after the response
    local data, err = s:recv(16384)
    if not data then return nil, "recv: " .. err end
    if data == "" then break end
    parts[#parts + 1] = data
  end
  local response = table.concat(parts)
  local head_end = response:find("\r\n\r\n", 1, true)
  local head = head_end and response:sub(1, head_end - 1) or response
  for line in (head .. "\r\n"):gmatch("(.-)\r?\n") do print(line) end
  print(("(%d bytes in all, body %d bytes)"):format(#response,
        head_end and #response - head_end - 3 or 0))
  if not response:match("^HTTP/%d%.%d %d%d%d") then return nil, "not an HTTP response" end
  return true
end

-- The no-argument demo server: answers one request per connection.
local function respond(c)
  c:settimeout(TIMEOUT)
  local got = ""
  while not got:find("\r\n\r\n", 1, true) do
    local data = c:recv(4096)
    if not data or data == "" then c:close() return end
    got = got .. data
  end
  local body = "hello from the responder in www_connect.lua\n"
  c:send(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
          .. "Server: lunasock-example\r\nConnection: close\r\n\r\n%s"):format(#body, body))
  c:close()
end

local args = {...}
local ok, err
if args[1] then
  local host, port, urlpath = parse_target(args[1])
  if not host then
    io.stderr:write("usage: www_connect.lua [HOST[:PORT] [PATH]]\n")
    os.exit(2)
  end
  ok, err = fetch(host, port or 80, args[2] or urlpath or "/")
else
  ok, err = loop.run(function()
    local l <close> = assert(core.socket("inet", "stream"))
    assert(l:setopt("reuseaddr", true))
    assert(l:bind("127.0.0.1", 0))
    assert(l:listen())
    local host, port = l:getsockname()
    print(("a responder is listening on %s:%d"):format(host, port))
    local server = loop.spawn(function()
      while true do
        local c = l:accept()
        if c then loop.spawn(respond, c) end
      end
    end)
    local fetched, ferr = fetch(host, port, "/")
    server:cancel()
    return fetched, ferr
  end)
end
if not ok then
  io.stderr:write("www_connect: ", tostring(err), "\n")
  os.exit(1)
end
