package files

import (
	"errors"
	"fmt"
	"strings"

	"github.com/filegraph/filegraph/internal/storage"
)

var (
	// ErrNotFound means no file has the id.
	ErrNotFound = errors.New("file not found")
	// ErrUnavailable means the storage or the database could not be reached;
	// nothing was changed and the same call may succeed later.
	ErrUnavailable = errors.New("service temporarily unavailable, retry later")
)

// NotServableError means the file is there but may not be downloaded:
// the virus scan holds it (SCANNING, or UNSCANNED where unscanned files are
// not served) or found it INFECTED (Infected). Status is the file's.
type NotServableError struct {
	Status   string
	Infected bool
}

func (e *NotServableError) Error() string {
	switch {
	case e.Infected:
		return "the file is infected: its object was deleted"
	case e.Status == "UNSCANNED":
		return "the file is too large to scan, and unscanned files are not served"
	}
	return "the file is not ready: it is being scanned"
}

// LimitError means a per-user limit refuses the request: the input is fine,
// the user may not have more. Limit names the setting.
type LimitError struct {
	Limit   string
	Message string
}

func (e *LimitError) Error() string { return e.Message }

// Problem is one thing wrong with the input: which field, and why.
type Problem struct {
	Field   string // a path into the input, such as files[2].size
	Message string
	// Rule and Collection name the rule of a collection that refused the
	// input (maxFileSize, allowedContentTypes, maxFilesPerRequest, or
	// collection for an unknown one) and the collection; empty otherwise.
	Rule       string
	Collection string
}

// InvalidError lists everything wrong with a request, so a client can fix
// all of it at once.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].Field + ": " + e.Problems[0].Message
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems: ", len(e.Problems))
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Field + ": " + p.Message)
	}
	return b.String()
}

// problems collects Problems and returns them as one error, or nil.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// addRule adds a problem a collection's rule found.
func (ps *problems) addRule(field, rule, collection, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...), Rule: rule, Collection: collection})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidError{Problems: ps}
}

// dbError wraps a database error with what was being done, marking as
// ErrUnavailable those the database marked so at its boundary (connection
// failures, out of resources, busy past the deadline): it reads the
// drivers' codes, and gives its mark an Unavailable method, which is
// asked for here so that the rules need not import it.
func dbError(op string, err error) error {
	var u interface{ Unavailable() bool }
	if errors.As(err, &u) && u.Unavailable() {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// storageError does the same for storage errors other than ErrNotExist,
// which callers handle themselves. A store that refuses the server
// (storage.ErrMisconfigured) is not unavailable: retrying cannot help, so
// the client gets an internal error and the log the store's answer.
func storageError(op string, err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
