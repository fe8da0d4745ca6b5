package localserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Program is the S3 gateway's executable, installed with
// `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
const s3Program = "versitygw"

// S3Region is the region the gateway serves; clients that set it skip the
// bucket location look-up.
const S3Region = "us-east-1"

// S3HealthPath answers GET with 200 "OK", without credentials, while the
// gateway runs: a readiness check for scripts. (A bucket named "health"
// cannot be listed with a plain GET on it.)
const S3HealthPath = "/health"

// s3ProbeTimeout bounds one readiness check; a local gateway answers in
// milliseconds.
const s3ProbeTimeout = 2 * time.Second

// ErrS3BinaryNotFound is returned by FindS3Binary, and by Start when
// S3Config.Binary is empty, when no versitygw executable can be found.
var ErrS3BinaryNotFound = errors.New(s3Program + " binary not found")

// S3Config configures a local S3 gateway.
type S3Config struct {
	// Dir holds everything the gateway writes: data/ (a directory per
	// bucket, a file per object, metadata in extended attributes), versions/
	// (older versions of objects in versioned and object-locked buckets) and
	// log/. Required. Reusing a Dir keeps the buckets of earlier runs.
	Dir string
	// Port is the S3 port on 127.0.0.1. Required.
	Port int
	// AccessKey and SecretKey are the credentials of the root account, the
	// only account. Both required. They reach the gateway through its
	// environment, not its command line, so ps does not show them.
	AccessKey, SecretKey string
	// CertFile and KeyFile (PEM), when set, make the gateway speak HTTPS
	// only, for testing clients' TLS. CertFile must name 127.0.0.1; Start
	// trusts the certificates in it.
	CertFile, KeyFile string
	// Binary is the versitygw executable. Empty means FindS3Binary.
	Binary string
	// StartTimeout bounds how long Start waits for the gateway to answer.
	// Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Validate reports every problem of c at once. It has no side effects and
// never quotes the secret key.
func (c S3Config) Validate() error {
	errs := validateCommon(c.Dir, c.StartTimeout, c.StopTimeout)
	if err := validPort(c.Port); err != nil {
		errs = append(errs, fmt.Errorf("port: %w", err))
	}
	if c.AccessKey == "" {
		errs = append(errs, errors.New("access key is required"))
	}
	if c.SecretKey == "" {
		errs = append(errs, errors.New("secret key is required"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("cert file and key file go together"))
	}
	return errors.Join(errs...)
}

// String describes c with the secret key redacted, so that printing a config
// cannot leak it.
func (c S3Config) String() string {
	secret := "(empty)"
	if c.SecretKey != "" {
		secret = "(redacted)"
	}
	return fmt.Sprintf("{Dir:%s Port:%d AccessKey:%s SecretKey:%s Binary:%s StartTimeout:%s StopTimeout:%s}",
		c.Dir, c.Port, c.AccessKey, secret, c.Binary, c.StartTimeout, c.StopTimeout)
}

// FindS3Binary returns the path of versitygw: the one on PATH, else the one
// in $GOBIN, else the one in the bin directory of the first $GOPATH entry
// (~/go/bin when GOPATH is unset), which is where `go install` puts it. It
// returns ErrS3BinaryNotFound when there is none. A GOBIN set only with
// `go env -w` is not seen; put that directory on PATH.
func FindS3Binary() (string, error) {
	if p, err := exec.LookPath(s3Program); err == nil {
		return p, nil
	}
	dirs := goBinDirs()
	for _, d := range dirs {
		if p, err := exec.LookPath(filepath.Join(d, s3Program)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (not on PATH, not in %s)", ErrS3BinaryNotFound, strings.Join(dirs, " or "))
}

// goBinDirs returns where `go install` puts commands, as the environment
// says: $GOBIN, then $GOPATH/bin.
func goBinDirs() []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	// go install uses the first entry of a GOPATH list.
	gopath, _, _ := strings.Cut(os.Getenv("GOPATH"), string(os.PathListSeparator))
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return dirs // no default GOPATH either
		}
		gopath = filepath.Join(home, "go")
	}
	return append(dirs, filepath.Join(gopath, "bin"))
}

// S3 is one versitygw child process serving S3 from a directory of its own
// with its posix backend, in single-account mode. Its methods are safe for
// concurrent use; Start, Stop and Kill are serialized.
type S3 struct {
	*child // Stop, Kill, Done, Err and Pid
	cfg    S3Config
	layout s3Layout
	// prober lists the buckets during Start, as a client would.
	prober *minio.Client
}

var _ server = (*S3)(nil)

// s3Layout is where the gateway keeps its files inside S3Config.Dir.
type s3Layout struct {
	DataDir     string // Dir/data: the posix backend's root, a directory per bucket
	VersionsDir string // Dir/versions: older object versions
	LogDir      string // Dir/log
	// OutputLog receives the gateway's stdout and stderr; with --quiet that
	// is its start-up lines and errors only.
	OutputLog string // Dir/log/versitygw.log
}

func newS3Layout(dir string) s3Layout {
	logDir := filepath.Join(dir, "log")
	return s3Layout{
		DataDir:     filepath.Join(dir, "data"),
		VersionsDir: filepath.Join(dir, "versions"),
		LogDir:      logDir,
		OutputLog:   filepath.Join(logDir, "versitygw.log"),
	}
}

// NewS3 returns a gateway for cfg. It validates cfg and does no I/O; Start
// launches the gateway.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	if err := resolveCommon(&cfg.Dir, &cfg.StartTimeout, &cfg.StopTimeout); err != nil {
		return nil, fmt.Errorf("s3 config: %w", err)
	}
	s := &S3{cfg: cfg, layout: newS3Layout(cfg.Dir)}
	// No keep-alive, so that no idle connection (and goroutine) outlives
	// Start.
	transport := &http.Transport{DisableKeepAlives: true}
	if cfg.CertFile != "" {
		pem, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			return nil, fmt.Errorf("s3 config: %w", err)
		}
		// A certificate in the root pool verifies itself, whoever signed it.
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("s3 config: no PEM certificate in %s", cfg.CertFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	prober, err := minio.New(s.Endpoint(), &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Region:    S3Region,
		Secure:    cfg.CertFile != "",
		Transport: transport,
		// Start polls; minio-go's own retries would only delay the next poll.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", s.Endpoint(), err)
	}
	s.prober = prober
	s.child = newChild(childSpec{
		name:         "s3",
		program:      s3Program,
		addr:         s.Endpoint(),
		binary:       cfg.Binary,
		findBinary:   FindS3Binary,
		startTimeout: cfg.StartTimeout,
		stopTimeout:  cfg.StopTimeout,
		outputLog:    s.layout.OutputLog,
		logs:         []string{s.layout.OutputLog},
		quietHint:    "nothing in " + s.layout.OutputLog,
	}, s)
	return s, nil
}

