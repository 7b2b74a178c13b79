package files

import (
	"fmt"
	"testing"
)

func TestFilterKey(t *testing.T) {
	str := func(s string) *string { return &s }
	m := func(k, v string) filterTerm { return filterTerm{metadata: &MetadataMatch{Key: k, Value: v}} }
	a, b := m("kind", "a"), m("team", "x")
	if filterKey("u", []filterTerm{a, b}) != filterKey("u", []filterTerm{b, a}) {
		t.Error("the same pairs in another order have another key")
	}
	if filterKey("u", []filterTerm{a, a}) != filterKey("u", []filterTerm{a}) {
		t.Error("a pair given twice has another key than given once")
	}
	// Keys that differ only by where one string ends and the next begins,
	// or by the kind of term, or by owner, must differ.
	distinct := [][]filterTerm{
		{m("ab", "c")}, {m("a", "bc")},
		{m("a", "b"), m("c", "d")}, {m("a", "b:1:c"), m("", "d")},
		{{folder: str("w")}}, {{folderWithin: str("w")}}, {{folder: str("w/x")}},
		{{folder: str("")}}, {},
	}
	seen := map[string]int{}
	for i, ts := range distinct {
		k := filterKey("u", ts)
		if j, ok := seen[k]; ok {
			t.Errorf("terms %d and %d have the same key %q", j, i, k)
		}
		seen[k] = i
	}
	if filterKey("u", []filterTerm{a}) == filterKey("v", []filterTerm{a}) || filterKey("u1", nil) == filterKey("u", []filterTerm{m("1", "")}) {
		t.Error("two owners' keys are the same")
	}
}

func TestCountCache(t *testing.T) {
	var c countCache
	if _, ok := c.get("k", 0); ok {
		t.Error("an empty cache has a count")
	}
	c.put("k", 3, 42)
	if n, ok := c.get("k", 3); !ok || n != 42 {
		t.Errorf("get at the writes put: %d, %v", n, ok)
	}
	if _, ok := c.get("k", 4); ok {
		t.Error("a count is served after a write")
	}
	c.put("k", 4, 41)
	if n, ok := c.get("k", 4); !ok || n != 41 {
		t.Errorf("get after a recount: %d, %v", n, ok)
	}
	for i := range 2 * maxKeptCounts {
		c.put(fmt.Sprint(i), 0, i)
	}
	if len(c.m) != maxKeptCounts {
		t.Errorf("%d counts kept, at most %d", len(c.m), maxKeptCounts)
	}
	if n, ok := c.get(fmt.Sprint(2*maxKeptCounts-1), 0); !ok || n != 2*maxKeptCounts-1 {
		t.Error("the count put last was not kept")
	}
}
