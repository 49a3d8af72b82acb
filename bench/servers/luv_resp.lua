-- The same naive RESP server on luv (libuv): one uv.write per reply,
-- the input parsed from a buffer on each read callback.
-- Usage: lua5.4 bench/servers/luv_resp.lua [PORT]
local uv = require "luv"

local store = {}
local tonumber, upper, sub, find = tonumber, string.upper, string.sub, string.find

-- One command from buf at pos: args and the position after it, or nil
-- when it has not all come.
local function parse(buf, pos)
  local e = find(buf, "\r\n", pos, true)
  if not e then return nil end
  local line = sub(buf, pos, e - 1)
  pos = e + 2
  if sub(line, 1, 1) ~= "*" then
    local args = {}
    for w in line:gmatch("%S+") do args[#args + 1] = w end
    return args, pos
  end
  local n = tonumber(sub(line, 2))
  local args = {}
  for i = 1, n do
    e = find(buf, "\r\n", pos, true)
    if not e then return nil end
    local len = tonumber(sub(buf, pos + 1, e - 1))
    pos = e + 2
    if #buf < pos + len + 1 then return nil end
    args[i] = sub(buf, pos, pos + len - 1)
    pos = pos + len + 2
  end
  return args, pos
end

local function reply(c, args)
  local cmd = upper(args[1] or "")
  if cmd == "PING" then
    c:write("+PONG\r\n")
  elseif cmd == "SET" then
    store[args[2]] = args[3]
    c:write("+OK\r\n")
  elseif cmd == "GET" then
    local v = store[args[2]]
    if v then c:write({"$", tostring(#v), "\r\n", v, "\r\n"}) else c:write("$-1\r\n") end
  elseif cmd == "INCR" then
    local v = (tonumber(store[args[2]]) or 0) + 1
    store[args[2]] = tostring(v)
    c:write(":" .. v .. "\r\n")
  elseif cmd == "DEL" then
    local had = store[args[2]] ~= nil
    store[args[2]] = nil
    c:write(had and ":1\r\n" or ":0\r\n")
  elseif cmd == "ECHO" then
    c:write({"$", tostring(#args[2]), "\r\n", args[2], "\r\n"})
  elseif cmd == "CONFIG" then
    c:write("*0\r\n")
  else
    c:write("-ERR unknown command '" .. tostring(args[1]) .. "'\r\n")
  end
end

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", tonumber(arg[1]) or 0))
assert(server:listen(1024, function()
  local c = uv.new_tcp()
  server:accept(c)
  c:nodelay(true)
  local buf = ""
  c:read_start(function(err, data)
    if err or not data then c:close() return end
    buf = buf .. data
    local pos = 1
    while true do
      local args, nxt = parse(buf, pos)
      if not args then break end
      reply(c, args)
      pos = nxt
    end
    buf = sub(buf, pos)
  end)
end))
local addr = server:getsockname()
print(("listening on %s:%d"):format(addr.ip, addr.port))
io.stdout:flush()
uv.run()
