package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/ingest"
)

// mariaDB is the comparison engine: the same catalog in a fresh MariaDB database with an InnoDB FULLTEXT
// index on title, overview and people, and genres in their own table for GROUP BY. The database is dropped
// by close.
type mariaDB struct {
	db, admin *sql.DB
	name      string
}

// openMariaDB creates database marquee_bench_<pid> on the server of dsn (its database part is ignored).
func openMariaDB(ctx context.Context, dsn string) (*mariaDB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if h := strings.Split(cfg.Addr, ":")[0]; cfg.Net == "tcp" && h != "127.0.0.1" && h != "localhost" {
		return nil, fmt.Errorf("refusing MariaDB at %s: only 127.0.0.1", cfg.Addr)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("marquee_bench_%d", os.Getpid())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("MariaDB: %w", err)
	}
	cfg.DBName = name
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		admin.Close()
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return &mariaDB{db: db, admin: admin, name: name}, nil
}

func (m *mariaDB) close() {
	m.db.Close()
	_, _ = m.admin.Exec("DROP DATABASE IF EXISTS " + m.name)
	m.admin.Close()
}

// tsv escapes a field for LOAD DATA's default format.
func tsv(s string) string {
	return strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r").Replace(s)
}

// load copies the catalog at path into the database with LOAD DATA, then builds the FULLTEXT index.
// It returns the time taken.
func (m *mariaDB) load(ctx context.Context, path string) (time.Duration, error) {
	started := time.Now()
	for _, q := range []string{
		`CREATE TABLE movies (id INT PRIMARY KEY, title VARCHAR(300) NOT NULL, overview TEXT, people TEXT,
			year INT, rating DOUBLE, votes INT, popularity DOUBLE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE movie_genres (movie_id INT NOT NULL, genre VARCHAR(40) NOT NULL, PRIMARY KEY (movie_id, genre),
			KEY (genre)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	} {
		if _, err := m.db.ExecContext(ctx, q); err != nil {
			return 0, err
		}
	}
	moviesR, moviesW := io.Pipe()
	genresR, genresW := io.Pipe()
	mysql.RegisterReaderHandler("movies", func() io.Reader { return moviesR })
	mysql.RegisterReaderHandler("genres", func() io.Reader { return genresR })
	defer mysql.DeregisterReaderHandler("movies")
	defer mysql.DeregisterReaderHandler("genres")
	// Two files at once would need two connections and pipes written in step; write the genres to a temp
	// file first and stream the movies.
	gf, err := os.CreateTemp("", "bench-genres-*.tsv")
	if err != nil {
		return 0, err
	}
	defer os.Remove(gf.Name())
	gw := bufio.NewWriter(gf)
	go func() {
		bw := bufio.NewWriterSize(moviesW, 1<<20)
		id := 0
		err := ingest.ReadFile(path, func(r ingest.Record) error {
			if r.Err != nil {
				return nil
			}
			id++
			mv := r.Movie
			null := func(ok bool, v any) string {
				if !ok {
					return `\N`
				}
				return fmt.Sprint(v)
			}
			people := strings.Join(append(append([]string(nil), mv.Directors...), mv.Cast...), ", ")
			fmt.Fprintf(bw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, tsv(mv.Title), tsv(mv.Overview), tsv(people),
				null(mv.Year != nil, deref(mv.Year)), null(mv.Rating != nil, deref(mv.Rating)),
				null(mv.Votes != nil, deref(mv.Votes)), null(mv.Popularity != nil, deref(mv.Popularity)))
			for _, g := range mv.Genres {
				fmt.Fprintf(gw, "%d\t%s\n", id, tsv(g))
			}
			return nil
		})
		if err == nil {
			err = bw.Flush()
		}
		moviesW.CloseWithError(err)
	}()
	if _, err := m.db.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::movies' INTO TABLE movies"); err != nil {
		return 0, fmt.Errorf("load movies: %w", err)
	}
	if err := gw.Flush(); err != nil {
		return 0, err
	}
	go func() {
		_, _ = gf.Seek(0, io.SeekStart)
		_, err := io.Copy(genresW, gf)
		genresW.CloseWithError(err)
	}()
	if _, err := m.db.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::genres' IGNORE INTO TABLE movie_genres"); err != nil {
		return 0, fmt.Errorf("load genres: %w", err)
	}
	if _, err := m.db.ExecContext(ctx, "ALTER TABLE movies ADD FULLTEXT ft (title, overview, people)"); err != nil {
		return 0, fmt.Errorf("FULLTEXT index: %w", err)
	}
	return time.Since(started), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// text runs the ranked text search: natural-language MATCH ordered by relevance, top 10.
func (m *mariaDB) text(ctx context.Context, q string) error {
	return m.query(ctx, `SELECT id, title, MATCH(title, overview, people) AGAINST (? IN NATURAL LANGUAGE MODE) AS score
		FROM movies WHERE MATCH(title, overview, people) AGAINST (? IN NATURAL LANGUAGE MODE) ORDER BY score DESC LIMIT 10`, q, q)
}

// textFacet runs the ranked text search and the genre counts of its matches (GROUP BY genre).
func (m *mariaDB) textFacet(ctx context.Context, q string) error {
	if err := m.text(ctx, q); err != nil {
		return err
	}
	return m.query(ctx, `SELECT g.genre, COUNT(*) FROM movies m JOIN movie_genres g ON g.movie_id = m.id
		WHERE MATCH(m.title, m.overview, m.people) AGAINST (? IN NATURAL LANGUAGE MODE) GROUP BY g.genre`, q)
}

// browse counts the whole catalog by genre, decade and whole rating point: the facet counts of a browse page.
func (m *mariaDB) browse(ctx context.Context) error {
	for _, q := range []string{
		"SELECT genre, COUNT(*) FROM movie_genres GROUP BY genre",
		"SELECT year DIV 10 * 10, COUNT(*) FROM movies GROUP BY 1",
		"SELECT FLOOR(rating), COUNT(*) FROM movies GROUP BY 1",
	} {
		if err := m.query(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// query runs q and reads every row.
func (m *mariaDB) query(ctx context.Context, q string, args ...any) error {
	rows, err := m.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}
