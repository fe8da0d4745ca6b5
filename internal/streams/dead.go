package streams

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/redact"
)

// DeadLetter keeps msg in PN_DEAD under pn.dead.<source>, with its original
// headers and where it came from, and the reason. It does not settle msg:
// the caller terminates it once this returned nil, or naks it otherwise so
// that nothing is lost. A message dead-lettered twice (a redelivery after a
// failed term) is stored once.
func DeadLetter(ctx context.Context, js jetstream.JetStream, source string, msg jetstream.Msg, cause error) error {
	dead := nats.NewMsg(DeadPrefix + source)
	dead.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != nats.MsgIdHdr {
			dead.Header[k] = v
		}
	}
	dead.Header.Set(HeaderReason, redact.Truncate(cause.Error(), 4096))
	dead.Header.Set(HeaderSubject, msg.Subject())
	id := "dead:" + source
	if md, err := msg.Metadata(); err == nil {
		seq := strconv.FormatUint(md.Sequence.Stream, 10)
		dead.Header.Set(HeaderStream, md.Stream)
		dead.Header.Set(HeaderStreamSeq, seq)
		dead.Header.Set(HeaderDelivered, strconv.FormatUint(md.NumDelivered, 10))
		id += ":" + seq
	}
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(pubCtx, dead, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("dead-letter %s: %w", id, err)
	}
	return nil
}
