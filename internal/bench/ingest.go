package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

const (
	benchAppKey    = "pnbench-app"
	benchAppSecret = "pnbench-secret"
)

// productionLogger logs at info level as JSON, as the commands do, so
// that what logging costs stays in the figures; warnings and errors, which
// explain a bad figure (retries, redeliveries), also go to stderr.
func productionLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewTee(
		zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel),
		zapcore.NewCore(enc.Clone(), zapcore.Lock(os.Stderr), zap.WarnLevel),
	))
}

// ingestServer is pnstream's ingest on a loopback port, wired as
// cmd/ingest wires it, with push authentication on.
type ingestServer struct {
	url  string
	stop func() error
}

func startIngest(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) (*ingestServer, error) {
	cfg := ingest.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = benchAppKey, benchAppSecret
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	srv := ingest.New(cfg, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(nc, js),
		Nonces:     ingest.NewJetStreamNonces(js, cfg.NonceWindow()),
		MaxPayload: nc.MaxPayload,
		Ready:      func(context.Context) error { return nil },
		Logger:     productionLogger(),
		Registry:   prometheus.NewRegistry(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, ln) }()
	return &ingestServer{url: "http://" + ln.Addr().String(), stop: func() error { cancel(); return <-done }}, nil
}

func signer() *aksk.Signer {
	return &aksk.Signer{AppKey: benchAppKey, AppSecret: benchAppSecret}
}

// purge empties the data streams between measurements, so that each
// starts from the same store. A JetStream purge keeps the stream's
// duplicate-window ids in nats-server's memory (PN_EVENTS keeps them for
// the 6h10m nonce window): the million ids of a raw publish run stayed
// there and taxed every later measurement, whose server CPU went to
// marking them (Go's GC, a quarter of nats-server's profile). So each
// stream is deleted and made again, empty, with its own configuration
// and its durable consumers'.
func purge(ctx context.Context, js jetstream.JetStream, names ...string) error {
	for _, name := range names {
		if err := remake(ctx, js, name); err != nil {
			return fmt.Errorf("purge %s: %w", name, err)
		}
	}
	return nil
}

// remake deletes stream name and creates it again, empty, with the same
// configuration and durable consumers.
func remake(ctx context.Context, js jetstream.JetStream, name string) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	var consumers []jetstream.ConsumerConfig
	list := s.ListConsumers(ctx)
	for ci := range list.Info() {
		if ci.Config.Durable != "" { // an ephemeral one goes with its client
			consumers = append(consumers, ci.Config)
		}
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("list consumers: %w", err)
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		return err
	}
	if _, err := js.CreateStream(ctx, info.Config); err != nil {
		return err
	}
	for _, cc := range consumers {
		if _, err := js.CreateConsumer(ctx, name, cc); err != nil {
			return fmt.Errorf("consumer %s: %w", cc.Durable, err)
		}
	}
	return nil
}

// pushKind is one of the two push bodies the ingest stage measures.
type pushKind struct {
	stage   string // table stage name
	name    string // short name, for profiles
	unit    string // "records" or "events"
	path    string
	perPush int
	body    body
	message message
	stream  string
}

func (b *Bench) pushKinds() []pushKind {
	c := b.corpus
	return []pushKind{
		{
			stage: "ingest fees (50-record pushes)", name: "fees", unit: "records", path: ingest.PathFees, perPush: privatenumber.MaxFeeRecords,
			body: func(dst []byte, n int) ([]byte, int) {
				return c.feePush(dst, n*privatenumber.MaxFeeRecords, privatenumber.MaxFeeRecords), privatenumber.MaxFeeRecords
			},
			message: func(n int) (string, []byte, string) {
				data, id := c.feeMessage(n)
				return streams.FeeSubject, data, id
			},
			stream: streams.Fees,
		},
		{
			stage: "ingest events (single-event pushes)", name: "events", unit: "events", path: ingest.PathEvents, perPush: 1,
			body: func(dst []byte, n int) ([]byte, int) { return c.event(dst, n), 1 },
			message: func(n int) (string, []byte, string) {
				data, eventType, id := c.eventMessage(n)
				return streams.EventSubject(eventType), data, id
			},
			stream: streams.Events,
		},
	}
}

// runIngest measures ingest for both push kinds against the bare handler
// and JetStream's async publish.
func (b *Bench) runIngest(ctx context.Context, rep *Report) error {
	nc, js, err := b.connect("pnbench-ingest")
	if err != nil {
		return err
	}
	defer nc.Close()
	rawNC, err := nats.Connect(b.srv.nats.URL())
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer rawNC.Close()
	bareURL, stopBare, err := serve(http.HandlerFunc(bareHandler))
	if err != nil {
		return err
	}
	defer stopBare()
	in, err := startIngest(ctx, nc, js)
	if err != nil {
		return err
	}
	defer func() { _ = in.stop() }()

	for _, k := range b.pushKinds() {
		if err := b.ingestKind(ctx, rep, js, rawNC, bareURL, in.url, k); err != nil {
			return fmt.Errorf("%s: %w", k.stage, err)
		}
	}
	return nil
}

