package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How far the pipeline got is read from JetStream, not from ClickHouse:
// the recorder acks a message only after its row is inserted, and the
// mirror only after the object and its row are stored, so a consumer's ack
// floor is a slightly late (conservative) mark of what is visible. Asking
// NATS costs next to nothing, while polling ClickHouse every few
// milliseconds cost ClickHouse 18.16 more CPU than the inserts measured.

// pollInterval is how often progress is read.
const pollInterval = 20 * time.Millisecond

// lastSeq returns the last sequence stored in stream.
func lastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}

// ackFloor returns the stream sequence up to which the durable consumer
// has acked every message; 0 while the consumer does not exist yet.
func ackFloor(ctx context.Context, js jetstream.JetStream, stream, consumer string) (uint64, error) {
	c, err := js.Consumer(ctx, stream, consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", consumer, err)
	}
	return c.CachedInfo().AckFloor.Stream, nil
}

// waitAcked waits until the consumer acked every message up to seq, at
// most timeout, and returns when it saw that.
func waitAcked(ctx context.Context, js jetstream.JetStream, stream, consumer string, seq uint64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		floor, err := ackFloor(ctx, js, stream, consumer)
		if err != nil {
			return time.Time{}, err
		}
		if floor >= seq {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("consumer %s acked up to %d after %s, want %d", consumer, floor, timeout, seq)
		}
		time.Sleep(pollInterval)
	}
}

// observation is a consumer's ack floor at a moment.
type observation struct {
	at    time.Time
	floor uint64
}

// watchAcks records the consumer's ack floor until stop is closed.
func watchAcks(ctx context.Context, js jetstream.JetStream, stream, consumer string, stop <-chan struct{}) ([]observation, error) {
	var obs []observation
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		floor, err := ackFloor(ctx, js, stream, consumer)
		if err != nil {
			return obs, err
		}
		obs = append(obs, observation{at: time.Now(), floor: floor})
		select {
		case <-stop:
			return obs, nil
		case <-t.C:
		}
	}
}

// waitDrained waits until the durable consumer has nothing left to deliver
// and nothing waiting for an ack, at most timeout, and returns when it saw
// that. It suits a filtered consumer, whose ack floor need not reach the
// stream's last sequence.
func waitDrained(ctx context.Context, js jetstream.JetStream, stream, consumer string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return time.Time{}, fmt.Errorf("consumer %s: %w", consumer, err)
		}
		if err == nil {
			if info := c.CachedInfo(); info.NumPending == 0 && info.NumAckPending == 0 {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("consumer %s not drained after %s", consumer, timeout)
		}
		time.Sleep(pollInterval)
	}
}

// waitEmpty waits until the work-queue stream holds no message (every job
// acked), at most timeout, and returns when it saw that.
func waitEmpty(ctx context.Context, js jetstream.JetStream, stream string, timeout time.Duration) (time.Time, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		info, err := s.Info(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("stream %s: %w", stream, err)
		}
		if info.State.Msgs == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("stream %s holds %d messages after %s", stream, info.State.Msgs, timeout)
		}
		time.Sleep(pollInterval)
	}
}
