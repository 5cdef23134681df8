package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	testVersion  = "v1.2.3-test"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
	testEpoch    = "1700000000"
)

// TestImage builds the image the documented way (the guardd binary included,
// built offline from this module) into a temporary directory, as an OCI
// layout and as a docker tarball, and inspects both.
func TestImage(t *testing.T) {
	if _, err := os.Stat(DefaultCABundle); err != nil {
		t.Fatalf("the image includes the CA bundle %s, which is missing here (%v): run .ci/run, which installs ca-certificates", DefaultCABundle, err)
	}
	dir := t.TempDir()
	ociDir, tarPath := filepath.Join(dir, "oci"), filepath.Join(dir, "guardd.tar")
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return testEpoch
		}
		return ""
	}
	args := []string{"--version", testVersion, "--revision", testRevision, "--oci", ociDir, "--tar", tarPath}
	// Each step of the build shows in go test -v as it starts: cold, the
	// go build alone takes minutes.
	start := time.Now()
	progress := logWriter{t: t, start: start, w: &out}
	if err := run(context.Background(), args, getenv, progress); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, out.Bytes())
	}
	t.Logf("%5.1fs checking the OCI layout and the tarball", time.Since(start).Seconds())

	fromLayout := layoutImage(t, ociDir, testVersion)
	files := readLayer(t, fromLayout)
	tag, err := name.NewTag("guardd:" + testVersion)
	if err != nil {
		t.Fatal(err)
	}
	fromTar, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("read docker tarball: %v", err)
	}
	// A docker tarball keeps the config and the layers, not the manifest
	// (so not its annotations): those must be the same.
	if got, want := configDigest(t, fromTar), configDigest(t, fromLayout); got != want {
		t.Errorf("tarball image config %s, OCI layout image config %s: want the same", got, want)
	}
	if got, want := readLayer(t, fromTar)["guardd"].body, files["guardd"].body; !bytes.Equal(got, want) {
		t.Errorf("tarball and OCI layout hold different /guardd binaries")
	}

	checkConfig(t, fromTar)
	checkConfig(t, fromLayout)
	checkAnnotations(t, fromLayout)
	checkFiles(t, files)

	// The empty base has no /usr/share/zoneinfo: the binary carries its own.
	if !bytes.Contains(files["guardd"].body, []byte("Europe/Berlin")) {
		t.Errorf("/guardd embeds no time zone database: build it with -tags timetzdata")
	}

	// The binary runs, is static and carries the version.
	t.Logf("%5.1fs running /guardd version from the image", time.Since(start).Seconds())
	bin := filepath.Join(dir, "guardd")
	if err := os.WriteFile(bin, files["guardd"].body, 0o755); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		got, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("guardd version from the image: %v\n%s", err, got)
		}
		if !strings.HasPrefix(string(got), "guardd "+testVersion) {
			t.Errorf("guardd version from the image: got %q, want it to start with %q", got, "guardd "+testVersion)
		}
	}

	// The same binary and options give the same image, byte for byte.
	t.Logf("%5.1fs assembling the image again from the same binary", time.Since(start).Seconds())
	o := options{Version: testVersion, Revision: testRevision, Source: "https://github.com/guardd/guardd",
		Arch: runtime.GOARCH, CABundle: DefaultCABundle, Created: time.Unix(1700000000, 0).UTC(), Tag: tag.String()}
	again, err := assemble(bin, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digest(t, again), digest(t, fromLayout); got != want {
		t.Errorf("rebuilt from the same binary: digest %s, want %s (the build is not reproducible)", got, want)
	}
}

// logWriter logs each line written, with the time since start, and keeps
// it in w for the failure message.
type logWriter struct {
	t     *testing.T
	start time.Time
	w     *bytes.Buffer
}

func (l logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Logf("%5.1fs %s", time.Since(l.start).Seconds(), line)
	}
	return l.w.Write(p)
}

