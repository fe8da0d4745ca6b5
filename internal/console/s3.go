package console

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is the recording archive the console reads: the same
// PN_S3_* settings as the recorder's mirror.
type S3Config struct {
	// Endpoint is host:port (PN_S3_ENDPOINT, required).
	Endpoint string
	// Bucket is the archive bucket (PN_S3_BUCKET, default pn-recordings).
	// The console serves objects of this bucket only.
	Bucket string
	// AccessKey and SecretKey (PN_S3_ACCESS_KEY, PN_S3_SECRET_KEY); the
	// secret is never logged.
	AccessKey, SecretKey string
	// Region (PN_S3_REGION, default us-east-1).
	Region string
	// Insecure speaks plain HTTP (PN_S3_INSECURE, default false).
	Insecure bool
	// CAFile is a PEM file of S3's CAs (PN_S3_CA_FILE, default: system).
	CAFile string
}

// DefaultS3Config returns the defaults documented on S3Config.
func DefaultS3Config() S3Config { return S3Config{Bucket: "pn-recordings", Region: "us-east-1"} }

// RegisterFlags binds c to the s3-* flags of fs.
func (c *S3Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Endpoint, "s3-endpoint", c.Endpoint, "S3 endpoint host:port of the recording archive")
	fs.StringVar(&c.Bucket, "s3-bucket", c.Bucket, "S3 bucket of the recording archive")
	fs.StringVar(&c.AccessKey, "s3-access-key", c.AccessKey, "S3 access key")
	fs.Var((*secret)(&c.SecretKey), "s3-secret-key", "S3 secret key (never logged)")
	fs.StringVar(&c.Region, "s3-region", c.Region, "S3 region")
	fs.BoolVar(&c.Insecure, "s3-insecure", c.Insecure, "plain HTTP to S3 (a local gateway)")
	fs.StringVar(&c.CAFile, "s3-ca-file", c.CAFile, "PEM file of the CAs of S3's certificate (default: the system roots)")
}

// Validate reports every problem of c.
func (c S3Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("s3 endpoint is required (PN_S3_ENDPOINT)"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("s3 bucket is empty"))
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("s3 access key and secret key are required (PN_S3_ACCESS_KEY, PN_S3_SECRET_KEY)"))
	}
	return errors.Join(errs...)
}

// Redacted returns c without its secret, for the start-up log.
func (c S3Config) Redacted() S3Config {
	if c.SecretKey != "" {
		c.SecretKey = "REDACTED"
	}
	return c
}

// NewS3Client returns a client of c's endpoint; it does no I/O but reading
// CAFile.
func NewS3Client(c S3Config) (*minio.Client, error) {
	var transport http.RoundTripper
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3 ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3 ca file %s: no certificate", c.CAFile)
		}
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, fmt.Errorf("s3 transport: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		transport = tr
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:    !c.Insecure,
		Region:    c.Region,
		Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return client, nil
}

// archive reads recordings from the archive bucket.
type archive struct {
	client *minio.Client
	bucket string
}

// errOtherBucket refuses a row naming a bucket the console does not serve.
var errOtherBucket = errors.New("recording is in another bucket than the console's")

// open returns the object of rec for reading with Seek (ranges) and its
// size and modification time from a HEAD.
func (a *archive) open(ctx context.Context, rec *Recording) (*minio.Object, minio.ObjectInfo, error) {
	if rec.Bucket != a.bucket {
		return nil, minio.ObjectInfo{}, errOtherBucket
	}
	obj, err := a.client.GetObject(ctx, a.bucket, rec.ObjectKey, minio.GetObjectOptions{})
	if err != nil {
		return nil, minio.ObjectInfo{}, fmt.Errorf("open recording %s: %w", rec.ObjectKey, err)
	}
	info, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, minio.ObjectInfo{}, fmt.Errorf("stat recording %s: %w", rec.ObjectKey, err)
	}
	return obj, info, nil
}

// Verification is the result of hashing a recording's object.
type Verification struct {
	Computed string // SHA-256 of the object's bytes, hex
	Size     int64
	// MetaSHA256 is the object's x-amz-meta-sha256, written at upload.
	MetaSHA256 string
	// Match: the bytes hash to the pn.recordings row's SHA-256 (and to the
	// metadata's, when present).
	Match bool
	Err   string // why the object could not be read
}

// verify streams rec's object through SHA-256 and compares.
func (a *archive) verify(ctx context.Context, rec *Recording) Verification {
	obj, info, err := a.open(ctx, rec)
	if err != nil {
		return Verification{Err: err.Error()}
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return Verification{Err: fmt.Sprintf("read recording: %v", err)}
	}
	v := Verification{Computed: hex.EncodeToString(h.Sum(nil)), Size: n, MetaSHA256: info.Metadata.Get("X-Amz-Meta-Sha256")}
	v.Match = v.Computed == rec.SHA256 && (v.MetaSHA256 == "" || v.MetaSHA256 == v.Computed)
	return v
}
