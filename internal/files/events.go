package files

import "time"

// Events hears what the rules did, for metrics. Its methods are called
// after the fact on the caller's goroutine, and must return quickly.
type Events interface {
	// UploadsIssued: count upload URLs handed out, announcing bytes in all.
	UploadsIssued(count int, bytes int64)
	// FilesSaved: count uploads newly saved as files, of bytes in all.
	FilesSaved(count int, bytes int64)
	// UploadsAborted: count uploads given up by their owner (abortUpload).
	UploadsAborted(count int)
	// Swept reports one sweep: what it removed, and how it ended.
	Swept(r SweepReport, err error)
	// Reconciled reports one reconciliation; r is nil if it found nothing.
	Reconciled(r *Reconciliation, err error)
	// JobRun reports one run of a background job of kind, and how it ended.
	JobRun(kind string, err error, took time.Duration)
	// FileScanned reports a scan's verdict: READY, INFECTED or UNSCANNED.
	FileScanned(status string)
}

// noEvents is the Events of a service nobody watches.
type noEvents struct{}

func (noEvents) UploadsIssued(int, int64)            {}
func (noEvents) FilesSaved(int, int64)               {}
func (noEvents) UploadsAborted(int)                  {}
func (noEvents) Swept(SweepReport, error)            {}
func (noEvents) Reconciled(*Reconciliation, error)   {}
func (noEvents) JobRun(string, error, time.Duration) {}
func (noEvents) FileScanned(string)                  {}
