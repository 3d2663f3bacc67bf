package searchindex

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/blevesearch/bleve/v2"
	index "github.com/blevesearch/bleve_index_api"
)

// A snapshot is a consistent copy of an index as a tar stream: a manifest first, then the files of each
// shard in the layout OpenWith reads. A new replica that starts from a peer's snapshot replays only the
// events after its checkpoint instead of the whole stream (hours at tens of millions of movies).

// SnapshotManifest says what a snapshot holds, so that a replica can refuse one it could not serve.
type SnapshotManifest struct {
	Checkpoint     uint64 `json:"checkpoint"` // the stream sequence every shard has applied up to
	MappingVersion string `json:"mapping_version"`
	Shards         int    `json:"shards"`
	Contents       string `json:"contents,omitempty"` // the part of the catalog held (Options.Contents); "": every movie
	Movies         uint64 `json:"movies"`
	Bytes          int64  `json:"bytes"` // the files' sizes, the manifest left out
}

const manifestName = "snapshot.json"

// metaName is the file beside each shard's store that names its index type; Bleve's copy leaves it to
// the caller.
const metaName = "index_meta.json"

// maxSnapshotFile bounds one file of a snapshot read from a peer (a segment of a large shard is a few GB).
const maxSnapshotFile = 1 << 40

// WriteSnapshot writes a consistent snapshot of the index to w. Its files are first copied into a new
// folder under scratch (removed before it returns), because a tar entry needs its size before its bytes:
// the snapshot takes as much free disk there as the index, for as long as it is sent. Writes and searches
// go on meanwhile; the segments being copied are kept from the merger's clean-up until the copy is done.
// ctx ends it between two files (a shard's copy itself runs to its end).
func (x *Index) WriteSnapshot(ctx context.Context, w io.Writer, scratch string) (SnapshotManifest, error) {
	dir, err := os.MkdirTemp(scratch, "snapshot-")
	if err != nil {
		return SnapshotManifest{}, fmt.Errorf("snapshot: %w", err)
	}
	defer os.RemoveAll(dir)
	m, err := x.copyTo(ctx, dir)
	if err != nil {
		return m, fmt.Errorf("snapshot: %w", err)
	}
	if err := writeTar(ctx, w, dir, &m); err != nil {
		return m, fmt.Errorf("snapshot: %w", err)
	}
	return m, nil
}

// copyTo copies every shard, as of one batch, into dir.
func (x *Index) copyTo(ctx context.Context, dir string) (SnapshotManifest, error) {
	m := SnapshotManifest{MappingVersion: mappingVersion, Shards: len(x.shards), Contents: x.opts.Contents, Checkpoint: ^uint64(0)}
	readers := make([]index.CopyReader, 0, len(x.shards))
	defer func() {
		for _, r := range readers {
			_ = r.CloseCopyReader()
		}
	}()
	// Under applyMu no batch is half written across the shards, so each reader holds the same batches.
	x.applyMu.Lock()
	for _, bi := range x.shards {
		adv, err := bi.Advanced()
		if err != nil {
			x.applyMu.Unlock()
			return m, err
		}
		ci, ok := adv.(index.CopyIndex)
		if !ok {
			x.applyMu.Unlock()
			return m, errors.New("the index cannot be copied while open")
		}
		readers = append(readers, ci.CopyReader())
	}
	x.applyMu.Unlock()
	for i, r := range readers {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		cp, err := readerCheckpoint(r)
		if err != nil {
			return m, err
		}
		m.Checkpoint = min(m.Checkpoint, cp)
		if ir, ok := r.(index.IndexReader); ok {
			n, err := ir.DocCount()
			if err != nil {
				return m, err
			}
			m.Movies += n
		}
		rel, err := filepath.Rel(x.path, x.paths[i])
		if err != nil {
			return m, err
		}
		to := filepath.Join(dir, rel)
		if err := r.CopyTo(bleve.FileSystemDirectory(to)); err != nil {
			return m, fmt.Errorf("copy shard %d: %w", i, err)
		}
		meta, err := os.ReadFile(filepath.Join(x.paths[i], metaName))
		if err != nil {
			return m, err
		}
		if err := os.WriteFile(filepath.Join(to, metaName), meta, 0o644); err != nil {
			return m, err
		}
	}
	return m, nil
}

