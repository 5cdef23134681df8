package examples_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardd/guardd/internal/examples"
	"github.com/guardd/guardd/internal/history"
)

var update = flag.Bool("update", false, "rewrite the files under examples/")

// TestExamplesAreGenerated fails when a committed example differs from what
// the generator builds, so nobody hand-edits one by accident.
func TestExamplesAreGenerated(t *testing.T) {
	for _, ex := range examples.All() {
		t.Run(ex.File, func(t *testing.T) {
			var buf bytes.Buffer
			if err := history.Encode(&buf, ex.History); err != nil {
				t.Fatalf("encode: %v", err)
			}
			path := filepath.Join("..", "..", "examples", ex.File)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/examples -update)", err)
			}
			if !bytes.Equal(got, buf.Bytes()) {
				t.Errorf("%s differs from the generator's output; run go test ./internal/examples -update", path)
			}
			// And it decodes back to the same history.
			if _, err := history.Decode(bytes.NewReader(got)); err != nil {
				t.Errorf("decode %s: %v", path, err)
			}
		})
	}
}
