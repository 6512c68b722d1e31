#!/usr/bin/env bash
# The yarngate test cluster: real HDFS (MiniDFSCluster), a real YARN ResourceManager and NodeManager (Hadoop's own
# daemons), ZooKeeper, and two unpacked Flink distributions, all on loopback.
#
# Modes, chosen at `up` and remembered in the run dir (every other command works on the running cluster's mode):
#   HA=1        two ResourceManagers with automatic failover through ZooKeeper
#   KERBEROS=1  a Kerberized cluster: a KDC (Hadoop's MiniKdc, testenv/hadoop/Kdc.java) started first; Kerberos RPC
#               and SASL data transfer on HDFS; Kerberos on the ResourceManager(s) and NodeManager; SPNEGO on every
#               web and REST endpoint (WebHDFS, RM, NM); the gateway's principal (YARNGATE_TE_USER@realm) may act
#               for other users (hadoop.proxyuser.<user>.*). Principals: hdfs/, yarn/ and HTTP/localhost (service
#               keytab), the gateway's, and end users alice and bob. cluster.env then also holds
#               YARNGATE_KERBEROS=1, YARNGATE_KRB5_CONF (and KRB5_CONFIG), YARNGATE_REALM, YARNGATE_KEYTAB,
#               YARNGATE_PRINCIPAL and YARNGATE_USER_KEYTAB (alice and bob; alice.keytab and bob.keytab lie beside
#               it), and the gateway's own SPNEGO authentication: YARNGATE_AUTH_METHODS=kerberos, YARNGATE_AUTH_KEYTAB
#               (http.keytab: HTTP/localhost only, exported from the service keytab) and YARNGATE_AUTH_PRINCIPAL.
#               Containers run as the NodeManager's OS user (DefaultContainerExecutor), as in simple mode.
#               Health checks use MIT kinit + curl --negotiate (testenv/install-krb5.sh installs krb5-user).
#   STANDALONE=1  also a Flink standalone-HA cluster (Flink 1.20.3 from the cache) on loopback: two JobManagers and
#               one TaskManager (two slots), leader election in the cluster's ZooKeeper (path root /yarngate-standalone,
#               cluster id yarngate-standalone), HA storage in HDFS (/tmp/yarngate-standalone/ha), as the test user.
#               cluster.env then also holds YARNGATE_STANDALONE_REST (the JobManagers' REST URLs, comma-separated),
#               YARNGATE_STANDALONE_ZK_ROOT and YARNGATE_STANDALONE_CLUSTER_ID. It may be added to a running
#               cluster (`up` with STANDALONE=1 starts only what is missing); `down` stops it. Ignored with
#               KERBEROS (a Kerberized standalone cluster is not part of the test cluster).
#   Both combine. Without KERBEROS, `up` keeps the mode of a cluster that is already running.
#
#   testenv/cluster.sh fetch    download (once, into the cache) and assemble everything; no processes
#   testenv/cluster.sh up       fetch, start what is not running, wait until healthy, write testenv/.run/cluster.env
#   testenv/cluster.sh down     stop exactly the processes `up` started (by PID), and the YARN containers they ran
#   testenv/cluster.sh status   one line per process, then the health checks
#   testenv/cluster.sh rm-failover / rm-restore   (HA=1 only) kill -9 the active ResourceManager / start it again
#   testenv/cluster.sh zk-restart   stop ZooKeeper, and start it again (same port and data): a demo of recovery
#   testenv/cluster.sh standalone-restore   (STANDALONE=1) start every standalone JobManager/TaskManager not running
#   testenv/cluster.sh kdc-stop / kdc-start   (KERBEROS=1 only) stop the KDC / start it again on the same port with
#               the same keys (its krbtgt key included: tickets issued before stay valid, the keytabs are unchanged)
#
# Downloads live in $YARNGATE_CACHE (default ~/.cache/yarngate), never in git. Runtime state lives in
# testenv/.run/ (gitignored). Ports and sizes can be changed through the YARNGATE_TE_* variables below.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${YARNGATE_CACHE:-$HOME/.cache/yarngate}
run=${YARNGATE_RUN_DIR:-$here/.run}

