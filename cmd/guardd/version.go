package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/guardd/guardd/internal/metrics"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// build identifies this binary: its version, and the VCS revision and Go
// version it was built from.
func build() metrics.Build {
	b := metrics.Build{Version: version}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	return b
}

func cmdVersion(stdout io.Writer) error {
	b := build()
	rev := ""
	if b.Revision != "" {
		rev = " " + b.Revision
	}
	_, err := fmt.Fprintf(stdout, "guardd %s%s (%s)\n", b.Version, rev, b.GoVersion)
	return err
}
