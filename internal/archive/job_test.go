package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/retry"
)

func TestObjectKeyIsAPureFunctionOfTheRecord(t *testing.T) {
	tests := []struct {
		job  Job
		want string
	}{
		{Job{ICID: "abc.1", CallInTime: time.Date(2019, 1, 24, 23, 59, 59, 0, time.UTC), RecordObjectName: "2205.wav"}, "recordings/2019/01/24/abc.1.wav"},
		{Job{ICID: "x", CallInTime: time.Date(2024, 12, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)), RecordObjectName: "a.MP3"}, "recordings/2024/11/30/x.mp3"},
		{Job{ICID: "y", CallInTime: time.Date(2024, 2, 29, 1, 0, 0, 0, time.UTC), RecordFileDownloadURL: "https://h/a/b.amr?sig=1"}, "recordings/2024/02/29/y.amr"},
		{Job{ICID: "z", CallInTime: time.Date(2024, 2, 29, 1, 0, 0, 0, time.UTC), RecordObjectName: "noext"}, "recordings/2024/02/29/z.wav"},
		{Job{ICID: "../evil/x", CallInTime: time.Date(2024, 2, 29, 1, 0, 0, 0, time.UTC)}, "recordings/2024/02/29/..%2Fevil%2Fx.wav"},
	}
	for _, tt := range tests {
		if got := ObjectKey(&tt.job); got != tt.want {
			t.Errorf("ObjectKey(%+v) = %q, want %q", tt.job, got, tt.want)
		}
		if again := ObjectKey(&tt.job); again != tt.want {
			t.Errorf("ObjectKey not stable: %q", again)
		}
	}
}

func TestNewJobDeadline(t *testing.T) {
	r := privatenumber.FeeRecord{ICID: "i", SessionID: "s", RecordFlag: 1, RecordDomain: "d", RecordObjectName: "f.wav"}
	r.CallInTime = privatenumber.Time{Time: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)}
	if j := NewJob(&r, Retention); !j.Deadline.Equal(time.Date(2024, 1, 8, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("deadline without end time = %s", j.Deadline)
	}
	r.CallEndTime = privatenumber.Time{Time: time.Date(2024, 1, 1, 10, 5, 0, 0, time.UTC)}
	j := NewJob(&r, Retention)
	if !j.Deadline.Equal(time.Date(2024, 1, 8, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("deadline = %s", j.Deadline)
	}
	if j.MsgID() != "rec:i" {
		t.Errorf("MsgID = %q", j.MsgID())
	}
}

func TestDecodeJob(t *testing.T) {
	bad := []string{
		`not json`,
		`{"callInTime":"2024-01-01T00:00:00Z","recordDomain":"d","recordObjectName":"f"}`,
		`{"icid":"i","recordDomain":"d","recordObjectName":"f"}`,
		`{"icid":"i","callInTime":"2024-01-01T00:00:00Z","recordDomain":"d"}`,
		`{"icid":"i","callInTime":"2024-01-01T00:00:00Z","recordObjectName":"f"}`,
	}
	for _, b := range bad {
		if _, err := DecodeJob([]byte(b)); !retry.IsPermanent(err) {
			t.Errorf("DecodeJob(%s) = %v, want a permanent error", b, err)
		}
	}
	good := `{"icid":"i","callInTime":"2024-01-01T00:00:00Z","recordFileDownloadUrl":"https://h/f.wav"}`
	if _, err := DecodeJob([]byte(good)); err != nil {
		t.Errorf("DecodeJob(good) = %v", err)
	}
}

func TestContentType(t *testing.T) {
	for _, tt := range []struct{ resp, ext, want string }{
		{"audio/x-wav", "wav", "audio/x-wav"},
		{"application/octet-stream", "wav", "audio/wav"},
		{"", "mp3", "audio/mpeg"},
		{"text/html", "xyz", "application/octet-stream"},
	} {
		if got := ContentType(tt.resp, tt.ext); got != tt.want {
			t.Errorf("ContentType(%q, %q) = %q, want %q", tt.resp, tt.ext, got, tt.want)
		}
	}
}

// A recorded CDR as ingest stores it on pn.fees.recorded becomes the job
// the recorder would have enqueued for it, with the sessionId the policy
// stores; a CDR of an unrecorded call is no job; one that cannot be
// mirrored is a permanent error.
func TestJobFromFee(t *testing.T) {
	const cdr = `{"icid":"ic-1","sessionId":"raw-session","subscriptionId":"sub","recordFlag":%d,` +
		`"callInTime":"2024-01-24 03:33:10","callEndTime":"2024-01-24 03:33:57",` +
		`"recordDomain":"ostor.example.com","recordObjectName":"ic-1.wav","callerNum":"+8613900000001"}`
	stored := func(r *privatenumber.FeeRecord) string { return "stored-" + r.SessionID }
	j, ok, err := JobFromFee(fmt.Appendf(nil, cdr, 1), stored, Retention)
	if err != nil || !ok {
		t.Fatalf("JobFromFee = %v, %v", ok, err)
	}
	r, err := privatenumber.DecodeFeeRecord(fmt.Appendf(nil, cdr, 1))
	if err != nil {
		t.Fatal(err)
	}
	r.SessionID = "stored-raw-session"
	if want := NewJob(&r, Retention); j != want {
		t.Errorf("job %+v, want %+v", j, want)
	}
	if _, ok, err := JobFromFee(fmt.Appendf(nil, cdr, 0), stored, Retention); ok || err != nil {
		t.Errorf("unrecorded CDR: job %v, error %v", ok, err)
	}
	for _, bad := range []string{`{"icid":`, `{"icid":"x","recordFlag":1,"callInTime":"2024-01-24 03:33:10"}`} {
		if _, _, err := JobFromFee([]byte(bad), stored, Retention); !retry.IsPermanent(err) {
			t.Errorf("JobFromFee(%s) error %v, want permanent", bad, err)
		}
	}
}
