package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
)

const wantSources = "want file, openai, anthropic, deepseek or openrouter"

// apiSource describes a source type that reads a provider's API.
type apiSource struct {
	// provider is the provider's name in prose.
	provider string
	baseURL  string
	// costs: the source reads daily costs, so cost_lookback applies.
	costs bool
	creds []credential
}

// credential is one key a source type takes, as <key>_env or <key>_file.
type credential struct {
	key      string
	required bool
	// what says what the key is, what it reads and where to get it.
	what string
	// get picks the key's two settings from the file and where it goes in
	// the Source.
	get func(*fileSource) (env, file scalar)
	dst func(*Source) *Credential
}

var (
	adminKey = func(what string) credential {
		return credential{key: "admin_key", required: true, what: what,
			get: func(f *fileSource) (scalar, scalar) { return f.AdminKeyEnv, f.AdminKeyFile },
			dst: func(s *Source) *Credential { return &s.AdminKey }}
	}
	apiSources = map[string]apiSource{
		SourceOpenAI: {provider: "OpenAI", baseURL: "https://api.openai.com", costs: true, creds: []credential{
			adminKey("an OpenAI admin key (sk-admin-…), which reads the Costs API; an organization owner creates one in the organization settings under Admin keys"),
			{key: "session_key", what: "a browser session key (sess-…), which reads the credit grants and the balance; " +
				"copy it from the Authorization header of a request to api.openai.com in the browser's network tab while signed in to platform.openai.com",
				get: func(f *fileSource) (scalar, scalar) { return f.SessionKeyEnv, f.SessionKeyFile },
				dst: func(s *Source) *Credential { return &s.SessionKey }},
		}},
		SourceAnthropic: {provider: "Anthropic", baseURL: "https://api.anthropic.com", costs: true, creds: []credential{
			adminKey("an Anthropic Admin API key (sk-ant-admin…), which reads the cost report; an organization admin creates one in the Console under Settings, Admin keys"),
		}},
		SourceDeepSeek: {provider: "DeepSeek", baseURL: "https://api.deepseek.com", creds: []credential{
			{key: "api_key", required: true, what: "a DeepSeek API key (sk-…), which reads the balance; create one on platform.deepseek.com under API keys",
				get: func(f *fileSource) (scalar, scalar) { return f.APIKeyEnv, f.APIKeyFile },
				dst: func(s *Source) *Credential { return &s.APIKey }},
		}},
		SourceOpenRouter: {provider: "OpenRouter", baseURL: "https://openrouter.ai", creds: []credential{
			{key: "management_key", required: true, what: "an OpenRouter management key (sk-or-v1-…), which reads the credits; create one in OpenRouter's settings under Management keys",
				get: func(f *fileSource) (scalar, scalar) { return f.ManagementKeyEnv, f.ManagementKeyFile },
				dst: func(s *Source) *Credential { return &s.ManagementKey }},
		}},
	}
	// sourceTypeOrder lists the API source types in the order messages name
	// them.
	sourceTypeOrder = []string{SourceOpenAI, SourceAnthropic, SourceDeepSeek, SourceOpenRouter}
)

// article is "a" or "an" before a source type.
func article(typ string) string {
	if typ != "" && strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an"
	}
	return "a"
}

// DefaultBaseURL returns the base URL of a source type's API ("" for file
// or an unknown type).
func DefaultBaseURL(sourceType string) string { return apiSources[sourceType].baseURL }

