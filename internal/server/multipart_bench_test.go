package server

import (
	"encoding/base64"
	"fmt"
	"testing"
)

// BenchmarkUploadPartURLs presigns 100 parts in one call (the most a call
// may ask), with and without part checksums, beside createUploadUrls for
// 100 files, so one run gives the ratio: a part URL costs what a single
// PUT URL costs, less the upload row and limit check.
func BenchmarkUploadPartURLs(b *testing.B) {
	for _, backend := range backends {
		e := newEnv(b, backend, "PART_SIZE", "5MiB", "MAX_PENDING_UPLOADS", "1000000000", "MAX_UPLOAD_SIZE", "1GiB")
		sum := base64.StdEncoding.EncodeToString(make([]byte, 32))
		for _, sums := range []bool{false, true} {
			m := e.createMultipart(map[string]any{"originalName": "big.bin", "size": 100 * 5 * mib, "partChecksums": sums})[0]
			parts := make([]map[string]any, 100)
			for i := range parts {
				parts[i] = map[string]any{"partNumber": i + 1}
				if sums {
					parts[i]["checksumSHA256"] = sum
				}
			}
			vars := map[string]any{"fileName": m.FileName, "parts": parts}
			b.Run(fmt.Sprintf("%s/parts=100/checksums=%v", backend, sums), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchRequest(b, e.srv.Handler, partsQ, vars)
				}
			})
		}
		vars := map[string]any{"files": uploadRequests(100)}
		b.Run(backend+"/createUploadUrls/files=100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequest(b, e.srv.Handler, createQ, vars)
			}
		})
	}
}
