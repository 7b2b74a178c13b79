// Command load is `make bench-load`: it measures Filegraph against two
// floors (bench/floor) side by side in one run: stock gqlgen answering the
// same GraphQL documents, and plain net/http, both running the same
// statements as plain Go runs them best (prepared once: one round trip
// each). It creates a PostgreSQL database for each, starts one versitygw,
// builds and starts Filegraph and the floors as their own processes, seeds
// each through its API (upload URL, PUT, save), then runs each operation on
// each server in turn for a few rounds with a fixed number of concurrent
// callers and prints rps, p50, p99 and Filegraph's fraction of each floor,
// and each server's CPU time per request (read from /proc), which the
// load of a shared machine moves far less than the rate. Each round also
// prints the whole machine's CPU time per request and its idle share: a
// server whose rate is held back by work it makes in PostgreSQL or the
// store shows there, not in its own CPU; -procs splits it by command name
// (postgres, versitygw, the load itself).
// As production runs it: auth on (HS256 tokens); download and list as the
// user who owns the files, create as one of -users users (and as one user,
// beside). saveFiles (10 files) and deleteFile each run through a pool of
// uploads or files made beforehand, until it is used up. Every answer is
// checked; any error is counted and printed.
//
// Figures on a shared machine move from run to run; compare only the ratios
// of one run. -baseline REV[,REV...] adds Filegraph as it was at earlier
// commits to the same run, so a change's before and after are measured
// together.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/filegraph/filegraph/internal/testenv"
)

var (
	rounds   = flag.Int("rounds", 3, "rounds of every operation on every server")
	duration = flag.Duration("duration", 3*time.Second, "how long each operation runs per round and server")
	warmup   = flag.Duration("warmup", 500*time.Millisecond, "load before measuring, each time")
	callers  = flag.Int("c", 16, "concurrent callers")
	seedN    = flag.Int("files", 2000, "files seeded for the measured user")
	users    = flag.Int("users", 64, "users whose tokens createUploadUrls spreads over")
	pool     = flag.Int("pool", 100, "saveFiles calls (10 uploads each) and deleteFile calls prepared per round and server")
	only     = flag.String("ops", "", "comma-separated operations to run (default all)")
	keep     = flag.Bool("keep", false, "leave the servers running until interrupted")
	profile  = flag.String("profile", "", "write a CPU profile of Filegraph under each operation's first round to this folder (built with -tags pprof)")
	procs    = flag.Bool("procs", false, "also print each round's CPU per request by command name (postgres, versitygw, the load itself...)")
	baseline = flag.String("baseline", "", "also build and measure Filegraph at these comma-separated git revisions, for before/after ratios in one run")
)

