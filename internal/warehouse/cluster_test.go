//go:build clickhouse_cluster

// The cluster variant of the migrations against a real ClickHouse cluster:
// `make test-clickhouse-cluster` starts ZooKeeper and three ClickHouse
// servers (deploy/k8s/scale-out/clickhouse-local-cluster.sh: shard 01 with
// replicas a and b, shard 02 with replica c, cluster "pn") and runs this
// file with the build tag clickhouse_cluster. It is not part of `make test`:
// ZooKeeper needs Java, which the CI machine does not install.

package warehouse

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/schemas"
)

// clusterNodes are the native addresses of the cluster's servers, in
// shard order: PN_TEST_CLICKHOUSE_CLUSTER_ADDRS, comma separated.
func clusterNodes(t *testing.T) (cluster string, nodes []string) {
	t.Helper()
	addrs := os.Getenv("PN_TEST_CLICKHOUSE_CLUSTER_ADDRS")
	cluster = os.Getenv("PN_TEST_CLICKHOUSE_CLUSTER")
	if addrs == "" || cluster == "" {
		t.Fatal("PN_TEST_CLICKHOUSE_CLUSTER and PN_TEST_CLICKHOUSE_CLUSTER_ADDRS must name a running cluster (make test-clickhouse-cluster)")
	}
	return cluster, strings.Split(addrs, ",")
}

func openCluster(t *testing.T, cluster, addr, db string) *Warehouse {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database, cfg.Cluster = addr, db, cluster
	return openConfig(t, cfg)
}

func TestClusterMigrateAndDeduplicate(t *testing.T) {
	cluster, nodes := clusterNodes(t)
	if len(nodes) < 3 {
		t.Fatalf("want three servers (two shards, one of them with two replicas), got %v", nodes)
	}
	ctx := testContext(t)
	db := fmt.Sprintf("pn_cluster_%d", time.Now().UnixNano())
	first := openCluster(t, cluster, nodes[0], db)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := first.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" ON CLUSTER "+cluster); err != nil {
			t.Error(err)
		}
	})

	applied, err := first.migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate on %s: %v", nodes[0], err)
	}
	if len(applied) == 0 {
		t.Fatal("Migrate applied nothing on a new database")
	}
	// Every server got every table, and a migrator reaching another shard
	// finds the migrations recorded: schema_migrations is replicated to all.
	want := []string{
		"call_events", "call_events_latest", "call_events_local", "fee_records", "fee_records_latest", "fee_records_local", "field_anomalies",
		"recordings", "recordings_latest", "recordings_local", "schema_migrations",
	}
	want = append(want, analyticsViews...)
	slices.Sort(want)
	ws := []*Warehouse{first}
	for _, addr := range nodes[1:] {
		ws = append(ws, openCluster(t, cluster, addr, db))
	}
	for i, w := range ws {
		if got := tables(t, w); !slices.Equal(got, want) {
			t.Errorf("%s: tables %v, want %v", nodes[i], got, want)
		}
	}
	last := ws[len(ws)-1]
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		a, err := last.appliedMigrations(ctx)
		return err == nil && len(a) == len(applied), fmt.Sprintf("schema_migrations on %s: %d of %d (%v)",
			nodes[len(nodes)-1], len(a), len(applied), err)
	})
	if again, err := last.migrate(ctx); err != nil || len(again) != 0 {
		t.Errorf("Migrate on %s after %s = %v, %v; want nothing to do", nodes[len(nodes)-1], nodes[0], again, err)
	}

	// 0006 applied again, as after a stop midway: its ALTERs ON CLUSTER
	// find their columns and the Distributed tables are created again.
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name != "0006_tolerance.sql" {
			continue
		}
		stmts, err := m.ClusterStatements(db, cluster)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if err := first.execDDL(ctx, s); err != nil {
				t.Fatalf("0006 again: %v\n%s", err, s)
			}
		}
	}

	// Three copies of 40 CDRs (each with another sessionId, so that no
	// batch is a byte-identical block, which replicated tables would drop),
	// each through another server. The Distributed table shards by icid,
	// so every copy of a CDR lands on the same shard, where FINAL collapses
	// them to one row per icid.
	batch := func(session string) []privatenumber.FeeRecord {
		recs := make([]privatenumber.FeeRecord, 40)
		for i := range recs {
			raw := fmt.Sprintf(`{"icid":"cluster-%02d","sessionId":"%s-%02d","callInTime":"2024-01-01 00:00:%02d","recordFlag":0,"serviceType":%d}`, i, session, i, i, i)
			if recs[i], err = privatenumber.DecodeFeeRecord([]byte(raw)); err != nil {
				t.Fatal(err)
			}
		}
		return recs
	}
	for i, recs := range [][]privatenumber.FeeRecord{batch("a"), batch("b"), batch("c")} {
		if err := ws[i].InsertFees(ctx, recs); err != nil {
			t.Fatalf("InsertFees via %s: %v", nodes[i], err)
		}
	}
	count := func(w *Warehouse, query string) uint64 {
		var n uint64
		if err := w.conn.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	// insert_distributed_sync: the rows are on their shards once the
	// inserts returned; a server reading the other replica of a shard sees
	// them once that replica fetched the part.
	for i, w := range ws {
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			n := count(w, "SELECT count() FROM "+db+".fee_records")
			return n == 120, fmt.Sprintf("%s sees %d rows in fee_records, want 120 (three copies of 40)", nodes[i], n)
		})
		if n := count(w, "SELECT count() FROM "+db+".fee_records FINAL"); n != 40 {
			t.Errorf("%s: %d rows in fee_records FINAL, want 40", nodes[i], n)
		}
		if n := count(w, "SELECT count() FROM "+db+".fee_records_latest"); n != 40 {
			t.Errorf("%s: %d rows in fee_records_latest, want 40", nodes[i], n)
		}
		// Migration 0006's columns reach every shard and the recreated
		// views: one serviceType anomaly per CDR (a number for a string).
		if n := count(w, "SELECT count() FROM "+db+".field_anomalies WHERE field = 'serviceType' AND kind = 'type'"); n != 40 {
			t.Errorf("%s: %d rows in field_anomalies, want 40", nodes[i], n)
		}
		if n := count(w, "SELECT count() FROM "+db+".fee_records_latest WHERE notEmpty(anomalies) AND call_in_time_derived = 0"); n != 40 {
			t.Errorf("%s: %d rows of fee_records_latest with anomalies, want 40", nodes[i], n)
		}
	}
	// Both shards hold some of the rows, and the second replica of the
	// first shard (nodes[1]) gets a copy of its replica's rows.
	local0 := count(first, "SELECT count() FROM "+db+".fee_records_local")
	local2 := count(last, "SELECT count() FROM "+db+".fee_records_local")
	if local0 == 0 || local2 == 0 || local0+local2 != 120 {
		t.Errorf("shards hold %d and %d rows, want a split of 120", local0, local2)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		n := count(ws[1], "SELECT count() FROM "+db+".fee_records_local")
		return n == local0, fmt.Sprintf("%s holds %d rows of its shard, its replica %d", nodes[1], n, local0)
	})
}
