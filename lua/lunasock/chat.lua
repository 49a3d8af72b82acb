-- lunasock.chat: a line-based chat server that nc, telnet and socat can
-- use, on lunasock.loop.
--
-- Each connection has two loop tasks. The reader reads lines (through
-- lunasock.stream) and acts on them; the writer drains the connection's
-- output queue to the socket. Everything sent to a client -- a broadcast,
-- a notice -- only appends to that client's queue and wakes its writer,
-- so no sender ever waits on a receiver.
--
-- Bursts: when a client's queue passes high_water bytes, the room it is
-- in stops reading from its senders (their readers park) until every
-- queue in the room is back under half of that, so a reader that is
-- behind but reading catches up instead of being dropped. A client that
-- stops reading is dropped (and told why when its socket takes it): by a
-- queue that would pass max_queue bytes, or by stall_timeout seconds
-- without any write progress while it has output queued; the room goes
-- on. SO_SNDBUF (sndbuf, default 64 KiB) bounds what the kernel holds for
-- one client, so memory per client is bounded by max_queue + sndbuf.
-- Telnet commands (IAC sequences, RFC 854) are consumed, never relayed.
--
-- The reader owns the socket: it alone closes it, after the writer has
-- drained what was queued (a bounded wait), except when a connection is
-- dropped at once (queue overflow, a write error, server:close()).
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local check = require "lunasock.check"

local MSG_DONTWAIT = lunasock.core.MSG_DONTWAIT

local find, sub, byte, lower, gsub, match, format = string.find, string.sub,
  string.byte, string.lower, string.gsub, string.match, string.format
local concat, sort = table.concat, table.sort
local error, type, pairs, ipairs, pcall, xpcall, tostring = error, type, pairs,
  ipairs, pcall, xpcall, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local traceback, math_type = debug.traceback, math.type

local M = {}

