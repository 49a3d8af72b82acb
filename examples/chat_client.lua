#!/usr/bin/env lua5.4
-- A chat client for lunasock.chat (or any line-based chat): what you type
-- goes to the server, what the server sends is printed as it comes.
--
-- Usage: lua5.4 examples/chat_client.lua HOST PORT [NICK]
--          (NICK, when given, is sent as the first line)
--        lua5.4 examples/chat_client.lua
--          (no arguments: starts lunasock.chat in-process on 127.0.0.1,
--          port 0, and plays a short conversation between two users)
-- It ends, with status 0, at the end of stdin (Ctrl-D: the server then
-- says goodbye and closes) or when the server closes the connection.
--
-- Two loop tasks share the work: one reads the socket and prints, one
-- reads stdin and sends. stdin is a terminal or a pipe, which core
-- sockets cannot read, so that task waits for fd 0 to become readable
-- through the loop (a loop task yields a descriptor and a direction to
-- wait on it, as socket calls do) and then takes the bytes that are there
-- from the unbuffered io.stdin, one read(2) at a time for as long as a
-- private poller says more are ready: it never blocks the loop.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local chat = require "lunasock.chat"

local core = lunasock.core
local TIMEOUT = 5

-- Returns a function giving the next line of stdin (without its end), or
-- nil at EOF; and a cleanup function.
local function stdin_lines()
  local sock = core.fromfd(0)
  if sock then                                   -- a socket on stdin
    local s = stream.new(sock)
    return function() return (s:readline()) end, function() sock:close() end
  end
  local ready = core.poller()
  if not ready:add(0, "r") then                  -- a regular file: never blocks
    ready:close()
    return function() return io.stdin:read("l") end, function() end
  end
  io.stdin:setvbuf("no")
  local parts, eof = {}, false
  local function next_line()
    if eof then return nil end
    local n = 0
    while true do
      coroutine.yield(0, core.POLLIN)            -- until fd 0 is readable
      repeat
        local c = io.stdin:read(1)
        if c == nil then                         -- EOF: a last line without end
          eof = true
          if n == 0 then return nil end
          return (table.concat(parts, "", 1, n):gsub("\r$", ""))
        end
        if c == "\n" then
          local line = table.concat(parts, "", 1, n)
          return (line:gsub("\r$", ""))
        end
        n = n + 1
        parts[n] = c
      until select(3, ready:wait(0)) == 0
    end
  end
  return next_line, function() ready:close() end
end

-- Connects to host, port and copies both ways until either side ends.
local function interactive(host, port, nick)
  local sock, err = lunasock.tcp.connect(host, port, {timeout = TIMEOUT})
  if not sock then return nil, ("%s port %s: %s"):format(host, port, err) end
  sock:settimeout(nil)
  local s <close> = stream.new(sock)
  if nick then assert(s:write(nick, "\r\n")) end
  local next_line, cleanup = stdin_lines()
  local typing = loop.spawn(function()
    while true do
      local line = next_line()
      if not line then break end
      if not s:write(line, "\r\n") then break end
    end
    -- end of input: the server sees EOF, says goodbye and closes
    if core.type(sock) == "socket" then sock:shutdown("w") end
  end)
  local reason
  while true do
    local line, rerr, code = s:readline()
    if not line then
      if code ~= "EOF" then reason = rerr end
      break
    end
    io.stdout:write(line, "\n")
    io.stdout:flush()
  end
  typing:cancel()
  cleanup()
  if reason then return nil, reason end
  return true
end

-- The demo: two users on an in-process server, each line they receive
-- printed with their name.
local function demo()
  local server = assert(chat.serve{host = "127.0.0.1", port = 0})
  print(("started lunasock.chat on %s:%d"):format(server.host, server.port))
  local function user(nick)
    local sock = assert(lunasock.tcp.connect(server.host, server.port, {timeout = TIMEOUT}))
    local u = {nick = nick, s = stream.new(sock)}
    function u.say(line)
      print(("%-5s > %s"):format(nick, line))
      assert(u.s:write(line, "\r\n"))
    end
    function u.upto(want)             -- prints lines until want (a pattern)
      while true do
        local line = assert(u.s:readline())
        print(("%-5s < %s"):format(nick, line))
        if line:find(want) then return line end
      end
    end
    return u
  end
  local alice = user("alice")
  alice.upto("choose a nickname")
  alice.say("alice")
  alice.upto("users? in lobby")
  local bob = user("bob")
  bob.upto("choose a nickname")
  bob.say("Alice")                    -- taken (nicknames ignore case)
  bob.upto("choose a nickname")
  bob.say("bob")
  bob.upto("users? in lobby")
  alice.upto("bob joined")
  alice.say("hi bob, welcome")
  bob.upto("^<alice> hi bob")
  bob.say("/me waves")
  alice.upto("^%* bob waves")
  bob.say("/msg alice psst, only you see this")
  bob.upto("^%-> %*alice%*")
  alice.upto("^%*bob%* psst")
  alice.say("/who")
  alice.upto("^%*%*%* 2 users")
  bob.say("/nick robert")
  bob.upto("you are now robert")
  alice.upto("bob is now known as robert")
  bob.say("/quit time to go")
  bob.upto("^%*%*%* bye")
  alice.upto("robert left")
  bob.s:close()
  alice.s:close()
  server:close()
  print("conversation over")
  return true
end

local args = {...}
local ok, err
if args[1] then
  local host, port, nick = args[1], tonumber(args[2]), args[3]
  if not port then
    io.stderr:write("usage: chat_client.lua HOST PORT [NICK]\n")
    os.exit(2)
  end
  ok, err = loop.run(interactive, host, port, nick)
else
  ok, err = loop.run(demo)
end
if not ok then
  io.stderr:write("chat_client: ", tostring(err), "\n")
  os.exit(1)
end
