-- bench/chat_burst.lua: issue 10's chat check, against `lunasock chat`
-- with its defaults (a child process): N clients x M messages sent in a
-- burst, readers starting 1 s late; prints the share delivered and the
-- time, then keeps one client talking until a client that never reads
-- ("mute") is dropped, and prints how it was dropped and when.
-- Usage (from the project root, after make):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/chat_burst.lua [N] [M]
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local core = lunasock.core
local gsub = string.gsub

local N, M = tonumber(arg[1]) or 200, tonumber(arg[2]) or 50

-- the shell prints its pid, then becomes the server: the one process
-- this script stops (by that pid)
local p = assert(io.popen("echo $$; exec " .. (arg[-1] or "lua5.4") .. " bin/lunasock chat"))
local pid = assert(tonumber(p:read("l")))
local port = assert(tonumber(p:read("l"):match(":(%d+)$")))
local t0 = core.monotime()

-- messages in data: lines starting "<c" (prev: the last bytes before it)
local function count(prev, data)
  local s = prev .. data
  return select(2, gsub(s, "\n<c", "")) - (prev == "\n<c" and 1 or 0), s:sub(-3)
end

loop.run(function()
  local socks = {}
  local function join(nick)
    local c = assert(lunasock.tcp.connect("127.0.0.1", port, {timeout = 30}))
    assert(c:send(nick .. "\n"))
    return c
  end
  local mute = join("mute")
  for i = 1, N do socks[i] = join("c" .. i) end
  -- everyone is in once the last one hears "you are cN"
  local buf = ""
  while not buf:find("you are c" .. N, 1, true) do buf = buf .. assert(socks[N]:recv(65536)) end
  local primed = {[N] = buf:sub(-3)}
  for i = 1, N do
    local lines = {}
    for j = 1, M do lines[j] = ("c%d says %d\n"):format(i, j) end
    assert(socks[i]:send(table.concat(lines)))
  end
  loop.sleep(1)   -- readers start 1 s late
  local readers = {}
  for i = 1, N do
    readers[i] = loop.spawn(function()
      local sock, got, prev = socks[i], 0, primed[i] or ""
      while got < M * (N - 1) do
        local data = sock:recv(65536)
        if not data or data == "" then break end
        local k
        k, prev = count(prev, data)
        got = got + k
      end
      return got
    end)
  end
  local total, full = 0, 0
  for i = 1, N do
    local g = readers[i]:join()
    total = total + g
    if g == M * (N - 1) then full = full + 1 end
  end
  print(("%d clients x %d messages, readers 1 s late: delivered %d of %d (%.1f%%), "
         .. "%d clients complete, %.1f s"):format(N, M, total, N * M * (N - 1),
         100 * total / (N * M * (N - 1)), full, core.monotime() - t0))
  -- more traffic until mute is dropped; the others read it all
  local t1, seen, tail = core.monotime(), false, ""
  loop.spawn(function()
    for k = 1, 100000 do
      if seen then return end
      socks[2]:send(("more %d %s\n"):format(k, ("y"):rep(100)))
      loop.sleep(0.001)
    end
  end)
  for i = 3, N do
    loop.spawn(function()
      while not seen do if not socks[i]:recv(65536) then return end end
    end)
  end
  while not seen do
    local d = socks[1]:recv(65536)
    if not d then break end
    tail = (tail .. d):sub(-200)
    seen = tail:match("mute left[^\r\n]*") or false
  end
  print(("a client that never reads: '%s' after %.1f s of more traffic")
        :format(tostring(seen), core.monotime() - t1))
  for _, s in ipairs(socks) do s:close() end
  mute:close()
end)
os.execute("kill -INT " .. pid)
p:close()
