package catalogapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
	"marquee/services/catalog/password"
)

type userRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type userResponse struct {
	Actor     string    `json:"actor"` // how histories name this account: "user:<id>", never reused
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func fromUser(u *catalog.User) userResponse {
	return userResponse{Actor: u.Actor(), Username: u.Username, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
}

// handleUserCreate handles "POST /v1/users".
func handleUserCreate(store catalog.UserStore, passwords *password.Hasher) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req userRequest
		if err := httpx.DecodeJSON(c.Request, 8<<10, &req); err != nil {
			httpx.Error(c, err)
			return
		}
		if err := catalog.ValidateNewUser(&req.Username, req.Password, req.Role); err != nil {
			httpx.Error(c, err)
			return
		}
		ctx := c.Request.Context()
		hash, err := passwords.Hash(ctx, req.Password)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		u, err := store.CreateUser(ctx, catalog.User{Username: req.Username, Role: req.Role, PasswordHash: hash})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Header("Location", "/v1/users/"+url.PathEscape(u.Username))
		httpx.WriteJSON(c.Writer, http.StatusCreated, fromUser(u))
	}
}

type usersResponse struct {
	Users []userResponse `json:"users"`
}

// handleUserList handles "GET /v1/users".
func handleUserList(store catalog.UserStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		us, err := store.Users(c.Request.Context())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := usersResponse{Users: make([]userResponse, 0, len(us))}
		for i := range us {
			out.Users = append(out.Users, fromUser(&us[i]))
		}
		c.Header("Cache-Control", "no-store")
		httpx.WriteJSON(c.Writer, http.StatusOK, out)
	}
}

// handleUserDelete handles "DELETE /v1/users/:username".
func handleUserDelete(store catalog.UserStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param("username")
		if !catalog.ValidUsername(name) {
			httpx.Error(c, apperr.Errorf(apperr.NotFound, "User %q not found.", name))
			return
		}
		if err := store.DeleteUser(c.Request.Context(), name); err != nil {
			httpx.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	}
}

type apiKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// apiKeyResponse describes a key; Key is set only in the answer that creates it.
type apiKeyResponse struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Key        string     `json:"key,omitempty"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func fromAPIKey(k *catalog.APIKey) apiKeyResponse {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return apiKeyResponse{ID: k.ID, Name: k.Name, Role: k.Role, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC(),
		LastUsedAt: utc(k.LastUsedAt), RevokedAt: utc(k.RevokedAt)}
}

// handleAPIKeyCreate handles "POST /v1/keys". The key is in this answer only; the store keeps its hash.
func handleAPIKeyCreate(store catalog.APIKeyStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req apiKeyRequest
		if err := httpx.DecodeJSON(c.Request, 4<<10, &req); err != nil {
			httpx.Error(c, err)
			return
		}
		bad := map[string]string{}
		if msg := catalog.ValidateAPIKeyName(&req.Name); msg != "" {
			bad["name"] = msg
		}
		if !catalog.ValidRole(req.Role) {
			bad["role"] = `must be "admin" or "user"`
		}
		if len(bad) > 0 {
			httpx.Error(c, apperr.InvalidFields("The API key is not valid.", bad))
			return
		}
		p := principalOf(c)
		if catalog.RoleRank(req.Role) > catalog.RoleRank(p.Role) {
			httpx.Error(c, apperr.Errorf(apperr.Forbidden, "A key cannot have a higher role than its creator."))
			return
		}
		plain, err := catalog.NewAPIKey()
		if err != nil {
			httpx.Error(c, err)
			return
		}
		k, err := store.CreateAPIKey(c.Request.Context(), catalog.APIKey{
			Name: req.Name, Role: req.Role, Hash: catalog.HashAPIKey(plain), CreatedBy: p.Subject,
		})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := fromAPIKey(k)
		out.Key = plain
		c.Header("Cache-Control", "no-store")
		c.Header("Location", "/v1/keys/"+strconv.FormatInt(k.ID, 10))
		httpx.WriteJSON(c.Writer, http.StatusCreated, out)
	}
}

type apiKeysResponse struct {
	Keys []apiKeyResponse `json:"keys"`
}

// handleAPIKeyList handles "GET /v1/keys".
func handleAPIKeyList(store catalog.APIKeyStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		ks, err := store.APIKeys(c.Request.Context())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := apiKeysResponse{Keys: make([]apiKeyResponse, 0, len(ks))}
		for i := range ks {
			out.Keys = append(out.Keys, fromAPIKey(&ks[i]))
		}
		c.Header("Cache-Control", "no-store")
		httpx.WriteJSON(c.Writer, http.StatusOK, out)
	}
}

// handleAPIKeyRevoke handles "DELETE /v1/keys/:id".
func handleAPIKeyRevoke(store catalog.APIKeyStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			httpx.Error(c, apperr.InvalidFields("The key id is not valid.", map[string]string{"id": "must be a positive integer"}))
			return
		}
		if err := store.RevokeAPIKey(c.Request.Context(), id); err != nil {
			httpx.Error(c, err)
			return
		}
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	}
}
