package kubernetes_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// pgDir holds the ways of running guardd with its state on PostgreSQL: no
// volume, so several replicas, or a CronJob on any node.
const pgDir = "postgres"

// pgEntries are the PostgreSQL kustomizations, and the workload each
// deploys.
var pgEntries = map[string]string{
	"postgres/replicas": "Deployment",
	"postgres/check":    "CronJob",
}

// entryObjects decodes what the kustomization in dir deploys.
func entryObjects(t *testing.T, dir string) []object {
	t.Helper()
	files, images := resolve(t, dir)
	if !slices.Contains(images, imageName) {
		t.Errorf("%s/kustomization.yaml: images: want an entry for %q", dir, imageName)
	}
	var objs []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := decodeAll(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, o := range docs {
			o.file = f
			objs = append(objs, o)
		}
	}
	return objs
}

func TestPostgresReplicas(t *testing.T) {
	objs := entryObjects(t, "postgres/replicas")
	d := find[appsv1.Deployment](t, objs, "Deployment", 1)[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas: got %v, want 2 or more", d.Spec.Replicas)
	}
	if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("strategy: got %+v, want RollingUpdate, one replica unavailable at a time", s)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 || !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	checkPod(t, objs, "Deployment", d.Spec.Template.Spec, "run", true)
	c := d.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readinessProbe: got %+v, want an HTTP GET of /readyz", c.ReadinessProbe)
	}

	pdb := find[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", 1)[0]
	if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 || !subset(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the Deployment's pods %v", pdb.Spec.Selector, d.Spec.Template.Labels)
	}
	if m := pdb.Spec.MinAvailable; m == nil || m.Type != intstr.Int || m.IntValue() < 1 || m.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("PodDisruptionBudget minAvailable %v: want at least 1 and fewer than the %d replicas (or nothing could be drained)", m, *d.Spec.Replicas)
	}
	svc := find[corev1.Service](t, objs, "Service", 1)[0]
	if !subset(svc.Spec.Selector, d.Spec.Template.Labels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the Deployment's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
}

func TestPostgresCronJob(t *testing.T) {
	objs := entryObjects(t, "postgres/check")
	checkCronJob(t, objs, true)
	pod := find[batchv1.CronJob](t, objs, "CronJob", 1)[0].Spec.JobTemplate.Spec.Template.Spec
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil && v.EmptyDir == nil {
			t.Errorf("volume %s: want only the config and scratch space (the state is on PostgreSQL)", v.Name)
		}
	}
}

// TestPostgresConfigLoads loads the PostgreSQL ConfigMap's config.yaml with
// the example Secret's variables: the state is on PostgreSQL, and without
// the Secret it does not load.
func TestPostgresConfigLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(pgDir, secretExample))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decodeAll(b)
	if err != nil || len(docs) != 1 {
		t.Fatalf("%s: %v (%d documents)", secretExample, err, len(docs))
	}
	secret := docs[0].obj.(*corev1.Secret)
	for k, v := range secret.StringData {
		if !strings.Contains(v, "REPLACE_ME") || !strings.HasPrefix(k, config.EnvPrefix) {
			t.Errorf("Secret example %s: want a %s… key holding a REPLACE_ME placeholder", k, config.EnvPrefix)
		}
	}
	for dir := range pgEntries {
		cm := find[corev1.ConfigMap](t, entryObjects(t, dir), "ConfigMap", 1)[0]
		getenv := func(k string) (string, bool) { v, ok := secret.StringData[k]; return v, ok }
		c, err := config.Load(strings.NewReader(cm.Data["config.yaml"]), t.TempDir(), getenv, config.AllSecrets)
		if err != nil {
			t.Fatalf("%s: config.yaml does not load with the example Secret:\n%v", dir, err)
		}
		if !c.State.Postgres() {
			t.Errorf("%s: config.yaml: state.driver %q, want postgres", dir, c.State.Driver.S)
		}
		if _, err := config.Load(strings.NewReader(cm.Data["config.yaml"]), t.TempDir(), func(string) (string, bool) { return "", false }, config.AllSecrets); err == nil {
			t.Errorf("%s: config.yaml loads without the Secret's variables: want it to need them", dir)
		}
	}
}

// TestPostgresKustomizations: every manifest under postgres/ is deployed, no
// entry deploys a volume claim or a Secret, and each deploys its workload
// and not the other's.
func TestPostgresKustomizations(t *testing.T) {
	deployed := map[string]bool{}
	for dir, workload := range pgEntries {
		objs := entryObjects(t, dir)
		var kinds []string
		for _, o := range objs {
			deployed[o.file] = true
			kinds = append(kinds, o.kind)
		}
		for _, want := range []string{"Namespace", "ConfigMap", workload} {
			if !slices.Contains(kinds, want) {
				t.Errorf("%s deploys %q, want a %s among them", dir, kinds, want)
			}
		}
		for _, never := range []string{"PersistentVolumeClaim", "Secret"} {
			if slices.Contains(kinds, never) {
				t.Errorf("%s deploys a %s", dir, never)
			}
		}
		for _, other := range pgEntries {
			if other != workload && slices.Contains(kinds, other) {
				t.Errorf("%s deploys both a %s and a %s: pick one", dir, workload, other)
			}
		}
	}
	filepath.WalkDir(pgDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") && d.Name() != "kustomization.yaml" &&
			d.Name() != secretExample && !deployed[filepath.ToSlash(p)] {
			t.Errorf("%s is in no kustomization", p)
		}
		return err
	})
}
