package archive_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/testenv"
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
	// The outage lasts until the mirror's own start-up retry has run
	// twice, past minio-go's retries (10, at most 1 s apart) inside each.
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		n := r.warnings.FilterMessage("S3 unavailable at start; retrying").Len()
		return n >= 2, fmt.Sprintf("%d start-up retries logged", n)
	})
	s3.Start(t)
	r.checkArchived(fee, sum, size)
}