const jwtSecret = "bench-secret-bench-secret-bench-secret"

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	tmp, err := os.MkdirTemp("", "filegraph-bench-")
	if err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		for _, c := range slices.Backward(cleanups) {
			c()
		}
		os.RemoveAll(tmp)
	}()

	fmt.Println("building filegraph and the floors ...")
	builds := []struct{ name, bin, src string }{{"filegraph", filepath.Join(tmp, "filegraph"), "."}}
	for i, rev := range strings.Split(*baseline, ",") {
		if rev == "" {
			continue
		}
		// The same harness on an earlier commit: before/after in one run.
		src := filepath.Join(tmp, fmt.Sprintf("baseline-%d-src", i))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		archive := exec.Command("sh", "-c", `git archive "$0" | tar -x -C "$1"`, rev, src)
		if out, err := archive.CombinedOutput(); err != nil {
			return fmt.Errorf("exporting %s: %v: %s", rev, err, out)
		}
		builds = append(builds, struct{ name, bin, src string }{"at " + rev, filepath.Join(tmp, fmt.Sprintf("baseline-%d", i)), src})
	}
	for _, b := range builds {
		build := command("go", "build", "-o", b.bin, ".")
		if *profile != "" {
			build = command("go", "build", "-tags", "pprof", "-o", b.bin, ".")
		}
		build.Dir = b.src
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", b.name, err)
		}
	}
	floorBin := filepath.Join(tmp, "floor")
	if err := command("go", "build", "-o", floorBin, "./bench/floor").Run(); err != nil {
		return fmt.Errorf("building the floors: %w", err)
	}

	s3, err := testenv.StartS3()
	if err != nil {
		return err
	}
	cleanups = append(cleanups, s3.Close)
	// newDB makes a database and a bucket for one server.
	newDB := func() (*testenv.Postgres, string, error) {
		db, err := testenv.NewPostgres()
		if err != nil {
			return nil, "", err
		}
		cleanups = append(cleanups, db.Close)
		bucket, err := s3.NewBucket(ctx)
		return db, bucket, err
	}
	quota, maxPending := "1125899906842624", "1000000000" // 1 PiB: checked, never reached

	var targets []*target
	for _, b := range builds {
		db, bucket, err := newDB()
		if err != nil {
			return err
		}
		addr := freeAddr()
		logFile, err := os.Create(filepath.Join(tmp, b.name+".log"))
		if err != nil {
			return err
		}
		fg := exec.Command(b.bin)
		fg.Env = append(os.Environ(),
			"ADDR="+addr, "DATABASE_URL="+db.URL,
			"S3_BUCKET="+bucket, "S3_ENDPOINT="+s3.Endpoint, "S3_FORCE_PATH_STYLE=true", "S3_REGION="+s3.Region,
			"AWS_ACCESS_KEY_ID="+s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3.SecretKey,
			"AUTH_JWT_SECRET="+jwtSecret, "USER_QUOTA_BYTES="+quota, "MAX_PENDING_UPLOADS="+maxPending,
			"SWEEP_INTERVAL=0", "LOG_FORMAT=json", "METRICS_ADDR="+freeAddr())
		pprofAddr := freeAddr()
		if *profile != "" {
			fg.Env = append(fg.Env, "PPROF_ADDR="+pprofAddr)
		}
		fg.Stdout, fg.Stderr = logFile, logFile
		if err := start(fg, addr, logFile.Name(), &cleanups); err != nil {
			return err
		}
		targets = append(targets, &target{name: b.name, addr: addr, api: &graphQL{base: "http://" + addr}, pprof: pprofAddr, pid: fg.Process.Pid})
		time.Sleep(time.Second) // let start-up garbage go
		fmt.Printf("%s: idle RSS %s\n", b.name, rss(fg.Process.Pid))
	}
	// The floors, each a process and a database of its own: stock gqlgen
	// (asked as Filegraph is), then plain net/http.
	for _, name := range []string{"gqlgen", "plain"} {
		db, bucket, err := newDB()
		if err != nil {
			return err
		}
		// The floor runs on Filegraph's schema: same tables, same indexes.
		migrate := exec.Command(builds[0].bin, "migrate")
		migrate.Env = append(os.Environ(), "DATABASE_URL="+db.URL, "LOG_LEVEL=warn")
		if out, err := migrate.CombinedOutput(); err != nil {
			return fmt.Errorf("migrating the floor's database: %v: %s", err, out)
		}
		floorAddr := freeAddr()
		floor := exec.Command(floorBin, "-addr", floorAddr, "-db", db.URL, "-bucket", bucket,
			"-endpoint", s3.Endpoint, "-region", s3.Region, "-access", s3.AccessKey, "-secret", s3.SecretKey,
			"-jwt-secret", jwtSecret, "-quota", quota, "-max-pending", maxPending)
		floor.Stdout, floor.Stderr = os.Stderr, os.Stderr
		if err := start(floor, floorAddr, "", &cleanups); err != nil {
			return err
		}
		var a api = &floorAPI{base: "http://" + floorAddr}
		if name == "gqlgen" {
			a = &graphQL{base: "http://" + floorAddr}
		}
		targets = append(targets, &target{name: name, addr: floorAddr, api: a, pid: floor.Process.Pid})
	}
	floors := targets[len(targets)-2:]

	fmt.Printf("seeding %d files on each through its API ...\n", *seedN)
	for _, t := range targets {
		if t.ids, err = seed(ctx, t.api, seedUser, *seedN); err != nil {
			return fmt.Errorf("seeding %s: %w", t.name, err)
		}
	}

	ops := []operation{
		{name: "fileDownloadUrl", users: 1, req: func(a api, t *target, user string, r *rand.Rand) *http.Request {
			return a.download(user, t.ids[r.IntN(len(t.ids))])
		}},
		{name: "files(first:50)", users: 1, req: func(a api, t *target, user string, r *rand.Rand) *http.Request {
			return a.list(user)
		}},
		{name: fmt.Sprintf("createUploadUrls/%d users", *users), users: *users, req: func(a api, t *target, user string, r *rand.Rand) *http.Request {
			return a.create(user, 1)
		}},
		{name: "createUploadUrls/1 user", users: 1, req: func(a api, t *target, user string, r *rand.Rand) *http.Request {
			return a.create(user, 1)
		}},
		{name: "saveFiles(10 files)", users: 1, prepare: func(ctx context.Context, t *target) ([]any, error) {
			var items []any
			for range *pool {
				ups, err := issue(ctx, t.api, saveUser, 10)
				if err != nil {
					return nil, err
				}
				items = append(items, ups)
			}
			return items, nil
		}, reqItem: func(a api, t *target, user string, item any) *http.Request {
			return a.save(saveUser, item.([]upload))
		}},
		{name: "deleteFile", users: 1, prepare: func(ctx context.Context, t *target) ([]any, error) {
			ids, err := seed(ctx, t.api, saveUser, *pool)
			items := make([]any, len(ids))
			for i, id := range ids {
				items[i] = id
			}
			return items, err
		}, reqItem: func(a api, t *target, user string, item any) *http.Request {
			return a.delete(saveUser, item.(string))
		}},
	}
	if *only != "" {
		ops = slices.DeleteFunc(ops, func(o operation) bool {
			return !slices.ContainsFunc(strings.Split(*only, ","), func(s string) bool { return strings.HasPrefix(o.name, s) })
		})
	}
	fmt.Printf("%d rounds x %v per operation and server, %d concurrent callers, %d CPUs shared with everything else\n\n",
		*rounds, *duration, *callers, numCPU())

	results := map[string]map[string][]result{}
	for round := range *rounds {
		for _, op := range ops {
			// Rotate who goes first, so that no one always follows the same neighbour.
			order := append(slices.Clone(targets[round%len(targets):]), targets[:round%len(targets)]...)
			for _, t := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var items []any
				if op.prepare != nil {
					var err error
					if items, err = op.prepare(ctx, t); err != nil {
						return fmt.Errorf("preparing %s on %s: %w", op.name, t.name, err)
					}
				}
				var profiled chan error
				if *profile != "" && round == 0 && t.pprof != "" {
					profiled = make(chan error, 1)
					go func() { profiled <- cpuProfile(t, op) }()
				}
				cpu0 := cpuTime(t.pid)
				busy0, idle0 := machineTime()
				var procs0 map[int]procTime
				if *procs {
					procs0 = cpuByProcess()
				}
				r := drive(ctx, t, op, items)
				busy1, idle1 := machineTime()
				var byCmd map[string]time.Duration
				if *procs {
					byCmd = cpuByCommand(procs0, cpuByProcess())
				}
				if r.sent > 0 {
					r.cpu = (cpuTime(t.pid) - cpu0) / time.Duration(r.sent)
					r.machine = (busy1 - busy0) / time.Duration(r.sent)
					r.idle = float64(idle1-idle0) / float64(busy1-busy0+idle1-idle0)
				}
				if profiled != nil {
					if err := <-profiled; err != nil {
						return err
					}
				}
				if results[op.name] == nil {
					results[op.name] = map[string][]result{}
				}
				results[op.name][t.name] = append(results[op.name][t.name], r)
				fmt.Printf("  round %d %-28s %-12s %7.0f rps  p50 %-8v p99 %-8v cpu/req %-8v machine/req %-8v idle %.0f%% errors %d\n", round+1, op.name, t.name, r.rps, r.p50, r.p99, r.cpu.Round(time.Microsecond), r.machine.Round(time.Microsecond), 100*r.idle, r.errors)
				if byCmd != nil && r.sent > 0 {
					printByCommand(byCmd, r.sent)
				}
				if r.firstErr != "" {
					fmt.Printf("    first error: %.300s\n", r.firstErr)
				}
			}
		}
	}

	fmt.Printf("\nmedian of %d rounds (rps, p50, p99); ratios are rps / a floor's rps (gqlgen: stock gqlgen; plain: net/http)\n\n| operation |", *rounds)
	for _, t := range targets {
		fmt.Printf(" %s |", t.name)
	}
	subjects := targets[:len(targets)-len(floors)]
	for _, t := range subjects {
		for _, fl := range floors {
			fmt.Printf(" %s / %s |", t.name, fl.name)
		}
	}
	fmt.Printf(" errors |\n|---|%s\n", strings.Repeat("---|", len(targets)+len(subjects)*len(floors)+1))
	for _, op := range ops {
		fmt.Printf("| %s |", op.name)
		meds := map[string]result{}
		errs := 0
		for _, t := range targets {
			m := median(results[op.name][t.name])
			meds[t.name] = m
			errs += m.errors
			fmt.Printf(" %.0f, %v, %v |", m.rps, m.p50, m.p99)
		}
		for _, t := range subjects {
			for _, fl := range floors {
				fmt.Printf(" %.2f |", meds[t.name].rps/meds[fl.name].rps)
			}
		}
		fmt.Printf(" %d |\n", errs)
	}
	// CPU time per request, which a shared machine's load moves far less
	// than the rate: the server's own work, whoever else runs.
	fmt.Printf("\nCPU time of each server's process per request (user+system over all of a round's requests, warm-up included), median of %d rounds; ratios are a floor's / the subject's (above 1: the subject spends less)\n\n| operation |", *rounds)
	for _, t := range targets {
		fmt.Printf(" %s |", t.name)
	}
	for _, t := range subjects {
		for _, fl := range floors {
			fmt.Printf(" %s / %s |", fl.name, t.name)
		}
	}
	fmt.Printf("\n|---|%s\n", strings.Repeat("---|", len(targets)+len(subjects)*len(floors)))
	for _, op := range ops {
		fmt.Printf("| %s |", op.name)
		cpu := map[string]time.Duration{}
		for _, t := range targets {
			cpu[t.name] = medianCPU(results[op.name][t.name])
			fmt.Printf(" %v |", cpu[t.name].Round(time.Microsecond))
		}
		for _, t := range subjects {
			for _, fl := range floors {
				fmt.Printf(" %.2f |", float64(cpu[fl.name])/float64(cpu[t.name]))
			}
		}
		fmt.Println()
	}
	if *keep {
		fmt.Println()
		for _, t := range targets {
			fmt.Printf("%s on %s\n", t.name, t.addr)
		}
		fmt.Println("interrupt to stop")
		<-ctx.Done()
	}
	return nil
}

