package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/nonces"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// TestNATSPermissionsOfScaleOutValues runs the recorder, with its mirror,
// and ingest's JetStream calls as the user pnstream of the accounts in
// deploy/k8s/scale-out/nats-values.yaml, on a real server configured with
// those accounts: everything pnstream does is allowed, and what it never
// does (other streams, deleting its own) is refused.
func TestNATSPermissionsOfScaleOutValues(t *testing.T) {
	t.Parallel()
	passwords := map[string]string{
		"NATS_PNSTREAM_PASSWORD": "pnstream-pw-" + strings.Repeat("a", 8),
		"NATS_SYS_PASSWORD":      "sys-pw-" + strings.Repeat("b", 8),
		"NATS_ADMIN_PASSWORD":    "admin-pw-" + strings.Repeat("c", 8),
	}
	port := loopbackAddr(t)
	srv := startNATSWithValues(t, port, passwords)
	t.Cleanup(srv.Shutdown) // after the recorder's stop, a cleanup too
	url := func(user, pw string) string { return "nats://" + user + ":" + pw + "@" + port }
	pnstreamURL := url("pnstream", passwords["NATS_PNSTREAM_PASSWORD"])

	if nc, err := nats.Connect(url("pnstream", "wrong")); err == nil {
		nc.Close()
		t.Error("a wrong password connects")
	}

	// The nonce stream of an earlier version, with a nonce the recorder's
	// set-up moves into PN_EVENTS before it deletes the stream.
	adminNC, err := nats.Connect(url("admin", passwords["NATS_ADMIN_PASSWORD"]))
	if err != nil {
		t.Fatal(err)
	}
	adminJS, err := jetstream.New(adminNC)
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	if _, err := adminJS.CreateStream(actx, jetstream.StreamConfig{Name: streams.LegacyNonces, Subjects: []string{streams.LegacyNonceSubject}, Duplicates: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := adminJS.Publish(actx, streams.LegacyNonceSubject, nonces.Digest([]byte("old body")), jetstream.WithMsgID(nonces.Key("app", "old-nonce"))); err != nil {
		t.Fatal(err)
	}
	adminNC.Close()

	// The recorder: provisioning, its consumers, the mirror's consumer.
	db := clickhouse.NewDatabase(t)
	admin := loopbackAddr(t)
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-nats-url", pnstreamURL, "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", admin, "-recorder-batch-wait", "100ms",
			"-app-key", "k", "-app-secret", "s", "-api-base-url", "http://127.0.0.1:1",
			"-s3-endpoint", s3.Endpoint(), "-s3-access-key", s3.AccessKey(), "-s3-secret-key", s3.SecretKey(),
			"-s3-insecure", "-s3-bucket", "nats-auth-test", "-log-level", "warn"})
	})
	waitReady(t, admin, bg)

	// Ingest's calls: the readiness check, a nonce claim, a publish.
	nc, err := nats.Connect(pnstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := streams.Check(cctx, js); err != nil {
		t.Fatalf("streams.Check as pnstream: %v", err)
	}
	store := ingest.NewJetStreamNonces(js, ingest.DefaultConfig().NonceWindow())
	if err := store.Check(cctx); err != nil {
		t.Fatalf("check the nonce stream as pnstream: %v", err)
	}
	if err := store.Claim(cctx, "app", "nonce-1", []byte("body"), time.Minute); err != nil {
		t.Fatalf("claim a nonce as pnstream: %v", err)
	}
	if err := store.Claim(cctx, "app", "nonce-1", []byte("other body"), time.Minute); !errors.Is(err, nonces.ErrReused) {
		t.Fatalf("claim a nonce again with another body as pnstream: %v, want ErrReused", err)
	}
	event := streams.Message{Subject: streams.EventSubject("callin"), Data: []byte(`{"eventType":"callin"}`)}
	if err := store.ClaimWith(cctx, "app", "nonce-2", []byte("event body"), event); err != nil {
		t.Fatalf("store an event with its nonce as pnstream: %v", err)
	}
	if err := store.ClaimWith(cctx, "app", "nonce-2", []byte("forged"), event); !errors.Is(err, nonces.ErrReused) {
		t.Fatalf("an event under its nonce with another body as pnstream: %v, want ErrReused", err)
	}
	// The retired stream's nonce is still remembered, and the stream gone.
	if err := store.Claim(cctx, "app", "old-nonce", []byte("forged"), time.Minute); !errors.Is(err, nonces.ErrReused) {
		t.Fatalf("a nonce of the retired stream with another body: %v, want ErrReused", err)
	}
	if _, err := js.Stream(cctx, streams.LegacyNonces); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("%s after the recorder's set-up: %v, want deleted", streams.LegacyNonces, err)
	}
	fee := `{"icid":"auth-1","sessionId":"s-auth","callInTime":"2024-01-01 00:00:00","recordFlag":1,"recordObjectName":"a.wav","recordDomain":"ostor.huawei.com"}`
	if err := streams.NewJetStreamPublisher(nc, js).Publish(cctx, streams.Message{
		Subject: streams.FeeSubject, MsgID: "fee:auth-1", Data: []byte(fee),
	}); err != nil {
		t.Fatalf("publish a fee as pnstream: %v", err)
	}
	waitRows(t, clickhouse.Open(t, db), "SELECT count() FROM fee_records FINAL", 1)
	// The recorder's ack got through: a denied ack would only show as a
	// redelivery.
	waitConsumer(t, js, streams.Fees, "pn-recorder-fees", func(info *jetstream.ConsumerInfo) bool {
		return info.AckFloor.Consumer >= 1 && info.NumAckPending == 0
	})
	// The recorded call became a job that the mirror took (its platform is
	// unreachable, so the job is in progress or waiting for a retry).
	waitConsumer(t, js, streams.Recordings, "pn-archive", func(info *jetstream.ConsumerInfo) bool {
		return info.Delivered.Consumer >= 1
	})

	// What pnstream never does is refused.
	short := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if err := js.DeleteStream(short(), streams.Fees); err == nil {
		t.Error("pnstream may delete PN_FEES")
	}
	if err := js.DeleteStream(short(), streams.Events); err == nil {
		t.Error("pnstream may delete PN_EVENTS")
	}
	if _, err := js.CreateStream(short(), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err == nil {
		t.Error("pnstream may create a stream of another name")
	}
	sub, err := nc.SubscribeSync("pn.>")
	if err == nil {
		// A denied subscription is reported asynchronously.
		_ = nc.Flush()
		if !strings.Contains(fmt.Sprint(nc.LastError()), "Permissions Violation") {
			t.Error("pnstream may subscribe to pn.> directly")
		}
		_ = sub.Unsubscribe()
	}

	// The system account's user connects, and has no JetStream.
	sys, err := nats.Connect(url("sys", passwords["NATS_SYS_PASSWORD"]))
	if err != nil {
		t.Fatalf("connect as sys: %v", err)
	}
	defer sys.Close()
	sysJS, err := jetstream.New(sys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sysJS.Stream(short(), streams.Fees); err == nil {
		t.Error("the system account sees PN_FEES")
	}
}

// waitConsumer waits until the info of the consumer durable on stream
// satisfies ok.
func waitConsumer(t *testing.T, js jetstream.JetStream, stream, durable string, ok func(*jetstream.ConsumerInfo) bool) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		c, err := js.Consumer(t.Context(), stream, durable)
		if err != nil {
			return false, fmt.Sprintf("consumer %s: %v", durable, err)
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return false, fmt.Sprintf("consumer %s: %v", durable, err)
		}
		return ok(info), fmt.Sprintf("consumer %s: delivered %d, ack floor %d, %d unacked", durable,
			info.Delivered.Consumer, info.AckFloor.Consumer, info.NumAckPending)
	})
}

