package console

import (
	"context"
	"io"
	"time"
)

// The lifecycle operations the console offers an officer. They are
// interfaces so that the console's handlers depend on what they use;
// cmd/console wires the implementations of packages holds, casefile and
// erasure.

// HoldRow is a recording held now, as the holds view lists it.
type HoldRow struct {
	ICID, ObjectKey, Who, Reason string
	At                           time.Time
}

// Holds puts and releases legal holds on recordings.
type Holds interface {
	Put(ctx context.Context, icid, who, reason string) error
	Release(ctx context.Context, icid, who, reason string) error
	// List returns the recordings held now.
	List(ctx context.Context) ([]HoldRow, error)
	// Held reports whether rec's object is under a legal hold now.
	Held(ctx context.Context, rec *Recording) (bool, error)
}

// Exporter writes a case file: a zip of calls with their manifest.
type Exporter interface {
	// Export writes the zip of icids to w and returns the number of files
	// it holds besides the manifest.
	Export(ctx context.Context, w io.Writer, icids []string) (files int, err error)
}

// ErasureItem is one line of an erasure's report.
type ErasureItem struct {
	What, Where, Outcome, Why string
}

// ErasureReport is what an erasure did.
type ErasureReport struct {
	Items   []ErasureItem
	Summary string
}

// Eraser erases one subscriber's data, except what is under legal hold,
// and records the erasure in the access log as who, from where.
type Eraser interface {
	Erase(ctx context.Context, number string, dryRun bool, who, from string) (ErasureReport, error)
}
