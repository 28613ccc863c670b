#!/usr/bin/env bash
# cli: fleetdeck's command line: help, version, exit codes, where the inventory comes from, config errors.
set -u
FD=${FLEETDECK:?set FLEETDECK to the fleetdeck binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok()   { passed=$((passed+1)); echo "ok   $*"; }
bad()  { failed=$((failed+1)); echo "FAIL $*"; }
# expect NAME WANT_RC GREP_REGEX(on stdout+stderr, may be empty) -- CMD...
expect() {
  local name=$1 want=$2 re=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$name: exit $rc, wanted $want"; printf '%s\n' "$out" | head -20; return; fi
  if [ -n "$re" ] && ! printf '%s\n' "$out" | grep -Eq -- "$re"; then bad "$name: output lacks /$re/"; printf '%s\n' "$out" | head -20; return; fi
  ok "$name"
}

printf '[g1]\nh1\nh2\n' > "$tmp/a.ini"
printf '[g2]\nh3\n' > "$tmp/b.ini"
printf '[g3]\nh9\n' > "$tmp/env.ini"

expect "--help lists commands and exit codes" 0 'Exit status: 0 ok; 1 findings' -- "$FD" --help
expect "--help names the inventory command"  0 '^  inventory ' -- "$FD" --help
expect "help inventory"                      0 'usage: fleetdeck inventory' -- "$FD" help inventory
expect "--version"                           0 '^fleetdeck [0-9]+\.[0-9]+\.[0-9]+$' -- "$FD" --version
expect "unknown command is a usage error"    2 'no such command: frobnicate' -- "$FD" frobnicate
expect "unknown option is a usage error"     2 '' -- "$FD" --frobnicate
expect "inventory without a mode"            2 'one of --list' -- "$FD" inventory -i "$tmp/a.ini"
expect "two modes at once"                   2 'choose one of' -- "$FD" inventory -i "$tmp/a.ini" --list --graph
expect "missing inventory file"              2 'a.nope' -- "$FD" inventory -i "$tmp/a.nope" --list

# -i is repeatable and merges in order, before or after the command
out=$("$FD" -i "$tmp/a.ini" inventory -i "$tmp/b.ini" --hosts all 2>&1)
[ "$out" = $'h1\nh2\nh3' ] && ok "-i merges in order" || { bad "-i merges in order"; echo "$out"; }

# precedence: -i > FLEETDECK_INVENTORY > config > ./inventory
mkdir -p "$tmp/xdg/fleetdeck" "$tmp/cwd"
printf 'inventory: ../../b.ini\n' > "$tmp/xdg/fleetdeck/config.yaml"
cp "$tmp/a.ini" "$tmp/cwd/inventory"
out=$(cd "$tmp/cwd" && env -u FLEETDECK_INVENTORY XDG_CONFIG_HOME=/nonexistent "$FD" inventory --hosts all 2>&1)
[ "$out" = $'h1\nh2' ] && ok "./inventory is the fallback" || { bad "./inventory is the fallback"; echo "$out"; }
out=$(cd "$tmp/cwd" && env -u FLEETDECK_INVENTORY XDG_CONFIG_HOME="$tmp/xdg" "$FD" inventory --hosts all 2>&1)
[ "$out" = "h3" ] && ok "config inventory (relative to the config file) beats ./inventory" || { bad "config inventory"; echo "$out"; }
out=$(cd "$tmp/cwd" && FLEETDECK_INVENTORY="$tmp/env.ini,$tmp/b.ini" XDG_CONFIG_HOME="$tmp/xdg" "$FD" inventory --hosts all 2>&1)
[ "$out" = $'h9\nh3' ] && ok "FLEETDECK_INVENTORY (comma-separated) beats config" || { bad "FLEETDECK_INVENTORY"; echo "$out"; }
out=$(cd "$tmp/cwd" && FLEETDECK_INVENTORY="$tmp/env.ini" XDG_CONFIG_HOME="$tmp/xdg" "$FD" -i "$tmp/a.ini" inventory --hosts all 2>&1)
[ "$out" = $'h1\nh2' ] && ok "-i beats everything" || { bad "-i beats everything"; echo "$out"; }

# config errors: file:line: what is wrong, exit 2
printf 'inventory: a.ini\ninvetory: b.ini\n' > "$tmp/typo.yaml"
expect "unknown setting names file and line" 2 "typo.yaml:2: unknown setting 'invetory'" -- "$FD" --config "$tmp/typo.yaml" inventory --list
printf 'inventory: [a.ini\n' > "$tmp/broken.yaml"
expect "broken YAML names file and line" 2 'broken.yaml:[0-9]+: ' -- "$FD" --config "$tmp/broken.yaml" inventory --list
printf 'read_only: maybe\n' > "$tmp/ro.yaml"
expect "bad boolean names file and line" 2 "ro.yaml:1: read_only: expected true or false" -- "$FD" --config "$tmp/ro.yaml" inventory -i "$tmp/a.ini" --list
expect "--config to a missing file" 2 'no such file' -- "$FD" --config "$tmp/none.yaml" inventory -i "$tmp/a.ini" --list

# inventory errors: file:line, exit 2, nothing on stdout
printf '[g]\nh1\n[g:children]\nnope\n' > "$tmp/bad.ini"
expect "bad inventory: file:line, exit 2" 2 "bad.ini:4: " -- "$FD" inventory -i "$tmp/bad.ini" --list
out=$("$FD" inventory -i "$tmp/bad.ini" --list 2>/dev/null)
[ -z "$out" ] && ok "bad inventory prints nothing on stdout" || bad "bad inventory printed to stdout"

# --host needs exactly one host
expect "--host with a group" 2 'single valid host' -- "$FD" inventory -i "$tmp/a.ini" --host g1
expect "--graph of an unknown group" 2 'Pattern must be valid group name' -- "$FD" inventory -i "$tmp/a.ini" --graph nope

# the default command summarises the fleet
expect "default command summarises" 0 '^2 devices in 1 groups$' -- "$FD" -i "$tmp/a.ini"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
