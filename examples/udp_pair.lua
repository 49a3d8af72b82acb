#!/usr/bin/env lua5.4
-- UDP over loopback between two sockets of this script: sendto and
-- recvfrom (each datagram arrives whole and alone, with its sender's
-- address), MSG_TRUNC, then connected UDP (send/recv, a filter on the
-- peer, and ECONNREFUSED from a port nobody listens on), and IPv6 where
-- ::1 exists.
--
-- Usage: lua5.4 examples/udp_pair.lua
-- Needs no network beyond 127.0.0.1 (and ::1) and takes no arguments.
local lunasock = require "lunasock"
local core = lunasock.core

local TIMEOUT = 5

local function bind(host)
  return lunasock.udp.bind(host, 0, {timeout = TIMEOUT})
end

local a <close> = assert(bind("127.0.0.1"))
local b <close> = assert(bind("127.0.0.1"))
local ahost, aport = a:getsockname()
local bhost, bport = b:getsockname()
print(("a is %s:%d, b is %s:%d"):format(ahost, aport, bhost, bport))

print("sendto / recvfrom")
assert(a:sendto("ping", bhost, bport))
local data, host, port = assert(b:recvfrom(100))
print(("  b got %q from %s:%d"):format(data, host, port))
assert(data == "ping" and port == aport)
assert(b:sendto("pong", host, port))
data, host, port = assert(a:recvfrom(100))
print(("  a got %q from %s:%d"):format(data, host, port))
assert(data == "pong" and port == bport)

print("datagrams keep their boundaries")
assert(a:sendto("first", bhost, bport))
assert(a:sendto("second, longer", bhost, bport))
local d1, d2 = assert(b:recv(100)), assert(b:recv(100))
print(("  two recv(100): %q and %q"):format(d1, d2))
assert(d1 == "first" and d2 == "second, longer")

print("MSG_TRUNC: the real size of a datagram larger than the read")
assert(a:sendto("0123456789", bhost, bport))
local part, size = b:recv(4, core.MSG_TRUNC)
print(("  recv(4, MSG_TRUNC) -> %q, %d (the rest is discarded)"):format(part, size))
assert(part == "0123" and size == 10)

print("connected UDP: send and recv talk to one peer")
local c <close> = assert(lunasock.udp.connect(bhost, bport, {timeout = TIMEOUT}))
local chost, cport = c:getsockname()
assert(c:send("hello from c"))
data, host, port = assert(b:recvfrom(100))
print(("  b got %q from %s:%d"):format(data, host, port))
assert(data == "hello from c" and port == cport)
-- c only accepts datagrams from b: the one from a is dropped by the kernel
assert(a:sendto("from a, dropped", chost, cport))
assert(b:sendto("reply from b", chost, cport))
data = assert(c:recv(100))
print(("  a and b both sent to c; c:recv(100) -> %q"):format(data))
assert(data == "reply from b")

print("connected UDP: a closed port answers ECONNREFUSED")
local gone = assert(bind("127.0.0.1"))
local _, gone_port = gone:getsockname()
gone:close()
local d <close> = assert(lunasock.udp.connect("127.0.0.1", gone_port, {timeout = TIMEOUT}))
assert(d:send("anyone?"))
local ok, err, code = d:recv(100)
print(("  send to port %d, then recv -> %s, %q, %s"):format(gone_port, tostring(ok), err, code))
assert(ok == nil and code == "ECONNREFUSED")

local v6 = bind("::1")
if v6 then
  print("IPv6")
  local v6b <close> = assert(bind("::1"))
  local _v6 <close> = v6
  local h6, p6 = v6b:getsockname()
  assert(v6:sendto("over ::1", h6, p6))
  data, host, port = assert(v6b:recvfrom(100))
  print(("  [%s]:%d got %q from [%s]:%d"):format(h6, p6, data, host, port))
  assert(data == "over ::1")
else
  print("IPv6: no ::1 here, skipped")
end
print("ok")
