package files

import (
	"testing"

	"github.com/filegraph/filegraph/internal/storage"
)

func TestPartLayout(t *testing.T) {
	const mib = 1 << 20
	s := &Service{cfg: Options{PartSize: 16 * mib}}
	for _, c := range []struct {
		size, partSize int64
		count          int
	}{
		{1, 16 * mib, 1},
		{16 * mib, 16 * mib, 1},
		{16*mib + 1, 16 * mib, 2},
		{16 * mib * storage.MaxParts, 16 * mib, storage.MaxParts},
		{16*mib*storage.MaxParts + 1, 17 * mib, 9412},
		{5 << 40, 525 * mib, 9987},
	} {
		partSize, count := s.partLayout(c.size)
		if partSize != c.partSize || count != c.count {
			t.Errorf("partLayout(%d) = %d x %d, want %d x %d", c.size, count, partSize, c.count, c.partSize)
		}
		if count > storage.MaxParts || partSize > storage.MaxPartSize || int64(count-1)*partSize >= c.size || int64(count)*partSize < c.size {
			t.Errorf("partLayout(%d) = %d x %d breaks S3's limits or does not cover the file", c.size, count, partSize)
		}
	}
}
