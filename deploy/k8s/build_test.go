// Package k8s_test checks the Kubernetes manifests of deploy/k8s: it builds
// every overlay with kustomize's own library (krusty), decodes each object
// strictly into the Kubernetes API types, failing on unknown fields, and
// checks what an operator relies on: probes, limits and security context on
// every container, selectors that match, drain times within the grace
// period, and that every PN_* variable the manifests set is one the
// binaries know, with every required one set.
//
// The test lives in a package of its own so that kustomize and the
// Kubernetes API types stay out of every other package's build.
package k8s_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlays are the kustomizations users apply.
var overlays = []string{"overlays/dev", "overlays/prod"}

// scheme knows the API groups the manifests may use.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// decoder decodes strictly: an unknown or duplicated field is an error,
// and so is a kind outside the scheme (a CRD would need its own types).
var decoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// manifest is the output of one kustomization, decoded.
type manifest struct {
	dir     string
	objects []runtime.Object

	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	policies    []*networkingv1.NetworkPolicy
	ingresses   []*networkingv1.Ingress
}

// workload is a pod template with the object that owns it.
type workload struct {
	kind, name string
	labels     map[string]string
	spec       *corev1.PodSpec
}

func (w workload) String() string { return w.kind + "/" + w.name }

// build runs kustomize on dir (relative to deploy/k8s) and decodes every
// object strictly.
func build(t *testing.T, dir string) *manifest {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifest{dir: dir, configMaps: map[string]*corev1.ConfigMap{}}
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s/%s as YAML: %v", dir, r.GetKind(), r.GetName(), err)
		}
		obj, _, err := decoder.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s: %s/%s does not decode strictly into the Kubernetes API types: %v", dir, r.GetKind(), r.GetName(), err)
			continue
		}
		m.add(t, obj)
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func (m *manifest) add(t *testing.T, obj runtime.Object) {
	m.objects = append(m.objects, obj)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		m.deployments = append(m.deployments, o)
	case *batchv1.Job:
		m.jobs = append(m.jobs, o)
	case *corev1.Service:
		m.services = append(m.services, o)
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = o
	case *autoscalingv2.HorizontalPodAutoscaler:
		m.hpas = append(m.hpas, o)
	case *policyv1.PodDisruptionBudget:
		m.pdbs = append(m.pdbs, o)
	case *networkingv1.NetworkPolicy:
		m.policies = append(m.policies, o)
	case *networkingv1.Ingress:
		m.ingresses = append(m.ingresses, o)
	case *corev1.ServiceAccount:
		// Checked by decoding and the object list only.
	default:
		t.Errorf("%s: unexpected kind %T", m.dir, obj)
	}
}

// workloads returns every pod template: Deployments' and Jobs'.
func (m *manifest) workloads() []workload {
	var ws []workload
	for _, d := range m.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, j := range m.jobs {
		ws = append(ws, workload{"Job", j.Name, j.Spec.Template.Labels, &j.Spec.Template.Spec})
	}
	return ws
}

func (m *manifest) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("%s: no Deployment %s", m.dir, name)
	return nil
}

// meta returns the ObjectMeta of a decoded object; every API type has one.
func meta(obj runtime.Object) metav1.Object { return obj.(metav1.Object) }

func TestOverlaysBuildIntoKnownObjects(t *testing.T) {
	want := []string{
		"ConfigMap/pnstream-common", "ConfigMap/pnstream-console", "ConfigMap/pnstream-ingest", "ConfigMap/pnstream-recorder",
		"Deployment/pnstream-console", "Deployment/pnstream-ingest", "Deployment/pnstream-recorder",
		"HorizontalPodAutoscaler/pnstream-ingest", "Ingress/pnstream-console", "Ingress/pnstream-ingest", "Job/pnstream-provision",
		"NetworkPolicy/pnstream-console", "NetworkPolicy/pnstream-default-deny", "NetworkPolicy/pnstream-ingest", "NetworkPolicy/pnstream-provision",
		"NetworkPolicy/pnstream-recorder", "PodDisruptionBudget/pnstream-ingest", "PodDisruptionBudget/pnstream-recorder",
		"Service/pnstream-console", "Service/pnstream-ingest", "Service/pnstream-recorder", "ServiceAccount/pnstream",
	}
	for _, dir := range append([]string{"base"}, overlays...) {
		m := build(t, dir)
		var got []string
		for _, obj := range m.objects {
			o := meta(obj)
			name := o.GetName()
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				// Generated: name-<hash>, so that a change rolls the pods.
				name = cm.Name[:len(cm.Name)-11]
			}
			got = append(got, fmt.Sprintf("%s/%s", kindOf(obj), name))
			if o.GetLabels()["app.kubernetes.io/part-of"] != "pnstream" {
				t.Errorf("%s: %s/%s lacks the label app.kubernetes.io/part-of=pnstream", dir, kindOf(obj), o.GetName())
			}
			if dir != "base" && o.GetNamespace() == "" {
				t.Errorf("%s: %s/%s has no namespace", dir, kindOf(obj), o.GetName())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s builds\n%v\nwant\n%v", dir, got, want)
		}
	}
}

// kindOf names an object's kind, as the scheme knows it.
func kindOf(obj runtime.Object) string {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	return gvks[0].Kind
}

// The strict decoder is what the other tests trust: it must refuse an
// unknown field and an unknown kind.
func TestDecoderIsStrict(t *testing.T) {
	for name, y := range map[string]string{
		"unknown field": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n",
		"unknown kind":  "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\n",
		"nested field":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, image: i, readinesProbe: {}}]}}}\n",
	} {
		if _, _, err := decoder.Decode([]byte(y), nil, nil); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// The Secret template lists the keys the pods read, without a value.
func TestSecretTemplateHasNoValues(t *testing.T) {
	y, err := os.ReadFile("secret-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := decoder.Decode(y, nil, nil)
	if err != nil {
		t.Fatalf("secret-template.yaml: %v", err)
	}
	s, ok := obj.(*corev1.Secret)
	if !ok || s.Name != "pnstream" {
		t.Fatalf("secret-template.yaml holds %T %v, want the Secret pnstream", obj, meta(obj).GetName())
	}
	if len(s.Data) != 0 || len(s.StringData) == 0 {
		t.Errorf("secret-template.yaml: want keys in stringData only, got data %v", s.Data)
	}
	for k, v := range s.StringData {
		if v != "" {
			t.Errorf("secret-template.yaml commits a value for %s", k)
		}
	}
}
