-- lunasock.core: the poller, for every backend, over socketpairs.
local core = require "lunasock.core"
local helper = require "helper"

local T = helper.TIMEOUT
local POLLIN, POLLOUT, POLLHUP = core.POLLIN, core.POLLOUT, core.POLLHUP
local POLLNVAL, POLLRDHUP = core.POLLNVAL, core.POLLRDHUP  -- RDHUP: Linux

local function has(bits, bit)
  return bits & bit ~= 0
end

local function closeall(list)
  for _, pair in ipairs(list) do
    pair[1]:close()
    pair[2]:close()
  end
end

-- n socketpairs, or nil when the descriptor limit stops us first (then
-- whatever was opened is closed again).
local function openpairs(n)
  local list = {}
  for i = 1, n do
    local a, b, code = core.socketpair()
    if not a then
      closeall(list)
      if code == "EMFILE" or code == "ENFILE" then return nil end
      error(b)
    end
    list[i] = {a, b}
  end
  return list
end

-- Seconds since boot with 10 ms steps, where /proc/uptime exists: enough
-- for a lower bound on a 50 ms wait. core has no clock of its own.
local function uptime()
  local f = io.open("/proc/uptime")
  if not f then return nil end
  local t = f:read("n")
  f:close()
  return t
end

-- Calls wait(T) until every obj of want (a set) has been seen or calls
-- runs out; returns the number of calls it took, or nil.
local function collect(p, want, calls)
  local seen, left = {}, 0
  for _ in pairs(want) do left = left + 1 end
  local objs, revents = {}, {}
  for call = 1, calls do
    local n = select(3, assert(p:wait(T, objs, revents)))
    for i = 1, n do
      local obj = objs[i]
      if want[obj] and not seen[obj] then
        seen[obj] = true
        left = left - 1
      end
    end
    if left == 0 then return call end
  end
  return nil
end

-- core.poller raises for a backend this platform does not have.
local function available(backend)
  local ok, p = pcall(core.poller, backend)
  if ok and p then p:close() end
  return ok and p ~= nil
end

