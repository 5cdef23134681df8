package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store"
)

// openRelease1 opens a copy of the database release 1 wrote.
func openRelease1(t *testing.T) *store.Store {
	t.Helper()
	db, err := os.ReadFile(fixtureDB)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatalf("open the release 1 database: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// release1Want is what the release 1 database held when it was written.
func release1Want(t *testing.T) fixtureWanted {
	t.Helper()
	body, err := os.ReadFile(fixtureWant)
	if err != nil {
		t.Fatal(err)
	}
	var want fixtureWanted
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestRelease1ReadsBack opens the database release 1 wrote: its alerts,
// silences and outbox items read back as release 1 wrote them, and every
// stored notification reads with this guardd and writes back to the very
// bytes release 1 stored (the stored format's version 1 is release 1's, with
// a version field).
func TestRelease1ReadsBack(t *testing.T) {
	st := openRelease1(t)
	want := release1Want(t)
	got := readFixture(t, st)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"alerts", got.Alerts, want.Alerts}, {"silences", got.Silences, want.Silences},
		{"pending items", got.Pending, want.Pending}, {"dead items", got.Dead, want.Dead},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", c.what, c.got, c.want)
		}
	}

	var payloads [][]byte
	for _, a := range got.Alerts {
		payloads = append(payloads, a.Finding)
	}
	for _, it := range append(got.Pending, got.Dead...) {
		payloads = append(payloads, it.Payload)
	}
	for i, p := range payloads {
		n, err := lifecycle.DecodePayload(p)
		if err != nil {
			t.Errorf("payload %d: %v\n%s", i, err, p)
			continue
		}
		again, err := lifecycle.EncodePayload(n)
		if err != nil {
			t.Fatal(err)
		}
		if v1 := bytes.Replace(again, []byte(`{"version":1,`), []byte("{"), 1); !bytes.Equal(v1, p) {
			t.Errorf("payload %d does not write back as release 1 stored it:\ngot  %s\nwant %s", i, v1, p)
		}
	}
	// And an alert's finding is the finding as it was explained.
	for _, a := range got.Alerts {
		if a.Rule != "recharge-burst" {
			continue
		}
		n, _ := lifecycle.DecodePayload(a.Finding)
		orig := alert.Notification{Status: alert.StatusFiring, Finding: fixtureFinding("recharge-burst", billing.SeverityCritical, fixtureAcme, "recharges", 0), At: fixtureT0}
		orig.Finding.State.Runway.Lasts = 93 * time.Hour // the stored format keeps whole hours
		if alert.Text(n) != alert.Text(orig) {
			t.Errorf("the burst as stored:\ngot  %s\nwant %s", alert.Text(n), alert.Text(orig))
		}
	}
}

// recorder is a receiver that keeps what it was sent.
type recorder struct {
	got []alert.Notification
}

var _ alert.Notifier = (*recorder)(nil)

func (r *recorder) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	r.got = append(r.got, n)
	return alert.Ref{}, false, nil
}

func (r *recorder) titles() []string {
	var out []string
	for _, n := range r.got {
		out = append(out, fmt.Sprintf("%s (folds %d)", alert.Title(n), len(n.Finding.Folded)))
	}
	return out
}

