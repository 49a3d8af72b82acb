#!/usr/bin/env lua5.4
-- A multiplayer game's state relay over UDP. Players send datagrams to the
-- relay; the relay keeps who is in which lobby and fans every position
-- update out to the other players of that lobby.
--   JOIN lobby name     -> "WELCOME name n" to the player, "JOINED name" to the others
--   POS x y             -> "POS name x y" to the others in the lobby
--   LEAVE               -> "LEFT name" to the others
-- Usage: lua5.4 examples/game_lobby.lua    (a relay and three simulated players,
--                                           a few ticks, then the state each saw)
--        lua5.4 examples/game_lobby.lua --serve [--host H] [--port N]
local lunasock = require "lunasock"
local loop = require "lunasock.loop"

local function relay(sock)
  local players = {}   -- "host:port" -> {name, lobby, host, port}
  local function others(p, text)
    for _, q in pairs(players) do
      if q ~= p and q.lobby == p.lobby then sock:sendto(text, q.host, q.port) end
    end
  end
  while true do
    local data, host, port = sock:recvfrom(512)
    if not data then return end          -- closed
    local key = host .. ":" .. port
    local p = players[key]
    local lobby, name = data:match("^JOIN (%w+) (%w+)$")
    if lobby then
      p = {name = name, lobby = lobby, host = host, port = port}
      players[key] = p
      local n = 0
      for _, q in pairs(players) do if q.lobby == lobby then n = n + 1 end end
      sock:sendto(("WELCOME %s %d"):format(name, n), host, port)
      others(p, "JOINED " .. name)
    elseif p and data:match("^POS %-?%d+ %-?%d+$") then
      others(p, "POS " .. p.name .. data:sub(4))
    elseif p and data == "LEAVE" then
      others(p, "LEFT " .. p.name)
      players[key] = nil
    end                                   -- anything else: dropped, as UDP would
  end
end

local opt = {host = "127.0.0.1", port = 0}
for i = 1, #arg do if arg[i]:find("^%-%-") then opt[arg[i]:sub(3)] = arg[i + 1] or true end end
local sock = assert(lunasock.udp.bind(opt.host, tonumber(opt.port) or 0))
local host, port = sock:getsockname()
loop.spawn(relay, sock)
if opt.serve then
  print(("listening on %s:%d"):format(host, port))
  io.stdout:flush()
  return loop.run()
end

-- Three players: each joins, moves for a few ticks, and records what the
-- others' updates say; the third joins another lobby and sees nobody.
local function player(name, lobby, moves)
  local s = assert(lunasock.udp.connect(host, port))
  s:settimeout(2)
  s:send(("JOIN %s %s"):format(lobby, name))
  local seen, welcome = {}, s:recv(512)
  local listener = loop.spawn(function()
    while true do
      local msg = s:recv(512)
      if not msg or msg == "" then return end
      local who, x, y = msg:match("^POS (%w+) (%-?%d+) (%-?%d+)$")
      if who then seen[who] = x .. "," .. y
      elseif msg:match("^JOINED") or msg:match("^LEFT") then seen[#seen + 1] = msg end
      if msg == "LEFT bob" then return end
    end
  end)
  for tick, m in ipairs(moves) do
    loop.sleep(0.02)
    s:send(("POS %d %d"):format(m[1], m[2]))
    if tick == #moves and name == "bob" then s:send("LEAVE") end
  end
  loop.sleep(0.3)                       -- let the last updates arrive
  listener:cancel()
  s:close()
  return welcome, seen
end

loop.run(function()
  print(("relay on %s:%d"):format(host, port))
  local plan = {
    {"alice", "red", {{0, 0}, {1, 0}, {2, 1}}},
    {"bob", "red", {{9, 9}, {8, 9}, {8, 8}}},
    {"carol", "blue", {{5, 5}, {5, 6}, {5, 7}}},
  }
  local tasks = {}
  for i, p in ipairs(plan) do
    tasks[i] = loop.spawn(player, p[1], p[2], p[3])
    loop.sleep(0.01)                    -- join in order
  end
  for i, t in ipairs(tasks) do
    local welcome, seen = t:join()
    local pos = {}
    for who, xy in pairs(seen) do
      if type(who) == "string" then pos[#pos + 1] = who .. "@" .. xy end
    end
    table.sort(pos)
    print(("%-5s (%s lobby): %s; last positions seen: %s; events: %s"):format(
      plan[i][1], plan[i][2], welcome, #pos > 0 and table.concat(pos, " ") or "none",
      #seen > 0 and table.concat(seen, ", ") or "none"))
  end
  sock:close()
end)
