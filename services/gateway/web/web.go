// Package web is Marquee's search page: one HTML document and a few static assets (vanilla JavaScript and
// CSS, no build step), embedded in the binary and served by the gateway at "/" and "/assets/…".
//
// Every asset is served under two names: its plain name ("/assets/app.js"), revalidated with an ETag on each
// use, and a fingerprinted name ("/assets/app.3f9c2a1b7d.js") that never changes and is cached for a year.
// index.html refers to the fingerprinted names, so a new release is picked up at the next page load and an
// unchanged asset is never fetched twice.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

//go:embed static
var static embed.FS

// AssetPrefix is the URL path under which the assets are served.
const AssetPrefix = "/assets/"

// contentSecurityPolicy allows nothing but this origin, and posters from any https host.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one servable document, read once.
type file struct {
	body        []byte
	contentType string
	etag        string
	immutable   bool // served under a fingerprinted name
}

// Handler serves the page at "/" (and "/index.html") and the assets under AssetPrefix. Other paths are 404
// and methods other than GET and HEAD are 405, both as problem+json.
func Handler() http.Handler {
	files := map[string]*file{}
	rename := map[string]string{} // "/assets/app.js" → "/assets/app.<hash>.js"
	err := fs.WalkDir(static, "static/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:10]
		name := strings.TrimPrefix(p, "static/assets/")
		ext := path.Ext(name)
		plain := AssetPrefix + name
		hashed := AssetPrefix + strings.TrimSuffix(name, ext) + "." + hash + ext
		ct := contentTypeOf(ext)
		files[plain] = &file{body: body, contentType: ct, etag: `"` + hash + `"`}
		files[hashed] = &file{body: body, contentType: ct, etag: `"` + hash + `"`, immutable: true}
		rename[plain] = hashed
		return nil
	})
	if err != nil { // the embedded tree is part of the binary: this cannot happen at run time
		panic(fmt.Sprintf("web: read embedded assets: %v", err))
	}
	index, err := static.ReadFile("static/index.html")
	if err != nil {
		panic(fmt.Sprintf("web: read embedded index.html: %v", err))
	}
	for plain, hashed := range rename {
		index = bytes.ReplaceAll(index, []byte(`"`+plain+`"`), []byte(`"`+hashed+`"`))
	}
	sum := sha256.Sum256(index)
	page := &file{body: index, contentType: "text/html; charset=utf-8", etag: `"` + hex.EncodeToString(sum[:])[:10] + `"`}
	files["/"] = page
	files["/index.html"] = page
	return &handler{files: files}
}

type handler struct{ files map[string]*file }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := h.files[r.URL.Path]
	if !ok {
		httpx.WriteError(w, r, apperr.Errorf(apperr.NotFound, "No such page or asset: %s.", r.URL.Path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, r, apperr.Errorf(apperr.MethodNotAllowed, "Method %s is not allowed on %s.", r.Method, r.URL.Path))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if f.immutable {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache") // always revalidate: cheap with the ETag
	}
	if strings.HasPrefix(f.contentType, "text/html") {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
	}
	// ServeContent answers If-None-Match (304), Range and HEAD; the zero time leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// contentTypeOf names the media type of an asset by its extension, without relying on the host's MIME table.
func contentTypeOf(ext string) string {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".webmanifest":
		return "application/manifest+json"
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}
