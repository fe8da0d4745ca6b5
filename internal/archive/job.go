package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/retry"
)

// Retention is how long the platform keeps a recording after it pushed
// the CDR; after that it answers 1012007.
const Retention = 7 * 24 * time.Hour

// Job is one recording to mirror: the message body of PN_RECORDINGS, or
// what JobFromFee makes of a recorded CDR on PN_FEES. It carries what the
// mirror needs so that it never reads the CDR again.
type Job struct {
	ICID                  string    `json:"icid"`
	SessionID             string    `json:"sessionId"`
	SubscriptionID        string    `json:"subscriptionId,omitempty"`
	CallInTime            time.Time `json:"callInTime"`
	RecordDomain          string    `json:"recordDomain,omitempty"`
	RecordObjectName      string    `json:"recordObjectName,omitempty"`
	RecordFileDownloadURL string    `json:"recordFileDownloadUrl,omitempty"`
	// Deadline after which the platform no longer has the recording.
	Deadline time.Time `json:"deadline"`
}

// NewJob returns the job of a recorded CDR. The platform keeps the file for
// retention after the push; the push follows the call's end by seconds to
// minutes, so counting from the call's end is a safe, slightly early
// deadline that needs nothing but the record.
func NewJob(r *privatenumber.FeeRecord, retention time.Duration) Job {
	end := r.CallEndTime.Time
	if end.IsZero() || end.Before(r.CallInTime.Time) {
		end = r.CallInTime.Time
	}
	return Job{
		ICID:                  r.ICID,
		SessionID:             r.SessionID,
		SubscriptionID:        r.SubscriptionID,
		CallInTime:            r.CallInTime.UTC(),
		RecordDomain:          r.RecordDomain,
		RecordObjectName:      r.RecordObjectName,
		RecordFileDownloadURL: r.RecordFileDownloadURL,
		Deadline:              end.UTC().Add(retention),
	}
}

// MsgID is the job's Nats-Msg-Id, "rec:<icid>".
func (j *Job) MsgID() string { return privatenumber.RecordingMsgID(j.ICID) }

// DecodeJob decodes and checks a PN_RECORDINGS message body.
func DecodeJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, retry.Permanent(fmt.Errorf("decode job: %w", err))
	}
	return j, j.check()
}

// JobFromFee returns the job of a fee record as ingest stored it on
// streams.RecordedFeeSubject, and false (no job) when the record is not of
// a recorded call. sessionID gives the sessionId the recorder stores the
// record with (pii.Policy.FeeSessionID), so that the job, its row and its
// object metadata join the CDR's row as when the recorder enqueued the job
// from the stored record; nothing else a job holds is changed by the
// policy.
func JobFromFee(data []byte, sessionID func(*privatenumber.FeeRecord) string, retention time.Duration) (Job, bool, error) {
	r, err := privatenumber.DecodeFeeRecord(data)
	if err != nil {
		return Job{}, true, retry.Permanent(fmt.Errorf("decode fee record: %w", err))
	}
	if !r.Recorded() {
		return Job{}, false, nil
	}
	r.SessionID = sessionID(&r)
	j := NewJob(&r, retention)
	return j, true, j.check()
}

// check reports a job that can never be mirrored.
func (j *Job) check() error {
	switch {
	case j.ICID == "":
		return retry.Permanent(errors.New("job has no icid"))
	case j.CallInTime.IsZero():
		return retry.Permanent(fmt.Errorf("job %s: no callInTime", j.ICID))
	case j.RecordObjectName == "" && j.RecordFileDownloadURL == "":
		return retry.Permanent(fmt.Errorf("job %s: neither recordObjectName nor recordFileDownloadUrl", j.ICID))
	case j.RecordDomain == "" && j.RecordFileDownloadURL == "":
		return retry.Permanent(fmt.Errorf("job %s: empty recordDomain and no recordFileDownloadUrl", j.ICID))
	}
	return nil
}

var extPattern = regexp.MustCompile(`^\.[a-z0-9]{1,8}$`)

// Extension is the file extension of the recording without the dot, from
// recordObjectName, else the download URL's path, else "wav" (the only
// format the platform is known to produce).
func (j *Job) Extension() string {
	for _, name := range []string{j.RecordObjectName, urlPath(j.RecordFileDownloadURL)} {
		if ext := strings.ToLower(path.Ext(name)); extPattern.MatchString(ext) {
			return ext[1:]
		}
	}
	return "wav"
}

// ObjectKey is where the recording lives in the bucket: a pure function of
// the job, so every attempt and every worker writes the same key.
// "recordings/<yyyy>/<mm>/<dd>/<icid>.<ext>", the date of callInTime in UTC.
func ObjectKey(j *Job) string {
	t := j.CallInTime.UTC()
	// Escaped, so an icid with a slash cannot reach into another prefix.
	return fmt.Sprintf("recordings/%04d/%02d/%02d/%s.%s", t.Year(), t.Month(), t.Day(), url.PathEscape(j.ICID), j.Extension())
}

// ContentType picks the object's content type: the download's when it is
// audio, else one from the extension.
func ContentType(responseType, ext string) string {
	if strings.HasPrefix(responseType, "audio/") {
		return responseType
	}
	switch ext {
	case "wav":
		return "audio/wav"
	case "mp3":
		return "audio/mpeg"
	case "amr":
		return "audio/amr"
	default:
		return "application/octet-stream"
	}
}

func urlPath(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	return raw
}