hadoop_version=$(sed -n 's:.*<hadoop.version>\(.*\)</hadoop.version>.*:\1:p' "$here/hadoop/pom.xml")
flink_versions=(${YARNGATE_TE_FLINK_VERSIONS:-1.20.3 2.2.1})
host=localhost
user=${YARNGATE_TE_USER:-yarngate}
nn_port=${YARNGATE_TE_NN_PORT:-19000}
nn_http_port=${YARNGATE_TE_NN_HTTP_PORT:-19870}
rm_port=${YARNGATE_TE_RM_PORT:-18030}
rm_web_port=${YARNGATE_TE_RM_WEB_PORT:-18088}
zk_port=${YARNGATE_TE_ZK_PORT:-12181}
nm_web_port=${YARNGATE_TE_NM_WEB_PORT:-18042}
nm_localizer_port=${YARNGATE_TE_NM_LOCALIZER_PORT:-18040}
# 16 GiB for containers: make test runs up to eight small Flink clusters (1 GiB JobManager and TaskManager each)
# at once; their JVMs take far less physical memory than they ask YARN for.
nm_memory_mb=${YARNGATE_TE_NM_MEMORY_MB:-16384}
max_completed_apps=${YARNGATE_TE_MAX_COMPLETED_APPS:-1000}
# YARN log aggregation (finished containers' logs moved to HDFS, read by the gateway's log routes): 1 or 0. Never on
# a Kerberized cluster (its NodeManager would need Hadoop's native library). While an application's logs are not
# aggregated yet, the ResourceManager keeps it beyond max_completed_apps.
log_aggregation=${YARNGATE_TE_LOG_AGGREGATION:-1}
# Free disk space (MiB) up refuses to start without: make test writes a few GiB (HDFS blocks, localized Flink jars,
# container logs, private clusters), and a NodeManager on a full disk offers no resources, which tests would only
# show as applications stuck in ACCEPTED.
min_free_mb=${YARNGATE_TE_MIN_FREE_MB:-6144}
# Kerberos mode only: the KDC's TCP port and realm, the longest ticket it issues (seconds), and optional HDFS
# delegation-token lifetimes (ms; empty means Hadoop's defaults of 7 days max, renewed every 24 h).
kdc_port=${YARNGATE_TE_KDC_PORT:-18800}
realm=${YARNGATE_TE_REALM:-EXAMPLE.COM}
kdc_max_ticket_lifetime=${YARNGATE_TE_KDC_MAX_TICKET_LIFETIME:-86400}
dt_max_lifetime_ms=${YARNGATE_TE_DT_MAX_LIFETIME_MS:-}
dt_renew_interval_ms=${YARNGATE_TE_DT_RENEW_INTERVAL_MS:-}
# The DataNode's dfs.data.transfer.protection (Kerberos only), a comma list in the DataNode's order of offer; the
# clients' hdfs-site.xml gets authentication when it is listed, else the first element. privacy,authentication
# offers privacy first (what colinmarc, which takes the first offer, negotiates unless told otherwise) while every
# client configured by the cluster stays on authentication.
data_transfer_protection=${YARNGATE_TE_DATA_TRANSFER_PROTECTION:-authentication}
# Standalone mode only: JobManager i (0, 1) serves REST on sa_rest_port+i and RPC on sa_rpc_port+i; the TaskManager's
# RPC port is sa_tm_port, the blob servers take sa_blob_port and sa_blob_port+1.
sa_rest_port=${YARNGATE_TE_SA_REST_PORT:-18181}
sa_rpc_port=${YARNGATE_TE_SA_RPC_PORT:-18191}
sa_tm_port=${YARNGATE_TE_SA_TM_PORT:-18195}
sa_blob_port=${YARNGATE_TE_SA_BLOB_PORT:-18196}
sa_root=/yarngate-standalone
sa_cluster_id=yarngate-standalone # with the start time appended: every start is a new cluster to ZooKeeper and HDFS
end_users=alice,bob
rms=1
[[ ${HA:-0} == 1 ]] && rms=2
kerberos=0
[[ ${KERBEROS:-0} == 1 ]] && kerberos=1
# Every command but `up` works on the mode the running cluster was started in; `up` without KERBEROS keeps the
# Kerberos mode of a running cluster (so that `make run` and `make test` find it).
if [[ ${1:-} != up && -f $run/mode ]]; then
  rms=$(sed -n 's/^rms=//p' "$run/mode")
  kerberos=$(sed -n 's/^kerberos=//p' "$run/mode")
  kerberos=${kerberos:-0}
elif [[ ${1:-} == up && -z ${KERBEROS:-} && -f $run/mode ]] && grep -qx 'kerberos=1' "$run/mode"; then
  kerberos=1
fi
kdc_dir=$run/kdc
standalone=0
[[ ${STANDALONE:-0} == 1 ]] && standalone=1
[[ -f $run/standalone/enabled ]] && standalone=1
if ((standalone && kerberos)); then
  [[ ${1:-} == up ]] && echo "STANDALONE=1 is ignored on a Kerberized cluster" >&2
  standalone=0
fi

java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
hadoop_cache=$cache/hadoop/$hadoop_version
fake_home=$hadoop_cache/home
jvm_opens=(
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-exports=java.base/sun.net.dns=ALL-UNNAMED --add-exports=java.base/sun.net.util=ALL-UNNAMED
)

log() { printf '%s cluster: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------- fetch

fetch_hadoop() {
  local stamp=$hadoop_cache/.complete pomsum
  pomsum=$(sha256sum "$here/hadoop/pom.xml" | cut -c1-16)
  [[ -f $stamp && $(cat "$stamp") == "$pomsum" ]] && return 0
  log "resolving Hadoop $hadoop_version jars with Maven (first run only)"
  mkdir -p "$hadoop_cache"
  mvn -B -q -f "$here/hadoop/pom.xml" dependency:build-classpath \
    -Dmdep.outputFile="$hadoop_cache/launcher.cp" >"$hadoop_cache/mvn.log" 2>&1 ||
    { tail -n 30 "$hadoop_cache/mvn.log" >&2; die "maven could not resolve the Hadoop jars"; }
  # A fake HADOOP_HOME for YARN containers and Flink's CLI: the same jars, minus test jars and the reload4j
  # binding (Flink brings log4j2 and its own slf4j binding).
  rm -rf "$fake_home"
  mkdir -p "$fake_home/share/hadoop/common/lib" "$fake_home/share/hadoop/hdfs/lib" "$fake_home/share/hadoop/yarn/lib"
  tr ':' '\n' <"$hadoop_cache/launcher.cp" | while read -r jar; do
    case $(basename "$jar") in
      *-tests.jar | slf4j-reload4j-* | reload4j-* | junit-* | hamcrest-* | mockito-* | hadoop-minicluster-*) ;;
      *) ln -sf "$jar" "$fake_home/share/hadoop/common/lib/" ;;
    esac
  done
  echo "$pomsum" >"$stamp"
}

