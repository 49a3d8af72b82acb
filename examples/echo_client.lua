#!/usr/bin/env lua5.4
-- An echo client: sends lines to an echo server, one at a time, and
-- prints each reply, checking that it came back unchanged.
--
-- Usage: lua5.4 examples/echo_client.lua [HOST PORT] [< FILE]
--   With HOST and PORT it talks to that server (for instance one started
--   by examples/echo_server.lua), sending the lines of stdin, or a
--   built-in set of lines when stdin is a terminal. With no arguments it
--   starts lunasock.echo in-process on 127.0.0.1 (port 0) and sends the
--   built-in lines to it. Exits 1 if a reply differs from what was sent.
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local echo = require "lunasock.echo"

local TIMEOUT = 5

local BUILTIN = {
  "hello, echo",
  "lines go out one at a time",
  "and come back unchanged",
  "",
  "   spaces and\ttabs survive",
  "ünïcödé bytes too",
  string.rep("a long line ", 100),
}

-- Sends each line from next_line() and checks the reply; returns the
-- number of lines and of mismatches, or nil, err.
local function talk(host, port, next_line)
  local sock, err = lunasock.tcp.connect(host, port, {timeout = TIMEOUT, nodelay = true})
  if not sock then return nil, ("%s port %s: %s"):format(host, port, err) end
  local s <close> = stream.new(sock)
  print(("connected to %s port %d"):format(host, port))
  local count, bad = 0, 0
  for line in next_line do
    local ok, werr = s:write(line, "\n")
    if not ok then return nil, "write: " .. werr end
    local reply, rerr = s:readline()
    if not reply then return nil, "read: " .. rerr end
    count = count + 1
    local shown = #reply > 60 and reply:sub(1, 57) .. "..." or reply
    if reply == line then
      print(("< %s"):format(shown))
    else
      bad = bad + 1
      print(("< %s   (MISMATCH: sent %q)"):format(shown, line))
    end
  end
  return count, bad
end

local function builtin_lines()
  local i = 0
  return function()
    i = i + 1
    return BUILTIN[i]
  end
end

-- stdin's lines without their ends (LF or CRLF, as readline takes them)
local function stdin_lines()
  local lines = io.lines()
  return function()
    local line = lines()
    return line and (line:gsub("\r$", ""))
  end
end

local args = {...}
local count, bad
if args[1] then
  local host, port = args[1], tonumber(args[2])
  if not port then
    io.stderr:write("usage: echo_client.lua [HOST PORT]\n")
    os.exit(2)
  end
  -- a terminal on stdin: nobody is typing for a demo, use the set
  local tty = os.execute("test -t 0")
  count, bad = talk(host, port, tty and builtin_lines() or stdin_lines())
else
  count, bad = loop.run(function()
    local server = assert(echo.serve{host = "127.0.0.1", port = 0})
    print(("started lunasock.echo on %s:%d"):format(server.host, server.port))
    local n, b = talk(server.host, server.port, builtin_lines())
    server:close()
    return n, b
  end)
end
if not count then
  io.stderr:write("echo_client: ", tostring(bad), "\n")
  os.exit(1)
end
print(("%d lines echoed, %d mismatches"):format(count, bad))
os.exit(bad == 0 and 0 or 1)
