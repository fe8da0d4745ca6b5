package localserver

import (
	"bytes"
	"embed"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").
	Funcs(template.FuncMap{"xml": xmlEscape, "quote": strconv.Quote}).
	ParseFS(templateFS, "templates/*.tmpl"))

// xmlEscape makes a path safe inside an XML element.
func xmlEscape(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// layout is where one server keeps its files inside Config.Dir.
type layout struct {
	ConfigFile string // Dir/config.xml
	UsersFile  string // Dir/users.xml
	DataDir    string // Dir/data, ClickHouse's <path>
	LogDir     string // Dir/log
	ServerLog  string // Dir/log/clickhouse-server.log
	ErrorLog   string // Dir/log/clickhouse-server.err.log
	// StdoutLog receives the server's stdout and stderr: what it prints before
	// its logger is configured, such as a config file it cannot parse.
	StdoutLog string // Dir/log/stdout.log
}

func newLayout(dir string) layout {
	logDir := filepath.Join(dir, "log")
	return layout{
		ConfigFile: filepath.Join(dir, "config.xml"),
		UsersFile:  filepath.Join(dir, "users.xml"),
		DataDir:    filepath.Join(dir, "data"),
		LogDir:     logDir,
		ServerLog:  filepath.Join(logDir, "clickhouse-server.log"),
		ErrorLog:   filepath.Join(logDir, "clickhouse-server.err.log"),
		StdoutLog:  filepath.Join(logDir, "stdout.log"),
	}
}

// prepare creates the directories and writes config.xml and users.xml. It
// runs on every start, so a restart picks up changed ports. ClickHouse would
// create the data directories itself; creating them here turns a permission
// problem into a clear error instead of a server that exits during start-up.
func (l layout) prepare(cfg Config) error {
	dirs := []string{
		l.LogDir,
		l.DataDir,
		filepath.Join(l.DataDir, "tmp"),
		filepath.Join(l.DataDir, "user_files"),
		filepath.Join(l.DataDir, "format_schemas"),
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	}
	data := struct {
		layout
		TCPPort, HTTPPort, SecureTCPPort int
		CertFile, KeyFile                string
	}{l, cfg.TCPPort, cfg.HTTPPort, cfg.SecureTCPPort, cfg.CertFile, cfg.KeyFile}
	files := []struct{ tmpl, path string }{
		{"config.xml.tmpl", l.ConfigFile},
		{"users.xml.tmpl", l.UsersFile},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := templates.ExecuteTemplate(&buf, f.tmpl, data); err != nil {
			return fmt.Errorf("render %s: %w", f.tmpl, err)
		}
		if err := os.WriteFile(f.path, buf.Bytes(), 0o640); err != nil {
			return fmt.Errorf("write server config: %w", err)
		}
	}
	return nil
}
