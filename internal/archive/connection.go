package archive

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/pnstream/pnstream/internal/redact"
)

// Connection is the archive's bucket and how to reach it: the PN_S3_*
// settings the mirror, the console and pnctl share.
type Connection struct {
	// Endpoint of S3 as host:port. PN_S3_ENDPOINT.
	Endpoint string
	// Bucket of the archive. PN_S3_BUCKET, default pn-recordings.
	Bucket string
	// AccessKey and SecretKey of S3. PN_S3_ACCESS_KEY, PN_S3_SECRET_KEY
	// (never logged).
	AccessKey, SecretKey string
	// Region of the bucket. PN_S3_REGION, default us-east-1.
	Region string
	// Insecure speaks plain HTTP to S3, for a gateway on localhost; TLS,
	// when used, is always verified. PN_S3_INSECURE, default false.
	Insecure bool
	// CAFile is a PEM file of the CAs of the S3 endpoint's certificate, for
	// an S3 behind a private CA (PN_S3_CA_FILE, default empty: the system
	// roots). The certificate is verified either way.
	CAFile string
}

// DefaultConnection returns the defaults documented on Connection.
func DefaultConnection() Connection {
	return Connection{Bucket: "pn-recordings", Region: "us-east-1"}
}

// RegisterFlags binds the fields to the s3-* flags on fs; endpointUsage
// says what an empty endpoint means to the command.
func (c *Connection) RegisterFlags(fs *flag.FlagSet, endpointUsage string) {
	fs.StringVar(&c.Endpoint, "s3-endpoint", c.Endpoint, endpointUsage)
	fs.StringVar(&c.Bucket, "s3-bucket", c.Bucket, "S3 bucket of the recording archive")
	fs.StringVar(&c.AccessKey, "s3-access-key", c.AccessKey, "S3 access key")
	fs.Var((*redact.Secret)(&c.SecretKey), "s3-secret-key", "S3 secret key (never logged)")
	fs.StringVar(&c.Region, "s3-region", c.Region, "S3 region")
	fs.BoolVar(&c.Insecure, "s3-insecure", c.Insecure, "plain HTTP to S3 (a local gateway)")
	fs.StringVar(&c.CAFile, "s3-ca-file", c.CAFile, "PEM file of the CAs of S3's certificate (default: the system roots)")
}

// Validate reports every problem of a connection that must be usable.
func (c Connection) Validate() error {
	errs := c.problems(true)
	if c.Endpoint == "" {
		errs = append(errs, errors.New("s3 endpoint is required (PN_S3_ENDPOINT)"))
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with c; used says whether the bucket and
// credentials will be used (the mirror may be off).
func (c Connection) problems(used bool) []error {
	var errs []error
	if used {
		if c.Bucket == "" || s3utils.CheckValidBucketNameStrict(c.Bucket) != nil {
			errs = append(errs, fmt.Errorf("s3 bucket %q is not a valid bucket name", c.Bucket))
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			errs = append(errs, errors.New("s3 access key and secret key are required (PN_S3_ACCESS_KEY, PN_S3_SECRET_KEY)"))
		}
	}
	if c.CAFile != "" && c.Insecure {
		errs = append(errs, errors.New("s3 ca file with s3 insecure: plain HTTP has no certificate to verify"))
	}
	if _, err := c.tlsConfig(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// Redacted returns a copy of c safe to log.
func (c Connection) Redacted() Connection {
	if c.SecretKey != "" {
		c.SecretKey = "[redacted]"
	}
	return c
}

// NewClient returns a client of c's endpoint. It does no I/O but reading
// CAFile.
func (c Connection) NewClient() (*minio.Client, error) {
	tlsConfig, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	var transport http.RoundTripper // nil: minio-go's default
	if tlsConfig != nil {
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, fmt.Errorf("s3 transport: %w", err)
		}
		tr.TLSClientConfig = tlsConfig
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

// tlsConfig returns the TLS client configuration of the S3 endpoint: nil
// (minio-go's own, on the system roots) without CAFile. It reads CAFile, so
// Validate reports a missing or malformed file at start-up.
func (c Connection) tlsConfig() (*tls.Config, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("s3 ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s3 ca file %s: no PEM certificate in it", c.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
