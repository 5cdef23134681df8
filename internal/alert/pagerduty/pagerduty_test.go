package pagerduty_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/pagerduty"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/webhooktest"
	"github.com/guardd/guardd/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// routingKey is a made-up integration key of the right length.
const routingKey = "R0UTINGKEYf00dfeedc0ffee12345678"

// events is the fake Events API v2: it checks each event as PagerDuty does
// and answers 202 or 400 with PagerDuty's error body.
func events(t *testing.T, mode receivertest.Mode) *webhooktest.Server {
	return webhooktest.New(t, mode, webhooktest.Config{
		Path:       "/v2/enqueue",
		RejectCode: http.StatusBadRequest,
		Reject:     `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`,
		Accept: func(r *http.Request, body []byte) (int, string) {
			var e pagerduty.Event
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			invalid := func(msg string) (int, string) {
				b, _ := json.Marshal(struct {
					Status  string   `json:"status"`
					Message string   `json:"message"`
					Errors  []string `json:"errors"`
				}{"invalid event", "Event object is invalid", []string{msg}})
				return http.StatusBadRequest, string(b)
			}
			if err := dec.Decode(&e); err != nil {
				return invalid("malformed JSON: " + err.Error())
			}
			switch {
			case r.Header.Get("Content-Type") != "application/json":
				return invalid("Content-Type must be application/json")
			case len(e.RoutingKey) != 32:
				return invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
			case e.DedupKey == "" || len(e.DedupKey) > 255:
				return invalid("'dedup_key' is invalid")
			case e.EventAction == "trigger":
				p := e.Payload
				if p == nil || p.Summary == "" || p.Source == "" || utf8.RuneCountInString(p.Summary) > 1024 {
					return invalid("'payload' is invalid or missing summary/source")
				}
				switch p.Severity {
				case "critical", "error", "warning", "info":
				default:
					return invalid("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
				}
				if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
					return invalid("'payload.timestamp' is invalid")
				}
			case e.EventAction == "resolve" || e.EventAction == "acknowledge":
			default:
				return invalid("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
			}
			return http.StatusAccepted, fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, e.DedupKey)
		},
	})
}

func TestContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		srv := events(t, mode)
		r := pagerduty.New(pagerduty.Options{RoutingKey: secret.New(routingKey), URL: srv.Base(),
			Client: &http.Client{Timeout: 5 * time.Second}, Log: log})
		return receivertest.Target{
			Notifier:   r,
			Secrets:    []string{routingKey},
			Delivered:  srv.Delivered,
			RetryAfter: true,
			RejectHint: "check the routing key",
		}
	})
}

// TestTriggerRepeatResolve follows one alert: triggered, triggered again
// (the same dedup_key), resolved.
func TestTriggerRepeatResolve(t *testing.T) {
	srv := events(t, receivertest.OK)
	r := pagerduty.New(pagerduty.Options{RoutingKey: secret.New(routingKey), URL: srv.Base() + "/",
		Links: map[string]string{"acme-openai": "https://platform.openai.com/settings/organization/billing/overview"}})
	n := receivertest.ByRule("recharge-burst")
	if _, _, err := receivertest.SendAll(t.Context(), r, n, receivertest.Repeat(n), receivertest.Resolved(n)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	var got []string
	for _, req := range reqs {
		var e pagerduty.Event
		if err := json.Unmarshal(req.Body, &e); err != nil {
			t.Fatal(err)
		}
		if req.Code != http.StatusAccepted {
			t.Errorf("got answer %d, want 202", req.Code)
		}
		got = append(got, e.EventAction+" "+e.DedupKey)
	}
	fp := n.Finding.Fingerprint()
	if want := []string{"trigger " + fp, "trigger " + fp, "resolve " + fp}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got events %q, want %q", got, want)
	}
	var e pagerduty.Event
	_ = json.Unmarshal(reqs[0].Body, &e)
	p := e.Payload
	if p.Severity != "critical" || p.Source != "guardd/acme-openai" || p.Class != "recharge-burst" || p.Component != "acme-openai" ||
		!strings.HasPrefix(p.Summary, "[CRITICAL] recharge-burst on acme-openai: 3 recharges in 6 hours") || p.Timestamp != "2026-10-14T03:00:00Z" {
		t.Errorf("got payload %+v", p)
	}
	if p.CustomDetails.Fingerprint != fp || len(p.CustomDetails.Evidence) != 3 || p.CustomDetails.Recommendation == "" {
		t.Errorf("got custom_details %+v, want the record with evidence and recommendation", p.CustomDetails)
	}
	if len(e.Links) != 1 || !strings.HasPrefix(e.Links[0].Href, "https://platform.openai.com/") {
		t.Errorf("got links %+v, want the billing page", e.Links)
	}
}

func TestSeverityAndSummary(t *testing.T) {
	for _, n := range receivertest.Findings() {
		e := pagerduty.NewEvent(n, secret.New(routingKey), "")
		want := map[string]string{"critical": "critical", "warning": "warning", "info": "info"}[string(n.Finding.Severity)]
		if e.Payload.Severity != want {
			t.Errorf("%s: got severity %q, want %q", n.Finding.Rule, e.Payload.Severity, want)
		}
	}
	n := receivertest.ByRule("runway-low")
	n.Finding.Summary = strings.Repeat("é", 2000)
	if got := utf8.RuneCountInString(pagerduty.NewEvent(n, secret.New(routingKey), "").Payload.Summary); got != 1024 {
		t.Errorf("got a summary of %d characters, want it cut to 1024", got)
	}
}

func TestEventGolden(t *testing.T) {
	n := receivertest.ByRule("recharge-burst")
	for name, n := range map[string]alert.Notification{"trigger": n, "resolve": receivertest.Resolved(n)} {
		got, err := json.MarshalIndent(pagerduty.NewEvent(n, secret.New(routingKey), "https://platform.openai.com/settings/organization/billing/overview"), "", "  ")
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

// TestRejectedKey checks what the user reads when the key is wrong.
func TestRejectedKey(t *testing.T) {
	srv := events(t, receivertest.OK)
	r := pagerduty.New(pagerduty.Options{RoutingKey: secret.New("short-key-0123"), URL: srv.Base()})
	_, retry, err := r.Send(t.Context(), receivertest.ByRule("runway-low"))
	want := "send pagerduty event (firing, dedup_key " + receivertest.ByRule("runway-low").Finding.Fingerprint() + "): PagerDuty answered 400 Bad Request " +
		`({"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}): ` +
		"check the routing key: it must be the 32-character integration key of an Events API v2 integration"
	if retry || err == nil {
		t.Fatalf("got retry %t, error %v; want false and an error", retry, err)
	}
	if got := err.Error(); got != want {
		t.Errorf("got error\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(err.Error(), "short-key-0123") {
		t.Errorf("error holds the routing key")
	}
}
