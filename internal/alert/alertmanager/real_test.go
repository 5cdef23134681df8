package alertmanager_test

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/alertmanager/alertmanagertest"
	"github.com/guardd/guardd/internal/alert/receivertest"
)

// TestRealAlertmanagerReplicas pushes to two real Alertmanagers, as to the
// replicas of a cluster: a firing alert reaches both and stays active
// although its finding is weeks old (endsAt counts from the wall clock);
// one restarts and forgets it, a resend brings it back; the resolution
// ends it in both.
func TestRealAlertmanagerReplicas(t *testing.T) {
	a, b := alertmanagertest.Start(t), alertmanagertest.Start(t)
	r := alertmanager.New(alertmanager.Options{URLs: []string{a.URL(), b.URL()}})
	n := receivertest.ByRule("recharge-burst")
	// Decided over a replayed history: the finding and the decision are in
	// the past.
	n.At = time.Now().Add(-30 * 24 * time.Hour)
	n.Finding.At = n.At
	if _, _, err := r.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	for name, am := range map[string]*alertmanagertest.Server{"a": a, "b": b} {
		checkActive(t, name, am, n, true)
	}

	a.Restart(t)
	if got := a.Alerts(t); len(got) != 0 {
		t.Fatalf("a restarted Alertmanager: got %d alerts, want none (it keeps them in memory)", len(got))
	}
	if err := r.Resend(t.Context(), []alert.Notification{n}); err != nil {
		t.Fatal(err)
	}
	checkActive(t, "a after its restart and one resend", a, n, true)

	if _, _, err := r.Send(t.Context(), receivertest.Resolved(n)); err != nil {
		t.Fatal(err)
	}
	for name, am := range map[string]*alertmanagertest.Server{"a": a, "b": b} {
		checkActive(t, name+" after the resolution", am, n, false)
	}
}

// checkActive checks whether am holds n's alert as active, ending a
// resolve timeout from now.
func checkActive(t *testing.T, name string, am *alertmanagertest.Server, n alert.Notification, want bool) {
	t.Helper()
	var found *alertmanagertest.Alert
	for _, a := range am.Alerts(t) {
		if a.Labels["fingerprint"] == n.Finding.Fingerprint() {
			found = &a
		}
	}
	switch {
	case !want && found != nil:
		t.Errorf("%s: got alert %v (%s, ends %s), want none active", name, found.Labels, found.Status.State, found.EndsAt)
	case !want:
	case found == nil:
		t.Errorf("%s: got no active alert %s, want it\n%s", name, n.Finding.Fingerprint(), am.Log())
	case found.Status.State != "active" || found.EndsAt.Before(time.Now().Add(alertmanager.DefaultResolveTimeout-time.Hour)):
		t.Errorf("%s: got state %q ending %s, want active, ending a resolve timeout (%s) from now", name, found.Status.State, found.EndsAt,
			alertmanager.DefaultResolveTimeout)
	}
}