// cpuProfile writes t's CPU profile over the measured part of op's round to
// the -profile folder.
func cpuProfile(t *target, op operation) error {
	if err := os.MkdirAll(*profile, 0o755); err != nil {
		return err
	}
	time.Sleep(*warmup)
	name := strings.NewReplacer("/", "-", " ", "-", "(", "-", ")", "", ":", "").Replace(op.name + "." + t.name)
	// Where the goroutines wait, once under load: time off the CPU.
	if res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/goroutine?debug=1", t.pprof)); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		os.WriteFile(filepath.Join(*profile, name+".goroutines.txt"), b, 0o644)
	}
	secs := max(1, int(duration.Seconds())-1)
	res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.pprof, secs))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, err := os.Create(filepath.Join(*profile, name+".pprof"))
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, res.Body); err != nil {
		out.Close()
		return err
	}
	fmt.Printf("    profile: %s\n", out.Name())
	return out.Close()
}

func command(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return c
}

// start runs cmd and waits for it to listen on addr; the cleanup stops it
// by its PID.
func start(cmd *exec.Cmd, addr string, logPath string, cleanups *[]func()) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	*cleanups = append(*cleanups, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	// Generous: on a busy machine a start (migrations included) can be slow.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			deadline = time.Time{}
		default:
		}
	}
	var tail []byte
	if logPath != "" {
		b, _ := os.ReadFile(logPath)
		tail = b[max(0, len(b)-2000):]
	}
	return fmt.Errorf("%s did not start listening on %s: %s", filepath.Base(cmd.Path), addr, tail)
}

