package archive_test

import (
	"testing"
	"time"
)

// A mirror started while S3 is down (a recorder restarted during an S3
// outage) waits for it instead of failing, which would stop the whole
// recorder, and archives the waiting jobs once S3 is back.
func TestMirrorStartedDuringS3OutageWaitsForIt(t *testing.T) {
	r := newRig(t, nil)
	fee, sum, size := r.recording("s3-late", 3*time.Second, true)
	r.enqueue(fee)
	s3.Stop(t)
	r.mirror() // its clean-up fails the test if Run returned an error
	// Not an assertion: the outage must outlast minio-go's own retries
	// (10, at most 1 s apart) while the mirror starts.
	time.Sleep(12 * time.Second)
	s3.Start(t)
	r.checkArchived(fee, sum, size)
}
