package gateway

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// docsPage is the API's docs page: a self-contained HTML page that renders /openapi.json and lets a person
// try every operation. Its one inline script and one style sheet are allowed by hash, so nothing else can run
// on the page.
//
//go:embed docs.html
var docsPage []byte

// handleDocs handles "GET /docs".
func handleDocs() gin.HandlerFunc {
	csp := "default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src '" + inlineHash(docsPage, "style") + "'; " +
		"script-src '" + inlineHash(docsPage, "script") + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "text/html; charset=utf-8", docsPage)
	}
}

// inline returns the text of the page's first <tag> element (script or style).
func inline(page []byte, tag string) []byte {
	_, rest, ok := bytes.Cut(page, []byte("<"+tag+">"))
	if !ok {
		return nil
	}
	text, _, _ := bytes.Cut(rest, []byte("</"+tag+">"))
	return text
}

// inlineHash is the CSP source expression that allows the page's inline <tag> element.
func inlineHash(page []byte, tag string) string {
	sum := sha256.Sum256(inline(page, tag))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