// machineTime is the CPU time all processes have used, and the time the
// CPUs idled or waited for I/O, since boot (/proc/stat's first line).
func machineTime() (busy, idle time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	for i := 1; i < len(f) && i <= 8; i++ {
		var v int64
		fmt.Sscan(f[i], &v)
		if i == 4 || i == 5 { // idle, iowait
			idle += time.Duration(v) * 10 * time.Millisecond
		} else {
			busy += time.Duration(v) * 10 * time.Millisecond
		}
	}
	return busy, idle
}

// cpuByProcess is the CPU time every running process has used, with its
// command's name (a kernel worker's without what it works on, which
// changes).
func cpuByProcess() map[int]procTime {
	out := map[int]procTime{}
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(string(b)), "-")
		out[pid] = procTime{name, cpuTime(pid)}
	}
	return out
}

type procTime struct {
	name string
	cpu  time.Duration
}

// cpuByCommand is the CPU time processes used between two cpuByProcess,
// summed by command name (a process that ended in between drops out, so
// short-lived ones may be missed).
func cpuByCommand(before, after map[int]procTime) map[string]time.Duration {
	out := map[string]time.Duration{}
	for pid, p := range after {
		out[p.name] += p.cpu - before[pid].cpu
	}
	return out
}

// printByCommand prints the commands that used at least 2% of a round's
// CPU, per request, most first.
func printByCommand(byCmd map[string]time.Duration, sent int) {
	var total time.Duration
	for _, d := range byCmd {
		total += max(d, 0)
	}
	cmds := slices.Collect(maps.Keys(byCmd))
	slices.SortFunc(cmds, func(a, b string) int { return cmp.Compare(byCmd[b], byCmd[a]) })
	var parts []string
	for _, c := range cmds {
		if d := byCmd[c]; d > 0 && d*50 >= total {
			parts = append(parts, fmt.Sprintf("%s %v", c, (d/time.Duration(sent)).Round(time.Microsecond)))
		}
	}
	fmt.Printf("    cpu/req by command: %s\n", strings.Join(parts, ", "))
}