// Endpoint returns the S3 endpoint, "127.0.0.1:<Port>", as minio-go and
// PN_S3_ENDPOINT take it (no scheme; the gateway speaks plain HTTP unless
// S3Config.CertFile is set).
func (s *S3) Endpoint() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Port))
}

// Dir returns the absolute directory the gateway keeps its files in.
func (s *S3) Dir() string { return s.cfg.Dir }

// Start creates the directories, launches versitygw and waits until it lists
// the buckets with the root credentials, for at most S3Config.StartTimeout or
// until ctx is done. If the gateway does not come up, Start kills it and
// returns an error with the tail of its output. Start may be called again
// after Stop or Kill; the buckets and objects in Dir are kept. It fails if
// the gateway is already running.
func (s *S3) Start(ctx context.Context) error { return s.start(ctx) }

// prepare creates the directories; versitygw refuses to start without its
// backend root, and would report a permission problem less clearly.
func (s *S3) prepare() error {
	for _, d := range []string{s.layout.DataDir, s.layout.VersionsDir, s.layout.LogDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	}
	return nil
}

func (s *S3) command(bin string) *exec.Cmd {
	args := []string{
		"--port", s.Endpoint(),
		"--region", S3Region,
		"--health", S3HealthPath,
		// Otherwise every request is logged to the output log.
		"--quiet",
		// Otherwise it answers every request with "Connection: close":
		// each S3 call then dials a connection of its own, unlike any
		// production S3 (a third of the mirror's CPU on 200 KB files).
		"--keep-alive",
	}
	if s.cfg.CertFile != "" {
		args = append(args, "--cert", s.cfg.CertFile, "--key", s.cfg.KeyFile)
	}
	args = append(args,
		"posix",
		// Versioning needs a directory for the older versions; without it
		// object-locked buckets cannot keep the versions they protect.
		"--versioning-dir", s.layout.VersionsDir,
		s.layout.DataDir,
	)
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.cfg.Dir
	cmd.Env = append(gatewayEnv(os.Environ()),
		"ROOT_ACCESS_KEY="+s.cfg.AccessKey,
		"ROOT_SECRET_KEY="+s.cfg.SecretKey,
	)
	return cmd
}

// gatewayEnv returns env without the variables versitygw reads as settings
// (VGW_*, ROOT_*, LOGFILE, WEBHOOK), so that the gateway runs as configured
// here whatever the caller's environment holds: a VGW_READ_ONLY or an IAM
// setting left in a shell would otherwise change it silently.
func gatewayEnv(env []string) []string {
	kept := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_"),
			name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}

// probe lists the buckets: the gateway answers a signed request with the
// root credentials, which is what every client needs.
func (s *S3) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s3ProbeTimeout)
	defer cancel()
	if _, err := s.prober.ListBuckets(ctx); err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	return nil
}
