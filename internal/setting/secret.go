package setting

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"unicode"

	"github.com/guardd/guardd/internal/secret"
)

// Secret is a credential the file names but never holds: a field tagged
// yaml:"admin_key" is written as admin_key_env (an environment variable
// holding it) or admin_key_file (a file holding it). Its Spec, set by the
// component's defaults, says what the secret is. Messages never quote the
// secret, nor anything that might be it.
type Secret struct {
	Value secret.Value
	// Env is the variable it was read from; File the file, as written.
	Env, File string
	Spec      *SecretSpec
	// Pos is the *_env or *_file setting it was read through.
	Pos
}

// SecretSpec describes one kind of secret.
type SecretSpec struct {
	// Noun names it in messages: "key", "URL", "token", "password".
	Noun string
	// What says what it is and where to get it: "an OpenAI admin key
	// (sk-admin-…), which reads the Costs API; …". Its part before the
	// first comma names it in a message about a missing secret.
	What string
	// Pasted reports whether a *_env or *_file value is most likely the
	// secret itself, pasted in the wrong place.
	Pasted func(s string) bool
	// Spaces allows white space inside (a password).
	Spaces bool
	// Check says what is wrong with a value ("not an http(s) URL"), or "".
	Check func(s string) string
}

// IsZero reports whether no secret was given. A secret given but not read
// (Decoder.Reads) is not zero, though its Value is.
func (s Secret) IsZero() bool { return s.Value.IsZero() && s.Env == "" && s.File == "" }

// From says where the secret was read from: "$OPENAI_ADMIN_KEY" or "file
// /etc/guardd/openai-admin-key".
func (s Secret) From() string {
	switch {
	case s.Env != "":
		return "$" + s.Env
	case s.File != "":
		return "file " + s.File
	}
	return "nowhere"
}

// Need reports a secret that is required but was not given: who ("an
// openai source", or "" for the block) needs key_env or key_file.
func (s *Secret) Need(p *Problems, who, key string) {
	if !s.IsZero() || s.IsSet() {
		return
	}
	what := s.Spec.What
	if i := strings.IndexByte(what, ','); i >= 0 {
		what = what[:i]
	}
	if who != "" {
		who += " "
	}
	p.Add("", "%sneeds %s_env or %s_file, naming where %s is kept", who, key, key, what)
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// read reads the secret through its *_env (file false) or *_file setting,
// whose value is name.
func (s *Secret) read(name string, file bool, d *Decoder) string {
	spec := s.Spec
	if spec == nil {
		spec = &SecretSpec{Noun: "secret", What: "the secret"}
	}
	noun := spec.Noun
	pasted := spec.Pasted != nil && spec.Pasted(name)
	var val, where string
	switch {
	case name == "":
		return "must not be empty"
	case !file && (pasted || !envNameRE.MatchString(name)):
		// Not quoted: it may be the secret itself.
		return "is not an environment variable name (it names the variable holding the " + noun + "; never put the " + noun + " itself in the file)"
	case file && pasted:
		// Not quoted: it is most likely the secret itself.
		return "must be the path of a file holding the " + noun + ", not the " + noun + " itself"
	case d.Reads != nil && !d.Reads(s.Pos.Path):
		// Not needed: where it is kept is all there is to say.
		if file {
			s.File = name
		} else {
			s.Env = name
		}
		return ""
	case !file:
		v, ok := d.Getenv(name)
		if val = strings.TrimSpace(v); !ok || val == "" {
			return "environment variable " + name + " is not set; it must hold " + spec.What
		}
		where = "the value of " + name + " is "
	default:
		data, err := os.ReadFile(d.Resolve(name))
		if err != nil {
			op := "read"
			if pe, ok := errors.AsType[*fs.PathError](err); ok {
				op = pe.Op
			}
			return PathError(op, name, err)
		}
		if val = strings.TrimSpace(string(data)); val == "" {
			return "file " + name + " is empty; it must hold " + spec.What
		}
		where = "the contents of " + name + " are "
	}
	if spec.Check != nil {
		if msg := spec.Check(val); msg != "" {
			return where + msg
		}
	}
	if !spec.Spaces && !IsKey(val) {
		if file {
			return where + "not a " + noun + ": they have white space or control characters inside"
		}
		return where + "not a " + noun + ": it has white space or control characters inside"
	}
	s.Value = secret.New(val)
	if file {
		s.File = name
	} else {
		s.Env = name
	}
	return ""
}

// IsKey reports whether s can be a key: printable, without white space.
func IsKey(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// PathError renders a file error with the path as the user wrote it, not as
// resolved: "open examples/nope.json: no such file or directory".
func PathError(op, written string, err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return op + " " + written + ": " + pe.Err.Error()
	}
	return err.Error()
}

// RequireTLS reports a secret URL (a webhook's) with plain http to another
// machine: the URL itself, a credential, and what (such as "the alerts")
// would cross the network unencrypted. The message names where the URL was
// read from, never the URL.
func (s *Secret) RequireTLS(p *Problems, what string) {
	u, err := url.Parse(s.Value.Reveal())
	if s.IsZero() || err != nil || u.Scheme != "http" || IsLoopback(u.Hostname()) {
		return
	}
	p.At(s.Pos, "%s holds a plain http URL: it, a credential, and %s would cross the network unencrypted; "+
		"use https (http is allowed only for this machine, such as http://127.0.0.1:8080)", s.From(), what)
}

// URLSpec describes a secret that is a URL (a webhook's URL is itself the
// credential): what says what it is.
func URLSpec(what string) *SecretSpec {
	return &SecretSpec{Noun: "URL", What: what,
		Pasted: func(s string) bool { return strings.Contains(s, "://") },
		Check: func(s string) string {
			if !IsHTTPURL(s) {
				return "not an http(s) URL"
			}
			return ""
		}}
}
