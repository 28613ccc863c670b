# sshd.sh: sourced by tests; starts Debian's OpenSSH sshd for a test, on
# loopback or inside a network namespace the test made, with its own config,
# host key, authorized key and pid file (no PAM). Everything is bounded and
# torn down by sshd_cleanup (call it from the test's EXIT trap).
#
#   sshd_keys DIR                  host key, a client key, a wrong key, authorized_keys
#   sshd_start NAME DIR [opts] ADDR:PORT...
#                                  starts sshd listening on each ADDR:PORT; opts:
#                                  --netns NS  run it inside NS
#                                  --log LEVEL LogLevel (default VERBOSE)
#                                  sets SSHD_PID[NAME] and SSHD_LOG[NAME]
#   sshd_known_hosts DIR ADDR:PORT...  known_hosts lines for those, using DIR's host key
#   sshd_wait_port ADDR PORT [NS]  bounded wait until the port accepts
#   sshd_children PID              pids whose parent is PID
#
# sshd runs in a private mount namespace where the login user's ~/.bashrc is
# an empty file (SSHD_EMPTY_BASHRC=0 to keep it): bash sources ~/.bashrc for
# every command sshd runs, and a heavy one (pyenv init) costs 250 ms a command,
# which would be measured instead of the transport. The host is not touched.
SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_EMPTY_BASHRC=${SSHD_EMPTY_BASHRC:-1}
declare -A SSHD_PID SSHD_LOG
_sshd_pids=()

sshd_keys() {
	local dir=$1
	mkdir -p "$dir"
	ssh-keygen -q -t ed25519 -N '' -C fleetdeck-test-host -f "$dir/host_ed25519" </dev/null >/dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -C fleetdeck-test-other-host -f "$dir/other_host_ed25519" </dev/null >/dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -C fleetdeck-test-client -f "$dir/client_key" </dev/null >/dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -C fleetdeck-test-wrong -f "$dir/wrong_key" </dev/null >/dev/null || return 1
	cp "$dir/client_key.pub" "$dir/authorized_keys"
	chmod 600 "$dir"/host_ed25519 "$dir"/other_host_ed25519 "$dir"/client_key "$dir"/wrong_key
}

# sshd_wait_port ADDR PORT [NS]: up to 10 s
sshd_wait_port() {
	local addr=$1 port=$2 ns=${3:-} i
	local pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	for i in $(seq 200); do
		if "${pre[@]}" timeout 1 bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

sshd_start() {
	local name=$1 dir=$2; shift 2
	local ns="" level=VERBOSE
	while [ $# -gt 0 ]; do
		case $1 in
		--netns) ns=$2; shift 2 ;;
		--log) level=$2; shift 2 ;;
		*) break ;;
		esac
	done
	mkdir -p /run/sshd "$dir/$name"
	chmod 755 /run/sshd
	local cfg=$dir/$name/sshd_config
	{
		for l in "$@"; do echo "ListenAddress $l"; done
		cat <<CFG
HostKey $dir/host_ed25519
PidFile $dir/$name/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UseDNS no
MaxStartups 1000
MaxSessions 1000
MaxAuthTries 20
AllowTcpForwarding yes
PrintMotd no
LogLevel $level
CFG
	} >"$cfg"
	local pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	: >"$dir/$name/sshd.log"
	local rc_file
	rc_file=$(getent passwd "$(id -un)" | cut -d: -f6)/.bashrc
	# (a private mount namespace needs / to be a mount point: not so in a bare chroot, where
	# the login shell's rc file is Debian's small default anyway)
	if [ "$SSHD_EMPTY_BASHRC" = 1 ] && [ -f "$rc_file" ] &&
		"${pre[@]}" unshare --mount --propagation private true 2>/dev/null; then
		: >"$dir/$name/empty_bashrc"
		"${pre[@]}" unshare --mount --propagation private sh -c \
			'mount --bind "$1" "$2" && exec "$3" -D -f "$4" -E "$5"' sh \
			"$dir/$name/empty_bashrc" "$rc_file" "$SSHD_BIN" "$cfg" "$dir/$name/sshd.log" &
	else
		"${pre[@]}" "$SSHD_BIN" -D -f "$cfg" -E "$dir/$name/sshd.log" &
	fi
	local pid=$!
	_sshd_pids+=("$pid")
	SSHD_PID[$name]=$pid
	SSHD_LOG[$name]=$dir/$name/sshd.log
	local a
	for a in "$@"; do
		local addr=${a%:*} port=${a##*:}
		addr=${addr#[}; addr=${addr%]}
		if ! sshd_wait_port "$addr" "$port" "$ns"; then
			echo "sshd $name did not start listening on $a:" >&2
			cat "$dir/$name/sshd.log" >&2
			return 1
		fi
	done
	# with ip netns exec, $! is the sshd itself (exec), as without
	return 0
}

sshd_known_hosts() {
	local dir=$1; shift
	local key a addr port
	key=$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")
	for a in "$@"; do
		addr=${a%:*} port=${a##*:}
		if [ "$port" = 22 ]; then echo "$addr $key"; else echo "[$addr]:$port $key"; fi
	done
}

sshd_children() {
	local parent=$1 f
	for f in /proc/[0-9]*/stat; do
		# field 4 is the parent pid; the name (field 2) may hold spaces
		local s
		s=$(cat "$f" 2>/dev/null) || continue
		s=${s##*) }
		set -- $s
		[ "$2" = "$parent" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}

sshd_cleanup() {
	local p kids=()
	for p in "${_sshd_pids[@]}"; do kids+=($(sshd_children "$p")); done
	for p in "${_sshd_pids[@]}" "${kids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_sshd_pids[@]}"; do wait "$p" 2>/dev/null; done
	_sshd_pids=()
}
