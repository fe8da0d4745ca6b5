package warehouse

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// Conn returns the connection pool, for packages that own tables of their
// own in the same database (package audit's access_log). They name tables
// with Database() and leave the pool's lifetime to the Warehouse.
func (w *Warehouse) Conn() driver.Conn { return w.conn }