// cpuTime is the user and system CPU time the process has used, as Linux
// reports it (/proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After the command's name in parentheses: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var user, sys int64
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &sys)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// medianCPU is the median of the rounds' CPU per request.
func medianCPU(rs []result) time.Duration {
	cpu := make([]time.Duration, len(rs))
	for i, r := range rs {
		cpu[i] = r.cpu
	}
	slices.Sort(cpu)
	return cpu[len(cpu)/2]
}

// rss is the process's resident set size, as Linux reports it.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	if n := bytes.Count(b, []byte("processor\t:")); n > 0 {
		return n
	}
	return 0
}

var tokens sync.Map // user → bearer token

func token(user string) string {
	if t, ok := tokens.Load(user); ok {
		return t.(string)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": time.Now().Add(24 * time.Hour).Unix()}).SignedString([]byte(jwtSecret))
	if err != nil {
		panic(err)
	}
	tokens.Store(user, s)
	return s
}

// seedUser owns the seeded files and makes the single-user calls;
// saveUser saves and deletes (so that the list's files stay put).
const (
	seedUser = "bench-user"
	saveUser = "bench-saver"
)

// api is one server's way of asking for the operations.
type api interface {
	download(user, id string) *http.Request
	list(user string) *http.Request
	create(user string, n int) *http.Request
	// check reads an answer and says what was wrong with it, if anything.
	check(res *http.Response, body []byte) error
	// uploads parses a create answer: key and signed request for each.
	uploads(body []byte) ([]upload, error)
	save(user string, keys []upload) *http.Request
	delete(user, id string) *http.Request
	saved(body []byte) ([]string, error) // file ids
}

type upload struct {
	FileName, OriginalName, URL string
	Headers                     map[string]string
}

type target struct {
	name  string
	addr  string
	pprof string // where its profiles are served (-profile)
	pid   int
	api   api
	ids   []string
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}, Timeout: 30 * time.Second}

