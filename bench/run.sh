#!/usr/bin/env bash
# Load-test `portico demo` against a bare net/http hello-world (bench/hello)
# on this machine, with the same load generator (bench/load), the same
# concurrency and the same duration, alternating which goes first, and
# print each round plus the medians and the ratio portico/bare.
#
#   bash bench/run.sh
#   DURATION=10s CONCURRENCY=32 ROUNDS=3 BENCH_PATH=/ bash bench/run.sh
#
# Portico runs as shipped: `portico demo` with its default log level (info,
# one access-log line per request) written to a file. Set
# PORTICO_LOG_LEVEL=warn to measure without access logs.
#
# Everything listens on 127.0.0.1 only; both servers and the temporary data
# directory are removed on exit. wrk is used additionally if installed,
# never required.
set -euo pipefail

DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1s}
BENCH_PATH=${BENCH_PATH:-/}

cd "$(dirname "$0")/.."

work=$(mktemp -d)
data=$(mktemp -d)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work" "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building portico, bench/hello and bench/load ..." >&2
go build -o "$work/portico" ./cmd/portico
go build -o "$work/hello" ./bench/hello
go build -o "$work/load" ./bench/load

# wait_url FILE PATTERN: wait until FILE contains a URL after PATTERN and
# print it.
wait_url() {
	local file=$1 pattern=$2 url i
	for i in $(seq 1 300); do
		url=$(sed -n "s|.*${pattern} \(http://[a-z0-9.:]*\).*|\1|p" "$file" | head -n1)
		if [[ -n $url ]]; then
			echo "$url"
			return 0
		fi
		sleep 0.1
	done
	echo "timed out waiting for $file; it says:" >&2
	cat "$file" >&2
	return 1
}

"$work/portico" demo --addr 127.0.0.1:0 --data "$data" >"$work/portico.out" 2>"$work/portico.log" &
pids+=($!)
"$work/hello" -addr 127.0.0.1:0 >"$work/hello.out" 2>&1 &
pids+=($!)

portico=$(wait_url "$work/portico.out" "running at")
bare=$(wait_url "$work/hello.out" "listening on")

echo "portico:       $portico$BENCH_PATH (log level ${PORTICO_LOG_LEVEL:-info}, to a file)" >&2
echo "bare net/http: $bare$BENCH_PATH" >&2
echo "load:          -c $CONCURRENCY -d $DURATION (+ $WARMUP warm-up) x $ROUNDS rounds, alternating order" >&2
echo "machine:       $(nproc) CPUs, $(go env GOOS)/$(go env GOARCH), $(go version | cut -d' ' -f3)" >&2

# measure NAME URL: one load run, appended to $work/results as
# "round name req/s p50 p90 p99 errors requests bytes/response".
measure() {
	local name=$1 url=$2 line
	line=$("$work/load" -url "$url" -c "$CONCURRENCY" -d "$DURATION" -warmup "$WARMUP" -tsv)
	printf '%s\t%s\t%s\n' "$round" "$name" "$line" >>"$work/results"
	printf '  round %s %-8s %s\n' "$round" "$name" "$line" >&2
}

: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
	if ((round % 2 == 1)); then
		measure portico "$portico$BENCH_PATH"
		measure bare "$bare$BENCH_PATH"
	else
		measure bare "$bare$BENCH_PATH"
		measure portico "$portico$BENCH_PATH"
	fi
done

echo
echo "GET $BENCH_PATH, -c $CONCURRENCY, $DURATION per run, $ROUNDS rounds"
awk -F'\t' '
function median(name, col,    n, i, j, v, t) {
	n = 0
	for (i = 1; i <= rows; i++) if (nm[i] == name) v[++n] = val[i, col]
	for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	if (n == 0) return 0
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ rows++; rnd[rows] = $1; nm[rows] = $2; for (c = 3; c <= 9; c++) val[rows, c] = $c }
END {
	printf "%-16s %12s %10s %10s %10s %8s %8s\n", "run", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "bytes"
	for (i = 1; i <= rows; i++)
		printf "%-16s %12.1f %10.3f %10.3f %10.3f %8d %8d\n", "round " rnd[i] " " nm[i], val[i, 3], val[i, 4], val[i, 5], val[i, 6], val[i, 7], val[i, 9]
	for (k = 1; k <= 2; k++) {
		name = (k == 1) ? "portico" : "bare"
		for (c = 3; c <= 7; c++) med[name, c] = median(name, c)
		printf "%-16s %12.1f %10.3f %10.3f %10.3f %8d\n", "median " name, med[name, 3], med[name, 4], med[name, 5], med[name, 6], med[name, 7]
	}
	r = "ratio p/bare"
	printf "%-16s %12.3f %10.2f %10.2f %10.2f\n", r, med["portico", 3] / med["bare", 3], med["portico", 4] / med["bare", 4], med["portico", 5] / med["bare", 5], med["portico", 6] / med["bare", 6]
}' "$work/results"

if command -v wrk >/dev/null 2>&1; then
	echo
	echo "wrk (installed, so also run once each; -t2 -c$CONCURRENCY -d$DURATION --latency):"
	for target in "portico $portico$BENCH_PATH" "bare $bare$BENCH_PATH"; do
		set -- $target
		echo "--- $1"
		wrk -t2 -c"$CONCURRENCY" -d"$DURATION" --latency "$2"
	done
fi