// readerCheckpoint is the checkpoint a shard's copy holds: the one it was taken at, whatever the shard has
// applied since.
func readerCheckpoint(r index.CopyReader) (uint64, error) {
	ir, ok := r.(internalReader)
	if !ok {
		return 0, errors.New("the index's copy has no checkpoint")
	}
	return shardCheckpoint(ir)
}

// writeTar writes the manifest, with the files' total size, then the files under dir.
func writeTar(ctx context.Context, w io.Writer, dir string, m *SnapshotManifest) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m.Bytes += info.Size()
		files = append(files, p)
		return nil
	})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	manifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o644, Size: int64(len(manifest)), Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addFile(tw, dir, p); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, dir, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), ModTime: info.ModTime(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// ReadSnapshot reads a snapshot from r into dir, which must not exist yet, and syncs it to disk. It
// refuses one this build cannot serve as an index of the given number of shards (another mapping version,
// or another split), and one whose files are not where an index keeps them. On an error dir is removed.
func ReadSnapshot(r io.Reader, dir string, shards int, contents string) (m SnapshotManifest, err error) {
	if shards == 0 {
		shards = 1
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return m, fmt.Errorf("read snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
			err = fmt.Errorf("read snapshot: %w", err)
		}
	}()
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return m, fmt.Errorf("no manifest: %w", err)
	}
	if hdr.Name != manifestName || hdr.Size > 1<<16 {
		return m, fmt.Errorf("the first entry is %q, want the manifest %s", hdr.Name, manifestName)
	}
	if err := json.NewDecoder(tr).Decode(&m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if m.MappingVersion != mappingVersion {
		return m, fmt.Errorf("the snapshot's index is of mapping version %q, this build reads %q", m.MappingVersion, mappingVersion)
	}
	if m.Shards != shards {
		return m, fmt.Errorf("the snapshot's index has %d shards, this replica is configured for %d", m.Shards, shards)
	}
	if m.Contents != contents {
		return m, fmt.Errorf("the snapshot's index holds %s, this replica is configured for %s", describeContents(m.Contents), describeContents(contents))
	}
	var read int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, err
		}
		to, err := snapshotPath(dir, hdr, shards)
		if err != nil {
			return m, err
		}
		if err := writeSynced(to, tr, hdr.Size); err != nil {
			return m, err
		}
		read += hdr.Size
	}
	if read != m.Bytes {
		return m, fmt.Errorf("the snapshot holds %d bytes of files, its manifest says %d", read, m.Bytes)
	}
	return m, syncDirs(dir)
}

// snapshotPath is where an entry of a snapshot goes under dir: a regular file of a shard's folder, never
// outside dir.
func snapshotPath(dir string, hdr *tar.Header, shards int) (string, error) {
	if hdr.Typeflag != tar.TypeReg {
		return "", fmt.Errorf("entry %q is not a regular file", hdr.Name)
	}
	if hdr.Size < 0 || hdr.Size > maxSnapshotFile {
		return "", fmt.Errorf("entry %q has size %d", hdr.Name, hdr.Size)
	}
	name := path.Clean(hdr.Name)
	if name != hdr.Name || !filepath.IsLocal(name) {
		return "", fmt.Errorf("entry %q is not a plain relative path", hdr.Name)
	}
	parts := strings.Split(name, "/")
	if shards > 1 {
		if !isShardOf(parts[0], shards) {
			return "", fmt.Errorf("entry %q is outside the shards' folders", hdr.Name)
		}
		parts = parts[1:]
	}
	switch {
	case len(parts) == 1 && parts[0] == metaName:
	case len(parts) == 2 && parts[0] == "store" && parts[1] != "":
	default:
		return "", fmt.Errorf("entry %q is not a file of an index", hdr.Name)
	}
	return filepath.Join(dir, filepath.FromSlash(name)), nil
}

func isShardOf(name string, shards int) bool {
	for i := range shards {
		if name == shardName(i, shards) {
			return true
		}
	}
	return false
}

func writeSynced(to string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d of %d bytes", to, n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDirs makes the folders' entries durable, so that a crash after the caller names the index live
// cannot leave it with files missing.
func syncDirs(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

// describeContents names what an index holds (Options.Contents).
func describeContents(c string) string {
	if c == "" {
		return "every movie"
	}
	return c
}
