package catalogapi

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

func newEngine(log *slog.Logger, d Deps) *gin.Engine {
	var mw []gin.HandlerFunc
	if d.HTTPMetrics != nil {
		mw = append(mw, d.HTTPMetrics.Middleware("catalog"))
	}
	e := httpx.NewEngine(log, mw...)
	keys := newKeyring(log, d.Store, d.TokenTTL, time.Now)
	auth := &authenticator{log: log, store: d.Store, jwt: authn.NewVerifier(keys), now: time.Now}
	sess := &sessions{log: log, store: d.Store, ttl: d.RefreshTTL, now: time.Now}
	addRoutes(e, log, d, keys, auth, newLockout(time.Now), sess)
	return e
}

func addRoutes(e *gin.Engine, log *slog.Logger, d Deps, keys *keyring, auth *authenticator, guard *lockout, sess *sessions) {
	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(d.Ready, d.Degraded))
	if d.Metrics != nil {
		e.GET("/metrics", gin.WrapH(d.Metrics))
	}

	e.POST("/v1/auth/token", handleTokenCreate(log, d.Store, d.Passwords, keys, auth, guard, sess))
	e.POST("/v1/auth/refresh", handleRefresh(keys, sess))
	e.POST("/v1/auth/logout", handleLogout(sess))
	e.GET("/v1/auth/jwks.json", handleJWKS(keys))
	e.POST("/v1/auth/introspect", httpx.RequireInternal(d.InternalToken), handleIntrospect(auth))

	v1 := e.Group("/v1", authenticate(auth))
	v1.POST("/auth/rotate", requireAdmin(), handleKeyRotate(keys))

	v1.GET("/movies/:id", handleMovieGet(d.Store))
	v1.GET("/movies/:id/history", requireAdmin(), handleMovieHistory(d.Store))
	v1.POST("/movies", requireAdmin(), handleMovieCreate(d.Store, d.Changed))
	v1.PUT("/movies/:id", requireAdmin(), handleMovieUpdate(d.Store, d.Changed))
	v1.PATCH("/movies/:id", requireAdmin(), handleMoviePatch(d.Store, d.Changed))
	v1.DELETE("/movies/:id", requireAdmin(), handleMovieDelete(d.Store, d.Changed))
	v1.POST("/imports", requireAdmin(), handleImport(log, d.Store, d.Changed))

	v1.POST("/users", requireAdmin(), handleUserCreate(d.Store, d.Passwords))
	v1.GET("/users", requireAdmin(), handleUserList(d.Store))
	v1.DELETE("/users/:username", requireAdmin(), handleUserDelete(d.Store))

	v1.POST("/keys", requireAdmin(), handleAPIKeyCreate(d.Store))
	v1.GET("/keys", requireAdmin(), handleAPIKeyList(d.Store))
	v1.DELETE("/keys/:id", requireAdmin(), handleAPIKeyRevoke(d.Store))

	if d.Reconcile != nil {
		v1.POST("/admin/reconcile", requireAdmin(), handleReconcile(d.Reconcile))
	}
}
