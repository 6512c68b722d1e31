#!/usr/bin/env bash
# make demo: the real test cluster (already started by make), the gateway, and the example Flink job end to
# end through the HTTP API, with curl, the way a data engineer or a scheduler would use it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
run=${YARNGATE_RUN_DIR:-$here/.run}
# shellcheck disable=SC1091
source "$run/cluster.env"
listen=${YARNGATE_LISTEN:-127.0.0.1:8080}
gw=http://$listen

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# The gateway: started once, in the background, logging to testenv/.run/logs/gateway.log.
if ! curl -fsS -m 2 "$gw/healthz" >/dev/null 2>&1; then
  say "starting the gateway on $listen"
  mkdir -p "$run/pids" "$run/logs"
  # With the cluster's ZooKeeper: the job registry lives there and launched clusters get JobManager HA.
  YARNGATE_LISTEN=$listen YARNGATE_ZOOKEEPER_QUORUM=$YARNGATE_ZK YARNGATE_REGISTRY_PATH=$run/registry.db \
    setsid "$repo/bin/yarngate" serve --config "$repo/configs/dev.yaml" \
    >"$run/logs/gateway.log" 2>&1 </dev/null &
  echo $! >"$run/pids/gateway.pid"
fi
for _ in $(seq 1 60); do
  curl -fsS -m 2 "$gw/readyz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "$gw/readyz" >/dev/null || { tail -n 20 "$run/logs/gateway.log"; echo "the gateway is not ready" >&2; exit 1; }

say "1. upload the example jar (POST /v1/jars)"
echo "curl -F jar=@$YARNGATE_EXAMPLE_JAR $gw/v1/jars"
jar=$(curl -fsS -F "jar=@$YARNGATE_EXAMPLE_JAR" "$gw/v1/jars")
echo "$jar" | python3 -m json.tool
jar_id=$(echo "$jar" | field 'd["id"]')

n=1000
out=/user/$YARNGATE_USER/demo/result-$(date +%s)
say "2. launch it as a Flink application on YARN (POST /v1/jobs)"
spec=$(printf '{"name":"yarngate-demo","jarId":"%s","args":["--mode","bounded","--n","%d","--output","hdfs://%s"],"parallelism":1}' "$jar_id" "$n" "$out")
echo "curl -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: ...' $gw/v1/jobs -d '$spec'"
job=$(curl -fsS -X POST -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s%N)" "$gw/v1/jobs" -d "$spec")
id=$(echo "$job" | field 'd["id"]')
echo "YARN application: $id"
echo "YARN UI:          $(echo "$job" | field 'd["links"]["yarn"]')"

say "3. wait until Flink runs it (GET /v1/jobs/$id?wait=RUNNING)"
job=$(curl -fsS "$gw/v1/jobs/$id?wait=RUNNING&timeout=180s")
echo "state:            $(echo "$job" | field 'd["state"]')"
echo "Flink UI:         $(echo "$job" | field 'd["links"]["flinkUi"]')"
echo "JobManager REST:  $(echo "$job" | field 'd["links"]["jobManager"]')"
echo "Flink job ID:     $(echo "$job" | field 'd["flink"]["jobId"]')"

say "4. wait for the result (GET /v1/jobs/$id?wait=FINISHED)"
job=$(curl -fsS "$gw/v1/jobs/$id?wait=FINISHED&timeout=300s")
echo "$job" | python3 -m json.tool
state=$(echo "$job" | field 'd["state"]')
[[ $state == FINISHED ]] || { echo "the job ended $state" >&2; exit 1; }

say "5. the job's output in HDFS ($out)"
result=$(curl -fsSL "$YARNGATE_WEBHDFS_URL/webhdfs/v1$out?op=OPEN&user.name=$YARNGATE_USER")
echo "$result"
want="count=$n sum=$((n * (n + 1) * (2 * n + 1) / 6))"
[[ $result == "$want" ]] || { echo "expected: $want" >&2; exit 1; }

say "done"
cat <<MSG
The gateway keeps running on $gw (log: $run/logs/gateway.log); try the API: docs/API.md.
Stop everything, gateway included:  make cluster-down
MSG
