#!/usr/bin/env bash
# Runs every benchmark in bench/ beside the baseline it is measured against
# in the same run, then prints one markdown table (measure, portico,
# baseline, ratio, goal), the table docs/performance.md records.
#
#   bash bench/run-all.sh              # full: 3 s per benchmark, load script 10 s × 3 rounds
#   QUICK=1 bash bench/run-all.sh      # quick: 1 s per benchmark (200 ms for the slow
#                                      # ones), load script 3 s × 1 round; a few minutes
#   OUT=/tmp/all.txt bash bench/run-all.sh   # keep the raw output
#   ONLY='HomePage|Healthz' bash bench/run-all.sh   # a subset (regexp on the Go benchmark name)
#
# With PORTICO_TEST_POSTGRES_URL set, the benchmarks that take an engine
# add PostgreSQL rows. nginx (gateway rows) and an SMTP-free loopback are
# started by the benchmarks themselves; what is missing is skipped and the
# row says so. The machine is shared: read the ratios, not the absolute
# numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
QUICK=${QUICK:-}
OUT=${OUT:-$(mktemp)}
ONLY=${ONLY:-.}
if [[ -n $QUICK ]]; then
	T=1s; SLOW=200ms; LOAD_DURATION=3s; LOAD_ROUNDS=1; GW_ROUNDS=1
else
	T=3s; SLOW=1s; LOAD_DURATION=10s; LOAD_ROUNDS=3; GW_ROUNDS=3
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building the benchmark binary ..." >&2
go test -c -o "$work/bench.test" ./bench/

# bench NAME BENCHTIME: one top-level Go benchmark, its output appended to OUT.
bench() {
	[[ $1 =~ $ONLY ]] || return 0
	echo "== $1 ($2)" >&2
	(cd bench && PORTICO_BENCH_ROUNDS=$GW_ROUNDS "$work/bench.test" -test.run '^$' -test.bench "^$1\$" \
		-test.benchtime "$2" -test.count 1 -test.timeout 60m) >>"$OUT" 2>&1 || echo "$1 failed (see $OUT)" >&2
}

: >"$OUT"
bench BenchmarkHomePage "$T"
bench BenchmarkHomePageTraced "$T"
bench BenchmarkLookupPage "$T"
bench BenchmarkHealthz "$T"
bench BenchmarkSignedInDashboard "$T"
bench BenchmarkNotifyAPISend "$T"
bench BenchmarkEmailDelivery "$SLOW"
bench BenchmarkOIDCClientCredentials "$T"
bench BenchmarkSubmit "$T"
bench BenchmarkGateway "$T"
bench BenchmarkGatewayHTTP "$T"
bench BenchmarkEventAppend "$SLOW"
bench BenchmarkObligationsImport 1x
bench BenchmarkStylesheet "$T"

# The load script: portico demo and bench/hello in separate processes.
if [[ HomePageLoad =~ $ONLY ]]; then
	echo "== bench/run.sh ($LOAD_DURATION × $LOAD_ROUNDS)" >&2
	DURATION=$LOAD_DURATION ROUNDS=$LOAD_ROUNDS bash bench/run.sh 2>&1 | sed 's/^/load: /' >>"$OUT" || echo "bench/run.sh failed (see $OUT)" >&2
fi

