// Command image builds guardd's container image without a Docker engine: a
// static guardd binary (CGO_ENABLED=0, -trimpath, version stamped in) as
// /guardd, plus a CA bundle so that HTTPS to the providers and Slack works,
// on an empty base. It runs as user 65532 and holds no shell. The image is
// written as an OCI image layout (for skopeo, crane or `podman load`) and/or
// as a tarball that `docker load` and `kind load image-archive` read.
//
// Run it from the repository:
//
//	go run ./deploy/image --oci build/oci --tar build/guardd.tar
//
// docs/deploy.md shows how to push the result to a registry.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it runs.
const (
	pkgPath     = "github.com/guardd/guardd/cmd/guardd"
	entrypoint  = "/guardd"
	user        = "65532:65532"
	caPath      = "etc/ssl/certs/ca-certificates.crt"
	metricsPort = "9464/tcp"
	// refNameKey names an image inside an OCI layout (skopeo's oci:DIR:NAME).
	refNameKey = "org.opencontainers.image.ref.name"
)

// DefaultCABundle is Debian's (and Ubuntu's, Alpine's) CA bundle; Go reads
// the same path inside the image.
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// options says what to build and where to write it.
type options struct {
	Version  string // stamped into the binary (main.version) and the image
	Revision string // VCS revision for the image's annotations; may be empty
	Source   string // org.opencontainers.image.source
	Arch     string // GOARCH of the binary and the image
	Binary   string // a prebuilt static binary; empty means build pkgPath
	CABundle string // PEM bundle copied to /etc/ssl/certs; empty means none
	Created  time.Time
	OCIDir   string // write an OCI image layout here, if set
	Tarball  string // write a docker-loadable tarball here, if set
	Tag      string // the image's name in the tarball and the layout
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.Version, "version", "", `version stamped into the binary and the image (default: "git describe --tags --always --dirty", or "dev")`)
	fs.StringVar(&o.Revision, "revision", "", `VCS revision for the image annotations (default: "git rev-parse HEAD", if available)`)
	fs.StringVar(&o.Source, "source", "https://github.com/guardd/guardd", "source repository URL for the image annotations")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH to build for (amd64, arm64, …)")
	fs.StringVar(&o.Binary, "binary", "", "put this prebuilt static binary in the image instead of building "+pkgPath)
	fs.StringVar(&o.CABundle, "ca-certs", DefaultCABundle, `PEM CA bundle to include ("" for none: HTTPS will then fail)`)
	fs.StringVar(&o.OCIDir, "oci", "", "write an OCI image layout to this directory")
	fs.StringVar(&o.Tarball, "tar", "", "write a docker-loadable tarball to this file")
	fs.StringVar(&o.Tag, "tag", "", `image reference in the tarball and layout (default "guardd:VERSION")`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./deploy/image [--version V] [--oci DIR] [--tar FILE] [flags]\n\n"+
			"Builds guardd's image (static /guardd on an empty base, user 65532, no shell) without a\n"+
			"Docker engine. SOURCE_DATE_EPOCH, if set, is the image's creation time (default: 1970).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.OCIDir == "" && o.Tarball == "" {
		return errors.New("nothing to write: give --oci DIR and/or --tar FILE")
	}
	if o.Version == "" {
		o.Version = gitOutput(ctx, "describe", "--tags", "--always", "--dirty")
		if o.Version == "" {
			o.Version = "dev"
		}
	}
	if o.Revision == "" {
		o.Revision = gitOutput(ctx, "rev-parse", "HEAD")
	}
	if o.Tag == "" {
		o.Tag = "guardd:" + o.Version
	}
	o.Created = time.Unix(0, 0).UTC()
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: want seconds since 1970, got %q", s)
		}
		o.Created = time.Unix(sec, 0).UTC()
	}
	img, err := build(ctx, o, stderr)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "built %s %s (linux/%s)\n", o.Tag, d, o.Arch)
	return nil
}

