package diskstore

import (
	"encoding/base64"
	"errors"
)

func decodeChecksum(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("not a base64 SHA-256")
	}
	return b, nil
}