func (b *Bench) ingestKind(ctx context.Context, rep *Report, js jetstream.JetStream, rawNC *nats.Conn, bareURL, ingestURL string, k pushKind) error {
	d, conns := b.cfg.Duration, b.cfg.Conns
	bare := newPushClient(bareURL+k.path, conns, signer()) // the same signed requests: their signing is load, not pnstream
	defer bare.close()
	m := b.measure("ingest-" + k.name + "-bare")
	bareFull := closedLoop(ctx, bare, conns, d, k.body)
	m.done(bareFull.records)
	if err := bareFull.check(); err != nil {
		return fmt.Errorf("bare handler: %w", err)
	}
	if err := purge(ctx, js, k.stream); err != nil {
		return err
	}
	m = b.measure("ingest-" + k.name + "-jetstream")
	published, took, err := asyncPublish(ctx, rawNC, d, 0, k.message)
	jsCPU := m.done(published)
	if err != nil {
		return err
	}
	jsRate := float64(published) / took.Seconds()
	if err := purge(ctx, js, k.stream); err != nil {
		return err
	}
	pn := newPushClient(ingestURL+k.path, conns, signer())
	defer pn.close()
	m = b.measure("ingest-" + k.name + "-pnstream")
	full := closedLoop(ctx, pn, conns, d, k.body)
	pnCPU := m.done(full.records)
	if err := full.check(); err != nil {
		return fmt.Errorf("ingest at full load: %w", err)
	}
	if err := purge(ctx, js, k.stream); err != nil {
		return err
	}
	m = b.measure("ingest-" + k.name + "-pnstream-half")
	half := openLoop(ctx, pn, conns, full.requestsPerSec()/2, d, k.body)
	m.done(half.records)
	if err := half.check(); err != nil {
		return fmt.Errorf("ingest at half load: %w", err)
	}
	if err := purge(ctx, js, k.stream); err != nil {
		return err
	}
	rawHalf, err := batchLatency(ctx, rawNC, conns, k.perPush, full.requestsPerSec()/2, d, k.message)
	if err == nil {
		err = rawHalf.check()
	}
	if err != nil {
		return fmt.Errorf("jetstream at half load: %w", err)
	}
	if err := purge(ctx, js, k.stream); err != nil {
		return err
	}
	unit := k.unit + "/s"
	if k.stream == streams.Fees {
		b.limits.decode, b.limits.publish = bareFull.recordsPerSec(), jsRate
	}
	rep.add(k.stage, unit+" vs bare handler", fmt.Sprintf("bare Go handler, encoding/json, the same signed requests, %d conns", conns),
		bareFull.recordsPerSec(), full.recordsPerSec(), nil)
	var target *Target
	if k.stream == streams.Fees {
		target = &Target{Kind: "ratio", Value: 0.8} // the target is on fee records
	}
	rep.add(k.stage, unit+" vs JetStream", "JetStream PublishMsgAsync + Nats-Msg-Id, 1 conn",
		jsRate, full.recordsPerSec(), target)
	rep.add(k.stage, fmt.Sprintf("p50 ms, full load (%d conns)", conns), "bare handler at its full load", bareFull.quantile(0.5), full.quantile(0.5), nil)
	rep.add(k.stage, fmt.Sprintf("p99 ms, full load (%d conns)", conns), "bare handler at its full load", bareFull.quantile(0.99), full.quantile(0.99), nil)
	rep.add(k.stage, "half load, "+unit, "", 0, half.recordsPerSec(), nil)
	halfBy := fmt.Sprintf("JetStream alone: %d async publishes + wait for PubAcks, same rate", k.perPush)
	rep.add(k.stage, "p50 ms, half load", halfBy, rawHalf.quantile(0.5), half.quantile(0.5), nil)
	rep.add(k.stage, "p99 ms, half load", halfBy, rawHalf.quantile(0.99), half.quantile(0.99), &Target{Kind: "max", Value: 50})
	rep.addCPU(k.stage, k.unit[:len(k.unit)-1], jsCPU, pnCPU, "pnbench", "nats-server")
	return nil
}

// connect opens a NATS connection as the commands do and provisions the
// streams.
func (b *Bench) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	cc := streams.DefaultConnConfig()
	cc.URL = b.srv.nats.URL()
	nc, js, err := streams.Connect(cc, name, productionLogger())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := streams.DefaultConfig()
	sc.Storage = b.cfg.StreamStorage
	if err := streams.Provision(ctx, js, sc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
