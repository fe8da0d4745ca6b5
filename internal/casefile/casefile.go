// Package casefile exports a case for legal: one zip of the selected
// calls' CDRs and events (CSV and JSON), their recordings, and a manifest
// with every file's SHA-256 and size, so that whoever receives it can prove
// nothing was altered (Verify). The recordings' hashes are also checked
// against the SHA-256 pnstream stored when it archived them, so an object
// changed in S3 since is caught at export, not in court.
//
// Write streams: rows go from ClickHouse and audio from S3 through the hash
// into the zip, so memory stays bounded whatever the case's size.
package casefile

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/recording"
)

// ManifestName is the manifest's file name in the zip.
const ManifestName = "manifest.json"

// The data files of a case, besides the recordings under recordings/.
const (
	CDRsCSV        = "cdrs.csv"
	CDRsJSON       = "cdrs.json"
	EventsCSV      = "events.csv"
	EventsJSON     = "events.json"
	RecordingsJSON = "recordings.json"
	RecordingsDir  = "recordings/"
)

// ErrMismatch: a recording's content does not hash to the SHA-256 stored
// when it was archived, or an archived recording's object is missing.
// Write still writes the whole zip, with the problem in the manifest.
var ErrMismatch = errors.New("recording does not match its archived SHA-256")

// ErrAltered: Verify found a file whose content, size or presence differs
// from the manifest.
var ErrAltered = errors.New("case file altered")

// Manifest lists every file of a case (but itself) with its SHA-256.
type Manifest struct {
	CreatedAt  time.Time   `json:"created_at"`
	ICIDs      []string    `json:"icids"`
	Files      []File      `json:"files"`
	Recordings []Recording `json:"recordings"`
	// Problems found at export: recordings missing or not matching their
	// archived SHA-256, calls not found.
	Problems []string `json:"problems,omitempty"`
}

