package files

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/filegraph/filegraph/ent"
)

// Kept counts. A listing filtered by metadata pairs or a folder counts its
// files with a query whose cost grows with the matches (several pairs: a
// GIN bitmap visiting each match's row, 1,000 rows for 1,000 files), run
// again for every page although a user's files change far less often than
// they are listed. So each replica keeps the counts it made, by owner and
// filter, with the owner's usage.file_writes at the time: every change a
// filtered listing can see (a save, an update of folder or metadata, a
// delete's mark or its undoing, a reconcile's fix) bumps that column in
// its own transaction, so a count is served again only while no such
// change has committed anywhere, and the check is one read of the usage
// row by its key. The column is read before the count is made: a change
// committing in between leaves the count newer than its mark, never older.

// counter counts the files of a listing; rows counts the listing's own rows
// (the count query ent was about to run).
type counter func(ctx context.Context, rows func(context.Context) (int, error)) (int, error)

// maxKeptCounts bounds the counts a replica keeps; maxCountKey the length
// of a filter's key worth keeping (32 pairs of 1 KiB values are not).
const (
	maxKeptCounts = 4096
	maxCountKey   = 1024
)

// countCache is the kept counts, by owner and filter key.
type countCache struct {
	mu sync.Mutex
	m  map[string]keptCount
}

type keptCount struct {
	writes int64 // the owner's file_writes when counted
	n      int
}

func (c *countCache) get(key string, writes int64) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[key]
	if !ok || k.writes != writes {
		return 0, false
	}
	return k.n, true
}

func (c *countCache) put(key string, writes int64, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]keptCount)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= maxKeptCounts {
		for k := range c.m { // Go's map order: a random victim
			delete(c.m, k)
			break
		}
	}
	c.m[key] = keptCount{writes, n}
}

// filterKey is the terms' key, the same for the same terms in any order:
// each term's kind and length-prefixed strings, sorted.
func filterKey(owner string, terms []filterTerm) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		var b strings.Builder
		field := func(s string) {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
		switch {
		case t.folder != nil:
			b.WriteByte('f')
			field(*t.folder)
		case t.folderWithin != nil:
			b.WriteByte('p')
			field(*t.folderWithin)
		case t.metadata != nil:
			b.WriteByte('m')
			field(t.metadata.Key)
			field(t.metadata.Value)
		}
		parts[i] = b.String()
	}
	slices.Sort(parts)
	parts = slices.Compact(parts) // a term given twice filters as once
	return strconv.Itoa(len(owner)) + ":" + owner + strings.Join(parts, "")
}

// keptCounter is count served from the kept counts while owner's files are
// unchanged; count gets the listing's rows count too, for filters it has
// no cheaper count of.
// The key is made when the listing is counted, not for one that never
// asks for totalCount.
func (s *Service) keptCounter(owner string, terms []filterTerm, count counter) counter {
	return func(ctx context.Context, rows func(context.Context) (int, error)) (int, error) {
		key := filterKey(owner, terms)
		if len(key) > maxCountKey {
			return count(ctx, rows)
		}
		var writes int64
		used, err := s.db.Usage.Get(ctx, owner)
		switch {
		case ent.IsNotFound(err): // no file yet: 0 writes
		case err != nil:
			return 0, dbError("reading usage", err)
		default:
			writes = used.FileWrites
		}
		if n, ok := s.counts.get(key, writes); ok {
			return n, nil
		}
		n, err := count(ctx, rows)
		if err != nil {
			return 0, err
		}
		s.counts.put(key, writes, n)
		return n, nil
	}
}
