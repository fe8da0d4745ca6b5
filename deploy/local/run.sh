#!/usr/bin/env bash
# Runs the whole pnstream pipeline on this machine, in the foreground:
# ClickHouse and the S3 gateway (bin/pnlocal) and NATS JetStream (bin/nats-server) in the
# background, then bin/recorder and bin/ingest, then pushes the seed fee and
# call event through ingest with bin/pnctl, then starts the platform
# simulator bin/pnsim, which creates a few bindings and pushes a steady
# trickle of simulated calls (SIM_CALL_RATE per second) to ingest, and
# prints where to look. Ctrl-C (or SIGTERM) stops everything it started, in
# reverse order; so does any of them dying on its own.
#
# Everything it writes is under .local/ (data in .local/nats and
# .local/clickhouse, logs in .local/*.log), so runs keep their data until
# `make clean`. Use `make run`, which builds the binaries first.
set -euo pipefail

if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
	echo "run.sh: needs bash >= 5.1 (wait -n -p), this is $BASH_VERSION" >&2
	exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

nats_port="${NATS_PORT:-14222}"
nats_monitor_port="${NATS_MONITOR_PORT:-18222}"
# JetStream's sync_interval (docs/RELIABILITY.md): empty keeps nats-server's
# default (fsync every 2 min), "always" fsyncs before every ack.
nats_sync_interval="${NATS_SYNC_INTERVAL:-}"
ch_tcp_port="${CLICKHOUSE_TCP_PORT:-19000}"
ch_http_port="${CLICKHOUSE_HTTP_PORT:-18123}"
ingest_addr="${INGEST_ADDR:-127.0.0.1:8080}"
sim_addr="${SIM_ADDR:-127.0.0.1:18090}"
console_addr="${CONSOLE_ADDR:-127.0.0.1:8090}"
# The console's static login for local runs (CONSOLE_ROLE: viewer, officer
# or auditor); a demo token for loopback only, not a secret.
console_token="${CONSOLE_TOKEN:-local-console-token-$(date +%s)}"
console_role="${CONSOLE_ROLE:-officer}"
s3_port="${S3_PORT:-17070}"
sim_call_rate="${SIM_CALL_RATE:-2}"
sim_bindings=6
app_key=demo-app-key
app_secret=demo-app-secret # a demo credential for the local simulator flow, not a secret
s3_access_key=pnlocal         # demo credentials of the local S3 gateway
s3_secret_key=pnlocal-secret
local_dir=.local
startup_timeout=60 # seconds, per component

pids=()  # background children, in start order
names=() # their names, parallel to pids

log() { printf 'run.sh: %s\n' "$*" >&2; }

die() {
	log "$*"
	exit 1
}

# show_log NAME prints the end of what NAME logged in this run (logs are
# appended across runs; start writes a marker line first).
show_log() {
	log "last lines of $local_dir/$1.log:"
	tac "$local_dir/$1.log" | sed '/^===== .* started /q' | tac | tail -n 30 >&2 || true
}

# start NAME CMD... runs CMD in the background, output appended to .local/NAME.log.
# setsid gives it a session of its own, so Ctrl-C in the terminal reaches only
# this script (Go programs re-enable the SIGINT that bash ignores for background
# jobs) and the children stop one by one, in order, from stop_all. A background
# job is not a process group leader, so setsid execs in place and $! stays the
# command's pid.
start() {
	local name=$1
	shift
	printf '\n===== %s started %s =====\n' "$name" "$(date -u +%FT%TZ)" >>"$local_dir/$name.log"
	setsid "$@" >>"$local_dir/$name.log" 2>&1 &
	pids+=("$!")
	names+=("$name")
	log "started $name (pid $!), log $local_dir/$name.log"
}

stopping=0
# stop_all stops the children in reverse start order: SIGTERM, then SIGKILL
# for one that is still running 30 s later. Safe to call more than once.
# shellcheck disable=SC2317 # only called from traps, which shellcheck does not follow
stop_all() {
	((stopping)) && return
	stopping=1
	# A second Ctrl-C while stopping means "now".
	trap 'log "killing what is left"; kill -KILL "${pids[@]}" 2>/dev/null || true' INT TERM
	local i pid name
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		name=${names[i]}
		kill -0 "$pid" 2>/dev/null || continue
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name still running after 30 s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		# Its exit status is of no interest once we asked it to stop.
		wait "$pid" 2>/dev/null || true
	done
}

trap 'stop_all' EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# check_alive fails the run when a child has exited.
check_alive() {
	local i
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			show_log "${names[i]}"
			die "${names[i]} (pid ${pids[i]}) exited during start-up"
		fi
	done
}

