// Package kubernetes_test checks the manifests in deploy/kubernetes without a
// cluster: every document is strictly decoded into its k8s.io/api type
// (unknown fields fail), then the settings docs/deploy.md promises are
// asserted, the ConfigMap's config.yaml is loaded by guardd's own config
// loader, and the kustomizations are checked to list files that exist.
package kubernetes_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/config"
	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// What the manifests must agree on.
const (
	namespace   = "guardd"
	configMap   = "guardd-config"
	stateClaim  = "guardd-state"
	secretName  = "guardd"
	imageName   = "guardd"
	stateEnv    = "GUARDD_STATE_PATH"
	uid         = 65532
	metricsPort = 9464
	// secretExample is the Secret manifest that no kustomization may list:
	// `kubectl apply -k` would overwrite the real keys with placeholders.
	secretExample = "secret.example.yaml"
	// demoHistory is the ConfigMap key holding a copy of this bundled example.
	demoHistory = "demo-history.json"
	demoSource  = "../../examples/expired-grants-counted.json"
)

// entries are the kustomizations users apply, and the workload kind each
// must deploy (and the other must not).
var entries = map[string]string{
	".":      "CronJob",
	"daemon": "Deployment",
}

// object is one decoded manifest document.
type object struct {
	file string // relative to deploy/kubernetes
	kind string
	obj  any
}

func (o object) String() string { return o.file + ": " + o.kind }

