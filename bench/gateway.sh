#!/usr/bin/env bash
# Plug-in calls per second and latency (p50, p99) under concurrency,
# direct to the example vehicle-registry plug-in, through nginx
# proxy_pass, through a bare Go reverse proxy (net/http/httputil) and
# through Portico's gateway behind a bare HTTP front, each in
# the benchmark's process and in a process of its own
# (BenchmarkGatewayHTTP in bench/gateway_http_test.go), on SQLite and, with
# PORTICO_TEST_POSTGRES_URL, PostgreSQL. Each round runs the six in an
# order rotated per round; the script prints every round, then per engine
# and server the medians, the latency added to direct's (+p50, +p99: the
# server's median less direct's) and the median of the per-round ratios
# to nginx, and for the gateway the median of the per-round ratios to the
# bare Go proxy in the same kind of process (gateway to goproxy,
# gateway-process to goproxy-process): how much of the gap to nginx is
# Go's HTTP stack (goproxy vs nginx) and how much the gateway's own work
# (gateway vs goproxy). cpu-us/call is the median CPU time the server's
# own processes used per call (nginx's master and workers, the
# *-process rows; "-" for servers inside the benchmark's process).
#
#   bash bench/gateway.sh
#   ROUNDS=5 BENCHTIME=5s bash bench/gateway.sh
#   OUT=/tmp/gw.txt bash bench/gateway.sh      # keep the raw output
#   BIN=/tmp/bench.test bash bench/gateway.sh  # a test binary built before
#                                               # (go test -c -o /tmp/bench.test ./bench),
#                                               # e.g. of another commit
#
# nginx (apt-get install nginx) is started by the benchmark on loopback
# with a generated configuration in a temporary directory; without it the
# nginx rows are skipped and no ratio is printed.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-3s}
OUT=${OUT:-$(mktemp)}

cd "$(dirname "$0")/.."
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || echo "nginx is not installed: the nginx rows are skipped" >&2

if [[ -n "${BIN:-}" ]]; then
	(cd bench && PORTICO_BENCH_ROUNDS=$ROUNDS "$BIN" -test.run '^$' -test.bench '^BenchmarkGatewayHTTP$' -test.benchtime "$BENCHTIME" -test.count 1 -test.timeout 60m) | tee "$OUT"
else
	PORTICO_BENCH_ROUNDS=$ROUNDS go test -run '^$' -bench '^BenchmarkGatewayHTTP$' -benchtime "$BENCHTIME" -count 1 -timeout 60m ./bench/ | tee "$OUT"
fi

echo
echo "medians of $ROUNDS rounds (raw output: $OUT)"
awk '
/^BenchmarkGatewayHTTP\// {
	split($1, part, "/")
	engine = part[2]; round = part[3]; server = part[4]
	sub(/^round=/, "", round); sub(/^server=/, "", server); sub(/-[0-9]+$/, "", server)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "req/s") rps = $i
		if ($(i+1) == "p50-ms") p50 = $i
		if ($(i+1) == "p99-ms") p99 = $i
		if ($(i+1) == "proxy-cpu-us/op") cpu = $i
	}
	key = engine SUBSEP server
	if (!(key in n)) { order[++keys] = key }
	n[key]++
	R[key, n[key]] = rps; P50[key, n[key]] = p50; P99[key, n[key]] = p99
	if (cpu != "") { nc[key]++; C[key, nc[key]] = cpu }
	cpu = ""
	byRound[engine, round, server] = rps
	rounds[engine, round] = 1
}
function median(arr, key, cnt,    v, i, j, t) {
	for (i = 1; i <= cnt; i++) v[i] = arr[key, i]
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
END {
	printf "%-9s %-16s %10s %9s %9s %10s %10s %9s %10s %12s\n", "engine", "server", "calls/s", "p50-ms", "p99-ms", "+p50-ms", "+p99-ms", "vs nginx", "vs goproxy", "cpu-us/call"
	# added latency: the median p50 (p99) of a server less that of direct, same engine
	for (k = 1; k <= keys; k++) {
		key = order[k]; split(key, ks, SUBSEP)
		if (ks[2] == "direct") { D50[ks[1]] = median(P50, key, n[key]); D99[ks[1]] = median(P99, key, n[key]) }
	}
	for (k = 1; k <= keys; k++) {
		key = order[k]; split(key, ks, SUBSEP); engine = ks[1]; server = ks[2]
		# the median of the per-round ratios calls/s(server) / calls/s(nginx)
		cnt = 0
		for (rk in rounds) {
			split(rk, rs, SUBSEP)
			if (rs[1] != engine) continue
			if ((engine, rs[2], "nginx") in byRound && (engine, rs[2], server) in byRound && byRound[engine, rs[2], "nginx"] > 0)
				ratio[key, ++cnt] = byRound[engine, rs[2], server] / byRound[engine, rs[2], "nginx"]
		}
		rtxt = cnt ? sprintf("%.2fx", median(ratio, key, cnt)) : "-"
		# the gateway against the bare Go proxy in the same kind of process
		base = server == "gateway" ? "goproxy" : server == "gateway-process" ? "goproxy-process" : ""
		cnt = 0
		if (base != "") for (rk in rounds) {
			split(rk, rs, SUBSEP)
			if (rs[1] != engine) continue
			if ((engine, rs[2], base) in byRound && (engine, rs[2], server) in byRound && byRound[engine, rs[2], base] > 0)
				gratio[key, ++cnt] = byRound[engine, rs[2], server] / byRound[engine, rs[2], base]
		}
		gtxt = cnt ? sprintf("%.2fx", median(gratio, key, cnt)) : "-"
		m50 = median(P50, key, n[key]); m99 = median(P99, key, n[key])
		a50 = (engine in D50) ? sprintf("%.3f", m50 - D50[engine]) : "-"
		a99 = (engine in D99) ? sprintf("%.2f", m99 - D99[engine]) : "-"
		# CPU per call of the server processes of its own (nginx, the
		# *-process rows); servers inside the benchmark process have none
		ctxt = (key in nc) ? sprintf("%.0f", median(C, key, nc[key])) : "-"
		printf "%-9s %-16s %10.0f %9.3f %9.2f %10s %10s %9s %10s %12s\n", engine, server, median(R, key, n[key]), m50, m99, a50, a99, rtxt, gtxt, ctxt
	}
}' "$OUT"