-- The same behaviour, whatever the backend.
local function backend_spec(backend)
  local p, a, b

  before_each(function()
    p = assert(core.poller(backend))
    a, b = assert(core.socketpair())
  end)

  after_each(function()
    if p then p:close() end
    if a then a:close() end
    if b then b:close() end
    p, a, b = nil, nil, nil
  end)

  it("reports its backend, descriptor and count", function()
    assert.equal(backend, p:backend())
    assert.equal(0, p:count())
    if backend == "epoll" then
      assert.is_true(p:fileno() >= 0)
    else
      assert.equal(-1, p:fileno())
    end
    assert.equal("lunasock.poller (" .. backend .. ", 0 fds)",
                 tostring(p))
    assert(p:add(a, "r"))
    assert.equal(1, p:count())
    assert.equal("lunasock.poller (" .. backend .. ", 1 fds)",
                 tostring(p))
  end)

  it("wait(0) returns 0 and empty tables when nothing is ready",
     function()
    assert(p:add(a, "r"))
    local objs, revents, n = p:wait(0)
    assert.equal(0, n)
    assert.same({}, objs)
    assert.same({}, revents)
  end)

  it("reports POLLIN and the registered obj after a send", function()
    local obj = {}
    assert(p:add(a, POLLIN, obj))
    assert.equal(1, b:send("x"))
    local objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal(obj, objs[1])
    assert.is_true(has(revents[1], POLLIN))
    assert.is_false(has(revents[1], POLLOUT))
    assert.equal("x", a:recv(1))
    assert.equal(0, select(3, p:wait(0)))
  end)

  it("uses the descriptor argument, as given, as the default obj",
     function()
    assert(p:add(a, "r"))
    assert(p:add(b:fileno(), "r"))
    assert(a:send("x"))
    assert(b:send("y"))
    local objs, _, n = p:wait(T)
    assert.equal(2, n)
    local got = {[objs[1]] = true, [objs[2]] = true}
    assert.is_true(got[a])
    assert.is_true(got[b:fileno()])
  end)

  it("reports POLLOUT on a writable socket", function()
    assert(p:add(a, POLLOUT, "a"))
    local objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal("a", objs[1])
    assert.equal(POLLOUT, revents[1])
  end)

  it("takes 'r', 'w' and 'rw' for events", function()
    assert(p:add(a, "rw", "a"))
    assert(b:send("x"))
    local _, revents = p:wait(T)
    assert.equal(POLLIN | POLLOUT, revents[1])
    assert(p:modify(a, "w"))
    _, revents = p:wait(T)
    assert.equal(POLLOUT, revents[1])
    assert(p:modify(a, "r"))
    _, revents = p:wait(T)
    assert.equal(POLLIN, revents[1])
  end)

  it("modify changes the interest, and the obj when given", function()
    assert(p:add(a, POLLIN, "first"))
    assert.equal(0, select(3, p:wait(0)))
    assert(p:modify(a, POLLOUT))
    local objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal("first", objs[1])
    assert.equal(POLLOUT, revents[1])
    assert(p:modify(a, POLLIN, "second"))
    assert.equal(0, select(3, p:wait(0)))
    assert(b:send("x"))
    objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal("second", objs[1])
    assert.equal(POLLIN, revents[1])
  end)

  it("remove stops the reports", function()
    assert(p:add(a, "r"))
    assert(b:send("x"))
    assert.equal(1, select(3, p:wait(T)))
    assert.is_true(p:remove(a))
    assert.equal(0, p:count())
    assert.equal(0, select(3, p:wait(0)))
  end)

  it("returns EEXIST for a second add, ENOENT for unknown descriptors",
     function()
    assert(p:add(a, "r"))
    local ok, msg, code = p:add(a, "w")
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("EEXIST", code)
    assert.equal(1, p:count())
    ok, msg, code = p:modify(b, "r")
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("ENOENT", code)
    ok, msg, code = p:remove(b)
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("ENOENT", code)
    assert.equal(1, p:count())
  end)

  it("returns EBADF for a descriptor that is not open", function()
    local fd = b:fileno()
    b:close()
    local ok, _, code = p:add(fd, "r")
    assert.is_nil(ok)
    assert.equal("EBADF", code)
    assert.equal(0, p:count())
  end)

  it("reports a peer's close as POLLIN, with POLLHUP and POLLRDHUP",
     function()
    assert(p:add(a, POLLIN | (POLLRDHUP or 0)))
    b:close()
    local objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal(a, objs[1])
    assert.is_true(has(revents[1], POLLIN))
    if POLLRDHUP then  -- Linux, where a socketpair also hangs up
      assert.is_true(has(revents[1], POLLRDHUP))
      assert.is_true(has(revents[1], POLLHUP))
    end
    assert.equal("", a:recv(1))
  end)

  it("always reports POLLHUP, even for events 0", function()
    if not POLLRDHUP then pending("POLLHUP on a socketpair: Linux") end
    assert(p:add(a, 0))
    assert.equal(0, select(3, p:wait(0)))
    b:close()
    local _, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.is_true(has(revents[1], POLLHUP))
    assert.is_false(has(revents[1], POLLIN))
  end)

  it("keeps an entry for a descriptor closed while registered, and "
     .. "lets a new descriptor with its number replace it", function()
    local fd = a:fileno()
    assert(p:add(a, "r", "old"))
    assert(b:send("x"))
    a:close()
    local objs, revents, n = p:wait(0)
    if backend == "epoll" then
      assert.equal(0, n)  -- the kernel dropped it
    else
      assert.equal(1, n)  -- poll(2) flags it
      assert.equal("old", objs[1])
      assert.equal(POLLNVAL, revents[1])
    end
    assert.equal(1, p:count())
    -- the kernel hands out the lowest free number, so fd comes back
    -- soon (unless a collected socket freed a lower one first)
    local opened, c, d = {}, nil, nil
    for _ = 1, 16 do
      local x, y = assert(core.socketpair())
      opened[#opened + 1] = {x, y}
      if x:fileno() == fd then c, d = x, y break end
      if y:fileno() == fd then c, d = y, x break end
    end
    finally(function() closeall(opened) end)
    if not c then pending("descriptor " .. fd .. " was not reused") end
    assert.is_true(p:add(c, "r", "new"))
    assert.equal(1, p:count())
    assert.equal(0, select(3, p:wait(0)))
    assert(d:send("y"))
    objs, revents, n = p:wait(T)
    assert.equal(1, n)
    assert.equal("new", objs[1])
    assert.equal(POLLIN, revents[1])
    local ok, _, code = p:add(c, "r")
    assert.is_nil(ok)
    assert.equal("EEXIST", code)
    assert.is_true(p:remove(fd))
    assert.equal(0, p:count())
  end)

  it("removes a descriptor that was closed while registered", function()
    local fd = a:fileno()
    assert(p:add(a, "r"))
    a:close()
    assert.is_true(p:remove(fd))
    assert.equal(0, p:count())
    assert.equal(0, select(3, p:wait(0)))
    local ok, _, code = p:remove(fd)
    assert.is_nil(ok)
    assert.equal("ENOENT", code)
  end)

  it("reports nothing for a descriptor removed after its close, while "
     .. "a duplicate keeps the socket open", function()
    local fd = a:fileno()
    assert(p:add(a, "r"))
    local dup = helper.dupfd(a)
    a:close()
    assert.is_true(p:remove(fd))
    assert(b:send("x"))  -- epoll still sees the file under fd
    assert.equal(0, select(3, p:wait(0)))
    assert.equal(0, p:count())
    helper.close_fds({dup})
  end)

  it("registers a duplicate as a descriptor of its own", function()
    local dup = helper.dupfd(a)
    assert(p:add(a, "r", "a"))
    assert(p:add(dup, "r", "dup"))
    assert(b:send("x"))
    local objs, _, n = p:wait(T)
    assert.equal(2, n)
    local got = {[objs[1]] = true, [objs[2]] = true}
    assert.same({a = true, dup = true}, got)
    assert(p:remove(dup))
    helper.close_fds({dup})
  end)

  it("clears the stale entries of reused result tables", function()
    local list = openpairs(3)
    if not list then pending("descriptor limit") end
    finally(function() closeall(list) end)
    for i, pair in ipairs(list) do
      assert(p:add(pair[1], "r", i))
      assert(pair[2]:send("x"))
    end
    local objs = {"junk", "junk", "junk", "junk", "junk"}
    local revents = {0, 0, 0, 0, 0, 0}
    local o, r, n = p:wait(T, objs, revents)
    assert.equal(3, n)
    assert.equal(objs, o)
    assert.equal(revents, r)
    assert.equal(3, #objs)
    assert.is_nil(objs[4])
    assert.is_nil(objs[5])
    assert.is_nil(revents[4])
    assert.is_nil(revents[6])
    list[1][1]:recv(1)
    list[3][1]:recv(1)
    n = select(3, p:wait(T, objs, revents))
    assert.equal(1, n)
    assert.same({2}, objs)
    assert.same({POLLIN}, revents)
    list[2][1]:recv(1)
    n = select(3, p:wait(0, objs, revents))
    assert.equal(0, n)
    assert.same({}, objs)
    assert.same({}, revents)
  end)

  it("returns 0 once a timeout has passed, never early", function()
    assert(p:add(a, "r"))
    local t0 = uptime()
    local objs, revents, n = p:wait(0.05)
    local t1 = uptime()
    assert.equal(0, n)
    assert.same({}, objs)
    assert.same({}, revents)
    if t0 and t1 then
      -- two readings in 10 ms steps of a wait of 50 ms or more
      assert.is_true(t1 - t0 >= 0.04 - 1e-9)
    end
    assert.equal(0, select(3, p:wait(0.0001)))  -- rounds up to the backend's
  end)

  it("waits without a timeout when nil or negative, until ready",
     function()
    assert(p:add(a, "r"))
    assert(b:send("x"))
    assert.equal(1, select(3, p:wait()))
    assert.equal(1, select(3, p:wait(nil)))
    assert.equal(1, select(3, p:wait(-1)))
    assert.equal(1, select(3, p:wait(math.huge)))
  end)

  it("reports 1000 ready socketpairs within a few waits", function()
    local list = openpairs(1000)
    if not list then pending("descriptor limit below 2000") end
    finally(function() closeall(list) end)
    local want = {}
    for i, pair in ipairs(list) do
      assert(p:add(pair[1], "r", i))
      assert(pair[2]:send("x"))
      want[i] = true
    end
    assert.is_truthy(collect(p, want, 20))
  end)

  it("watches 2000 socketpairs, beyond FD_SETSIZE", function()
    local list = openpairs(2000)
    if not list then pending("descriptor limit below 4000") end
    finally(function() closeall(list) end)
    for i, pair in ipairs(list) do
      assert(p:add(pair[1], "r", i))
    end
    assert.equal(2000, p:count())
    local want = {}
    for i = 1991, 2000 do  -- the highest descriptors
      assert(list[i][2]:send("x"))
      want[i] = true
    end
    local objs, _, n = p:wait(T)
    assert.equal(10, n)
    for i = 1, n do assert.is_true(want[objs[i]]) end
    for _, pair in ipairs(list) do assert(p:remove(pair[1])) end
    assert.equal(0, p:count())
    assert.equal(0, select(3, p:wait(0)))
  end)

  it("raises on arguments of the wrong type or range", function()
    assert.has_error(function() p:add() end)
    assert.has_error(function() p:add("x", "r") end)
    assert.has_error(function() p:add({}, "r") end)
    assert.has_error(function() p:add(-1, "r") end)
    assert.has_error(function() p:add(1.5, "r") end)
    assert.has_error(function() p:add(a) end)
    assert.has_error(function() p:add(a, "x") end)
    assert.has_error(function() p:add(a, {}) end)
    assert.has_error(function() p:add(a, -1) end)
    assert.has_error(function() p:add(a, 1 << 40) end)
    assert.has_error(function() p:add(a, POLLNVAL) end)
    assert.has_error(function() p:modify(a, "x") end)
    assert.has_error(function() p:remove() end)
    assert.has_error(function() p:remove(-5) end)
    assert.has_error(function() p:wait(0 / 0) end)
    assert.has_error(function() p:wait("soon") end)
    assert.has_error(function() p:wait(0, 5) end)
    assert.has_error(function() p:wait(0, {}, "x") end)
    assert.has_error(function() p.wait(io.stdout, 0) end)
    assert.has_error(function() p.add(a, a, "r") end)
    assert.has_error(function() p.count(nil) end)
    assert.has_error(function() core.poller("kqueue") end)
    assert.has_error(function() core.poller({}) end)
    local c = assert(core.socketpair())
    c:close()
    assert.has_error(function() p:add(c, "r") end)
    assert.equal(0, p:count())
  end)

  it("raises when used closed; close is idempotent", function()
    assert(p:add(a, "r"))
    assert.is_true(p:close())
    assert.is_true(p:close())
    assert.equal("lunasock.poller (closed)", tostring(p))
    for _, call in ipairs{
      function() p:add(b, "r") end,
      function() p:modify(a, "r") end,
      function() p:remove(a) end,
      function() p:wait(0) end,
      function() p:count() end,
      function() p:fileno() end,
      function() p:backend() end,
    } do
      assert.has_error(call, "attempt to use a closed poller")
    end
  end)

  -- poller:dispatch, as lunasock.loop uses it: a task table parked in
  -- readers[fd] with its coroutine yielded by a cosocket recv.
  describe("dispatch", function()
    local calls, readers, fd

    local function on_event(...) calls[#calls + 1] = {"event", ...} end
    local function on_resumed(...) calls[#calls + 1] = {"resumed", ...} end

    -- A task whose coroutine runs body(), parked on a:recv as the loop
    -- would park it.
    local function park(body)
      local co = coroutine.create(body)
      core.cosocket(co, true)
      local ok, wfd, events, left = coroutine.resume(co)
      assert.is_true(ok)
      assert.same({fd, POLLIN}, {wfd, events})
      assert.is_nil(left)
      local t = {co = co, chain = false, timer = false, waitfd = fd}
      readers[fd] = t
      return t
    end

    before_each(function()
      calls, readers, fd = {}, {}, a:fileno()
      assert(p:add(a, POLLIN))
    end)

    it("parks a task back without callbacks when it waits again", function()
      local got = {}
      local t = park(function()
        while true do got[#got + 1] = a:recv(10) end
      end)
      b:send("one")
      assert.equal(1, p:dispatch(T, readers, {}, on_event, on_resumed))
      assert.same({"one"}, got)
      assert.same({}, calls)
      assert.equal(t, readers[fd])
      assert.equal(fd, t.waitfd)
      b:send("two")
      assert.equal(1, p:dispatch(T, readers, {}, on_event, on_resumed))
      assert.same({"one", "two"}, got)
    end)

    it("hands a task that returns to on_resumed, unchained", function()
      local t = park(function() return "done", a:recv(10) end)
      b:send("x")
      assert.equal(1, p:dispatch(T, readers, {}, on_event, on_resumed))
      assert.same({{"resumed", t, true, "done", "x"}}, calls)
      assert.is_nil(readers[fd])
    end)

    it("hands a task's error to on_resumed", function()
      local t = park(function()
        a:recv(10)
        error("boom", 0)
      end)
      b:send("x")
      p:dispatch(T, readers, {}, on_event, on_resumed)
      assert.same({{"resumed", t, false, "boom"}}, calls)
      assert.equal("dead", coroutine.status(t.co))
    end)

    it("does not park back on a descriptor removed meanwhile", function()
      local t = park(function()
        while true do
          a:recv(10)
          p:remove(a)
        end
      end)
      b:send("x")
      p:dispatch(T, readers, {}, on_event, on_resumed)
      assert.same({{"resumed", t, true, fd, POLLIN}}, calls)
      assert.is_nil(readers[fd])
    end)

    it("leaves tasks with a timer or company, and other events, to on_event",
       function()
      local t = park(function() a:recv(10) end)
      t.timer = {}
      b:send("x")
      p:dispatch(T, readers, {}, on_event, on_resumed)
      t.timer, t.chain = false, {}
      p:dispatch(T, readers, {}, on_event, on_resumed)
      t.chain = false
      b:close()                     -- hang-up: POLLIN with POLLHUP
      b = nil
      p:dispatch(T, readers, {}, on_event, on_resumed)
      assert.equal(3, #calls)
      assert.same({"event", fd, POLLIN}, calls[1])
      assert.same({"event", fd, POLLIN}, calls[2])
      assert.equal("event", calls[3][1])
      assert.is_true(has(calls[3][3], POLLHUP))
      assert.equal("suspended", coroutine.status(t.co))
      assert.equal(t, readers[fd])
    end)

    it("ends the turn when a callback closes the poller", function()
      local c, d = assert(core.socketpair())
      local _ <close> = helper.closing(c, d)
      assert(p:add(c, POLLIN))
      b:send("x")
      d:send("x")
      assert.equal(1, p:dispatch(T, readers, {}, function() p:close() end,
                                 on_resumed))
      assert.has_error(function() p:dispatch(0, {}, {}, print, print) end,
                       "attempt to use a closed poller")
    end)

    it("returns 0 when nothing is ready, and checks its arguments", function()
      assert.equal(0, p:dispatch(0, readers, {}, on_event, on_resumed))
      assert.has_error(function() p:dispatch(0, nil, {}, print, print) end)
      assert.has_error(function() p:dispatch(0, {}, {}, nil, print) end)
      assert.has_error(function() p:dispatch(0, {}, {}, print, {}) end)
    end)
  end)

  it("closes at the end of a <close> scope", function()
    local outer
    do
      local q <close> = assert(core.poller(backend))
      assert(q:add(a, "r"))
      outer = q
    end
    assert.equal("lunasock.poller (closed)", tostring(outer))
  end)
end

describe("lunasock.core poller", function()
  for _, backend in ipairs({"epoll", "poll"}) do
    if available(backend) then
      describe(backend, function() backend_spec(backend) end)
    else
      pending(backend .. " is not available on this platform")
    end
  end
end)
