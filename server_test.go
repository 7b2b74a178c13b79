package main

import (
	"strings"
	"testing"
)

func TestRunRefusesBadConfiguration(t *testing.T) {
	err := run([]string{"-addr", "nope", "-max-upload-size", "0", "-data-dir", t.TempDir()})
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"ADDR", "MAX_UPLOAD_SIZE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