// source checks an account's source section. a holds what was read of the
// account so far (its provider and currency, if valid).
func (v *validator) source(fsrc *fileSource, a *billing.Account, add func(rel, format string, args ...any)) Source {
	var s Source
	typ := fsrc.Type.text
	spec, isAPI := apiSources[typ]
	switch {
	case !fsrc.Type.set:
		add("source.type", "is required (%s)", wantSources)
		return s
	case typ != SourceFile && !isAPI:
		add("source.type", "unknown source type %q (%s)", typ, wantSources)
		return s
	}
	s.Type = typ
	v.onlyFor(fsrc, typ, add)

	if typ == SourceFile {
		v.filePath(fsrc, &s, add)
		return s
	}

	if slices.Contains(providers, a.Provider) && a.Provider != typ {
		add("source.type", "%s %s source reads %s's API, but the account's provider is %q (only a file source may serve another provider)",
			article(typ), typ, spec.provider, a.Provider)
	}
	if a.Currency != "" && a.Currency != "USD" && typ != SourceDeepSeek {
		add("currency", "%s reports amounts in USD, so an account with %s %s source must be in USD (got %s)",
			spec.provider, article(typ), typ, a.Currency)
	}

	s.BaseURL = spec.baseURL
	if b := fsrc.BaseURL; b.set {
		if u, ok := checkBaseURL(b.text, spec.baseURL, add); ok {
			s.BaseURL = u
		}
	}
	for _, c := range spec.creds {
		env, file := c.get(fsrc)
		*c.dst(&s) = v.credential(typ, c, env, file, add)
	}

	s.Timeout, s.MaxRequests = DefaultSourceTimeout, DefaultMaxRequests
	durationAt(fsrc.Timeout, "source.timeout", &s.Timeout, add)
	setCount(fsrc.MaxRequests, "source.max_requests", 1, 1000, &s.MaxRequests, add)
	if spec.costs {
		s.CostLookback = DefaultCostLookback
		durationAt(fsrc.CostLookback, "source.cost_lookback", &s.CostLookback, add)
	}
	return s
}

// onlyFor reports each setting given that the source type does not take.
func (v *validator) onlyFor(f *fileSource, typ string, add func(rel, format string, args ...any)) {
	apiTypes := "openai, anthropic, deepseek and openrouter sources"
	costTypes := "openai and anthropic sources"
	type setting struct {
		key   string
		s     scalar
		where string // the types that take it, in words
		takes bool
	}
	_, isAPI := apiSources[typ]
	settings := []setting{
		{"path", f.Path, "file sources", typ == SourceFile},
		{"base_url", f.BaseURL, apiTypes, isAPI},
		{"timeout", f.Timeout, apiTypes, isAPI},
		{"max_requests", f.MaxRequests, apiTypes, isAPI},
		{"cost_lookback", f.CostLookback, costTypes, apiSources[typ].costs},
	}
	// Each credential setting, with the types that take it.
	for _, key := range []string{"admin_key", "session_key", "api_key", "management_key"} {
		var types []string
		var env, file scalar
		takes := false
		for _, t := range sourceTypeOrder {
			for _, c := range apiSources[t].creds {
				if c.key == key {
					types = append(types, t)
					env, file = c.get(f)
					takes = takes || t == typ
				}
			}
		}
		where := strings.Join(types, " and ") + " sources"
		settings = append(settings, setting{key + "_env", env, where, takes}, setting{key + "_file", file, where, takes})
	}
	for _, st := range settings {
		if st.s.set && !st.takes {
			add("source."+st.key, "only applies to %s, not to %s %s source", st.where, article(typ), typ)
		}
	}
}

// filePath checks a file source's path.
func (v *validator) filePath(fsrc *fileSource, s *Source, add func(rel, format string, args ...any)) {
	if !fsrc.Path.set || fsrc.Path.text == "" {
		add("source.path", "is required for a file source")
		return
	}
	s.Path = v.resolve(fsrc.Path.text)
	// Stat, not open: the file is only checked here, and opening a FIFO
	// would block.
	if fi, err := os.Stat(s.Path); err != nil {
		add("source.path", "%s", pathError("open", fsrc.Path.text, err))
	} else if fi.IsDir() {
		add("source.path", "%s is a directory, want a file", fsrc.Path.text)
	}
}

// checkBaseURL checks a base_url: an absolute URL, https unless the host is
// this machine (keys must not cross a network in clear text), with no
// credentials, query or fragment. It returns the URL without a trailing
// slash.
func checkBaseURL(text, example string, add func(rel, format string, args ...any)) (string, bool) {
	const rel = "source.base_url"
	u, err := url.Parse(strings.TrimSpace(text))
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		if strings.Contains(text, "@") {
			// Not quoted: it may hold a password.
			add(rel, "is not an absolute http(s) URL such as %s", example)
		} else {
			add(rel, "invalid URL %q (want an absolute http(s) URL such as %s)", text, example)
		}
		return "", false
	case u.User != nil:
		add(rel, "must not hold credentials (user:password@): name the key in the source's *_env or *_file setting")
		return "", false
	case u.RawQuery != "" || u.Fragment != "":
		add(rel, "must not have a query or fragment (got %q)", text)
		return "", false
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		add(rel, "plain http would send the key unencrypted; use https (http is allowed only for this machine, such as http://127.0.0.1:8080)")
		return "", false
	}
	return strings.TrimSuffix(u.String(), "/"), true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// credential reads one key of a source from the environment or a file. Its
