package history

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives Encode and Decode unchanged, with a stable encoding.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/good/*.json", "testdata/bad/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(bytes.NewReader(data))
		if err != nil {
			if got != nil {
				t.Fatalf("got a file and the error %v, want no file", err)
			}
			return
		}
		var enc bytes.Buffer
		if err := Encode(&enc, got); err != nil {
			t.Fatalf("encode a decoded file: got %v, want no error", err)
		}
		first := enc.String()
		again, err := Decode(&enc)
		if err != nil {
			t.Fatalf("decode the encoding: got %v, want no error\n%s", err, first)
		}
		for _, d := range diffFile(again, got) {
			t.Error(d)
		}
		var enc2 bytes.Buffer
		if err := Encode(&enc2, again); err != nil {
			t.Fatalf("encode again: got %v, want no error", err)
		}
		if enc2.String() != first {
			t.Errorf("got a second encoding\n%s\nwant the first\n%s", enc2.String(), first)
		}
	})
}
