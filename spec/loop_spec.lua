-- lunasock.loop: scheduler, cosockets, timers, cancellation, errors.
local core = require "lunasock.core"
local loop = require "lunasock.loop"
local helper = require "helper"

-- Runs fn inside the loop with a deadline: a test that would hang fails.
local function run(fn)
  local guard = loop.after(helper.TIMEOUT, function()
    loop.stop()
    error("test deadline passed")
  end)
  local results = table.pack(loop.run(function()
    local r = table.pack(fn())
    guard:cancel()
    return table.unpack(r, 1, r.n)
  end))
  guard:cancel()
  return table.unpack(results, 1, results.n)
end

describe("lunasock.loop", function()
  local errors
  before_each(function()
    errors = {}
    loop.on_error = function(_, msg) errors[#errors + 1] = msg end
  end)

  it("run returns the main function's results", function()
    assert.same({1, 2, 3}, {run(function() return 1, 2, 3 end)})
  end)

  it("spawn passes arguments and join returns results", function()
    run(function()
      local t = loop.spawn(function(a, b) return a + b, "x" end, 2, 3)
      assert.same({5, "x"}, {t:join()})
      assert.equal("done", t:status())
    end)
  end)

  it("a blocking recv suspends only its task", function()
    local order = {}
    run(function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local reader = loop.spawn(function()
        order[#order + 1] = "reading"
        local data = a:recv(10)
        order[#order + 1] = "got " .. data
        return data
      end)
      loop.spawn(function()
        order[#order + 1] = "writing"
        b:send("hello")
      end)
      assert.equal("hello", reader:join())
    end)
    assert.same({"reading", "writing", "got hello"}, order)
  end)

  it("runs a thousand concurrent tasks over loopback", function()
    local done = 0
    run(function()
      local l <close>, port = helper.listener()
      local server = loop.spawn(function()
        for _ = 1, 1000 do
          local c = assert(l:accept())
          loop.spawn(function()
            local data = assert(c:recv(100))
            assert(c:send(data))
            c:close()
          end)
        end
      end)
      local clients = {}
      for i = 1, 1000 do
        clients[i] = loop.spawn(function()
          local s <close> = assert(core.socket("inet", "stream"))
          assert(s:connect("127.0.0.1", port))
          assert(s:send("msg" .. i))
          assert.equal("msg" .. i, s:recv(100))
          done = done + 1
        end)
      end
      for _, t in ipairs(clients) do t:join() end
      server:join()
    end)
    assert.equal(1000, done)
    assert.same({}, errors)
  end)

  it("sleep and timers fire in order, within bounds", function()
    local fired = {}
    run(function()
      local start = loop.now()
      loop.after(0.03, function() fired[#fired + 1] = "b" end)
      loop.after(0.01, function() fired[#fired + 1] = "a" end)
      local late = loop.after(0.02, function() fired[#fired + 1] = "never" end)
      assert.is_true(late:cancel())
      assert.is_false(late:cancel())
      loop.sleep(0.05)
      local elapsed = loop.now() - start
      assert.is_true(elapsed >= 0.05, "slept " .. elapsed)
      assert.is_true(elapsed < 1, "slept " .. elapsed)
    end)
    assert.same({"a", "b"}, fired)
  end)

  it("a socket timeout inside a task returns ETIMEDOUT", function()
    run(function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      a:settimeout(0.02)
      local start = loop.now()
      local ok, _, code = a:recv(1)
      assert.is_nil(ok)
      assert.equal("ETIMEDOUT", code)
      assert.is_true(loop.now() - start >= 0.02)
      -- the descriptor works again afterwards
      b:send("z")
      assert.equal("z", a:recv(1))
    end)
  end)

  it("cancelling a waiting task releases its registration", function()
    run(function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local closed = false
      local waiter = loop.spawn(function()
        local _guard <close> = setmetatable({}, {__close = function() closed = true end})
        return a:recv(1)
      end)
      loop.sleep(0)  -- let it reach its wait
      assert.equal("waiting", waiter:status())
      assert.is_true(waiter:cancel())
      assert.is_true(closed)
      assert.same({nil, "cancelled"}, {waiter:join()})
      -- another task can wait on the same descriptor now
      local second = loop.spawn(function() return a:recv(1) end)
      b:send("k")
      assert.equal("k", second:join())
    end)
  end)

  it("an error in one task is reported and the others go on", function()
    local finished = false
    run(function()
      local bad = loop.spawn(function() error("boom") end)
      local good = loop.spawn(function()
        loop.sleep(0.01)
        finished = true
        return "ok"
      end)
      local ok, err = bad:join()
      assert.is_nil(ok)
      assert.matches("boom", err)
      assert.equal("ok", good:join())
    end)
    assert.is_true(finished)
    assert.equal(1, #errors)
    assert.matches("boom", errors[1])
    assert.matches("traceback", errors[1])
  end)

  it("closing a socket wakes the task waiting on it with EBADF", function()
    run(function()
      local a, _b <close> = assert(core.socketpair())
      local waiter = loop.spawn(function() return a:recv(1) end)
      loop.sleep(0)
      a:close()
      local ok, _, code = waiter:join()
      assert.is_nil(ok)
      assert.equal("EBADF", code)
    end)
  end)

  describe("task coroutines", function()
    it("are reused for the next task, which is a task of its own", function()
      run(function()
        local t1 = loop.spawn(function() return coroutine.running() end)
        local co1 = t1:join()
        local t2
        t2 = loop.spawn(function() return coroutine.running(), loop.current() == t2 end)
        local co2, current = t2:join()
        assert.equal(co1, co2)              -- the pooled coroutine
        assert.is_true(current)
        assert.equal("done", t1:status())
        assert.is_false(t1:cancel())
        assert.equal(co1, (t1:join()))      -- t1's results are its own still
      end)
    end)

    it("keep nothing of an ended task alive while pooled", function()
      local weak = setmetatable({}, {__mode = "v"})
      run(function()
        local arg = {}
        weak.arg = arg
        local t = loop.spawn(function(x) local r = {x} weak.result = r return r end, arg)
        assert.equal(arg, t:join()[1])
      end)
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak.arg)
      assert.is_nil(weak.result)
    end)

    it("are kept up to loop.POOL, checked when run starts (harden2: a junk POOL stopped the loop)",
       function()
      local saved = loop.POOL
      for _, bad in ipairs{"64", -1, 1.5, 0 / 0, {}} do
        loop.POOL = bad
        assert.has_error(function() loop.run(function() end) end,
                         "loop.POOL must be an integer >= 0 (got " .. tostring(bad) .. ")")
      end
      loop.POOL = 0
      local ok, err = pcall(run, function()
        local co1 = loop.spawn(function() return coroutine.running() end):join()
        local co2 = loop.spawn(function() return coroutine.running() end):join()
        assert.are_not.equal(co1, co2)      -- none kept
      end)
      loop.POOL = saved
      assert(ok, err)
    end)

    it("are not reused after a failure or a cancel", function()
      run(function()
        local failed = loop.spawn(function() local co = coroutine.running() error(co) end)
        local _, co = failed:join()
        assert.equal("dead", coroutine.status(co))
        local waiting = loop.spawn(function() loop.sleep(helper.TIMEOUT) end)
        loop.sleep(0)
        assert.is_true(waiting:cancel())
        local again = loop.spawn(function() return coroutine.running() end)
        assert.are_not.equal(co, (again:join()))
      end)
      assert.equal(1, #errors)
    end)
  end)

  describe("watch", function()
    it("starts fn(arg) as a task once the descriptor is readable, no task waiting before",
       function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local me, got = loop.current(), nil
        loop.watch(a:fileno(), function(arg)
          got = {arg, loop.current() ~= nil, a:recv(10)}
          loop.wake(me)
        end, "the arg")
        loop.sleep(0)
        loop.sleep(0)
        assert.is_nil(got)
        assert(b:send("hi"))
        assert.is_true(loop.suspend(helper.TIMEOUT))
        assert.same({"the arg", true, "hi"}, got)
      end)
    end)

    it("starts its task when the descriptor is closed; one watch per descriptor", function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local me, seen = loop.current(), nil
        local fd = a:fileno()
        loop.watch(fd, function() seen = core.type(a) loop.wake(me) end)
        assert.has_error(function() loop.watch(fd, print) end,
                         "watch: descriptor " .. fd .. " is already waited on")
        a:close()
        assert.is_true(loop.suspend(helper.TIMEOUT))
        assert.equal("closed socket", seen)
      end)
    end)

    it("keeps run going until it fires", function()
      local a, b = assert(core.socketpair())
      local _ <close> = helper.closing(a, b)
      local got
      run(function()
        loop.watch(a:fileno(), function() got = a:recv(10) end)
        loop.after(0.01, function() b:send("late") end)
      end)
      assert.equal("late", got)
    end)

    it("a failure in fn ends only its task; the loop and other watches go on (harden2)", function()
      run(function()
        local a, b = assert(core.socketpair())
        local c, d = assert(core.socketpair())
        local _ <close> = helper.closing(a, b, c, d)
        local me, got = loop.current(), nil
        loop.watch(a:fileno(), function() error("watch fn exploded") end)
        loop.watch(c:fileno(), function() got = c:recv(10) loop.wake(me) end)
        assert(b:send("x"))
        loop.sleep(0)
        loop.sleep(0)
        assert(d:send("y"))
        assert.is_true(loop.suspend(helper.TIMEOUT))
        assert.equal("y", got)
      end)
      assert.equal(1, #errors)
      assert.matches("watch fn exploded", errors[1])
    end)

    it("raises on a bad descriptor or function", function()
      assert.has_error(function() loop.watch(-1, print) end,
                       "bad argument #1 to 'watch' (descriptor expected)")
      assert.has_error(function() loop.watch(3, "f") end,
                       "bad argument #2 to 'watch' (function expected, got string)")
    end)
  end)

  it("suspend and wake hand values between tasks", function()
    run(function()
      local sleeper = loop.spawn(function() return loop.suspend(helper.TIMEOUT) end)
      loop.sleep(0)
      assert.is_true(loop.wake(sleeper, "hi"))
      assert.equal("hi", sleeper:join())
      local timed = loop.spawn(function() return loop.suspend(0.01) end)
      assert.is_false(timed:join())
      -- a wake of something that is not a task: a clear error, not an
      -- index error inside the loop
      assert.has_error(function() loop.run(5) end,   -- not spawn's error
                       "bad argument #1 to 'run' (function expected, got number)")
      local values = {n = 4, nil, 5, {}, "t"}
      for i = 1, values.n do
        local v = values[i]
        assert.has_error(function() loop.wake(v) end,
                         "bad argument #1 to 'wake' (lunasock.task expected, got "
                         .. type(v) .. ")")
      end
    end)
  end)

  it("stop ends run early", function()
    local after = false
    local ok, err = loop.run(function()
      loop.stop()
      loop.sleep(0.01)
      after = true
    end)
    assert.is_nil(ok)
    assert.equal("stopped", err)
    assert.is_false(after)
    -- the next run carries on with the task that was left
    loop.run()
    assert.is_true(after)
  end)

  it("outside the loop the same calls block with their timeout", function()
    local a, b = assert(core.socketpair())
    local _ <close> = helper.closing(a, b)
    a:settimeout(0.02)
    local _, _, code = a:recv(1)
    assert.equal("ETIMEDOUT", code)
    b:send("x")
    assert.equal("x", a:recv(1))
    local start = loop.now()
    loop.sleep(0.02)
    assert.is_true(loop.now() - start >= 0.02)
  end)

  it("sleep(0) outside a task returns at once (a negative wait blocked for ever)", function()
    -- the deadline had passed by the time the wait was computed, and the
    -- poller took the negative timeout as "no limit"
    -- in a child lua5.4 under timeout(1), so that a regression fails
    local t = assert(io.popen(("%s timeout %d %s -e %s"):format(helper.LUA_ENV,
      math.ceil(helper.TIMEOUT), helper.LUA,
      "'local loop = require [[lunasock.loop]] for _ = 1, 1000 do loop.sleep(0) end print(1)'")))
    assert.equal("1\n", t:read("a"))
    assert.is_true(t:close())
  end)

  it("reports a task's error on stderr even when loop.on_error fails", function()
    -- only the hook's failure was reported: the task's own error was lost
    local t = assert(io.popen(("%s timeout %d %s -e %s 2>&1"):format(helper.LUA_ENV,
      math.ceil(helper.TIMEOUT), helper.LUA,
      "'local loop = require [[lunasock.loop]] loop.on_error = nil "
      .. "loop.run(function() error([[the task error]]) end)'")))
    local out = t:read("a")
    assert.is_true(t:close())
    assert.matches("on_error failed", out, 1, true)
    assert.matches("the task error", out, 1, true)
  end)

  it("handles 100,000 pending timers", function()
    local count = 0
    run(function()
      local timers = {}
      for i = 1, 100000 do
        timers[i] = loop.after(10 + i * 1e-6, function() count = count + 1 end)
      end
      for i = 1, 100000, 2 do timers[i]:cancel() end
      for i = 2, 100000, 2 do timers[i]:cancel() end
      loop.after(0, function() count = count + 1 end)
      loop.sleep(0.01)
    end)
    assert.equal(1, count)
  end)

  it("resolves names off the loop thread, other tasks running meanwhile", function()
    run(function()
      local ticks = 0
      local ticker = loop.spawn(function()
        for _ = 1, 3 do loop.sleep(0); ticks = ticks + 1 end
      end)
      local list, err = core.getaddrinfo("localhost", "80", {socktype = core.SOCK_STREAM})
      assert(list, err)
      assert.is_true(#list >= 1)
      local seen = {}
      for _, ai in ipairs(list) do seen[ai.addr] = true end
      assert.is_true(seen["127.0.0.1"] or seen["::1"])
      ticker:join()
      assert.equal(3, ticks)
      -- errors come back the same way
      local none, _, code = core.getaddrinfo("localhost", "no-such-service")
      assert.is_nil(none)
      assert.equal("EAI_SERVICE", code)
    end)
  end)

  it("a cancelled lookup leaks no descriptor", function()
    run(function() end)  -- the loop's own poller exists from here on
    collectgarbage()
    collectgarbage()
    local before = helper.fd_count()
    run(function()
      local t = loop.spawn(function() return core.getaddrinfo("localhost", "80") end)
      loop.sleep(0)
      t:cancel()
    end)
    collectgarbage()
    collectgarbage()
    assert.equal(before, helper.fd_count())
  end)
  describe("between runs", function()
    it("a descriptor closed after a run and reused is watched again", function()
      local a, b = core.socketpair()
      run(function()
        local r = loop.spawn(function() return a:recv(1) end)
        loop.sleep(0)
        b:send("x")
        assert.equal("x", r:join())
      end)
      a:close(); b:close()               -- no loop: no close hook
      local c <close>, d = core.socketpair()
      local _d <close> = d
      c:settimeout(helper.TIMEOUT)
      local got
      run(function()
        loop.spawn(function() d:send("y") end)
        got = c:recv(1)
      end)
      assert.equal("y", got)
    end)

    it("a pending loop.after timer keeps run going until it fires", function()
      local fired = false
      loop.run(function() loop.after(0.01, function() fired = true end) end)
      assert.is_true(fired)
    end)

    it("a cancelled loop.after timer lets run end", function()
      local t0 = loop.now()
      loop.run(function() loop.after(helper.TIMEOUT, function() end):cancel() end)
      assert.is_true(loop.now() - t0 < helper.TIMEOUT / 2)
    end)
  end)

  it("regression: a descriptor closed between runs does not stay registered",
     function()
    local a, b = assert(core.socketpair())
    assert.equal("x", run(function()
      local t = loop.spawn(function() return a:recv(1) end)
      loop.sleep(0)   -- t waits: a is registered
      b:send("x")
      return t:join()
    end))
    local fd = a:fileno()
    a:close()   -- no loop running
    b:close()
    -- a new socket with the same number, waited on in the next run
    local spare, c, d = {}
    for _ = 1, 64 do
      local s1, s2 = assert(core.socketpair())
      if s1:fileno() == fd then c, d = s1, s2; break end
      spare[#spare + 1] = s1
      spare[#spare + 1] = s2
    end
    for _, s in ipairs(spare) do s:close() end
    assert(c, "descriptor number not reused")
    local _ <close> = helper.closing(c, d)
    assert.equal("y", run(function()
      local t = loop.spawn(function() return c:recv(1) end)
      loop.spawn(function() d:send("y") end)
      return t:join()
    end))
  end)

  -- poller:dispatch resumes a task parked alone on its descriptor and
  -- parks it back in C: these run tasks through that path.
  describe("with tasks woken by the dispatcher", function()
    -- A task echoing on a until EOF or an error; returns what recv said.
    local function echoer(a)
      return loop.spawn(function()
        while true do
          local data, err, code = a:recv(100)
          if not data or data == "" then return data, err, code end
          a:send(data)
        end
      end)
    end

    it("sees itself as the current, running task and can park", function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local seen = {}
        local t
        t = loop.spawn(function()
          for i = 1, 3 do
            assert.equal("x", a:recv(1))
            seen[i] = {loop.current() == t, t:status()}
            loop.sleep(0)
            assert.equal(i, loop.spawn(function() return i end):join())
          end
        end)
        for _ = 1, 3 do
          b:send("x")
          loop.sleep(0.001)
        end
        t:join()
        assert.same({{true, "running"}, {true, "running"}, {true, "running"}}, seen)
      end)
    end)

    it("echoes, and closing the socket wakes it with EBADF", function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(b)
        local t = echoer(a)
        for i = 1, 20 do
          b:send("m" .. i)
          assert.equal("m" .. i, b:recv(100))
        end
        assert.equal("waiting", t:status())
        a:close()
        local ok, _, code = t:join()
        assert.is_nil(ok)
        assert.equal("EBADF", code)
      end)
    end)

    it("can be cancelled, and its descriptor then serves another task", function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local t = echoer(a)
        for i = 1, 5 do
          b:send("m" .. i)
          assert.equal("m" .. i, b:recv(100))
        end
        assert.is_true(t:cancel())
        assert.same({nil, "cancelled"}, {t:join()})
        local second = loop.spawn(function() return a:recv(1) end)
        b:send("k")
        assert.equal("k", second:join())
      end)
    end)

    it("reports an error raised after a wake and goes on", function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(a, b)
        local t = loop.spawn(function()
          a:recv(1)
          a:recv(1)
          error("after two reads", 0)
        end)
        b:send("1")
        loop.sleep(0.001)
        b:send("2")
        assert.same({nil, "after two reads"}, {t:join()})
      end)
      assert.equal(1, #errors)
      assert.matches("after two reads", errors[1])
    end)

    it("wakes a task that closed its socket and waits on a new one with the same number",
       function()
      run(function()
        local a, b = assert(core.socketpair())
        local _ <close> = helper.closing(b)
        local peer
        local t = loop.spawn(function()
          assert.equal("x", a:recv(1))   -- woken by the dispatcher
          local fd = a:fileno()
          a:close()
          -- the lowest free number comes back, maybe after a few others
          local spare, c = {}
          for _ = 1, 64 do
            local s1, s2 = assert(core.socketpair())
            if s1:fileno() == fd then c, peer = s1, s2; break end
            spare[#spare + 1] = s1
            spare[#spare + 1] = s2
          end
          for _, s in ipairs(spare) do s:close() end
          assert(c, "descriptor number not reused")
          loop.spawn(function() peer:send("y") end)
          local data = c:recv(1)          -- same number, not registered yet
          c:close()
          peer:close()
          return data
        end)
        b:send("x")
        assert.equal("y", t:join())
      end)
    end)
  end)

  describe("loop.run inside a running loop (issue 10)", function()
    it("runs fn as a task and returns its results, or nil, err", function()
      local got = table.pack(loop.run(function()
        local a = table.pack(loop.run(function(x) loop.sleep(0) return x * 2, "two" end, 21))
        local saved = loop.on_error
        loop.on_error = function() end
        local b = table.pack(loop.run(function() error("inner boom", 0) end))
        loop.on_error = saved
        return a, b
      end))
      assert.same({n = 2, 42, "two"}, got[1])
      assert.same({n = 2, nil, "inner boom"}, got[2])
    end)

    it("without fn waits until every other task has ended", function()
      local order = {}
      assert.is_true(loop.run(function()
        loop.spawn(function() loop.sleep(0.01) order[#order + 1] = "a" end)
        loop.spawn(function() loop.sleep(0) order[#order + 1] = "b" end)
        assert.is_true(loop.run())
        order[#order + 1] = "main"
        return true
      end))
      assert.same({"b", "a", "main"}, order)
    end)

    it("without fn returns when the others wait on nothing that can wake them", function()
      assert.is_true(loop.run(function()
        local parked = loop.spawn(function() loop.suspend() end)
        assert.is_true(loop.run())
        parked:cancel()
        return true
      end))
    end)
  end)
end)