// messages say what the key is and where to get it, never what it holds.
func (v *validator) credential(typ string, c credential, env, file scalar, add func(rel, format string, args ...any)) Credential {
	envKey, fileKey := c.key+"_env", c.key+"_file"
	switch {
	case env.set && file.set:
		add("source", "set only one of %s and %s", envKey, fileKey)
	case env.set:
		return v.keyFromEnv(env.text, c, func(format string, args ...any) { add("source."+envKey, format, args...) })
	case file.set:
		return v.keyFromFile(file.text, c, func(format string, args ...any) { add("source."+fileKey, format, args...) })
	case c.required:
		add("source", "%s %s source needs %s or %s, naming where %s is kept",
			article(typ), typ, envKey, fileKey, strings.SplitN(c.what, ",", 2)[0])
	}
	return Credential{}
}

func (v *validator) keyFromEnv(name string, c credential, fail func(format string, args ...any)) Credential {
	switch {
	case name == "":
		fail("must not be empty")
		return Credential{}
	case !envNameRE.MatchString(name):
		// Not quoted: it may be the key itself, pasted in the wrong place.
		fail("is not an environment variable name (it names the variable holding the key; never put the key itself in the file)")
		return Credential{}
	}
	val, ok := v.getenv(name)
	val = strings.TrimSpace(val)
	if !ok || val == "" {
		fail("environment variable %s is not set; it must hold %s", name, c.what)
		return Credential{}
	}
	if !isKey(val) {
		fail("the value of %s is not a key: it has white space or control characters inside", name)
		return Credential{}
	}
	return Credential{Value: secret.New(val), Env: name}
}

func (v *validator) keyFromFile(path string, c credential, fail func(format string, args ...any)) Credential {
	switch {
	case path == "":
		fail("must not be empty")
		return Credential{}
	case looksLikeKey(path):
		// Not quoted: it is most likely the key itself.
		fail("must be the path of a file holding the key, not the key itself")
		return Credential{}
	}
	data, err := os.ReadFile(v.resolve(path))
	if err != nil {
		op := "read"
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			op = pe.Op
		}
		fail("%s", pathError(op, path, err))
		return Credential{}
	}
	val := strings.TrimSpace(string(data))
	switch {
	case val == "":
		fail("file %s is empty; it must hold %s", path, c.what)
		return Credential{}
	case !isKey(val):
		fail("the contents of %s are not a key: they have white space or control characters inside", path)
		return Credential{}
	}
	return Credential{Value: secret.New(val), File: path}
}

// looksLikeKey reports whether s starts like a provider key.
func looksLikeKey(s string) bool {
	for _, p := range []string{"sk-", "sess-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isKey reports whether s can be a key: printable, without white space.
func isKey(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// durationAt sets *dst from s if s is set and is a positive Go duration.
func durationAt(s scalar, rel string, dst *time.Duration, add reporter) {
	setDuration(s, rel, `"30s" or "168h"`, dst, add)
}

// Describe says where the source reads from and with which credentials,
// never showing a credential: "file examples/x.json", or "openai at
// https://api.openai.com: admin key from $OPENAI_ADMIN_KEY (costs); no
// session key, so no grants or balance".
func (s Source) Describe() string {
	if s.Type == SourceFile {
		return "file " + s.Path
	}
	spec, ok := apiSources[s.Type]
	if !ok {
		return s.Type
	}
	var parts []string
	for _, c := range spec.creds {
		cred := *c.dst(&s)
		name := strings.ReplaceAll(c.key, "_", " ")
		switch {
		case !cred.IsZero():
			parts = append(parts, fmt.Sprintf("%s from %s", name, cred.From()))
		case c.key == "session_key":
			parts = append(parts, "no session key, so no grants or balance")
		default:
			parts = append(parts, "no "+name)
		}
	}
	return fmt.Sprintf("%s at %s: %s", s.Type, s.BaseURL, strings.Join(parts, "; "))
}