// startNATSWithValues starts an embedded JetStream server on addr with the
// accounts, system account and max_payload of the NATS chart values, the
// chart's "<< $VAR >>" passwords replaced by passwords[VAR].
func startNATSWithValues(t *testing.T, addr string, passwords map[string]string) *server.Server {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/k8s/scale-out/nats-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Config struct {
			Merge map[string]any `json:"merge"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatalf("nats-values.yaml: %v", err)
	}
	merge := values.Config.Merge
	if merge["accounts"] == nil || merge["system_account"] == nil {
		t.Fatal("nats-values.yaml: config.merge has no accounts or system_account")
	}
	// NATS's parser reads JSON, but not \u escapes: keep ">" as it is.
	var accounts strings.Builder
	enc := json.NewEncoder(&accounts)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(merge["accounts"]); err != nil {
		t.Fatal(err)
	}
	text := accounts.String()
	for name, pw := range passwords {
		text = strings.ReplaceAll(text, `"<< $`+name+` >>"`, `"`+pw+`"`)
	}
	if strings.Contains(text, "<<") {
		t.Fatalf("nats-values.yaml: a password variable the test does not know: %s", text)
	}
	host, port, _ := strings.Cut(addr, ":")
	conf := fmt.Sprintf(`{"host": %q, "port": %s, "jetstream": {"store_dir": %q, "max_file_store": 1099511627776},
		"system_account": %q, "accounts": %s}`, host, port, t.TempDir(), merge["system_account"], text)
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats config from the values: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server with the values' accounts did not start")
	}
	return srv
}
