-- The protocol-prototyping examples (line_protocol, binary_protocol,
-- game_lobby), run as child processes under timeout(1), checked by what
-- they print; line_protocol's --serve mode is also driven over TCP.
local core = require "lunasock.core"
local helper = require "helper"

local BUILD = os.getenv("LUNASOCK_BUILD") or "build"
local ENV = ("env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s/?.so;;'"):format(BUILD)

local function command(name, args)
  return ("%s timeout 15 %s examples/%s %s"):format(ENV, helper.LUA, name, args or "")
end

local function run(name, args)
  local p = assert(io.popen(command(name, args) .. " 2>&1"))
  local out = p:read("a")
  local _, _, status = p:close()
  return out, status
end

describe("protocol examples", function()
  it("line_protocol.lua runs its scripted session", function()
    local out, status = run("line_protocol.lua")
    assert.equal(0, status, out)
    assert.matches("> SET color blue%s+< OK", out)
    assert.matches("> GET color%s+< VALUE blue", out)
    assert.matches("> KEYS%s+< KEYS color size", out)
    assert.matches("> GET size%s+< NONE", out)
    assert.matches("> FLY away%s+< ERR unknown command", out)
  end)

  it("line_protocol.lua is under 40 lines", function()
    local n = 0
    for _ in io.lines("examples/line_protocol.lua") do n = n + 1 end
    assert.is_true(n < 40, n .. " lines")
  end)

  it("line_protocol.lua --serve answers a real client", function()
    local p = assert(io.popen("echo $$; exec " .. command("line_protocol.lua", "--serve --port 0")))
    local pid = assert(math.tointeger(tonumber(p:read("l"))))
    local ok, err = pcall(function()
      local line = p:read("l")
      local host, port = assert(line:match("^listening on ([%d.]+):(%d+)$"))
      local c <close> = assert(core.socket("inet", "stream"))
      c:settimeout(helper.TIMEOUT)
      assert(c:connect(host, tonumber(port)))
      assert(c:send("SET k hello world\r\nGET k\nQUIT\n"))
      local got = {}
      repeat
        local data = assert(c:recv(100))
        got[#got + 1] = data
      until data == ""
      assert.equal("OK\nVALUE hello world\n", table.concat(got))
    end)
    os.execute("kill " .. pid)
    p:close()
    assert(ok, err)
  end)

  it("binary_protocol.lua computes over length-prefixed packed frames", function()
    local out, status = run("binary_protocol.lua")
    assert.equal(0, status, out)
    assert.matches("#1 add%(1.5, 2.5, 3%)%s+= 7 ", out)
    assert.matches("#2 mul%(2, 3, 7%)%s+= 42 ", out)
    assert.matches("#3 avg%(10, 20%)%s+= 15 ", out)
    assert.matches("#4 avg%(%)%s+! avg of nothing", out)
    assert.matches("#5 op9%(1%)%s+! unknown op 9", out)
  end)

  it("game_lobby.lua relays positions within a lobby only", function()
    local out, status = run("game_lobby.lua")
    assert.equal(0, status, out)
    assert.matches("alice %(red lobby%): WELCOME alice 1; last positions seen: bob@8,8; "
                   .. "events: JOINED bob, LEFT bob", out)
    assert.matches("bob   %(red lobby%): WELCOME bob 2; last positions seen: alice@2,1", out)
    assert.matches("carol %(blue lobby%): WELCOME carol 1; last positions seen: none", out)
  end)
end)
