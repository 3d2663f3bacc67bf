package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"marquee/pkg/freeport"
)

// dbRow is a movie as MySQL, the source of truth, holds it.
type dbRow struct {
	id      int64
	title   string
	version int64
	deleted bool
}

func (r dbRow) token() string {
	if f := strings.Fields(r.title); len(f) > 0 {
		return f[0]
	}
	return ""
}

// verdict is what the checker found: the figures of the fault-injection results and the evidence behind them.
type verdict struct {
	attempted, acked, failed, unknown int // writes, by outcome (a create's retries are one write)

	lostDB      int // acknowledged writes whose effect MySQL does not hold
	lostIndex   int // movies the index still holds behind MySQL once the convergence deadline passed
	duplicated  int // extra movies for one create, effects beyond the writes sent, two acks of one version
	resurrected int // movies deleted in MySQL but visible in the index (by id or in a search)
	ahead       int // movies the index holds at a version MySQL never had

	unknownCreates    int // creates whose outcome was unknown...
	unknownCreatesHit int // ...and that turned out to have created the movie
	retriedCreates    int // creates sent again under the same Idempotency-Key after an unknown outcome...
	retriedAcked      int // ...and acknowledged by a retry

	movies, deletedMovies int
	converged             bool
	converge              time.Duration // from the heal until the index equals MySQL
	searched              int           // searches checked

	problems []string // evidence, the first ones of each kind
}

