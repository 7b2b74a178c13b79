package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/filegraph/filegraph/ent"
	"github.com/filegraph/filegraph/ent/file"
	"github.com/filegraph/filegraph/ent/job"
)

// Work after a save (the virus scan, image variants) is a job written by the save's
// transaction, so that it exists exactly when the file does and no crash
// loses it. Any replica may claim a due job (JobQueue); claiming moves its
// next attempt past the run's deadline, so a replica killed mid-run leaves
// the job to whoever looks after that. A run that fails on a dependency
// (the scanner, the store, the database) is tried again later, each time
// after a longer wait. A finished job's row is deleted in the same
// transaction as its result; a deleted file's jobs go with its mark, and a
// run that finds its file gone makes nothing.

// JobQueue hands out due jobs; internal/database implements it for each
// dialect (on PostgreSQL, rows locked FOR UPDATE SKIP LOCKED, so replicas
// never claim the same job).
type JobQueue interface {
	// Claim returns up to max jobs due at now, their attempts counted and
	// their next attempt moved to now+lease.
	Claim(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*ent.Job, error)
}

// Job backoff: a failed run waits 2^attempts seconds, at most jobMaxWait.
const jobMaxWait = 5 * time.Minute

// jobPoll is how often the worker looks for due jobs it was not woken for
// (jobs of other replicas' saves, retries).
const jobPoll = time.Second

func jobWait(attempts int) time.Duration {
	if attempts > 9 {
		return jobMaxWait
	}
	return min(time.Duration(1<<attempts)*time.Second, jobMaxWait)
}

// jobLease is how long a claimed job is left to its replica: twice the
// run's deadline, so that it is only run again once the first run has
// surely ended, however the two replicas' clocks differ within a deadline.
func (s *Service) jobLease() time.Duration { return 2 * s.cfg.JobTimeout }

// wakeJobs tells this process's worker that jobs may be due.
func (s *Service) wakeJobs() {
	select {
	case s.jobsDue <- struct{}{}:
	default:
	}
}

// RunJobs runs due jobs, at most concurrency at a time, until ctx ends;
// then it waits for the runs under way, which ctx's end cuts short (their
// jobs are claimed again after their lease).
func (s *Service) RunJobs(ctx context.Context, concurrency int) {
	if !s.runsJobs() {
		return // no save writes jobs; the sweeper ends those left (orphanedScans)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, concurrency)
	poll := time.NewTicker(jobPoll)
	defer poll.Stop()
	for {
		if free := concurrency - len(slots); free > 0 {
			jobs, err := s.cfg.Jobs.Claim(ctx, s.cfg.Now(), s.jobLease(), free)
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "jobs.claim_failed", "err", err)
			}
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.runJob(ctx, j)
					<-slots
					s.wakeJobs() // a slot is free
				}()
			}
			if len(jobs) == free {
				continue // more may be due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.jobsDue:
		case <-poll.C:
		}
	}
}

// runJob runs one claimed job; a failure leaves it for a later attempt.
func (s *Service) runJob(ctx context.Context, j *ent.Job) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.JobTimeout)
	defer cancel()
	start := time.Now()
	var err error
	switch j.Kind {
	case job.KindScan:
		err = s.scan(ctx, j)
	case job.KindVariants:
		err = s.makeVariants(ctx, j)
	default:
		err = fmt.Errorf("no runner for jobs of kind %q", j.Kind)
	}
	s.cfg.Events.JobRun(string(j.Kind), err, time.Since(start))
	if err == nil {
		return
	}
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // shutting down: the lease gives it to the next claim
	}
	wait := jobWait(j.Attempts)
	s.log.WarnContext(ctx, "jobs.failed", "kind", j.Kind, "file", j.FileID, "attempts", j.Attempts, "retry_in", wait, "err", err)
	// The run may have spent its deadline: the retry's record needs time
	// of its own.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if err := s.db.Job.UpdateOneID(j.ID).SetNextAttemptAt(s.cfg.Now().Add(wait)).SetLastError(msg).Exec(rctx); err != nil && !ent.IsNotFound(err) {
		s.log.WarnContext(ctx, "jobs.retry_record_failed", "kind", j.Kind, "file", j.FileID, "err", err)
	}
}

// jobFor says which job a newly saved file needs, if any: a scan while
// it is held, else its variants.
func (s *Service) jobFor(f *ent.File) (job.Kind, bool) {
	switch {
	case f.Status == file.StatusSCANNING:
		return job.KindScan, true
	case s.wantsVariants(f):
		return job.KindVariants, true
	}
	return "", false
}

// jobsFor returns the jobs newly saved files need, in tx.
func (s *Service) jobsFor(tx *ent.Tx, fs []*ent.File) []*ent.JobCreate {
	var out []*ent.JobCreate
	now := s.cfg.Now()
	for _, f := range fs {
		switch kind, ok := s.jobFor(f); {
		case !ok:
		case kind == job.KindVariants:
			out = append(out, s.variantsJob(tx, f))
		default:
			out = append(out, tx.Job.Create().SetFileID(f.ID).SetKind(kind).SetNextAttemptAt(now).SetCreatedAt(now))
		}
	}
	return out
}

// runsJobs says whether saves write jobs this process must run: scans, or
// variants of some collection's images.
func (s *Service) runsJobs() bool {
	if s.cfg.Jobs == nil {
		return false
	}
	if s.cfg.Scanner != nil {
		return true
	}
	for _, c := range s.collections {
		if len(c.Variants) > 0 {
			return true
		}
	}
	return false
}

// orphanedScans ends, for a sweep, the jobs that no process will run:
// scanning was turned off since their files were saved, and no collection
// has variants (any more). Their files become UNSCANNED (served only with
// ServeUnscanned), not SCANNING for ever; variants jobs end making none.
func (s *Service) orphanedScans(ctx context.Context) error {
	if s.cfg.Jobs == nil || s.runsJobs() {
		return nil
	}
	jobs, err := s.cfg.Jobs.Claim(ctx, s.cfg.Now(), s.jobLease(), sweepBatch)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		s.runJob(ctx, j)
	}
	return nil
}
