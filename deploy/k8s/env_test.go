package k8s_test

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// commandVariables holds, per command (ingest, recorder), every PN_*
// variable the command reads and its default, taken from the command's own
// -help: the flag set daemon.Parse reads the environment through.
var commandVariables struct {
	once sync.Once
	dir  string
	vars map[string]map[string]string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if commandVariables.dir != "" {
		_ = os.RemoveAll(commandVariables.dir)
	}
	os.Exit(code)
}

// usageLine matches one flag of daemon.Parse's usage: the flag, its
// variable, then on the next line the usage and the default, if any.
var usageLine = regexp.MustCompile(`(?m)^  -(\S+)  \((PN_[A-Z0-9_]+)\)\n    \t.*?(?: \(default "(.*)"\))?$`)

// knownVariables builds the commands the manifests run and returns what
// each one's -help lists.
func knownVariables(t *testing.T) map[string]map[string]string {
	t.Helper()
	cv := &commandVariables
	cv.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			cv.err = fmt.Errorf("the go command is needed to build the binaries whose flags the manifests set: %w", err)
			return
		}
		if cv.dir, cv.err = os.MkdirTemp("", "pnstream-k8s-test-"); cv.err != nil {
			return
		}
		commands := []string{"ingest", "recorder", "console"}
		args := []string{"build", "-o", cv.dir + string(filepath.Separator)}
		for _, c := range commands {
			args = append(args, "github.com/pnstream/pnstream/cmd/"+c)
		}
		if out, err := exec.Command(goCmd, args...).CombinedOutput(); err != nil {
			cv.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		cv.vars = map[string]map[string]string{}
		for _, c := range commands {
			out, err := exec.Command(filepath.Join(cv.dir, c), "-help").CombinedOutput()
			if err != nil {
				cv.err = fmt.Errorf("%s -help: %v\n%s", c, err, out)
				return
			}
			vars := map[string]string{}
			for _, m := range usageLine.FindAllStringSubmatch(string(out), -1) {
				vars[m[2]] = m[3]
			}
			if len(vars) < 5 {
				cv.err = fmt.Errorf("%s -help lists %d variables; has its usage format changed?\n%s", c, len(vars), out)
				return
			}
			cv.vars[c] = vars
		}
	})
	if cv.err != nil {
		t.Fatal(cv.err)
	}
	return cv.vars
}

// requiredVariables lists, per component, what a deployment on Kubernetes
// must set besides the variables whose default is a loopback address,
// which cannot work from a pod (PN_NATS_URL, PN_CLICKHOUSE_ADDR).
var requiredVariables = map[string][]string{
	// Pushes are verified with the app's key and secret.
	"ingest": {"PN_APP_KEY", "PN_APP_SECRET"},
	// The recording mirror: S3, the platform's record-URL API, and a
	// writable spool directory (the root file system is read-only); the
	// pnstream ClickHouse user has a password.
	"recorder": {"PN_S3_ENDPOINT", "PN_S3_ACCESS_KEY", "PN_S3_SECRET_KEY", "PN_APP_KEY", "PN_APP_SECRET",
		"PN_RECORDING_SPOOL_DIR", "PN_CLICKHOUSE_USER", "PN_CLICKHOUSE_PASSWORD"},
	"provision": {"PN_CLICKHOUSE_USER", "PN_CLICKHOUSE_PASSWORD"},
	// The console: ClickHouse and S3, the auth proxy's address (without it
	// nobody can sign in) and one cookie key for every replica.
	"console": {"PN_S3_ENDPOINT", "PN_S3_ACCESS_KEY", "PN_S3_SECRET_KEY", "PN_CLICKHOUSE_USER", "PN_CLICKHOUSE_PASSWORD",
		"PN_CONSOLE_TRUSTED_PROXIES", "PN_CONSOLE_SESSION_KEY"},
}

// secretName matches the variables that hold credentials: they must come
// from the Secret, never from a ConfigMap or a literal.
var secretName = regexp.MustCompile(`SECRET|PASSWORD|ACCESS_KEY|APP_KEY|CREDS|PII_KEY|CREDENTIALS|SESSION_KEY|CONSOLE_TOKEN`)

// envValue is one variable of a container's environment.
type envValue struct {
	value  string // "<secret KEY>" for a Secret reference
	source string // where it was set, for messages
	secret bool
}

// environment resolves the variables a container starts with: its
// ConfigMaps (envFrom), then its env, which wins. Secret references must
// name a key of the Secret template.
func (m *manifest) environment(t *testing.T, w workload, c *corev1.Container) map[string]envValue {
	t.Helper()
	secretKeys := secretTemplateKeys(t)
	env := map[string]envValue{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: %s/%s: envFrom ConfigMap %s is not in the build", m.dir, w, c.Name, from.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = envValue{value: v, source: "ConfigMap " + cm.Name}
			}
		default:
			// A whole Secret would hand the container keys nobody checks.
			t.Errorf("%s: %s/%s: envFrom other than a ConfigMap; name each secret key in env instead", m.dir, w, c.Name)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = envValue{value: e.Value, source: "env"}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != "pnstream" || !slices.Contains(secretKeys, ref.Key) {
				t.Errorf("%s: %s/%s: %s reads secret %s key %s, which secret-template.yaml does not list", m.dir, w, c.Name, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = envValue{value: "<secret " + ref.Key + ">", source: "Secret " + ref.Name, secret: true}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			if !ok {
				t.Errorf("%s: %s/%s: %s reads ConfigMap %s, which is not in the build", m.dir, w, c.Name, e.Name, ref.Name)
				continue
			}
			env[e.Name] = envValue{value: cm.Data[ref.Key], source: "ConfigMap " + ref.Name}
		default:
			env[e.Name] = envValue{value: "<field>", source: "env"}
		}
	}
	return env
}

