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

	mu   sync.Mutex
	msgs []jetstream.Msg // appended to while the batch is collected
}

// keepAlive starts a keeper that sends InProgress each AckWait/3 for
// every message added to it: two chances before AckWait runs out, even
// when one round is late. Messages acked or terminated meanwhile are
// skipped by the client without a round trip (ErrMsgAlreadyAckd).
func (p *pipeline[R]) keepAlive() *keeper {
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
			k.mu.Lock()
			msgs := k.msgs // add only appends: this prefix stays as it is
			k.mu.Unlock()
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

// add has the keeper keep m alive too.
func (k *keeper) add(m jetstream.Msg) {
	k.mu.Lock()
	k.msgs = append(k.msgs, m)
	k.mu.Unlock()
}

// stop ends the keeper and waits for its goroutine.
func (k *keeper) stop() {
	close(k.done)
	k.wg.Wait()
}
