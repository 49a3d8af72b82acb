-- lunasock.loop: a coroutine event loop on core.poller.
--
-- Every task is a coroutine marked with core.cosocket, so a core socket
-- call in it that would block yields (fd, events, seconds left) to this
-- scheduler instead of blocking; the scheduler resumes it with true when
-- the descriptor is ready, or false when its time is up. Loop functions
-- that park a task (sleep, join) yield the private PARK marker. A task
-- may also coroutine.yield() with no values to let the others run.
--
-- Descriptors stay registered (level-triggered) while tasks keep waiting
-- on them, so a connection that reads, writes and reads again costs no
-- epoll_ctl; interest in a direction nobody waits for is dropped when an
-- event for it arrives.
--
-- Each turn waits with poller:dispatch, which also does the common case
-- in C: a task parked alone on a descriptor (no timer) is resumed there
-- and, when it waits on the same descriptor again, parked back, with no
-- Lua of ours running. Everything else comes back here: on_event for the
-- other events, on_resumed for whatever such a resume returned. The task
-- running is therefore found from the coroutine running, not from a
-- variable the scheduler sets.
local core = require "lunasock.core"
local check = require "lunasock.check"

local co_create, co_resume, co_yield = coroutine.create, coroutine.resume,
                                       coroutine.yield
local co_close, co_running = coroutine.close, coroutine.running
local co_status = coroutine.status
local cosocket, monotime = core.cosocket, core.monotime
local traceback, pack, unpack = debug.traceback, table.pack, table.unpack
local error, setmetatable, getmetatable, type = error, setmetatable, getmetatable, type
local math_type = math.type

local POLLIN, POLLOUT = core.POLLIN, core.POLLOUT
local READ_EVENTS = POLLIN | core.POLLERR | core.POLLHUP | core.POLLPRI
                    | (core.POLLRDHUP or 0)
local WRITE_EVENTS = POLLOUT | core.POLLERR | core.POLLHUP

local M = {}

local DONE, PARK = {}, {}    -- markers: a task's function returned; parked

-- Task coroutines kept for reuse (see runner): a task that ends and one
-- that starts then cost no new coroutine, nor its garbage.
M.POOL = 64

-- scheduler state (one loop per Lua state)
local poller                  -- core.poller while a loop runs
local running = false         -- inside run()
local stopping = false
local task_of = setmetatable({}, {__mode = "k"})  -- coroutine -> task
local alive = 0               -- tasks spawned and not ended, and watches set
local readers, writers = {}, {}  -- fd -> first waiting task (chained)
local interest = {}           -- fd -> events registered with the poller
local nwaiting = 0            -- tasks (and watches) waiting on descriptors
local watch_fn, watch_arg = {}, {}  -- fd -> loop.watch's fn and arg
local ready_t, ready_v = {}, {}  -- queue of tasks to resume, and a value
local ready_head, ready_tail = 1, 0
local heap, nheap = {}, 0     -- timers, a binary heap on .when
local pending_fns = 0         -- loop.after timers not yet fired: they
                              -- keep run() going like tasks do
local ended                   -- the results of the task whose DONE handle()
                              -- is taking (see runner)
local pool, npool = {}, 0     -- coroutines of ended tasks, for the next
                              -- spawns: at most M.POOL (about 1-2 KB each)
local pool_max = M.POOL       -- M.POOL, checked when run() starts
local quiet_waiters, nquiet = {}, 0  -- tasks in a nested loop.run() without
                              -- a function: waiting for all others to end

---------------------------------------------------------------- timers

local function heap_swap(i, j)
  local a, b = heap[i], heap[j]
  heap[i], heap[j] = b, a
  a.pos, b.pos = j, i
end

local function heap_up(i)
  while i > 1 do
    local parent = i // 2
    if heap[parent].when <= heap[i].when then return end
    heap_swap(i, parent)
    i = parent
  end
end

local function heap_down(i)
  while true do
    local l, smallest = 2 * i, i
    if l <= nheap and heap[l].when < heap[smallest].when then smallest = l end
    if l + 1 <= nheap and heap[l + 1].when < heap[smallest].when then
      smallest = l + 1
    end
    if smallest == i then return end
    heap_swap(i, smallest)
    i = smallest
  end
