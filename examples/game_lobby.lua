#!/usr/bin/env lua5.4
-- A multiplayer game's state relay over UDP. Players send datagrams to the
-- relay; it keeps who is in which lobby and fans each position update out
-- to the other players of the same lobby. One datagram per message:
--   JOIN lobby name  -> "WELCOME name n" (n players now in the lobby) to the
--                       player, "JOINED name" to the others in the lobby
--   POS x y          -> "POS name x y" to the others in the lobby
--   LEAVE            -> "LEFT name" to the others in the lobby
--   SYNC n           -> "SYNC n" back: a tick barrier, sent after everything
--                       the relay sent this player before it
-- Usage: lua5.4 examples/game_lobby.lua     (a relay and three simulated
--            players for a few ticks, printing what each player sees)
--        lua5.4 examples/game_lobby.lua --serve [--host H] [--port N]
--            (a relay alone; try: nc -u H N, then JOIN red me, POS 1 2)
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
    if not data then return end            -- the relay socket was closed
    local key = host .. ":" .. port
    local p = players[key]
    data = data:gsub("\r?\n$", "")         -- a datagram typed into nc
    local lobby, name = data:match("^JOIN (%w+) (%w+)$")
    if lobby then
      if p then others(p, "LEFT " .. p.name) end
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
    elseif data:match("^SYNC %d+$") then
      sock:sendto(data, host, port)
    end                                     -- anything else: dropped
  end
end

local args = " " .. table.concat(arg, " ") .. " "
local sock = assert(lunasock.udp.bind(args:match(" %-%-host (%S+) ") or "127.0.0.1",
                                      tonumber(args:match(" %-%-port (%d+) ")) or 0))
local host, port = sock:getsockname()
loop.spawn(relay, sock)
if args:find(" %-%-serve ") then
  print(("listening on %s:%d"):format(host, port))
  io.stdout:flush()
  return loop.run()
end

-- A simulated player: a UDP socket connected to the relay and what the
-- player knows of the others (name -> "x,y").
local Player = {}
Player.__index = Player

function Player.new(name, lobby, path)
  local s = assert(lunasock.udp.connect(host, port, {timeout = 2}))
  return setmetatable({name = name, lobby = lobby, path = path, sock = s,
                       seen = {}, events = {}}, Player)
end

-- Reads what the relay sent until a datagram matching pattern arrives,
-- applying each update on the way.
function Player:pump(pattern)
  while true do
    local msg = assert(self.sock:recv(512))
    local who, xy = msg:match("^POS (%w+) (%-?%d+ %-?%d+)$")
    if who then
      self.seen[who] = xy:gsub(" ", ",", 1)
    elseif msg:match("^JOINED ") or msg:match("^LEFT ") then
      self.events[#self.events + 1] = msg
      local gone = msg:match("^LEFT (%w+)")
      if gone then self.seen[gone] = nil end
    end
    if msg:match(pattern) then return msg end
  end
end

function Player:view()
  local list = {}
  for who, xy in pairs(self.seen) do list[#list + 1] = who .. "@" .. xy end
  table.sort(list)
  return #list > 0 and table.concat(list, " ") or "nobody"
end

loop.run(function()
  print(("relay on %s:%d"):format(host, port))
  local players = {
    Player.new("alice", "red", {{0, 0}, {1, 0}, {2, 1}}),
    Player.new("bob", "red", {{9, 9}, {8, 9}, {8, 8}}),
    Player.new("carol", "blue", {{5, 5}, {5, 6}, {5, 7}}),
  }
  for _, p in ipairs(players) do
    p.sock:send(("JOIN %s %s"):format(p.lobby, p.name))
    print(("%-5s joins lobby %-4s -> %s"):format(p.name, p.lobby, p:pump("^WELCOME ")))
  end
  for tick = 1, #players[1].path do
    for _, p in ipairs(players) do
      local x, y = table.unpack(p.path[tick])
      p.sock:send(("POS %d %d"):format(x, y))
      if p.name == "bob" and tick == 3 then p.sock:send("LEAVE") end
    end
    for _, p in ipairs(players) do
      p.sock:send("SYNC " .. tick)
      p:pump("^SYNC " .. tick .. "$")
    end
    print(("tick %d%s"):format(tick, tick == 3 and " (bob leaves)" or ""))
    for _, p in ipairs(players) do
      print(("  %-5s at %-4s sees %s"):format(p.name, table.concat(p.path[tick], ","),
                                             p:view()))
    end
  end
  for _, p in ipairs(players) do
    print(("%-5s heard: %s"):format(p.name, #p.events > 0 and table.concat(p.events, ", ")
                                              or "nothing"))
    p.sock:close()
  end
  sock:close()
end)
