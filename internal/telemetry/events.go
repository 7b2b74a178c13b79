package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/filegraph/filegraph/internal/files"
)

var _ files.Events = (*Metrics)(nil)

// UploadsIssued counts upload URLs handed out.
func (m *Metrics) UploadsIssued(count int, bytes int64) {
	m.uploadsIssued.Add(float64(count))
	m.uploadsIssuedBytes.Add(float64(bytes))
}

// FilesSaved counts uploads saved as files.
func (m *Metrics) FilesSaved(count int, bytes int64) {
	m.filesSaved.Add(float64(count))
	m.filesSavedBytes.Add(float64(bytes))
}

// UploadsAborted counts uploads their owners gave up.
func (m *Metrics) UploadsAborted(count int) {
	m.uploadsAborted.WithLabelValues("client").Add(float64(count))
}

// Swept records a sweep. One cut short by shutdown is no failure.
func (m *Metrics) Swept(r files.SweepReport, err error) {
	m.uploadsAborted.WithLabelValues("expired").Add(float64(r.Uploads))
	m.swept.WithLabelValues("uploads").Add(float64(r.Uploads))
	m.swept.WithLabelValues("deletes").Add(float64(r.Deletes))
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		m.sweeps.WithLabelValues("error").Inc()
	default:
		m.sweeps.WithLabelValues("ok").Inc()
		m.sweepLast.Set(float64(time.Now().UnixNano()) / 1e9)
	}
}

// Reconciled records a reconciliation.
func (m *Metrics) Reconciled(r *files.Reconciliation, err error) {
	if err != nil {
		m.reconciles.WithLabelValues("error").Inc()
		return
	}
	m.reconciles.WithLabelValues("ok").Inc()
	m.reconcileFound.WithLabelValues("orphans").Set(float64(len(r.Orphans)))
	m.reconcileFound.WithLabelValues("missing").Set(float64(len(r.Missing)))
	m.reconcileLast.Set(float64(time.Now().UnixNano()) / 1e9)
}

// JobRun records one run of a background job.
func (m *Metrics) JobRun(kind string, err error, took time.Duration) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, files.ErrScannerUnavailable):
		outcome = "scanner_unavailable"
	case errors.Is(err, files.ErrUnavailable):
		outcome = "unavailable"
	default:
		outcome = "error"
	}
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind).Observe(took.Seconds())
}

// FileScanned records a scan's verdict.
func (m *Metrics) FileScanned(status string) { m.scanned.WithLabelValues(status).Inc() }
