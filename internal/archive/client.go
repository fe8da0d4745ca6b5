package archive

import "github.com/minio/minio-go/v7"

// Client returns the S3 client of the bucket, for the packages that act on
// the archive's objects beside the mirror (holds, retention, erasure).
func (b *Bucket) Client() *minio.Client { return b.client }
