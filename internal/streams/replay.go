package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderReplayedFrom marks a message that Replay re-drove from PN_DEAD:
// "PN_DEAD:<sequence>".
const HeaderReplayedFrom = "Pn-Replayed-From"

// ReplayOptions select and pace the dead letters Replay re-drives.
type ReplayOptions struct {
	// Source keeps only the dead letters of one source ("fees", "events":
	// the subject pn.dead.<source>); empty keeps all.
	Source string
	// DryRun lists what would be replayed and changes nothing.
	DryRun bool
	// Progress, if set, is called after each dead letter with how many
	// were handled and how many PN_DEAD held at the start.
	Progress func(done, total int)
}

// Replayed is one dead letter Replay re-drove (or would, in a dry run).
type Replayed struct {
	DeadSeq uint64 // its sequence in PN_DEAD, deleted after the replay
	Subject string // the original subject it was published to again
	MsgID   string // the Nats-Msg-Id of the replay
	Reason  string // why it had been dead-lettered
}

// ErrNotReplayable marks a dead letter Replay refuses: it does not say
// where it came from, or came from a subject pnstream does not consume.
var ErrNotReplayable = errors.New("dead letter not replayable")

// ReplayMsgID is the Nats-Msg-Id of the replay of the dead letter at
// PN_DEAD sequence seq. It is the dead letter's own identity, not the
// original record's (fee:<icid>, ...): the original was published to the
// same stream within the duplicate window often enough (a message
// dead-lettered within minutes) that JetStream would drop a replay under
// the original id as a duplicate, and the dead letter would then be
// deleted and lost. The dead letter's id is stable, so a replay that was
// published but not yet deleted (a crash in between) is a duplicate when
// run again, and the identity-keyed tables absorb a replay repeated after
// the window.
func ReplayMsgID(seq uint64) string { return "replay:" + Dead + ":" + strconv.FormatUint(seq, 10) }

// Replay publishes the dead letters in PN_DEAD back to the subjects they
// were dead-lettered from, in order, each with ReplayMsgID, and deletes
// each from PN_DEAD once JetStream stored its replay: a dead letter is
// replayed once. Run it after the fix that makes the messages storable;
// those that fail again come back to PN_DEAD with a new sequence.
//
// A dead letter without its origin (HeaderSubject) or from a subject that
// is not pnstream's fee, event, recording or number subject is skipped and
// reported in the returned error (ErrNotReplayable), the others proceed:
// Replay must not become a way to publish anywhere.
func Replay(ctx context.Context, js jetstream.JetStream, opts ReplayOptions) ([]Replayed, error) {
	stream, err := js.Stream(ctx, Dead)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Dead, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("info %s: %w", Dead, err)
	}
	st := info.State
	total := int(st.Msgs)
	var (
		done     []Replayed
		skipped  []error
		handled  int
		wantSubj = DeadPrefix + opts.Source
	)
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted: a gap in the sequence
		}
		if err != nil {
			return done, fmt.Errorf("get %s message %d: %w", Dead, seq, err)
		}
		handled++
		if opts.Progress != nil {
			opts.Progress(handled, total)
		}
		if opts.Source != "" && m.Subject != wantSubj {
			continue
		}
		r := Replayed{DeadSeq: seq, Subject: m.Header.Get(HeaderSubject), MsgID: ReplayMsgID(seq), Reason: m.Header.Get(HeaderReason)}
		if !replayable(m.Subject, r.Subject) {
			skipped = append(skipped, fmt.Errorf("%w: %s message %d from subject %q", ErrNotReplayable, Dead, seq, r.Subject))
			continue
		}
		if opts.DryRun {
			done = append(done, r)
			continue
		}
		msg := nats.NewMsg(r.Subject)
		msg.Data = m.Data
		msg.Header.Set(HeaderReplayedFrom, Dead+":"+strconv.FormatUint(seq, 10))
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(r.MsgID)); err != nil {
			return done, fmt.Errorf("replay %s message %d to %s: %w", Dead, seq, r.Subject, err)
		}
		if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			// Replayed but still there: a second run publishes it under
			// the same id, which the duplicate window drops.
			return done, fmt.Errorf("delete replayed %s message %d: %w", Dead, seq, err)
		}
		done = append(done, r)
	}
	return done, errors.Join(skipped...)
}

// replayable reports whether subject is one pnstream's consumers read, for
// a dead letter kept under deadSubject. A recorded CDR the mirror
// dead-lettered (pn.dead.recordings) is not: its body had its URLs
// redacted, and replayed it would replace the CDR's row; pnctl
// backfill-recordings makes its job again from the stored CDR.
func replayable(deadSubject, subject string) bool {
	if subject == RecordedFeeSubject {
		return deadSubject != DeadPrefix+"recordings"
	}
	return subject == FeeSubject || subject == RecordingSubject || subject == NumberSubject ||
		(strings.HasPrefix(subject, EventSubjectPrefix) && len(subject) > len(EventSubjectPrefix) && !strings.ContainsAny(subject[len(EventSubjectPrefix):], ".*> "))
}