echo
echo "raw output: $OUT ($( [[ -n $QUICK ]] && echo quick || echo full ) mode, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
# Each row: measure | portico line pattern | baseline line pattern | unit | goal.
# A pattern is matched against the benchmark's name with the -N suffix
# removed; the value is the unit's number on that line (the median when
# several lines match, e.g. gateway rounds). A ratio above 1 is better
# for rates; for latency units (ms) portico/baseline below 1 is better.
awk -v rows='
home page (in-process client)|^BenchmarkHomePage/server=portico$|^BenchmarkHomePage/server=bare-net-http$|req/s|>= 0.25x
home page, traces on (OTLP) vs off|^BenchmarkHomePageTraced/server=portico-traces-on$|^BenchmarkHomePageTraced/server=portico-traces-off$|req/s|near 1x
home page, traces off vs bare|^BenchmarkHomePageTraced/server=portico-traces-off$|^BenchmarkHomePageTraced/server=bare-net-http$|req/s|>= 0.25x
lookup page|^BenchmarkLookupPage/server=portico$|^BenchmarkLookupPage/server=bare-net-http$|req/s|
/healthz|^BenchmarkHealthz/server=portico$|^BenchmarkHealthz/server=bare-net-http$|req/s|
signed-in dashboard, messages of others vs none|^BenchmarkSignedInDashboard/others=[1-9][0-9]*/inbox-index=00016$|^BenchmarkSignedInDashboard/others=0$|req/s|
Notify sends accepted (sqlite)|^BenchmarkNotifyAPISend/db=sqlite/server=portico$|^BenchmarkNotifyAPISend/db=sqlite/server=bare-net-http$|req/s|>= 3,500/s
emails into SMTP (10 workers)|^BenchmarkEmailDelivery/sender=portico-jobs-10$|^BenchmarkEmailDelivery/sender=bare-go-mail$|emails/s|1M in 10 min (1,667/s)
OIDC client-credential grants (sqlite) vs Keycloak/vCPU|^BenchmarkOIDCClientCredentials/db=sqlite$|KEYCLOAK|req/s|>= 5,000/s
submissions vs raw insert (sqlite)|^BenchmarkSubmit/engine=sqlite/op=submit$|^BenchmarkSubmit/engine=sqlite/op=raw-insert$|ops/s|
plug-in call, one at a time (sqlite)|^BenchmarkGateway/sqlite/through-gateway$|^BenchmarkGateway/sqlite/direct$|ns/op|
plug-in calls under concurrency vs nginx (sqlite)|^BenchmarkGatewayHTTP/sqlite/round=[0-9]+/server=gateway$|^BenchmarkGatewayHTTP/sqlite/round=[0-9]+/server=nginx$|req/s|
events appended vs raw rows (sqlite, 1 writer)|^BenchmarkEventAppend/engine=sqlite/writers=1$|RAW|events/s|
obligations imported vs raw rows (sqlite)|^BenchmarkObligationsImport/engine=sqlite$|RAW|rows/s|
stylesheet (identity)|^BenchmarkStylesheet/server=portico/encoding=identity$|^BenchmarkStylesheet/server=bare-fileserver/encoding=identity$|req/s|
home page, separate processes (bench/run.sh)|LOAD portico|LOAD bare|req/s|>= 0.25x
' '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n == 0 ? "" : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) { v[name, $(i + 1)] = v[name, $(i + 1)] " " $i }
	names[++nn] = name
}
/^load: median portico/ { v["LOAD portico", "req/s"] = " " $4 }
/^load: median bare/ { v["LOAD bare", "req/s"] = " " $4 }
function pick(pat, unit,    k, n, a, vals, m, i) {
	n = 0
	for (k = 1; k <= nn; k++) if (names[k] ~ pat && (names[k], unit) in v) {
		m = split(v[names[k], unit], vals, " "); for (i = 1; i <= m; i++) a[++n] = vals[i] + 0
	}
	if (pat ~ /^LOAD/ && (pat, unit) in v) { a[++n] = v[pat, unit] + 0 }
	return median(a, n)
}
END {
	print "| measure | portico | baseline | ratio | goal |"
	print "|---|---:|---:|---:|---|"
	nr = split(rows, row, "\n")
	for (r = 1; r <= nr; r++) {
		if (row[r] == "") continue
		split(row[r], f, "|")
		p = pick(f[2], f[4])
		if (f[3] == "KEYCLOAK") { b = 120 * 2; bl = "240 req/s (Keycloak, 2 vCPU)" }
		else if (f[3] == "RAW") { b = pick(f[2], f[4] == "events/s" ? "raw-rows/s" : "raw-rows/s"); bl = (b == "" ? "-" : sprintf("%.0f raw-rows/s", b)) }
		else { b = pick(f[3], f[4]); bl = (b == "" ? "-" : sprintf("%.0f %s", b, f[4])) }
		pt = (p == "" ? "not run" : sprintf("%.0f %s", p, f[4]))
		ratio = (p != "" && b != "" && b > 0) ? sprintf("%.2fx", p / b) : "-"
		printf "| %s | %s | %s | %s | %s |\n", f[1], pt, bl, ratio, (f[5] == "" ? "-" : f[5])
	}
}' "$OUT"