// File is one file of the zip.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Recording is the cross-check of one recording: the SHA-256 of the file
// in the zip against the one pn.recordings stored at archiving.
type Recording struct {
	ICID         string `json:"icid"`
	File         string `json:"file"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	StoredSHA256 string `json:"stored_sha256"`
	Match        bool   `json:"match"`
}

// Source is where a case's data comes from: the warehouse and the archive
// (NewSource).
type Source interface {
	// Rows calls each with the header and then every row of table
	// (fee_records or call_events, deduplicated) whose column has one of
	// values, every value as text.
	Rows(ctx context.Context, table, column string, values []string, each func(row []string) error) error
	// Recordings returns the archived pn.recordings rows of icids.
	Recordings(ctx context.Context, icids []string) ([]recording.Row, error)
	// Object opens a stored object for reading.
	Object(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// Write writes the case of the calls icids to w as a zip and returns its
// manifest (also the zip's last file). It returns an error wrapping
// ErrMismatch, after writing the whole zip, when a recording is missing or
// does not match its archived SHA-256; any other error leaves the zip
// incomplete.
func Write(ctx context.Context, w io.Writer, icids []string, src Source) (Manifest, error) {
	icids = slices.Compact(slices.Sorted(slices.Values(icids)))
	m := Manifest{CreatedAt: time.Now().UTC().Truncate(time.Second), ICIDs: icids, Files: []File{}, Recordings: []Recording{}}
	zw := zip.NewWriter(w)
	cw := &caseWriter{zw: zw, m: &m}

	sessions := map[string]bool{}
	found := map[string]bool{}
	var iIcid, iSession = -1, -1
	err := cw.table(ctx, src, "fee_records", "icid", icids, CDRsCSV, CDRsJSON, func(header, row []string) {
		if header != nil {
			iIcid, iSession = slices.Index(header, "icid"), slices.Index(header, "session_id")
			return
		}
		if iIcid >= 0 {
			found[row[iIcid]] = true
		}
		if iSession >= 0 && row[iSession] != "" {
			sessions[row[iSession]] = true
		}
	})
	if err != nil {
		return m, err
	}
	for _, id := range icids {
		if !found[id] {
			m.Problems = append(m.Problems, "call "+id+": no CDR")
		}
	}
	sessionIDs := slices.Sorted(func(yield func(string) bool) {
		for s := range sessions {
			if !yield(s) {
				return
			}
		}
	})
	if err := cw.table(ctx, src, "call_events", "session_id", sessionIDs, EventsCSV, EventsJSON, nil); err != nil {
		return m, err
	}
	recs, err := src.Recordings(ctx, icids)
	if err != nil {
		return m, fmt.Errorf("case file: %w", err)
	}
	if err := cw.json(RecordingsJSON, recs); err != nil {
		return m, err
	}
	var mismatch bool
	for _, r := range recs {
		ok, err := cw.recording(ctx, src, r)
		if err != nil {
			return m, err
		}
		mismatch = mismatch || !ok
	}
	if err := cw.manifest(); err != nil {
		return m, err
	}
	if err := zw.Close(); err != nil {
		return m, fmt.Errorf("case file: %w", err)
	}
	if mismatch {
		return m, fmt.Errorf("case file: %s: %w", strings.Join(m.Problems, "; "), ErrMismatch)
	}
	return m, nil
}

// caseWriter adds files to the zip and lists them in the manifest.
type caseWriter struct {
	zw *zip.Writer
	m  *Manifest
}

// hashed counts and hashes what goes into one zip entry.
type hashed struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashed) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// create opens the zip entry name; store skips compression (audio is
// compressed already). The caller writes through the returned writer and
// calls done.
func (c *caseWriter) create(name string, store bool) (*hashed, func() File, error) {
	method := zip.Deflate
	if store {
		method = zip.Store
	}
	zf, err := c.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: c.m.CreatedAt})
	if err != nil {
		return nil, nil, fmt.Errorf("case file %s: %w", name, err)
	}
	hw := &hashed{w: zf, h: sha256.New()}
	return hw, func() File {
		f := File{Name: name, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))}
		c.m.Files = append(c.m.Files, f)
		return f
	}, nil
}

// table writes the rows of table selected by column IN values twice, as
// CSV and as JSON (an array of objects, every value a string). seen, if
// set, is called with the header and then with every row of the CSV pass.
func (c *caseWriter) table(ctx context.Context, src Source, table, column string, values []string, csvName, jsonName string, seen func(header, row []string)) error {
	hw, done, err := c.create(csvName, false)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(hw)
	first := true
	err = src.Rows(ctx, table, column, values, func(row []string) error {
		if seen != nil {
			if first {
				seen(row, nil)
			} else {
				seen(nil, row)
			}
		}
		first = false
		return cw.Write(row)
	})
	if err != nil {
		return fmt.Errorf("case file %s: %w", csvName, err)
	}
	if cw.Flush(); cw.Error() != nil {
		return fmt.Errorf("case file %s: %w", csvName, cw.Error())
	}
	done()

	hw, done, err = c.create(jsonName, false)
	if err != nil {
		return err
	}
	var header []string
	n := 0
	err = src.Rows(ctx, table, column, values, func(row []string) error {
		if header == nil {
			header = slices.Clone(row)
			_, err := io.WriteString(hw, "[")
			return err
		}
		var b strings.Builder
		if n > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n{")
		for i, v := range row {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(header[i])
			val, _ := json.Marshal(v)
			b.Write(k)
			b.WriteString(":")
			b.Write(val)
		}
		b.WriteString("}")
		n++
		_, err := io.WriteString(hw, b.String())
		return err
	})
	if err == nil {
		if header == nil {
			_, err = io.WriteString(hw, "[")
		}
		if err == nil {
			_, err = io.WriteString(hw, "\n]\n")
		}
	}
	if err != nil {
		return fmt.Errorf("case file %s: %w", jsonName, err)
	}
	done()
	return nil
}

// json writes v as an indented JSON file.
func (c *caseWriter) json(name string, v any) error {
	hw, done, err := c.create(name, false)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(hw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("case file %s: %w", name, err)
	}
	done()
	return nil
}

// recording streams r's object into the zip and cross-checks its hash;
// false means a problem was added to the manifest.
func (c *caseWriter) recording(ctx context.Context, src Source, r recording.Row) (bool, error) {
	name := RecordingsDir + r.ICID + path.Ext(r.ObjectKey)
	obj, err := src.Object(ctx, r.Bucket, r.ObjectKey)
	if err != nil {
		if errors.Is(err, ErrNoObject) {
			c.m.Problems = append(c.m.Problems, fmt.Sprintf("recording %s: object %s missing", r.ICID, r.ObjectKey))
			return false, nil
		}
		return false, fmt.Errorf("case file %s: %w", name, err)
	}
	defer obj.Close()
	hw, done, err := c.create(name, true)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(hw, obj); err != nil {
		return false, fmt.Errorf("case file %s: %w", name, err)
	}
	f := done()
	rec := Recording{ICID: r.ICID, File: name, Size: f.Size, SHA256: f.SHA256, StoredSHA256: strings.ToLower(r.SHA256)}
	rec.Match = rec.SHA256 == rec.StoredSHA256 && uint64(f.Size) == r.SizeBytes
	c.m.Recordings = append(c.m.Recordings, rec)
	if !rec.Match {
		c.m.Problems = append(c.m.Problems, fmt.Sprintf("recording %s: %d bytes with SHA-256 %s, archived as %d bytes with %s", r.ICID, f.Size, f.SHA256, r.SizeBytes, rec.StoredSHA256))
		return false, nil
	}
	return true, nil
}

func (c *caseWriter) manifest() error {
	zf, err := c.zw.CreateHeader(&zip.FileHeader{Name: ManifestName, Method: zip.Deflate, Modified: c.m.CreatedAt})
	if err != nil {
		return fmt.Errorf("case file manifest: %w", err)
	}
	enc := json.NewEncoder(zf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c.m); err != nil {
		return fmt.Errorf("case file manifest: %w", err)
	}
	return nil
}
