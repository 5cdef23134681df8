package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/secret"
)

const pathToken = "/hooks/guardd/Zq3x9TOKENv7Lm2"

func TestPostJSONAnswers(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantRetry  bool
		wantErr    string
		wantWait   time.Duration
		wantStatus bool
	}{
		{
			name: "retry-after as an http date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantRetry: true, wantErr: "the webhook answered 429 Too Many Requests: retry after", wantStatus: true,
		},
		{
			name:       "redirect is not followed",
			handler:    func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
			wantErr:    "the webhook answered 302 Found: it redirects; configure the URL it redirects to",
			wantStatus: true,
		},
		{
			name:       "gone",
			handler:    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such hook", http.StatusGone) },
			wantErr:    "the webhook answered 410 Gone (no such hook): the URL is wrong or no longer exists",
			wantStatus: true,
		},
		{
			name:      "request timeout",
			handler:   func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusRequestTimeout) },
			wantRetry: true, wantErr: "the webhook answered 408 Request Timeout", wantStatus: true,
		},
		{
			name: "body echoes the secret",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "unknown hook "+r.URL.Path, http.StatusNotFound)
			},
			wantErr:    "the webhook answered 404 Not Found (unknown hook <secret>)",
			wantStatus: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			u := srv.URL + pathToken
			_, retry, err := PostJSON(t.Context(), nil, JSONRequest{Service: "the webhook", URL: u,
				Body: []byte(`{}`), Hide: URLSecrets(secret.New(u)), Hint: func(code int) string {
					if code == http.StatusGone || code == http.StatusNotFound {
						return "the URL is wrong or no longer exists"
					}
					return ""
				}})
			if retry != tt.wantRetry {
				t.Errorf("got retry %t, want %t", retry, tt.wantRetry)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			var se *StatusError
			if got := errors.As(err, &se); got != tt.wantStatus {
				t.Errorf("got errors.As(*StatusError) %t, want %t", got, tt.wantStatus)
			}
			if strings.Contains(err.Error(), pathToken) {
				t.Errorf("got error %q with the secret path", err)
			}
		})
	}
}
