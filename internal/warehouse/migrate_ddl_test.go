package warehouse

import "testing"

// The single-server DDL of schema_migrations is what every existing
// database was created with; the cluster form differs only where it must.
func TestMigrationsTableDDL(t *testing.T) {
	single := (&Warehouse{db: "pn"}).migrationsTableDDL()
	want := "CREATE TABLE IF NOT EXISTS pn.schema_migrations\n(\n    version    UInt32,\n    name       String,\n" +
		"    checksum   String,\n    applied_at DateTime\n)\nENGINE = ReplacingMergeTree()\nORDER BY version"
	if single != want {
		t.Errorf("single-server DDL =\n%s\nwant\n%s", single, want)
	}
	cluster := (&Warehouse{db: "pn", cluster: "c1"}).migrationsTableDDL()
	want = "CREATE TABLE IF NOT EXISTS pn.schema_migrations ON CLUSTER c1\n(\n    version    UInt32,\n    name       String,\n" +
		"    checksum   String,\n    applied_at DateTime\n)\n" +
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/pn/schema_migrations', '{shard}-{replica}')\nORDER BY version"
	if cluster != want {
		t.Errorf("cluster DDL =\n%s\nwant\n%s", cluster, want)
	}
	if got := (&Warehouse{db: "pn"}).onCluster(); got != "" {
		t.Errorf("onCluster without a cluster = %q", got)
	}
}
