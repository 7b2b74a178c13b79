package graph

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// cache is gqlgen's cache of parsed documents or of persisted queries,
// least recently used out first, bounded by entries and by an estimate of
// the bytes they hold (a document a client can make large would otherwise
// keep its memory for as long as it stays among the last thousand).
//
// Add does not add at once: it holds the entry in the operation's context
// until the judge accepts the operation (admit), so a refused query is
// never kept; parse and validation failures never reach Add at all.
type cache[T any] struct {
	maxEntries int
	maxBytes   int
	size       func(key string, v T) int // estimated bytes held by an entry

	mu    sync.Mutex
	order *list.List // of *cacheEntry[T], most recent first
	byKey map[string]*list.Element
	bytes int
}

type cacheEntry[T any] struct {
	key   string
	value T
	size  int
}

var _ graphql.Cache[string] = (*cache[string])(nil)

func newCache[T any](maxEntries, maxBytes int, size func(string, T) int) *cache[T] {
	return &cache[T]{maxEntries: maxEntries, maxBytes: maxBytes, size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *cache[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*cacheEntry[T]).value, true
	}
	var zero T
	return zero, false
}

// Add holds the entry until the operation is accepted; outside an
// operation it keeps nothing.
func (c *cache[T]) Add(ctx context.Context, key string, value T) {
	if !graphql.HasOperationContext(ctx) {
		return
	}
	st := &graphql.GetOperationContext(ctx).Stats
	pending, _ := st.GetExtension(pendingExtension).([]func())
	st.SetExtension(pendingExtension, append(pending, func() { c.add(key, value) }))
}

func (c *cache[T]) add(key string, value T) {
	size := c.size(key, value)
	// One entry may take a sixteenth of the room: a few outsized queries
	// must not push out every ordinary one. Such a query is parsed anew.
	if size > c.maxBytes/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry[T]{key: key, value: value, size: size})
	c.bytes += size
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		old := c.order.Remove(c.order.Back()).(*cacheEntry[T])
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
}

// len reports the entries and estimated bytes held, for tests.
func (c *cache[T]) len() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}

// pendingExtension names, in an operation's stats (gqlgen's per-operation
// store for extensions), the cache entries waiting for the judge.
const pendingExtension = "Filegraph.PendingCacheEntries"

// admit keeps the cache entries held for an accepted operation.
func admit(oc *graphql.OperationContext) {
	pending, _ := oc.Stats.GetExtension(pendingExtension).([]func())
	for _, add := range pending {
		add()
	}
	oc.Stats.SetExtension(pendingExtension, nil)
}
