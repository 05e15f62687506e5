#!/usr/bin/env bash
# The live operations tests, once, against one loopback stack: scripts/local-stack.sh up, then each
# test, then down (however the run ends). The tests (Python, stdlib only) read .local-stack/env:
#   test_nginx.py       nginx in front of the two replicas: both reached, a replica SIGKILLed
#                       mid-load without a failed request, 413, 429, HTTPS, /metrics, gzip, caching
#   test_dashboards.py  every Grafana panel's PromQL against the live Prometheus, after traffic and
#                       an ingest whose metrics are scraped
#   test_alerts.py      a replica down → VitrineReplicaDown through Alertmanager into the Discord
#                       sink, then the resolved message (about 75 s: the rule waits a minute)
#   test_logs.py        the log shipping (when present)
# Storage servers of .servers/env are reused when they answer (scripts/test.sh starts them).
#   deploy/live/run.sh                      all of them
#   deploy/live/run.sh nginx alerts         some (names without test_ and .py)
#   VITRINE_BIN=.build/debug/vitrine deploy/live/run.sh   (without it local-stack.sh builds the release binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
live=deploy/live
state=${LOCAL_STACK_DIR:-$root/.local-stack}

tests=()
if [ $# -gt 0 ]; then
    for name in "$@"; do
        name=${name#test_}
        name=${name%.py}
        [ -f "$live/test_$name.py" ] || { echo "live: no test $live/test_$name.py" >&2; exit 2; }
        tests+=("test_$name")
    done
else
    tests=(test_nginx test_dashboards test_alerts)
    # Written separately (the log shipping); run when it is there, after the others.
    if [ -f "$live/test_logs.py" ]; then tests+=(test_logs); fi
fi

failed=()
summary=()
# On a failure the stack's logs (replicas, nginx, Prometheus, Alertmanager, the Discord messages)
# are kept in .ci/artifacts/live/ before down removes the state directory.
finish() {
    if [ ${#failed[@]} -gt 0 ] && [ -d "$state" ]; then
        rm -rf .ci/artifacts/live
        mkdir -p .ci/artifacts/live
        cp -r "$state/logs" .ci/artifacts/live/ 2>/dev/null || true
        cp "$state"/nginx/*.log "$state/discord-messages.jsonl" .ci/artifacts/live/ 2>/dev/null || true
        echo "live: the stack's logs are in .ci/artifacts/live/" >&2
    fi
    scripts/local-stack.sh down
}
started=$SECONDS
scripts/local-stack.sh up
trap finish EXIT
echo "live: stack up in $((SECONDS - started)) s" >&2

for t in "${tests[@]}"; do
    echo "== live: $t" >&2
    t_started=$SECONDS
    if python3 -u "$live/$t.py"; then
        summary+=("passed  $t ($((SECONDS - t_started)) s)")
    else
        summary+=("FAILED  $t ($((SECONDS - t_started)) s)")
        failed+=("$t")
    fi
done

echo "== live: summary" >&2
printf '  %s\n' "${summary[@]}" >&2
echo "live: $((SECONDS - started)) s in all (before down)" >&2
if [ ${#failed[@]} -gt 0 ]; then
    echo "live: failed: ${failed[*]} (rerun one with deploy/live/run.sh NAME)" >&2
    exit 1
fi