fetch_flink() {
  local v=$1 dir=$cache/flink/flink-$1 dl=$cache/pypi/flink-$1 tmp
  [[ -f $dir/.complete ]] && return 0
  mkdir -p "$dl"
  if ! ls "$dl"/apache[-_]flink[-_]libraries-*.tar.gz >/dev/null 2>&1; then
    log "downloading Flink $v libraries (about 230-320 MB, first run only)"
    pip download -q --no-deps --no-binary :all: -d "$dl" "apache-flink-libraries==$v" >&2
  fi
  if ! ls "$dl"/apache_flink-*.whl >/dev/null 2>&1; then
    pip download -q --no-deps --only-binary :all: --platform manylinux2014_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 -d "$dl" "apache-flink==$v" >&2
  fi
  log "assembling Flink $v under $dir"
  tmp=$(mktemp -d "$cache/flink/.assemble.XXXXXX")
  tar -xzf "$dl"/apache[-_]flink[-_]libraries-*.tar.gz -C "$tmp"
  (cd "$tmp" && python3 -m zipfile -e "$dl"/apache_flink-*.whl wheel)
  local src=("$tmp"/apache[-_]flink[-_]libraries-*/deps)
  mkdir -p "$tmp/home"
  mv "${src[0]}/lib" "${src[0]}/opt" "${src[0]}/plugins" "$tmp/home/"
  mv "$tmp/wheel/pyflink/bin" "$tmp/wheel/pyflink/conf" "$tmp/home/"
  cp "${src[0]}/bin/"*.jar "$tmp/home/bin/"
  chmod +x "$tmp/home/bin/"*
  ls "$tmp/home/lib/flink-dist-$v.jar" >/dev/null || die "Flink $v: lib/flink-dist-$v.jar missing"
  rm -rf "$dir" && mv "$tmp/home" "$dir" && rm -rf "$tmp"
  touch "$dir/.complete"
}

# The KDC's own classpath (hadoop-minikdc and Apache Kerby), kept apart from the cluster's: the Hadoop jars and the
# fake HADOOP_HOME that containers use stay exactly as in simple mode.
fetch_kdc() {
  local stamp=$hadoop_cache/.kdc-complete pomsum
  pomsum=$(sha256sum "$here/hadoop/kdc-pom.xml" | cut -c1-16)
  [[ -f $stamp && $(cat "$stamp") == "$pomsum" ]] && return 0
  log "resolving hadoop-minikdc $hadoop_version with Maven (first Kerberos run only)"
  mkdir -p "$hadoop_cache"
  mvn -B -q -f "$here/hadoop/kdc-pom.xml" -Dhadoop.version="$hadoop_version" dependency:build-classpath \
    -Dmdep.outputFile="$hadoop_cache/kdc.cp" >"$hadoop_cache/mvn-kdc.log" 2>&1 ||
    { tail -n 30 "$hadoop_cache/mvn-kdc.log" >&2; die "maven could not resolve hadoop-minikdc"; }
  echo "$pomsum" >"$stamp"
}

build_example() {
  make -s -C "$repo" example-jar >&2
}

cmd_fetch() {
  mkdir -p "$cache/flink"
  fetch_hadoop
  for v in "${flink_versions[@]}"; do fetch_flink "$v"; done
  build_example
  if ((kerberos)); then
    fetch_kdc
    "$here/install-krb5.sh"
  fi
}

# -------------------------------------------------------------------------------------------------- processes

pidfile() { echo "$run/pids/$1.pid"; }

alive() {
  local f pid
  f=$(pidfile "$1")
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null
}

