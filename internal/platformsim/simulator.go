package platformsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// StatsPath serves the simulator's Stats as JSON.
const StatsPath = "/sim/stats"

// Simulator is the whole simulated platform: the API (NewAPI) on a binding
// store, AXE calls placed on the active bindings at a steady rate, their
// events and CDRs pushed to the callback URLs, the recordings served, and
// fault injection. Handler serves everything on one port; Run drives the
// calls.
type Simulator struct {
	cfg        Config
	log        *zap.Logger
	client     *http.Client
	ownClient  bool
	bindings   *Bindings
	recordings *RecordingStore
	faults     *Faults
	pusher     *Pusher // nil when CallRate is 0
	handler    http.Handler

	calls     atomic.Int64
	mu        sync.Mutex
	scenarios map[Scenario]int64
}

// Deps are what a Simulator takes besides its Config.
type Deps struct {
	// Logger receives the simulator's logs; nil means none.
	Logger *zap.Logger
	// Client sends the pushes; nil means a client of the simulator's own,
	// which follows no redirect, as the platform does not.
	Client *http.Client
}

// Stats are the simulator's counters, served on StatsPath.
type Stats struct {
	Calls      int64              `json:"calls"`
	Scenarios  map[Scenario]int64 `json:"scenarios"`
	Bindings   int                `json:"activeBindings"`
	Recordings int                `json:"recordings"`
	Push       PushStats          `json:"push"`
	Faults     FaultSpec          `json:"faults"`
}

// New builds a simulator from a valid cfg. It loads the bindings file, if
// one is configured, and starts nothing.
func New(cfg Config, deps Deps) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	s := &Simulator{cfg: cfg, log: deps.Logger, client: deps.Client, scenarios: make(map[Scenario]int64)}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.client == nil {
		// A transport of its own: connections for every push worker, and
		// closing them at the end touches nobody else's.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = cfg.PushWorkers
		s.ownClient = true
		s.client = &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.faults = NewFaults(nil)
	if spec, err := cfg.faultSpec(); err != nil {
		return nil, err
	} else if spec != nil {
		if err := s.faults.Set(*spec); err != nil {
			return nil, fmt.Errorf("faults: %w", err)
		}
	}
	var err error
	if s.bindings, err = NewBindings(cfg.BindingsFile, cfg.ExtensionDigits); err != nil {
		return nil, err
	}
	s.recordings, err = NewRecordingStore(RecordingStoreConfig{
		BaseURL:   cfg.publicURL(),
		URLTTL:    cfg.scaled(cfg.URLTTL),
		Retention: cfg.scaled(cfg.Retention),
	}, s.faults)
	if err != nil {
		return nil, err
	}
	if cfg.CallRate > 0 {
		s.pusher, err = NewPusher(PusherConfig{
			EventsURL: cfg.EventsURL, FeesURL: cfg.FeesURL, NumStatusURL: cfg.NumStatusURL,
			AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, WSSE: cfg.PushWSSE,
			TimeScale: cfg.TimeScale, Timeout: cfg.PushTimeout, Workers: cfg.PushWorkers,
			MaxPending: cfg.PushMaxPending, FeeBatchWait: cfg.FeeBatchWait, RepushHeaders: cfg.RepushHeaders,
		}, s.client, s.faults, s.log.Named("push"))
		if err != nil {
			return nil, err
		}
	}
	api := NewAPI(APIConfig{
		AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, Window: cfg.AuthWindow,
		Fault: s.faults.APIFault, VirtualNumbers: cfg.VirtualNumbers, AreaCodes: cfg.AreaCodes,
	}, s.bindings, s.recordings, s.log.Named("api"))
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(RecordingsPath, s.recordings)
	mux.Handle(FaultsPath, s.faults)
	mux.HandleFunc("GET "+StatsPath, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.handler = mux
	return s, nil
}

// Handler serves the platform API paths, the recording downloads
// (RecordingsPath) and the admin endpoints (FaultsPath, StatsPath).
func (s *Simulator) Handler() http.Handler { return s.handler }

// Bindings is the simulator's binding store.
func (s *Simulator) Bindings() *Bindings { return s.bindings }

// Faults is the simulator's fault injection.
func (s *Simulator) Faults() *Faults { return s.faults }

// Recordings is the simulator's recording store.
func (s *Simulator) Recordings() *RecordingStore { return s.recordings }

// Stats returns the counters so far.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Calls:      s.calls.Load(),
		Scenarios:  make(map[Scenario]int64),
		Bindings:   len(s.bindings.Snapshot(time.Now())),
		Recordings: s.recordings.Len(),
		Faults:     s.faults.Active(),
	}
	if s.pusher != nil {
		st.Push = s.pusher.Stats()
	}
	s.mu.Lock()
	for k, v := range s.scenarios {
		st.Scenarios[k] = v
	}
	s.mu.Unlock()
	return st
}

