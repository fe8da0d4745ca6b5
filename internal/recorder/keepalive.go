package recorder

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keeper sends progress acks for the messages of a batch in hand, so that
// JetStream does not hand them to another recorder while they are being
// decoded, wait for the inserter, or are inserted by a slow or unavailable
// ClickHouse. It is one goroutine per batch, owned by whoever holds the
// batch: stop ends it and waits for it.
type keeper struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// keepAlive starts a keeper that sends InProgress for every message of
// msgs each AckWait/3: two chances before AckWait runs out, even when one
// round is late. Messages acked or terminated meanwhile are skipped by the
// client without a round trip (ErrMsgAlreadyAckd).
func (p *pipeline[R]) keepAlive(msgs []jetstream.Msg) *keeper {
	k := &keeper{done: make(chan struct{})}
	every := p.rec.cfg.AckWait / 3
	k.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
			}
			sent := 0
			for _, m := range msgs {
				select {
				case <-k.done:
					return // the batch is done: the rest need no progress ack
				default:
				}
				// Best effort: a lost one only means a redelivery.
				if m.InProgress() == nil {
					sent++
				}
			}
			p.rec.metrics.progressAcks.WithLabelValues(p.t.name).Add(float64(sent))
		}
	})
	return k
}

// stop ends the keeper and waits for its goroutine.
func (k *keeper) stop() {
	close(k.done)
	k.wg.Wait()
}