end

local function timer_add(entry)
  nheap = nheap + 1
  heap[nheap] = entry
  entry.pos = nheap
  heap_up(nheap)
  return entry
end

local function timer_remove(entry)
  local i = entry.pos
  if not i then return end
  entry.pos = nil
  if i == nheap then
    heap[nheap] = nil
    nheap = nheap - 1
    return
  end
  local last = heap[nheap]
  heap[nheap] = nil
  nheap = nheap - 1
  heap[i] = last
  last.pos = i
  heap_up(i)
  heap_down(last.pos)
end

local Timer = {}
Timer.__index = Timer
Timer.__name = "lunasock.timer"

-- timer:cancel() -> true if it had not fired yet
function Timer:cancel()
  if not self.pos then return false end
  timer_remove(self)
  if self.fn then pending_fns = pending_fns - 1 end
  return true
end

---------------------------------------------------------------- tasks

local Task = {}
Task.__index = Task
Task.__name = "lunasock.task"

-- The task whose coroutine is running (nil in the scheduler, or in a
-- plain coroutine that a task resumed: that one cannot park the task).
local function running_task()
  return task_of[co_running()]
end

-- Whether t's coroutine is running, or has resumed the one running.
local function is_running(t)
  local st = co_status(t.co)
  return st == "running" or st == "normal"
end

local function enqueue(t, value)
  ready_tail = ready_tail + 1
  ready_t[ready_tail], ready_v[ready_tail] = t, value
end

local function unchain(list, fd, t)
  local head = list[fd]
  if head == t then
    list[fd] = t.chain or nil
  else
    while head and head.chain ~= t do head = head.chain end
    if head then head.chain = t.chain end
  end
  t.chain = false
end

-- Forgets whatever the task is waiting for (descriptor, timer).
local function unwait(t)
  local fd = t.waitfd
  if fd then
    unchain(t.waitdir == POLLIN and readers or writers, fd, t)
    t.waitfd = false
    nwaiting = nwaiting - 1
  end
  if t.timer then
    timer_remove(t.timer)
    t.timer = false
  end
end

local function finish(t, results)
  t.done, t.results = true, results
  alive = alive - 1
  local joiners = t.joiners
  if joiners then
    t.joiners = nil
    for i = 1, #joiners do enqueue(joiners[i]) end
  end
end

-- The default error report: stderr, with the task's traceback. Replace
-- M.on_error (function(task, message_with_traceback)) to report elsewhere.
function M.on_error(_, message)
  io.stderr:write("lunasock.loop: task failed: ", message, "\n")
  io.stderr:flush()
end

local function fail(t, err)
  local message = traceback(t.co, type(err) == "string" and err
                            or ("(error object is a %s value)"):format(type(err)))
  finish(t, {n = 2, nil, err})
  local ok, herr = pcall(M.on_error, t, message)
  if not ok then   -- the task's own error is not lost with the hook's
    io.stderr:write("lunasock.loop: on_error failed: ", tostring(herr), "\n",
                    "lunasock.loop: task failed: ", message, "\n")
  end
end

local function register(fd, events)
  local want = interest[fd]
  if want == nil then
    if not poller:add(fd, events) then return false end
    interest[fd] = events
  elseif want & events == 0 then
    if not poller:modify(fd, want | events) then return false end
    interest[fd] = want | events
  end
  return true
end

local function wait_fd(t, fd, events, timeout)
  local list = events == POLLIN and readers or writers
  t.chain = list[fd] or false
  list[fd] = t
  t.waitfd, t.waitdir = fd, events
  nwaiting = nwaiting + 1
  if timeout then
    t.timer = timer_add{when = monotime() + timeout, task = t, value = false}
  end
  local want = interest[fd]
  if want and want & events ~= 0 then return end  -- the usual case
  if not register(fd, events) then
    -- not pollable (a regular file, or already closed): retry at once,
    -- and the call itself reports what is wrong
    unwait(t)
    enqueue(t, true)
  end
end

