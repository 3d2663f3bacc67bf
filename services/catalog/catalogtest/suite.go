package catalogtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/services/catalog"
)

// Run runs the store contract suite. newStore must return a store over a new, empty, migrated database
// whose outbox events name subjects of events.DefaultStream.
func Run(t *testing.T, newStore func(t *testing.T) catalog.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalog.Store)
	}{
		{"CreateMovie/stores version 1 and its event", testCreate},
		{"UpdateMovie/bumps the version and writes an event", testUpdate},
		{"UpdateMovie/stale If-Match is PreconditionFailed and changes nothing", testUpdateStale},
		{"UpdateMovie/missing movie is NotFound", testUpdateMissing},
		{"DeleteMovie/writes a tombstone version", testDelete},
		{"DeleteMovie/stale If-Match is PreconditionFailed", testDeleteStale},
		{"DeleteMovie/ids are never reused", testIDsNotReused},
		{"Movies/pages in id order without deleted movies", testMovies},
		{"Outbox/pending in id order and MarkPublished", testPending},
		{"Outbox/DeletePublished deletes the acknowledged pending events only", testDeletePublished},
		{"Outbox/LastPublished, and UnmarkPublished unmarks each movie's last event since a time", testUnmarkPublished},
		{"Outbox/RepublishMovies queues the state of each movie with nothing pending", testRepublishMovies},
		{"Seed/is idempotent and keeps duplicate titles", testSeed},
		{"Seed/concurrent seeders store the movies once", testSeedConcurrent},
		{"Users/upsert, lookup and count admins", testUsers},
		{"SigningKeys/add and list", testSigningKeys},
		{"Concurrency/guarded updates: exactly one wins", testConcurrentGuarded},
		{"Concurrency/unconditional updates: versions and events in order", testConcurrentUnconditional},
		{"Fields/every field round-trips", testAllFields},
		{"ExternalIDs/duplicates are a Conflict naming the field; a delete frees them", testExternalIDs},
		{"History/who changed what, kept after the delete", testHistory},
		{"History/a creation shows every field it set, after later changes and a delete", testHistoryCreation},
		{"Idempotency/CreateMovieOnce replays and refuses another request", testCreateOnce},
		{"Idempotency/concurrent requests with one key create one movie", testCreateOnceConcurrent},
		{"Idempotency/claim, complete and release", testClaimKey},
		{"Import/creates, updates and leaves unchanged", testImport},
		{"Import/a conflicting record fails alone, across batches", testImportConflicts},
		{"Import/a record without ids merges into the film it describes", testImportSameFilm},
		{"Import/two sources merge alike in either order", testImportEitherOrder},
		{"Import/genres are stored in their canonical spelling", testImportGenres},
		{"Import/concurrent imports of new films all succeed", testImportConcurrent},
		{"Import/concurrent imports of one new film create it once", testImportSameNewFilmConcurrent},
		{"CreateMovie/concurrent creates of one new film: one wins, the others are told it exists", testCreateSameNewFilmConcurrent},
		{"Users/create, list and delete, never the last admin", testUserAdmin},
		{"Users/concurrent deletes keep one admin", testLastAdminConcurrent},
		{"APIKeys/create, look up, touch and revoke", testAPIKeys},
		{"APIKeys/revoked with their creator's delete, new password or role", testAPIKeysFollowTheirCreator},
		{"RefreshTokens/rotate once; a reuse revokes the family", testRefreshRotate},
		{"RefreshTokens/expired, unknown and revoked tokens do not rotate; prune", testRefreshDead},
		{"RefreshTokens/concurrent rotations of one token: one wins, the family is revoked", testRefreshConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// actor is the actor of the suite's changes.
const actor = "tester"

func ptr[T any](v T) *T { return &v }

func matrix() catalog.MovieInput {
	return catalog.MovieInput{
		Title:          "The Matrix",
		Year:           ptr(1999),
		Directors:      []string{"Lana Wachowski", "Lilly Wachowski"},
		Cast:           []string{"Keanu Reeves"},
		Genres:         []string{"Action", "Science Fiction"},
		Overview:       "A hacker learns the truth.",
		RuntimeMinutes: ptr(136),
		Rating:         ptr(8.7),
		Votes:          ptr(int64(22351)),
		Popularity:     ptr(87.5),
	}
}

// full is a movie with every field set, ids included.
func full() catalog.MovieInput {
	in := matrix()
	in.Tagline = "Welcome to the Real World."
	in.Keywords = []string{"cyberpunk", "simulated reality"}
	in.Tags = []string{"mind-bending"}
	in.OriginalLanguage = "en"
	in.Certification = "R"
	in.PosterURL = "https://image.tmdb.org/t/p/w500/matrix.jpg"
	in.TMDBID = ptr(int64(603))
	in.IMDbID = ptr("tt0133093")
	return in
}

func mustCreate(t *testing.T, s catalog.Store, in catalog.MovieInput) *catalog.Movie {
	t.Helper()
	m, err := s.CreateMovie(context.Background(), actor, in, catalog.CreateAnyway)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustPending(t *testing.T, s catalog.Store) []catalog.OutboxEvent {
	t.Helper()
	evs, err := s.PendingEvents(context.Background(), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); err == nil || got != code {
		t.Fatalf("err = %v (code %q), want code %q", err, got, code)
	}
}

// checkEvent asserts that e is the outbox event of m (an upsert) or of a tombstone of id at version.
func checkEvent(t *testing.T, e catalog.OutboxEvent, id, version int64, m *catalog.Movie) {
	t.Helper()
	if got, want := e.EventID, events.MsgID(id, version); got != want {
		t.Errorf("EventID = %q, want %q", got, want)
	}
	if e.MovieID != id || e.Version != version {
		t.Errorf("event movie/version = %d/%d, want %d/%d", e.MovieID, e.Version, id, version)
	}
	ev, err := events.Unmarshal(e.Payload)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	if ev.ID != id || ev.Version != version {
		t.Errorf("payload id/version = %d/%d, want %d/%d", ev.ID, ev.Version, id, version)
	}
	if m == nil {
		if ev.Type != events.MovieDeleted || ev.Movie != nil {
			t.Errorf("payload = %s, want a tombstone", e.Payload)
		}
		return
	}
	if ev.Type != events.MovieUpserted {
		t.Fatalf("payload type = %q, want upsert", ev.Type)
	}
	if want := catalog.EventMovie(m); !reflect.DeepEqual(ev.Movie, want) {
		t.Errorf("payload movie = %+v\nwant %+v", ev.Movie, want)
	}
}

func testCreate(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	in := matrix()
	m := mustCreate(t, s, in)
	if m.ID <= 0 || m.Version != 1 {
		t.Fatalf("created id/version = %d/%d, want >0/1", m.ID, m.Version)
	}
	if m.CreatedAt.IsZero() || !m.CreatedAt.Equal(m.UpdatedAt) {
		t.Errorf("CreatedAt/UpdatedAt = %v/%v", m.CreatedAt, m.UpdatedAt)
	}
	got, err := s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(catalog.EventMovie(got), catalog.EventMovie(m)) {
		t.Errorf("read back %+v\nwant %+v", catalog.EventMovie(got), catalog.EventMovie(m))
	}
	// Optional fields stay null and lists stay empty (not null).
	bare := mustCreate(t, s, catalog.MovieInput{Title: "Untitled"})
	got, err = s.Movie(ctx, bare.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Year != nil || got.Rating != nil || got.Votes != nil || got.Popularity != nil || got.RuntimeMinutes != nil {
		t.Errorf("bare movie has values: %+v", got)
	}
	if got.Directors == nil || len(got.Genres) != 0 {
		t.Errorf("bare movie lists = %#v / %#v, want empty", got.Directors, got.Genres)
	}
	evs := mustPending(t, s)
	if len(evs) != 2 {
		t.Fatalf("pending = %d events, want 2", len(evs))
	}
	checkEvent(t, evs[0], m.ID, 1, m)
	checkEvent(t, evs[1], bare.ID, 1, bare)
}

func testUpdate(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	in := matrix()
	in.Title, in.Rating, in.Cast = "The Matrix (1999)", nil, []string{"Keanu Reeves", "Carrie-Anne Moss"}
	u, err := s.UpdateMovie(ctx, actor, m.ID, 1, in)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 2 || u.Title != in.Title || u.Rating != nil || len(u.Cast) != 2 {
		t.Fatalf("updated = %+v", u)
	}
	if !u.CreatedAt.Equal(m.CreatedAt) || u.UpdatedAt.Before(m.UpdatedAt) {
		t.Errorf("times = %v/%v, created %v", u.CreatedAt, u.UpdatedAt, m.CreatedAt)
	}
	u3, err := s.UpdateMovie(ctx, actor, m.ID, 0, in) // unconditional
	if err != nil {
		t.Fatal(err)
	}
	if u3.Version != 3 {
		t.Fatalf("unconditional update version = %d, want 3", u3.Version)
	}
	got, err := s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(catalog.EventMovie(got), catalog.EventMovie(u3)) {
		t.Errorf("read back %+v\nwant %+v", got, u3)
	}
	evs := mustPending(t, s)
	if len(evs) != 3 {
		t.Fatalf("pending = %d events, want 3", len(evs))
	}
	checkEvent(t, evs[1], m.ID, 2, u)
	checkEvent(t, evs[2], m.ID, 3, u3)
}

func testUpdateStale(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	if _, err := s.UpdateMovie(ctx, actor, m.ID, 1, matrix()); err != nil {
		t.Fatal(err)
	}
	in := matrix()
	in.Title = "Overwritten"
	_, err := s.UpdateMovie(ctx, actor, m.ID, 1, in)
	wantCode(t, err, apperr.PreconditionFailed)
	got, err := s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Title != "The Matrix" {
		t.Errorf("after stale update: version %d title %q", got.Version, got.Title)
	}
	if n := len(mustPending(t, s)); n != 2 {
		t.Errorf("pending = %d events, want 2", n)
	}
}

func testUpdateMissing(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	_, err := s.UpdateMovie(ctx, actor, 999, 0, matrix())
	wantCode(t, err, apperr.NotFound)
	_, err = s.UpdateMovie(ctx, actor, 999, 1, matrix())
	wantCode(t, err, apperr.NotFound)
	_, err = s.DeleteMovie(ctx, actor, 999, 0)
	wantCode(t, err, apperr.NotFound)
	_, err = s.Movie(ctx, 999)
	wantCode(t, err, apperr.NotFound)
	if n := len(mustPending(t, s)); n != 0 {
		t.Errorf("pending = %d events, want 0", n)
	}
}

func testDelete(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	v, err := s.DeleteMovie(ctx, actor, m.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v != 2 {
		t.Fatalf("tombstone version = %d, want 2", v)
	}
	_, err = s.Movie(ctx, m.ID)
	wantCode(t, err, apperr.NotFound)
	_, err = s.UpdateMovie(ctx, actor, m.ID, 0, matrix())
	wantCode(t, err, apperr.NotFound)
	_, err = s.UpdateMovie(ctx, actor, m.ID, 2, matrix())
	wantCode(t, err, apperr.NotFound)
	_, err = s.DeleteMovie(ctx, actor, m.ID, 0)
	wantCode(t, err, apperr.NotFound)
	evs := mustPending(t, s)
	if len(evs) != 2 {
		t.Fatalf("pending = %d events, want 2", len(evs))
	}
	checkEvent(t, evs[1], m.ID, 2, nil)
}

func testDeleteStale(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	if _, err := s.UpdateMovie(ctx, actor, m.ID, 1, matrix()); err != nil {
		t.Fatal(err)
	}
	_, err := s.DeleteMovie(ctx, actor, m.ID, 1)
	wantCode(t, err, apperr.PreconditionFailed)
	if _, err := s.Movie(ctx, m.ID); err != nil {
		t.Fatalf("movie after stale delete: %v", err)
	}
	v, err := s.DeleteMovie(ctx, actor, m.ID, 0)
	if err != nil || v != 3 {
		t.Fatalf("unconditional delete = %d, %v; want 3", v, err)
	}
}

func testIDsNotReused(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, matrix())
	if _, err := s.DeleteMovie(ctx, actor, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	b := mustCreate(t, s, matrix())
	if b.ID <= a.ID {
		t.Errorf("new id %d after deleted id %d", b.ID, a.ID)
	}
}

func testMovies(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		in := matrix()
		in.Title = fmt.Sprintf("Movie %d", i)
		ids = append(ids, mustCreate(t, s, in).ID)
	}
	if _, err := s.DeleteMovie(ctx, actor, ids[2], 0); err != nil {
		t.Fatal(err)
	}
	var got []int64
	after := int64(0)
	for {
		page, err := s.Movies(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			got = append(got, m.ID)
		}
		after = page[len(page)-1].ID
	}
	want := []int64{ids[0], ids[1], ids[3], ids[4]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func testPending(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	var ms []*catalog.Movie
	for range 3 {
		ms = append(ms, mustCreate(t, s, matrix()))
	}
	evs, err := s.PendingEvents(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID >= evs[1].ID || evs[0].MovieID != ms[0].ID || evs[1].MovieID != ms[1].ID {
		t.Fatalf("first page = %+v", evs)
	}
	if err := s.MarkPublished(ctx, []int64{evs[0].ID, evs[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPublished(ctx, []int64{evs[0].ID}); err != nil { // again: harmless
		t.Fatal(err)
	}
	rest := mustPending(t, s)
	if len(rest) != 1 || rest[0].MovieID != ms[2].ID {
		t.Fatalf("pending after mark = %+v", rest)
	}
	n, err := s.Backlog(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Backlog = %d, %v; want 1", n, err)
	}
	if err := s.MarkPublished(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func testDeletePublished(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	for range 3 {
		mustCreate(t, s, matrix())
	}
	evs := mustPending(t, s)
	if err := s.MarkPublished(ctx, []int64{evs[0].ID}); err != nil {
		t.Fatal(err)
	}
	// A marked row is the kept record of a publication: DeletePublished leaves it to the pruning.
	if err := s.DeletePublished(ctx, []int64{evs[0].ID, evs[1].ID}); err != nil {
		t.Fatal(err)
	}
	rest := mustPending(t, s)
	if len(rest) != 1 || rest[0].ID != evs[2].ID {
		t.Fatalf("pending after delete = %+v, want the third event only", rest)
	}
	if n, err := s.PrunePublished(ctx, time.Now().Add(time.Hour), 10); err != nil || n != 1 {
		t.Errorf("PrunePublished = %d, %v; want the marked row", n, err)
	}
	if err := s.DeletePublished(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func testRepublishMovies(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	live, deleted, waiting := mustCreate(t, s, matrix()), mustCreate(t, s, full()), mustCreate(t, s, matrix())
	if _, err := s.DeleteMovie(ctx, actor, deleted.ID, 1); err != nil {
		t.Fatal(err)
	}
	var published []int64
	for _, e := range mustPending(t, s) {
		if e.MovieID != waiting.ID {
			published = append(published, e.ID)
		}
	}
	if err := s.MarkPublished(ctx, published); err != nil {
		t.Fatal(err)
	}
	if queued, err := s.RepublishMovies(ctx, nil); err != nil || len(queued) != 0 {
		t.Fatalf("nothing to republish: %v, %v", queued, err)
	}
	// In any order, with a movie that never existed; the one with an event waiting is left to the relay.
	queued, err := s.RepublishMovies(ctx, []int64{waiting.ID, 1 << 40, deleted.ID, live.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{live.ID, deleted.ID}; !reflect.DeepEqual(queued, want) {
		t.Fatalf("queued %v, want %v", queued, want)
	}
	evs := mustPending(t, s)
	if len(evs) != 3 || evs[0].MovieID != waiting.ID || evs[1].MovieID != live.ID || evs[2].MovieID != deleted.ID {
		t.Fatalf("pending after the repair = %+v", evs)
	}
	for _, e := range evs[1:] {
		if e.EventID == events.MsgID(e.MovieID, e.Version) {
			t.Errorf("a repair of movie %d reuses its write's message id %q, which the duplicate window drops", e.MovieID, e.EventID)
		}
		e.EventID = events.MsgID(e.MovieID, e.Version) // checkEvent compares the rest
		if e.MovieID == live.ID {
			checkEvent(t, e, live.ID, 1, live)
		} else {
			checkEvent(t, e, deleted.ID, 2, nil)
		}
	}
}

func testUnmarkPublished(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	a, b := mustCreate(t, s, matrix()), mustCreate(t, s, matrix())
	if _, err := s.UpdateMovie(ctx, "tester", a.ID, 1, catalog.MovieInput{Title: "A2"}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range mustPending(t, s) {
		ids = append(ids, e.ID)
	}
	if last, err := s.LastPublished(ctx); err != nil || !last.IsZero() {
		t.Fatalf("LastPublished before any = %v, %v; want zero", last, err)
	}
	before := time.Now().Add(-time.Second)
	if err := s.MarkPublished(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastPublished(ctx); err != nil || last.Before(before) || last.After(time.Now().Add(time.Second)) {
		t.Fatalf("LastPublished = %v, %v; want about now", last, err)
	}
	if n, err := s.UnmarkPublished(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("UnmarkPublished(in a minute) = %d, %v; want 0", n, err)
	}
	n, err := s.UnmarkPublished(ctx, time.Now().Add(-time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("UnmarkPublished(a minute ago) = %d, %v; want 2: A's last event and B's", n, err)
	}
	got := map[int64]int64{}
	for _, e := range mustPending(t, s) {
		got[e.MovieID] = e.Version
	}
	if want := map[int64]int64{a.ID: 2, b.ID: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("pending movie versions %v, want %v", got, want)
	}
}

func seedInputs() []catalog.MovieInput {
	return []catalog.MovieInput{
		{Title: "The Wizard of Oz", Directors: []string{"Victor Fleming"}, Rating: ptr(8.3), Popularity: ptr(83.0)},
		{Title: "The Wizard of Oz", Directors: []string{"Larry Semon"}, Rating: ptr(5.3), Popularity: ptr(53.0)},
		{Title: "Batman", Directors: []string{"Oscar Rudolph"}, Rating: ptr(7.7)},
		{Title: "Batman", Directors: []string{"Tim Burton"}, Rating: ptr(7.6)},
	}
}

func countMovies(t *testing.T, s catalog.Store) int {
	t.Helper()
	ms, err := s.Movies(context.Background(), 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func testSeed(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	if seeded, err := s.Seeded(ctx); err != nil || seeded {
		t.Fatalf("Seeded before any seed = %v, %v; want false", seeded, err)
	}
	n, err := s.Seed(ctx, seedInputs(), "test")
	if err != nil || n != 4 {
		t.Fatalf("first Seed = %d, %v; want 4", n, err)
	}
	n, err = s.Seed(ctx, seedInputs(), "test")
	if err != nil || n != 0 {
		t.Fatalf("second Seed = %d, %v; want 0", n, err)
	}
	if seeded, err := s.Seeded(ctx); err != nil || !seeded {
		t.Fatalf("Seeded after a seed = %v, %v; want true", seeded, err)
	}
	if got := countMovies(t, s); got != 4 {
		t.Errorf("movies = %d, want 4", got)
	}
	if got := len(mustPending(t, s)); got != 4 {
		t.Errorf("pending events = %d, want 4", got)
	}
}

func testSeedConcurrent(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]int, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = s.Seed(ctx, seedInputs(), "test") })
	}
	wg.Wait()
	total := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("seeder %d: %v", i, errs[i])
		}
		total += results[i]
	}
	if total != 4 {
		t.Errorf("seeders inserted %v, want 4 in total", results)
	}
	if got := countMovies(t, s); got != 4 {
		t.Errorf("movies = %d, want 4", got)
	}
}

func testUsers(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	_, err := s.UserByName(ctx, "ada")
	wantCode(t, err, apperr.NotFound)
	if n, err := s.CountAdmins(ctx); err != nil || n != 0 {
		t.Fatalf("CountAdmins = %d, %v; want 0", n, err)
	}
	if err := s.UpsertUser(ctx, catalog.User{Username: "ada", Role: catalog.RoleUser, PasswordHash: "h1"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "ada" || u.Role != catalog.RoleUser || u.PasswordHash != "h1" || u.CreatedAt.IsZero() {
		t.Fatalf("user = %+v", u)
	}
	if err := s.UpsertUser(ctx, catalog.User{Username: "ada", Role: catalog.RoleAdmin, PasswordHash: "h2"}); err != nil {
		t.Fatal(err)
	}
	u2, err := s.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Role != catalog.RoleAdmin || u2.PasswordHash != "h2" || !u2.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("user after upsert = %+v (first %+v)", u2, u)
	}
	if err := s.UpsertUser(ctx, catalog.User{Username: "bob", Role: catalog.RoleUser, PasswordHash: "h3"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountAdmins(ctx); err != nil || n != 1 {
		t.Fatalf("CountAdmins = %d, %v; want 1", n, err)
	}
	_, err = s.UserByName(ctx, "ADA") // usernames are exact, whatever the collation
	wantCode(t, err, apperr.NotFound)
}

func testSigningKeys(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys = %v, %v; want none", keys, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddSigningKey(ctx, catalog.SigningKey{Kid: "k1", Private: priv}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // distinct created_at, so the order is by age
	_, priv2, _ := ed25519.GenerateKey(rand.Reader)
	if err := s.AddSigningKey(ctx, catalog.SigningKey{Kid: "k0", Private: priv2}); err != nil {
		t.Fatal(err)
	}
	err = s.AddSigningKey(ctx, catalog.SigningKey{Kid: "k1", Private: priv2})
	wantCode(t, err, apperr.Conflict)
	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Kid != "k1" || keys[1].Kid != "k0" || !keys[0].Private.Equal(priv) {
		t.Fatalf("keys = %+v", keys)
	}
}

func testConcurrentGuarded(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			in := matrix()
			in.Title = fmt.Sprintf("Writer %d", i)
			_, errs[i] = s.UpdateMovie(ctx, actor, m.ID, 1, in)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("writers %d and %d both won", won, i)
		case err == nil:
			won = i
		default:
			wantCode(t, err, apperr.PreconditionFailed)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	got, err := s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Title != fmt.Sprintf("Writer %d", won) {
		t.Errorf("final = v%d %q, want v2 by writer %d", got.Version, got.Title, won)
	}
	if n := len(mustPending(t, s)); n != 2 {
		t.Errorf("pending = %d events, want 2", n)
	}
}

func testConcurrentUnconditional(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, matrix())
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() { _, errs[i] = s.UpdateMovie(ctx, actor, m.ID, 0, matrix()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	evs := mustPending(t, s)
	if len(evs) != writers+1 {
		t.Fatalf("pending = %d events, want %d", len(evs), writers+1)
	}
	// The row lock orders the writers, so outbox order is version order.
	for i, e := range evs {
		if e.Version != int64(i+1) {
			t.Fatalf("event %d has version %d, want %d", i, e.Version, i+1)
		}
	}
}

func testAllFields(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	m := mustCreate(t, s, full())
	got, err := s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(catalog.EventMovie(got), catalog.EventMovie(m)) {
		t.Fatalf("read back %+v\nwant %+v", catalog.EventMovie(got), catalog.EventMovie(m))
	}
	if *got.TMDBID != 603 || *got.IMDbID != "tt0133093" || got.Tagline == "" || len(got.Keywords) != 2 || len(got.Tags) != 1 ||
		got.OriginalLanguage != "en" || got.Certification != "R" || got.PosterURL == "" {
		t.Fatalf("fields lost: %+v", got)
	}
	in := full()
	in.Keywords, in.TMDBID, in.IMDbID, in.Tagline = nil, nil, nil, ""
	u, err := s.UpdateMovie(ctx, actor, m.ID, 1, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Movie(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TMDBID != nil || got.IMDbID != nil || got.Tagline != "" || got.Keywords == nil || len(got.Keywords) != 0 {
		t.Fatalf("cleared fields = %+v", got)
	}
	evs := mustPending(t, s)
	checkEvent(t, evs[0], m.ID, 1, m)
	checkEvent(t, evs[1], m.ID, 2, u)
}

func testExternalIDs(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, full())
	for _, tc := range []struct {
		field  string
		change func(*catalog.MovieInput)
	}{
		{"tmdb_id", func(in *catalog.MovieInput) { in.IMDbID = ptr("tt0000001") }},
		{"imdb_id", func(in *catalog.MovieInput) { in.TMDBID = ptr(int64(1)) }},
	} {
		in := full()
		tc.change(&in)
		_, err := s.CreateMovie(ctx, actor, in, catalog.CreateAnyway)
		wantCode(t, err, apperr.Conflict)
		if f := apperr.FieldsOf(err); f[tc.field] == "" || len(f) != 1 {
			t.Errorf("create conflict on %s names %v", tc.field, f)
		}
	}
	b := mustCreate(t, s, matrix()) // no ids: NULLs may repeat
	mustCreate(t, s, matrix())
	_, err := s.UpdateMovie(ctx, actor, b.ID, 0, full())
	wantCode(t, err, apperr.Conflict)
	if f := apperr.FieldsOf(err); f["tmdb_id"] == "" && f["imdb_id"] == "" {
		t.Errorf("update conflict names %v", f)
	}
	if n := len(mustPending(t, s)); n != 3 {
		t.Errorf("pending = %d events, want 3 (conflicts write none)", n)
	}
	if _, err := s.DeleteMovie(ctx, actor, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateMovie(ctx, actor, b.ID, 0, full()); err != nil {
		t.Fatalf("ids of a deleted movie are not free: %v", err)
	}
}

func testHistory(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	_, err := s.MovieHistory(ctx, 12345)
	wantCode(t, err, apperr.NotFound)
	m := mustCreate(t, s, catalog.MovieInput{Title: "Heat", Year: ptr(1995)})
	in := catalog.MovieInput{Title: "Heat", Year: ptr(1995), Genres: []string{"Crime"}, Rating: ptr(8.3)}
	if _, err := s.UpdateMovie(ctx, "ada", m.ID, 1, in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMovie(ctx, "key:7", m.ID, 2); err != nil {
		t.Fatal(err)
	}
	hs, err := s.MovieHistory(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 {
		t.Fatalf("history = %+v", hs)
	}
	want := []struct {
		action, actor string
		fields        []string
	}{
		{catalog.ActionCreated, actor, []string{"title", "year"}},
		{catalog.ActionUpdated, "ada", []string{"genres", "rating"}},
		{catalog.ActionDeleted, "key:7", nil},
	}
	for i, w := range want {
		h := hs[i]
		if h.Version != int64(i+1) || h.Action != w.action || h.Actor != w.actor || h.At.IsZero() || len(h.Changes) != len(w.fields) {
			t.Errorf("entry %d = %+v, want %+v", i, h, w)
			continue
		}
		for _, f := range w.fields {
			if _, ok := h.Changes[f]; !ok {
				t.Errorf("entry %d lacks %s: %v", i, f, h.Changes)
			}
		}
	}
	if c := hs[0].Changes["title"]; string(c.From) != "null" || string(c.To) != `"Heat"` {
		t.Errorf("created title change = %s -> %s", c.From, c.To)
	}
	if c := hs[1].Changes["genres"]; string(c.From) != "[]" || string(c.To) != `["Crime"]` {
		t.Errorf("genres change = %s -> %s", c.From, c.To)
	}
}

func testHistoryCreation(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	first := matrix()
	first.Tags, first.TMDBID, first.IMDbID = []string{"cyberpunk"}, ptr(int64(603)), ptr("tt0133093")
	m := mustCreate(t, s, first)
	second := first
	second.Title, second.Cast, second.Tags, second.Rating = "Matrix", []string{"Keanu Reeves", "Carrie-Anne Moss"}, nil, nil
	if _, err := s.UpdateMovie(ctx, "ada", m.ID, 1, second); err != nil {
		t.Fatal(err)
	}
	third := second
	third.Title, third.Year, third.Overview = "The Matrix", ptr(2000), ""
	if _, err := s.UpdateMovie(ctx, "ada", m.ID, 2, third); err != nil {
		t.Fatal(err)
	}
	want := catalog.Diff(nil, &first)
	for _, deleted := range []bool{false, true} {
		if deleted {
			if _, err := s.DeleteMovie(ctx, "ada", m.ID, 3); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := s.MovieHistory(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) < 3 || hs[0].Action != catalog.ActionCreated {
			t.Fatalf("history = %+v", hs)
		}
		if !reflect.DeepEqual(hs[0].Changes, want) {
			t.Errorf("deleted %v: creation = %s, want %s", deleted, changesOf(hs[0].Changes), changesOf(want))
		}
		if deleted {
			if got := hs[3].Changes["tmdb_id"]; string(got.From) != "603" || string(got.To) != "null" {
				t.Errorf("the delete's freed tmdb_id = %s -> %s", got.From, got.To)
			}
		}
	}
}

func changesOf(cs map[string]catalog.FieldChange) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(cs)) {
		fmt.Fprintf(&b, "%s: %s -> %s; ", k, cs[k].From, cs[k].To)
	}
	return b.String()
}

func idemKey(key, body string) catalog.IdempotencyKey {
	return catalog.IdempotencyKey{Principal: "ada", Key: key, RequestHash: fmt.Sprintf("%064x", len(body)) + body[:0]}
}

func respondWith(m *catalog.Movie) (catalog.SavedResponse, error) {
	return catalog.SavedResponse{Status: 201, Location: fmt.Sprintf("/v1/movies/%d", m.ID), ETag: `"1"`, Body: []byte(m.Title)}, nil
}

func testCreateOnce(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	key := idemKey("k1", "body")
	first, replayed, err := s.CreateMovieOnce(ctx, actor, matrix(), catalog.CreateAnyway, key, respondWith)
	if err != nil || replayed || first.Status != 201 || string(first.Body) != "The Matrix" {
		t.Fatalf("first = %+v, %v, %v", first, replayed, err)
	}
	in := matrix()
	in.Title = "Something else" // a retry re-sends the same body; what counts is the hash
	again, replayed, err := s.CreateMovieOnce(ctx, actor, in, catalog.CreateAnyway, key, respondWith)
	if err != nil || !replayed || !reflect.DeepEqual(again, first) {
		t.Fatalf("retry = %+v, %v, %v; want %+v replayed", again, replayed, err, first)
	}
	_, _, err = s.CreateMovieOnce(ctx, actor, matrix(), catalog.CreateAnyway, idemKey("k1", "other body"), respondWith)
	wantCode(t, err, apperr.Unprocessable)
	other := key
	other.Principal = "bob" // keys are per principal
	if _, replayed, err := s.CreateMovieOnce(ctx, actor, matrix(), catalog.CreateAnyway, other, respondWith); err != nil || replayed {
		t.Fatalf("another principal's key: %v, %v", replayed, err)
	}
	if got := countMovies(t, s); got != 2 {
		t.Errorf("movies = %d, want 2", got)
	}
	// A failed creation does not keep the key.
	dup := full()
	mustCreate(t, s, dup)
	_, _, err = s.CreateMovieOnce(ctx, actor, dup, catalog.CreateAnyway, idemKey("k2", "x"), respondWith)
	wantCode(t, err, apperr.Conflict)
	saved, err := s.ClaimIdempotencyKey(ctx, idemKey("k2", "x"))
	if err != nil || saved != nil {
		t.Fatalf("key of a failed creation: %+v, %v", saved, err)
	}
	if n, err := s.PruneIdempotencyKeys(ctx); err != nil || n != 0 {
		t.Errorf("PruneIdempotencyKeys = %d, %v; want 0 (nothing expired)", n, err)
	}
}

func testCreateOnceConcurrent(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	const clients = 6
	var wg sync.WaitGroup
	replays := make([]bool, clients)
	errs := make([]error, clients)
	for i := range clients {
		wg.Go(func() {
			_, replays[i], errs[i] = s.CreateMovieOnce(ctx, actor, matrix(), catalog.CreateAnyway, idemKey("same", "b"), respondWith)
		})
	}
	wg.Wait()
	firsts := 0
	for i := range clients {
		switch {
		case errs[i] != nil:
			wantCode(t, errs[i], apperr.Conflict) // still in progress
		case !replays[i]:
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d requests created, want 1 (errors %v)", firsts, errs)
	}
	if got := countMovies(t, s); got != 1 {
		t.Errorf("movies = %d, want 1", got)
	}
}

func testClaimKey(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	key := idemKey("import-1", "body")
	if saved, err := s.ClaimIdempotencyKey(ctx, key); err != nil || saved != nil {
		t.Fatalf("first claim = %+v, %v", saved, err)
	}
	_, err := s.ClaimIdempotencyKey(ctx, key)
	wantCode(t, err, apperr.Conflict)
	_, err = s.ClaimIdempotencyKey(ctx, idemKey("import-1", "another body"))
	wantCode(t, err, apperr.Unprocessable)
	resp := catalog.SavedResponse{Status: 200, Body: []byte(`{"total":1}`)}
	if err := s.CompleteIdempotencyKey(ctx, key, resp); err != nil {
		t.Fatal(err)
	}
	saved, err := s.ClaimIdempotencyKey(ctx, key)
	if err != nil || saved == nil || saved.Status != 200 || string(saved.Body) != `{"total":1}` {
		t.Fatalf("claim after completion = %+v, %v", saved, err)
	}
	k2 := idemKey("import-2", "body")
	if saved, err := s.ClaimIdempotencyKey(ctx, k2); err != nil || saved != nil {
		t.Fatal(saved, err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if saved, err := s.ClaimIdempotencyKey(ctx, k2); err != nil || saved != nil {
		t.Fatalf("claim after release = %+v, %v", saved, err)
	}
}

func testImport(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	existing := mustCreate(t, s, full())
	byIMDb := matrix()
	byIMDb.Title, byIMDb.IMDbID = "Heat", ptr("tt0113277")
	heat := mustCreate(t, s, byIMDb)
	changed := full()
	changed.Rating = ptr(8.2)
	heatWithTMDB := byIMDb
	heatWithTMDB.TMDBID = ptr(int64(949)) // matched by imdb_id, gains its tmdb_id
	newOne := matrix()
	newOne.Title, newOne.TMDBID = "Ronin", ptr(int64(8195))
	again := newOne // the same record twice: created, then unchanged
	inputs := []catalog.MovieInput{full(), changed, heatWithTMDB, newOne, again}
	for i := range inputs {
		if err := inputs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.ImportMovies(ctx, "import:ada", inputs)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.ImportStatus{catalog.ImportUnchanged, catalog.ImportUpdated, catalog.ImportUpdated, catalog.ImportCreated, catalog.ImportUnchanged}
	for i, w := range want {
		if rs[i].Status != w || rs[i].Movie == nil || rs[i].Err != nil {
			t.Fatalf("result %d = %+v, want %s", i, rs[i], w)
		}
	}
	if rs[0].Movie.ID != existing.ID || rs[0].Movie.Version != 1 || rs[1].Movie.Version != 2 || rs[2].Movie.ID != heat.ID ||
		rs[3].Movie.ID != rs[4].Movie.ID {
		t.Fatalf("results = %+v %+v %+v %+v", rs[0].Movie, rs[1].Movie, rs[2].Movie, rs[3].Movie)
	}
	if got := countMovies(t, s); got != 3 {
		t.Errorf("movies = %d, want 3", got)
	}
	if n := len(mustPending(t, s)); n != 5 {
		t.Errorf("pending = %d events, want 5 (2 creates, 2 updates, 1 import create)", n)
	}
	hs, err := s.MovieHistory(ctx, heat.ID)
	if err != nil || len(hs) != 2 || hs[1].Actor != "import:ada" || len(hs[1].Changes) != 1 {
		t.Fatalf("history of the imported update = %+v, %v", hs, err)
	}
}

func testImportConflicts(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	owner := mustCreate(t, s, full()) // holds tmdb 603 and tt0133093
	var inputs []catalog.MovieInput
	const n = 1200 // more than two batches
	for i := range n {
		in := catalog.MovieInput{Title: fmt.Sprintf("Movie %d", i), TMDBID: ptr(int64(100_000 + i))}
		if i == 700 || i == 1100 {
			in.IMDbID = ptr("tt0133093") // belongs to another movie: fails
		}
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, in)
	}
	rs, err := s.ImportMovies(ctx, "import:ada", inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if i == 700 || i == 1100 {
			if r.Status != catalog.ImportFailed || apperr.FieldsOf(r.Err)["imdb_id"] == "" {
				t.Fatalf("record %d = %+v, want failed on imdb_id", i, r)
			}
			continue
		}
		if r.Status != catalog.ImportCreated {
			t.Fatalf("record %d = %+v, want created", i, r)
		}
	}
	if got := countMovies(t, s); got != n-2+1 {
		t.Errorf("movies = %d, want %d", got, n-2+1)
	}
	if got := len(mustPending(t, s)); got != n-2+1 {
		t.Errorf("events = %d, want %d (one per change)", got, n-2+1)
	}
	if m, err := s.Movie(ctx, owner.ID); err != nil || m.Version != 1 {
		t.Errorf("owner changed: %+v, %v", m, err)
	}
}

func testUserAdmin(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	u, err := s.CreateUser(ctx, catalog.User{Username: "ada", Role: catalog.RoleAdmin, PasswordHash: "h"})
	if err != nil || u.CreatedAt.IsZero() {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	_, err = s.CreateUser(ctx, catalog.User{Username: "ada", Role: catalog.RoleUser, PasswordHash: "h2"})
	wantCode(t, err, apperr.Conflict)
	if _, err := s.CreateUser(ctx, catalog.User{Username: "bob", Role: catalog.RoleUser, PasswordHash: "h3"}); err != nil {
		t.Fatal(err)
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Username != "ada" || us[1].Username != "bob" || us[0].Role != catalog.RoleAdmin {
		t.Fatalf("Users = %+v, %v", us, err)
	}
	wantCode(t, s.DeleteUser(ctx, "ada"), apperr.Conflict) // the last admin
	wantCode(t, s.DeleteUser(ctx, "nobody"), apperr.NotFound)
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	_, err = s.UserByName(ctx, "bob")
	wantCode(t, err, apperr.NotFound)
}

func testLastAdminConcurrent(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	names := []string{"a1", "a2", "a3"}
	for _, n := range names {
		if _, err := s.CreateUser(ctx, catalog.User{Username: n, Role: catalog.RoleAdmin, PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Go(func() { errs[i] = s.DeleteUser(ctx, n) })
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		if err != nil {
			wantCode(t, err, apperr.Conflict)
			refused++
		}
	}
	if n, err := s.CountAdmins(ctx); err != nil || n != 1 || refused != 1 {
		t.Fatalf("admins left = %d, %v (refused %d); want 1", n, err, refused)
	}
}

func testAPIKeys(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	hash := catalog.HashAPIKey("mq_one")
	k, err := s.CreateAPIKey(ctx, catalog.APIKey{Name: "ci", Role: catalog.RoleUser, Hash: hash, CreatedBy: "ada"})
	if err != nil || k.ID <= 0 || k.CreatedAt.IsZero() {
		t.Fatalf("CreateAPIKey = %+v, %v", k, err)
	}
	got, err := s.APIKeyByHash(ctx, hash)
	if err != nil || got.ID != k.ID || got.Name != "ci" || got.Role != catalog.RoleUser || got.CreatedBy != "ada" ||
		got.LastUsedAt != nil || got.RevokedAt != nil || got.Subject() != fmt.Sprintf("key:%d", k.ID) {
		t.Fatalf("APIKeyByHash = %+v, %v", got, err)
	}
	_, err = s.APIKeyByHash(ctx, catalog.HashAPIKey("mq_two"))
	wantCode(t, err, apperr.NotFound)
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.TouchAPIKey(ctx, k.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, k.ID); err != nil { // again: no change
		t.Fatal(err)
	}
	wantCode(t, s.RevokeAPIKey(ctx, 999), apperr.NotFound)
	ks, err := s.APIKeys(ctx)
	if err != nil || len(ks) != 1 || ks[0].LastUsedAt == nil || !ks[0].LastUsedAt.Equal(at) || ks[0].RevokedAt == nil {
		t.Fatalf("APIKeys = %+v, %v", ks, err)
	}
}

func testAPIKeysFollowTheirCreator(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	for _, name := range []string{"ada", "bob", "root"} {
		if err := s.UpsertUser(ctx, catalog.User{Username: name, Role: catalog.RoleAdmin, PasswordHash: "h1"}); err != nil {
			t.Fatal(err)
		}
	}
	ada, err := s.UserByName(ctx, "ada")
	if err != nil || ada.UpdatedAt.IsZero() || ada.UpdatedAt.Before(ada.CreatedAt) {
		t.Fatalf("UserByName = %+v, %v", ada, err)
	}
	key := func(name, by string) int64 {
		t.Helper()
		k, err := s.CreateAPIKey(ctx, catalog.APIKey{Name: name, Role: catalog.RoleAdmin, Hash: catalog.HashAPIKey("mq_" + name), CreatedBy: by})
		if err != nil {
			t.Fatal(err)
		}
		return k.ID
	}
	adaKey, bobKey, rootKey := key("a", "ada"), key("b", "bob"), key("r", "root")
	time.Sleep(time.Millisecond) // the reset below is later than the keys
	if err := s.UpsertUser(ctx, catalog.User{Username: "ada", Role: catalog.RoleAdmin, PasswordHash: "h2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	after, err := s.UserByName(ctx, "ada")
	if err != nil || !after.UpdatedAt.After(ada.UpdatedAt) || !after.CreatedAt.Equal(ada.CreatedAt) {
		t.Fatalf("after a new password: %+v (before %+v), %v", after, ada, err)
	}
	for id, wantRevoked := range map[int64]bool{adaKey: true, bobKey: true, rootKey: false} {
		k, err := s.APIKeyByID(ctx, id)
		if err != nil || (k.RevokedAt != nil) != wantRevoked {
			t.Fatalf("key %d: %+v, %v; want revoked %v", id, k, err, wantRevoked)
		}
	}
	_, err = s.APIKeyByID(ctx, 9999)
	wantCode(t, err, apperr.NotFound)
}

func refreshToken(name, family string, expires time.Time) catalog.RefreshToken {
	return catalog.RefreshToken{Hash: catalog.HashRefreshToken(name), Family: family, Username: "ada", Role: catalog.RoleAdmin,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ExpiresAt: expires}
}

func testRefreshRotate(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	first := refreshToken("r1", "fam1", now.Add(time.Hour))
	if err := s.CreateRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	other := refreshToken("o1", "fam2", now.Add(time.Hour))
	if err := s.CreateRefreshToken(ctx, other); err != nil {
		t.Fatal(err)
	}
	next, err := s.RotateRefreshToken(ctx, first.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("r2"), ExpiresAt: now.Add(2 * time.Hour)}, now)
	if err != nil || next.Family != "fam1" || next.Username != "ada" || next.Role != catalog.RoleAdmin ||
		!next.StartedAt.Equal(first.StartedAt) || string(next.Hash) != string(catalog.HashRefreshToken("r2")) {
		t.Fatalf("RotateRefreshToken = %+v, %v", next, err)
	}
	// r1 again: a copy of a used token. The family goes, r2 with it; the other family stays.
	_, err = s.RotateRefreshToken(ctx, first.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("r3"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.Conflict)
	_, err = s.RotateRefreshToken(ctx, next.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("r4"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.NotFound)
	if _, err := s.RotateRefreshToken(ctx, other.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("o2"), ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatalf("the other family: %v", err)
	}
	// A logout revokes a family by any of its tokens.
	if err := s.RevokeRefreshFamily(ctx, other.Hash); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateRefreshToken(ctx, catalog.HashRefreshToken("o2"), catalog.RefreshToken{Hash: catalog.HashRefreshToken("o3"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.NotFound)
	if err := s.RevokeRefreshFamily(ctx, catalog.HashRefreshToken("nobody")); err != nil {
		t.Fatalf("RevokeRefreshFamily(unknown) = %v", err)
	}
}

func testRefreshDead(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	old := refreshToken("old", "famA", now.Add(-time.Second))
	live := refreshToken("live", "famB", now.Add(time.Hour))
	for _, tok := range []catalog.RefreshToken{old, live} {
		if err := s.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.RotateRefreshToken(ctx, old.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("x"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.NotFound)
	_, err = s.RotateRefreshToken(ctx, catalog.HashRefreshToken("unknown"), catalog.RefreshToken{Hash: catalog.HashRefreshToken("y"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.NotFound)
	if n, err := s.PruneRefreshTokens(ctx, now); err != nil || n != 1 {
		t.Fatalf("PruneRefreshTokens = %d, %v; want 1 (the expired token)", n, err)
	}
	if _, err := s.RotateRefreshToken(ctx, live.Hash, catalog.RefreshToken{Hash: catalog.HashRefreshToken("z"), ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatalf("the live token after the prune: %v", err)
	}
}

func testRefreshConcurrent(t *testing.T, s catalog.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	tok := refreshToken("c", "famC", now.Add(time.Hour))
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := catalog.RefreshToken{Hash: catalog.HashRefreshToken(fmt.Sprintf("c%d", i)), ExpiresAt: now.Add(time.Hour)}
			_, errs[i] = s.RotateRefreshToken(ctx, tok.Hash, next, now)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Fatalf("rotations %d and %d both won", won, i)
		case !apperr.Is(err, apperr.Conflict) && !apperr.Is(err, apperr.NotFound):
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatalf("no rotation won: %v", errs)
	}
	// The losers showed a used token: the winner's new token is revoked with its family.
	_, err := s.RotateRefreshToken(ctx, catalog.HashRefreshToken(fmt.Sprintf("c%d", won)), catalog.RefreshToken{Hash: catalog.HashRefreshToken("d"), ExpiresAt: now.Add(time.Hour)}, now)
	wantCode(t, err, apperr.NotFound)
}

// seedGodfather and tmdbGodfather are one film as the two sources describe it: the seed without a year,
// ids or votes, the TMDB-like catalog richer.
func seedGodfather(title string) catalog.MovieInput {
	return catalog.MovieInput{Title: title, Directors: []string{"Francis Ford Coppola"}, Genres: []string{"Crime", "Drama", "Sci-Fi"},
		Rating: ptr(9.2), Popularity: ptr(92.0)}
}

func tmdbGodfather(title string, tmdbID int64) catalog.MovieInput {
	return catalog.MovieInput{Title: title, Year: ptr(1972), Directors: []string{"Francis Ford Coppola"}, Cast: []string{"Marlon Brando"},
		Genres: []string{"Drama", "Crime"}, Overview: "Spanning the years 1945 to 1955.", Rating: ptr(8.7), Votes: ptr(int64(16915)),
		Popularity: ptr(100.5), TMDBID: ptr(tmdbID)}
}

func importAll(t *testing.T, s catalog.Store, inputs ...catalog.MovieInput) []catalog.ImportResult {
	t.Helper()
	for i := range inputs {
		if err := inputs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.ImportMovies(context.Background(), "import:ada", inputs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testImportSameFilm(t *testing.T, s catalog.Store) {
	seed, tmdb := seedGodfather("The Godfather"), tmdbGodfather("The Godfather", 238)
	rs := importAll(t, s, seed, tmdb, seed, tmdb)
	want := []catalog.ImportStatus{catalog.ImportCreated, catalog.ImportUpdated, catalog.ImportUnchanged, catalog.ImportUnchanged}
	for i, w := range want {
		if rs[i].Status != w || rs[i].Movie == nil || rs[i].Movie.ID != rs[0].Movie.ID {
			t.Fatalf("result %d = %+v %+v, want %s of movie %d", i, rs[i], rs[i].Movie, w, rs[0].Movie.ID)
		}
	}
	m := rs[3].Movie
	if *m.Year != 1972 || *m.TMDBID != 238 || *m.Votes != 16915 || *m.Rating != 8.7 || *m.Popularity != 100.5 ||
		m.Overview == "" || len(m.Cast) != 1 || !slices.Equal(m.Genres, []string{"Drama", "Crime", "Science Fiction"}) {
		t.Fatalf("merged movie = %+v: want the richer source's fields, the genres of both", m)
	}

	// The same in two imports: the second finds the film the first stored without a tmdb_id.
	seedFirst := importAll(t, s, seedGodfather("The Godfather Part II"))
	if later := importAll(t, s, tmdbGodfather("The Godfather Part II", 240)); later[0].Status != catalog.ImportUpdated ||
		later[0].Movie == nil || later[0].Movie.ID != seedFirst[0].Movie.ID {
		t.Fatalf("the TMDB record after the seed's = %+v, want movie %d updated", later[0], seedFirst[0].Movie.ID)
	}

	// Spelt otherwise, it is the same film; of another year, or by another director, it is another.
	respelt := seedGodfather("the GODFATHER!")
	remake := tmdbGodfather("The Godfather", 999)
	remake.Year = ptr(1990)
	otherDirector := seedGodfather("The Godfather")
	otherDirector.Directors = []string{"Someone Else"}
	rs = importAll(t, s, respelt, remake, otherDirector)
	if rs[0].Status != catalog.ImportUnchanged || rs[0].Movie.ID != m.ID {
		t.Errorf("the title spelt otherwise = %+v, want movie %d unchanged", rs[0], m.ID)
	}
	if rs[1].Status != catalog.ImportCreated || rs[2].Status != catalog.ImportCreated {
		t.Errorf("another year, another director = %s, %s; want both created", rs[1].Status, rs[2].Status)
	}

	// A record that two stored films fit alike fails, naming both, and changes nothing.
	hamlet := func(year int) catalog.MovieInput {
		return catalog.MovieInput{Title: "Hamlet", Year: ptr(year), Directors: []string{"Laurence Olivier"}}
	}
	hamlets := importAll(t, s, hamlet(1948), hamlet(1970))
	before := countMovies(t, s)
	rs = importAll(t, s, catalog.MovieInput{Title: "Hamlet", Directors: []string{"Laurence Olivier"}, Rating: ptr(7.7)})
	names := apperr.FieldsOf(rs[0].Err)["title"]
	if rs[0].Status != catalog.ImportFailed || !apperr.Is(rs[0].Err, apperr.Conflict) ||
		!strings.Contains(names, fmt.Sprint(hamlets[0].Movie.ID)) || !strings.Contains(names, fmt.Sprint(hamlets[1].Movie.ID)) {
		t.Fatalf("ambiguous record = %+v, want a Conflict on title naming movies %d and %d", rs[0], hamlets[0].Movie.ID, hamlets[1].Movie.ID)
	}
	if got := countMovies(t, s); got != before {
		t.Errorf("movies = %d after an ambiguous record, want %d", got, before)
	}

	// An id that disagrees wins over the title: two films of one title and year with their own tmdb_ids.
	rs = importAll(t, s, tmdbGodfather("Smile", 1), tmdbGodfather("Smile", 2))
	if rs[0].Status != catalog.ImportCreated || rs[1].Status != catalog.ImportCreated || rs[0].Movie.ID == rs[1].Movie.ID {
		t.Errorf("two films with their own tmdb_ids = %+v, %+v; want two movies", rs[0], rs[1])
	}
}

func testImportEitherOrder(t *testing.T, s catalog.Store) {
	a := importAll(t, s, seedGodfather("The Godfather"), tmdbGodfather("The Godfather", 238))
	b := importAll(t, s, tmdbGodfather("Casablanca", 289), seedGodfather("Casablanca"))
	if a[1].Movie.ID != a[0].Movie.ID || b[1].Movie.ID != b[0].Movie.ID {
		t.Fatalf("not merged: %+v %+v", a, b)
	}
	first, second := a[1].Movie.Input(), b[1].Movie.Input()
	second.Title, second.TMDBID = first.Title, first.TMDBID
	if d := catalog.Diff(&first, &second); len(d) != 0 {
		t.Errorf("seed then TMDB and TMDB then seed differ in %v", d)
	}
}

func testImportGenres(t *testing.T, s catalog.Store) {
	in := catalog.MovieInput{Title: "Alien", Year: ptr(1979), Genres: []string{"Sci-Fi", "horror", "Science Fiction", "Space Western"}}
	rs := importAll(t, s, in)
	if want := []string{"Science Fiction", "Horror", "Space Western"}; !slices.Equal(rs[0].Movie.Genres, want) {
		t.Errorf("genres = %q, want %q", rs[0].Movie.Genres, want)
	}
	in.Genres = []string{"science-fiction", "Horror"}
	if rs = importAll(t, s, in); rs[0].Status != catalog.ImportUnchanged {
		t.Errorf("the same genres spelt otherwise = %s, want unchanged", rs[0].Status)
	}
	m := mustCreate(t, s, catalog.MovieInput{Title: "Solaris", Genres: []string{"SciFi", "Drama"}})
	if !slices.Equal(m.Genres, []string{"Science Fiction", "Drama"}) {
		t.Errorf("created genres = %q", m.Genres)
	}
}

// testImportConcurrent: imports running at once, of records without ids that the title look-up reads for,
// all succeed (on MySQL, a locking read of the title index's range deadlocked them).
func testImportConcurrent(t *testing.T, s catalog.Store) {
	const clients, records = 10, 500
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for c := range clients {
		wg.Go(func() {
			inputs := make([]catalog.MovieInput, records)
			for i := range inputs {
				inputs[i] = catalog.MovieInput{Title: fmt.Sprintf("Film %d-%d", c, i), Year: ptr(1950 + i%70), Directors: []string{"Someone"}}
				if err := inputs[i].Validate(); err != nil {
					errs[c] = err
					return
				}
			}
			rs, err := s.ImportMovies(context.Background(), "import:ada", inputs)
			if err != nil {
				errs[c] = err
				return
			}
			for i, r := range rs {
				if r.Status != catalog.ImportCreated {
					errs[c] = fmt.Errorf("record %d: %s %v", i, r.Status, r.Err)
					return
				}
			}
		})
	}
	wg.Wait()
	for c, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", c, err)
		}
	}
	if got := countMovies(t, s); got != clients*records {
		t.Errorf("movies = %d, want %d", got, clients*records)
	}
}

// Creates of one new film at once, each refusing a film the catalog holds: exactly one creates it, every
// other one is a Conflict naming it. Without a claim on the title, each read a snapshot without the others'
// movie and all of them created one.
func testCreateSameNewFilmConcurrent(t *testing.T, s catalog.Store) {
	const clients, rounds = 8, 5
	for round := range rounds {
		in := catalog.MovieInput{Title: fmt.Sprintf("The Same New Film %d", round), Year: ptr(1999), Directors: []string{"Ada"}}
		var wg sync.WaitGroup
		errs := make([]error, clients)
		start := make(chan struct{})
		for c := range clients {
			wg.Go(func() {
				<-start
				_, errs[c] = s.CreateMovie(context.Background(), "user:1", in, catalog.RefuseSameFilm)
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for c, err := range errs {
			switch {
			case err == nil:
				created++
			case apperr.Is(err, apperr.Conflict):
			default:
				t.Errorf("round %d, client %d: %v", round, c, err)
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d creates of one film succeeded, want 1", round, created)
		}
	}
	if got := countMovies(t, s); got != rounds {
		t.Errorf("movies = %d, want %d", got, rounds)
	}
}

// Imports of the same new films at once (records without ids, as the web page sends a file): one movie
// per film, whichever import created it; the others updated or left it.
func testImportSameNewFilmConcurrent(t *testing.T, s catalog.Store) {
	const clients, films = 6, 30
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := make(chan struct{})
	for c := range clients {
		wg.Go(func() {
			inputs := make([]catalog.MovieInput, films)
			for i := range inputs {
				// Each client sends every film, in an order of its own (7 is prime to 30), so that batches cross.
				f := (i*7 + c*11) % films
				inputs[i] = catalog.MovieInput{Title: fmt.Sprintf("Imported Twice %d", f), Year: ptr(1960 + f), Directors: []string{"Someone"}}
			}
			<-start
			rs, err := s.ImportMovies(context.Background(), "import:ada", inputs)
			if err != nil {
				errs[c] = err
				return
			}
			for i, r := range rs {
				if r.Status == catalog.ImportFailed {
					errs[c] = fmt.Errorf("record %d: %v", i, r.Err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for c, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", c, err)
		}
	}
	if got := countMovies(t, s); got != films {
		t.Errorf("movies = %d, want %d: one per film", got, films)
	}
}