# wait_ready NAME URL [BODY] waits until URL answers 200 (with BODY, when
# given) while every child keeps running.
wait_ready() {
	local name=$1 url=$2 want=${3:-} deadline=$((SECONDS + startup_timeout)) body
	until body=$(curl -fsS --max-time 2 "$url" 2>/dev/null) && [[ -z $want || $body == "$want" ]]; do
		check_alive
		if ((SECONDS >= deadline)); then
			show_log "$name"
			die "$name not ready after ${startup_timeout} s ($url)"
		fi
		sleep 0.2
	done
	check_alive
	log "$name is ready"
}

# in_use HOST PORT: true when something accepts connections there. Checked
# up front: a readiness probe must not mistake another server for ours.
in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

for bin in bin/pnlocal bin/nats-server bin/recorder bin/ingest bin/pnctl bin/pnsim bin/console; do
	[[ -x $bin ]] || die "missing $bin: run 'make run' (or 'make build bin/nats-server')"
done
command -v curl >/dev/null || die "curl is needed: run 'make deps'"
for addr in "127.0.0.1:$ch_tcp_port" "127.0.0.1:$ch_http_port" "127.0.0.1:$nats_port" \
	"127.0.0.1:$nats_monitor_port" "$ingest_addr" "$sim_addr" "127.0.0.1:$s3_port" "$console_addr"; do
	! in_use "${addr%:*}" "${addr##*:}" || die "$addr is already in use (another 'make run'?); set the *_PORT/INGEST_ADDR/SIM_ADDR variables to move"
done
mkdir -p "$local_dir/nats" "$local_dir/clickhouse" "$local_dir/s3" "$local_dir/spool"

start clickhouse bin/pnlocal clickhouse --dir "$local_dir/clickhouse" \
	--tcp-port "$ch_tcp_port" --http-port "$ch_http_port"
wait_ready clickhouse "http://127.0.0.1:$ch_http_port/ping" "Ok."

# nats-server takes sync_interval from a configuration file only; the
# flags below override the rest of it.
# max_file_store is an explicit cap because the streams' default byte limits
# reserve 37 GiB, more than nats-server's default (75% of the free disk)
# grants on a small disk; nothing is written up front.
{
	printf 'jetstream {\n  max_file_store: 1TB\n'
	[[ -z $nats_sync_interval ]] || printf '  sync_interval: %s\n' "$nats_sync_interval"
	printf '}\n'
} >"$local_dir/nats.conf"
nats_conf=(-c "$local_dir/nats.conf")
start nats bin/nats-server "${nats_conf[@]}" --name pn-local --addr 127.0.0.1 --port "$nats_port" \
	--http_port "$nats_monitor_port" --jetstream --store_dir "$local_dir/nats"
wait_ready nats "http://127.0.0.1:$nats_monitor_port/healthz?js-enabled-only=true"

start s3 env PN_S3_ACCESS_KEY="$s3_access_key" PN_S3_SECRET_KEY="$s3_secret_key" \
	bin/pnlocal s3 --dir "$local_dir/s3" --port "$s3_port"
wait_ready s3 "http://127.0.0.1:$s3_port/health"

export PN_NATS_URL="nats://127.0.0.1:$nats_port"
export PN_CLICKHOUSE_ADDR="127.0.0.1:$ch_tcp_port"
export PN_CLICKHOUSE_DATABASE=pn
export PN_INGEST_ADDR="$ingest_addr"
export PN_RECORDER_ADMIN_ADDR="127.0.0.1:8081"
export PN_APP_KEY="$app_key"
export PN_APP_SECRET="$app_secret"
# The simulator is the platform here: its API for the recording mirror and
# pnctl, downloads from its (loopback) address allowed.
export PN_API_BASE_URL="http://$sim_addr"
export PN_RECORDING_HOSTS="${sim_addr%:*}"
export PN_RECORDING_ALLOW_PRIVATE=true
# The recording archive: the local S3 gateway, plain http on loopback.
export PN_S3_ENDPOINT="127.0.0.1:$s3_port"
export PN_S3_BUCKET=pn-recordings
export PN_S3_ACCESS_KEY="$s3_access_key"
export PN_S3_SECRET_KEY="$s3_secret_key"
export PN_S3_INSECURE=true
# Object locking on the bucket the recorder creates: the console's legal holds.
export PN_S3_OBJECT_LOCKING=true
export PN_RECORDING_SPOOL_DIR="$local_dir/spool"

start recorder bin/recorder
start ingest bin/ingest
wait_ready ingest "http://$ingest_addr/readyz"

