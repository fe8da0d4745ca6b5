package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

// TLSFiles are PEM files of a certificate authority made up for one test and
// of a server certificate it signed for 127.0.0.1 and localhost.
type TLSFiles struct {
	CAFile   string // the CA's certificate: what a client trusts
	CertFile string // the server's certificate
	KeyFile  string // the server's private key
	// OtherCAFile is the certificate of a second, unrelated CA: a client
	// that trusts only it must refuse the server.
	OtherCAFile string
}

// NewTLSFiles writes a fresh CA, a server certificate and key, and an
// unrelated CA into a temporary directory of t.
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{
		CAFile:      filepath.Join(dir, "ca.pem"),
		CertFile:    filepath.Join(dir, "server.pem"),
		KeyFile:     filepath.Join(dir, "server.key"),
		OtherCAFile: filepath.Join(dir, "other-ca.pem"),
	}
	caKey, caCert := newCA(t, "pnstream test CA")
	_, other := newCA(t, "unrelated test CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.CAFile, "CERTIFICATE", caCert.Raw)
	writePEM(t, f.OtherCAFile, "CERTIFICATE", other.Raw)
	writePEM(t, f.CertFile, "CERTIFICATE", der)
	writePEM(t, f.KeyFile, "PRIVATE KEY", keyDER)
	return f
}

func newCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartClickHouseTLS starts a ClickHouse server of t's own that also speaks
// the native protocol over TLS with files' certificate, and returns the
// address of that TLS port. The server stops when t ends. It skips or fails
// (see MissingServer) when clickhouse-server is not installed.
func StartClickHouseTLS(t testing.TB, files TLSFiles) string {
	t.Helper()
	ch := startPrivate(t, clickHouseKind, func(ctx context.Context, dir, bin string) (*localserver.ClickHouse, error) {
		return localserver.StartClickHouse(ctx, localserver.Config{
			Dir: dir, CertFile: files.CertFile, KeyFile: files.KeyFile, Binary: bin,
		})
	})
	return ch.SecureAddr()
}

// S3Endpoint is how to reach an S3 gateway of one test.
type S3Endpoint struct {
	Endpoint             string // 127.0.0.1:<port>, as PN_S3_ENDPOINT takes it
	AccessKey, SecretKey string
}

// StartS3TLS starts an S3 gateway of t's own that speaks HTTPS only, with
// files' certificate. It stops when t ends. It skips or fails (see
// MissingServer) when versitygw is not installed.
func StartS3TLS(t testing.TB, files TLSFiles) S3Endpoint {
	t.Helper()
	e := S3Endpoint{AccessKey: "testenv-" + rand.Text()[:12], SecretKey: rand.Text()}
	gw := startPrivate(t, s3Kind, func(ctx context.Context, dir, bin string) (*localserver.S3, error) {
		return localserver.StartS3(ctx, localserver.S3Config{
			Dir: dir, AccessKey: e.AccessKey, SecretKey: e.SecretKey,
			CertFile: files.CertFile, KeyFile: files.KeyFile, Binary: bin,
		})
	})
	e.Endpoint = gw.Endpoint()
	return e
}

// startPrivate starts a server for t alone in a temporary directory and
// stops it when t ends.
func startPrivate[S localServer](t testing.TB, k kind, launch func(ctx context.Context, dir, bin string) (S, error)) S {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	// Start kills a server that does not come up, so a failed launch
	// leaves nothing running.
	shared, srv, err := startShared(ctx, k, launch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := shared.Close(); err != nil {
			t.Error(err)
		}
	})
	shared.require(t)
	return srv
}