# start NAME LOGFILE CMD... : run CMD in its own session (so its PID is its process group) and record the PID.
start() {
  local name=$1 logf=$2
  shift 2
  mkdir -p "$run/pids" "$run/logs"
  setsid "$@" >"$logf" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

hadoop_cp() { cat "$hadoop_cache/launcher.cp"; }

daemon_env() {
  export JAVA_HOME=$java_home
  export HADOOP_HOME=$fake_home HADOOP_COMMON_HOME=$fake_home HADOOP_HDFS_HOME=$fake_home HADOOP_YARN_HOME=$fake_home
  export HADOOP_CONF_DIR=$run/hadoop/conf
}

log4j_opts() { echo "-Dlog4j.configuration=file:$here/hadoop/log4j.properties -Dyarngate.log.file=$run/logs/$1.log"; }

# JVM options every Hadoop daemon of a Kerberized cluster needs (none in simple mode).
krb_java=()
((kerberos)) && krb_java=("-Djava.security.krb5.conf=$kdc_dir/krb5.conf")

# The cluster's krb5.conf, written before the KDC starts (fixed port; TCP only, as MiniKdc serves no UDP; no DNS).
write_krb5_conf() {
  cat >"$kdc_dir/krb5.conf" <<KRB5
# Written by testenv/cluster.sh for the Kerberized test cluster; the KDC is MiniKdc (Apache Kerby).
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    forwardable = true
[realms]
    $realm = {
        kdc = $host:$kdc_port
    }
[domain_realm]
    $host = $realm
KRB5
}

# start_kdc [restore]: start the KDC. A new KDC gets a fresh directory, principals and keytabs; with restore, the KDC
# of a cluster that is up starts again with the keys it saved on its first start (kdc-db.keytab), in the same
# directory, with the same krb5.conf and keytabs. MiniKdc keeps its database in memory, so a plain restart would
# make new random keys: every keytab would be outdated and every ticket issued before (under the old krbtgt key)
# rejected.
start_kdc() {
  local restore=false
  alive kdc && return 0
  if [[ ${1:-} == restore ]]; then
    restore=true
    [[ -f $kdc_dir/kdc-db.keytab ]] || die "no saved KDC keys in $kdc_dir: start the cluster with make cluster-up KERBEROS=1"
  else
    rm -rf "$kdc_dir"
    mkdir -p "$kdc_dir"
    write_krb5_conf
  fi
  log "starting the KDC (MiniKdc, realm $realm, $host:$kdc_port, longest ticket ${kdc_max_ticket_lifetime}s, restore $restore)"
  start kdc "$run/logs/kdc.out" "$java_home/bin/java" -Xmx192m -XX:+UseSerialGC $(log4j_opts kdc) \
    -Dyarngate.kdc.dir="$kdc_dir" -Dyarngate.host="$host" -Dyarngate.realm="$realm" \
    -Dyarngate.kdc.port="$kdc_port" -Dyarngate.kdc.max.ticket.lifetime="$kdc_max_ticket_lifetime" \
    -Dyarngate.gateway.principal="$user" -Dyarngate.users="$end_users" -Dyarngate.kdc.restore="$restore" \
    -cp "$(cat "$hadoop_cache/kdc.cp")" "$here/hadoop/Kdc.java"
  # What kdc-start needs to start the same KDC again, whatever the caller's environment says.
  printf 'kdc_port=%q\nrealm=%q\nkdc_max_ticket_lifetime=%q\nuser=%q\nend_users=%q\n' \
    "$kdc_port" "$realm" "$kdc_max_ticket_lifetime" "$user" "$end_users" >"$kdc_dir/settings"
  wait_for "KDC" 60 grep -q '^READY' "$run/logs/kdc.out"
}

# krb_env CMD...: run an MIT Kerberos tool (or curl) with the cluster's krb5.conf and a ticket cache of its own.
krb_env() { KRB5_CONFIG=$kdc_dir/krb5.conf KRB5CCNAME=FILE:$kdc_dir/cluster.ccache "$@"; }

# A ticket for the gateway's principal in that cache: the identity of the health checks.
krb_login() {
  krb_env klist -s 2>/dev/null && return 0
  krb_env kinit -kt "$kdc_dir/gateway.keytab" "$user@$realm" >/dev/null 2>&1
}

# hcurl ARGS...: curl; on a Kerberized cluster authenticated with SPNEGO as the gateway's principal.
hcurl() {
  if ((kerberos)); then
    krb_login || return 1
    krb_env curl --negotiate -u : "$@"
  else
    curl "$@"
  fi
}

start_zk() {
  alive zk && return 0
  mkdir -p "$run/zk/data"
  printf '%s\n' "dataDir=$run/zk/data" "clientPort=$zk_port" "clientPortAddress=127.0.0.1" "tickTime=1000" \
    "maxSessionTimeout=60000" "admin.enableServer=false" "4lw.commands.whitelist=ruok,stat,mntr,srvr" \
    >"$run/zk/zoo.cfg"
  log "starting ZooKeeper on 127.0.0.1:$zk_port"
  start zk "$run/logs/zk.out" "$java_home/bin/java" -Xmx256m -XX:+UseSerialGC \
    -Dzookeeper.jmx.log4j.disable=true $(log4j_opts zk) \
    -cp "$(hadoop_cp)" org.apache.zookeeper.server.ZooKeeperServerMain "$run/zk/zoo.cfg"
}

start_dfs() {
  alive dfs && return 0
  rm -rf "$run/hadoop"
  mkdir -p "$run/hadoop"
  local krb=()
  if ((kerberos)); then
    krb=("${krb_java[@]}" -Dyarngate.kerberos=1 -Dyarngate.realm="$realm" -Dyarngate.keytab="$kdc_dir/service.keytab"
      -Dyarngate.users="$end_users" -Dyarngate.dt.max.lifetime.ms="$dt_max_lifetime_ms"
      -Dyarngate.dt.renew.interval.ms="$dt_renew_interval_ms" -Dyarngate.data.transfer.protection="$data_transfer_protection")
  fi
  log "starting HDFS (NameNode $host:$nn_port, web $host:$nn_http_port)"
  start dfs "$run/logs/dfs.out" "$java_home/bin/java" -Xmx1g -XX:+UseSerialGC "${jvm_opens[@]}" $(log4j_opts dfs) \
    "${krb[@]}" \
    -Dyarngate.base="$run/hadoop" -Dyarngate.user="$user" -Dyarngate.host="$host" \
    -Dyarngate.nn.port="$nn_port" -Dyarngate.nn.http.port="$nn_http_port" -Dyarngate.rms="$rms" \
    -Dyarngate.rm.port="$rm_port" -Dyarngate.rm.web.port="$rm_web_port" -Dyarngate.zk="$host:$zk_port" \
    -Dyarngate.nm.memory.mb="$nm_memory_mb" -Dyarngate.max.completed.apps="$max_completed_apps" \
    -Dyarngate.log.aggregation="$log_aggregation" \
    -Dyarngate.nm.web.port="$nm_web_port" -Dyarngate.nm.localizer.port="$nm_localizer_port" \
    -cp "$(hadoop_cp)" "$here/hadoop/Launcher.java"
  wait_for "HDFS" 180 grep -q '^READY' "$run/logs/dfs.out"
}

start_rm() { # index (0-based)
  local i=$1 name=rm$(($1 + 1)) conf=$run/hadoop/conf
  alive "$name" && return 0
  ((rms > 1)) && conf=$run/hadoop/conf-$name
  log "starting ResourceManager $name (web $host:$((rm_web_port + i)))"
  start "$name" "$run/logs/$name.out" env HADOOP_CONF_DIR="$conf" "$java_home/bin/java" -Xmx768m -XX:+UseSerialGC \
    "${jvm_opens[@]}" $(log4j_opts "$name") -Dyarn.log.dir="$run/logs" -Dhadoop.log.dir="$run/logs" "${krb_java[@]}" \
    -cp "$conf:$(hadoop_cp)" org.apache.hadoop.yarn.server.resourcemanager.ResourceManager
}

start_nm() {
  alive nm && return 0
  log "starting NodeManager (${nm_memory_mb} MB)"
  start nm "$run/logs/nm.out" "$java_home/bin/java" -Xmx512m -XX:+UseSerialGC "${jvm_opens[@]}" $(log4j_opts nm) \
    -Dyarn.log.dir="$run/logs" -Dhadoop.log.dir="$run/logs" "${krb_java[@]}" \
    -cp "$run/hadoop/conf:$(hadoop_cp)" org.apache.hadoop.yarn.server.nodemanager.NodeManager
}

# wait_for WHAT SECONDS CMD... : poll CMD until it succeeds; fail with the logs' tails after SECONDS.
wait_for() {
  local what=$1 secs=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      for f in "$run"/logs/*.out; do
        echo "--- $f" >&2
        tail -n 15 "$f" >&2
      done
      for f in "$run"/logs/*.log; do # the daemons' own logs: their last warnings and errors
        echo "--- $f (WARN/ERROR)" >&2
        grep -E ' (WARN|ERROR|FATAL) ' "$f" | tail -n 15 >&2
      done
      die "$what not ready after ${secs}s"
    fi
    sleep 1
  done
}

# ------------------------------------------------------------------------------------------------ health checks

rm_url() { echo "http://$host:$((rm_web_port + ${1:-0}))"; }

rm_started() { # any RM reports state STARTED and, in HA, one of them is ACTIVE
  local i info
  for ((i = 0; i < rms; i++)); do
    info=$(hcurl -fsS -m 5 "$(rm_url "$i")/ws/v1/cluster/info" 2>/dev/null) || continue
    if grep -q '"state":"STARTED"' <<<"$info" && { ((rms == 1)) || grep -q '"haState":"ACTIVE"' <<<"$info"; }; then
      return 0
    fi
  done
  return 1
}

nm_registered() {
  local i
  for ((i = 0; i < rms; i++)); do
    hcurl -fsS -m 5 "$(rm_url "$i")/ws/v1/cluster/metrics" 2>/dev/null | grep -Eq '"activeNodes":[1-9]' && return 0
  done
  return 1
}

hdfs_writable() { # a WebHDFS write + read round trip as the test user (SPNEGO as its principal when Kerberized)
  local probe=/tmp/.cluster-probe-$$ got dn as="&user.name=$user"
  ((kerberos)) && as=""
  # WebHDFS CREATE is two steps: the NameNode answers 307 with the DataNode's address, the data goes there.
  dn=$(hcurl -sS -m 10 -o /dev/null -w '%{redirect_url}' -X PUT \
    "http://$host:$nn_http_port/webhdfs/v1$probe?op=CREATE&overwrite=true$as") || return 1
  [[ -n $dn ]] || return 1
  curl -fsS -m 10 -X PUT --data-binary probe-ok "$dn" || return 1
  got=$(hcurl -fsS -m 10 -L "http://$host:$nn_http_port/webhdfs/v1$probe?op=OPEN$as") || return 1
  hcurl -fsS -m 10 -X DELETE "http://$host:$nn_http_port/webhdfs/v1$probe?op=DELETE$as" >/dev/null
  [[ $got == probe-ok ]]
}

zk_ok() { # ZooKeeper four-letter word: ruok -> imok
  local reply
  reply=$(exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf ruok >&3 && timeout 5 cat <&3) || return 1
  [[ $reply == imok ]]
}

# zk_digest prints the gateway's ZooKeeper digest credentials (user:password), generated once per run
# directory and kept while it lives: the cluster's ZooKeeper keeps the znodes they protect across restarts.
zk_digest() {
  local f=$run/zk-digest
  if [[ ! -s $f ]]; then
    (umask 077 && printf 'yarngate:%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$f.tmp") && mv "$f.tmp" "$f"
  fi
  cat "$f"
}

# export_http_keytab: $kdc_dir/http.keytab with only the HTTP/$host keys of the service keytab (MIT ktutil), the
# keytab the gateway's SPNEGO authentication serves with; the gateway never holds the hdfs/ and yarn/ keys.
export_http_keytab() {
  local kt=$kdc_dir/service.keytab out=$kdc_dir/http.keytab slots s
  [[ -s $out && $out -nt $kt ]] && return 0
  slots=$(printf 'rkt %s\nlist\n' "$kt" | ktutil | awk '$1 ~ /^[0-9]+$/ && $3 !~ /^HTTP\// {print $1}' | sort -rn)
  rm -f "$out"
  { echo "rkt $kt"; for s in $slots; do echo "delent $s"; done; echo "wkt $out"; } | ktutil >/dev/null
  chmod 600 "$out"
  klist -k "$out" | grep -q "HTTP/$host@$realm" || die "could not export HTTP/$host into $out"
}

# ------------------------------------------------------------------------------------------------------ standalone

sa_dir=$run/standalone
sa_flink=$cache/flink/flink-${flink_versions[0]}

# sa_conf I: the configuration directory of standalone process I (jm0, jm1, tm0), from the distribution's log
# settings and a config.yaml of our own.
sa_conf() {
  local name=$1 d=$sa_dir/conf-$1 i
  mkdir -p "$d"
  [[ -f $d/config.yaml ]] && { echo "$d"; return 0; } # a restart keeps the first start's settings
  cp "$sa_flink"/conf/log4j*.properties "$d/"
  {
    echo "high-availability.type: zookeeper"
    echo "high-availability.zookeeper.quorum: $host:$zk_port"
    echo "high-availability.zookeeper.path.root: $sa_root"
    echo "high-availability.cluster-id: $(cat "$sa_dir/cluster-id")"
    echo "high-availability.storageDir: hdfs://$host:$nn_port/tmp/yarngate-standalone/ha"
    echo "high-availability.zookeeper.client.session-timeout: 10000"
    echo "jobmanager.rpc.address: $host"
    echo "jobmanager.bind-host: $host"
    echo "taskmanager.bind-host: $host"
    echo "taskmanager.host: $host"
    echo "rest.address: $host"
    echo "rest.bind-address: $host"
    echo "jobmanager.memory.process.size: 768m"
    echo "taskmanager.memory.process.size: 1280m"
    echo "taskmanager.numberOfTaskSlots: 4"
    echo "parallelism.default: 1"
    echo "restart-strategy.type: fixed-delay"
    echo "restart-strategy.fixed-delay.attempts: 100"
    echo "restart-strategy.fixed-delay.delay: 2 s"
    echo "execution.checkpointing.interval: 5 s"
    echo "state.checkpoints.dir: hdfs://$host:$nn_port/tmp/yarngate-standalone/checkpoints"
    echo "taskmanager.data.port: 0"
    # A TaskManager waits for a leader as long as a test's failover takes (Flink's default gives up after 5 min).
    echo "taskmanager.registration.timeout: 1 h"
    # Java 17 needs the distribution's module options (env.java.opts.all in its own config.yaml).
    echo "env.java.opts.all: $(sed -n '/^env:/,/^[^ ]/s/^ *all: //p' "$sa_flink/conf/config.yaml")"
    case $name in
      jm*)
        i=${name#jm}
        echo "rest.port: $((sa_rest_port + i))"
        echo "jobmanager.rpc.port: $((sa_rpc_port + i))"
        echo "high-availability.jobmanager.port: $((sa_rpc_port + i))"
        echo "blob.server.port: $((sa_blob_port + i))"
        ;;
      tm*) echo "taskmanager.rpc.port: $sa_tm_port" ;;
    esac
  } >"$d/config.yaml"
  echo "$d"
}

start_standalone_process() {
  local name=$1 conf kind=jobmanager
  alive "sa-$name" && return 0
  [[ $name == tm* ]] && kind=taskmanager
  conf=$(sa_conf "$name")
  mkdir -p "$sa_dir/log-$name" "$sa_dir/pid-$name"
  log "starting standalone Flink $kind $name"
  start "sa-$name" "$run/logs/sa-$name.out" env FLINK_CONF_DIR="$conf" FLINK_LOG_DIR="$sa_dir/log-$name" \
    FLINK_PID_DIR="$sa_dir/pid-$name" HADOOP_CLASSPATH="$fake_home/share/hadoop/common/lib/*" \
    HADOOP_USER_NAME="$user" JAVA_HOME="$java_home" "$sa_flink/bin/$kind.sh" start-foreground
}

sa_rest_urls() { echo "http://$host:$sa_rest_port,http://$host:$((sa_rest_port + 1))"; }

# The ports of a standalone cluster are those of its first start (standalone-restore may run without the
# YARNGATE_TE_SA_* variables of that start).
sa_settings() {
  if [[ -f $sa_dir/settings ]]; then
    . "$sa_dir/settings"
  else
    printf 'sa_rest_port=%s\nsa_rpc_port=%s\nsa_tm_port=%s\nsa_blob_port=%s\n' \
      "$sa_rest_port" "$sa_rpc_port" "$sa_tm_port" "$sa_blob_port" >"$sa_dir/settings"
  fi
}

standalone_ok() { # every process runs, both JobManagers answer, and one sees a TaskManager
  local i
  alive sa-jm0 && alive sa-jm1 && alive sa-tm0 || return 1
  for i in 0 1; do
    curl -fsS -m 5 "http://$host:$((sa_rest_port + i))/config" >/dev/null 2>&1 || return 1
  done
  for i in 0 1; do
    curl -fsS -m 5 "http://$host:$((sa_rest_port + i))/overview" 2>/dev/null | grep -q '"taskmanagers":[1-9]' && return 0
  done
  return 1
}

# start_standalone starts what is not running of the standalone cluster and waits until it is whole. A process
# that exits while starting (a port taken for a moment: a killed JobManager's port in TIME_WAIT, or an outgoing
# connection's local port when the ports lie in the ephemeral range) is started again, a few times.
start_standalone() {
  local try i n
  mkdir -p "$sa_dir"
  : >"$sa_dir/enabled"
  [[ -s $sa_dir/cluster-id ]] || echo "$sa_cluster_id-$(date +%s)" >"$sa_dir/cluster-id"
  sa_settings
  for try in 1 2 3 4 5; do
    start_standalone_process jm0
    start_standalone_process jm1
    start_standalone_process tm0
    for ((i = 0; i < 180; i++)); do
      standalone_ok && return 0
      n=0
      for p in sa-jm0 sa-jm1 sa-tm0; do alive "$p" || n=$((n + 1)); done
      ((n == 0)) || break
      sleep 1
    done
    ((n == 0)) && break # every process runs, yet no JobManager sees a TaskManager: not a start-up race
    log "a standalone Flink process exited while starting (try $try); starting it again in 5 s"
    sleep 5
  done
  wait_for "standalone Flink cluster" 10 standalone_ok
}

cmd_standalone_restore() {
  ((standalone)) || die "standalone-restore needs the standalone cluster (make cluster-up STANDALONE=1)"
  daemon_env
  start_standalone
}

stop_standalone() {
  stop sa-tm0
  stop sa-jm0
  stop sa-jm1
  rm -rf "$sa_dir"
}

write_env() {
  local tmp=$run/cluster.env.tmp i urls=()
  ((kerberos)) && export_http_keytab
  for ((i = 0; i < rms; i++)); do urls+=("$(rm_url "$i")"); done
  (umask 077 && : >"$tmp") # it holds the ZooKeeper digest
  {
    echo "# Written by testenv/cluster.sh up on $(date -u +%FT%TZ). Source it: . testenv/.run/cluster.env"
    echo "export JAVA_HOME=$java_home"
    echo "export HADOOP_CONF_DIR=$run/hadoop/conf"
    echo "export HADOOP_CLASSPATH='$fake_home/share/hadoop/common/lib/*'"
    echo "export YARNGATE_HA=$((rms > 1 ? 1 : 0))"
    echo "export YARNGATE_RM_URL=${urls[0]}"
    echo "export YARNGATE_RM_URLS=$(IFS=,; echo "${urls[*]}")"
    echo "export YARNGATE_WEBHDFS_URL=http://$host:$nn_http_port"
    echo "export YARNGATE_HDFS_URL=hdfs://$host:$nn_port"
    echo "export YARNGATE_NAMENODE=$host:$nn_port"
    echo "export YARNGATE_ZK=$host:$zk_port"
    echo "export YARNGATE_USER=$user"
    echo "export YARNGATE_FLINK_HOME=$cache/flink/flink-${flink_versions[0]}"
    echo "export YARNGATE_FLINK2_HOME=$cache/flink/flink-${flink_versions[1]}"
    echo "export YARNGATE_FLINK_HOMES=$cache/flink/flink-${flink_versions[0]},$cache/flink/flink-${flink_versions[1]}"
    echo "export YARNGATE_EXAMPLE_JAR=$repo/examples/streaming/target/yarngate-example.jar"
    echo "export YARNGATE_CLUSTER_RUN_DIR=$run"
    # The gateway's ZooKeeper digest (zookeeper.digest): its registry and election znodes admit only this identity.
    echo "export YARNGATE_ZOOKEEPER_DIGEST=$(zk_digest)"
    if ((kerberos)); then
      echo "export YARNGATE_KERBEROS=1"
      echo "export YARNGATE_REALM=$realm"
      echo "export YARNGATE_KRB5_CONF=$kdc_dir/krb5.conf"
      echo "export KRB5_CONFIG=$kdc_dir/krb5.conf"
      echo "export YARNGATE_KDC=$host:$kdc_port"
      echo "export YARNGATE_PRINCIPAL=$user@$realm"
      echo "export YARNGATE_KEYTAB=$kdc_dir/gateway.keytab"
      echo "export YARNGATE_USER_KEYTAB=$kdc_dir/users.keytab"
      echo "export YARNGATE_END_USERS=$end_users"
      echo "export YARNGATE_KDC_MAX_TICKET_LIFETIME=$kdc_max_ticket_lifetime"
      echo "export YARNGATE_DATA_TRANSFER_PROTECTION=$data_transfer_protection"
      # The gateway's own API: SPNEGO with HTTP/$host (make run; curl --negotiate -u : after kinit alice).
      echo "export YARNGATE_AUTH_METHODS=kerberos"
      echo "export YARNGATE_AUTH_KEYTAB=$kdc_dir/http.keytab"
      echo "export YARNGATE_AUTH_PRINCIPAL=HTTP/$host@$realm"
    fi
    if ((standalone)); then
      sa_settings
      echo "export YARNGATE_STANDALONE_REST=$(sa_rest_urls)"
      echo "export YARNGATE_STANDALONE_ZK_ROOT=$sa_root"
      echo "export YARNGATE_STANDALONE_CLUSTER_ID=$(cat "$sa_dir/cluster-id")"
      echo "export YARNGATE_STANDALONE_PIDS=$run/pids/sa-jm0.pid,$run/pids/sa-jm1.pid"
    fi
  } >"$tmp"
  mv "$tmp" "$run/cluster.env"
}

# The mode file: `rms=N` as it always was, plus a line `kerberos=1` on a Kerberized cluster.
mode_text() {
  echo "rms=$rms"
  ((kerberos)) && echo "kerberos=1"
  return 0
}

# check_free_space dies when the run directory's file system has less than min_free_mb free.
check_free_space() {
  local free_mb
  free_mb=$(df -Pm "$run" | awk 'NR == 2 {print $4}')
  ((free_mb >= min_free_mb)) ||
    die "only ${free_mb} MiB free on the disk of $run (at least ${min_free_mb} needed, YARNGATE_TE_MIN_FREE_MB): free some space first"
}

cmd_up() {
  local t0=$SECONDS i
  if [[ -f $run/cluster.env ]] && { ((!kerberos)) || alive kdc; } && alive dfs && alive nm && rm_started && zk_ok; then
    log "already running"
    if ((standalone)); then
      daemon_env
      start_standalone
    fi
    write_env # a cluster started by an older cluster.sh gets the variables it lacks (ZooKeeper digest, SPNEGO keytab)
    return 0
  fi
  [[ -f $run/mode ]] && [[ $(cat "$run/mode") != "$(mode_text)" ]] && alive dfs &&
    die "a cluster in another mode ($(paste -sd ' ' "$run/mode")) is running: make cluster-down first"
  ((kerberos)) && ! alive kdc && alive dfs && die "the KDC is not running but HDFS is: make cluster-down first"
  cmd_fetch
  rm -f "$run/cluster.env"
  mkdir -p "$run/logs" "$run/pids"
  check_free_space
  mode_text >"$run/mode"
  daemon_env
  ((kerberos)) && start_kdc
  start_zk
  start_dfs
  wait_for "ZooKeeper" 60 zk_ok
  for ((i = 0; i < rms; i++)); do start_rm "$i"; done
  start_nm
  wait_for "ResourceManager" 120 rm_started
  wait_for "NodeManager registration" 120 nm_registered
  wait_for "HDFS write/read" 60 hdfs_writable
  ((standalone)) && start_standalone
  write_env
  log "up in $((SECONDS - t0))s; environment in $run/cluster.env"
}

# stop NAME: SIGTERM the process group, wait up to 30 s, then SIGKILL.
stop() {
  local name=$1 f pid i
  f=$(pidfile "$name")
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# YARN containers run in sessions of their own; the NodeManager records each one's PID.
stop_containers() {
  local f pid
  [[ -d $run/hadoop/nm-local ]] || return 0
  while IFS= read -r f; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [[ $pid =~ ^[0-9]+$ ]] && kill -KILL -- "-$pid" 2>/dev/null || true
  done < <(find "$run/hadoop/nm-local/nmPrivate" -name '*.pid' 2>/dev/null)
}

cmd_down() {
  rm -f "$run/cluster.env"
  stop gateway # started by make demo
  stop_standalone
  stop nm
  stop_containers
  stop rm1
  stop rm2
  stop dfs
  stop zk
  stop kdc
  rm -f "$run/mode"
  log "down"
}

cmd_status() {
  local name rc=0
  for name in kdc zk dfs rm1 rm2 nm gateway sa-jm0 sa-jm1 sa-tm0; do
    if alive "$name"; then
      printf '%-4s running (pid %s)\n' "$name" "$(cat "$(pidfile "$name")")"
    elif [[ -f $(pidfile "$name") ]]; then
      printf '%-4s DEAD\n' "$name"
      rc=1
    fi
  done
  if ((kerberos)); then
    krb_login && echo "kdc: ticket for $user@$realm" || { echo "kdc: no ticket for $user@$realm"; rc=1; }
  fi
  zk_ok && echo "zookeeper: imok" || { echo "zookeeper: not answering"; rc=1; }
  rm_started && echo "resourcemanager: STARTED" || { echo "resourcemanager: not answering"; rc=1; }
  nm_registered && echo "nodemanager: registered" || { echo "nodemanager: not registered"; rc=1; }
  hdfs_writable && echo "hdfs: writable" || { echo "hdfs: not writable"; rc=1; }
  [[ -f $run/cluster.env ]] && echo "env: $run/cluster.env" || { echo "env: missing"; rc=1; }
  return $rc
}

# The active ResourceManager's index, from each RM's own /ws/v1/cluster/info (never redirected by a standby).
active_rm() {
  local i
  for ((i = 0; i < rms; i++)); do
    hcurl -fsS -m 5 "$(rm_url "$i")/ws/v1/cluster/info" 2>/dev/null | grep -q '"haState":"ACTIVE"' && {
      echo "$i"
      return 0
    }
  done
  return 1
}

cmd_rm_failover() { # kill -9 the active RM; the standby takes over through ZooKeeper
  local i
  ((rms > 1)) || die "rm-failover needs the HA cluster (HA=1 make cluster-up)"
  i=$(active_rm) || die "no active ResourceManager"
  log "killing the active ResourceManager rm$((i + 1)) (pid $(cat "$(pidfile "rm$((i + 1))")"))"
  kill -KILL -- "-$(cat "$(pidfile "rm$((i + 1))")")" 2>/dev/null || true
  rm -f "$(pidfile "rm$((i + 1))")"
  wait_for "failover to another ResourceManager" 90 active_rm
  log "rm$(($(active_rm) + 1)) is active"
}

cmd_rm_restore() { # start every ResourceManager that is not running; it rejoins as standby
  local i
  ((rms > 1)) || die "rm-restore needs the HA cluster (HA=1 make cluster-up)"
  daemon_env
  for ((i = 0; i < rms; i++)); do start_rm "$i"; done
  wait_for "ResourceManagers" 120 all_rms_answer
  log "all ResourceManagers answer; rm$(($(active_rm) + 1)) is active"
}

cmd_zk_restart() { # stop the cluster's ZooKeeper and start it again on the same port and data directory
  alive zk || die "ZooKeeper is not running (make cluster-up)"
  local down=${YARNGATE_TE_ZK_DOWN_SECONDS:-5}
  log "stopping ZooKeeper (pid $(cat "$(pidfile zk)")) for ${down}s"
  stop zk
  sleep "$down"
  start_zk
  wait_for "ZooKeeper" 60 zk_ok
  log "ZooKeeper answers imok again on 127.0.0.1:$zk_port"
}

cmd_kdc_stop() { # stop the KDC; the rest of the cluster keeps running on the tickets it holds
  ((kerberos)) || die "kdc-stop needs the Kerberized cluster (make cluster-up KERBEROS=1)"
  alive kdc || die "the KDC is not running"
  log "stopping the KDC (pid $(cat "$(pidfile kdc)"))"
  stop kdc
  log "the KDC is stopped; testenv/cluster.sh kdc-start starts it again with the same keys"
}

cmd_kdc_start() { # start the KDC again with the keys of its first start
  ((kerberos)) || die "kdc-start needs the Kerberized cluster (make cluster-up KERBEROS=1)"
  alive kdc && { log "the KDC is running"; return 0; }
  alive dfs || die "the cluster is not running (make cluster-up KERBEROS=1)"
  [[ -f $kdc_dir/settings ]] || die "no KDC settings in $kdc_dir: start the cluster with make cluster-up KERBEROS=1"
  . "$kdc_dir/settings" # the port, realm, longest ticket and principals of the first start
  start_kdc restore
  krb_env kdestroy >/dev/null 2>&1 || true
  wait_for "a ticket from the restarted KDC" 30 krb_login
  log "the KDC answers again on $host:$kdc_port"
}

all_rms_answer() {
  local i
  for ((i = 0; i < rms; i++)); do
    hcurl -fsS -m 5 "$(rm_url "$i")/ws/v1/cluster/info" 2>/dev/null | grep -Eq '"haState":"(ACTIVE|STANDBY)"' || return 1
  done
}

case ${1:-} in
  rm-failover) cmd_rm_failover ;;
  rm-restore) cmd_rm_restore ;;
  zk-restart) cmd_zk_restart ;;
  kdc-stop) cmd_kdc_stop ;;
  kdc-start) cmd_kdc_start ;;
  standalone-restore) cmd_standalone_restore ;;
  fetch) cmd_fetch ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 fetch|up|down|status|rm-failover|rm-restore|zk-restart|kdc-stop|kdc-start" >&2; exit 2 ;;
esac
