package k8s_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// platformPeakPushesPerSecond is the platform's peak push rate across all
// ingest replicas, which may all come from one egress address.
const platformPeakPushesPerSecond = 1000

const (
	annotationRPS         = "nginx.ingress.kubernetes.io/limit-rps"
	annotationBurst       = "nginx.ingress.kubernetes.io/limit-burst-multiplier"
	annotationConnections = "nginx.ingress.kubernetes.io/limit-connections"
	annotationBodySize    = "nginx.ingress.kubernetes.io/proxy-body-size"
	annotationWhitelist   = "nginx.ingress.kubernetes.io/whitelist-source-range"
	annotationAllowlist   = "nginx.ingress.kubernetes.io/allowlist-source-range"
)

// Every overlay's Ingress limits the rate and concurrency per client
// address above the platform's peak, and its body size just above ingest's
// own limit, so ingest answers 413 itself.
func TestIngressLimits(t *testing.T) {
	for _, dir := range overlays {
		m := build(t, dir)
		maxBody := ingestMaxBodyBytes(t, m)
		for _, ing := range m.ingresses {
			if ing.Name != "pnstream-ingest" {
				continue // the console's is behind the auth proxy: TestConsoleBehindAuthProxy
			}
			a := ing.Annotations
			rps, err := strconv.Atoi(a[annotationRPS])
			if err != nil || rps < platformPeakPushesPerSecond {
				t.Errorf("%s: Ingress %s: %s %q, want a number >= %d (the platform's peak, possibly from one address)",
					dir, ing.Name, annotationRPS, a[annotationRPS], platformPeakPushesPerSecond)
			}
			if burst, err := strconv.Atoi(a[annotationBurst]); err != nil || burst < 1 {
				t.Errorf("%s: Ingress %s: %s %q, want a number >= 1", dir, ing.Name, annotationBurst, a[annotationBurst])
			}
			if conns, err := strconv.Atoi(a[annotationConnections]); err != nil || conns < 64 || conns > 4096 {
				t.Errorf("%s: Ingress %s: %s %q, want 64..4096", dir, ing.Name, annotationConnections, a[annotationConnections])
			}
			// nginx sizes: "2m" is 2 MiB.
			size, err := resource.ParseQuantity(strings.ToUpper(strings.TrimSpace(a[annotationBodySize])) + "i")
			if err != nil || size.Value() < maxBody || size.Value() > 2*maxBody {
				t.Errorf("%s: Ingress %s: %s %q, want between PN_INGEST_MAX_BODY_BYTES (%d) and twice it",
					dir, ing.Name, annotationBodySize, a[annotationBodySize], maxBody)
			}
		}
	}
}

// ingestMaxBodyBytes returns PN_INGEST_MAX_BODY_BYTES as the ingest
// container sees it.
func ingestMaxBodyBytes(t *testing.T, m *manifest) int64 {
	t.Helper()
	d := m.deployment(t, "pnstream-ingest")
	env := m.environment(t, workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec}, &d.Spec.Template.Spec.Containers[0])
	n, err := strconv.ParseInt(env["PN_INGEST_MAX_BODY_BYTES"].value, 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("%s: PN_INGEST_MAX_BODY_BYTES %q: %v", m.dir, env["PN_INGEST_MAX_BODY_BYTES"].value, err)
	}
	return n
}

// In production only the platform's egress ranges reach ingest: both
// spellings of ingress-nginx's allow-list are set, to the same list of
// valid CIDRs, none of which is the whole internet.
func TestProductionIngressAllowList(t *testing.T) {
	m := build(t, "overlays/prod")
	if len(m.ingresses) == 0 {
		t.Fatal("prod: no Ingress")
	}
	for _, ing := range m.ingresses {
		if ing.Name != "pnstream-ingest" {
			continue // the console's is for staff, behind the auth proxy
		}
		list := ing.Annotations[annotationWhitelist]
		if list == "" || ing.Annotations[annotationAllowlist] != list {
			t.Errorf("prod: Ingress %s: %s %q and %s %q, want the same non-empty list",
				ing.Name, annotationWhitelist, list, annotationAllowlist, ing.Annotations[annotationAllowlist])
			continue
		}
		for cidr := range strings.SplitSeq(list, ",") {
			_, n, err := net.ParseCIDR(strings.TrimSpace(cidr))
			if err != nil {
				t.Errorf("prod: Ingress %s: allow-list entry %q: %v", ing.Name, cidr, err)
				continue
			}
			if ones, _ := n.Mask.Size(); ones == 0 {
				t.Errorf("prod: Ingress %s: allow-list entry %q opens the push endpoint to every address", ing.Name, cidr)
			}
		}
	}
}