log "pushing the seed fee record and call event"
if ! bin/pnctl push --url "http://$ingest_addr/v1/notifications" \
	--app-key "$app_key" --app-secret "$app_secret" \
	internal/privatenumber/testdata/seed-fee.json \
	internal/privatenumber/testdata/seed-event.json; then
	show_log ingest
	die "seed push failed"
fi

# The platform simulator: bindings on its X numbers (half of them
# recorded), calls at SIM_CALL_RATE per second pushed to ingest, re-pushed
# on the platform's real schedule (1 to 300 minutes) if ingest refuses.
start pnsim env PN_SIM_ADDR="$sim_addr" \
	PN_SIM_EVENTS_URL="http://$ingest_addr/v1/notifications/events" \
	PN_SIM_FEES_URL="http://$ingest_addr/v1/notifications/fees" \
	PN_SIM_CALL_RATE="$sim_call_rate" PN_SIM_BINDINGS="$sim_bindings" \
	bin/pnsim
wait_ready pnsim "http://$sim_addr/healthz"

# The compliance console on the same ClickHouse and S3, signed in with the
# static token (no auth proxy locally), plain http on loopback.
start console env PN_CONSOLE_ADDR="$console_addr" PN_CONSOLE_TOKEN="$console_token" \
	PN_CONSOLE_TOKEN_ROLE="$console_role" PN_CONSOLE_TOKEN_USER="${USER:-local}-local" \
	PN_CONSOLE_SECURE_COOKIES=false bin/console
wait_ready console "http://$console_addr/readyz"

cat <<EOF

pnstream is running (Ctrl-C stops it). Logs: $local_dir/*.log
  ingest      http://$ingest_addr/v1/notifications  (metrics: http://$ingest_addr/metrics)
  NATS        $PN_NATS_URL  (monitoring: http://127.0.0.1:$nats_monitor_port)
  ClickHouse  $PN_CLICKHOUSE_ADDR  (http: http://127.0.0.1:$ch_http_port)
  S3          http://127.0.0.1:$s3_port  bucket pn-recordings (versitygw; files under $local_dir/s3/data/pn-recordings)
  pnsim       http://$sim_addr  (the platform: API, recordings; $sim_bindings bindings, $sim_call_rate calls/s)
  console     http://$console_addr  (sign in with the token $console_token, role $console_role; CONSOLE_ROLE=auditor for the access log)

Rows, once the recorder has flushed its batch (the seed record, then the simulated calls):
  clickhouse-client --port $ch_tcp_port --query "SELECT count(), countIf(record_flag = 1), max(call_in_time) FROM pn.fee_records FINAL"
  clickhouse-client --port $ch_tcp_port --query "SELECT direction, ul_fail_reason, count() FROM pn.fee_records FINAL GROUP BY direction, ul_fail_reason ORDER BY count() DESC"
  clickhouse-client --port $ch_tcp_port --query "SELECT event_type, count() FROM pn.call_events FINAL GROUP BY event_type ORDER BY count() DESC"
  clickhouse-client --port $ch_tcp_port --query "SELECT icid, call_in_time, ingested_at FROM pn.fee_records FINAL ORDER BY ingested_at DESC LIMIT 5"

Archived recordings (the seed record's recording does not exist on the simulator: it ends 'failed'):
  clickhouse-client --port $ch_tcp_port --query "SELECT status, count(), sum(size_bytes) FROM pn.recordings FINAL GROUP BY status"
  clickhouse-client --port $ch_tcp_port --query "SELECT icid, object_key, size_bytes, sha256 FROM pn.recordings FINAL WHERE status = 'archived' ORDER BY mirrored_at DESC LIMIT 5"
  find $local_dir/s3/data/pn-recordings -name '*.wav' | head

The simulator:
  curl -s http://$sim_addr/sim/stats                       # calls, pushes, re-pushes, faults
  curl -s -X PUT -d '{"push":{"status":503,"for":"2m"}}' http://$sim_addr/sim/faults   # pushes fail for 2 min
  curl -s -X DELETE http://$sim_addr/sim/faults            # end every fault
  PN_API_BASE_URL=http://$sim_addr PN_APP_KEY=$app_key PN_APP_SECRET=$app_secret bin/pnctl query --virtual-num +8617000000001 --extend-num 0001

EOF

# Block until a child exits (or a signal runs a trap): all of them should run
# until we stop them, so any exit is a failure.
died=
status=0
wait -n -p died "${pids[@]}" || status=$?
for i in "${!pids[@]}"; do
	if [[ ${pids[i]} == "$died" ]]; then
		log "${names[i]} (pid $died) exited unexpectedly with status $status; stopping the rest"
		show_log "${names[i]}"
		break
	fi
done
exit 1