// manifests decodes every manifest file under the current directory (the
// kustomization files aside).
func manifests(t *testing.T) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p == pgDir {
			return fs.SkipDir // checked entry by entry: postgres_test.go
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, err := decodeAll(b)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		for _, o := range docs {
			o.file = filepath.ToSlash(p)
			objs = append(objs, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeAll splits a multi-document YAML stream on "---" lines and strictly
// decodes each document into the k8s.io/api type of its kind.
func decodeAll(b []byte) ([]object, error) {
	var objs []object
	for i, doc := range docSeparator.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue // an empty document
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var obj any
		var wantAPI string
		switch tm.Kind {
		case "Namespace":
			obj, wantAPI = &corev1.Namespace{}, "v1"
		case "PersistentVolumeClaim":
			obj, wantAPI = &corev1.PersistentVolumeClaim{}, "v1"
		case "ConfigMap":
			obj, wantAPI = &corev1.ConfigMap{}, "v1"
		case "Secret":
			obj, wantAPI = &corev1.Secret{}, "v1"
		case "Service":
			obj, wantAPI = &corev1.Service{}, "v1"
		case "CronJob":
			obj, wantAPI = &batchv1.CronJob{}, "batch/v1"
		case "Deployment":
			obj, wantAPI = &appsv1.Deployment{}, "apps/v1"
		case "PodDisruptionBudget":
			obj, wantAPI = &policyv1.PodDisruptionBudget{}, "policy/v1"
		default:
			return nil, fmt.Errorf("document %d: kind %q: the test knows no type for it (add one)", i+1, tm.Kind)
		}
		if tm.APIVersion != wantAPI {
			return nil, fmt.Errorf("document %d (%s): apiVersion %q, want %q", i+1, tm.Kind, tm.APIVersion, wantAPI)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
		}
		objs = append(objs, object{kind: tm.Kind, obj: obj})
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: batch/v1\nkind: CronJob\nspec:\n  concurencyPolicy: Forbid\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          securityContext:\n            readOnlyRootFilesytem: true\n",
		"apiVersion: v1\nkind: PersistentVolumeClaim\nspec:\n  resources:\n    requests:\n      storage: lots\n",
		"apiVersion: v1\nkind: Pod\n",
		"apiVersion: batch/v1beta1\nkind: CronJob\n",
	} {
		if _, err := decodeAll([]byte(doc)); err == nil {
			t.Errorf("decodeAll(%q): got nil, want an error", doc)
		}
	}
}

// find returns the objects of kind, failing unless there are exactly n.
func find[T any](t *testing.T, objs []object, kind string, n int) []T {
	t.Helper()
	var out []T
	for _, o := range objs {
		if o.kind == kind {
			out = append(out, *o.obj.(*T))
		}
	}
	if len(out) != n {
		t.Fatalf("got %d %s manifests, want %d", len(out), kind, n)
	}
	return out
}

func TestCronJob(t *testing.T) { checkCronJob(t, manifests(t), false) }

// checkCronJob checks the one CronJob of objs; pg: its state is on
// PostgreSQL.
func checkCronJob(t *testing.T, objs []object, pg bool) {
	t.Helper()
	cj := find[batchv1.CronJob](t, objs, "CronJob", 1)[0]
	s := cj.Spec

	sched, err := cron.ParseStandard(s.Schedule)
	if err != nil {
		t.Fatalf("schedule %q: %v", s.Schedule, err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if next := sched.Next(t0); next.Sub(t0) != 15*time.Minute || sched.Next(next).Sub(next) != 15*time.Minute {
		t.Errorf("schedule %q: runs at %v, %v; want every 15 minutes", s.Schedule, next, sched.Next(next))
	}
	if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy: got %q, want Forbid", s.ConcurrencyPolicy)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"startingDeadlineSeconds", s.StartingDeadlineSeconds != nil && *s.StartingDeadlineSeconds > 0},
		{"successfulJobsHistoryLimit", s.SuccessfulJobsHistoryLimit != nil && *s.SuccessfulJobsHistoryLimit > 0},
		{"failedJobsHistoryLimit", s.FailedJobsHistoryLimit != nil && *s.FailedJobsHistoryLimit > 0},
		{"jobTemplate.spec.backoffLimit", s.JobTemplate.Spec.BackoffLimit != nil && *s.JobTemplate.Spec.BackoffLimit > 0},
	} {
		if !f.set {
			t.Errorf("%s: want it set to a positive number", f.name)
		}
	}
	if d := s.JobTemplate.Spec.ActiveDeadlineSeconds; d == nil || *d <= 0 || *d >= 15*60 {
		t.Errorf("jobTemplate.activeDeadlineSeconds: got %v, want set and shorter than the 15-minute schedule (a hung run blocks the next ones under Forbid)", d)
	}
	pod := s.JobTemplate.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy: got %q, want Never or OnFailure", pod.RestartPolicy)
	}
	checkPod(t, objs, "CronJob", pod, "check", pg)
}

func TestDeployment(t *testing.T) {
	objs := manifests(t)
	d := find[appsv1.Deployment](t, objs, "Deployment", 1)[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas: got %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy: got %q, want Recreate (the state volume is ReadWriteOnce)", d.Spec.Strategy.Type)
	}
	if d.Spec.Selector == nil || !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) || len(d.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("selector %v does not match the pod labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	checkPod(t, objs, "Deployment", pod, "run", false)

	c := pod.Containers[0]
	var port *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.ContainerPort == metricsPort {
			port = &c.Ports[i]
		}
	}
	if port == nil {
		t.Fatalf("container ports %v: want %d", c.Ports, metricsPort)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			t.Errorf("%s: got %+v, want an HTTP GET of %s", p.name, p.probe, p.path)
		case p.probe.HTTPGet.Path != p.path:
			t.Errorf("%s: path %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		case p.probe.HTTPGet.Port.IntValue() != metricsPort && p.probe.HTTPGet.Port.String() != port.Name:
			t.Errorf("%s: port %s, want %d or %q", p.name, p.probe.HTTPGet.Port.String(), metricsPort, port.Name)
		}
	}

	svc := find[corev1.Service](t, objs, "Service", 1)[0]
	if !subset(svc.Spec.Selector, d.Spec.Template.Labels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the Deployment's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != metricsPort ||
		(svc.Spec.Ports[0].TargetPort.String() != port.Name && svc.Spec.Ports[0].TargetPort.IntValue() != metricsPort) {
		t.Errorf("Service ports %+v: want %d to the container's metrics port", svc.Spec.Ports, metricsPort)
	}
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// checkPod asserts the security settings, resources, volumes and arguments
// of a guardd pod; command is the guardd subcommand it runs; pg says the
// state is on PostgreSQL (no state volume).
func checkPod(t *testing.T, objs []object, owner string, pod corev1.PodSpec, command string, pg bool) {
	t.Helper()
	if len(pod.InitContainers) > 0 || len(pod.EphemeralContainers) > 0 {
		t.Errorf("%s: init or ephemeral containers: want only the guardd container", owner)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: got %d containers, want 1", owner, len(pod.Containers))
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken: want false (guardd never calls the Kubernetes API)", owner)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: host namespaces shared", owner)
	}
	psc := pod.SecurityContext
	if !pg && (psc == nil || psc.FSGroup == nil || *psc.FSGroup != uid) {
		t.Errorf("%s: securityContext.fsGroup: want %d, so that the state volume is writable", owner, uid)
	}

	for _, c := range pod.Containers {
		where := owner + " container " + c.Name
		checkMemory(t, where, c)
		sc := c.SecurityContext
		if sc == nil {
			t.Fatalf("%s: no securityContext", where)
		}
		checks := []struct {
			what string
			ok   bool
		}{
			{"runAsNonRoot: true", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
			{fmt.Sprintf("runAsUser: %d", uid), sc.RunAsUser != nil && *sc.RunAsUser == uid},
			{"readOnlyRootFilesystem: true", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
			{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
			{"privileged unset or false", sc.Privileged == nil || !*sc.Privileged},
			{"capabilities.drop: [ALL], none added", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
			{"seccompProfile.type: RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
			// The pod level too, so that nothing added later runs unconfined.
			{"pod runAsNonRoot: true", psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
			{fmt.Sprintf("pod runAsUser: %d", uid), psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == uid},
			{"pod seccompProfile.type: RuntimeDefault", psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		}
		for _, ch := range checks {
			if !ch.ok {
				t.Errorf("%s: securityContext: want %s", where, ch.what)
			}
		}

		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if !hasReq || !hasLim || req.IsZero() || lim.IsZero() {
				t.Errorf("%s: resources: want a request and a limit for %s", where, r)
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: resources: %s request %s above its limit %s", where, r, req.String(), lim.String())
			}
		}

		if c.Image != imageName {
			t.Errorf("%s: image %q, want %q (kustomization.yaml's images: sets the registry and tag)", where, c.Image, imageName)
		}
		if len(c.Command) != 0 {
			t.Errorf("%s: command %q: want the image's entrypoint", where, c.Command)
		}
		if len(c.Args) != 3 || c.Args[0] != command || c.Args[1] != "--config" {
			t.Fatalf("%s: args %q, want [%s --config FILE]", where, c.Args, command)
		}
		checkVolumes(t, objs, where, pod, c, c.Args[2], pg)
	}
}

// checkVolumes follows the container's config file, state path and secret
// to the objects that provide them.
func checkVolumes(t *testing.T, objs []object, where string, pod corev1.PodSpec, c corev1.Container, configFile string, pg bool) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mountOf := func(dir string) (corev1.VolumeMount, corev1.Volume, bool) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir && m.SubPath == "" {
				return m, volumes[m.Name], true
			}
		}
		return corev1.VolumeMount{}, corev1.Volume{}, false
	}

	// The config: a read-only ConfigMap volume holding the file.
	m, v, ok := mountOf(path.Dir(configFile))
	switch {
	case !ok || v.ConfigMap == nil:
		t.Errorf("%s: --config %s: want the directory %s mounted from a ConfigMap", where, configFile, path.Dir(configFile))
	case !m.ReadOnly:
		t.Errorf("%s: the config volume at %s is writable, want readOnly", where, m.MountPath)
	case v.ConfigMap.Name != configMap:
		t.Errorf("%s: config from ConfigMap %q, want %q", where, v.ConfigMap.Name, configMap)
	default:
		cm := find[corev1.ConfigMap](t, objs, "ConfigMap", 1)[0]
		if _, ok := cm.Data[path.Base(configFile)]; !ok {
			t.Errorf("%s: ConfigMap %s has no key %s", where, cm.Name, path.Base(configFile))
		}
	}

	// The state: GUARDD_STATE_PATH in a directory mounted from the claim;
	// on PostgreSQL, neither.
	if pg {
		for _, e := range c.Env {
			if e.Name == stateEnv {
				t.Errorf("%s: env %s: the state is on PostgreSQL, want no state path", where, stateEnv)
			}
		}
		for _, v := range pod.Volumes {
			if v.PersistentVolumeClaim != nil {
				t.Errorf("%s: volume %s from the claim %s: the state is on PostgreSQL, want no volume claim", where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	statePath := ""
	for _, e := range c.Env {
		if e.Name == stateEnv {
			statePath = e.Value
		}
	}
	if !pg && (statePath == "" || !path.IsAbs(statePath)) {
		t.Errorf("%s: env %s: got %q, want an absolute path on the state volume", where, stateEnv, statePath)
	} else if m, v, ok := mountOf(path.Dir(statePath)); !pg && (!ok || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != stateClaim || m.ReadOnly) {
		t.Errorf("%s: %s=%s: want %s mounted writable from the claim %q", where, stateEnv, statePath, path.Dir(statePath), stateClaim)
	}

	// Scratch space for SQLite's temporary files under a read-only root.
	if _, v, ok := mountOf("/tmp"); !ok || v.EmptyDir == nil {
		t.Errorf("%s: want an emptyDir at /tmp (the root filesystem is read-only)", where)
	}

	// The secrets: envFrom the example Secret's name.
	var secrets []string
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil {
			secrets = append(secrets, e.SecretRef.Name)
		}
	}
	if !slices.Equal(secrets, []string{secretName}) {
		t.Errorf("%s: envFrom secrets %q, want [%s]", where, secrets, secretName)
	}
}

func TestStateVolume(t *testing.T) {
	pvc := find[corev1.PersistentVolumeClaim](t, manifests(t), "PersistentVolumeClaim", 1)[0]
	if pvc.Name != stateClaim {
		t.Errorf("PersistentVolumeClaim name %q, want %q", pvc.Name, stateClaim)
	}
	if !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("accessModes %q, want [ReadWriteOnce]", pvc.Spec.AccessModes)
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
		t.Errorf("resources.requests.storage: want a size")
	}
}

func TestNamespace(t *testing.T) {
	objs := manifests(t)
	ns := find[corev1.Namespace](t, objs, "Namespace", 1)[0]
	if ns.Name != namespace {
		t.Errorf("Namespace %q, want %q", ns.Name, namespace)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("Namespace label pod-security.kubernetes.io/enforce: got %q, want restricted", got)
	}
	for _, o := range objs {
		if o.kind == "Namespace" {
			continue
		}
		got := o.obj.(interface{ GetNamespace() string }).GetNamespace()
		if got != namespace {
			t.Errorf("%v: namespace %q, want %q", o, got, namespace)
		}
	}
}

// TestConfigLoads loads the ConfigMap's config.yaml with guardd's config
// loader, in a directory holding every key of the ConfigMap (as the volume
// mount does), with the environment each workload's container gets: its own
// env values plus the example Secret's keys. A variable the config needs
// that the Secret lacks fails, and so does a GUARDD_* value (state path,
// HTTP address) that the loader rejects.
func TestConfigLoads(t *testing.T) {
	objs := manifests(t)
	cm := find[corev1.ConfigMap](t, objs, "ConfigMap", 1)[0]
	secret := find[corev1.Secret](t, objs, "Secret", 1)[0]
	if secret.Name != secretName {
		t.Errorf("Secret name %q, want %q", secret.Name, secretName)
	}
	if len(secret.Data) > 0 || len(secret.StringData) == 0 {
		t.Errorf("Secret example: want placeholder values in stringData only")
	}
	for k, v := range secret.StringData {
		if !strings.Contains(v, "REPLACE_ME") {
			t.Errorf("Secret example %s: value does not say REPLACE_ME: make placeholders obvious", k)
		}
		if !strings.HasPrefix(k, config.EnvPrefix) {
			t.Errorf("Secret example key %s: want the %s prefix", k, config.EnvPrefix)
		}
	}

	dir := t.TempDir()
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	workloads := map[string]corev1.PodSpec{
		"CronJob":    find[batchv1.CronJob](t, objs, "CronJob", 1)[0].Spec.JobTemplate.Spec.Template.Spec,
		"Deployment": find[appsv1.Deployment](t, objs, "Deployment", 1)[0].Spec.Template.Spec,
	}
	for owner, pod := range workloads {
		env := maps.Clone(secret.StringData)
		for _, e := range pod.Containers[0].Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		getenv := func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}
		if _, err := config.Load(strings.NewReader(cm.Data["config.yaml"]), dir, getenv, config.AllSecrets); err != nil {
			t.Errorf("ConfigMap %s config.yaml does not load with the %s's environment:\n%v", cm.Name, owner, err)
		}
	}
	getenv := func(k string) (string, bool) {
		v, ok := secret.StringData[k]
		return v, ok
	}
	c, err := config.Load(strings.NewReader(cm.Data["config.yaml"]), dir, getenv, config.AllSecrets)
	if err != nil {
		t.Fatalf("ConfigMap %s config.yaml does not load:\n%v", cm.Name, err)
	}
	if len(c.Notifiers) == 0 {
		t.Errorf("config.yaml has no notifier")
	}
	var used []string
	for _, n := range c.Notifiers {
		if n.Type == slack.Kind.Name {
			used = append(used, n.Name)
		}
	}
	if len(used) == 0 {
		t.Errorf("config.yaml has no slack notifier: the Secret example would be unused")
	}

	// Without the Secret the config must not load: the Secret is needed.
	if _, err := config.Load(strings.NewReader(cm.Data["config.yaml"]), dir, func(string) (string, bool) { return "", false }, config.AllSecrets); err == nil {
		t.Errorf("config.yaml loads without the Secret's variables: want it to need them")
	}

	// The demo history is the bundled example, whatever its layout.
	if got, ok := cm.Data[demoHistory]; ok {
		want, err := os.ReadFile(demoSource)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("ConfigMap %s: %v", demoHistory, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("ConfigMap %s differs from %s: copy the example again (one observation a line)", demoHistory, demoSource)
		}
	}
}

// kustomization is the part of a kustomization.yaml these manifests use;
// strict decoding rejects anything else, so extend it when needed.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// resolve returns the manifest files (relative to deploy/kubernetes) that
// the kustomization in dir deploys, following directory resources, and the
// image names it sets.
func resolve(t *testing.T, dir string) (files []string, images []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s/kustomization.yaml: %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", dir, k.APIVersion, k.Kind)
	}
	for _, img := range k.Images {
		if img.NewName == "" || img.NewTag == "" {
			t.Errorf("%s/kustomization.yaml: image %q: want newName and newTag", dir, img.Name)
		}
		images = append(images, img.Name)
	}
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			t.Errorf("%s/kustomization.yaml lists %s: %v", dir, r, err)
		case fi.IsDir():
			sub, _ := resolve(t, p)
			files = append(files, sub...)
		case !strings.HasPrefix(filepath.Clean(r), ".."):
			files = append(files, filepath.ToSlash(p))
		default:
			// kustomize refuses files outside the kustomization's directory.
			t.Errorf("%s/kustomization.yaml lists the file %s outside its directory: list a directory holding a kustomization instead", dir, r)
		}
	}
	return files, images
}

func TestKustomizations(t *testing.T) {
	objs := manifests(t)
	kindsIn := map[string][]string{}
	for _, o := range objs {
		kindsIn[o.file] = append(kindsIn[o.file], o.kind)
	}
	deployed := map[string]bool{}
	for dir, workload := range entries {
		files, images := resolve(t, dir)
		if !slices.Contains(images, imageName) {
			t.Errorf("%s/kustomization.yaml: images: want an entry for %q", dir, imageName)
		}
		var kinds []string
		for _, f := range files {
			deployed[f] = true
			if _, ok := kindsIn[f]; !ok {
				t.Errorf("%s/kustomization.yaml deploys %s, which holds no manifest", dir, f)
			}
			kinds = append(kinds, kindsIn[f]...)
		}
		for _, want := range []string{"Namespace", "PersistentVolumeClaim", "ConfigMap", workload} {
			if !slices.Contains(kinds, want) {
				t.Errorf("%s/kustomization.yaml: deploys %q, want a %s among them", dir, kinds, want)
			}
		}
		for _, other := range entries {
			if other != workload && slices.Contains(kinds, other) {
				t.Errorf("%s/kustomization.yaml deploys both a %s and a %s: they would share the ReadWriteOnce state volume", dir, workload, other)
			}
		}
		if slices.Contains(kinds, "Secret") {
			t.Errorf("%s/kustomization.yaml deploys a Secret: apply -k would overwrite the real keys with placeholders", dir)
		}
	}
	for f := range kindsIn {
		if f != secretExample && !deployed[f] {
			t.Errorf("%s is in no kustomization", f)
		}
	}
}

// TestKustomizeBuild renders both kustomizations with kubectl's built-in
// kustomize, when kubectl is installed, and strictly decodes the output (the
// image the workloads end up with included). It needs no cluster.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: kustomize rendering not checked (the other tests cover the files)")
	}
	for _, dir := range slices.Concat(slices.Collect(maps.Keys(entries)), slices.Collect(maps.Keys(pgEntries))) {
		out, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Errorf("kubectl kustomize %s: %v\n%s", dir, err, msg)
			continue
		}
		objs, err := decodeAll(out)
		if err != nil {
			t.Errorf("kubectl kustomize %s: %v", dir, err)
			continue
		}
		for _, o := range objs {
			var pod *corev1.PodSpec
			switch v := o.obj.(type) {
			case *batchv1.CronJob:
				pod = &v.Spec.JobTemplate.Spec.Template.Spec
			case *appsv1.Deployment:
				pod = &v.Spec.Template.Spec
			}
			if pod != nil && (pod.Containers[0].Image == imageName || !strings.Contains(pod.Containers[0].Image, "/")) {
				t.Errorf("kubectl kustomize %s: %s image %q: the images: entry did not apply", dir, o.kind, pod.Containers[0].Image)
			}
		}
	}
}

// checkMemory: the container's memory request covers a check's measured
// peak (docs/deploy.md, "Sizing"), and GOMEMLIMIT sits below the limit with
// room for what the runtime does not count, so the runtime collects harder
// before the kernel kills the process.
func checkMemory(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	limit, request := c.Resources.Limits.Memory(), c.Resources.Requests.Memory()
	if limit.IsZero() || request.IsZero() || request.Cmp(*limit) > 0 {
		t.Errorf("%s: memory request %s and limit %s: want both, the request at most the limit", where, request, limit)
		return
	}
	var soft string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			soft = e.Value
		}
	}
	n, ok := strings.CutSuffix(soft, "MiB")
	mib, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil {
		t.Errorf("%s: GOMEMLIMIT %q: want a number of MiB", where, soft)
		return
	}
	if max := limit.Value() * 85 / 100; mib<<20 > max || mib<<20 < limit.Value()/2 {
		t.Errorf("%s: GOMEMLIMIT %s against a limit of %s: want between half of it and 85%%", where, soft, limit)
	}
}