// TestRelease1KeepsWorking goes on where release 1 stopped: the pending
// notifications are delivered exactly once, a firing alert resolves (threaded
// under the Slack message release 1 posted), people's silences still
// silence, and history grows.
func TestRelease1KeepsWorking(t *testing.T) {
	ctx := context.Background()
	st := openRelease1(t)
	slack, webhook, pager := &fixtureSlack{}, &recorder{}, &recorder{}
	receivers := []alert.Receiver{
		{Name: "team-slack", MinSeverity: billing.SeverityInfo, Notifier: slack},
		{Name: "webhook", MinSeverity: billing.SeverityWarning, Notifier: webhook},
		{Name: "pager", MinSeverity: billing.SeverityCritical, Notifier: pager},
	}
	policy := lifecycle.Policy{ResolveAfter: 1, DigestAt: lifecycle.DefaultDigestAt}
	sender := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers}
	day := fixtureT0.Add(24 * time.Hour) // after the daily digest

	res, err := sender.Drain(ctx, day)
	if err != nil || res.Sent != 4 || res.Failed+res.GaveUp != 0 {
		t.Fatalf("first drain: got %+v (%v), want the 4 pending items sent", res, err)
	}
	if res, err := sender.Drain(ctx, day.Add(time.Hour)); err != nil || res != (lifecycle.DrainResult{}) {
		t.Errorf("second drain: got %+v (%v), want nothing left", res, err)
	}
	if got, want := fmt.Sprint(pager.titles()), "[[CRITICAL] low-runway on beta-deepseek (folds 1)]"; got != want {
		t.Errorf("pager: got %s, want %s exactly once", got, want)
	}
	if got, want := fmt.Sprint(webhook.titles()), "[[RESOLVED] phantom-balance on acme-openai (folds 1) [CRITICAL] low-runway on beta-deepseek (folds 1)]"; got != want {
		t.Errorf("webhook: got %s, want %s", got, want)
	}
	if len(slack.got) != 1 || slack.got[0].Finding.Rule != alert.DigestRule || !strings.Contains(slack.got[0].Finding.Summary, "1 info notification") {
		t.Errorf("slack: got %d messages, want the daily digest of the info finding", len(slack.got))
	}

	// The burst no longer holds: it resolves from what release 1 stored,
	// under its Slack message, and its acknowledgement stays.
	burst := billing.Fingerprint("recharge-burst", fixtureAcme.Name, "recharges")
	if err := st.Update(ctx, func(tx *store.Tx) error {
		o := fixtureObservation(fixtureAcme, 24)
		if err := tx.AppendObservation(fixtureAcme, o); err != nil {
			return err
		}
		if err := tx.RecordPoll(store.Poll{Account: fixtureAcme.Name, At: day, OK: true}); err != nil {
			return err
		}
		ns, err := lifecycle.Decide(tx, fixtureAcme.Name, nil, func(f billing.Finding) billing.Finding { return f },
			func(string) bool { return true }, fixtureState("USD", 24), day, policy)
		if err != nil {
			return err
		}
		return lifecycle.Enqueue(tx, ns, receivers, day, policy)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.Drain(ctx, day); err != nil {
		t.Fatal(err)
	}
	if len(slack.got) != 2 {
		t.Fatalf("slack: got %d messages, want the resolution too", len(slack.got))
	}
	n := slack.got[1]
	if n.Status != alert.StatusResolved || n.Finding.Rule != "recharge-burst" ||
		n.Ref != (alert.Ref{Channel: fixtureChannel, MessageID: fixtureTS(1)}) || !n.Finding.At.Equal(fixtureT0) {
		t.Errorf("resolution: got %s %s under %+v, fired %s; want the burst resolved under release 1's message, fired %s",
			n.Status, n.Finding.Rule, n.Ref, n.Finding.At, fixtureT0)
	}
	if err := st.Lifecycle().View(ctx, func(tx lifecycle.Tx) error {
		a, _, err := tx.Alert(burst)
		if a.State != lifecycle.Resolved || !a.ResolvedAt.Equal(day) || a.AckedBy != "U42" {
			t.Errorf("burst: got %s at %s acked by %q, want resolved at %s, still acked by U42", a.State, a.ResolvedAt, a.AckedBy, day)
		}
		// The silence from Slack still mutes beta's runway; the one expired
		// early does not.
		if s, ok, err := tx.Silenced("low-runway", fixtureBeta.Name, fixtureT0.Add(3*time.Hour)); err != nil || !ok || s.CreatedBy != "U42" {
			t.Errorf("low-runway on beta: got %+v, %v (%v), want silenced from Slack", s, ok, err)
		}
		if s, ok, err := tx.Silenced("phantom-grant", fixtureAcme.Name, fixtureT0.Add(4*time.Hour)); err != nil || ok {
			t.Errorf("phantom-grant: got %+v, %v (%v), want its expired silence not to mute it", s, ok, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// History grows on from where release 1 left it.
	if err := st.View(ctx, func(tx *store.Tx) error {
		obs, err := tx.Observations(fixtureAcme, time.Time{})
		if err != nil {
			return err
		}
		if len(obs) != 4 || !obs[3].At.Equal(day) || !obs[0].At.Equal(fixtureT0) {
			t.Errorf("acme observations: got %d, want release 1's 3 and the new one", len(obs))
		}
		polls, err := tx.RecentPolls(fixtureBeta.Name, 10)
		if err != nil {
			return err
		}
		if len(polls) != 3 || polls[1].OK || polls[1].Error == "" {
			t.Errorf("beta polls: got %+v, want 3 with the failed one in the middle", polls)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
