package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The raw limits: what the bare tools do with the same data, without
// pnstream. They bound what pnstream can reach on this machine.

// rawFee is a fee record decoded by plain encoding/json, with the
// numbers kept as json.Number (which also takes numeric strings).
type rawFee struct {
	Direction             json.Number `json:"direction"`
	SpID                  string      `json:"spId"`
	AppKey                string      `json:"appKey"`
	ICID                  string      `json:"icid"`
	BindNum               string      `json:"bindNum"`
	SessionID             string      `json:"sessionId"`
	SubscriptionID        string      `json:"subscriptionId"`
	CallerNum             string      `json:"callerNum"`
	CalleeNum             string      `json:"calleeNum"`
	FwdDisplayNum         string      `json:"fwdDisplayNum"`
	FwdDstNum             string      `json:"fwdDstNum"`
	CallInTime            string      `json:"callInTime"`
	FwdStartTime          string      `json:"fwdStartTime"`
	FwdAlertingTime       string      `json:"fwdAlertingTime"`
	FwdAnswerTime         string      `json:"fwdAnswerTime"`
	CallEndTime           string      `json:"callEndTime"`
	FailTime              string      `json:"failTime"`
	RecordStartTime       string      `json:"recordStartTime"`
	FwdUnaswRsn           json.Number `json:"fwdUnaswRsn"`
	ULFailReason          json.Number `json:"ulFailReason"`
	SIPStatusCode         json.Number `json:"sipStatusCode"`
	CallOutUnaswRsn       json.Number `json:"callOutUnaswRsn"`
	RecordFlag            json.Number `json:"recordFlag"`
	RecordDomain          string      `json:"recordDomain"`
	RecordBucketName      string      `json:"recordBucketName"`
	RecordObjectName      string      `json:"recordObjectName"`
	RecordFileDownloadURL string      `json:"recordFileDownloadUrl"`
	TTSPlayTimes          json.Number `json:"ttsPlayTimes"`
	TTSTransDuration      json.Number `json:"ttsTransDuration"`
	MptyID                string      `json:"mptyId"`
	ServiceType           string      `json:"serviceType"`
	HostName              string      `json:"hostName"`
	ExtendNum             string      `json:"extendNum"`
	ExtendNumber          string      `json:"extendNumber"`
}

type rawPush struct {
	EventType  string `json:"eventType"`
	StatusInfo *struct {
		Timestamp      string      `json:"timestamp"`
		SessionID      string      `json:"sessionId"`
		Caller         string      `json:"caller"`
		Called         string      `json:"called"`
		SubscriptionID string      `json:"subscriptionId"`
		DigitInfo      string      `json:"digitInfo"`
		StateCode      json.Number `json:"stateCode"`
		StateDesc      string      `json:"stateDesc"`
		UserData       string      `json:"userData"`
	} `json:"statusInfo"`
	FeeLst []rawFee `json:"feeLst"`
}

// bareHandler reads and decodes a push with encoding/json in one pass and
// answers 200: HTTP and JSON without verification, validation or storage.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var p rawPush
	if err := json.Unmarshal(body, &p); err != nil || (p.StatusInfo == nil && len(p.FeeLst) == 0) {
		http.Error(w, fmt.Sprintf("decode: %v", err), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write([]byte(`{"resultcode":"0","resultdesc":"Success"}` + "\n"))
}

// serve runs h on a loopback port until the returned stop is called.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed once stopped
	}()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); <-done }, nil
}

// message makes the n-th message of a publish run.
type message func(n int) (subject string, data []byte, msgID string)

// asyncPublish publishes messages with PublishMsgAsync and Nats-Msg-Id,
// as fast as JetStream takes them, for d or until limit messages (0: no
// limit), and waits for the last PubAck. It returns the messages stored
// and the time taken.
func asyncPublish(ctx context.Context, nc *nats.Conn, d time.Duration, limit int, next message) (int, time.Duration, error) {
	var failed atomic.Int64
	var firstErr atomic.Value
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}))
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: %w", err)
	}
	start := time.Now()
	n := 0
	for time.Since(start) < d && (limit == 0 || n < limit) && ctx.Err() == nil {
		subject, data, id := next(n)
		_, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data}, jetstream.WithMsgID(id))
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			continue // the window is full; the same message is made again
		}
		if err != nil {
			return n, time.Since(start), fmt.Errorf("publish async: %w", err)
		}
		n++
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		return n, time.Since(start), errors.New("publish async: acks missing after 30s")
	}
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		return n, elapsed, fmt.Errorf("publish async: %d of %d failed, first: %v", f, n, firstErr.Load())
	}
	return n, elapsed, nil
}

// batchLatency publishes batches of size messages at perSec batches a
// second for d, each with PublishMsgAsync and then a wait for all its
// PubAcks (what ingest does with a push, without HTTP and JSON), up to
// conns batches in flight, and returns the latency of each batch counted
// from when it was due.
func batchLatency(ctx context.Context, nc *nats.Conn, conns, size int, perSec float64, d time.Duration, next message) (loadResult, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return loadResult{}, fmt.Errorf("jetstream: %w", err)
	}
	futures := make([][]jetstream.PubAckFuture, conns)
	for w := range futures {
		futures[w] = make([]jetstream.PubAckFuture, size)
	}
	return paced(ctx, conns, perSec, d, func(w, n int, _ time.Time) (int, error) {
		return size, publishBatch(ctx, js, futures[w], n*size, next)
	}), nil
}

func publishBatch(ctx context.Context, js jetstream.JetStream, futures []jetstream.PubAckFuture, first int, next message) error {
	for i := range futures {
		subject, data, id := next(first + i)
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data}, jetstream.WithMsgID(id))
		if err != nil {
			return fmt.Errorf("publish async: %w", err)
		}
		futures[i] = f
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish async: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
