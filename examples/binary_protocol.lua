#!/usr/bin/env lua5.4
-- A binary protocol: length-prefixed messages (a 4-byte big-endian length,
-- lunasock.frame.length(">I4")) whose bodies are packed with string.pack:
--   request  = op (B), id (>I4), operands (>d each)   op 1 = add, 2 = mul, 3 = avg
--   response = id (>I4), status (B: 0 ok, 1 error), result (>d) | error text (s2)
-- Usage: lua5.4 examples/binary_protocol.lua   (a server and a client in one
--        process, on a free loopback port; then a hostile client is refused)
local lunasock = require "lunasock"
local loop = require "lunasock.loop"
local stream = require "lunasock.stream"
local frame = require "lunasock.frame"

local framer = frame.length(">I4", {max = 64 * 1024})
local OPS = {
  [1] = function(xs) local s = 0 for _, x in ipairs(xs) do s = s + x end return s end,
  [2] = function(xs) local p = 1 for _, x in ipairs(xs) do p = p * x end return p end,
  [3] = function(xs)
    if #xs == 0 then return nil, "avg of nothing" end
    local s = 0 for _, x in ipairs(xs) do s = s + x end return s / #xs
  end,
}

local function encode_request(op, id, xs)
  return string.pack(">B I4" .. string.rep(" d", #xs), op, id, table.unpack(xs))
end

local function handle(body)
  local ok, op, id, pos = pcall(string.unpack, ">B I4", body)
  if not ok then return string.pack(">I4 B s2", 0, 1, "malformed request") end
  local xs = {}
  while pos <= #body - 7 do xs[#xs + 1], pos = string.unpack(">d", body, pos) end
  local fn = OPS[op]
  local result, err
  if fn then result, err = fn(xs) else err = "unknown op " .. op end
  if result then return string.pack(">I4 B d", id, 0, result) end
  return string.pack(">I4 B s2", id, 1, err)
end

-- One connection (lunasock.tcp.serve runs it in a task of its own and
-- closes it after): a reply per frame until the client closes or sends
-- something that is not a frame we accept (then it is dropped).
local function serve(st)
  while true do
    local body, err, code = framer:read(st)
    if not body then
      if code ~= "EOF" then print(("server: dropped a client: %s (%s)"):format(err, code)) end
      break
    end
    framer:write(st, handle(body))
  end
end

local server = assert(lunasock.tcp.serve("127.0.0.1", 0, serve))
local host, port = server.host, server.port
print(("server on %s:%d, frames: >I4 length + string.pack body"):format(host, port))

loop.run(function()
  local st = stream.new(assert(lunasock.tcp.connect(host, port, {timeout = 5})))
  local requests = {
    {1, {1.5, 2.5, 3}}, {2, {2, 3, 7}}, {3, {10, 20}}, {3, {}}, {9, {1}},
  }
  local names = {"add", "mul", "avg"}
  for id, r in ipairs(requests) do
    local op, xs = r[1], r[2]
    local req = encode_request(op, id, xs)
    assert(framer:write(st, req))
    local resp = assert(framer:read(st))
    local rid, status, pos = string.unpack(">I4 B", resp)
    local shown = ("%s(%s)"):format(names[op] or ("op" .. op), table.concat(xs, ", "))
    if status == 0 then
      print(("#%d %-20s = %-6g (%d-byte request, %d-byte reply)"):format(
        rid, shown, (string.unpack(">d", resp, pos)), #req, #resp))
    else
      print(("#%d %-20s ! %s"):format(rid, shown, (string.unpack(">s2", resp, pos))))
    end
  end
  st:close()

  -- A hostile client claims a 4 GiB frame: refused from its 4-byte
  -- header alone, before any payload is read or buffered.
  local bad = stream.new(assert(lunasock.tcp.connect(host, port, {timeout = 5})))
  bad:write(string.pack(">I4", 0xffffffff))
  print("hostile client, after a 4 GiB length prefix: " .. select(2, bad:read(1)))
  bad:close()
  server:close()
end)
