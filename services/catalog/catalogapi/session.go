package catalogapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// Browser sessions. A sign-in with "session": true also sets a refresh token in an HttpOnly cookie that
// page scripts cannot read, scoped to /v1/auth so that only the session routes ever receive it. The page
// keeps its access token in memory and exchanges the cookie for a new one (POST /v1/auth/refresh); each
// exchange rotates the cookie, and a rotated token shown again revokes the whole session, since only a
// copy of the cookie can show it (OAuth 2.0 Security BCP, RFC 9700 §4.14).
const (
	refreshCookie = "marquee_refresh"
	refreshPath   = "/v1/auth"
)

var errNoSession = apperr.Errorf(apperr.Unauthorized, "There is no live session; sign in again.")

// sessions issues, rotates and ends refresh tokens.
type sessions struct {
	log   *slog.Logger
	store interface {
		catalog.RefreshTokenStore
		catalog.UserStore
	}
	ttl time.Duration
	now func() time.Time
}

// start begins a session for p and sets its first refresh token.
func (s *sessions) start(c *gin.Context, p authn.Principal) error {
	tok, family, err := newRefreshToken()
	if err != nil {
		return err
	}
	now := s.now()
	t := catalog.RefreshToken{Hash: catalog.HashRefreshToken(tok), Family: family, Username: p.Subject, Role: p.Role,
		StartedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.store.CreateRefreshToken(c.Request.Context(), t); err != nil {
		return err
	}
	s.setCookie(c, tok)
	return nil
}

// rotate exchanges the request's refresh token for the next of its session and returns the session's
// principal. The user must still hold the role it signed in with, and have had no new password or role
// since: the rule that revokes access tokens.
func (s *sessions) rotate(c *gin.Context) (authn.Principal, error) {
	ctx := c.Request.Context()
	old, err := c.Request.Cookie(refreshCookie)
	if err != nil || old.Value == "" {
		return authn.Principal{}, errNoSession
	}
	tok, _, err := newRefreshToken()
	if err != nil {
		return authn.Principal{}, err
	}
	now := s.now()
	next, err := s.store.RotateRefreshToken(ctx, catalog.HashRefreshToken(old.Value), catalog.RefreshToken{
		Hash: catalog.HashRefreshToken(tok), ExpiresAt: now.Add(s.ttl)}, now)
	switch {
	case apperr.Is(err, apperr.Conflict):
		s.log.Warn("a used refresh token was shown again; its session is revoked")
		return authn.Principal{}, errNoSession
	case apperr.Is(err, apperr.NotFound):
		return authn.Principal{}, errNoSession
	case err != nil:
		return authn.Principal{}, err
	}
	// The new token is set at once: old is used now, so an answer without next (say, the user cannot be
	// looked up just now) would leave the client only a used token, and its retry would end the session.
	s.setCookie(c, tok)
	u, err := s.store.UserByName(ctx, next.Username)
	switch {
	case apperr.Is(err, apperr.NotFound) || err == nil && (u.Role != next.Role || next.StartedAt.Before(u.UpdatedAt.Truncate(time.Microsecond))):
		c.Writer.Header().Del("Set-Cookie")
		if err := s.store.RevokeRefreshFamily(ctx, next.Hash); err != nil {
			s.log.Warn("revoke the session of a changed user", "user", next.Username, "err", err)
		}
		return authn.Principal{}, errNoSession
	case err != nil:
		return authn.Principal{}, err
	}
	return authn.Principal{Subject: u.Username, Role: u.Role}, nil
}

// end revokes the request's session, if any.
func (s *sessions) end(c *gin.Context) error {
	old, err := c.Request.Cookie(refreshCookie)
	if err != nil || old.Value == "" {
		return nil
	}
	return s.store.RevokeRefreshFamily(c.Request.Context(), catalog.HashRefreshToken(old.Value))
}

func (s *sessions) setCookie(c *gin.Context, tok string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: refreshCookie, Value: tok, Path: refreshPath, MaxAge: int(s.ttl.Seconds()),
		HttpOnly: true, Secure: overHTTPS(c.Request), SameSite: http.SameSiteStrictMode})
}

func clearCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: refreshCookie, Value: "", Path: refreshPath, MaxAge: -1,
		HttpOnly: true, Secure: overHTTPS(c.Request), SameSite: http.SameSiteStrictMode})
}

// overHTTPS reports whether the client called over https, here or at a proxy in front (Heroku's router
// says so in X-Forwarded-Proto). A client that lies only makes its own cookie Secure.
func overHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// newRefreshToken returns a random refresh token (256 bits) and a random family id.
func newRefreshToken() (tok, family string, err error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:32]), hex.EncodeToString(b[32:]), nil
}

// sessionRequest guards the cookie routes against cross-site requests: besides SameSite=Strict, they
// need a JSON Content-Type, which a form cannot send and a cross-origin script sends only after a CORS
// preflight the gateway does not grant with credentials.
func sessionRequest(c *gin.Context) bool {
	if err := httpx.RequireContentType(c.Request, httpx.JSONContentType); err != nil {
		httpx.Error(c, err)
		return false
	}
	c.Header("Cache-Control", "no-store")
	return true
}

// handleRefresh handles "POST /v1/auth/refresh": the session cookie for a new access token (and the
// session's next cookie). A dead session's cookie is cleared.
func handleRefresh(keys *keyring, s *sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !sessionRequest(c) {
			return
		}
		ctx := c.Request.Context()
		signer, err := keys.signer(ctx) // before the rotation, which must not be lost to a later failure
		if err != nil {
			httpx.Error(c, err)
			return
		}
		p, err := s.rotate(c)
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				clearCookie(c)
			}
			httpx.Error(c, err)
			return
		}
		writeToken(c, signer, p)
	}
}

// handleLogout handles "POST /v1/auth/logout": it revokes the session and clears its cookie.
func handleLogout(s *sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !sessionRequest(c) {
			return
		}
		clearCookie(c)
		if err := s.end(c); err != nil {
			httpx.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// writeToken answers with an access token for p.
func writeToken(c *gin.Context, signer *authn.Signer, p authn.Principal) {
	tok, err := signer.Issue(p)
	if err != nil {
		httpx.Error(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	httpx.WriteJSON(c.Writer, http.StatusOK, tokenResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(signer.TTL().Seconds()),
	})
}
