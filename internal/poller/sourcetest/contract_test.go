package sourcetest_test

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/deepseek"
	"github.com/guardd/guardd/internal/poller/file"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/openrouter"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/poller/sourcetest"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/setting"
	"github.com/shopspring/decimal"
)

var now = time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)

func fixed() time.Time { return now }

func TestOpenAI(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		f := pollertest.NewOpenAI(t)
		f.SetClock(fixed)
		f.SetCost(now.AddDate(0, 0, -1), "1.25")
		f.SetGrants(pollertest.PurchaseGrant("cg_1", "10.00", now.AddDate(0, -1, 0)))
		opts, waits := sourcetest.HTTP()
		c, err := openai.New(openai.Options{
			BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), SessionKey: secret.New(f.SessionKey), HTTP: opts,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Subject{
			Source: c, Now: now,
			Reads:   []billing.Part{billing.PartCosts, billing.PartBalance, billing.PartGrants},
			Fault:   func(ft pollertest.Fault, n int) { f.SetFaultN("", ft, n) },
			Secrets: []string{f.AdminKey, f.SessionKey},
			Waits:   waits,
		}
	})
}

func TestOpenAICostsOnly(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		f := pollertest.NewOpenAI(t)
		f.SetClock(fixed)
		opts, waits := sourcetest.HTTP()
		c, err := openai.New(openai.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), HTTP: opts})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Subject{
			Source: c, Now: now,
			Reads:   []billing.Part{billing.PartCosts},
			Fault:   func(ft pollertest.Fault, n int) { f.SetFaultN("", ft, n) },
			Secrets: []string{f.AdminKey},
			Waits:   waits,
		}
	})
}

func TestAnthropic(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		f := pollertest.NewAnthropic(t)
		f.SetClock(fixed)
		f.SetCost(now.AddDate(0, 0, -1), "123.45", "40")
		opts, waits := sourcetest.HTTP()
		c, err := anthropic.New(anthropic.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), HTTP: opts})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Subject{
			Source: c, Now: now,
			Reads:   []billing.Part{billing.PartCosts},
			Fault:   func(ft pollertest.Fault, n int) { f.SetFaultN("", ft, n) },
			Secrets: []string{f.AdminKey},
			Waits:   waits,
		}
	})
}

func TestDeepSeek(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		f := pollertest.NewDeepSeek(t)
		opts, waits := sourcetest.HTTP()
		c, err := deepseek.New(deepseek.Options{BaseURL: f.URL(), APIKey: secret.New(f.APIKey), Currency: "CNY", HTTP: opts})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Subject{
			Source: c, Now: now,
			Reads:   []billing.Part{billing.PartBalance},
			Fault:   func(ft pollertest.Fault, n int) { f.SetFaultN("", ft, n) },
			Secrets: []string{f.APIKey},
			Waits:   waits,
		}
	})
}

func TestOpenRouter(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		f := pollertest.NewOpenRouter(t)
		opts, waits := sourcetest.HTTP()
		c, err := openrouter.New(openrouter.Options{BaseURL: f.URL(), ManagementKey: secret.New(f.Key), HTTP: opts})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Subject{
			Source: c, Now: now,
			Reads:   []billing.Part{billing.PartBalance, billing.PartCharges},
			Fault:   func(ft pollertest.Fault, n int) { f.SetFaultN("", ft, n) },
			Secrets: []string{f.Key},
			Waits:   waits,
		}
	})
}

func TestFile(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		var obs []billing.Observation
		for i := range 3 {
			at := now.Add(time.Duration(i) * time.Hour)
			obs = append(obs, billing.Observation{
				Account: "acme",
				At:      at,
				Parts:   map[billing.Part]billing.PartStatus{billing.PartBalance: {Source: "history.json", AsOf: at}},
				Balance: billing.Balance{Shown: billing.NewMoney(decimal.NewFromInt(10), "USD")},
			})
		}
		return sourcetest.Subject{
			Source: file.New("history.json", obs), Now: now,
			Reads: []billing.Part{billing.PartBalance},
		}
	})
}

// TestProbes runs the contract of poller.Prober against every source that
// reads a provider's API, with every key it takes.
func TestProbes(t *testing.T) {
	subject := func(cfg poller.Prober, keys int, fake interface {
		SetFault(pollertest.Fault)
		Close()
		Requests() []pollertest.Request
	}, secrets ...string) sourcetest.ProbeSubject {
		return sourcetest.ProbeSubject{Config: cfg, Account: billing.Account{Name: "acme", Currency: "CNY"}, Now: now, Keys: keys,
			Fault: fake.SetFault, Close: fake.Close, Requests: func() int { return len(fake.Requests()) }, Secrets: secrets}
	}
	t.Run("openai", func(t *testing.T) {
		sourcetest.RunProbe(t, func(t *testing.T) sourcetest.ProbeSubject {
			f := pollertest.NewOpenAI(t)
			f.SetClock(fixed)
			c := openai.Defaults()
			c.BaseURL, c.AdminKey.Value, c.SessionKey.Value = setting.URLOf(f.URL()), secret.New(f.AdminKey), secret.New(f.SessionKey)
			return subject(c, 2, f, f.AdminKey, f.SessionKey)
		})
	})
	t.Run("anthropic", func(t *testing.T) {
		sourcetest.RunProbe(t, func(t *testing.T) sourcetest.ProbeSubject {
			f := pollertest.NewAnthropic(t)
			f.SetClock(fixed)
			c := anthropic.Defaults()
			c.BaseURL, c.AdminKey.Value = setting.URLOf(f.URL()), secret.New(f.AdminKey)
			return subject(c, 1, f, f.AdminKey)
		})
	})
	t.Run("deepseek", func(t *testing.T) {
		sourcetest.RunProbe(t, func(t *testing.T) sourcetest.ProbeSubject {
			f := pollertest.NewDeepSeek(t)
			c := deepseek.Defaults()
			c.BaseURL, c.APIKey.Value = setting.URLOf(f.URL()), secret.New(f.APIKey)
			return subject(c, 1, f, f.APIKey)
		})
	})
	t.Run("openrouter", func(t *testing.T) {
		sourcetest.RunProbe(t, func(t *testing.T) sourcetest.ProbeSubject {
			f := pollertest.NewOpenRouter(t)
			c := openrouter.Defaults()
			c.BaseURL, c.ManagementKey.Value = setting.URLOf(f.URL()), secret.New(f.Key)
			return subject(c, 1, f, f.Key)
		})
	})
}
