-- luasocket_select.lua - the server loop the LuaSocket peers share
-- (luasocket_echo.lua, luasocket_http.lua): one process, one thread,
-- non-blocking sockets and socket.select(), written the way a LuaSocket
-- user writes it. Not a server itself; loaded with dofile.
--
--   serve(port, on_data[, on_open, on_close])
--
-- on_data(c, data, write) handles what a client sent: write(c, s) sends
-- (keeping what the kernel does not take, and reading nothing more from c
-- until it drains: back-pressure); false from either drops the client.
-- on_open(c) and on_close(c) keep per-client state. Runs on lua5.1 too.
local socket = require "socket"

return function(port, on_data, on_open, on_close)
  local server = assert(socket.bind("127.0.0.1", port, 1024))
  server:settimeout(0)

  -- select() uses an fd_set: descriptors >= socket._SETSIZE (1024) cannot
  -- be watched, so refuse clients beyond that instead of crashing.
  local MAX_CLIENTS = (socket._SETSIZE or 1024) - 32

  local recvt, sendt = { server }, {}   -- arrays handed to socket.select
  local clients, pending = {}, {}       -- client -> true / unsent data
  local nclients = 0

  local function remove(list, s)
    for i = #list, 1, -1 do
      if list[i] == s then table.remove(list, i) return end
    end
  end

  local function drop(c)
    if not clients[c] then return end
    clients[c], pending[c] = nil, nil
    remove(recvt, c); remove(sendt, c)
    nclients = nclients - 1
    if on_close then on_close(c) end
    c:close()
  end

  local function write(c, data)
    local last, err, partial = c:send(data)
    if last then return true end
    if err ~= "timeout" then return false end
    pending[c] = data:sub(partial + 1)
    remove(recvt, c)
    sendt[#sendt + 1] = c
    return true
  end

  local function flush(c)
    local data = pending[c]
    local last, err, partial = c:send(data)
    if last then
      pending[c] = nil
      remove(sendt, c)
      recvt[#recvt + 1] = c
      return true
    end
    if err ~= "timeout" then return false end
    pending[c] = data:sub(partial + 1)
    return true
  end

  while true do
    local readable, writable = socket.select(recvt, sendt)
    for _, c in ipairs(writable) do
      if pending[c] and not flush(c) then drop(c) end
    end
    for _, c in ipairs(readable) do
      if c == server then
        local client = server:accept()
        if client then
          if nclients >= MAX_CLIENTS then
            client:close()
          else
            client:settimeout(0)
            client:setoption("tcp-nodelay", true)
            clients[client] = true
            nclients = nclients + 1
            if on_open then on_open(client) end
            recvt[#recvt + 1] = client
          end
        end
      elseif clients[c] then
        local data, err, partial = c:receive(8192)
        data = data or partial
        if data and #data > 0 then
          if not on_data(c, data, write) then drop(c) end
        elseif err == "closed" then
          drop(c)
        end
      end
    end
  end
end