func (v *verdict) problem(format string, args ...any) {
	if len(v.problems) < 40 {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

func (v *verdict) lost() int { return v.lostDB + v.lostIndex }

// readMovies reads every movie row.
func readMovies(ctx context.Context, db *sql.DB) (map[int64]dbRow, error) {
	var rows *sql.Rows
	var err error
	for attempt := range 30 { // MariaDB may just be coming back
		rows, err = db.QueryContext(ctx, `SELECT id, title, version, deleted_at IS NOT NULL FROM movies`)
		if err == nil || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, time.Duration(attempt+1)*100*time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("read movies: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[int64]dbRow{}
	for rows.Next() {
		var r dbRow
		if err := rows.Scan(&r.id, &r.title, &r.version, &r.deleted); err != nil {
			return nil, err
		}
		out[r.id] = r
	}
	return out, rows.Err()
}

// checkDB compares the history with MySQL: every acknowledged write is there, nothing is there twice, and
// each movie's version is explained by the writes that reached it.
func checkDB(ops []op, rows map[int64]dbRow, v *verdict) {
	type createGroup struct {
		attempts []op
		ackedID  int64
	}
	creates := map[string]*createGroup{}
	writes := map[int64][]op{} // updates and deletes per movie
	for _, o := range ops {
		if o.Kind == opCreate {
			g := creates[o.Token]
			if g == nil {
				g = &createGroup{}
				creates[o.Token] = g
			}
			g.attempts = append(g.attempts, o)
			if o.outcome() == outcomeOK {
				g.ackedID = o.ID
			}
			continue
		}
		writes[o.ID] = append(writes[o.ID], o)
		v.attempted++
		switch o.outcome() {
		case outcomeOK:
			v.acked++
		case outcomeFail:
			v.failed++
		default:
			v.unknown++
		}
	}

	byToken := map[string][]int64{}
	for _, r := range rows {
		byToken[r.token()] = append(byToken[r.token()], r.id)
		v.movies++
		if r.deleted {
			v.deletedMovies++
		}
	}
	for token, g := range creates {
		v.attempted++
		have := byToken[token]
		outcomes := map[outcome]bool{}
		for _, a := range g.attempts {
			outcomes[a.outcome()] = true
		}
		if len(g.attempts) > 1 {
			v.retriedCreates++
			if g.ackedID != 0 {
				v.retriedAcked++
			}
		}
		switch {
		case g.ackedID != 0:
			v.acked++
			if _, ok := rows[g.ackedID]; !ok {
				v.lostDB++
				v.problem("lost create: %q acknowledged as movie %d, which MySQL does not have", token, g.ackedID)
			}
		case outcomes[outcomeInfo]:
			v.unknown++
			v.unknownCreates++
			if len(have) > 0 {
				v.unknownCreatesHit++
			}
		default:
			v.failed++
			if len(have) > 0 {
				v.duplicated += len(have)
				v.problem("phantom create: %q was refused (%d) but MySQL has movies %v", token, g.attempts[0].Status, have)
			}
		}
		if len(have) > 1 {
			slices.Sort(have)
			v.duplicated += len(have) - 1
			v.problem("duplicate create: %q (%d attempts under Idempotency-Key %s) made movies %v",
				token, len(g.attempts), g.attempts[0].IdemKey, have)
		}
	}
	for token, ids := range byToken {
		if creates[token] == nil {
			v.duplicated += len(ids)
			v.problem("phantom movies %v: token %q was never sent", ids, token)
		}
	}

	for id, r := range rows {
		ws := writes[id]
		lower, unknown := int64(1), int64(0)
		versions := map[int64]op{}
		var last op // the acknowledged write with the highest version
		var deleteAcked, deleteTried bool
		var beyond, twice int64 // acknowledged versions above the one MySQL holds; versions acknowledged twice
		for _, o := range ws {
			switch o.outcome() {
			case outcomeOK:
				lower++
				if prev, dup := versions[o.Version]; dup {
					twice++
					v.problem("lost update: movie %d version %d acknowledged twice (%s by client %d at %s and %s by client %d at %s)",
						id, o.Version, prev.Kind, prev.Client, prev.End.Format(time.StampMilli), o.Kind, o.Client, o.End.Format(time.StampMilli))
				}
				versions[o.Version] = o
				if o.Version > last.Version {
					last = o
				}
				if o.Version > r.version {
					beyond++
					v.problem("lost write: %s of movie %d acknowledged at version %d, MySQL holds version %d", o.Kind, id, o.Version, r.version)
				}
				if isDelete(o.Kind) {
					deleteAcked, deleteTried = true, true
				}
			case outcomeInfo:
				unknown++
				deleteTried = deleteTried || isDelete(o.Kind)
			}
		}
		// One missing write shows in several checks; count it once: the movie lost at least the largest shortfall.
		var content int64
		if last.Version == r.version && (last.Kind == opUpdate || last.Kind == opUpdateIf) && last.Title != r.title {
			content = 1
			v.problem("lost content: movie %d version %d acknowledged with title %q, MySQL has %q", id, r.version, last.Title, r.title)
		}
		if r.version < lower {
			v.problem("lost writes: movie %d has version %d in MySQL, but %d writes were acknowledged after its create",
				id, r.version, lower-1)
		}
		v.lostDB += int(max(lower-r.version, beyond, twice, content))
		if r.version > lower+unknown {
			v.duplicated += int(r.version - lower - unknown)
			v.problem("phantom writes: movie %d has version %d in MySQL, more than the %d acknowledged and %d unknown writes explain",
				id, r.version, lower-1, unknown)
		}
		switch {
		case deleteAcked && !r.deleted:
			v.resurrected++
			v.problem("resurrected in MySQL: movie %d was deleted (acknowledged) but is live at version %d", id, r.version)
		case r.deleted && !deleteTried:
			v.duplicated++
			v.problem("phantom delete: movie %d is deleted in MySQL but no delete was sent", id)
		}
	}
}

// indexDiff is one movie whose index state differs from MySQL.
type indexDiff struct {
	row dbRow
	got indexed
	err error
}

func (d indexDiff) String() string {
	switch {
	case d.err != nil:
		return fmt.Sprintf("movie %d: search did not answer: %v", d.row.id, d.err)
	case d.row.deleted:
		return fmt.Sprintf("movie %d: deleted in MySQL (version %d) but the index serves version %d", d.row.id, d.row.version, d.got.version)
	case !d.got.found:
		return fmt.Sprintf("movie %d: MySQL version %d, the index does not have it", d.row.id, d.row.version)
	default:
		return fmt.Sprintf("movie %d: MySQL version %d %q, the index has version %d %q", d.row.id, d.row.version, d.row.title, d.got.version, d.got.title)
	}
}

// indexDiffs reads the given movies from a search service and returns the ones that differ from MySQL.
func indexDiffs(ctx context.Context, cl *client, base string, rows []dbRow) []indexDiff {
	var mu sync.Mutex
	var diffs []indexDiff
	work := make(chan dbRow)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for r := range work {
				status, _, b, err := cl.do(ctx, "GET", fmt.Sprintf("%s/v1/movies/%d", base, r.id), nil, nil)
				got, err := decodeIndexed(status, b, err)
				ok := err == nil && ((r.deleted && !got.found) || (!r.deleted && got.found && got.version == r.version && got.title == r.title))
				if !ok {
					mu.Lock()
					diffs = append(diffs, indexDiff{row: r, got: got, err: err})
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range rows {
		work <- r
	}
	close(work)
	wg.Wait()
	slices.SortFunc(diffs, func(a, b indexDiff) int { return int(a.row.id - b.row.id) })
	return diffs
}

// converge waits until the index (read through the search service at base) equals MySQL, or until
// timeout; it fills the index figures of v. healed is when the last fault ended.
func converge(ctx context.Context, cl *client, base string, rows map[int64]dbRow, healed time.Time, timeout time.Duration, v *verdict) {
	all := make([]dbRow, 0, len(rows))
	for _, r := range rows {
		all = append(all, r)
	}
	deadline := time.Now().Add(timeout)
	pending := all
	var diffs []indexDiff
	for {
		diffs = indexDiffs(ctx, cl, base, pending)
		if len(diffs) == 0 && len(pending) < len(all) {
			pending = all // the stragglers are in: check everything once more
			continue
		}
		if len(diffs) == 0 {
			v.converged, v.converge = true, time.Since(healed)
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		pending = pending[:0:0]
		for _, d := range diffs {
			pending = append(pending, d.row)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	v.converge = time.Since(healed)
	for _, d := range diffs {
		switch {
		case d.err != nil:
			v.lostIndex++
		case d.row.deleted:
			v.resurrected++
		case d.got.found && d.got.version > d.row.version:
			v.ahead++
		default:
			v.lostIndex++
		}
		v.problem("not converged after %s: %s", timeout, d)
	}
}

// checkSearch searches each movie's unique token through the gateway: a live movie must be among the
// hits at its MySQL version, and no hit may be a deleted movie. It checks at most limit movies.
func checkSearch(ctx context.Context, cl *client, rows map[int64]dbRow, limit int, v *verdict) {
	ids := make([]int64, 0, len(rows))
	live := 0
	for id, r := range rows {
		ids = append(ids, id)
		if !r.deleted {
			live++
		}
	}
	// The index holds exactly the live movies: no phantom documents (for ids MySQL does not have) either.
	switch total, err := cl.searchTotal(ctx); {
	case err != nil:
		v.problem("search without text: %v", err)
		v.lostIndex++
	case total > uint64(live):
		v.ahead += int(total) - live
		v.problem("the index holds %d movies, MySQL %d live ones", total, live)
	case total < uint64(live):
		v.lostIndex += live - int(total)
		v.problem("the index holds %d movies, MySQL %d live ones", total, live)
	}
	slices.Sort(ids)
	if len(ids) > limit { // an even sample
		step := float64(len(ids)) / float64(limit)
		sample := make([]int64, 0, limit)
		for i := range limit {
			sample = append(sample, ids[int(float64(i)*step)])
		}
		ids = sample
	}
	seen := map[int64]bool{} // wrong hits already counted
	for _, id := range ids {
		r := rows[id]
		hits, err := cl.searchText(ctx, url.QueryEscape(r.token()))
		v.searched++
		if err != nil {
			v.lostIndex++
			v.problem("search %q: %v", r.token(), err)
			continue
		}
		found := false
		for _, h := range hits {
			hr, known := rows[h.ID]
			switch {
			case (!known || hr.deleted) && seen[h.ID]:
			case !known:
				seen[h.ID] = true
				v.ahead++
				v.problem("search %q: hit movie %d, which MySQL does not have", r.token(), h.ID)
			case hr.deleted:
				seen[h.ID] = true
				v.resurrected++
				v.problem("search %q: hit movie %d, deleted in MySQL", r.token(), h.ID)
			case h.ID == id:
				found = true
				if h.Version != r.version {
					v.lostIndex++
					v.problem("search %q: movie %d at version %d, MySQL has %d", r.token(), id, h.Version, r.version)
				}
			}
		}
		if !r.deleted && !found {
			v.lostIndex++
			v.problem("search %q: movie %d (live in MySQL at version %d) not among %d hits", r.token(), id, r.version, len(hits))
		}
	}
}

// replicaCheck builds a new search replica from the stream alone, in a fresh folder, and compares it with
// MySQL: the stream must be a replayable copy of the catalog. It returns the differences.
func replicaCheck(ctx context.Context, c *cluster, cl *client, rows map[int64]dbRow, n int) ([]indexDiff, time.Duration, error) {
	ports, err := freeport.Ports(1)
	if err != nil {
		return nil, 0, err
	}
	name := fmt.Sprintf("replica%d", n)
	p := c.searchProc(name, filepath.Join(c.dir, name), ports[0])
	t0 := time.Now()
	if err := p.start(); err != nil {
		return nil, 0, err
	}
	defer func() { _, _, _, _ = p.terminate(10 * time.Second) }()
	if err := waitHTTP(ctx, c.url(ports[0])+"/readyz", 60*time.Second); err != nil {
		return nil, 0, fmt.Errorf("replica not ready: %w", err)
	}
	took := time.Since(t0)
	all := make([]dbRow, 0, len(rows))
	for _, r := range rows {
		all = append(all, r)
	}
	return indexDiffs(ctx, cl, c.url(ports[0]), all), took, nil
}
