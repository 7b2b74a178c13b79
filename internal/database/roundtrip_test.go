package database

import "testing"

func TestOneRoundTrip(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@db:5432/app?sslmode=require": "postgres://u:p@db:5432/app?binary_parameters=yes&sslmode=require",
		"postgresql://db/app":                        "postgresql://db/app?binary_parameters=yes",
		"postgres://db/app?binary_parameters=no":     "postgres://db/app?binary_parameters=no",
		"host=db dbname=app sslmode=disable":         "host=db dbname=app sslmode=disable binary_parameters=yes",
		"host=db dbname=app binary_parameters=no":    "host=db dbname=app binary_parameters=no",
	} {
		if got := oneRoundTrip(in); got != want {
			t.Errorf("oneRoundTrip(%q) = %q, want %q", in, got, want)
		}
	}
}