// secretTemplateKeys returns the keys of secret-template.yaml.
func secretTemplateKeys(t *testing.T) []string {
	t.Helper()
	y, err := os.ReadFile("secret-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := decoder.Decode(y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range obj.(*corev1.Secret).StringData {
		keys = append(keys, k)
	}
	return keys
}

// commandOf names the pnstream command a container runs.
func commandOf(c *corev1.Container) string {
	if len(c.Command) == 0 {
		return ""
	}
	return path.Base(c.Command[0])
}

// setting returns the value of a variable as the container sees it: set,
// or the command's default.
func setting(env map[string]envValue, defaults map[string]string, name string) string {
	if v, ok := env[name]; ok && v.value != "" {
		return v.value
	}
	return defaults[name]
}

// Every PN_* variable the manifests set is one its command reads, every
// required one is set, and credentials come only from the Secret.
func TestEnvironmentIsKnownAndComplete(t *testing.T) {
	known := knownVariables(t)
	for _, dir := range overlays {
		m := build(t, dir)
		// Checked on the ConfigMaps themselves: a container's env may
		// shadow a credential that a ConfigMap still publishes.
		for _, cm := range m.configMaps {
			for k, v := range cm.Data {
				if secretName.MatchString(k) && v != "" {
					t.Errorf("%s: ConfigMap %s holds the credential %s; it belongs in the Secret", dir, cm.Name, k)
				}
			}
		}
		for _, w := range m.workloads() {
			component := w.labels["app.kubernetes.io/component"]
			for i := range w.spec.Containers {
				c := &w.spec.Containers[i]
				cmd := commandOf(c)
				vars, ok := known[cmd]
				if !ok {
					t.Errorf("%s: %s/%s runs %q, not a pnstream command this test knows", dir, w, c.Name, cmd)
					continue
				}
				env := m.environment(t, w, c)
				for name, v := range env {
					if !strings.HasPrefix(name, "PN_") {
						continue
					}
					if _, ok := vars[name]; !ok {
						t.Errorf("%s: %s/%s sets %s (%s), which %s does not read", dir, w, c.Name, name, v.source, cmd)
					}
					if secretName.MatchString(name) && v.value != "" && !v.secret {
						t.Errorf("%s: %s/%s takes the credential %s from %s; it must come from the Secret", dir, w, c.Name, name, v.source)
					}
				}
				required := append([]string(nil), requiredVariables[component]...)
				for name, def := range vars {
					if strings.Contains(def, "127.0.0.1") || strings.Contains(def, "localhost") {
						required = append(required, name)
					}
				}
				if len(requiredVariables[component]) == 0 {
					t.Errorf("%s: %s has no list of required variables (component %q)", dir, w, component)
				}
				for _, name := range required {
					if env[name].value == "" {
						t.Errorf("%s: %s/%s does not set %s, which a deployment needs", dir, w, c.Name, name)
					}
				}
			}
		}
	}
}

// Every key of the Secret template is read by some container.
func TestSecretTemplateKeysAreUsed(t *testing.T) {
	used := map[string]bool{}
	for _, dir := range overlays {
		m := build(t, dir)
		for _, w := range m.workloads() {
			for _, c := range w.spec.Containers {
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						used[e.ValueFrom.SecretKeyRef.Key] = true
					}
				}
			}
		}
	}
	for _, k := range secretTemplateKeys(t) {
		if !used[k] {
			t.Errorf("secret-template.yaml lists %s, which no container reads", k)
		}
	}
}

// Production refuses the settings meant for local runs, and runs on the
// clustered back ends.
func TestProductionSettings(t *testing.T) {
	known := knownVariables(t)
	m := build(t, "overlays/prod")
	for _, w := range m.workloads() {
		for i := range w.spec.Containers {
			c := &w.spec.Containers[i]
			env := m.environment(t, w, c)
			for name, bad := range map[string]string{
				"PN_PUSH_AUTH": "off", "PN_RECORDING_ALLOW_PRIVATE": "true", "PN_S3_INSECURE": "true", "PN_LOG_FORMAT": "console",
			} {
				if strings.EqualFold(env[name].value, bad) {
					t.Errorf("prod: %s/%s sets %s=%s", w, c.Name, name, bad)
				}
			}
			defaults := known[commandOf(c)]
			if _, provisions := defaults["PN_STREAM_REPLICAS"]; provisions && setting(env, defaults, "PN_STREAM_REPLICAS") != "3" {
				got := setting(env, defaults, "PN_STREAM_REPLICAS")
				t.Errorf("prod: %s/%s: PN_STREAM_REPLICAS=%s, want 3 (R3 streams on a NATS cluster)", w, c.Name, got)
			}
			if commandOf(c) == "recorder" && setting(env, defaults, "PN_CLICKHOUSE_CLUSTER") == "" {
				t.Errorf("prod: %s/%s: PN_CLICKHOUSE_CLUSTER is not set", w, c.Name)
			}
		}
	}
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") && !strings.Contains(c.Image, "@") {
				t.Errorf("prod: %s/%s runs image %q: pin a tag or digest", d.Name, c.Name, c.Image)
			}
		}
	}
}
