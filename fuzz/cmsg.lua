-- fuzz harness: ancillary data (sendmsg/recvmsg in csrc/io.c) and the
-- receive flags. A sender passes lists of descriptors (our own, closed
-- ones, junk integers) with data; a receiver reads with any count, flags
-- and maxfds. Invariants: every descriptor received is reported (and
-- closed here), none leaks; the data returned is a prefix of, or exactly,
-- what was sent in order (never bytes that were not sent).
local core = require "lunasock.core"
local F = require "fuzzlib"

local FLAGS = {0, core.MSG_PEEK, core.MSG_TRUNC, core.MSG_WAITALL,
               core.MSG_DONTWAIT, core.MSG_PEEK | core.MSG_TRUNC,
               core.MSG_PEEK | core.MSG_WAITALL, core.MSG_CMSG_CLOEXEC or 0,
               core.MSG_OOB, 0x7fffffff}

local function close_fds(list)
  for _, fd in ipairs(list or {}) do
    local s = core.fromfd(fd)
    if s then s:close() else
      local f = core.fdopen(fd)
      if f then f:close() end
    end
  end
end

return function(data)
  local r = F.reader(data)
  local before = F.fd_count()
  local stype = ({"stream", "dgram", "seqpacket"})[r.int(1, 3)]
  local a, b = core.socketpair("unix", stype)
  if not a then return end
  a:settimeout(0)
  b:settimeout(0)
  local spare = assert(core.socket("inet", "dgram"))
  local sent, got = {}, {}
  local steps = 0
  while r.left() > 0 and steps < 24 do
    steps = steps + 1
    if r.byte() % 2 == 0 then
      local payload = r.take(r.int(0, 300))
      local fds = {}
      for i = 1, r.int(0, 6) do
        local k = r.int(0, 5)
        fds[i] = k == 0 and spare or k == 1 and a or k == 2 and io.stdout
                 or k == 3 and -1 or k == 4 and 100000 or 0
      end
      if r.byte() % 8 == 0 then fds = {} for i = 1, 254 do fds[i] = 0 end end
      local ok, n = pcall(a.sendmsg, a, payload, {fds = fds}, FLAGS[r.int(1, 5)])
      if ok and n then sent[#sent + 1] = payload:sub(1, n) end
    else
      local n = r.int(0, 400)
      local flags = FLAGS[r.int(1, #FLAGS)]
      local maxfds = r.int(0, 260)
      local ok, d, info = pcall(b.recvmsg, b, n, flags, maxfds)
      if ok and d then
        F.check(type(info) == "table" and type(info.fds) == "table", "info")
        F.check(#info.fds <= maxfds, "more descriptors than maxfds")
        close_fds(info.fds)
        F.check(#d <= n, "more bytes than asked")
        if flags & (core.MSG_PEEK | core.MSG_OOB) == 0 then
          got[#got + 1] = d
        end
      end
    end
  end
  -- drain what is left, taking its descriptors
  for _ = 1, 1000 do
    local d, info = b:recvmsg(4096)
    if not d then break end
    close_fds(info.fds)
    got[#got + 1] = d
  end
  a:close()
  b:close()
  spare:close()
  local all_sent, all_got = table.concat(sent), table.concat(got)
  if stype == "stream" then
    F.check(all_got == all_sent:sub(1, #all_got), "stream bytes differ from what was sent")
  else
    F.check(#all_got <= #all_sent, "more datagram bytes than sent")
  end
  F.check(F.fd_count() == before, "descriptor leak: %d -> %d", before, F.fd_count())
end