// Run creates the configured bindings, then places calls and pushes them
// until ctx is done (or MaxCalls were placed and ctx is done). It returns
// nil after a clean stop; pushes not yet delivered are abandoned.
func (s *Simulator) Run(ctx context.Context) error {
	if s.ownClient {
		defer s.client.CloseIdleConnections()
	}
	if err := s.createBindings(time.Now()); err != nil {
		return err
	}
	if s.pusher == nil {
		<-ctx.Done()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.pusher.Run(gctx) })
	g.Go(func() error { return s.generate(gctx) })
	g.Go(func() error { return s.watchNumbers(gctx) })
	return g.Wait()
}

// createBindings binds cfg.Bindings A numbers, spread over the virtual
// numbers, with recordFlag on for RecordShare of them. A binding kept in
// the bindings file from an earlier run is left as it is.
func (s *Simulator) createBindings(now time.Time) error {
	created := 0
	for i := range s.cfg.Bindings {
		b := Binding{
			VirtualNum:     s.cfg.VirtualNumbers[i%len(s.cfg.VirtualNumbers)],
			BindNum:        fmt.Sprintf("+86139%08d", i+1),
			DisplayNumMode: "0",
			TimeUnit:       "0",
			UserData:       fmt.Sprintf("pnsim-%d", i+1),
		}
		// Spread the recorded ones evenly: binding i is recorded when the
		// running count of RecordShare·i steps up.
		if int(float64(i+1)*s.cfg.RecordShare) > int(float64(i)*s.cfg.RecordShare) {
			b.RecordFlag = true
			b.RecordHintTone = "pnsim_record_hint.wav" // operators intercept recorded calls without one
		}
		_, err := s.bindings.Create(b, now)
		switch {
		case errors.Is(err, ErrDuplicateBinding):
		case err != nil:
			return fmt.Errorf("create binding %d of %d: %w", i+1, s.cfg.Bindings, err)
		default:
			created++
		}
	}
	s.log.Info("bindings ready", zap.Int("created", created), zap.Int("active", len(s.bindings.Snapshot(now))))
	return nil
}

// generate places calls at CallRate on average (exponential gaps, so a
// Poisson stream) until ctx is done or MaxCalls were placed.
func (s *Simulator) generate(ctx context.Context) error {
	gen := NewCallGenerator(CallConfig{
		Seed: s.cfg.Seed, AppKey: s.cfg.AppKey, SpID: s.cfg.SpID, RecordDomain: s.cfg.RecordDomain,
		EmptyDomainShare: s.cfg.EmptyDomainShare,
		DirectURL:        func(r Recording) string { return s.recordings.DirectURL(r, time.Now()) },
		Unusable:         func(x string) bool { return s.faults.numberUnusable(x, time.Now()) },
	})
	gaps := rand.New(rand.NewPCG(s.cfg.Seed, 0x5eed))
	timer := time.NewTimer(0)
	defer timer.Stop()
	var (
		active []Binding
		seenAt time.Time
		idle   bool
	)
	for s.cfg.MaxCalls == 0 || s.calls.Load() < int64(s.cfg.MaxCalls) {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		now := time.Now().UTC()
		if now.Sub(seenAt) >= time.Second { // bindings change rarely; look once a second
			active, seenAt = s.bindings.Snapshot(now), now
		}
		call, ok := gen.Next(active, now)
		if ok {
			if call.Recording != nil {
				s.recordings.Add(*call.Recording, now)
			}
			if err := s.pusher.PushCall(ctx, call); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("push call %s: %w", call.ICID, err)
			}
			s.calls.Add(1)
			s.mu.Lock()
			s.scenarios[call.Scenario]++
			s.mu.Unlock()
		} else if !idle {
			s.log.Warn("no active bindings: no calls until some are bound")
		}
		idle = !ok
		timer.Reset(time.Duration(gaps.ExpFloat64() / s.cfg.CallRate * float64(time.Second)))
	}
	s.log.Info("placed the configured number of calls", zap.Int64("calls", s.calls.Load()))
	return nil
}

// faultSpec parses cfg.Faults; nil when empty.
func (c Config) faultSpec() (*FaultSpec, error) {
	if c.Faults == "" {
		return nil, nil
	}
	var spec FaultSpec
	if err := json.Unmarshal([]byte(c.Faults), &spec); err != nil {
		return nil, fmt.Errorf("faults %q: %w", c.Faults, err)
	}
	return &spec, nil
}
