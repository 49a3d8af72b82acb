-- bench/stream_worst.lua: a lunasock.stream's own CPU for one SIZE-byte
-- read(n) and one SIZE-byte readuntil when every recv returns ONE byte
-- (the worst case a trickling peer can force: a socket stand-in hands out
-- the bytes, so only the stream's work is measured). STREAM=old: the
-- stream module of f16ccd2, which copied the whole buffer on every recv.
-- Usage: LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--          lua5.4 bench/stream_worst.lua [SIZE...]   (default 65536 262144 1048576)
local stream, which = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/util.lua").stream()

local function trickle(data)
  local i = 0
  return {recv = function()
    if i >= #data then return "" end
    i = i + 1
    return data:sub(i, i)
  end}
end

local sizes = {}
for i = 1, #arg do sizes[i] = tonumber(arg[i]) end
if #sizes == 0 then sizes = {65536, 262144, 1048576} end
for _, size in ipairs(sizes) do
  local data = ("x"):rep(size)
  local st = stream.new(trickle(data), {max_line = size + 8})
  local t0 = os.clock()
  assert(#st:read(size) == size)
  local t1 = os.clock()
  st = stream.new(trickle(data .. "\r\n\r\n"), {max_line = size + 8})
  local t2 = os.clock()
  assert(#st:readuntil("\r\n\r\n") == size)
  local t3 = os.clock()
  print(("| %s | %d | %.3f s | %.3f s |"):format(
    which, size, t1 - t0, t3 - t2))
end
