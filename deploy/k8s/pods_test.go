package k8s_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// natsDrain is how long ingest and recorder give NATS to drain after their
// own shutdown (streams.Drain's timeout in cmd/ingest and cmd/recorder).
const natsDrain = 5 * time.Second

// Every container has requests and limits, runs as non-root on a read-only
// root file system without privilege escalation or capabilities; every
// long-running one has readiness and liveness probes on the port its
// command serves.
func TestContainersAreHardened(t *testing.T) {
	known := knownVariables(t)
	for _, dir := range overlays {
		m := build(t, dir)
		for _, w := range m.workloads() {
			pod := w.spec
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("%s: %s mounts a service account token; pnstream needs none", dir, w)
			}
			if psc := pod.SecurityContext; psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: %s: pod securityContext lacks seccompProfile RuntimeDefault", dir, w)
			}
			if len(pod.InitContainers) > 0 || len(pod.EphemeralContainers) > 0 {
				t.Errorf("%s: %s has init or ephemeral containers this test does not check", dir, w)
			}
			for i := range pod.Containers {
				c := &pod.Containers[i]
				where := fmt.Sprintf("%s: %s/%s", dir, w, c.Name)
				checkResources(t, where, c)
				checkSecurity(t, where, pod, c)
				if w.kind == "Job" {
					// Runs to completion, bounded by activeDeadlineSeconds,
					// and serves nothing to probe.
					continue
				}
				env := m.environment(t, w, c)
				checkProbes(t, where, c, env, known[commandOf(c)])
			}
		}
	}
}

func checkResources(t *testing.T, where string, c *corev1.Container) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		limit, okLimit := c.Resources.Limits[name]
		if !okReq || !okLimit {
			t.Errorf("%s: no %s request and limit", where, name)
			continue
		}
		if req.Cmp(limit) > 0 {
			t.Errorf("%s: %s request %s above its limit %s", where, name, req.String(), limit.String())
		}
	}
	// GOMEMLIMIT, when set, is a soft limit under the hard one.
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		soft, err := parseGoMemLimit(e.Value)
		limit := c.Resources.Limits[corev1.ResourceMemory]
		if err != nil || soft >= limit.Value() {
			t.Errorf("%s: GOMEMLIMIT=%s (%v) is not below the memory limit %s", where, e.Value, err, limit.String())
		}
	}
}

// parseGoMemLimit reads the runtime's GOMEMLIMIT syntax: bytes with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	for i, unit := range []string{"TiB", "GiB", "MiB", "KiB"} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v << (10 * (4 - i)), err
		}
	}
	return strconv.ParseInt(strings.TrimSuffix(s, "B"), 10, 64)
}

func checkSecurity(t *testing.T, where string, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil && pod.SecurityContext != nil {
		nonRoot = pod.SecurityContext.RunAsNonRoot
	}
	switch {
	case nonRoot == nil || !*nonRoot:
		t.Errorf("%s: runAsNonRoot is not true", where)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: readOnlyRootFilesystem is not true", where)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	case sc.Privileged != nil && *sc.Privileged:
		t.Errorf("%s: privileged", where)
	case sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !dropsAll(sc.Capabilities.Drop):
		t.Errorf("%s: capabilities must drop ALL and add none: %+v", where, sc.Capabilities)
	}
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

// checkProbes wants HTTP readiness and liveness probes on /readyz and
// /healthz, on a port that one of the command's *_ADDR settings listens on.
func checkProbes(t *testing.T, where string, c *corev1.Container, env map[string]envValue, defaults map[string]string) {
	t.Helper()
	for kind, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", where, kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s: %s probe on %s, want %s", where, kind, p.probe.HTTPGet.Path, p.path)
		}
		port, ok := containerPort(c, p.probe.HTTPGet.Port)
		if !ok {
			t.Errorf("%s: %s probe port %s is not a port of the container", where, kind, p.probe.HTTPGet.Port.String())
			continue
		}
		if !servesPort(env, defaults, port) {
			t.Errorf("%s: %s probe on port %d, which no PN_*_ADDR of %s listens on", where, kind, port, c.Name)
		}
	}
}

func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func servesPort(env map[string]envValue, defaults map[string]string, port int32) bool {
	for name := range defaults {
		if strings.HasSuffix(name, "_ADDR") && strings.HasSuffix(setting(env, defaults, name), fmt.Sprintf(":%d", port)) {
			return true
		}
	}
	return false
}

// The grace period covers the preStop pause, the command's own drain
// (PN_*_SHUTDOWN_TIMEOUT) and NATS's, with time to spare.
func TestGracePeriodCoversDrain(t *testing.T) {
	known := knownVariables(t)
	for _, dir := range overlays {
		m := build(t, dir)
		for _, d := range m.deployments {
			w := workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec}
			grace := 30 * time.Second // Kubernetes' default
			if s := w.spec.TerminationGracePeriodSeconds; s != nil {
				grace = time.Duration(*s) * time.Second
			}
			for i := range w.spec.Containers {
				c := &w.spec.Containers[i]
				defaults := known[commandOf(c)]
				env := m.environment(t, w, c)
				var shutdown time.Duration
				for name := range defaults {
					if strings.HasSuffix(name, "_SHUTDOWN_TIMEOUT") {
						v, err := time.ParseDuration(setting(env, defaults, name))
						if err != nil {
							t.Fatalf("%s: %s/%s: %s: %v", dir, w, c.Name, name, err)
						}
						shutdown = max(shutdown, v)
					}
				}
				if shutdown == 0 {
					t.Errorf("%s: %s/%s: %s has no *_SHUTDOWN_TIMEOUT setting", dir, w, c.Name, commandOf(c))
				}
				var preStop time.Duration
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
					preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				}
				const margin = 5 * time.Second
				if need := preStop + shutdown + natsDrain + margin; grace < need {
					t.Errorf("%s: %s: terminationGracePeriodSeconds %v < preStop %v + shutdown %v + NATS drain %v + %v margin",
						dir, w, grace, preStop, shutdown, natsDrain, margin)
				}
			}
		}
		// The Service's endpoints go first: a Deployment behind a Service
		// pauses before SIGTERM so the ingress stops sending to it.
		for _, s := range m.services {
			if s.Spec.ClusterIP == corev1.ClusterIPNone {
				continue // headless, for scraping only
			}
			for _, d := range m.deployments {
				if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
					continue
				}
				for _, c := range d.Spec.Template.Spec.Containers {
					if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 3 {
						t.Errorf("%s: %s/%s serves Service %s without a preStop pause of a few seconds", dir, d.Name, c.Name, s.Name)
					}
				}
			}
		}
	}
}