// build builds (or reads) the binary, assembles the image and writes it
// where o says, saying on progress what it is doing: the build alone takes
// minutes on a cold build cache.
func build(ctx context.Context, o options, progress io.Writer) (v1.Image, error) {
	ref, err := name.NewTag(o.Tag)
	if err != nil {
		return nil, fmt.Errorf("--tag: %w", err)
	}
	bin := o.Binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "guardd-image-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "guardd")
		fmt.Fprintf(progress, "building %s for linux/%s (static, -trimpath, time zones embedded; minutes on a cold build cache)\n", pkgPath, o.Arch)
		if err := goBuild(ctx, bin, o.Version, o.Arch); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(progress, "assembling the image: %s and the CA bundle in one layer\n", entrypoint)
	img, err := assemble(bin, o)
	if err != nil {
		return nil, err
	}
	if o.OCIDir != "" {
		fmt.Fprintf(progress, "writing the OCI layout %s\n", o.OCIDir)
		if err := writeLayout(o.OCIDir, ref, img); err != nil {
			return nil, fmt.Errorf("write OCI layout %s: %w", o.OCIDir, err)
		}
	}
	if o.Tarball != "" {
		fmt.Fprintf(progress, "writing the tarball %s\n", o.Tarball)
		if err := tarball.WriteToFile(o.Tarball, ref, img); err != nil {
			return nil, fmt.Errorf("write tarball %s: %w", o.Tarball, err)
		}
	}
	return img, nil
}

// goBuild builds a static guardd for linux/arch into out. The timetzdata tag
// embeds the time zone database (about 450 kB), which the empty base lacks,
// so that a "CRON_TZ=Europe/Berlin …" schedule works in the image.
func goBuild(ctx context.Context, out, version, arch string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "timetzdata",
		"-ldflags", "-s -w -X main.version="+version, "-o", out, pkgPath)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkgPath, err, stderr.Bytes())
	}
	return nil
}

// assemble makes the image from the binary at bin: one layer holding
// /guardd and the CA bundle, the config and the annotations.
func assemble(bin string, o options) (v1.Image, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(exe, o.Arch); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	var ca []byte
	if o.CABundle != "" {
		if ca, err = os.ReadFile(o.CABundle); err != nil {
			return nil, fmt.Errorf("read CA bundle (--ca-certs): %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", o.CABundle)
		}
	}
	layerTar, err := layerFiles(exe, ca, o.Created)
	if err != nil {
		return nil, err
	}
	// Compressed once here: given the plain tar, the layer would compress it
	// again for its digest, for each file written and for each read.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(layerTar); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: o.Created},
			CreatedBy: "go run ./deploy/image (static guardd and CA bundle on an empty base)",
			Comment:   "guardd " + o.Version,
		},
	})
	if err != nil {
		return nil, err
	}

	labels := map[string]string{
		"org.opencontainers.image.title":       "guardd",
		"org.opencontainers.image.description": "watches prepaid LLM API billing and alerts on anomalies",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
	}
	if o.Revision != "" {
		labels["org.opencontainers.image.revision"] = o.Revision
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		Entrypoint:   []string{entrypoint},
		Cmd:          []string{"run", "--config", "/etc/guardd/config.yaml"},
		User:         user,
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{metricsPort: {}},
		Labels:       labels,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	img, ok := mutate.Annotations(img, labels).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the image lost its type")
	}
	return img, nil
}

// checkStatic makes sure exe is a statically linked ELF for linux/arch: on an
// empty base there is no dynamic loader and no libc.
func checkStatic(exe []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(exe))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386,
		"arm": elf.EM_ARM, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}
	if m, ok := want[arch]; ok && f.Machine != m {
		return fmt.Errorf("built for %v, want %s", f.Machine, arch)
	}
	return nil
}

// layerFiles is the image's only layer, as an uncompressed tar: /guardd and,
// if ca is not empty, /etc/ssl/certs/ca-certificates.crt. Owners are root and
// every time is mtime, so the same inputs give the same digest.
func layerFiles(exe, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Uname, h.Gname, h.Format = mtime, "root", "root", tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(entrypoint, "/"), Mode: 0o555, Size: int64(len(exe))}, exe); err != nil {
		return nil, err
	}
	if len(ca) > 0 {
		for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
			if err := add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil); err != nil {
				return nil, err
			}
		}
		if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: caPath, Mode: 0o444, Size: int64(len(ca))}, ca); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout adds img to the OCI layout at dir under ref's tag, creating
// the layout if needed and replacing an image of the same tag.
func writeLayout(dir string, ref name.Tag, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return err
		}
	}
	return p.ReplaceImage(img, match.Annotation(refNameKey, ref.TagStr()),
		layout.WithAnnotations(map[string]string{refNameKey: ref.TagStr()}))
}

// gitOutput runs git with args and returns its trimmed output, or "" if git
// is missing or fails (a source tarball, say).
func gitOutput(ctx context.Context, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