func do(a api, req *http.Request) ([]byte, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	return body, a.check(res, body)
}

// issue asks for n uploads for user through the API and PUTs each to
// versitygw for real.
func issue(ctx context.Context, a api, user string, n int) ([]upload, error) {
	var ups []upload
	if _, isGraphQL := a.(*graphQL); isGraphQL {
		body, err := do(a, a.create(user, n))
		if err != nil {
			return nil, err
		}
		if ups, err = a.uploads(body); err != nil {
			return nil, err
		}
	} else {
		for range n {
			body, err := do(a, a.create(user, 1))
			if err != nil {
				return nil, err
			}
			u, err := a.uploads(body)
			if err != nil {
				return nil, err
			}
			ups = append(ups, u...)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ups))
	sem := make(chan struct{}, 16)
	for i, u := range ups {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u.URL, bytes.NewReader(seedBody))
			for k, v := range u.Headers {
				if !strings.EqualFold(k, "Content-Length") {
					req.Header.Set(k, v)
				}
			}
			res, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("PUT %s: %s: %.300s", u.FileName, res.Status, b)
			}
		})
	}
	wg.Wait()
	return ups, errors.Join(errs...)
}

// seed uploads n small files for user through the API: upload URLs,
// a real PUT of each to versitygw, save; it returns the file ids and
// checks that one download URL really downloads.
func seed(ctx context.Context, a api, user string, n int) ([]string, error) {
	var ids []string
	for len(ids) < n {
		ups, err := issue(ctx, a, user, min(100, n-len(ids)))
		if err != nil {
			return nil, err
		}
		body, err := do(a, a.save(user, ups))
		if err != nil {
			return nil, err
		}
		got, err := a.saved(body)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	// One download, to prove the signed GET is accepted.
	body, err := do(a, a.download(user, ids[0]))
	if err != nil {
		return nil, err
	}
	var dl struct{ URL string }
	if err := json.Unmarshal(body, &dl); err != nil || dl.URL == "" {
		var gql struct {
			Data struct {
				FileDownloadURL struct{ URL string } `json:"fileDownloadUrl"`
			}
		}
		json.Unmarshal(body, &gql)
		dl.URL = gql.Data.FileDownloadURL.URL
	}
	res, err := client.Get(dl.URL)
	if err != nil {
		return nil, err
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, seedBody) {
		return nil, fmt.Errorf("download: %s, %d bytes", res.Status, len(got))
	}
	return ids, nil
}

var seedBody = []byte("seeded by bench-load\n")

type operation struct {
	name  string
	users int // callers spread over this many users
	req   func(a api, t *target, user string, r *rand.Rand) *http.Request
	// An operation that uses things up (uploads to save, files to delete)
	// has them made by prepare before it runs, and runs once for each
	// (reqItem) or until its time is up, whichever comes first.
	prepare func(ctx context.Context, t *target) ([]any, error)
	reqItem func(a api, t *target, user string, item any) *http.Request
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	firstErr string
	sent     int           // requests answered, warm-up included
	cpu      time.Duration // the server's CPU time per request sent
	machine  time.Duration // every process's CPU time per request sent
	idle     float64       // the machine's idle (and I/O wait) share of the round
}

// drive runs op against t with *callers concurrent callers, each sending
// its next request when the last is answered. An operation with items
// runs once per item, without a warm-up, and its rate is over the time
// it took.
func drive(ctx context.Context, t *target, op operation, items []any) result {
	start := time.Now()
	measureFrom, end := start.Add(*warmup), start.Add(*warmup+*duration)
	var next chan any
	if op.prepare != nil {
		measureFrom, end = start, start.Add(*duration)
		next = make(chan any, len(items))
		for _, it := range items {
			next <- it
		}
		close(next)
	}
	var lastDone time.Time
	var (
		mu       sync.Mutex
		lat      []time.Duration
		sent     int
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	for c := range *callers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			var mine []time.Duration
			var myErrs int
			var myFirst string
			var mySent int
			for i := 0; ctx.Err() == nil; i++ {
				user := seedUser
				if op.users > 1 {
					user = fmt.Sprintf("bench-user-%d", r.IntN(op.users))
				}
				var req *http.Request
				if next != nil {
					item, ok := <-next
					if !ok {
						break
					}
					req = op.reqItem(t.api, t, user, item)
				} else {
					req = op.req(t.api, t, user, r)
				}
				s := time.Now()
				if s.After(end) {
					break
				}
				_, err := do(t.api, req)
				mySent++
				if s.Before(measureFrom) {
					continue
				}
				mine = append(mine, time.Since(s))
				if err != nil {
					myErrs++
					if myFirst == "" {
						myFirst = err.Error()
					}
				}
			}
			mu.Lock()
			if now := time.Now(); now.After(lastDone) {
				lastDone = now
			}
			lat = append(lat, mine...)
			sent += mySent
			errs += myErrs
			if firstErr == "" {
				firstErr = myFirst
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	res := result{errors: errs, firstErr: firstErr, sent: sent}
	if n := len(lat); n > 0 {
		res.rps = float64(n) / duration.Seconds()
		if next != nil {
			res.rps = float64(n) / lastDone.Sub(start).Seconds()
		}
		res.p50, res.p99 = lat[n/2].Round(10*time.Microsecond), lat[n*99/100].Round(10*time.Microsecond)
	}
	return res
}

// median is the round with the median rate.
func median(rs []result) result {
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool { return rs[i].rps < rs[j].rps })
	m := rs[len(rs)/2]
	for _, r := range rs {
		m.errors = max(m.errors, r.errors)
	}
	return m
}

// graphQL asks Filegraph.
type graphQL struct{ base string }

const (
	downloadQ = `query($id: ID!) { fileDownloadUrl(id: $id) { url expiresAt } }`
	listQ     = `query { files(first: 50) { totalCount edges { node { id bucket fileName originalName size contentType createdAt } } } }`
	createQ   = `mutation($files: [UploadRequest!]!) { createUploadUrls(files: $files) { fileName originalName url method headers { name value } expiresAt } }`
	saveQ     = `mutation($files: [SaveFileInput!]!) { saveFiles(files: $files) { id } }`
	deleteQ   = `mutation($id: ID!) { deleteFile(id: $id) }`
)

func (g *graphQL) post(user, query string, vars map[string]any) *http.Request {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, g.base+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token(user))
	return req
}

func (g *graphQL) download(user, id string) *http.Request {
	return g.post(user, downloadQ, map[string]any{"id": id})
}

func (g *graphQL) list(user string) *http.Request { return g.post(user, listQ, nil) }

func (g *graphQL) create(user string, n int) *http.Request {
	files := make([]map[string]any, n)
	for i := range files {
		files[i] = map[string]any{"originalName": fmt.Sprintf("photo-%d.jpg", i), "size": len(seedBody), "contentType": "text/plain"}
	}
	return g.post(user, createQ, map[string]any{"files": files})
}

func (g *graphQL) check(res *http.Response, body []byte) error {
	if res.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
		return fmt.Errorf("%s: %.300s", res.Status, body)
	}
	return nil
}