func layoutImage(t *testing.T, dir, refName string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read OCI layout: %v", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("OCI layout index: got %d manifests, want 1", len(m.Manifests))
	}
	d := m.Manifests[0]
	if got := d.Annotations[refNameKey]; got != refName {
		t.Errorf("OCI layout %s: got %q, want %q", refNameKey, got, refName)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func configDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func checkConfig(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/guardd"}) {
		t.Errorf("entrypoint: got %q, want [/guardd]", c.Entrypoint)
	}
	if c.User != "65532:65532" {
		t.Errorf("user: got %q, want 65532:65532 (non-root)", c.User)
	}
	if !slices.Equal(c.Cmd, []string{"run", "--config", "/etc/guardd/config.yaml"}) {
		t.Errorf("cmd: got %q, want [run --config /etc/guardd/config.yaml]", c.Cmd)
	}
	if _, ok := c.ExposedPorts["9464/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports: got %v, want only 9464/tcp", c.ExposedPorts)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform: got %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if want := time.Unix(1700000000, 0).UTC(); !cf.Created.Time.Equal(want) {
		t.Errorf("created: got %v, want %v (SOURCE_DATE_EPOCH)", cf.Created.Time, want)
	}
	for k, want := range wantMeta() {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s: got %q, want %q", k, got, want)
		}
	}
}

func checkAnnotations(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range wantMeta() {
		if got := m.Annotations[k]; got != want {
			t.Errorf("manifest annotation %s: got %q, want %q", k, got, want)
		}
	}
}

func wantMeta() map[string]string {
	return map[string]string{
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testRevision,
		"org.opencontainers.image.source":   "https://github.com/guardd/guardd",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	}
}

type file struct {
	hdr  *tar.Header
	body []byte
}

// readLayer reads the image's single layer.
func readLayer(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1 (no base image)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = file{h, b}
	}
	return files
}

// checkFiles wants exactly the binary and the CA bundle (and its
// directories): no shell, no package manager, nothing else to exec.
func checkFiles(t *testing.T, files map[string]file) {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt", "guardd"}
	if !slices.Equal(names, want) {
		t.Errorf("files in the image: got %q, want exactly %q", names, want)
	}
	for _, sh := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
		if _, ok := files[sh]; ok {
			t.Errorf("the image holds a shell: /%s", sh)
		}
	}
	for n, f := range files {
		if f.hdr.Uid != 0 || f.hdr.Gid != 0 {
			t.Errorf("/%s owned by %d:%d, want root (the guardd user must not be able to change it)", n, f.hdr.Uid, f.hdr.Gid)
		}
		if n != "guardd" && f.hdr.Typeflag == tar.TypeReg && f.hdr.Mode&0o111 != 0 {
			t.Errorf("/%s is executable (mode %o): want only /guardd", n, f.hdr.Mode)
		}
	}
	g, ok := files["guardd"]
	if !ok {
		return
	}
	if g.hdr.Typeflag != tar.TypeReg || g.hdr.Mode&0o555 != 0o555 || g.hdr.Mode&0o222 != 0 {
		t.Errorf("/guardd: type %c mode %o, want a read-only executable regular file", g.hdr.Typeflag, g.hdr.Mode)
	}
	f, err := elf.NewFile(bytes.NewReader(g.body))
	if err != nil {
		t.Fatalf("/guardd is not an ELF executable: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("/guardd is dynamically linked; the empty base has no loader")
		}
	}
}

func TestRunErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"no output", []string{"--version", "v1"}, noEnv, "nothing to write"},
		{"bad tag", []string{"--tar", "x.tar", "--tag", "Not A Tag"}, noEnv, "--tag"},
		{"bad epoch", []string{"--tar", "x.tar"}, func(k string) string { return "yesterday" }, "SOURCE_DATE_EPOCH"},
		{"stray argument", []string{"--tar", "x.tar", "extra"}, noEnv, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, tt.env, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q): got %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic([]byte("#!/bin/sh\necho hi\n"), "amd64"); err == nil {
		t.Error("checkStatic(a shell script): got nil, want an error")
	}
	// A dynamically linked system binary, where there is one.
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			continue
		}
		dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if dynamic {
			if err := checkStatic(b, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
				t.Errorf("checkStatic(%s): got %v, want a dynamically linked error", p, err)
			}
			return
		}
	}
}