-- A yield of fd, events, seconds that no core call would make (a task's
-- own coroutine.yield(...)): the task fails, and only it.
local function bad_wait(fd, events, timeout)
  return fd < 0 or fd > 0x7fffffff or (events ~= POLLIN and events ~= POLLOUT)
         or (timeout ~= nil and not (math_type(timeout) and timeout >= 0
                                     and timeout <= check.MAX_SECONDS))
end

-- What a resume returned: the task ended (DONE; runner left its results
-- in ended), failed, or yielded a wait.
local function handle(t, ok, a, b, c)
  if not ok then return fail(t, a) end
  if math_type(a) == "integer" then   -- the usual
    if bad_wait(a, b, c) then
      fail(t, "yielded an invalid wait (fd, events, seconds): "
              .. tostring(a) .. ", " .. tostring(b) .. ", " .. tostring(c))
      return co_close(t.co)  -- its pending <close> variables close
    end
    return wait_fd(t, a, b, c)
  end
  if a == DONE then
    local results = ended
    ended = nil
    finish(t, results)
    if npool < pool_max then -- suspended in runner, ready for another task
      local co = t.co
      task_of[co] = nil       -- which would keep t, and its results, alive
      npool = npool + 1
      pool[npool] = co
    end
    return
  end
  if a == PARK then return end
  enqueue(t)  -- a plain coroutine.yield(): run again after the others
end

local function resume(t, v)
  return handle(t, co_resume(t.co, v))
end

-- A task's coroutine: runs fn(...), hands the results over (ended, then
-- a yield of DONE) and waits, pooled, to run the next task's fn(...).
-- While it waits it holds nothing of the task (its arguments and results
-- would stay alive with it): runner's frame, arguments and all, is gone
-- (a tail call to after) before the yield. A coroutine that failed or was
-- cancelled is dead and never pooled.
local after
local function runner(fn, ...)
  ended = pack(fn(...))
  return after()
end
function after()
  return runner(co_yield(DONE))
end

-- loop.spawn(fn, ...) -> task; fn(...) starts on the next turn of the loop.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local co
  if npool > 0 then
    co = pool[npool]
    pool[npool], npool = nil, npool - 1
  else
    co = co_create(runner)
    cosocket(co, true)
  end
  -- The fields the hot path reads and writes exist from the start (false,
  -- not nil): a missing field costs a trip through the metatable on every
  -- read and a new hash slot on every write.
  local t = setmetatable({co = co, done = false, start = false, chain = false,
                          waitfd = false, waitdir = false, timer = false}, Task)
  task_of[co] = t
  alive = alive + 1
  t.start = pack(fn, ...)
  enqueue(t, t.start)
  return t
end