-- Limits and defaults, overridable here or per server (serve's opts).
M.MAX_LINE = 1024        -- bytes in an input line, without its end
M.MAX_QUEUE = 262144     -- bytes queued for one client before it is dropped
M.HIGH_WATER = 65536     -- a queue over this pauses its room's senders
M.SNDBUF = 65536         -- SO_SNDBUF of every client socket
M.STALL_TIMEOUT = 5      -- seconds without write progress before a drop
M.MAX_NICK = 16          -- bytes in a nickname
M.DRAIN_TIMEOUT = 2      -- seconds a closing connection may take to drain
M.EOL = "\r\n"           -- line end of everything the server sends
M.GREETING = "welcome to lunasock chat"
M.ROOM = "lobby"         -- the name of the room clients join first
M.READ_SIZE = 4096       -- bytes asked of recv per read
M.BURST = 64             -- lines a reader handles before letting others run

---------------------------------------------------------------- text

-- Control characters other than tab: C0, DEL, and the C1 range as UTF-8
-- encodes it (U+0080..U+009F, two bytes starting with \194). Every other
-- byte, UTF-8 included, passes through untouched.
local CONTROL = "[\0-\8\10-\31\127]"
local CONTROL_OR_C1 = "[\0-\8\10-\31\127\194]"
local C1 = "\194[\128-\159]"

-- Telnet commands (RFC 854): IAC (255) then a command byte; WILL, WONT,
-- DO and DONT (251-254) take an option byte, SB (250) runs to IAC SE (an
-- SB without one is dropped as a two-byte command). One pass, linear: a lazy "\255\250.-\255\240"
-- rescans the line from every SB (issue 11: quadratic on a line of SBs).
local function strip_telnet(text)
  if not find(text, "\255", 1, true) then return text end
  local out, i, n = {}, 1, #text
  local se_at = 0   -- the next IAC SE found so far (nil: there is none)
  while i <= n do
    local j = find(text, "\255", i, true)
    if not j then
      out[#out + 1] = sub(text, i)
      break
    end
    out[#out + 1] = sub(text, i, j - 1)
    local cmd = byte(text, j + 1)
    local se
    if cmd == 250 and se_at then
      if se_at < j + 2 then se_at = find(text, "\255\240", j + 2, true) end
      se = se_at
    end
    if se then
      i = se + 2
    elseif cmd and cmd >= 251 and cmd <= 254 then
      i = j + 3
    else
      i = j + 2
    end
  end
  return concat(out)
end
M.strip_telnet = strip_telnet

-- chat.clean(text) -> text without control characters (tab kept).
local function clean(text)
  if not find(text, CONTROL_OR_C1) then return text end   -- the usual case
  text = gsub(text, CONTROL, "")
  return (gsub(text, C1, ""))
end
M.clean = clean

-- The text a script hands to send, notice, error or broadcast: a string,
-- or a number as its text (as stream:write takes one); anything else
-- raises at the script's line (a nil went out as the line "nil").
local function text_arg(text, fname, argn)
  if type(text) == "string" then return text end
  if math_type(text) then return tostring(text) end
  error(format("bad argument #%d to '%s' (string expected, got %s)", argn or 1, fname,
               type(text)), 3)
end

-- The built-in nickname rule: 1..max bytes of ASCII letters, digits, '_'
-- and '-', starting with a letter or '_'.
local function default_valid_nick(nick, max)
  if nick == "" then return nil, "a nickname cannot be empty" end
  if #nick > max then return nil, format("nicknames have at most %d characters", max) end
  if not match(nick, "^[%a_][%w_%-]*$") then
    return nil, "use letters, digits, '_' and '-', starting with a letter or '_'"
  end
  return true
end

---------------------------------------------------------------- rooms

local Room = {}
Room.__index = Room
Room.__name = "lunasock.chat.room"

local function new_room(server, name)
  return setmetatable({server = server, name = name, clients = {}, count = 0,
                       over = 0, paused = {}}, Room)
end

-- Nick order, case-insensitively.
local function by_nick(a, b)
  return a.key < b.key
end

-- room:users() -> the clients in the room, sorted by nickname
function Room:users()
  local list, n = {}, 0
  for c in pairs(self.clients) do
    n = n + 1
    list[n] = c
  end
  sort(list, by_nick)
  return list
end

-- room:nicks() -> the nicknames in the room, sorted
function Room:nicks()
  local list = self:users()
  for i = 1, #list do list[i] = list[i].nick end
  return list
end

local enqueue   -- below

-- Back-pressure. c's queue is over the high-water mark: its room counts
-- it (room.over), and the readers of a room that counts any park until
-- the count is back to 0.
local function set_over(c, over)
  if over then
    if c.over_room then return end
    local room = c.room
    if not room then return end
    c.over_room = room
    room.over = room.over + 1
  else
    local room = c.over_room
    if not room then return end
    c.over_room = false
    room.over = room.over - 1
    if room.over == 0 then
      local list = room.paused
      room.paused = {}
      for i = 1, #list do loop.wake(list[i]) end
    end
  end
end

-- Parks the calling reader while c's room is over the mark (or c is
-- closing); returns when the room may be read from again.
local function wait_room(c)
  local room = c.room
  while room and room.over > 0 and not c.closing do
    local me = loop.current()
    room.paused[#room.paused + 1] = me
    loop.suspend(c.server.stall_timeout)
    room = c.room
  end
end

-- Queues one already-clean line for every client in the room but except.
-- A snapshot is taken first: a client dropped meanwhile (its queue full)
-- leaves the room, and that must not disturb the iteration.
local function room_send(room, line, except)
  local list, n = {}, 0
  for c in pairs(room.clients) do
    if c ~= except then
      n = n + 1
      list[n] = c
    end
  end
  for i = 1, n do enqueue(list[i], line) end
  return n
end

-- room:broadcast(text[, except]) -> how many clients it was queued for.
-- text is one line, cleaned of control characters.
function Room:broadcast(text, except)
  return room_send(self, clean(text_arg(text, "broadcast")), except)
end

-- room:say(client, text): text as client's message, "<nick> text", to
-- the others in the room (the message event is not run).
function Room:say(client, text)
  if type(client) ~= "table" or client.server ~= self.server or not client.nick then
    error("bad argument #1 to 'say' (a client of this room's server, with a nickname, expected)", 2)
  end
  return room_send(self, "<" .. client.nick .. "> " .. clean(text_arg(text, "say", 2)), client)
end

---------------------------------------------------------------- events

-- The message handler for hooks run with xpcall: the error and where it
-- came from.
local function with_traceback(err)
  if type(err) ~= "string" then err = "(error object is a " .. type(err) .. " value)" end
  return traceback(err, 2)
end

-- Reports a failed hook as the loop reports a failed task: loop.on_error.
local function report(what, err)
  local message = what .. ": " .. err
  local ok = pcall(loop.on_error, loop.current(), message)
  if not ok then io.stderr:write(message, "\n") end
end

-- Runs the server's on_event hook, if any; returns what it returned (nil
-- when it failed, reported).
local function event(server, kind, ...)
  local hook = server.on_event
  if not hook then return nil end
  local ok, r = xpcall(hook, with_traceback, kind, ...)
  if not ok then
    report("lunasock.chat: on_event(" .. kind .. ") failed", r)
    return nil
  end
  return r
end

---------------------------------------------------------------- clients

local Client = {}
Client.__index = Client
Client.__name = "lunasock.chat.client"

-- Puts c in room (nick already set); announces it.
local function enter(c, room)
  room.clients[c] = true
  room.count = room.count + 1
  c.room = room
  if c.qbytes > c.server.high_water then set_over(c, true) end
  room_send(room, "*** " .. c.nick .. " joined", c)
  enqueue(c, format("*** %d %s in %s: %s", room.count, room.count == 1 and "user" or "users",
                    room.name, concat(room:nicks(), ", ")))
  event(c.server, "join", room, c)
end

-- Takes c out of its room, announcing why (unless the server is closing).
local function leave(c, reason)
  local room = c.room
  if not room then return end
  set_over(c, false)
  c.room = nil
  room.clients[c] = nil
  room.count = room.count - 1
  local server = room.server
  if room.count == 0 and room ~= server.lobby and server.rooms[room.name] == room then
    server.rooms[room.name] = nil      -- empty rooms go, except the first
  end
  if not server.closed then
    local why = reason and (" (" .. clean(reason) .. ")") or ""
    room_send(room, "*** " .. c.nick .. " left" .. why)
    event(server, "leave", room, c, reason)
  end
end

-- c no longer counts as a client (max_clients) and its nick is free.
local function release(c)
  if c.released then return end
  c.released = true
  local server = c.server
  server.nclients = server.nclients - 1
  if c.key and server.nicks[c.key] == c then server.nicks[c.key] = nil end
end

-- Drops c at once: out of its room and the nick index, socket closed. Its
-- tasks, woken by the close, see c.closed and end.
local function drop(c, reason)
  if c.closed then return end
  c.closed, c.closing = true, true
  c.reason = c.reason or reason
  local server = c.server
  leave(c, c.reason)
  release(c)
  server.clients[c] = nil
  c.queue, c.qhead, c.qtail, c.qbytes = {}, 1, 0, 0
  if c.tell then
    -- say why if the socket takes it now (it may be full: no waiting)
    pcall(c.sock.send, c.sock, "*** dropped: " .. clean(c.reason) .. server.eol, MSG_DONTWAIT)
  end
  c.sock:close()
  if c.writer then loop.wake(c.writer) end
end

-- Queues one clean line for c, or drops c when its queue would pass the
-- bound. Returns true when queued.
enqueue = function(c, line)
  if c.closed then return false end
  line = line .. c.server.eol
  local bytes = c.qbytes + #line
  local server = c.server
  if bytes > server.max_queue then
    c.tell = true
    drop(c, "output queue full")
    return false
  end
  local tail = c.qtail + 1
  c.queue[tail], c.qtail, c.qbytes = line, tail, bytes
  if c.qhead == tail then c.progress = loop.now() end   -- was empty
  if bytes > server.high_water and not c.over_room then set_over(c, true) end
  if tail == c.qhead and c.writer then loop.wake(c.writer) end  -- was empty
  return true
end

-- client:send(text) -> true once queued (false when the client is gone or
-- has just been dropped for a full queue). text is sent as one line,
-- cleaned of control characters.
function Client:send(text)
  return enqueue(self, clean(text_arg(text, "send")))
end

-- client:notice(text): "*** text" to the client
function Client:notice(text)
  return enqueue(self, "*** " .. clean(text_arg(text, "notice")))
end

-- client:error(text): "*** error: text" to the client
function Client:error(text)
  return enqueue(self, "*** error: " .. clean(text_arg(text, "error")))
end

-- client:close([reason]): leaves the room (the others see "nick left
-- (reason)"), sends what is queued, then closes. From another client's
-- command (a /kick) it works the same: the reader is woken by a shutdown
-- of the socket's reading side.
function Client:close(reason)
  if self.closing then return end
  self.closing = true
  self.reason = reason or "closed"
  leave(self, self.reason)
  if self.writer then loop.wake(self.writer) end
  if self.reader and loop.current() ~= self.reader then
    self.sock:shutdown("r")
  end
end

-- client:move(room): leaves its room for room (see server:room). The old
-- room sees "nick left (moved to NAME)", the new one "nick joined".
function Client:move(room)
  if getmetatable(room) ~= Room or room.server ~= self.server then
    error("bad argument #1 to 'move' (a room of this client's server expected)", 2)
  end
  if self.closing or not self.nick or room == self.room then return false end
  leave(self, "moved to " .. room.name)
  if room.server.rooms[room.name] ~= room then room.server.rooms[room.name] = room end
  enter(self, room)
  return true
end

-- client:rename(nick) -> true, or nil, reason (invalid or taken). The
-- room sees "old is now known as new".
function Client:rename(nick)
  local server = self.server
  local ok, why = server:check_nick(nick, self)
  if not ok then return nil, why end
  local old = self.nick
  server.nicks[self.key] = nil
  self.nick, self.key = nick, lower(nick)
  server.nicks[self.key] = self
  if self.room then
    room_send(self.room, "*** " .. old .. " is now known as " .. nick, self)
    event(server, "nick", self.room, self, old)
  end
  return true
end

function Client:__tostring()
  return format("lunasock.chat.client (%s, %s:%s)", self.nick or "(joining)",
                tostring(self.host), tostring(self.port))
end

---------------------------------------------------------------- I/O

-- The writer task: sends what is queued, several lines per send, until
-- the client is closed, or is closing and everything has gone.
local function writer_task(c)
  local sock = c.sock
  while true do
    if c.closed then return end
    local head, tail = c.qhead, c.qtail
    if head > tail then
      if c.closing then return end
      loop.suspend()
    else
      local q = c.queue
      local data = head == tail and q[head] or concat(q, "", head, tail)
      for i = head, tail do q[i] = nil end
      c.qhead, c.qtail = 1, 0
      local sent, total = 0, #data
      while sent < total do
        local n, err = sock:send(sent == 0 and data or sub(data, sent + 1))
        if c.closed then return end
        if not n then
          drop(c, "write failed: " .. tostring(err))
          return
        end
        sent = sent + n
        local left = c.qbytes - n
        c.qbytes, c.progress = left, loop.now()
        if c.over_room and left <= c.server.high_water // 2 then set_over(c, false) end
      end
    end
  end
end

-- The next input line (CRLF or LF taken off), or nil, msg, code: "EOF" at
-- the end, "EMSGSIZE" once for each line over max_line bytes, which is
-- discarded to its end (the next call returns the line after it), so the
-- stream never loses its place. Only the stream's public calls are used:
-- readuntil with a limit, and buffer/skip to drop a long line's bytes; at
-- most max_line + 1 bytes plus one read are held, however long the line.
local function read_line(c)
  local s, max = c.stream, c.server.max_line
  while true do
    if c.burst > 0 then
      -- let the writers drain what these lines queued before waiting for
      -- more input: a fast sender then cannot outrun a reader that keeps up
      local data, first = s:buffer()
      if not find(data, "\n", first, true) then
        c.burst = 0
        coroutine.yield()
        if c.closed then return nil, "closed", "EBADF" end
      end
    end
    local line, err, code, partial = s:readuntil("\n", max + 1)  -- + a CR
    if line then
      if c.skipping then
        c.skipping = false      -- the end of a long line: dropped
      else
        if byte(line, -1) == 13 then line = sub(line, 1, -2) end
        if #line > max then return nil, "line too long", "EMSGSIZE" end
        return line
      end
    elseif code == "EMSGSIZE" then
      -- too long: drop it to its end if that has come (a bounded scan:
      -- at most max_line + 1 bytes and one read are buffered), else drop
      -- what came and the rest as it comes
      local data, first = s:buffer()
      local e = find(data, "\n", first, true)
      s:skip(e and e - first + 1 or #data - first + 1)
      local reported = c.skipping
      c.skipping = not e
      if not reported then return nil, err, code end
    else
      if code == "EOF" and partial and not c.skipping then   -- a last line
        if #partial > max then return nil, "line too long", "EMSGSIZE" end
        return partial
      end
      return nil, err, code
    end
  end
end

local function line_too_long(c)
  c:error(format("line too long (over %d bytes), discarded", c.server.max_line))
end

local function prompt(c)
  enqueue(c, "*** choose a nickname:")
end

-- s without the blanks around it, in linear time: a lazy "^%s*(.-)%s*$"
-- tries the blank run at every end it extends to (issue 11: 5 ms for a
-- 1 KB line of blanks, a minute for 100 KB).
local function trim(s)
  local i = find(s, "%S")
  if not i then return "" end
  return sub(s, i, match(s, "^.*%S()") - 1)
end

-- A line from a client that has no nickname yet.
local function choose_nick(c, line)
  local server = c.server
  line = trim(line)
  if line == "/quit" or find(line, "^/quit%s") then
    enqueue(c, "*** bye")
    return c:close("quit")
  end
  -- "/nick NAME" is what a user who read the command list types here
  if find(line, "^/nick%s") then line = trim(sub(line, 6)) end
  local ok, why = server:check_nick(line, c)
  if not ok then
    c:error(why)
    return prompt(c)
  end
  c.nick, c.key = line, lower(line)
  server.nicks[c.key] = c
  enqueue(c, "*** you are " .. line)
  enter(c, server.lobby)
end

-- A normal line: the message event, then "<nick> text" to the others.
local function message(c, text)
  local room = c.room
  if event(c.server, "message", room, c, text) == false then return end
  if c.room == room and not c.closing then Room.say(room, c, text) end
end

local function handle_line(c, line)
  line = clean(strip_telnet(line))
  if not c.nick then return choose_nick(c, line) end
  if not find(line, "%S") then return end      -- empty, or blanks only
  if byte(line, 1) ~= 47 then return message(c, line) end       -- '/'
  if byte(line, 2) == 47 then return message(c, sub(line, 2)) end  -- "//text"
  local name, at = match(line, "^/(%S*)()")
  local args = trim(sub(line, at))
  name = lower(name)
  local fn = c.server.commands[name]
  if not fn then
    return c:error("unknown command /" .. name .. " (type /help)")
  end
  local ok, err = xpcall(fn, with_traceback, c.room, c, args)
  if not ok then
    report("lunasock.chat: command /" .. name .. " failed", err)
    if not c.closed then c:error("/" .. name .. " failed") end
  end
end

-- Ends a connection the orderly way: out of the room, the queue drained
-- (bounded by DRAIN_TIMEOUT), the sending side shut down, unread input
-- read and thrown away (closing with unread data would reset the
-- connection and could lose the last lines), then the socket closed.
local function finish(c, reason)
  if c.closed then return end
  local server = c.server
  c.closing = true
  c.reason = c.reason or reason
  leave(c, c.reason)
  release(c)
  local sock = c.sock
  sock:settimeout(server.drain_timeout)
  loop.wake(c.writer)
  c.writer:join()
  if c.closed then return end
  sock:shutdown("w")
  local deadline = loop.now() + server.drain_timeout
  local discarded = 0
  while not c.closed and discarded < server.max_queue do
    local left = deadline - loop.now()
    if left <= 0 then break end
    sock:settimeout(left)
    local data = sock:recv(4096)
    if not data or data == "" then break end
    discarded = discarded + #data
  end
  if not c.closed then
    c.closed = true
    server.clients[c] = nil
    sock:close()
  end
end

-- The reader task of one connection.
local function serve_client(server, c)
  if c.closed then return end          -- server:close() came first
  c.reader = loop.current()
  c.writer = loop.spawn(writer_task, c)
  if server.max_clients and server.nclients > server.max_clients then
    c:error("server full, try again later")
    return finish(c, "server full")
  end
  if server.greeting then enqueue(c, "*** " .. clean(server.greeting)) end
  prompt(c)
  local reason
  while not c.closing do
    if c.room and c.room.over > 0 then wait_room(c) end
    local line, err, code = read_line(c)
    if c.closed then return end
    if line then
      handle_line(c, line)
      local burst = c.burst + 1
      if burst >= M.BURST then
        burst = 0
        coroutine.yield()
      end
      c.burst = burst
    elseif code == "EMSGSIZE" then
      line_too_long(c)
      if not c.nick then prompt(c) end
    elseif c.closing then
      break               -- close() from elsewhere shut the reading side
    else
      if code == "ETIMEDOUT" then
        reason = "idle timeout"
        c:notice("idle timeout, bye")
      elseif code == "EOF" then
        reason = "connection closed"
      else
        reason = tostring(err)
      end
      break
    end
  end
  finish(c, reason)
end

---------------------------------------------------------------- commands

local builtin, builtin_help = {}, {}

builtin_help.help = "/help  this list"
function builtin.help(_, client)
  local server = client.server
  local names = {}
  for name in pairs(server.commands) do names[#names + 1] = name end
  sort(names)
  client:notice("commands:")
  for _, name in ipairs(names) do
    client:notice("  " .. (server.help[name] or ("/" .. name)))
  end
  client:notice("other lines go to everyone in the room (start one with // to send a /)")
end

builtin_help.who = "/who  who is in the room"
function builtin.who(room, client)
  local nicks = room:nicks()
  client:notice(format("%d %s in %s: %s", #nicks, #nicks == 1 and "user" or "users",
                       room.name, concat(nicks, ", ")))
end

builtin_help.nick = "/nick NEW  change your nickname"
function builtin.nick(_, client, args)
  if args == "" then return client:error("usage: /nick NEW") end
  if args == client.nick then return client:notice("you are already " .. args) end
  local ok, why = client:rename(args)
  if not ok then return client:error(why) end
  client:notice("you are now " .. args)
end

builtin_help.msg = "/msg NICK TEXT  send TEXT to NICK only"
function builtin.msg(_, client, args)
  local nick, text = match(args, "^(%S+)%s+(.+)$")
  if not nick then return client:error("usage: /msg NICK TEXT") end
  local to = client.server:find(nick)
  if not to then return client:error("no such user: " .. nick) end
  enqueue(to, "*" .. client.nick .. "* " .. text)
  client:send("-> *" .. to.nick .. "* " .. text)
end

builtin_help.me = "/me ACTION  tell the room what you are doing"
function builtin.me(room, client, args)
  if args == "" then return client:error("usage: /me ACTION") end
  if event(client.server, "action", room, client, args) == false then return end
  if client.room == room then room_send(room, "* " .. client.nick .. " " .. args, client) end
end

builtin_help.quit = "/quit [MESSAGE]  leave"
function builtin.quit(_, client, args)
  client:notice("bye")
  client:close(args ~= "" and ("quit: " .. args) or "quit")
end

M.commands, M.help = builtin, builtin_help

---------------------------------------------------------------- server

local Server = {}
Server.__index = Server
Server.__name = "lunasock.chat.server"

-- server:check_nick(nick[, client]) -> true, or nil, reason: whether nick
-- is valid and free (client may already hold it, in another case).
function Server:check_nick(nick, client)
  if type(nick) ~= "string" then return nil, "a nickname must be a string" end
  local ok, why = self.valid_nick(nick, self.max_nick)
  if not ok then return nil, format("invalid nickname '%s': %s", nick, tostring(why)) end
  local holder = self.nicks[lower(nick)]
  if holder and holder ~= client then return nil, format("nickname '%s' is taken", nick) end
  return true
end

-- server:find(nick) -> the client with that nickname (any case), or nil
function Server:find(nick)
  if type(nick) ~= "string" then
    error("bad argument #1 to 'find' (string expected, got " .. type(nick) .. ")", 2)
  end
  return self.nicks[lower(nick)]
end

-- server:users() -> every client with a nickname, sorted by it
function Server:users()
  local list = {}
  for _, c in pairs(self.nicks) do list[#list + 1] = c end
  sort(list, by_nick)
  return list
end

-- server:room(name) -> the room of that name, created if needed (an empty
-- room other than the first is forgotten when its last client leaves).
function Server:room(name)
  if type(name) ~= "string" or name == "" then
    error("bad argument #1 to 'room' (non-empty string expected)", 2)
  end
  name = clean(name)
  local room = self.rooms[name]
  if not room then
    room = new_room(self, name)
    self.rooms[name] = room
  end
  return room
end

-- server:broadcast(text) -> how many clients it was queued for: one line
-- to every client with a nickname, in every room.
function Server:broadcast(text)
  local line = clean(text_arg(text, "broadcast"))
  local n = 0
  for _, room in pairs(self.rooms) do n = n + room_send(room, line) end
  return n
end

-- server:command(name, fn[, help]): adds or replaces the command /name
-- (fn(room, client, args)); fn false or nil removes it. help is the line
-- /help shows for it.
function Server:command(name, fn, help)
  if type(name) ~= "string" or not match(name, "^%S+$") or find(name, "/", 1, true) then
    error("bad argument #1 to 'command' (a name without spaces or '/' expected)", 2)
  end
  if fn and type(fn) ~= "function" then
    error("bad argument #2 to 'command' (function, false or nil expected)", 2)
  end
  name = lower(name)
  self.commands[name] = fn or nil
  self.help[name] = fn and help or nil
  return self
end

-- The stall reaper: drops a client with output queued and no write
-- progress for stall_timeout seconds (it stopped reading).
local function reaper(server)
  local limit = server.stall_timeout
  local tick = limit / 4
  if tick < 0.05 then tick = 0.05 end
  while not server.closed do
    loop.suspend(tick)
    local now, stalled = loop.now(), nil
    for c in pairs(server.clients) do
      if c.qbytes > 0 and not c.closed and now - c.progress > limit then
        stalled = stalled or {}
        stalled[#stalled + 1] = c
      end
    end
    for _, c in ipairs(stalled or {}) do
      c.tell = true
      drop(c, format("output stalled for %g s", limit))
    end
  end
end

-- server:close(): stops accepting and drops every connection at once.
function Server:close()
  if self.closed then return end
  self.closed = true
  if self.reaper then loop.wake(self.reaper) end
  self.listener:close()
  local list = {}
  for c in pairs(self.clients) do list[#list + 1] = c end
  for _, c in ipairs(list) do drop(c, "server closed") end
end

Server.__close = Server.close

-- The tcp.serve handler of a server: one connection, in its own task.
local function handler(server)
  return function(st, host, port)
    local sock = st:socket()
    sock:setopt("sndbuf", server.sndbuf)
    local c = setmetatable({
      server = server, sock = sock, host = host, port = port, stream = st,
      skipping = false, burst = 0, released = false,
      queue = {}, qhead = 1, qtail = 0, qbytes = 0,
      nick = false, key = false, room = false,
      closing = false, closed = false, reader = false, writer = false,
      over_room = false, tell = false, progress = loop.now(),
    }, Client)
    server.clients[c] = true
    server.nclients = server.nclients + 1
    serve_client(server, c)
  end
end

local function check_count(opts, name, allow_nil)
  local v = opts[name]
  if v == nil and allow_nil then return nil end
  if math_type(v) ~= "integer" or v < 1 then
    error(format("chat.serve: %s must be a positive integer", name), 3)
  end
  if v > 0x7fffffff then   -- sndbuf and the counts the kernel takes are ints
    error(format("chat.serve: %s must be at most 2147483647", name), 3)
  end
  return v
end

local function check_seconds(opts, name)
  local v = opts[name]
  if v ~= nil and (type(v) ~= "number" or v ~= v or v <= 0) then
    error(format("chat.serve: %s must be a positive number of seconds", name), 3)
  end
  if v ~= nil and v > check.MAX_SECONDS then
    error(format("chat.serve: %s must be at most %g seconds", name, check.MAX_SECONDS), 3)
  end
  return v
end

-- chat.serve{host = "127.0.0.1", port = 0, ...} -> server, or nil, msg,
-- code. Options (see docs/chat.md): max_line, max_queue, max_nick,
-- max_clients, sndbuf, high_water, stall_timeout, idle_timeout,
-- drain_timeout, eol, greeting, room, valid_nick, commands, help,
-- on_event, backlog, reuseaddr, reuseport, and tcp.serve's tls and
-- handshake_timeout (a TLS chat room).
-- The tasks run in the loop: call it inside a task, or before loop.run().
local OPTIONS = {
  host = true, port = true, max_line = true, max_queue = true, max_nick = true,
  max_clients = true, sndbuf = true, high_water = true, stall_timeout = true,
  idle_timeout = true, drain_timeout = true, eol = true, greeting = true, room = true,
  valid_nick = true, commands = true, help = true, on_event = true, backlog = true,
  reuseaddr = true, reuseport = true, tls = true, handshake_timeout = true,
}

function M.serve(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'serve' (table expected)", 2) end
  check.known(opts, "chat.serve", OPTIONS)
  check.opt_address(opts, "chat.serve")
  local server = {
    max_line = check_count(opts, "max_line", true) or M.MAX_LINE,
    max_queue = check_count(opts, "max_queue", true) or M.MAX_QUEUE,
    max_nick = check_count(opts, "max_nick", true) or M.MAX_NICK,
    max_clients = check_count(opts, "max_clients", true),
    sndbuf = check_count(opts, "sndbuf", true) or M.SNDBUF,
    high_water = check_count(opts, "high_water", true),
    stall_timeout = check_seconds(opts, "stall_timeout") or M.STALL_TIMEOUT,
    idle_timeout = check_seconds(opts, "idle_timeout"),
    drain_timeout = check_seconds(opts, "drain_timeout") or M.DRAIN_TIMEOUT,
    eol = opts.eol or M.EOL,
    greeting = opts.greeting,
    valid_nick = opts.valid_nick or default_valid_nick,
    on_event = opts.on_event,
  }
  if not server.high_water then   -- under the queue bound, by default
    server.high_water = math.min(M.HIGH_WATER, server.max_queue // 4)
  end
  if server.eol ~= "\r\n" and server.eol ~= "\n" then
    error("chat.serve: eol must be \"\\r\\n\" or \"\\n\"", 2)
  end
  if server.greeting == nil then server.greeting = M.GREETING end
  if server.greeting and type(server.greeting) ~= "string" then
    error("chat.serve: greeting must be a string or false", 2)
  end
  for _, name in ipairs{"valid_nick", "on_event"} do
    if server[name] ~= nil and type(server[name]) ~= "function" then
      error(format("chat.serve: %s must be a function", name), 2)
    end
  end
  local room_name = opts.room or M.ROOM
  if type(room_name) ~= "string" or room_name == "" then
    error("chat.serve: room must be a non-empty string", 2)
  end
  local commands, help = {}, {}
  for name, fn in pairs(builtin) do commands[name], help[name] = fn, builtin_help[name] end
  if opts.commands ~= nil and type(opts.commands) ~= "table" then
    error("chat.serve: commands must be a table of functions", 2)
  end
  if opts.help ~= nil and type(opts.help) ~= "table" then
    error("chat.serve: help must be a table of strings", 2)
  end
  server.commands, server.help = commands, help
  setmetatable(server, Server)
  for name, fn in pairs(opts.commands or {}) do
    if type(name) ~= "string" or (fn and type(fn) ~= "function") then
      error("chat.serve: commands must map names to functions (or false)", 2)
    end
    server:command(name, fn, opts.help and opts.help[name])
  end
  server.clients, server.nclients, server.nicks = {}, 0, {}
  server.lobby = new_room(server, room_name)
  server.rooms = {[room_name] = server.lobby}
  server.closed = false
  -- a bad option tcp.serve checks (tls above all) raises at our caller,
  -- without the position of this line (as the echo server's tail call)
  local ok, listener, err, code = pcall(lunasock.tcp.serve, opts.host or "127.0.0.1",
    opts.port or 0, handler(server), {backlog = opts.backlog, reuseport = opts.reuseport,
                      reuseaddr = opts.reuseaddr,
                      tls = opts.tls, handshake_timeout = opts.handshake_timeout,
                      stream = {timeout = server.idle_timeout, chunk = M.READ_SIZE}})
  if not ok then error((gsub(tostring(listener), "^[^\n:]*:%d+: ", "")), 2) end
  if not listener then return nil, err, code end
  server.listener, server.sock = listener, listener.sock
  server.host, server.port = listener.host, listener.port
  server.reaper = loop.spawn(reaper, server)
  return server
end

M.OPTIONS = OPTIONS   -- the names serve takes (name -> true)
M.Server, M.Client, M.Room = Server, Client, Room
return M
