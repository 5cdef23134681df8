package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/webhooktest"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const token = "amTOKEN-9f8e7d6c5b4a"

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// fake is Alertmanager's POST /api/v2/alerts: it validates the alerts as
// Alertmanager does and answers 200, or 400 with its error text.
func fake(t *testing.T, mode receivertest.Mode, wantToken string) *webhooktest.Server {
	return webhooktest.New(t, mode, webhooktest.Config{
		Path:       "/api/v2/alerts",
		RejectCode: http.StatusUnauthorized,
		Reject:     "Unauthorized",
		Accept: func(r *http.Request, body []byte) (int, string) {
			if wantToken != "" && r.Header.Get("Authorization") != "Bearer "+wantToken {
				return http.StatusUnauthorized, "Unauthorized"
			}
			var as []map[string]json.RawMessage
			if err := json.Unmarshal(body, &as); err != nil {
				return http.StatusBadRequest, `"parsing alerts body failed: ` + err.Error() + `"`
			}
			for _, raw := range as {
				var a alertmanager.Alert
				b, _ := json.Marshal(raw)
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&a); err != nil {
					return http.StatusBadRequest, `"` + err.Error() + `"`
				}
				if len(a.Labels) == 0 {
					return http.StatusBadRequest, `"at least one label pair required"`
				}
				for k, v := range a.Labels {
					if !labelName.MatchString(k) || v == "" {
						return http.StatusBadRequest, `"invalid label set"`
					}
				}
				s, err1 := time.Parse(time.RFC3339, a.StartsAt)
				e, err2 := time.Parse(time.RFC3339, a.EndsAt)
				if err1 != nil || err2 != nil {
					return http.StatusBadRequest, `"invalid time"`
				}
				if e.Before(s) {
					return http.StatusBadRequest, `"start time must be before end time"`
				}
			}
			return http.StatusOK, ""
		},
	})
}

func TestContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		srv := fake(t, mode, token)
		r := alertmanager.New(alertmanager.Options{URLs: []string{srv.Base()}, BearerToken: secret.New(token),
			Client: &http.Client{Timeout: 5 * time.Second}, Log: log})
		return receivertest.Target{
			Notifier:   r,
			Secrets:    []string{token},
			Delivered:  srv.Delivered,
			RetryAfter: true,
			RejectHint: "check the bearer token",
		}
	})
}

func TestFiringThenResolved(t *testing.T) {
	srv := fake(t, receivertest.OK, "")
	n := receivertest.ByRule("recharge-burst")
	// The wall clock reads the time each notification was decided.
	sent := []time.Time{n.At, receivertest.Repeat(n).At, receivertest.Resolved(n).At}
	r := alertmanager.New(alertmanager.Options{URLs: []string{srv.Base() + "/"}, ResolveTimeout: 30 * time.Hour,
		Links: map[string]string{"acme-openai": "https://platform.openai.com/settings/organization/billing/overview"},
		Clock: clock.Clock{NowFunc: func() time.Time { t := sent[0]; sent = sent[1:]; return t }}})
	if _, _, err := receivertest.SendAll(t.Context(), r, n, receivertest.Repeat(n), receivertest.Resolved(n)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	var got []string
	for _, req := range reqs {
		var as []alertmanager.Alert
		if err := json.Unmarshal(req.Body, &as); err != nil || len(as) != 1 {
			t.Fatalf("got body %s, want one alert", req.Body)
		}
		a := as[0]
		if a.Labels["alertname"] != "recharge-burst" || a.Labels["account"] != "acme-openai" || a.Labels["severity"] != "critical" ||
			a.Labels["fingerprint"] != n.Finding.Fingerprint() || len(a.Labels) != 4 {
			t.Errorf("got labels %v", a.Labels)
		}
		if a.Annotations["summary"] != n.Finding.Summary || a.Annotations["recommendation"] != n.Finding.Recommendation ||
			!strings.HasPrefix(a.Annotations["balance"], "Balance: effective $33.05") {
			t.Errorf("got annotations %v", a.Annotations)
		}
		if !strings.HasPrefix(a.GeneratorURL, "https://platform.openai.com/") {
			t.Errorf("got generatorURL %q, want the billing page", a.GeneratorURL)
		}
		got = append(got, a.StartsAt+" "+a.EndsAt)
	}
	want := []string{
		"2026-10-14T03:00:00Z 2026-10-15T09:00:00Z", // 30 h after it was sent
		"2026-10-14T03:00:00Z 2026-10-15T13:00:00Z", // pushed further by the repeat
		"2026-10-14T03:00:00Z 2026-10-14T09:00:00Z", // resolved
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got startsAt/endsAt\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAlertsForEveryRule(t *testing.T) {
	srv := fake(t, receivertest.OK, "")
	r := alertmanager.New(alertmanager.Options{URLs: []string{srv.Base()}})
	if _, _, err := receivertest.SendAll(t.Context(), r, receivertest.Findings()...); err != nil {
		t.Fatal(err)
	}
	for _, n := range receivertest.Findings() {
		a := alertmanager.NewAlert(n, n.At, 0, "")
		if _, ok := a.Annotations["recommendation"]; ok != (n.Finding.Recommendation != "") {
			t.Errorf("%s: got recommendation annotation %t, want %t", n.Finding.Rule, ok, n.Finding.Recommendation != "")
		}
	}
}

func TestRejectedURL(t *testing.T) {
	srv := fake(t, receivertest.OK, "")
	r := alertmanager.New(alertmanager.Options{URLs: []string{srv.Base() + "/alertmanager"}})
	_, retry, err := r.Send(t.Context(), receivertest.ByRule("runway-low"))
	if retry || err == nil || !strings.Contains(err.Error(), "Alertmanager answered 404 Not Found (404 page not found): check the URL") {
		t.Errorf("got retry %t, error %v; want false and an error about the URL", retry, err)
	}
}

func TestAlertGolden(t *testing.T) {
	n := receivertest.ByRule("recharge-burst")
	for name, n := range map[string]alert.Notification{"firing": n, "resolved": receivertest.Resolved(n)} {
		got, err := json.MarshalIndent([]alertmanager.Alert{alertmanager.NewAlert(n, n.At, 0, "https://platform.openai.com/settings/organization/billing/overview")}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", "recharge-burst-"+name+".json")
		if *update {
			_ = os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file (run go test -update to create it): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (run go test -update to accept):\ngot\n%s\nwant\n%s", path, got, want)
		}
	}
}