func (g *graphQL) uploads(body []byte) ([]upload, error) {
	var out struct {
		Data struct {
			CreateUploadUrls []struct {
				FileName, OriginalName, URL string
				Headers                     []struct{ Name, Value string }
			} `json:"createUploadUrls"`
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	ups := make([]upload, len(out.Data.CreateUploadUrls))
	for i, u := range out.Data.CreateUploadUrls {
		ups[i] = upload{FileName: u.FileName, OriginalName: u.OriginalName, URL: u.URL, Headers: map[string]string{}}
		for _, h := range u.Headers {
			ups[i].Headers[h.Name] = h.Value
		}
	}
	return ups, nil
}

func (g *graphQL) save(user string, ups []upload) *http.Request {
	files := make([]map[string]any, len(ups))
	for i, u := range ups {
		files[i] = map[string]any{"fileName": u.FileName, "originalName": u.OriginalName}
	}
	return g.post(user, saveQ, map[string]any{"files": files})
}

func (g *graphQL) delete(user, id string) *http.Request {
	return g.post(user, deleteQ, map[string]any{"id": id})
}

func (g *graphQL) saved(body []byte) ([]string, error) {
	var out struct {
		Data struct{ SaveFiles []struct{ ID string } }
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Data.SaveFiles))
	for i, f := range out.Data.SaveFiles {
		ids[i] = f.ID
	}
	return ids, nil
}

// floorAPI asks the floor.
type floorAPI struct{ base string }

func (f *floorAPI) req(user, method, path string, body any) *http.Request {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.base+path, r)
	req.Header.Set("Authorization", "Bearer "+token(user))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (f *floorAPI) download(user, id string) *http.Request {
	return f.req(user, http.MethodGet, "/download?id="+id, nil)
}

func (f *floorAPI) list(user string) *http.Request { return f.req(user, http.MethodGet, "/files", nil) }

func (f *floorAPI) create(user string, n int) *http.Request {
	return f.req(user, http.MethodPost, "/uploads", map[string]any{"originalName": "photo-0.jpg", "size": len(seedBody), "contentType": "text/plain"})
}

func (f *floorAPI) check(res *http.Response, body []byte) error {
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.300s", res.Status, body)
	}
	return nil
}

func (f *floorAPI) uploads(body []byte) ([]upload, error) {
	var out struct {
		FileName, OriginalName string
		Request                struct {
			URL     string
			Headers map[string]string
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return []upload{{FileName: out.FileName, OriginalName: out.OriginalName, URL: out.Request.URL, Headers: out.Request.Headers}}, nil
}

func (f *floorAPI) save(user string, ups []upload) *http.Request {
	keys := make([]string, len(ups))
	for i, u := range ups {
		keys[i] = u.FileName
	}
	return f.req(user, http.MethodPost, "/save", map[string]any{"fileNames": keys})
}

func (f *floorAPI) delete(user, id string) *http.Request {
	return f.req(user, http.MethodPost, "/delete?id="+id, nil)
}

func (f *floorAPI) saved(body []byte) ([]string, error) {
	var out struct{ IDs []string }
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	return out.IDs, nil
}
