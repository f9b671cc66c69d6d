package db

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOpenHidesPasswordOfUnparsableURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://wintro:s3cr%zzet@127.0.0.1:1/wintro")
	if err == nil {
		t.Fatal("Open(unparsable URL) = nil error")
	}
	if !errors.Is(err, ErrUnsupportedURL) {
		t.Errorf("Open(unparsable URL) = %v, want ErrUnsupportedURL", err)
	}
	if strings.Contains(err.Error(), "s3cr") {
		t.Errorf("error %q contains the password", err)
	}
}
