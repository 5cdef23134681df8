package main

import (
	"errors"
	"flag"
	"os/user"
	"time"

	"github.com/guardd/guardd/internal/setting"
)

// durationFlag defines a duration flag read as the config reads durations
// (setting.ParseDuration): Go's syntax plus days, so that --for 2d and
// --for 1d12h work. A wrong value's error gives the default as an example
// of one that works.
func durationFlag(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	d := def
	v := &durationValue{d: &d}
	if def > 0 {
		v.example = setting.FormatDuration(def)
	}
	fs.Var(v, name, usage)
	return &d
}

type durationValue struct {
	d       *time.Duration
	example string
}

func (v *durationValue) Set(s string) error {
	d, err := setting.ParseDuration(s, v.example)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v *durationValue) String() string {
	if v == nil || v.d == nil {
		return setting.FormatDuration(0)
	}
	return setting.FormatDuration(*v.d)
}

// byDefault says, in a flag's help, what --by defaults to.
const byDefault = "default: $USER, else $LOGNAME, else your login name"

// whoAmI is the name --by defaults to: $USER, else $LOGNAME, else the
// login name of the account guardd runs as (current: user.Current). It
// never returns an empty name without an error.
func whoAmI(getenv getenvFunc, current func() (*user.User, error)) (string, error) {
	for _, v := range []string{"USER", "LOGNAME"} {
		if name, _ := getenv(v); name != "" {
			return name, nil
		}
	}
	if u, err := current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	return "", errors.New("cannot tell who you are ($USER and $LOGNAME are unset and the account has no name): give --by NAME")
}
