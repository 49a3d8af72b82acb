#!/usr/bin/env lua5.4
-- recv and send flags, shown for real on a TCP connection over loopback
-- that this script makes to itself:
--   MSG_PEEK      looks at waiting data and leaves it there
--   MSG_OOB       the urgent byte travels out of band, beside the stream
--   MSG_WAITALL   one recv waits for the full count across several sends
--   MSG_DONTWAIT  one call that never blocks: EAGAIN on an empty socket
--
-- Usage: lua5.4 examples/flags.lua
-- Needs no network beyond 127.0.0.1 and takes no arguments.
local core = require "lunasock.core"
local loop = require "lunasock.loop"

local TIMEOUT = 5   -- no step of this script may wait longer

-- A connected TCP pair on 127.0.0.1: the listener lives only long enough
-- to accept the one connection.
local function tcp_pair()
  local l <close> = assert(core.socket("inet", "stream"))
  assert(l:bind("127.0.0.1", 0))
  assert(l:listen(1))
  local _, port = l:getsockname()
  local a = assert(core.socket("inet", "stream"))
  a:settimeout(TIMEOUT)
  assert(a:connect("127.0.0.1", port))
  l:settimeout(TIMEOUT)
  local b = assert(l:accept())
  b:settimeout(TIMEOUT)
  return a, b
end

-- Reads from sock until want bytes have come.
local function recv_exactly(sock, want)
  local parts, have = {}, 0
  while have < want do
    local data = assert(sock:recv(want - have))
    assert(data ~= "", "unexpected EOF")
    parts[#parts + 1] = data
    have = have + #data
  end
  return table.concat(parts)
end

local function show(label, ...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[i] = type(v) == "string" and ("%q"):format(v) or tostring(v)
  end
  print(("  %-36s -> %s"):format(label, table.concat(out, ", ")))
end

local a, b = tcp_pair()
local _a <close> = a
local _b <close> = b

print("MSG_PEEK: look at the data without taking it")
assert(a:send("peekaboo"))
local peeked = assert(b:recv(4, core.MSG_PEEK))
show("b:recv(4, MSG_PEEK)", peeked)
show("b:recv(4, MSG_PEEK) again", assert(b:recv(4, core.MSG_PEEK)))
local all = recv_exactly(b, 8)
show("b:recv(8) still gets all of it", all)
assert(peeked == "peek" and all == "peekaboo")

print("MSG_OOB: one urgent byte, out of band")
assert(a:send("abc"))
assert(a:send("!", core.MSG_OOB))
assert(a:send("def"))
-- A read stops at the urgent mark, and reading past it discards the
-- urgent byte, so: the data before the mark, then the urgent byte (it
-- is there once poll reports POLLPRI), then the rest.
local before = recv_exactly(b, 3)
show("b:recv(...) up to the mark", before)
local poller <close> = core.poller()
assert(poller:add(b:fileno(), core.POLLPRI, "b"))
local ready = poller:wait(TIMEOUT)      -- the objs of the ready descriptors
assert(ready[1] == "b", "no urgent data within the timeout")
local urgent = assert(b:recv(1, core.MSG_OOB))
show("POLLPRI, then b:recv(1, MSG_OOB)", urgent)
show("b:recv(1, MSG_OOB) again", b:recv(1, core.MSG_OOB))
local after = recv_exactly(b, 3)
show("b:recv(...) in band, after the mark", after)
assert(before == "abc" and urgent == "!" and after == "def")

print("MSG_WAITALL: one recv of 13 bytes, three sends 50 ms apart")
local pieces = {"one ", "two ", "three"}
local total = #table.concat(pieces)

-- A writer task sends the pieces with pauses while this task makes one
-- recv(total, flags); returns what that recv gave.
local function one_recv(flags)
  return loop.run(function()
    local writer = loop.spawn(function()
      for i, piece in ipairs(pieces) do
        if i > 1 then loop.sleep(0.05) end
        assert(a:send(piece))
      end
    end)
    local data = assert(b:recv(total, flags))
    writer:join()
    return data
  end)
end

local t0 = loop.now()
local data = one_recv(core.MSG_WAITALL)
show(("b:recv(%d, MSG_WAITALL) [%.0f ms]"):format(total, (loop.now() - t0) * 1000), data)
assert(data == "one two three")
local first = one_recv(0)
show(("b:recv(%d) without it"):format(total), first)
recv_exactly(b, total - #first)   -- the rest, so the socket is empty

print("MSG_DONTWAIT: never block, even on a blocking socket")
b:settimeout(nil)   -- blocking: a plain recv would wait forever here
show("b:recv(10, MSG_DONTWAIT) on empty", b:recv(10, core.MSG_DONTWAIT))
assert(a:send("now"))
b:settimeout(TIMEOUT)
assert(b:recv(3, core.MSG_PEEK))  -- waits until it has arrived
show("b:recv(10, MSG_DONTWAIT) with data", b:recv(10, core.MSG_DONTWAIT))

print("ok")
