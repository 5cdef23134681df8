package webhook_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/webhook"
	"github.com/guardd/guardd/internal/alert/webhooktest"
	"github.com/guardd/guardd/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	pathToken = "/hooks/guardd/Zq3x9TOKENv7Lm2"
	hmacKey   = "whsec-k8Jd2LqP0HMACSECRET"
)

func TestContract(t *testing.T) {
	receivertest.Run(t, func(t *testing.T, mode receivertest.Mode, log *zap.Logger) receivertest.Target {
		srv := webhooktest.New(t, mode, webhooktest.Config{Path: pathToken, RejectCode: http.StatusUnauthorized, Reject: `{"error":"bad signature"}`})
		u := srv.URL() + "?token=Q5QUERYSECRET"
		r := webhook.New(webhook.Options{URL: secret.New(u), Secret: secret.New(hmacKey),
			Client: &http.Client{Timeout: 5 * time.Second}, Log: log})
		return receivertest.Target{
			Notifier:   r,
			Secrets:    []string{u, pathToken, "Zq3x9TOKENv7Lm2", "Q5QUERYSECRET", hmacKey},
			Delivered:  srv.Delivered,
			RetryAfter: true,
			RejectHint: "check the URL and the signing secret",
		}
	})
}

func TestPayloadAndSignature(t *testing.T) {
	srv := webhooktest.New(t, receivertest.OK, webhooktest.Config{Path: "/in"})
	r := webhook.New(webhook.Options{URL: secret.New(srv.URL()), Secret: secret.New(hmacKey)})
	n := receivertest.ByRule("recharge-burst")
	rep := receivertest.Repeat(n)
	res := receivertest.Resolved(n)
	for _, x := range []alert.Notification{n, rep, res} {
		if ref, _, err := r.Send(t.Context(), x); err != nil || !ref.IsZero() {
			t.Fatalf("got ref %+v, error %v; want no ref, no error", ref, err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	for i, want := range []alert.Notification{n, rep, res} {
		req := reqs[i]
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("User-Agent") != "guardd" {
			t.Errorf("request %d: got %s with Content-Type %q, User-Agent %q; want a JSON POST from guardd",
				i, req.Method, req.Header.Get("Content-Type"), req.Header.Get("User-Agent"))
		}
		wantBody, _ := json.Marshal(alert.NewPayload(want))
		if !bytes.Equal(req.Body, wantBody) {
			t.Errorf("request %d: got body %s, want %s", i, req.Body, wantBody)
		}
		sig := req.Header.Get(webhook.SignatureHeader)
		if !strings.HasPrefix(sig, "sha256=") || !webhook.Verify(secret.New(hmacKey), req.Body, sig) {
			t.Errorf("request %d: got signature %q, want a valid sha256= HMAC of the body", i, sig)
		}
		if webhook.Verify(secret.New("other"), req.Body, sig) || webhook.Verify(secret.New(hmacKey), append(req.Body, ' '), sig) {
			t.Errorf("request %d: signature verifies with another key or body", i)
		}
		if got, want := req.Header.Get("X-Guardd-Fingerprint"), want.Finding.Fingerprint(); got != want {
			t.Errorf("request %d: got fingerprint header %q, want %q", i, got, want)
		}
	}
	var p struct {
		Version    int    `json:"version"`
		Status     string `json:"status"`
		Rule       string `json:"rule"`
		Repeat     bool   `json:"repeat"`
		ResolvedAt string `json:"resolved_at"`
	}
	if err := json.Unmarshal(reqs[2].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.Status != "resolved" || p.Rule != "recharge-burst" || p.ResolvedAt != "2026-10-14T09:00:00Z" {
		t.Errorf("got payload %+v, want version 1, resolved recharge-burst at 2026-10-14T09:00:00Z", p)
	}
	if err := json.Unmarshal(reqs[1].Body, &p); err != nil || !p.Repeat {
		t.Errorf("got repeat %t (error %v) for a repeat, want true", p.Repeat, err)
	}

	// Unsigned when no secret is set.
	srv2 := webhooktest.New(t, receivertest.OK, webhooktest.Config{Path: "/in"})
	if _, _, err := webhook.New(webhook.Options{URL: secret.New(srv2.URL())}).Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if got := srv2.Requests()[0].Header.Get(webhook.SignatureHeader); got != "" {
		t.Errorf("got signature %q without a secret, want none", got)
	}
}

// TestPayloadGolden documents the payload: one per status.
func TestPayloadGolden(t *testing.T) {
	n := receivertest.ByRule("recharge-burst")
	for name, n := range map[string]alert.Notification{"firing": n, "resolved": receivertest.Resolved(n)} {
		got, err := json.MarshalIndent(alert.NewPayload(n), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "recharge-burst-"+name+".json"), append(got, '\n'))
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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

func TestInvalidURL(t *testing.T) {
	r := webhook.New(webhook.Options{URL: secret.New("http://[::1]:namedport/" + pathToken)})
	_, retry, err := r.Send(t.Context(), receivertest.ByRule("runway-low"))
	if retry || err == nil || !strings.Contains(err.Error(), "the URL is not valid") || strings.Contains(err.Error(), pathToken) {
		t.Errorf("got retry %t, error %v; want false and an error that names no URL", retry, err)
	}
}
