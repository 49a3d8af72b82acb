-- The protocol-prototyping examples (line_protocol, binary_protocol,
-- game_lobby), run as child processes under timeout(1) with this tree's
-- modules (the build directory from $LUNASOCK_BUILD, as .busted does),
-- checked by what they print; the --serve modes are driven over real
-- sockets.
local core = require "lunasock.core"
local helper = require "helper"

local command = helper.example_command   -- each child bounded by timeout(1)

-- Runs an example to its end: its output (stdout and stderr) and status.
local function run(name, args)
  local p = assert(io.popen(command(name, args) .. " 2>&1"))
  local out = p:read("a")
  local _, _, status = p:close()
  return out, status
end

-- Starts an example with --serve --port 0, calls fn(host, port) once it
-- says where it listens, then stops it (by its pid) and waits for it.
local function serving(name, fn)
  local pid, p, line = helper.example_start(name, "--serve --port 0")
  local ok, err = pcall(function()
    assert(line, "no 'listening on' line")
    local host, port = line:match("^listening on ([%d.]+):(%d+)$")
    assert(host, "unexpected first line: " .. line)
    fn(host, tonumber(port))
  end)
  helper.stop_child(pid, p)
  assert(ok, err)
end

describe("protocol examples", function()
  describe("line_protocol.lua", function()
    it("runs its scripted session and exits 0", function()
      local out, status = run("line_protocol.lua")
      assert.equal(0, status, out)
      assert.equal(table.concat({
        "> SET color blue   < OK",
        "> SET size L       < OK",
        "> GET color        < VALUE blue",
        "> KEYS             < KEYS color size",
        "> DEL size         < DELETED",
        "> GET size         < NONE",
        "> FLY away         < ERR unknown command",
        "> QUIT             < closed",
      }, "\n") .. "\n", out)
    end)

    it("is under 40 lines", function()
      local n = 0
      for _ in io.lines("examples/line_protocol.lua") do n = n + 1 end
      assert.is_true(n < 40, n .. " lines")
    end)

    it("--serve answers a real client, LF and CRLF alike, until QUIT", function()
      serving("line_protocol.lua", function(host, port)
        local c <close> = assert(core.socket("inet", "stream"))
        c:settimeout(helper.TIMEOUT)
        assert(c:connect(host, port))
        assert(c:send("SET k hello world\r\nGET k\nget k\nDEL k\nGET k\nSET k\nQUIT\n"))
        local got = {}
        repeat
          local data = assert(c:recv(100))
          got[#got + 1] = data
        until data == ""
        assert.equal("OK\nVALUE hello world\nVALUE hello world\nDELETED\nNONE\n"
                     .. "ERR usage: SET k v\n", table.concat(got))
      end)
    end)

    it("--serve serves clients one after another and at once", function()
      serving("line_protocol.lua", function(host, port)
        local a <close> = assert(core.socket("inet", "stream"))
        local b <close> = assert(core.socket("inet", "stream"))
        for _, c in ipairs{a, b} do
          c:settimeout(helper.TIMEOUT)
          assert(c:connect(host, port))
        end
        assert(a:send("SET shared 1\n"))
        assert.equal("OK\n", a:recv(100))
        assert(b:send("GET shared\n"))
        assert.equal("VALUE 1\n", b:recv(100))
      end)
    end)
  end)

  describe("binary_protocol.lua", function()
    it("computes over length-prefixed packed frames and refuses a hostile one", function()
      local out, status = run("binary_protocol.lua")
      assert.equal(0, status, out)
      assert.matches("^server on 127%.0%.0%.1:%d+, frames: >I4 length", out)
      assert.matches("\n#1 add%(1.5, 2.5, 3%)%s+= 7 +%(29%-byte request, 13%-byte reply%)\n", out)
      assert.matches("\n#2 mul%(2, 3, 7%)%s+= 42 ", out)
      assert.matches("\n#3 avg%(10, 20%)%s+= 15 ", out)
      assert.matches("\n#4 avg%(%)%s+! avg of nothing\n", out)
      assert.matches("\n#5 op9%(1%)%s+! unknown op 9\n", out)
      assert.matches("\nserver: dropped a client: frame of 4294967295 bytes exceeds the "
                     .. "limit of 65536 %(EMSGSIZE%)\nhostile client, after a 4 GiB length "
                     .. "prefix: closed\n$", out)
    end)
  end)

  describe("game_lobby.lua", function()
    it("relays positions within a lobby only, tick by tick", function()
      local out, status = run("game_lobby.lua")
      assert.equal(0, status, out)
      local port = out:match("^relay on 127%.0%.0%.1:(%d+)\n")
      assert(port, out)
      assert.equal(table.concat({
        "relay on 127.0.0.1:" .. port,
        "alice joins lobby red  -> WELCOME alice 1",
        "bob   joins lobby red  -> WELCOME bob 2",
        "carol joins lobby blue -> WELCOME carol 1",
        "tick 1",
        "  alice at 0,0  sees bob@9,9",
        "  bob   at 9,9  sees alice@0,0",
        "  carol at 5,5  sees nobody",
        "tick 2",
        "  alice at 1,0  sees bob@8,9",
        "  bob   at 8,9  sees alice@1,0",
        "  carol at 5,6  sees nobody",
        "tick 3 (bob leaves)",
        "  alice at 2,1  sees nobody",
        "  bob   at 8,8  sees alice@2,1",
        "  carol at 5,7  sees nobody",
        "alice heard: JOINED bob, LEFT bob",
        "bob   heard: nothing",
        "carol heard: nothing",
      }, "\n") .. "\n", out)
    end)

    it("--serve relays between real UDP clients", function()
      serving("game_lobby.lua", function(host, port)
        local function player()
          local s = assert(core.socket("inet", "dgram"))
          s:settimeout(helper.TIMEOUT)
          assert(s:connect(host, port))
          return s
        end
        local a, b, c = player(), player(), player()
        local _ <close> = helper.closing(a, b, c)
        assert(a:send("JOIN red ann"))
        assert.equal("WELCOME ann 1", a:recv(512))
        assert(b:send("JOIN red ben\n"))        -- as nc -u sends it
        assert.equal("WELCOME ben 2", b:recv(512))
        assert.equal("JOINED ben", a:recv(512))
        assert(c:send("JOIN blue cy"))
        assert.equal("WELCOME cy 1", c:recv(512))
        assert(a:send("POS 3 -4"))
        assert.equal("POS ann 3 -4", b:recv(512))
        assert(b:send("LEAVE"))
        assert.equal("LEFT ben", a:recv(512))
        -- c heard nothing from the red lobby: its first datagram is its SYNC
        assert(c:send("SYNC 7"))
        assert.equal("SYNC 7", c:recv(512))
      end)
    end)
  end)
end)
