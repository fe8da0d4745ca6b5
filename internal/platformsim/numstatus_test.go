package platformsim

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestNumberFaultValidate(t *testing.T) {
	for _, c := range []struct {
		spec string
		want string // "" when valid
	}{
		{`{"numbers":[{"number":"+8617000000001","cause":"2","for":"1m"}]}`, ""},
		{`{"numbers":[{"number":"+8617000000001","cause":"5","status":"10","for":"1m"}]}`, ""},
		{`{"numbers":[{"number":"8617000000001","cause":"2","for":"1m"}]}`, "number"},
		{`{"numbers":[{"number":"+8617000000001","cause":"6","for":"1m"}]}`, "cause"},
		{`{"numbers":[{"number":"+8617000000001","cause":"4","for":"1m"}]}`, "cause"},
		{`{"numbers":[{"number":"+8617000000001","cause":"2","status":"7","for":"1m"}]}`, "status"},
		{`{"numbers":[{"number":"+8617000000001","cause":"2"}]}`, "numbers[0].for"},
	} {
		cfg := DefaultConfig()
		cfg.AppKey, cfg.AppSecret, cfg.CallRate, cfg.Faults = "k", "s", 0, c.spec
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.spec, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error on %s", c.spec, err, c.want)
		}
	}
	for _, cause := range []string{"1", "2", "3", "5", "7", "8", "9"} {
		if err := (NumberFault{Number: "+8617000000001", Cause: cause, For: Duration(time.Second)}).validate(); err != nil {
			t.Errorf("documented cause %s refused: %v", cause, err)
		}
	}
}

func TestFaultsNumbersActiveAndClear(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFaults(func() time.Time { return now })
	if err := f.Set(FaultSpec{Numbers: []NumberFault{
		{Number: "+8617000000002", Cause: "3", For: Duration(time.Minute)},
		{Number: "+8617000000001", Cause: "2", For: Duration(2 * time.Minute)},
	}}); err != nil {
		t.Fatal(err)
	}
	a := f.Active().Numbers
	if len(a) != 2 || a[0].Number != "+8617000000001" || a[1].Cause != "3" || !f.numberUnusable("+8617000000002", now) {
		t.Fatalf("active %+v", a)
	}
	now = now.Add(90 * time.Second)
	if f.numberUnusable("+8617000000002", now) || !f.numberUnusable("+8617000000001", now) {
		t.Error("the one-minute fault is still on, or the two-minute one is off, after 90 s")
	}
	f.Clear()
	if len(f.Active().Numbers) != 0 || f.numberUnusable("+8617000000001", now) {
		t.Error("Clear left a number fault")
	}
}

// A number fault pushes the X unusable with its cause, fails the calls
// through it with 8055, and when it ends pushes the X usable again (cause
// 6 after a cause-5 restriction), each a numStatus push on the call-status
// URL that the decoder takes.
func TestNumberFaultPushesStates(t *testing.T) {
	verifyNoLeaks(t)
	rcv := newReceiver(t, nil)
	srv := httptest.NewUnstartedServer(nil)
	cfg := DefaultConfig()
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	cfg.AppKey, cfg.AppSecret = pushKey, pushSecret
	cfg.EventsURL, cfg.FeesURL = rcv.srv.URL+"/events", rcv.srv.URL+"/fees"
	cfg.CallRate, cfg.Bindings, cfg.TimeScale = 300, 6, 0.001
	cfg.FeeBatchWait = 20 * time.Millisecond
	x := cfg.VirtualNumbers[0]
	cfg.Faults = `{"numbers":[{"number":"` + x + `","cause":"5","for":"1s"}]}`
	sim, err := New(cfg, Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sim.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	testenv.Go(t, sim.Run)

	nums := func() [][]privatenumber.NumberStatus {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return append([][]privatenumber.NumberStatus(nil), rcv.nums...)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		n := len(nums())
		return n == 2, fmt.Sprintf("%d numStatus pushes received, want 2 (unusable, then usable)", n)
	})
	rcv.check()
	got := nums()
	if len(got[0]) != 1 || got[0][0].Number != x || got[0][0].Status != StatusUnusable || got[0][0].Cause != "5" {
		t.Errorf("first push %+v, want %s unusable with cause 5", got[0], x)
	}
	if len(got[1]) != 1 || got[1][0].Number != x || got[1][0].Status != StatusUsable || got[1][0].Cause != "6" || !got[1][0].Usable() {
		t.Errorf("second push %+v, want %s usable with cause 6", got[1], x)
	}
	if st := sim.Stats(); st.Push.NumStatus != 2 || len(st.Faults.Numbers) != 0 {
		t.Errorf("stats: %d numStatus pushes, faults %+v", st.Push.NumStatus, st.Faults.Numbers)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	failed := 0
	for _, push := range rcv.fees {
		for _, f := range push {
			if f.ULFailReason == codeXUnusable {
				failed++
				if f.BindNum != x && f.CalleeNum != x {
					t.Errorf("call %s failed with 8055 through %s %s, not the unusable %s", f.ICID, f.BindNum, f.CalleeNum, x)
				}
			}
		}
	}
	if failed == 0 {
		t.Error("no call through the unusable X failed with 8055")
	}
}
