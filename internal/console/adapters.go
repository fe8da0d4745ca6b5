package console

import (
	"context"
	"io"

	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/holds"
)

// HoldsOf adapts package holds to the console.
func HoldsOf(h *holds.Holds) Holds { return holdsAdapter{h} }

type holdsAdapter struct{ h *holds.Holds }

func (a holdsAdapter) Put(ctx context.Context, icid, who, reason string) error {
	_, err := a.h.Put(ctx, icid, who, reason)
	return err
}

func (a holdsAdapter) Release(ctx context.Context, icid, who, reason string) error {
	_, err := a.h.Release(ctx, icid, who, reason)
	return err
}

func (a holdsAdapter) List(ctx context.Context) ([]HoldRow, error) {
	hs, err := a.h.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]HoldRow, 0, len(hs))
	for _, h := range hs {
		out = append(out, HoldRow{ICID: h.ICID, ObjectKey: h.ObjectKey, Who: h.Who, Reason: h.Reason, At: h.At})
	}
	return out, nil
}

func (a holdsAdapter) Held(ctx context.Context, rec *Recording) (bool, error) {
	return a.h.HeldIn(ctx, rec.Bucket, rec.ObjectKey)
}

// ExporterOf adapts package casefile to the console.
func ExporterOf(src casefile.Source) Exporter { return exporter{src} }

type exporter struct{ src casefile.Source }

func (e exporter) Export(ctx context.Context, w io.Writer, icids []string) (int, error) {
	m, err := casefile.Write(ctx, w, icids, e.src)
	return len(m.Files), err
}

// EraserOf adapts package erasure to the console.
func EraserOf(e *erasure.Eraser) Eraser { return eraser{e} }

type eraser struct{ e *erasure.Eraser }

func (a eraser) Erase(ctx context.Context, number string, dryRun bool, who, from string) (ErasureReport, error) {
	rep, err := a.e.Erase(ctx, number, dryRun, who, from)
	out := ErasureReport{Summary: rep.Summary()}
	for _, it := range rep.Items {
		out.Items = append(out.Items, ErasureItem{What: it.What, Where: it.Where, Outcome: it.Outcome, Why: it.Why})
	}
	return out, err
}
