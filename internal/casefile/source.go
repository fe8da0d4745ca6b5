package casefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// ErrNoObject is what Source.Object returns for an object that is not
// there.
var ErrNoObject = errors.New("no such object")

// chunkSize bounds the values of one IN list, so that a large case stays
// far below ClickHouse's max_query_size (256 KiB).
const chunkSize = 1000

// WarehouseSource reads a case from the warehouse and the archive bucket.
type WarehouseSource struct {
	conn   driver.Conn
	db     string
	s3     *minio.Client
	bucket string
}

var _ Source = (*WarehouseSource)(nil)

// NewSource returns the Source of the warehouse wh and the archive bucket
// (the bucket of rows that name none). It does no I/O.
func NewSource(wh *warehouse.Warehouse, s3 *minio.Client, bucket string) *WarehouseSource {
	return &WarehouseSource{conn: wh.Conn(), db: wh.Database(), s3: s3, bucket: bucket}
}

// Rows implements Source: every column of table, as text (times in UTC,
// NULL as empty), read with FINAL.
func (s *WarehouseSource) Rows(ctx context.Context, table, column string, values []string, each func(row []string) error) error {
	cols, err := s.columns(ctx, table)
	if err != nil {
		return err
	}
	names := make([]string, len(cols))
	exprs := make([]string, len(cols))
	for i, c := range cols {
		names[i], exprs[i] = c.name, textOf(c.name, c.typ)
	}
	if err := each(names); err != nil {
		return err
	}
	for start := 0; start < len(values); start += chunkSize {
		chunk := values[start:min(start+chunkSize, len(values))]
		q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + s.db + "." + table + " FINAL WHERE " + column + " IN (" + placeholders(len(chunk)) + ") ORDER BY " + orderOf(table)
		rows, err := s.conn.Query(ctx, q, anys(chunk)...)
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", table, err)
			}
			if err := each(vals); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
	}
	return nil
}

type columnType struct{ name, typ string }

// columns returns the columns of table in their order.
func (s *WarehouseSource) columns(ctx context.Context, table string) ([]columnType, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []columnType
	for rows.Next() {
		var c columnType
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("columns of %s.%s: no such table", s.db, table)
	}
	return out, nil
}

// textOf is the SQL that renders column name of type typ as text: times in
// UTC whatever the server's time zone, NULL as empty, arrays as their
// elements joined by ";".
func textOf(name, typ string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(typ, "Nullable("), ")")
	var e string
	switch {
	case typ == "String":
		return name
	case strings.HasPrefix(inner, "DateTime"):
		e = "toString(" + name + ", 'UTC')"
	case strings.HasPrefix(typ, "Array("):
		return "arrayStringConcat(arrayMap(x -> toString(x), " + name + "), ';')"
	default:
		e = "toString(" + name + ")"
	}
	if strings.HasPrefix(typ, "Nullable(") {
		return "ifNull(" + e + ", '')"
	}
	return e
}

func orderOf(table string) string {
	if table == "call_events" {
		return "session_id, event_time, event_type"
	}
	return "call_in_time, icid"
}

// Recordings implements Source.
func (s *WarehouseSource) Recordings(ctx context.Context, icids []string) ([]recording.Row, error) {
	var out []recording.Row
	for start := 0; start < len(icids); start += chunkSize {
		chunk := icids[start:min(start+chunkSize, len(icids))]
		rows, err := s.conn.Query(ctx, `SELECT icid, session_id, bucket, object_key, size_bytes, sha256, content_type, mirrored_at, status, error
			FROM `+s.db+`.recordings FINAL WHERE icid IN (`+placeholders(len(chunk))+`) AND status = ? ORDER BY icid`, append(anys(chunk), recording.Archived)...)
		if err != nil {
			return nil, fmt.Errorf("read recordings: %w", err)
		}
		for rows.Next() {
			var r recording.Row
			if err := rows.Scan(&r.ICID, &r.SessionID, &r.Bucket, &r.ObjectKey, &r.SizeBytes, &r.SHA256, &r.ContentType, &r.MirroredAt, &r.Status, &r.Error); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read recordings: %w", err)
			}
			r.MirroredAt = r.MirroredAt.UTC()
			if r.Bucket == "" {
				r.Bucket = s.bucket
			}
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read recordings: %w", err)
		}
	}
	return out, nil
}

// Object implements Source: the object's current version, streamed.
func (s *WarehouseSource) Object(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if bucket == "" {
		bucket = s.bucket
	}
	obj, err := s.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err == nil {
		// GetObject asks S3 on the first read; Stat asks now, so that a
		// missing object is told apart from a failing read.
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return nil, fmt.Errorf("object %s/%s: %w", bucket, key, ErrNoObject)
		}
		return nil, fmt.Errorf("object %s/%s: %w", bucket, key, err)
	}
	return obj, nil
}

// placeholders returns n bound parameters, "?, ?, ?", for an IN list:
// clickhouse-go binds a slice as an array, which IN does not take.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}
