#!/usr/bin/env bash
# Starts a ClickHouse cluster on this machine for testing the cluster variant
# of the migrations (PN_CLICKHOUSE_CLUSTER): ZooKeeper and three Debian
# clickhouse-server (18.16) processes on loopback, cluster "pn" with shard 01
# (replicas a and b) and shard 02 (replica c). Then runs the command given
# after `--` with PN_TEST_CLICKHOUSE_CLUSTER and
# PN_TEST_CLICKHOUSE_CLUSTER_ADDRS set, and stops everything it started.
# `make test-clickhouse-cluster` uses it.
#
#   deploy/local/clickhouse-cluster.sh -- go test -tags clickhouse_cluster -run TestCluster ./internal/warehouse
#
# Needs Debian's zookeeper (and so Java) and clickhouse-server. Ports:
# ZooKeeper 21810, ClickHouse native 29001-29003, HTTP 28121-28123,
# interserver 29011-29013 (CH_CLUSTER_PORT_BASE moves them all).
set -euo pipefail

[[ ${1:-} == -- ]] || { echo "usage: $0 -- COMMAND..." >&2; exit 2; }
shift

base=${CH_CLUSTER_PORT_BASE:-0}
zk_port=$((21810 + base))
dir=$(mktemp -d -t pn-ch-cluster.XXXXXX)
pids=()
stop() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap stop EXIT

clickhouse=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
[[ -x $clickhouse ]] || { echo "clickhouse-server not found (make deps)" >&2; exit 1; }
[[ -r /usr/share/java/zookeeper.jar ]] || { echo "ZooKeeper not found: apt-get install zookeeper" >&2; exit 1; }

mkdir -p "$dir/zk/data"
cat >"$dir/zk/zoo.cfg" <<ZK
tickTime=2000
dataDir=$dir/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
ZK
java -Xmx256m -Dzookeeper.log.dir="$dir/zk" -cp "/usr/share/java/*" \
	org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zk/zoo.cfg" >"$dir/zk/zk.log" 2>&1 &
pids+=("$!")

cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage><background_pool_size>4</background_pool_size><poll_interval>1</poll_interval></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML

addrs=()
i=0
for node in "a 01" "b 01" "c 02"; do
	read -r name shard <<<"$node"
	i=$((i + 1))
	tcp=$((29000 + base + i)) http=$((28120 + base + i)) inter=$((29010 + base + i))
	d="$dir/ch-$name"
	mkdir -p "$d/data" "$d/tmp"
	cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$tcp</tcp_port><http_port>$http</http_port>
  <interserver_http_port>$inter</interserver_http_port><interserver_http_host>127.0.0.1</interserver_http_host>
  <path>$d/data/</path><tmp_path>$d/tmp/</tmp_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node></zookeeper>
  <macros><shard>$shard</shard><replica>$name</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <remote_servers>
    <pn>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>$((29001 + base))</port></replica>
        <replica><host>127.0.0.1</host><port>$((29002 + base))</port></replica>
      </shard>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>$((29003 + base))</port></replica>
      </shard>
    </pn>
  </remote_servers>
</yandex>
XML
	"$clickhouse" --config-file="$d/config.xml" >"$d/stdout.log" 2>&1 &
	pids+=("$!")
	addrs+=("127.0.0.1:$tcp")
done

deadline=$((SECONDS + 60))
for i in 1 2 3; do
	until curl -fsS "http://127.0.0.1:$((28120 + base + i))/ping" >/dev/null 2>&1; do
		if ((SECONDS > deadline)); then
			echo "ClickHouse server $i did not start; its log:" >&2
			tail -n 20 "$dir"/ch-*/error.log "$dir/zk/zk.log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
done

PN_TEST_CLICKHOUSE_CLUSTER=pn PN_TEST_CLICKHOUSE_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}") "$@"
