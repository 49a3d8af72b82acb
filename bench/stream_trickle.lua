-- bench/stream_trickle.lua: the CPU a lunasock.stream spends receiving one
-- SIZE-byte frame (read(SIZE), then readuntil of a SIZE-byte line) from a
-- peer that sends one byte per segment (TCP_NODELAY, one send per byte),
-- issue 11 #2. The sender is a child process; the figure is this
-- process's CPU time (os.clock) for the read, and the recvs it took.
-- STREAM=old runs the same against the stream module of git revision
-- f16ccd2 (before: every recv copied the whole buffer).
-- Usage (from the project root, after make):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/stream_trickle.lua [SIZE]        (default 1048576)
local lunasock = require "lunasock"
local core = lunasock.core

local SIZE = tonumber(arg[1]) or 1048576
local stream, which = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/util.lua").stream()

local l = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = 10}))
local _, port = l:getsockname()

-- the sender: connects, sends "x" * SIZE then "\n", one byte per send
local sender = ([[
local core = require "lunasock.core"
local s = assert(core.socket("inet", "stream"))
assert(s:connect("127.0.0.1", %d))
s:setopt("nodelay", true)
for _ = 1, 2 do
  for _ = 1, %d do assert(s:send("x") == 1) end
  assert(s:send("\n"))
end
s:close()
]]):format(port, SIZE)
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write(sender)
f:close()
local child = assert(io.popen(("%s %s"):format(arg[-1] or "lua5.4", path)))

local c = assert(l:accept())
c:settimeout(60)
local recvs = 0
local recv = c.recv
local counting = setmetatable({}, {__index = function(_, k)
  if k == "recv" then
    return function(_, n) recvs = recvs + 1 return recv(c, n) end
  end
  local v = c[k]
  if type(v) == "function" then return function(_, ...) return v(c, ...) end end
  return v
end})
local st = stream.new(counting, {max_line = SIZE + 1})

local t0 = os.clock()
local data = assert(st:read(SIZE + 1))
local t1 = os.clock()
local r1 = recvs
local line = assert(st:readuntil("\n"))
local t2 = os.clock()
assert(#data == SIZE + 1 and #line == SIZE)
child:close()
os.remove(path)
print(("| %s | %d | read(n): %.3f s CPU, %d recvs | readuntil: %.3f s CPU, %d recvs |")
      :format(which, SIZE,
              t1 - t0, r1, t2 - t1, recvs - r1))