// The recording spool is a size-limited emptyDir big enough for the worst
// case: every worker downloading the largest recording.
func TestRecordingSpoolFits(t *testing.T) {
	known := knownVariables(t)
	for _, dir := range overlays {
		m := build(t, dir)
		d := m.deployment(t, "pnstream-recorder")
		w := workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec}
		c := &w.spec.Containers[0]
		env := m.environment(t, w, c)
		defaults := known["recorder"]
		spool := setting(env, defaults, "PN_RECORDING_SPOOL_DIR")
		workers, err1 := strconv.ParseInt(setting(env, defaults, "PN_RECORDING_CONCURRENCY"), 10, 64)
		maxBytes, err2 := strconv.ParseInt(setting(env, defaults, "PN_RECORDING_MAX_BYTES"), 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: recording concurrency or max bytes: %v %v", dir, err1, err2)
		}
		var volume string
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == spool && !vm.ReadOnly {
				volume = vm.Name
			}
		}
		var size *resource.Quantity
		for _, v := range w.spec.Volumes {
			if v.Name == volume && v.EmptyDir != nil {
				size = v.EmptyDir.SizeLimit
			}
		}
		switch {
		case volume == "":
			t.Errorf("%s: PN_RECORDING_SPOOL_DIR %s is not a writable mount of the recorder", dir, spool)
		case size == nil:
			t.Errorf("%s: the spool volume %s is not a size-limited emptyDir", dir, volume)
		case size.Value() < workers*maxBytes:
			t.Errorf("%s: spool sizeLimit %s < %d workers x %d bytes", dir, size.String(), workers, maxBytes)
		}
		if eph, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; ok && size != nil && eph.Cmp(*size) < 0 {
			t.Errorf("%s: ephemeral-storage limit %s below the spool's sizeLimit %s", dir, eph.String(), size.String())
		}
	}
}

// Services, PDBs, the HPA, the Ingress and the NetworkPolicies point at what
// exists.
func TestReferencesResolve(t *testing.T) {
	for _, dir := range overlays {
		m := build(t, dir)
		selectsSome := func(what string, sel map[string]string) {
			t.Helper()
			for _, w := range m.workloads() {
				if selects(sel, w.labels) {
					return
				}
			}
			t.Errorf("%s: %s selects no pod template (%v)", dir, what, sel)
		}
		for _, s := range m.services {
			selectsSome("Service "+s.Name, s.Spec.Selector)
		}
		for _, p := range m.pdbs {
			selectsSome("PodDisruptionBudget "+p.Name, p.Spec.Selector.MatchLabels)
		}
		for _, p := range m.policies {
			selectsSome("NetworkPolicy "+p.Name, p.Spec.PodSelector.MatchLabels)
		}
		for _, h := range m.hpas {
			d := m.deployment(t, h.Spec.ScaleTargetRef.Name)
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
				t.Errorf("%s: HPA %s replicas %v..%d", dir, h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("%s: Deployment %s sets replicas while HPA %s owns them", dir, d.Name, h.Name)
			}
		}
		for _, ing := range m.ingresses {
			hosts := map[string]bool{}
			for _, tls := range ing.Spec.TLS {
				if tls.SecretName == "" {
					t.Errorf("%s: Ingress %s: TLS without a certificate Secret", dir, ing.Name)
				}
				for _, h := range tls.Hosts {
					hosts[h] = true
				}
			}
			for _, r := range ing.Spec.Rules {
				if !hosts[r.Host] {
					t.Errorf("%s: Ingress %s serves %s without TLS", dir, ing.Name, r.Host)
				}
				for _, p := range r.HTTP.Paths {
					if p.Backend.Service.Name == authProxyService {
						continue // the cluster's auth proxy, not part of pnstream (TestConsoleBehindAuthProxy)
					}
					checkBackend(t, m, ing.Name, p.Backend.Service.Name, p.Backend.Service.Port.Name)
				}
			}
		}
		// Default deny covers every pod: a pod no policy selects would be open.
		for _, w := range m.workloads() {
			covered := false
			for _, p := range m.policies {
				if len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 && selects(p.Spec.PodSelector.MatchLabels, w.labels) {
					covered = true
				}
			}
			if !covered {
				t.Errorf("%s: %s is not under a default-deny NetworkPolicy", dir, w)
			}
		}
	}
}

func checkBackend(t *testing.T, m *manifest, ingress, service, port string) {
	t.Helper()
	for _, s := range m.services {
		if s.Name != service {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.Name == port {
				return
			}
		}
	}
	t.Errorf("%s: Ingress %s routes to %s port %q, which no Service has", m.dir, ingress, service, port)
}

func selects(selector, podLabels map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(podLabels))
}