-- task:join() -> the task's results, or nil, err when it failed or was
-- cancelled. Waits (parks the calling task) until the task ends; outside
-- the loop it may only be called once the task has ended.
function Task:join()
  if not self.done then
    local me = running_task()
    if me == nil then error("join: the task has not ended and no loop task is waiting", 2) end
    if me == self then error("join: a task cannot join itself", 2) end
    local joiners = self.joiners
    if not joiners then joiners = {}; self.joiners = joiners end
    joiners[#joiners + 1] = me
    co_yield(PARK)
  end
  local r = self.results
  return unpack(r, 1, r.n)
end

-- task:cancel() -> true if the task was still running. Its pending
-- <close> variables are closed; joiners get nil, "cancelled".
function Task:cancel()
  if self.done then return false end
  if is_running(self) then error("cancel: a task cannot cancel itself (return instead)", 2) end
  unwait(self)
  if self.quiet then
    self.quiet = nil
    nquiet = nquiet - 1
  end
  finish(self, {n = 2, nil, "cancelled"})
  self.cancelled = true
  co_close(self.co)
  return true
end

-- task:status() -> "running", "waiting", "ready", "done" or "cancelled"
function Task:status()
  if self.cancelled then return "cancelled" end
  if self.done then return "done" end
  if is_running(self) then return "running" end
  if self.waitfd or self.timer then return "waiting" end
  return "ready"
end

-- loop.current() -> the task running now, or nil outside the loop
function M.current()
  return running_task()
end

-- loop.suspend([timeout]) -> the value given to loop.wake, or false when
-- timeout seconds pass first. Parks the calling task: the building block
-- for queues, conditions and races between tasks.
function M.suspend(timeout)
  local t = running_task()
  if t == nil then error("suspend: not inside a loop task", 2) end
  check.timeout(timeout, 1, "suspend")
  if timeout then t.timer = timer_add{when = monotime() + timeout, task = t, value = false} end
  t.suspended = true
  local v = co_yield(PARK)
  t.suspended = nil
  return v
end

-- loop.wake(task[, value]) -> true if task was suspended: it resumes on
-- the next turn, its suspend() returning value (default true).
function M.wake(t, value)
  if getmetatable(t) ~= Task then
    error("bad argument #1 to 'wake' (lunasock.task expected, got " .. type(t) .. ")", 2)
  end
  if not t.suspended or t.done then return false end
  t.suspended = nil
  if t.timer then
    timer_remove(t.timer)
    t.timer = false
  end
  if value == nil then value = true end
  enqueue(t, value)
  return true
end

---------------------------------------------------------------- sleeping

local sleeper  -- a poller used as a plain sleep outside the loop

-- loop.sleep(s): suspends the calling task for s seconds; outside a loop
-- task it blocks the process.
function M.sleep(s)
  check.seconds(s, 1, "sleep")
  local t = running_task()
  if t == nil then
    sleeper = sleeper or core.poller()
    local deadline = monotime() + s
    repeat
      -- never negative: the poller takes that as "wait for ever"
      local left = deadline - monotime()
      sleeper:wait(left > 0 and left or 0)
    until monotime() >= deadline
    return
  end
  t.timer = timer_add{when = monotime() + s, task = t}
  co_yield(PARK)
end

M.now = monotime

-- loop.after(s, fn) -> timer: fn() runs as a new task after s seconds
-- unless timer:cancel() comes first.
function M.after(s, fn)
  check.seconds(s, 1, "after")
  if type(fn) ~= "function" then
    error("bad argument #2 to 'after' (function expected)", 2)
  end
  pending_fns = pending_fns + 1
  return timer_add(setmetatable({when = monotime() + s, fn = fn}, Timer))
end

---------------------------------------------------------------- watching

-- loop.watch(fd, fn, arg): fn(arg) runs as a new task once fd is
-- readable (input, EOF, an error) or closed, and the watch is over. No
-- task waits meanwhile: what a watch holds is two table slots, so a
-- server can keep an idle connection this way rather than in a task
-- parked on its recv (a coroutine: a kilobyte and more). One watch per
-- descriptor, and none while a task waits to read it; the loop runs on
-- while a watch is set, as it does for a waiting task.
function M.watch(fd, fn, arg)
  if math_type(fd) ~= "integer" or fd < 0 or fd > 0x7fffffff then
    error("bad argument #1 to 'watch' (descriptor expected)", 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'watch' (function expected, got " .. type(fn) .. ")", 2)
  end
  if watch_fn[fd] or readers[fd] then
    error("watch: descriptor " .. fd .. " is already waited on", 2)
  end
  poller = poller or core.poller()
  watch_fn[fd], watch_arg[fd] = fn, arg
  nwaiting, alive = nwaiting + 1, alive + 1
  if not register(fd, POLLIN) then   -- not pollable: at once
    watch_fn[fd], watch_arg[fd] = nil, nil
    nwaiting, alive = nwaiting - 1, alive - 1
    M.spawn(fn, arg)
  end
end

-- Ends fd's watch by starting its task: true if there was one.
local function fire_watch(fd)
  local fn = watch_fn[fd]
  if not fn then return false end
  local arg = watch_arg[fd]
  watch_fn[fd], watch_arg[fd] = nil, nil
  nwaiting, alive = nwaiting - 1, alive - 1
  M.spawn(fn, arg)
  return true
end

---------------------------------------------------------------- the loop

-- The close hook: a socket is being closed. Drop its registration and
-- wake its waiters (their calls then report EBADF).
local function wake_all(list, fd)
  local t = list[fd]
  while t do
    local nxt = t.chain
    unwait(t)
    enqueue(t, true)
    t = nxt
  end
end

local function on_close(fd)
  if interest[fd] then
    interest[fd] = nil
    poller:remove(fd)
  end
  wake_all(readers, fd)
  wake_all(writers, fd)
  fire_watch(fd)
end

local function wake_list(list, fd)
  local t = list[fd]
  if not t then return false end
  list[fd] = nil
  while t do
    local nxt = t.chain
    t.chain, t.waitfd = false, false
    nwaiting = nwaiting - 1
    if t.timer then
      timer_remove(t.timer)
      t.timer = false
    end
    handle(t, co_resume(t.co, true))  -- resume(t, true), inlined: hot
    t = nxt
  end
  return true
end

-- An event poller:dispatch left to us: wake the waiters of fd.
local function on_event(fd, ev)
  local idle = 0   -- directions reported with nobody waiting
  if ev & READ_EVENTS ~= 0 and not wake_list(readers, fd) and not fire_watch(fd) then
    idle = idle | POLLIN
  end
  if ev & WRITE_EVENTS ~= 0 and not wake_list(writers, fd) then
    idle = idle | POLLOUT
  end
  local want = interest[fd]
  if want and idle ~= 0 then
    -- level-triggered: stop asking for what nobody waits for
    local keep = want
    if idle & POLLIN ~= 0 and not readers[fd] then keep = keep & ~POLLIN end
    if idle & POLLOUT ~= 0 and not writers[fd] then keep = keep & ~POLLOUT end
    if keep ~= want then
      if keep == 0 then
        poller:remove(fd)
        interest[fd] = nil
      else
        poller:modify(fd, keep)
        interest[fd] = keep
      end
    end
  end
end

-- poller:dispatch resumed t, which it had taken off its list (t was
-- alone on its descriptor, without a timer), and the task did something
-- other than wait there again: finish what wake_list does.
local function on_resumed(t, ok, a, b, c)
  t.waitfd = false
  nwaiting = nwaiting - 1
  return handle(t, ok, a, b, c)
end

-- The same turn as poller:dispatch, all in Lua (loop.C_DISPATCH = false):
-- every event goes to on_event. The contract poller:dispatch relies on
-- is the one of its comment in csrc/poller.c: readers/writers map fd to
-- the first waiting task, whose chain, timer and co fields are false,
-- false and the coroutine (never nil) when it is alone and untimed.
local function lua_dispatch(p, timeout)
  local fds, revents, n = p:wait(timeout)
  if not fds then return nil, revents, n end
  for i = 1, n do on_event(fds[i], revents[i]) end
  return n
end

-- loop.C_DISPATCH: true (the default) lets poller:dispatch resume a task
-- parked alone on its descriptor without running the scheduler's Lua;
-- false does every turn in Lua. Read when run() starts.
M.C_DISPATCH = true

local function run_ready()
  -- only what is queued now; tasks queued meanwhile run next turn
  local last = ready_tail
  while ready_head <= last do
    local t, v = ready_t[ready_head], ready_v[ready_head]
    ready_t[ready_head], ready_v[ready_head] = nil, nil
    ready_head = ready_head + 1
    if not t.done then
      local start = t.start
      if start and v == start then
        t.start = false
        handle(t, co_resume(t.co, unpack(start, 1, start.n)))
      else
        resume(t, v)
      end
    end
  end
  if ready_head > ready_tail then ready_head, ready_tail = 1, 0 end
end

local function fire_timers()
  local now = monotime()
  while nheap > 0 and heap[1].when <= now do
    local e = heap[1]
    timer_remove(e)
    local t = e.task
    if t then
      t.timer, t.suspended = false, nil
      if t.waitfd then unwait(t) end
      enqueue(t, e.value)
    else
      pending_fns = pending_fns - 1
      M.spawn(e.fn)
    end
  end
end

-- loop.stop(): run() returns at the end of the current turn.
function M.stop()
  stopping = true
end

-- Wakes every task waiting in a nested loop.run() (their run returns).
local function wake_quiet()
  local list = quiet_waiters
  quiet_waiters, nquiet = {}, 0
  for i = 1, #list do
    local t = list[i]
    if not t.done then
      t.quiet = nil
      enqueue(t, true)
    end
  end
end

-- loop.run inside a running loop, called by task me.
local function run_nested(me, fn, ...)
  if fn then return M.spawn(fn, ...):join() end
  me.quiet = true
  nquiet = nquiet + 1
  quiet_waiters[#quiet_waiters + 1] = me
  co_yield(PARK)
  return true
end

-- loop.run(fn, ...) -> fn's results (nil, err if it failed): runs fn as a
-- task, and every task spawned, until all have ended or loop.stop().
-- Inside a task of a running loop (a script run by `lunasock run` that
-- calls loop.run itself), fn runs as a new task and loop.run waits for
-- it; loop.run() without fn waits until every other task has ended.
function M.run(fn, ...)
  if fn ~= nil and type(fn) ~= "function" then   -- not spawn's error: run was called
    error("bad argument #1 to 'run' (function expected, got " .. type(fn) .. ")", 2)
  end
  if running then
    local me = running_task()
    if me == nil then error("loop.run: the loop is already running (call it from a task)", 2) end
    return run_nested(me, fn, ...)
  end
  -- read here, once: a junk value set by the caller raises now, at the
  -- door, not inside the scheduler when the first task ends (which
  -- stopped every task: harden2)
  local pmax = M.POOL
  if math_type(pmax) ~= "integer" or pmax < 0 then
    error("loop.POOL must be an integer >= 0 (got " .. tostring(pmax) .. ")", 2)
  end
  pool_max = pmax
  local main = fn and M.spawn(fn, ...)
  running, stopping = true, false
  poller = poller or core.poller()
  for _, list in ipairs{readers, writers} do   -- waiters from a stopped run
    for fd, t in pairs(list) do register(fd, t.waitdir) end
  end
  for fd in pairs(watch_fn) do register(fd, POLLIN) end
  -- The hook stays after run returns: a descriptor closed between runs
  -- (by a collected resolver job, say) must still leave the poller and
  -- the interest table, or a new socket given its number would be taken
  -- for registered and never wake its task.
  core.setclosehook(on_close)
  local dispatch = M.C_DISPATCH and poller.dispatch or lua_dispatch
  local ok, err = pcall(function()
    while not stopping and (alive > 0 or pending_fns > 0) do
      if ready_head <= ready_tail then run_ready() end
      if stopping or (alive == 0 and pending_fns == 0) then break end
      if nquiet > 0 and alive == nquiet and pending_fns == 0 then
        wake_quiet()   -- only nested loop.run() calls are left
      end
      local timeout
      if ready_head <= ready_tail then
        timeout = 0
      elseif nheap > 0 then
        timeout = heap[1].when - monotime()
        if timeout < 0 then timeout = 0 end
      elseif nwaiting == 0 then
        if nquiet == 0 then
          break  -- every task is parked on another: nothing can wake them
        end
        wake_quiet()
        timeout = 0
      end
      local n, err, code = dispatch(poller, timeout, readers, writers,
                                    on_event, on_resumed)
      if not n then
        error("lunasock.loop: waiting failed: " .. err .. " (" .. code .. ")")
      end
      if nheap > 0 then fire_timers() end
    end
  end)
  running = false
  if not ok then error(err, 0) end
  if main then
    if main.done then return main:join() end
    return nil, "stopped"
  end
  return true
end

-- loop.running() -> true inside loop.run
function M.running()
  return running
end

-- loop.reset(): forgets every task, timer and wait, and the poller,
-- without running, cancelling or closing any of them: for a child process
-- after core.fork, whose copies of the parent's tasks must never run. Its
-- poller descriptor is the parent's epoll set too, so the child must not
-- touch it: it closes only its own copy and makes a new one on the next
-- run. May be called inside a task (even while run() is on the stack);
-- loop.run can then be called again, and what it runs is the child's own.
-- The parent's sockets stay open in the child until collected or closed.
function M.reset()
  if poller then poller:close() end  -- this process's copy; the set is untouched
  poller = nil
  running, stopping = false, false
  task_of = setmetatable({}, {__mode = "k"})
  alive, nwaiting, pending_fns = 0, 0, 0
  quiet_waiters, nquiet = {}, 0
  readers, writers, interest = {}, {}, {}
  watch_fn, watch_arg = {}, {}
  ready_t, ready_v, ready_head, ready_tail = {}, {}, 1, 0
  heap, nheap = {}, 0
  pool, npool = {}, 0
end

M.Task, M.Timer = Task, Timer
return M