// NATS requires authentication in production, so every pnstream container
// takes PN_NATS_URL, which then carries a password, from the Secret; and
// no overlay puts credentials into a ConfigMap's NATS URL.
func TestNATSCredentialsFromSecret(t *testing.T) {
	known := knownVariables(t)
	for _, dir := range overlays {
		m := build(t, dir)
		for _, cm := range m.configMaps {
			if v, ok := cm.Data["PN_NATS_URL"]; ok && strings.Contains(v, "@") {
				t.Errorf("%s: ConfigMap %s: PN_NATS_URL carries credentials; they belong in the Secret", dir, cm.Name)
			}
		}
		if dir != "overlays/prod" {
			continue
		}
		for _, w := range m.workloads() {
			for i := range w.spec.Containers {
				c := &w.spec.Containers[i]
				if _, reads := known[commandOf(c)]["PN_NATS_URL"]; !reads {
					continue // the console does not use NATS
				}
				v := m.environment(t, w, c)["PN_NATS_URL"]
				if !v.secret || v.value != "<secret PN_NATS_URL>" {
					t.Errorf("prod: %s/%s takes PN_NATS_URL from %s, want the Secret's key PN_NATS_URL", w, c.Name, v.source)
				}
			}
		}
	}
}

// PN_PII_KEY reaches every container that validates the PII settings (the
// recorder and the set-up Job, which runs the recorder's binary on the
// same ConfigMap), from the Secret only.
func TestPIIKeyFromSecret(t *testing.T) {
	for _, dir := range overlays {
		m := build(t, dir)
		for _, w := range m.workloads() {
			for i := range w.spec.Containers {
				c := &w.spec.Containers[i]
				if commandOf(c) != "recorder" && commandOf(c) != "console" {
					continue
				}
				if v := m.environment(t, w, c)["PN_PII_KEY"]; !v.secret || v.value != "<secret PN_PII_KEY>" {
					t.Errorf("%s: %s/%s takes PN_PII_KEY from %q, want the Secret's key PN_PII_KEY", dir, w, c.Name, v.source)
				}
			}
		}
	}
}

// authProxyService is the cluster's oauth2-proxy Service, in front of the
// console.
const authProxyService = "oauth2-proxy"

// The console is reached only through the auth proxy: its Ingress routes to
// oauth2-proxy, and its NetworkPolicy admits only oauth2-proxy's pods and
// lets it out only to DNS, ClickHouse and S3.
func TestConsoleBehindAuthProxy(t *testing.T) {
	for _, dir := range overlays {
		m := build(t, dir)
		for _, ing := range m.ingresses {
			if ing.Name != "pnstream-console" {
				continue
			}
			for _, r := range ing.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					if p.Backend.Service == nil || p.Backend.Service.Name != authProxyService {
						t.Errorf("%s: Ingress %s routes %s to %+v, want the oauth2-proxy Service", dir, ing.Name, p.Path, p.Backend)
					}
				}
			}
		}
		found := false
		for _, np := range m.policies {
			if np.Name != "pnstream-console" {
				continue
			}
			found = true
			for _, in := range np.Spec.Ingress {
				for _, from := range in.From {
					if from.PodSelector == nil || from.PodSelector.MatchLabels["app.kubernetes.io/name"] != "oauth2-proxy" {
						t.Errorf("%s: NetworkPolicy %s admits %+v, want oauth2-proxy only", dir, np.Name, from)
					}
				}
			}
			for _, out := range np.Spec.Egress {
				for _, to := range out.To {
					ok := to.PodSelector != nil && (to.PodSelector.MatchLabels["app.kubernetes.io/name"] == "clickhouse" ||
						to.PodSelector.MatchLabels["app"] == "minio" || to.PodSelector.MatchLabels["k8s-app"] == "kube-dns")
					if !ok {
						t.Errorf("%s: NetworkPolicy %s lets the console out to %+v, want ClickHouse, S3 and DNS only", dir, np.Name, to)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no NetworkPolicy pnstream-console", dir)
		}
	}
}
