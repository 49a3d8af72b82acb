#!/usr/bin/env lua5.4
-- Descriptor passing (SCM_RIGHTS) over a unix socketpair: a "front" task
-- accepts a TCP connection and hands it to a "worker" task, which serves
-- it through its own descriptor for the same connection; then a pipe
-- (from io.popen) and an open file travel the same way.
--
-- The two ends would normally be two processes (a front that accepts and
-- workers that serve); here they are two tasks of one loop, so that the
-- script runs on its own. Each descriptor received is a new one for the
-- same open socket, pipe or file (its number may be one the sender has
-- freed meanwhile, as here, where the front closes its copy at once).
--
-- Usage: lua5.4 examples/fd_passing.lua
-- Needs no network beyond 127.0.0.1 and takes no arguments.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local lunasock = require "lunasock"

local TIMEOUT = 5

-- SOCK_SEQPACKET keeps message boundaries, so each descriptor arrives
-- with its own label.
local front_end, worker_end = assert(core.socketpair("unix", "seqpacket"))
local _f <close> = front_end
local _w <close> = worker_end
front_end:settimeout(TIMEOUT)
worker_end:settimeout(TIMEOUT)

local listener <close> = assert(lunasock.tcp.listen("127.0.0.1", 0, {timeout = TIMEOUT}))
local host, port = listener:getsockname()

-- The front: sends each descriptor with a label, then closes its own copy
-- (the passed one stays open in the worker).
local function front()
  local conn = assert(listener:accept())
  print(("front:  accepted a client, fd %d; passing it"):format(conn:fileno()))
  assert(front_end:sendmsg("conn", {fds = {conn}}))
  conn:close()

  local pipe = assert(io.popen("echo 'a line a child process wrote into a pipe'"))
  print("front:  passing the read end of a pipe from io.popen")
  assert(front_end:sendmsg("pipe", {fds = {pipe}}))
  pipe:close()   -- waits for the child; the worker's copy keeps the data

  local file = assert(io.tmpfile())
  file:write("a line written to a file before it was passed\n")
  file:flush()
  file:seek("set", 0)   -- the offset is shared with the receiver's copy
  print("front:  passing an open temporary file")
  assert(front_end:sendmsg("file", {fds = {file}}))
  file:close()

  assert(front_end:sendmsg("done"))
end

-- The worker: receives labelled descriptors and uses each one.
local function worker()
  while true do
    local label, info = assert(worker_end:recvmsg(16))
    if label == "done" or label == "" then return end
    local fd = assert(info.fds[1], "no descriptor came with " .. label)
    if label == "conn" then
      local sock <close> = assert(core.fromfd(fd))
      sock:settimeout(TIMEOUT)
      print(("worker: got fd %d: %s, peer %s:%d"):format(fd, tostring(sock),
                                                       sock:getpeername()))
      local request = assert(sock:recv(100))
      assert(sock:send("the worker got: " .. request))
    else
      -- not a socket: a Lua file owns it (reading a pipe or file blocks
      -- the loop; these are short and already written)
      local f <close> = assert(core.fdopen(fd, "r"))
      print(("worker: got fd %d (%s): %q"):format(fd, label, f:read("l")))
    end
  end
end

-- A client of the listener: talks to whoever serves it.
local function client()
  local c <close> = assert(lunasock.tcp.connect(host, port, {timeout = TIMEOUT}))
  assert(c:send("hello"))
  local reply = assert(c:recv(100))
  print(("client: sent %q, the reply is %q"):format("hello", reply))
  assert(reply == "the worker got: hello")
end

local ok, err = loop.run(function()
  local tasks = {loop.spawn(worker), loop.spawn(front), loop.spawn(client)}
  for _, t in ipairs(tasks) do
    local done, terr = t:join()
    if done == nil and terr then return nil, terr end
  end
  return true
end)
if not ok then
  io.stderr:write("fd_passing: ", tostring(err), "\n")
  os.exit(1)
end
print("ok")
